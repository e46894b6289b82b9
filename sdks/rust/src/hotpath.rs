//! The hot path's unary calls: enqueue one or many, ack, nack, extend leases.

use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::batcher::{BoxFuture, Guard, MAX_BATCH_ITEMS};
use crate::client::Client;
use crate::error::{Error, Result};
use crate::message::OutgoingMessage;
use crate::proto;

/// One ack waiting in a batch: the message id and the lease id it was delivered with.
#[derive(Debug, Clone)]
pub(crate) struct AckItem {
    pub(crate) id: String,
    pub(crate) lease_id: String,
}

/// One leased message for [`Client::extend_lease`]: its id and, optionally, the lease id it
/// was delivered with (then the broker refuses to extend someone else's lease).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseRef {
    pub message_id: String,
    pub lease_id: String,
}

fn too_many(op: &str, n: usize) -> Error {
    Error::InvalidArgument {
        op: op.into(),
        message: format!("{n} items; at most {MAX_BATCH_ITEMS} per call"),
    }
}

impl Client {
    /// Sends one message and returns its id once the broker has it on disk.
    pub async fn enqueue(&self, msg: OutgoingMessage) -> Result<String> {
        let req = msg.into_proto();
        let resp =
            self.invoke("Enqueue", &req, |c, r| async move { c.svc().enqueue(r).await }).await?;
        Ok(resp.message_id)
    }

    /// Sends many messages (at most 10,000) in one `EnqueueBatch` call and returns a result
    /// per message, in order: the id of each accepted message, or why it alone was refused.
    /// The outer error is for the call as a whole. For batching done for you, across tasks,
    /// use a [`Producer`](crate::Producer).
    pub async fn enqueue_batch(&self, msgs: Vec<OutgoingMessage>) -> Result<Vec<Result<String>>> {
        let reqs = msgs.into_iter().map(OutgoingMessage::into_proto).collect();
        self.enqueue_requests(reqs).await
    }

    pub(crate) async fn enqueue_requests(
        &self,
        reqs: Vec<proto::EnqueueRequest>,
    ) -> Result<Vec<Result<String>>> {
        if reqs.len() > MAX_BATCH_ITEMS {
            return Err(too_many("EnqueueBatch", reqs.len()));
        }
        if self.inner.no_batch_rpcs.load(Ordering::Relaxed) {
            return Ok(self.enqueue_each(reqs).await);
        }
        let n = reqs.len();
        let req = proto::EnqueueBatchRequest { messages: reqs };
        let resp = self
            .invoke("EnqueueBatch", &req, |c, r| async move { c.svc().enqueue_batch(r).await })
            .await;
        let resp = match resp {
            Err(e) if e.code() == tonic::Code::Unimplemented => {
                self.inner.no_batch_rpcs.store(true, Ordering::Relaxed);
                return Ok(self.enqueue_each(req.messages).await);
            }
            other => other?,
        };
        let mut results = resp.results.into_iter();
        Ok((0..n)
            .map(|_| match results.next() {
                Some(proto::EnqueueResult { error: Some(e), .. }) => {
                    Err(Error::from_item("EnqueueBatch", &e.code, &e.message))
                }
                Some(r) => Ok(r.message_id),
                None => Err(missing("EnqueueBatch")),
            })
            .collect())
    }

    /// Acknowledges (deletes) a leased message and returns once the ack is on disk. With
    /// the `lease_id` the message was delivered with (`""` to skip the check), the broker
    /// refuses ([`Error::FailedPrecondition`]) an ack whose lease expired and whose message
    /// went to another consumer since. Acks made at about the same time travel together in
    /// one `AckBatch` RPC ([`ClientBuilder::ack_batching`](crate::ClientBuilder::ack_batching)).
    pub async fn ack(&self, queue: &str, message_id: &str, lease_id: &str) -> Result<()> {
        self.check_open()?;
        self.submit_ack(queue, message_id, lease_id, None)
            .await
            .unwrap_or(Err(Error::Closed("client")))
    }

    /// Reports that processing a leased message failed, with why: the queue's
    /// `on_failure` hook, or its retry policy, decides what happens next. Batched like
    /// [`ack`](Client::ack) (`NackBatch`).
    pub async fn nack(
        &self,
        queue: &str,
        message_id: &str,
        lease_id: &str,
        reason: &str,
    ) -> Result<()> {
        self.check_open()?;
        self.submit_nack(queue, message_id, lease_id, reason, None)
            .await
            .unwrap_or(Err(Error::Closed("client")))
    }

    pub(crate) fn submit_ack(
        &self,
        queue: &str,
        id: &str,
        lease_id: &str,
        guard: Option<Guard>,
    ) -> tokio::sync::oneshot::Receiver<Result<()>> {
        let item = AckItem { id: id.to_string(), lease_id: lease_id.to_string() };
        let size = id.len() + lease_id.len() + 8;
        self.inner.acks.submit(self, queue, item, size, guard)
    }

    pub(crate) fn submit_nack(
        &self,
        queue: &str,
        id: &str,
        lease_id: &str,
        reason: &str,
        guard: Option<Guard>,
    ) -> tokio::sync::oneshot::Receiver<Result<()>> {
        let size = id.len() + lease_id.len() + reason.len() + 12;
        let item = proto::NackItem {
            message_id: id.to_string(),
            lease_id: lease_id.to_string(),
            error: reason.to_string(),
        };
        self.inner.nacks.submit(self, queue, item, size, guard)
    }

    /// Makes the leases of messages end `extend` from now (zero: the queue's visibility
    /// timeout from now), for work that takes longer than the visibility timeout. Returns a
    /// result per lease, in order. Consumers extend the leases of the messages they hold by
    /// themselves ([`ConsumerSettings`](crate::ConsumerSettings)).
    pub async fn extend_lease(
        &self,
        queue: &str,
        leases: &[LeaseRef],
        extend: Duration,
    ) -> Result<Vec<Result<()>>> {
        if leases.len() > MAX_BATCH_ITEMS {
            return Err(too_many("ExtendLease", leases.len()));
        }
        let with_leases = leases.iter().any(|l| !l.lease_id.is_empty());
        let req = proto::ExtendLeaseRequest {
            queue: queue.to_string(),
            message_ids: leases.iter().map(|l| l.message_id.clone()).collect(),
            extend_ms: extend.as_millis().try_into().unwrap_or(u64::MAX),
            lease_ids: if with_leases {
                leases.iter().map(|l| l.lease_id.clone()).collect()
            } else {
                vec![]
            },
        };
        let resp = self
            .invoke("ExtendLease", &req, |c, r| async move { c.svc().extend_lease(r).await })
            .await?;
        Ok(item_results("ExtendLease", leases.len(), resp.results))
    }
}

fn missing(op: &str) -> Error {
    Error::Status {
        op: op.into(),
        code: tonic::Code::Internal,
        message: "no result for this item".into(),
    }
}

/// The outcome of each item of an `AckBatch`, `NackBatch` or `ExtendLease`.
pub(crate) fn item_results(op: &str, n: usize, results: Vec<proto::ItemResult>) -> Vec<Result<()>> {
    let mut results = results.into_iter();
    (0..n)
        .map(|_| match results.next() {
            Some(proto::ItemResult { error: Some(e), .. }) => {
                Err(Error::from_item(op, &e.code, &e.message))
            }
            Some(_) => Ok(()),
            None => Err(missing(op)),
        })
        .collect()
}

/// The batcher's sender of acks: one `AckBatch` of a queue.
pub(crate) fn send_acks(
    c: Client,
    queue: String,
    items: Vec<AckItem>,
) -> BoxFuture<Result<Vec<Result<()>>>> {
    Box::pin(async move {
        if c.inner.no_batch_rpcs.load(Ordering::Relaxed) {
            return Ok(c.ack_each(&queue, items).await);
        }
        let with_leases = items.iter().any(|i| !i.lease_id.is_empty());
        let req = proto::AckBatchRequest {
            queue: queue.clone(),
            message_ids: items.iter().map(|i| i.id.clone()).collect(),
            lease_ids: if with_leases {
                items.iter().map(|i| i.lease_id.clone()).collect()
            } else {
                vec![]
            },
        };
        match c.invoke("AckBatch", &req, |c, r| async move { c.svc().ack_batch(r).await }).await {
            Ok(resp) => Ok(item_results("AckBatch", items.len(), resp.results)),
            Err(e) if e.code() == tonic::Code::Unimplemented => {
                c.inner.no_batch_rpcs.store(true, Ordering::Relaxed);
                Ok(c.ack_each(&queue, items).await)
            }
            Err(e) => Err(e),
        }
    })
}

/// The batcher's sender of nacks: one `NackBatch` of a queue.
pub(crate) fn send_nacks(
    c: Client,
    queue: String,
    items: Vec<proto::NackItem>,
) -> BoxFuture<Result<Vec<Result<()>>>> {
    Box::pin(async move {
        if c.inner.no_batch_rpcs.load(Ordering::Relaxed) {
            return Ok(c.nack_each(&queue, items).await);
        }
        let n = items.len();
        let req = proto::NackBatchRequest { queue: queue.clone(), items };
        match c.invoke("NackBatch", &req, |c, r| async move { c.svc().nack_batch(r).await }).await {
            Ok(resp) => Ok(item_results("NackBatch", n, resp.results)),
            Err(e) if e.code() == tonic::Code::Unimplemented => {
                c.inner.no_batch_rpcs.store(true, Ordering::Relaxed);
                Ok(c.nack_each(&queue, req.items).await)
            }
            Err(e) => Err(e),
        }
    })
}
