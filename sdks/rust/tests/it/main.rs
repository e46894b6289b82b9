//! The SDK's tests, against real `fila serve` processes: one test binary (one link), its
//! modules by area. Most tests share one broker, each on queues of its own; tests that
//! need a broker configured otherwise (TLS, API keys, restarts) start their own.

mod admin;
mod broker;
mod consumer;
mod docs;
mod errors;
mod fair;
mod legacy;
mod lifecycle;
mod producer;
mod resilience;
mod security;

use std::collections::HashMap;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use fila::{Client, Consumer, Message, OutgoingMessage, QueueConfig, QueueStats};

pub use broker::{Broker, Options};

static SHARED: OnceLock<Broker> = OnceLock::new();

/// The broker most tests use, started by the first test that asks.
pub fn shared() -> &'static Broker {
    SHARED
        .get_or_init(|| Broker::must_start(Options { for_the_process: true, ..Default::default() }))
}

/// A client of `addr` (the shared broker's if empty), with a deadline well inside the
/// tests' patience.
pub async fn client(addr: &str) -> Client {
    let addr = if addr.is_empty() { shared().addr.clone() } else { addr.to_string() };
    Client::builder(addr).timeout(Duration::from_secs(20)).connect().await.expect("connecting")
}

static QUEUE_SEQ: AtomicU64 = AtomicU64::new(0);

/// Creates a queue named after the running test and returns its name.
pub async fn new_queue(c: &Client, cfg: QueueConfig) -> String {
    let test = std::thread::current().name().unwrap_or("q").to_string();
    let base: String =
        test.chars().map(|ch| if ch.is_ascii_alphanumeric() { ch } else { '-' }).collect();
    let name = format!("{}-{}", base.trim_matches('-'), QUEUE_SEQ.fetch_add(1, Ordering::Relaxed));
    c.create_queue(&name, cfg).await.unwrap_or_else(|e| panic!("create_queue({name}): {e}"));
    name
}

/// Reads `n` messages from a consumer, failing the test if they do not come in time.
pub async fn take(cons: &mut Consumer, n: usize, timeout: Duration) -> Vec<Message> {
    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + timeout;
    while got.len() < n {
        match tokio::time::timeout_at(deadline, cons.next()).await {
            Ok(Some(Ok(m))) => got.push(m),
            Ok(Some(Err(e))) => panic!("consumer failed after {} of {n} messages: {e}", got.len()),
            Ok(None) => panic!("consumer stopped after {} of {n} messages", got.len()),
            Err(_) => panic!("got {} of {n} messages in {timeout:?}", got.len()),
        }
    }
    got
}

/// Asserts that no message arrives within `d`.
pub async fn nothing_for(cons: &mut Consumer, d: Duration) {
    if let Ok(Some(m)) = tokio::time::timeout(d, cons.next()).await {
        panic!("an unexpected delivery: {m:?}");
    }
}

/// Enqueues `n` messages ("m0", "m1", ...) with these headers; their ids.
pub async fn enqueue_n(c: &Client, queue: &str, n: usize, headers: &[(&str, &str)]) -> Vec<String> {
    let headers: HashMap<String, String> =
        headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let msgs = (0..n)
        .map(|i| OutgoingMessage {
            queue: queue.into(),
            headers: headers.clone(),
            payload: format!("m{i}").into(),
        })
        .collect();
    let results = c.enqueue_batch(msgs).await.expect("enqueue_batch");
    results
        .into_iter()
        .enumerate()
        .map(|(i, r)| r.unwrap_or_else(|e| panic!("message {i}: {e}")))
        .collect()
}

pub async fn stats(c: &Client, queue: &str) -> QueueStats {
    c.stats(queue).await.unwrap_or_else(|e| panic!("stats({queue}): {e}"))
}

/// A temporary directory, removed when dropped (a failing test's too).
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new(what: &str) -> TempDir {
        let n = QUEUE_SEQ.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("fila-rust-{what}-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("creating a temp dir");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Polls `cond` until it holds, failing the test after `timeout`.
pub async fn wait_for<F, Fut>(timeout: Duration, what: &str, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    while !cond().await {
        assert!(Instant::now() < deadline, "timed out after {timeout:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
