//! Messages: the ones a producer sends, and the ones a consumer receives and settles.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use tokio::sync::oneshot;

use crate::client::Client;
use crate::consumer::Shared;
use crate::error::{Error, Result};
use crate::hotpath::LeaseRef;
use crate::proto;

/// A message to enqueue: its queue, headers (read by the queue's `on_enqueue` hook, e.g.
/// the tenant) and opaque payload.
///
/// ```
/// let msg = fila::OutgoingMessage::new("emails", "hello").header("tenant", "acme");
/// assert_eq!(msg.headers["tenant"], "acme");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutgoingMessage {
    pub queue: String,
    pub headers: HashMap<String, String>,
    pub payload: Bytes,
}

impl OutgoingMessage {
    /// A message for `queue` with this payload (`&'static str`, `String`, `Vec<u8>`,
    /// `Bytes`, ...) and no headers.
    pub fn new(queue: impl Into<String>, payload: impl Into<Bytes>) -> Self {
        OutgoingMessage { queue: queue.into(), headers: HashMap::new(), payload: payload.into() }
    }

    /// This message with one more header.
    #[must_use]
    pub fn header(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.insert(key.into(), value.into());
        self
    }

    /// About how many bytes the message takes in a batch.
    pub(crate) fn size(&self) -> usize {
        let headers: usize = self.headers.iter().map(|(k, v)| k.len() + v.len() + 6).sum();
        self.queue.len() + self.payload.len() + 8 + headers
    }

    pub(crate) fn into_proto(self) -> proto::EnqueueRequest {
        proto::EnqueueRequest { queue: self.queue, headers: self.headers, payload: self.payload }
    }
}

/// A message as the broker delivered it (from a [`Consumer`](crate::Consumer)) or showed
/// it ([`Client::peek`]). Cheap to clone: the clones are one delivery.
///
/// Settle every delivered message with [`ack`](Message::ack) or [`nack`](Message::nack):
/// until then it counts against the consumer's credit and its lease is extended. Only the
/// first ack or nack counts. A delivered message whose last clone is dropped unsettled is
/// nacked (reason `"dropped without ack or nack"`), so the broker delivers it again soon
/// instead of after its visibility timeout.
#[derive(Clone)]
pub struct Message {
    inner: Arc<Inner>,
}

struct Inner {
    id: String,
    queue: String,
    headers: HashMap<String, String>,
    payload: Bytes,
    fairness_key: String,
    weight: u32,
    throttle_keys: Vec<String>,
    attempt_count: u32,
    last_error: String,
    lease_id: String,
    enqueued_at: Option<SystemTime>,
    leased_at: Option<SystemTime>,
    client: Client,
    held: Option<Held>,
    settled: AtomicBool,
}

/// A consumer's bookkeeping of a message it delivered.
pub(crate) struct Held {
    pub(crate) consumer: Arc<Shared>,
    pub(crate) seq: u64,
    pub(crate) generation: u64,
}

fn time(ts: Option<prost_types::Timestamp>) -> Option<SystemTime> {
    let ts = ts.filter(|t| t.seconds != 0 || t.nanos != 0)?;
    SystemTime::try_from(ts).ok()
}

impl Message {
    pub(crate) fn from_proto(
        m: proto::Message,
        client: Client,
        held: Option<Held>,
        queue: &str,
    ) -> Self {
        let md = m.metadata.unwrap_or_default();
        let ts = m.timestamps.unwrap_or_default();
        let queue = if md.queue_id.is_empty() { queue.to_string() } else { md.queue_id };
        Message {
            inner: Arc::new(Inner {
                id: m.id,
                queue,
                headers: m.headers,
                payload: m.payload,
                fairness_key: md.fairness_key,
                weight: md.weight,
                throttle_keys: md.throttle_keys,
                attempt_count: md.attempt_count,
                last_error: md.last_error,
                lease_id: md.lease_id,
                enqueued_at: time(ts.enqueued_at),
                leased_at: time(ts.leased_at),
                client,
                held,
                settled: AtomicBool::new(false),
            }),
        }
    }

    /// The broker-assigned id, the same on every delivery: a good deduplication key.
    pub fn id(&self) -> &str {
        &self.inner.id
    }
    /// The queue the message is in.
    pub fn queue(&self) -> &str {
        &self.inner.queue
    }
    pub fn headers(&self) -> &HashMap<String, String> {
        &self.inner.headers
    }
    /// One header's value, if the message has it.
    pub fn header(&self, key: &str) -> Option<&str> {
        self.inner.headers.get(key).map(String::as_str)
    }
    pub fn payload(&self) -> &Bytes {
        &self.inner.payload
    }
    /// The fairness key the queue's `on_enqueue` hook gave the message (`"default"` without
    /// a hook).
    pub fn fairness_key(&self) -> &str {
        &self.inner.fairness_key
    }
    /// Its weight in the fair scheduler (from the hook; 1 by default).
    pub fn weight(&self) -> u32 {
        self.inner.weight
    }
    /// The token buckets the message had to pass (from the hook).
    pub fn throttle_keys(&self) -> &[String] {
        &self.inner.throttle_keys
    }
    /// 0 on the first delivery; counts the failures (nacks, expired leases) since.
    pub fn attempt_count(&self) -> u32 {
        self.inner.attempt_count
    }
    /// Why the last attempt failed (a nack's reason, or "visibility timeout expired").
    pub fn last_error(&self) -> &str {
        &self.inner.last_error
    }
    /// Identifies this delivery: acks send it back, so that the broker refuses them if the
    /// lease expired and the message was delivered to someone else since.
    pub fn lease_id(&self) -> &str {
        &self.inner.lease_id
    }
    pub fn enqueued_at(&self) -> Option<SystemTime> {
        self.inner.enqueued_at
    }
    pub fn leased_at(&self) -> Option<SystemTime> {
        self.inner.leased_at
    }

    /// Acknowledges the message: it is done, and deleted. Does not wait: acks travel in
    /// `AckBatch` RPCs, and a failed ack (its lease expired, say) means the message is
    /// delivered again. [`ack_with_result`](Message::ack_with_result) tells the outcome.
    pub fn ack(&self) {
        drop(self.ack_with_result()); // the ack goes anyway: nobody waits for it
    }

    /// Reports that processing failed, with why: the queue's retry policy or `on_failure`
    /// hook decides what next. Does not wait (see [`ack`](Message::ack)).
    pub fn nack(&self, reason: &str) {
        drop(self.nack_with_result(reason));
    }

    /// [`ack`](Message::ack), returning the outcome to come: `Ok(())` once the ack is on
    /// the broker's disk. Later acks or nacks of the same message do nothing and resolve
    /// to `Ok(())` at once.
    pub fn ack_with_result(&self) -> AckResult {
        self.settle(|c, q, id, lease, guard| c.submit_ack(q, id, lease, guard))
    }

    /// [`nack`](Message::nack), returning the outcome to come.
    pub fn nack_with_result(&self, reason: &str) -> AckResult {
        self.settle(|c, q, id, lease, guard| c.submit_nack(q, id, lease, reason, guard))
    }

    fn settle(
        &self,
        submit: impl FnOnce(
            &Client,
            &str,
            &str,
            &str,
            Option<crate::batcher::Guard>,
        ) -> oneshot::Receiver<Result<()>>,
    ) -> AckResult {
        let m = &self.inner;
        if m.settled.swap(true, Ordering::AcqRel) {
            return AckResult::ready(Ok(()));
        }
        if m.client.is_closed() {
            return AckResult::ready(Err(Error::Closed("client")));
        }
        let guard = m.held.as_ref().map(|h| {
            h.consumer.release(h.seq, h.generation);
            h.consumer.acking_guard()
        });
        AckResult { rx: Some(submit(&m.client, &m.queue, &m.id, &m.lease_id, guard)), ready: None }
    }

    /// Makes this message's lease end `extend` from now (zero: the queue's visibility
    /// timeout). A consumer does this by itself for the messages it holds.
    pub async fn extend_lease(&self, extend: Duration) -> Result<()> {
        let lease =
            LeaseRef { message_id: self.inner.id.clone(), lease_id: self.inner.lease_id.clone() };
        let mut results =
            self.inner.client.extend_lease(&self.inner.queue, &[lease], extend).await?;
        results.pop().unwrap_or(Ok(()))
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        let Some(h) = &self.held else { return };
        if self.settled.swap(true, Ordering::AcqRel) {
            return;
        }
        h.consumer.release(h.seq, h.generation);
        if !self.client.is_closed() {
            let reason = h.consumer.drop_reason();
            let guard = Some(h.consumer.acking_guard());
            drop(self.client.submit_nack(&self.queue, &self.id, &self.lease_id, reason, guard));
        }
    }
}

impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let m = &self.inner;
        f.debug_struct("Message")
            .field("id", &m.id)
            .field("queue", &m.queue)
            .field("headers", &m.headers)
            .field("payload", &m.payload)
            .field("fairness_key", &m.fairness_key)
            .field("weight", &m.weight)
            .field("throttle_keys", &m.throttle_keys)
            .field("attempt_count", &m.attempt_count)
            .field("last_error", &m.last_error)
            .field("lease_id", &m.lease_id)
            .finish_non_exhaustive()
    }
}

/// The outcome of an ack or nack, to come: await it for `Ok(())` once the broker has it on
/// disk, or the error of this ack alone. Dropping it does not cancel the ack.
#[must_use = "an AckResult tells the outcome only when awaited; use ack() to not wait"]
pub struct AckResult {
    rx: Option<oneshot::Receiver<Result<()>>>,
    ready: Option<Result<()>>,
}

impl AckResult {
    fn ready(r: Result<()>) -> Self {
        AckResult { rx: None, ready: Some(r) }
    }
}

impl Future for AckResult {
    type Output = Result<()>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        if let Some(r) = self.ready.take() {
            return Poll::Ready(r);
        }
        match self.rx.as_mut() {
            Some(rx) => Pin::new(rx).poll(cx).map(|r| r.unwrap_or(Err(Error::Closed("client")))),
            None => Poll::Ready(Ok(())),
        }
    }
}
