//! Retries with backoff, deadlines, and the unary call path every RPC goes through.

use std::future::Future;
use std::time::{Duration, Instant};

use tonic::metadata::MetadataValue;
use tonic::{Request, Response, Status};

use crate::client::{Client, Conn};
use crate::error::{Error, Result, leader_addr};

/// How the client retries a call that failed because the broker was unavailable
/// (`UNAVAILABLE`: unreachable, restarting, or its storage could not write), and how fast
/// consumers re-open their streams. Retries wait with exponential backoff and jitter, and
/// never outlast the call's deadline.
///
/// A call that failed with `UNAVAILABLE` may have taken effect (the connection broke after
/// the broker acted): delivery is at-least-once, so a retried enqueue can store a message
/// twice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The most attempts of one call, the first included; 1 turns retries off, 0 retries
    /// until the call's deadline (the default).
    pub max_attempts: u32,
    /// The wait before the first retry (default 50ms); each retry doubles it up to
    /// `max_backoff` (default 2s).
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    /// Also retry calls the broker refused as overloaded (`RESOURCE_EXHAUSTED`), waiting at
    /// least its retry-after hint. Off by default: the caller sees [`Error::Overloaded`] and
    /// decides.
    pub retry_overloaded: bool,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 0,
            initial_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_secs(2),
            retry_overloaded: false,
        }
    }
}

/// The most leader redirects one call follows (a loop of misconfigured nodes ends).
pub(crate) const MAX_REDIRECTS: u32 = 5;

impl RetryPolicy {
    /// No retries: the first failure is the answer.
    pub fn none() -> Self {
        RetryPolicy { max_attempts: 1, ..RetryPolicy::default() }
    }

    pub(crate) fn normalized(mut self) -> Self {
        let d = RetryPolicy::default();
        if self.initial_backoff.is_zero() {
            self.initial_backoff = d.initial_backoff;
        }
        if self.max_backoff.is_zero() {
            self.max_backoff = d.max_backoff;
        }
        self.max_backoff = self.max_backoff.max(self.initial_backoff);
        self
    }

    /// The wait before retry number `n` (1 for the first): exponential, capped, with
    /// "equal jitter" (between half and all of it) so that clients that failed together do
    /// not come back together.
    pub(crate) fn backoff(&self, n: u32) -> Duration {
        let exp = self.initial_backoff.saturating_mul(1 << n.saturating_sub(1).min(20));
        let d = exp.min(self.max_backoff);
        let half = d / 2;
        half + half.mul_f64(jitter())
    }

    fn retryable(&self, e: &Error) -> bool {
        match e {
            Error::Unavailable { .. } => true,
            Error::Overloaded { .. } => self.retry_overloaded,
            _ => false,
        }
    }
}

/// A number in [0, 1) that differs from call to call and from process to process; good
/// enough for jitter without a random-number crate.
fn jitter() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    h.write_u128(now.map_or(0, |d| d.as_nanos()));
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

impl Client {
    /// Runs one unary RPC with the client's deadline, API key, retries and leader
    /// redirects, and turns its failure into an [`Error`]. `call` makes one attempt on a
    /// connection; `req` is cloned for each attempt (retries need it again).
    pub(crate) async fn invoke<Req, Resp, F, Fut>(
        &self,
        op: &str,
        req: &Req,
        call: F,
    ) -> Result<Resp>
    where
        Req: Clone,
        F: Fn(Conn, Request<Req>) -> Fut,
        Fut: Future<Output = std::result::Result<Response<Resp>, Status>>,
    {
        self.check_open()?;
        let deadline = Instant::now() + self.timeout();
        let policy = &self.inner.retry;
        let mut redirects = 0;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let conn = self.current();
            let left = deadline.saturating_duration_since(Instant::now());
            let request = self.request(req.clone(), Some(left));
            let status = match tokio::time::timeout(left, call(conn.clone(), request)).await {
                Ok(Ok(resp)) => return Ok(resp.into_inner()),
                Ok(Err(status)) => status,
                Err(_) => {
                    Status::deadline_exceeded(format!("no answer within {:?}", self.timeout()))
                }
            };
            if let Some(addr) = leader_addr(&status) {
                if redirects < MAX_REDIRECTS && Instant::now() < deadline {
                    redirects += 1;
                    attempt -= 1;
                    self.follow(&conn, &addr)?;
                    continue;
                }
            }
            let err = Error::from_status(op, &status);
            let out_of_attempts = policy.max_attempts > 0 && attempt >= policy.max_attempts;
            if !policy.retryable(&err) || out_of_attempts || self.is_closed() {
                return Err(err);
            }
            let wait = policy.backoff(attempt).max(err.retry_after().unwrap_or_default());
            if Instant::now() + wait >= deadline {
                return Err(err); // the deadline comes first: report why the last attempt failed
            }
            tokio::time::sleep(wait).await;
        }
    }

    /// A request carrying the API key and, for unary calls, the time left (sent to the
    /// broker as `grpc-timeout`, so it gives up when the client does).
    pub(crate) fn request<T>(&self, msg: T, timeout: Option<Duration>) -> Request<T> {
        let mut request = Request::new(msg);
        if let Some(key) = &self.inner.auth {
            request.metadata_mut().insert("authorization", key.clone());
        }
        if let Some(t) = timeout {
            request.set_timeout(t.max(Duration::from_millis(1)));
        }
        request
    }
}

/// The `authorization` header of an API key.
pub(crate) fn bearer(key: &str) -> Result<MetadataValue<tonic::metadata::Ascii>> {
    format!("Bearer {key}")
        .parse()
        .map_err(|_| Error::Config("the API key must be printable ASCII".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let p = RetryPolicy::default();
        for n in 1..30 {
            let d = p.backoff(n);
            let cap = (p.initial_backoff * 2u32.pow(n.min(7) - 1)).min(p.max_backoff);
            assert!(d >= cap / 2 && d <= cap, "retry {n}: {d:?} (cap {cap:?})");
        }
    }
}
