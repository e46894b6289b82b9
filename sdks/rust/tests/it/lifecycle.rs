//! A message's life: enqueue, lease, ack or nack, redelivery, lease extension, handlers.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime};

use fila::{ConsumerSettings, Error, LeaseRef, OutgoingMessage, QueueConfig};

use crate::{client, enqueue_n, new_queue, stats, take, wait_for};

const SECS10: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enqueue_lease_ack() {
    let c = client("").await;
    let hook = r#"function on_enqueue(msg)
  return { fairness_key = msg.headers.tenant, weight = 3, throttle_keys = { "t:" .. msg.headers.tenant } }
end"#;
    let q = new_queue(&c, QueueConfig::new().on_enqueue(hook)).await;
    let before = SystemTime::now() - Duration::from_secs(1);
    let id = c.enqueue(OutgoingMessage::new(&q, "hello").header("tenant", "acme")).await.unwrap();
    assert!(!id.is_empty());

    let mut cons = c.lease(&q, ConsumerSettings { credit: 1, ..Default::default() });
    let m = take(&mut cons, 1, SECS10).await.remove(0);
    assert_eq!(
        (m.id(), &m.payload()[..], m.header("tenant"), m.queue()),
        (&*id, &b"hello"[..], Some("acme"), &*q)
    );
    assert_eq!(
        (m.fairness_key(), m.weight(), m.throttle_keys()),
        ("acme", 3, &["t:acme".to_string()][..])
    );
    assert_eq!((m.attempt_count(), m.last_error()), (0, ""));
    assert!(!m.lease_id().is_empty());
    let enqueued = m.enqueued_at().expect("enqueued_at");
    assert!(
        enqueued >= before
            && m.leased_at().expect("leased_at") >= enqueued - Duration::from_secs(1)
    );

    m.ack_with_result().await.expect("ack");
    let s = stats(&c, &q).await;
    assert_eq!((s.depth, s.in_flight, s.totals.acked), (0, 0, 1));
    // A second ack of the same message does nothing: the first one counts.
    m.ack_with_result().await.expect("second ack");
    cons.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nack_redelivers_with_attempt_count() {
    let c = client("").await;
    let cfg = QueueConfig::new().retries(0, Duration::from_millis(10), Duration::ZERO);
    let q = new_queue(&c, cfg).await;
    let id = c.enqueue(OutgoingMessage::new(&q, "job")).await.unwrap();
    let mut cons = c.lease(&q, ConsumerSettings::default());
    let first = take(&mut cons, 1, SECS10).await.remove(0);
    first.nack_with_result("disk full").await.expect("nack");

    let again = take(&mut cons, 1, SECS10).await.remove(0);
    assert_eq!((again.id(), again.attempt_count(), again.last_error()), (&*id, 1, "disk full"));
    assert_ne!(again.lease_id(), first.lease_id(), "a redelivery has a new lease id");
    // The first delivery's lease is gone: acking with it is refused.
    let stale = c.ack(&q, first.id(), first.lease_id()).await;
    assert!(matches!(stale, Err(Error::FailedPrecondition { .. })), "stale ack: {stale:?}");
    again.ack();
    cons.close().await.unwrap();
    assert_eq!(stats(&c, &q).await.totals.acked, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ack_of_an_unknown_id_is_message_not_found() {
    let c = client("").await;
    let q = new_queue(&c, QueueConfig::new()).await;
    let err = c.ack(&q, "no-such-message", "").await.unwrap_err();
    assert!(matches!(&err, Error::MessageNotFound { op, .. } if op == "AckBatch"), "{err:?}");
    assert!(err.is_not_found() && err.code() == fila::Code::NotFound);
    let err = c.nack(&q, "no-such-message", "", "x").await.unwrap_err();
    assert!(matches!(err, Error::MessageNotFound { .. }), "{err:?}");
    let lease = LeaseRef { message_id: "no-such-message".into(), lease_id: String::new() };
    let results = c.extend_lease(&q, &[lease], Duration::from_secs(1)).await.unwrap();
    assert!(matches!(results[..], [Err(Error::MessageNotFound { .. })]), "{results:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receive_acks_on_ok_and_nacks_on_err() {
    let c = client("").await;
    let q = new_queue(&c, QueueConfig::new().retries(0, Duration::from_millis(10), Duration::ZERO))
        .await;
    let ids = enqueue_n(&c, &q, 10, &[]).await;
    let (handled, retried) = (Arc::new(AtomicU32::new(0)), Arc::new(AtomicU32::new(0)));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (h, r, fail) = (handled.clone(), retried.clone(), ids[3].clone());
    let settings = ConsumerSettings { credit: 4, ..Default::default() };
    let receiving = tokio::spawn({
        let (c, q) = (c.clone(), q.clone());
        async move {
            c.receive(
                &q,
                settings,
                async {
                    let _ = stopped.await;
                },
                move |m| {
                    let (h, r, fail) = (h.clone(), r.clone(), fail.clone());
                    async move {
                        h.fetch_add(1, Ordering::SeqCst);
                        if m.attempt_count() == 0 && m.id() == fail {
                            return Err(format!("transient failure of {}", m.id()));
                        }
                        if m.attempt_count() == 1 {
                            r.fetch_add(1, Ordering::SeqCst);
                        }
                        Ok(())
                    }
                },
            )
            .await
        }
    });
    wait_for(Duration::from_secs(15), "10 acks", || async {
        stats(&c, &q).await.totals.acked == 10
    })
    .await;
    stop.send(()).unwrap();
    receiving.await.unwrap().expect("receive returned an error after its shutdown");
    let s = stats(&c, &q).await;
    assert_eq!((handled.load(Ordering::SeqCst), retried.load(Ordering::SeqCst)), (11, 1));
    assert_eq!((s.totals.nacked, s.depth, s.in_flight), (1, 0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leases_of_held_messages_are_extended() {
    let c = client("").await;
    let q = new_queue(&c, QueueConfig::new().visibility_timeout(Duration::from_millis(600))).await;
    enqueue_n(&c, &q, 1, &[]).await;
    let calls = Arc::new(AtomicU32::new(0));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let receiving = tokio::spawn({
        let (c, q, calls) = (c.clone(), q.clone(), calls.clone());
        async move {
            c.receive(
                &q,
                ConsumerSettings::default(),
                async {
                    let _ = stopped.await;
                },
                move |_m| {
                    calls.fetch_add(1, Ordering::SeqCst);
                    // The work: three visibility timeouts long. Without extension the lease would
                    // expire and the message be delivered again.
                    async {
                        tokio::time::sleep(Duration::from_millis(1800)).await;
                        Ok::<(), Error>(())
                    }
                },
            )
            .await
        }
    });
    wait_for(Duration::from_secs(15), "the ack", || async {
        stats(&c, &q).await.totals.acked == 1
    })
    .await;
    stop.send(()).unwrap();
    receiving.await.unwrap().unwrap();
    let s = stats(&c, &q).await;
    assert_eq!((calls.load(Ordering::SeqCst), s.totals.expired, s.totals.leased), (1, 0, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_dropped_unsettled_is_nacked() {
    let c = client("").await;
    let q = new_queue(&c, QueueConfig::new().retries(0, Duration::from_millis(10), Duration::ZERO))
        .await;
    let id = enqueue_n(&c, &q, 1, &[]).await.remove(0);
    let mut cons = c.lease(&q, ConsumerSettings::default());
    drop(take(&mut cons, 1, SECS10).await); // neither acked nor nacked
    let again = take(&mut cons, 1, SECS10).await.remove(0);
    assert_eq!(
        (again.id(), again.attempt_count(), again.last_error()),
        (&*id, 1, "dropped without ack or nack")
    );
    again.ack();
    cons.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn classic_consume_stream() {
    let c = client("").await;
    let q = new_queue(&c, QueueConfig::new()).await;
    let ids = enqueue_n(&c, &q, 5, &[]).await;
    let mut cons = c.consume(&q, ConsumerSettings::default());
    for (m, id) in take(&mut cons, 5, SECS10).await.iter().zip(&ids) {
        assert_eq!(m.id(), id);
        m.ack();
    }
    cons.close().await.unwrap();
    wait_for(Duration::from_secs(5), "5 acks", || async { stats(&c, &q).await.totals.acked == 5 })
        .await;
}
