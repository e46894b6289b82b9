//! Turns many single calls (an enqueue, an ack) into batch RPCs, each item with its own
//! outcome.
//!
//! Batching adapts to load like Nagle's algorithm without its delay: when no RPC is in flight
//! for a key (a queue, or one key for all), an item goes out at once; while one is, items
//! gather and go when it returns, when `max_items` or `max_bytes` of them wait, or after
//! `linger` at the latest. At most `max_in_flight` RPCs per key are out at once.

use std::any::Any;
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{oneshot, watch};

use crate::client::Client;
use crate::error::{Error, Result};

/// The most items the broker takes in one batch RPC.
pub(crate) const MAX_BATCH_ITEMS: usize = 10_000;

pub(crate) type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// Sends one batch of a key: an outcome per item, in order, or an error for them all. It
/// gets the client at each call (not kept in the batcher), so that a batcher the client
/// owns makes no reference cycle.
pub(crate) type SendFn<I, R> = fn(Client, String, Vec<I>) -> BoxFuture<Result<Vec<Result<R>>>>;

/// Something dropped once an item's outcome is in: a consumer counts its unanswered acks
/// with it.
pub(crate) type Guard = Box<dyn Any + Send>;

#[derive(Debug, Clone)]
pub(crate) struct Limits {
    pub(crate) linger: Duration,
    pub(crate) max_items: usize,
    pub(crate) max_bytes: usize,
    pub(crate) max_in_flight: usize,
}

pub(crate) struct Batcher<I, R> {
    shared: Arc<Shared<I, R>>,
}

struct Shared<I, R> {
    send: SendFn<I, R>,
    what: &'static str, // what is closed: "client", "producer"
    limits: Limits,
    state: Mutex<State<I, R>>,
    pending: watch::Sender<usize>, // items submitted and not yet answered
    rpcs: AtomicU64,
    items: AtomicU64,
}

struct State<I, R> {
    groups: HashMap<String, Group<I, R>>,
    closed: bool,
    next_timer: u64,
}

struct Group<I, R> {
    items: VecDeque<Waiting<I, R>>,
    bytes: usize,
    busy: usize, // RPCs in flight
    timer: u64,  // the id of the armed linger timer; 0: none
}

struct Waiting<I, R> {
    item: I,
    size: usize,
    tx: oneshot::Sender<Result<R>>,
    guard: Option<Guard>,
}

impl<I: Send + 'static, R: Send + 'static> Batcher<I, R> {
    pub(crate) fn new(what: &'static str, send: SendFn<I, R>, mut limits: Limits) -> Self {
        limits.max_items = limits.max_items.clamp(1, MAX_BATCH_ITEMS);
        limits.max_bytes = limits.max_bytes.max(1);
        limits.max_in_flight = limits.max_in_flight.max(1);
        let state = State { groups: HashMap::new(), closed: false, next_timer: 1 };
        Batcher {
            shared: Arc::new(Shared {
                send,
                what,
                limits,
                state: Mutex::new(state),
                pending: watch::Sender::new(0),
                rpcs: AtomicU64::new(0),
                items: AtomicU64::new(0),
            }),
        }
    }

    /// Queues `item` (about `size` bytes) for `key`; the receiver gets its outcome.
    pub(crate) fn submit(
        &self,
        client: &Client,
        key: &str,
        item: I,
        size: usize,
        guard: Option<Guard>,
    ) -> oneshot::Receiver<Result<R>> {
        let (tx, rx) = oneshot::channel();
        let sh = &self.shared;
        let mut st = sh.state.lock().unwrap();
        if st.closed {
            let _ = tx.send(Err(Error::Closed(sh.what)));
            return rx;
        }
        sh.pending.send_modify(|n| *n += 1);
        let g = st.groups.entry(key.to_string()).or_insert_with(|| Group {
            items: VecDeque::new(),
            bytes: 0,
            busy: 0,
            timer: 0,
        });
        if !g.items.is_empty() && g.bytes + size > sh.limits.max_bytes {
            flush_locked(sh, &mut st, client, key); // it would overflow the batch: send what waits first
        }
        let g = st.groups.get_mut(key).expect("group");
        g.items.push_back(Waiting { item, size, tx, guard });
        g.bytes += size;
        let full = g.items.len() >= sh.limits.max_items || g.bytes >= sh.limits.max_bytes;
        if g.busy == 0 || full {
            flush_locked(sh, &mut st, client, key); // idle: go now; or the batch is full
        } else if g.timer == 0 {
            arm_locked(sh, &mut st, client, key);
        }
        rx
    }

    /// Sends everything waiting now and returns once every item submitted so far has its
    /// outcome.
    pub(crate) async fn flush(&self, client: &Client) {
        {
            let mut st = self.shared.state.lock().unwrap();
            let keys: Vec<String> = st.groups.keys().cloned().collect();
            for key in keys {
                flush_locked(&self.shared, &mut st, client, &key);
            }
        }
        let mut rx = self.shared.pending.subscribe();
        let _ = rx.wait_for(|n| *n == 0).await;
    }

    /// Refuses new items ([`Error::Closed`]), then flushes.
    pub(crate) async fn close(&self, client: &Client) {
        self.shared.state.lock().unwrap().closed = true;
        self.flush(client).await;
    }

    /// Batch RPCs sent, and the items they carried.
    pub(crate) fn counts(&self) -> (u64, u64) {
        (self.shared.rpcs.load(Ordering::Relaxed), self.shared.items.load(Ordering::Relaxed))
    }
}

/// Starts the linger timer of a group that has items waiting.
fn arm_locked<I: Send + 'static, R: Send + 'static>(
    sh: &Arc<Shared<I, R>>,
    st: &mut State<I, R>,
    client: &Client,
    key: &str,
) {
    let id = st.next_timer;
    st.next_timer += 1;
    st.groups.get_mut(key).expect("group").timer = id;
    let (sh2, client2, key2) = (sh.clone(), client.clone(), key.to_string());
    let linger = sh.limits.linger;
    client.inner.runtime.spawn(async move {
        tokio::time::sleep(linger).await;
        let mut st = sh2.state.lock().unwrap();
        if st.groups.get(&key2).is_some_and(|g| g.timer == id) {
            flush_locked(&sh2, &mut st, &client2, &key2);
        }
    });
}

/// Sends what waits in a group, as many RPCs as it takes and the in-flight limit allows.
fn flush_locked<I: Send + 'static, R: Send + 'static>(
    sh: &Arc<Shared<I, R>>,
    st: &mut State<I, R>,
    client: &Client,
    key: &str,
) {
    let l = &sh.limits;
    let Some(g) = st.groups.get_mut(key) else { return };
    while !g.items.is_empty() && g.busy < l.max_in_flight {
        g.timer = 0;
        let (mut n, mut bytes) = (0, 0);
        while n < g.items.len()
            && n < l.max_items
            && (n == 0 || bytes + g.items[n].size <= l.max_bytes)
        {
            bytes += g.items[n].size;
            n += 1;
        }
        let batch: Vec<Waiting<I, R>> = g.items.drain(..n).collect();
        g.bytes -= bytes;
        g.busy += 1;
        let (sh2, client2, key2) = (sh.clone(), client.clone(), key.to_string());
        client.inner.runtime.spawn(run(sh2, client2, key2, batch));
        if g.items.len() < l.max_items && g.bytes < l.max_bytes {
            break; // what is left is not a full batch: it waits for company
        }
    }
    let rearm = !g.items.is_empty() && g.timer == 0 && g.busy < l.max_in_flight;
    if rearm {
        arm_locked(sh, st, client, key);
    }
}

async fn run<I: Send + 'static, R: Send + 'static>(
    sh: Arc<Shared<I, R>>,
    client: Client,
    key: String,
    batch: Vec<Waiting<I, R>>,
) {
    let n = batch.len();
    let mut waiters = Vec::with_capacity(n);
    let mut items = Vec::with_capacity(n);
    for w in batch {
        items.push(w.item);
        waiters.push((w.tx, w.guard));
    }
    sh.rpcs.fetch_add(1, Ordering::Relaxed);
    sh.items.fetch_add(n as u64, Ordering::Relaxed);
    let outcome = (sh.send)(client.clone(), key.clone(), items).await;
    match outcome {
        Ok(outs) => {
            let mut outs = outs.into_iter();
            for (tx, guard) in waiters {
                let out = outs.next().unwrap_or_else(|| {
                    Err(Error::Status {
                        op: "batch".into(),
                        code: tonic::Code::Internal,
                        message: "the broker answered fewer results than items".into(),
                    })
                });
                let _ = tx.send(out);
                drop(guard);
            }
        }
        Err(e) => {
            for (tx, guard) in waiters {
                let _ = tx.send(Err(e.clone()));
                drop(guard);
            }
        }
    }
    {
        let mut st = sh.state.lock().unwrap();
        if let Some(g) = st.groups.get_mut(&key) {
            g.busy -= 1;
            if !g.items.is_empty() {
                flush_locked(&sh, &mut st, &client, &key); // what gathered meanwhile goes now
            } else if g.busy == 0 {
                st.groups.remove(&key);
            }
        }
    }
    sh.pending.send_modify(|p| *p -= n);
}
