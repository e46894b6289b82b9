//! The consumer: the credit-controlled `Lease` stream as a `Stream` of messages, re-opened
//! after it breaks, with the credit kept across streams.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_core::Stream;
use tokio::sync::{Notify, mpsc, watch};
use tokio::task::JoinHandle;

use crate::client::Client;
use crate::error::{Error, Result};
use crate::message::Message;

/// The most credit a stream may have (the broker's limit).
pub const MAX_CREDIT: u32 = 10_000;

/// How a [`Consumer`] (and [`Client::receive`]) leases: flow control and automatic lease
/// extension, after Pub/Sub's subscriber settings. `ConsumerSettings::default()` is a sane
/// start; change fields with `ConsumerSettings { credit: 10, ..Default::default() }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerSettings {
    /// The most messages the consumer holds at once: delivered and not yet acked or nacked
    /// (Pub/Sub's max outstanding messages). The broker never leases the stream more.
    /// 1 to 10,000; default 100.
    pub credit: u32,
    /// The most messages per delivery from the broker (0: the broker's default, 100).
    pub max_batch: u32,
    /// How often the leases of held messages are extended, so that a message still being
    /// worked on is not delivered again when its visibility timeout passes. `None`: a third
    /// of the queue's visibility timeout when the client may read the queue's settings
    /// (`GetQueue`), else 10s.
    pub extend_every: Option<Duration>,
    /// How long each extension makes a lease last from then (zero: the queue's visibility
    /// timeout).
    pub lease_extension: Duration,
    /// How long after its delivery a held message stops being extended (default 1h; zero
    /// turns automatic extension off).
    pub max_extension: Duration,
}

impl Default for ConsumerSettings {
    fn default() -> Self {
        ConsumerSettings {
            credit: 100,
            max_batch: 0,
            extend_every: None,
            lease_extension: Duration::ZERO,
            max_extension: Duration::from_secs(3600),
        }
    }
}

/// A consumer's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ConsumerStats {
    /// Messages delivered by the broker.
    pub delivered: u64,
    /// Of those, the ones not yet acked or nacked.
    pub held: usize,
    /// Streams re-opened after they broke.
    pub reconnects: u64,
}

/// Reads a queue's lease stream: a [`Stream`] of leased messages (`Result<Message>`),
/// holding at most `credit` unsettled ones. It re-opens the stream by itself when it breaks
/// (the broker restarted, a network blip), with backoff, and follows a cluster's redirect to
/// the queue's leader. It ends (`None`) after [`close`](Consumer::close), or after one
/// `Err` when the broker refuses the stream in a way retrying cannot fix (the queue does not
/// exist, the key may not consume it).
///
/// Dropping a consumer stops it at once; [`close`](Consumer::close) also waits until its
/// acks are answered. Messages it had received and not handed out are nacked either way.
pub struct Consumer {
    shared: Arc<Shared>,
    rx: mpsc::UnboundedReceiver<Result<Message>>,
    tasks: Vec<JoinHandle<()>>,
}

/// What a consumer and its messages share.
pub(crate) struct Shared {
    pub(crate) client: Client,
    pub(crate) queue: String,
    pub(crate) settings: ConsumerSettings,
    pub(crate) state: Mutex<State>,
    pub(crate) released: Notify, // a held message was settled, or the credit changed
    acking: watch::Sender<usize>,
    pub(crate) delivered: AtomicU64,
    pub(crate) reconnects: AtomicU64,
    closing: std::sync::atomic::AtomicBool,
}

pub(crate) struct State {
    pub(crate) held: HashMap<u64, HeldLease>, // delivered, not settled, by sequence number
    pub(crate) next_seq: u64,
    pub(crate) old_held: usize, // of those, the ones from earlier streams
    pub(crate) generation: u64, // the current stream's generation
    pub(crate) credit: u32,     // the credit asked for
    pub(crate) stream_credit: u32, // the current stream's: credit - old_held
    pub(crate) wake: Arc<Notify>, // the current stream's credit sender looks again
    pub(crate) classic: bool,   // reads the classic Consume stream (legacy.rs)
}

/// A held message, for lease extension.
pub(crate) struct HeldLease {
    pub(crate) id: String,
    pub(crate) lease_id: String,
    pub(crate) received: Instant,
}

/// Decrements the consumer's count of unanswered acks when dropped (the batcher drops it
/// once the ack's outcome is in).
struct AckingGuard(Arc<Shared>);

impl Drop for AckingGuard {
    fn drop(&mut self) {
        self.0.acking.send_modify(|n| *n -= 1);
    }
}

impl Shared {
    /// `msg` was acked or nacked: it no longer counts against the credit. A message of an
    /// earlier stream gives its slot back to the current stream.
    pub(crate) fn release(&self, seq: u64, generation: u64) {
        let mut st = self.state.lock().unwrap();
        if st.held.remove(&seq).is_none() {
            return;
        }
        if generation != st.generation && st.old_held > 0 {
            st.old_held -= 1;
            if st.stream_credit < st.credit {
                st.stream_credit += 1;
                st.wake.notify_one();
            }
        }
        drop(st);
        self.released.notify_one();
    }

    pub(crate) fn acking_guard(self: &Arc<Self>) -> crate::batcher::Guard {
        self.acking.send_modify(|n| *n += 1);
        Box::new(AckingGuard(self.clone()))
    }

    pub(crate) fn drop_reason(&self) -> &'static str {
        if self.closing.load(Ordering::Acquire) {
            "consumer closed before handing the message out"
        } else {
            "dropped without ack or nack"
        }
    }

    pub(crate) fn due_leases(&self, min_age: Duration) -> Vec<crate::LeaseRef> {
        let now = Instant::now();
        let st = self.state.lock().unwrap();
        st.held
            .values()
            .filter(|h| {
                let age = now.duration_since(h.received);
                age >= min_age && age < self.settings.max_extension
            })
            .map(|h| crate::LeaseRef { message_id: h.id.clone(), lease_id: h.lease_id.clone() })
            .collect()
    }
}

impl Client {
    /// Opens the credit-controlled lease stream on `queue`: the consumer holds at most
    /// `settings.credit` unsettled messages, and extends their leases while it holds them.
    ///
    /// ```no_run
    /// # async fn demo(client: fila::Client) -> fila::Result<()> {
    /// let settings = fila::ConsumerSettings { credit: 10, ..Default::default() };
    /// let mut consumer = client.lease("jobs", settings);
    /// while let Some(msg) = consumer.next().await {
    ///     let msg = msg?; // the stream ended for good: the queue does not exist, ...
    ///     println!("{:?}", msg.payload());
    ///     msg.ack();
    /// }
    /// # Ok(()) }
    /// ```
    pub fn lease(&self, queue: &str, settings: ConsumerSettings) -> Consumer {
        self.start_consumer(queue, settings, false)
    }

    /// Opens the classic `Consume` stream on `queue` (the original broker's): the broker
    /// pushes ready messages up to its own limit of unacknowledged ones; `settings.credit`
    /// does not apply. Prefer [`lease`](Client::lease).
    pub fn consume(&self, queue: &str, settings: ConsumerSettings) -> Consumer {
        self.start_consumer(queue, settings, true)
    }

    fn start_consumer(
        &self,
        queue: &str,
        mut settings: ConsumerSettings,
        classic: bool,
    ) -> Consumer {
        settings.credit = settings.credit.clamp(1, MAX_CREDIT);
        let credit = settings.credit;
        let shared = Arc::new(Shared {
            client: self.with_timeout(self.timeout()),
            queue: queue.to_string(),
            settings,
            state: Mutex::new(State {
                held: HashMap::new(),
                next_seq: 0,
                old_held: 0,
                generation: 0,
                credit,
                stream_credit: credit,
                wake: Arc::new(Notify::new()),
                classic,
            }),
            released: Notify::new(),
            acking: watch::Sender::new(0),
            delivered: AtomicU64::new(0),
            reconnects: AtomicU64::new(0),
            closing: std::sync::atomic::AtomicBool::new(false),
        });
        let (tx, rx) = mpsc::unbounded_channel();
        let rt = &self.inner.runtime;
        let mut tasks = Vec::new();
        if self.is_closed() {
            let _ = tx.send(Err(Error::Closed("client")));
        } else {
            tasks.push(rt.spawn(crate::session::run(shared.clone(), tx)));
            if !shared.settings.max_extension.is_zero() {
                tasks.push(rt.spawn(crate::receive::extend_leases(shared.clone())));
            }
        }
        Consumer { shared, rx, tasks }
    }
}

impl Consumer {
    /// The next message, `Some(Err(..))` once if the stream failed for good, then `None`.
    /// (The same as `StreamExt::next`, without importing it.)
    pub async fn next(&mut self) -> Option<Result<Message>> {
        self.rx.recv().await
    }

    /// Changes how many unsettled messages the consumer may hold (1 to 10,000), telling the
    /// broker at once.
    pub fn set_credit(&self, credit: u32) {
        let credit = credit.clamp(1, MAX_CREDIT);
        let mut st = self.shared.state.lock().unwrap();
        st.credit = credit;
        st.stream_credit = credit.saturating_sub(st.old_held as u32).max(1);
        st.wake.notify_one();
        drop(st);
        self.shared.released.notify_one();
    }

    /// The consumer's counters.
    pub fn stats(&self) -> ConsumerStats {
        let held = self.shared.state.lock().unwrap().held.len();
        ConsumerStats {
            delivered: self.shared.delivered.load(Ordering::Relaxed),
            held,
            reconnects: self.shared.reconnects.load(Ordering::Relaxed),
        }
    }

    /// Stops the consumer, nacks the messages it received and had not handed out, and waits
    /// (at most the client's timeout) until the acks and nacks of its messages are answered.
    pub async fn close(mut self) -> Result<()> {
        self.stop();
        for t in std::mem::take(&mut self.tasks) {
            let _ = t.await;
        }
        self.rx.close();
        while self.rx.try_recv().is_ok() {} // dropped: nacked
        let mut acking = self.shared.acking.subscribe();
        let timeout = self.shared.client.timeout();
        match tokio::time::timeout(timeout, acking.wait_for(|n| *n == 0)).await {
            Ok(_) => Ok(()),
            Err(_) => Err(Error::DeadlineExceeded {
                op: "close".into(),
                message: "acks of the consumer's messages still unanswered".into(),
            }),
        }
    }

    fn stop(&mut self) {
        self.shared.closing.store(true, Ordering::Release);
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl Drop for Consumer {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Stream for Consumer {
    type Item = Result<Message>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.rx.poll_recv(cx)
    }
}

impl std::fmt::Debug for Consumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Consumer")
            .field("queue", &self.shared.queue)
            .field("stats", &self.stats())
            .finish()
    }
}
