//! Administration: queues, dead letters, runtime config, throttles, stats, explain.

use std::time::Duration;

use fila::{ConsumerSettings, Error, OutgoingMessage, QueueConfig, dlq_name};

use crate::{client, enqueue_n, new_queue, stats, take, wait_for};

const SECS10: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_administration() {
    let c = client("").await;
    let cfg = QueueConfig {
        visibility_timeout: Duration::from_secs(5),
        max_attempts: 3,
        ..Default::default()
    };
    let q = new_queue(&c, cfg).await;
    let got = c.get_queue(&q).await.unwrap();
    assert_eq!(
        (&*got.name, got.config.visibility_timeout, got.config.max_attempts),
        (&*q, Duration::from_secs(5), 3)
    );
    assert_eq!(
        (&*got.dlq_of, got.config.retry_backoff_base),
        ("", Duration::from_millis(100)),
        "defaults filled in"
    );
    assert_eq!(c.get_queue(&dlq_name(&q)).await.unwrap().dlq_of, q);

    let mut cfg = got.config;
    cfg.max_attempts = 1;
    cfg.on_enqueue_script = r#"function on_enqueue(msg) return { fairness_key = "k" } end"#.into();
    c.update_queue(&q, cfg.clone()).await.unwrap();
    let after = c.get_queue(&q).await.unwrap().config;
    assert_eq!((after.max_attempts, &after.on_enqueue_script), (1, &cfg.on_enqueue_script));
    let names: Vec<String> = c.list_queues().await.unwrap().into_iter().map(|i| i.name).collect();
    assert!(names.contains(&q) && names.contains(&dlq_name(&q)), "{names:?}");

    // One failure dead-letters a message (max_attempts 1); peek at it, then redrive it.
    let id = c.enqueue(OutgoingMessage::new(&q, "doomed").header("n", "1")).await.unwrap();
    let mut cons = c.lease(&q, ConsumerSettings::default());
    let m = take(&mut cons, 1, SECS10).await.remove(0);
    assert_eq!(m.fairness_key(), "k", "the updated hook ran");
    m.nack_with_result("broken").await.unwrap();
    wait_for(Duration::from_secs(5), "the dead letter", || async {
        stats(&c, &q).await.dlq_depth == 1
    })
    .await;
    let peeked = c.peek(&dlq_name(&q), 10).await.unwrap();
    let p = &peeked[0];
    assert_eq!(peeked.len(), 1);
    assert_eq!(
        (p.id(), p.last_error(), p.attempt_count(), p.queue(), p.header("n")),
        (&*id, "broken", 1, &*dlq_name(&q), Some("1"))
    );
    assert_eq!(c.redrive(&dlq_name(&q), 0).await.unwrap(), 1);
    let back = take(&mut cons, 1, SECS10).await.remove(0);
    assert_eq!((back.id(), back.attempt_count()), (&*id, 0));
    back.ack();
    cons.close().await.unwrap();
    let s = stats(&c, &q).await;
    assert_eq!((s.totals.redriven, s.totals.dead_lettered, s.totals.acked), (1, 1, 1));
    assert!(!s.hooks.is_empty());

    c.delete_queue(&q).await.unwrap();
    let err = c.get_queue(&q).await.unwrap_err();
    assert!(matches!(err, Error::QueueNotFound { .. }), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runtime_config_and_throttles() {
    let c = client("").await;
    let hook = r#"function on_enqueue(msg)
  return { fairness_key = "k", throttle_keys = { "provider:" .. msg.headers.provider } }
end"#;
    let q = new_queue(&c, QueueConfig::new().on_enqueue(hook)).await;
    let prefix = format!("{q}.");
    c.set_config(&format!("{prefix}a"), "1").await.unwrap();
    c.set_config(&format!("{prefix}b"), "2").await.unwrap();
    assert_eq!(c.get_config(&format!("{prefix}a")).await.unwrap(), "1");
    let all = c.list_config(&prefix).await.unwrap();
    assert_eq!((all.len(), all.get(&format!("{prefix}b")).map(String::as_str)), (2, Some("2")));
    c.set_config(&format!("{prefix}a"), "").await.unwrap(); // empty deletes
    assert!(matches!(c.get_config(&format!("{prefix}a")).await, Err(Error::NotFound { .. })));

    let slow = format!("provider:{q}"); // a bucket of this test's own: buckets are broker-wide
    c.set_throttle(&slow, 0.5, 2.0).await.unwrap();
    assert_eq!(c.get_config(&format!("throttle.{slow}")).await.unwrap(), "0.5,2");
    enqueue_n(&c, &q, 5, &[("provider", &q)]).await;
    let mut cons = c.lease(&q, ConsumerSettings { credit: 10, ..Default::default() });
    for m in take(&mut cons, 2, SECS10).await {
        m.ack(); // the burst of 2, then the bucket is dry
    }
    wait_for(Duration::from_secs(5), "the bucket to hold messages back", || async {
        let s = stats(&c, &q).await;
        matches!(&s.throttles[..], [t] if t.key == slow && t.waiting == 3 && t.rate_per_second == 0.5 && t.burst == 2.0)
    })
    .await;
    let ex = c.explain(&q, "k").await.unwrap();
    assert!(!ex.summary.is_empty() && ex.pending == 3, "{ex:?}");
    c.clear_throttle(&slow).await.unwrap();
    for m in take(&mut cons, 3, SECS10).await {
        m.ack(); // no bucket, no limit
    }
    cons.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receive_stops_when_its_queue_is_deleted() {
    let c = client("").await;
    let q = new_queue(&c, QueueConfig::new()).await;
    enqueue_n(&c, &q, 1, &[]).await;
    let (handled_tx, handled) = tokio::sync::oneshot::channel::<()>();
    let handled_tx = std::sync::Mutex::new(Some(handled_tx));
    let receiving = tokio::spawn({
        let (c, q) = (c.clone(), q.clone());
        async move {
            c.receive(&q, ConsumerSettings::default(), std::future::pending(), move |_m| {
                if let Some(tx) = handled_tx.lock().unwrap().take() {
                    let _ = tx.send(());
                }
                async { Ok::<(), Error>(()) }
            })
            .await
        }
    });
    handled.await.unwrap();
    c.delete_queue(&q).await.unwrap();
    let result = tokio::time::timeout(Duration::from_secs(15), receiving)
        .await
        .expect("receive did not stop");
    assert!(matches!(result.unwrap(), Err(Error::QueueNotFound { .. })));
}
