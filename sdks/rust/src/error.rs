//! The one error type of the SDK, mapped from gRPC status codes in one place.

use std::time::Duration;

use tonic::metadata::MetadataMap;
use tonic::{Code, Status};

/// The result of every fallible call of the SDK.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The trailer a broker sends with `RESOURCE_EXHAUSTED`: how many milliseconds to wait.
pub(crate) const RETRY_AFTER_KEY: &str = "retry-after-ms";

/// The trailer a node of a cluster sends with `UNAVAILABLE` when another node leads the
/// queue: that node's address. The client follows it by itself.
pub const LEADER_ADDR_KEY: &str = "x-fila-leader-addr";

/// Why a call failed. Every variant but [`Error::Closed`] and [`Error::Config`] comes from
/// a gRPC status the broker answered (or the transport made up); `op` is the RPC
/// (`"Enqueue"`, `"AckBatch"`, ...) and `message` the broker's text, which names the thing at
/// fault. One item of a batch (an [`EnqueueBatch`](crate::Client::enqueue_batch) result, an
/// ack's result) fails with the variant the single-message RPC would have returned.
///
/// ```no_run
/// # async fn demo(client: fila::Client) {
/// match client.enqueue(fila::OutgoingMessage::new("emails", "hi")).await {
///     Ok(id) => println!("stored as {id}"),
///     Err(fila::Error::QueueNotFound { .. }) => { /* create it, or give up */ }
///     Err(e @ fila::Error::Overloaded { .. }) => {
///         tokio::time::sleep(e.retry_after().unwrap_or_default()).await; // then retry
///     }
///     Err(e) => eprintln!("{e}"),
/// }
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// `NOT_FOUND`: the queue does not exist.
    #[error("fila: {op}: queue not found: {message}")]
    QueueNotFound { op: String, message: String },
    /// `NOT_FOUND`: the message is not leased (unknown id, already acked, or its lease
    /// expired).
    #[error("fila: {op}: message not found: {message}")]
    MessageNotFound { op: String, message: String },
    /// `NOT_FOUND` of anything else: a runtime config key, an API key.
    #[error("fila: {op}: not found: {message}")]
    NotFound { op: String, message: String },
    /// `INVALID_ARGUMENT` (or `OUT_OF_RANGE`): bad input; the message names the field.
    #[error("fila: {op}: invalid argument: {message}")]
    InvalidArgument { op: String, message: String },
    /// `ALREADY_EXISTS`: a queue created twice.
    #[error("fila: {op}: already exists: {message}")]
    AlreadyExists { op: String, message: String },
    /// `FAILED_PRECONDITION`: well formed but not allowed now, e.g. an ack with a stale
    /// lease id (the lease expired and the message went to another consumer), or updating a
    /// dead-letter queue.
    #[error("fila: {op}: failed precondition: {message}")]
    FailedPrecondition { op: String, message: String },
    /// `UNAUTHENTICATED`: no API key, or an unknown, revoked or expired one.
    #[error("fila: {op}: unauthenticated: {message}")]
    Unauthenticated { op: String, message: String },
    /// `PERMISSION_DENIED`: the API key's ACL does not allow the call.
    #[error("fila: {op}: permission denied: {message}")]
    PermissionDenied { op: String, message: String },
    /// `RESOURCE_EXHAUSTED`: the broker refused the call to protect itself; wait
    /// `retry_after` (its `retry-after-ms` trailer) before trying again.
    #[error("fila: {op}: overloaded: {message}")]
    Overloaded { op: String, message: String, retry_after: Option<Duration> },
    /// `UNAVAILABLE`: the broker cannot be reached, is restarting, or cannot write. Calls
    /// are retried with backoff until their deadline before this is returned.
    #[error("fila: {op}: unavailable: {message}")]
    Unavailable { op: String, message: String },
    /// `DEADLINE_EXCEEDED`: the call's deadline passed (see
    /// [`ClientBuilder::timeout`](crate::ClientBuilder::timeout)).
    #[error("fila: {op}: deadline exceeded: {message}")]
    DeadlineExceeded { op: String, message: String },
    /// Any other status (`ABORTED`, `INTERNAL`, `UNIMPLEMENTED`, ...).
    #[error("fila: {op}: {code:?}: {message}")]
    Status { op: String, code: Code, message: String },
    /// The client, producer or consumer was closed.
    #[error("fila: {0} is closed")]
    Closed(&'static str),
    /// The client could not be set up: a bad address, certificate or key.
    #[error("fila: {0}")]
    Config(String),
}

impl Error {
    /// The gRPC status code this error stands for (`Code::Cancelled` for
    /// [`Error::Closed`], `Code::InvalidArgument` for [`Error::Config`]).
    pub fn code(&self) -> Code {
        match self {
            Error::QueueNotFound { .. }
            | Error::MessageNotFound { .. }
            | Error::NotFound { .. } => Code::NotFound,
            Error::InvalidArgument { .. } | Error::Config(_) => Code::InvalidArgument,
            Error::AlreadyExists { .. } => Code::AlreadyExists,
            Error::FailedPrecondition { .. } => Code::FailedPrecondition,
            Error::Unauthenticated { .. } => Code::Unauthenticated,
            Error::PermissionDenied { .. } => Code::PermissionDenied,
            Error::Overloaded { .. } => Code::ResourceExhausted,
            Error::Unavailable { .. } => Code::Unavailable,
            Error::DeadlineExceeded { .. } => Code::DeadlineExceeded,
            Error::Status { code, .. } => *code,
            Error::Closed(_) => Code::Cancelled,
        }
    }

    /// The RPC that failed (`""` for [`Error::Closed`] and [`Error::Config`]).
    pub fn op(&self) -> &str {
        self.parts().map_or("", |(op, _)| op)
    }

    /// The broker's description of what went wrong.
    pub fn message(&self) -> &str {
        self.parts().map_or("", |(_, m)| m)
    }

    fn parts(&self) -> Option<(&str, &str)> {
        match self {
            Error::QueueNotFound { op, message }
            | Error::MessageNotFound { op, message }
            | Error::NotFound { op, message }
            | Error::InvalidArgument { op, message }
            | Error::AlreadyExists { op, message }
            | Error::FailedPrecondition { op, message }
            | Error::Unauthenticated { op, message }
            | Error::PermissionDenied { op, message }
            | Error::Overloaded { op, message, .. }
            | Error::Unavailable { op, message }
            | Error::DeadlineExceeded { op, message }
            | Error::Status { op, message, .. } => Some((op, message)),
            Error::Closed(_) | Error::Config(_) => None,
        }
    }

    /// Whether something named in the call does not exist: a queue, a leased message, a
    /// config key or an API key.
    pub fn is_not_found(&self) -> bool {
        self.code() == Code::NotFound
    }

    /// How long the broker asked the client to wait before retrying ([`Error::Overloaded`]).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::Overloaded { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// Whether the same call may succeed later: overload, or an unreachable broker.
    pub fn is_temporary(&self) -> bool {
        matches!(self, Error::Overloaded { .. } | Error::Unavailable { .. })
    }

    /// The error of a failed call, from its status (whose metadata holds the trailers).
    pub(crate) fn from_status(op: &str, status: &Status) -> Error {
        let retry_after = retry_after(status.metadata());
        let mut message = status.message().to_string();
        if message.is_empty() {
            message = format!("{:?}", status.code());
        }
        let mut code = status.code();
        if let Some(source) = std::error::Error::source(status) {
            // A status the transport made up, not one the broker sent: the connection failed
            // or broke ("transport error", "operation was canceled" when a TLS broker drops a
            // client without a certificate). The broker could not be reached: UNAVAILABLE.
            let detail = crate::client::chain(source);
            message =
                if detail.contains(&message) { detail } else { format!("{message}: {detail}") };
            if matches!(code, Code::Unknown | Code::Cancelled | Code::Internal) {
                code = Code::Unavailable;
            }
        }
        Error::build(op, code, message, retry_after)
    }

    /// The error of one failed item of a batch RPC: `code` is a status code name
    /// (`"NOT_FOUND"`), as in the contract's `ItemError`.
    pub(crate) fn from_item(op: &str, code: &str, message: &str) -> Error {
        let message = if message.is_empty() { code } else { message };
        Error::build(op, code_by_name(code), message.to_string(), None)
    }

    fn build(op: &str, code: Code, message: String, retry_after: Option<Duration>) -> Error {
        let op = op.to_string();
        match code {
            Code::NotFound => not_found(op, message),
            Code::InvalidArgument | Code::OutOfRange => Error::InvalidArgument { op, message },
            Code::AlreadyExists => Error::AlreadyExists { op, message },
            Code::FailedPrecondition => Error::FailedPrecondition { op, message },
            Code::Unauthenticated => Error::Unauthenticated { op, message },
            Code::PermissionDenied => Error::PermissionDenied { op, message },
            Code::ResourceExhausted => Error::Overloaded { op, message, retry_after },
            Code::Unavailable => Error::Unavailable { op, message },
            Code::DeadlineExceeded => Error::DeadlineExceeded { op, message },
            code => Error::Status { op, code, message },
        }
    }
}

/// Tells the kinds of `NOT_FOUND` apart by what the broker says it did not find ("queue
/// 'q' does not exist", "message 'm' is not leased ...") and, failing that, by the call: an
/// ack's `NOT_FOUND` is about a message.
fn not_found(op: String, message: String) -> Error {
    let lower = message.to_lowercase();
    let acks = matches!(op.as_str(), "Ack" | "Nack" | "AckBatch" | "NackBatch" | "ExtendLease");
    let queue = if lower.starts_with("queue") {
        true
    } else if lower.starts_with("message") {
        false
    } else if acks {
        lower.contains("queue") && !lower.contains("message")
    } else if lower.contains("queue") {
        true
    } else {
        return Error::NotFound { op, message };
    };
    if queue {
        Error::QueueNotFound { op, message }
    } else {
        Error::MessageNotFound { op, message }
    }
}

fn code_by_name(name: &str) -> Code {
    match name {
        "OK" => Code::Ok,
        "CANCELLED" => Code::Cancelled,
        "INVALID_ARGUMENT" => Code::InvalidArgument,
        "DEADLINE_EXCEEDED" => Code::DeadlineExceeded,
        "NOT_FOUND" => Code::NotFound,
        "ALREADY_EXISTS" => Code::AlreadyExists,
        "PERMISSION_DENIED" => Code::PermissionDenied,
        "RESOURCE_EXHAUSTED" => Code::ResourceExhausted,
        "FAILED_PRECONDITION" => Code::FailedPrecondition,
        "ABORTED" => Code::Aborted,
        "OUT_OF_RANGE" => Code::OutOfRange,
        "UNIMPLEMENTED" => Code::Unimplemented,
        "INTERNAL" => Code::Internal,
        "UNAVAILABLE" => Code::Unavailable,
        "DATA_LOSS" => Code::DataLoss,
        "UNAUTHENTICATED" => Code::Unauthenticated,
        _ => Code::Unknown,
    }
}

fn retry_after(md: &MetadataMap) -> Option<Duration> {
    let v = md.get(RETRY_AFTER_KEY)?.to_str().ok()?;
    let ms: f64 = v.trim().parse().ok()?;
    (ms >= 0.0 && ms.is_finite()).then(|| Duration::from_secs_f64(ms / 1000.0))
}

/// The leader a broker of a cluster named in its `UNAVAILABLE` answer, if any.
pub(crate) fn leader_addr(status: &Status) -> Option<String> {
    if status.code() != Code::Unavailable {
        return None;
    }
    let v = status.metadata().get(LEADER_ADDR_KEY)?.to_str().ok()?.trim();
    (!v.is_empty()).then(|| v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_found_kinds() {
        let e = Error::build("Enqueue", Code::NotFound, "queue 'x' does not exist".into(), None);
        assert!(matches!(e, Error::QueueNotFound { .. }), "{e:?}");
        let m = "message 'm' is not leased from queue 'q' (unknown, ...)".to_string();
        let e = Error::build("AckBatch", Code::NotFound, m, None);
        assert!(matches!(e, Error::MessageNotFound { .. }), "{e:?}");
        let e = Error::build("GetConfig", Code::NotFound, "config key 'k' is not set".into(), None);
        assert!(matches!(e, Error::NotFound { .. }) && e.is_not_found(), "{e:?}");
    }

    #[test]
    fn item_codes_and_retry_after() {
        let e = Error::from_item("EnqueueBatch", "RESOURCE_EXHAUSTED", "full");
        assert_eq!(e.code(), Code::ResourceExhausted);
        assert!(e.is_temporary());
        let mut st = Status::resource_exhausted("full");
        st.metadata_mut().insert(RETRY_AFTER_KEY, "100".parse().unwrap());
        let e = Error::from_status("Enqueue", &st);
        assert_eq!(e.retry_after(), Some(Duration::from_millis(100)));
        assert_eq!(e.to_string(), "fila: Enqueue: overloaded: full");
    }
}
