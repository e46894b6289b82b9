//! The batching producer: many callers, few `EnqueueBatch` RPCs, an outcome per message.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::sync::oneshot;

use crate::batcher::{Batcher, BoxFuture, Limits};
use crate::client::Client;
use crate::error::{Error, Result};
use crate::message::OutgoingMessage;
use crate::proto;

/// How a [`Producer`] batches (Pub/Sub's publisher batching settings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProducerSettings {
    /// The longest a message waits for company while a batch is in flight (default 5ms).
    /// When no batch is in flight a message goes at once: a lone caller never waits.
    pub linger: Duration,
    /// The most messages per `EnqueueBatch` RPC (default 1,000; at most 10,000).
    pub max_messages: usize,
    /// The most bytes per `EnqueueBatch` RPC, about (default 4 MiB).
    pub max_bytes: usize,
    /// The most `EnqueueBatch` RPCs out at once (default 4).
    pub max_in_flight: usize,
}

impl Default for ProducerSettings {
    fn default() -> Self {
        ProducerSettings {
            linger: Duration::from_millis(5),
            max_messages: 1000,
            max_bytes: 4 << 20,
            max_in_flight: 4,
        }
    }
}

/// A producer's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ProducerStats {
    /// `EnqueueBatch` RPCs sent.
    pub batches: u64,
    /// Messages they carried.
    pub messages: u64,
}

/// Enqueues messages for many callers at once, in `EnqueueBatch` RPCs, and tells each caller
/// the outcome of its own message: its id once it is on disk, or why it alone was refused.
///
/// Batching adapts to load: a lone message goes at once; while a batch is in flight,
/// messages gather (up to `linger`, `max_messages` or `max_bytes`) and go when it returns.
/// Clones share the batches: hand one to every task. [`close`](Producer::close) sends what
/// waits and refuses later messages; dropping every clone still sends what was given (in
/// the background, while the runtime runs), without waiting.
///
/// ```no_run
/// # async fn demo(client: fila::Client) -> fila::Result<()> {
/// let producer = client.producer(fila::ProducerSettings::default());
/// let pending = producer.send(fila::OutgoingMessage::new("emails", "hello")); // queued now
/// let id = pending.await?;                                                   // on disk
/// producer.close().await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Producer {
    client: Client,
    batcher: Arc<Batcher<proto::EnqueueRequest, String>>,
}

impl std::fmt::Debug for Producer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Producer").field("stats", &self.stats()).finish()
    }
}

fn send_batch(
    c: Client,
    _key: String,
    items: Vec<proto::EnqueueRequest>,
) -> BoxFuture<Result<Vec<Result<String>>>> {
    Box::pin(async move { c.enqueue_requests(items).await })
}

impl Client {
    /// A batching producer on this client's connection.
    pub fn producer(&self, settings: ProducerSettings) -> Producer {
        let d = ProducerSettings::default();
        let pick = |v: usize, default: usize| if v == 0 { default } else { v };
        let limits = Limits {
            linger: settings.linger,
            max_items: pick(settings.max_messages, d.max_messages),
            max_bytes: pick(settings.max_bytes, d.max_bytes),
            max_in_flight: pick(settings.max_in_flight, d.max_in_flight),
        };
        Producer {
            client: self.clone(),
            batcher: Arc::new(Batcher::new("producer", send_batch, limits)),
        }
    }
}

impl Producer {
    /// Queues `msg` for the next batch and returns at once; await the result for its
    /// outcome. The message is sent whether or not the result is awaited.
    pub fn send(&self, msg: OutgoingMessage) -> PublishResult {
        if self.client.is_closed() {
            return PublishResult { rx: None };
        }
        let size = msg.size();
        PublishResult {
            rx: Some(self.batcher.submit(&self.client, "", msg.into_proto(), size, None)),
        }
    }

    /// [`send`](Producer::send), waiting for the outcome: the message's id once it is on
    /// disk.
    pub async fn enqueue(&self, msg: OutgoingMessage) -> Result<String> {
        self.send(msg).await
    }

    /// Sends what waits now and returns once every message sent so far has its outcome.
    pub async fn flush(&self) {
        self.batcher.flush(&self.client).await;
    }

    /// Sends what waits, waits for the outcomes (at most the client's timeout), and makes
    /// later `send` calls of every clone fail with [`Error::Closed`].
    pub async fn close(&self) -> Result<()> {
        tokio::time::timeout(self.client.timeout(), self.batcher.close(&self.client)).await.map_err(
            |_| Error::DeadlineExceeded {
                op: "close".into(),
                message: "messages still unanswered when the client's timeout passed".into(),
            },
        )
    }

    /// The producer's counters.
    pub fn stats(&self) -> ProducerStats {
        let (batches, messages) = self.batcher.counts();
        ProducerStats { batches, messages }
    }
}

/// The outcome of one message given to [`Producer::send`], to come: its id, or why it was
/// refused. Dropping it does not take the message back.
#[must_use = "the message is sent anyway; await the result to learn whether it was accepted"]
pub struct PublishResult {
    rx: Option<oneshot::Receiver<Result<String>>>,
}

impl Future for PublishResult {
    type Output = Result<String>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<String>> {
        match self.rx.as_mut() {
            Some(rx) => Pin::new(rx).poll(cx).map(|r| r.unwrap_or(Err(Error::Closed("producer")))),
            None => Poll::Ready(Err(Error::Closed("client"))),
        }
    }
}
