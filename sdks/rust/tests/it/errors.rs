//! Errors: gRPC statuses mapped to `fila::Error`, overload with its retry-after, an
//! unreachable broker.

use std::time::{Duration, Instant};

use fila::{Client, Code, ConsumerSettings, Error, OutgoingMessage, QueueConfig, RetryPolicy};

use crate::{Broker, Options, TempDir, client, new_queue};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_are_mapped() {
    let c = client("").await;
    let q = new_queue(&c, QueueConfig::new()).await;

    let err = c.enqueue(OutgoingMessage::new("no-such-queue", "x")).await.unwrap_err();
    match &err {
        Error::QueueNotFound { op, message } => {
            assert!(op == "Enqueue" && message.contains("no-such-queue"))
        }
        other => panic!("enqueue to a missing queue: {other:?}"),
    }
    assert!(err.is_not_found() && err.code() == Code::NotFound && !err.is_temporary());
    assert!(err.to_string().starts_with("fila: Enqueue: queue not found: "), "{err}");
    let err = c.stats("no-such-queue").await.unwrap_err();
    assert!(matches!(err, Error::QueueNotFound { .. }), "{err:?}");
    let err = c.enqueue(OutgoingMessage::new("", "x")).await.unwrap_err();
    assert!(matches!(err, Error::InvalidArgument { .. }), "empty queue name: {err:?}");
    let bad = QueueConfig::new().on_enqueue("function on_enqueue(msg) return {");
    let err = c.create_queue(&format!("{q}-bad"), bad).await.unwrap_err();
    assert!(
        matches!(err, Error::InvalidArgument { .. }),
        "a script that does not compile: {err:?}"
    );
    let err = c.create_queue(&q, QueueConfig::new()).await.unwrap_err();
    assert!(matches!(err, Error::AlreadyExists { .. }), "a queue created twice: {err:?}");
    let err = c.get_config("no.such.key").await.unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "a config key that is not set: {err:?}");
    let err = c.update_queue(&fila::dlq_name(&q), QueueConfig::new()).await.unwrap_err();
    assert!(matches!(err, Error::FailedPrecondition { .. }), "updating a DLQ: {err:?}");

    // A lease stream on a missing queue stops, with the reason, then ends.
    let mut cons = c.lease("no-such-queue", ConsumerSettings::default());
    let first = tokio::time::timeout(Duration::from_secs(10), cons.next())
        .await
        .expect("the consumer did not stop");
    assert!(matches!(first, Some(Err(Error::QueueNotFound { .. }))), "{first:?}");
    assert!(cons.next().await.is_none());
    cons.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overloaded_carries_its_retry_after() {
    let dir = TempDir::new("overload");
    let conf = dir.0.join("fila.toml");
    std::fs::write(&conf, "[limits]\nmax_pending_bytes = 20000\n").unwrap();
    let b = Broker::must_start(Options {
        args: vec!["--config".into(), conf.display().to_string()],
        ..Default::default()
    });
    let c = client(&b.addr).await;
    let q = new_queue(&c, QueueConfig::new()).await;
    let mut accepted = 0;
    let err = loop {
        match c.enqueue(OutgoingMessage::new(&q, vec![0u8; 1000])).await {
            Ok(_) if accepted < 1000 => accepted += 1,
            Ok(_) => panic!("1000 messages of 1000 bytes accepted under a 20,000-byte limit"),
            Err(e) => break e,
        }
    };
    assert!(
        matches!(err, Error::Overloaded { .. }) && err.is_temporary(),
        "after {accepted}: {err:?}"
    );
    assert_eq!(err.retry_after(), Some(Duration::from_millis(100)), "the broker's hint");
    // In a batch, the refused messages are refused one by one.
    let results = c.enqueue_batch(vec![OutgoingMessage::new(&q, vec![0u8; 1000])]).await.unwrap();
    assert!(matches!(results[..], [Err(Error::Overloaded { .. })]), "{results:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_broker_is_unavailable() {
    let mut b = Broker::must_start(Options::default());
    b.kill(); // a port nothing listens on any more
    let err = Client::builder(&b.addr).connect().await.unwrap_err();
    assert!(matches!(err, Error::Unavailable { .. }), "connect: {err:?}");

    let c = Client::builder(&b.addr).timeout(Duration::from_millis(500)).connect_lazy().unwrap();
    let start = Instant::now();
    let err = c.list_queues().await.unwrap_err(); // retried until the client's deadline
    assert!(matches!(err, Error::Unavailable { .. }), "list_queues with no broker: {err:?}");
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "took {:?}, the timeout is 500ms",
        start.elapsed()
    );
    // No retries: the first failure is the answer.
    let c1 = Client::builder(&b.addr).retry(RetryPolicy::none()).connect_lazy().unwrap();
    let start = Instant::now();
    let err = c1.list_queues().await.unwrap_err();
    assert!(
        matches!(err, Error::Unavailable { .. }) && start.elapsed() < Duration::from_secs(5),
        "{err:?}"
    );
    // One call with its own deadline.
    let start = Instant::now();
    let err = c.with_timeout(Duration::from_millis(200)).list_queues().await.unwrap_err();
    assert!(err.is_temporary() && start.elapsed() < Duration::from_secs(3), "{err:?}");
}
