//! Consuming: credit (flow control), the consumer's counters, closing.

use std::time::{Duration, Instant};

use fila::{ConsumerSettings, QueueConfig};

use crate::{client, enqueue_n, new_queue, nothing_for, stats, take, wait_for};

const SECS10: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lease_never_holds_more_than_its_credit() {
    let c = client("").await;
    let q = new_queue(&c, QueueConfig::new()).await;
    enqueue_n(&c, &q, 60, &[]).await;
    let mut cons = c.lease(&q, ConsumerSettings { credit: 5, max_batch: 2, ..Default::default() });

    let mut held = take(&mut cons, 5, SECS10).await;
    wait_for(Duration::from_secs(5), "5 in flight", || async {
        stats(&c, &q).await.in_flight == 5
    })
    .await;
    // Holding 5 unacked messages, the consumer gets no sixth: watch the broker for a while.
    let end = Instant::now() + Duration::from_millis(300);
    while Instant::now() < end {
        nothing_for(&mut cons, Duration::from_millis(20)).await;
        assert!(stats(&c, &q).await.in_flight <= 5, "more in flight than the credit");
    }
    // Acking frees one slot each: the rest flows through, never more than 5 held at once.
    let mut max_held = 0;
    for _ in 5..60 {
        held.remove(0).ack();
        held.extend(take(&mut cons, 1, SECS10).await);
        max_held = max_held.max(cons.stats().held);
        assert!(stats(&c, &q).await.in_flight <= 5, "more in flight than the credit");
    }
    assert!(max_held <= 5, "held {max_held} messages at once with credit 5");
    // Raising the credit is sent to the broker on the open stream.
    enqueue_n(&c, &q, 10, &[]).await;
    cons.set_credit(12);
    held.extend(take(&mut cons, 7, SECS10).await);
    wait_for(Duration::from_secs(5), "12 in flight", || async {
        stats(&c, &q).await.in_flight == 12
    })
    .await;
    for m in &held {
        m.ack();
    }
    cons.close().await.unwrap();
    assert_eq!(stats(&c, &q).await.totals.acked, 67); // 3 of the 70 were never delivered
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_counts_itself_and_close_waits_for_its_acks() {
    let c = client("").await;
    let q = new_queue(&c, QueueConfig::new()).await;
    enqueue_n(&c, &q, 3, &[]).await;
    let mut cons = c.lease(&q, ConsumerSettings::default());
    let msgs = take(&mut cons, 3, SECS10).await;
    let st = cons.stats();
    assert_eq!((st.delivered, st.held, st.reconnects), (3, 3, 0));
    for m in &msgs {
        m.ack();
    }
    assert_eq!(cons.stats().held, 0);
    cons.close().await.unwrap();
    // close waited for the acks: they are on the broker.
    assert_eq!(stats(&c, &q).await.totals.acked, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_consumer_is_a_futures_stream() {
    use futures_util::StreamExt;
    let c = client("").await;
    let q = new_queue(&c, QueueConfig::new()).await;
    let ids = enqueue_n(&c, &q, 4, &[]).await;
    let cons = c.lease(&q, ConsumerSettings::default());
    let got: Vec<fila::Message> = cons.take(4).map(|m| m.expect("a message")).collect().await;
    assert_eq!(got.iter().map(|m| m.id().to_string()).collect::<Vec<_>>(), ids);
    for m in &got {
        m.ack_with_result().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_the_client_ends_its_consumers_and_calls() {
    let c = client("").await;
    let q = new_queue(&c, QueueConfig::new()).await;
    let mut cons = c.lease(&q, ConsumerSettings::default());
    let producer = c.producer(Default::default());
    c.close().await.unwrap();
    let end = tokio::time::timeout(SECS10, cons.next()).await.expect("the consumer kept running");
    assert!(matches!(end, Some(Err(fila::Error::Closed(_)))), "{end:?}");
    assert!(cons.next().await.is_none());
    let err = c.list_queues().await.unwrap_err();
    assert!(matches!(err, fila::Error::Closed("client")), "{err:?}");
    let sent = producer.send(fila::OutgoingMessage::new(&q, "late")).await;
    assert!(matches!(sent, Err(fila::Error::Closed(_))), "{sent:?}");
    cons.close().await.unwrap();
}
