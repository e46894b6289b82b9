//! Producing: one message, a batch with a result per message, the batching producer.

use std::collections::HashSet;
use std::time::Duration;

use fila::{Error, OutgoingMessage, ProducerSettings, QueueConfig};

use crate::{client, new_queue, stats};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn producer_batches_for_64_tasks() {
    let c = client("").await;
    let q = new_queue(&c, QueueConfig::new()).await;
    let settings = ProducerSettings {
        linger: Duration::from_millis(5),
        max_messages: 100,
        ..Default::default()
    };
    let p = c.producer(settings);
    const TASKS: usize = 64;
    const EACH: usize = 20;
    let mut tasks = Vec::new();
    for w in 0..TASKS {
        let (p, q) = (p.clone(), q.clone());
        tasks.push(tokio::spawn(async move {
            let (mut ids, mut refused) = (Vec::new(), 0);
            for i in 0..EACH {
                // One caller's message is refused: only it hears so.
                let queue = if w == 7 && i == 3 { format!("{q}-missing") } else { q.clone() };
                let result = p.send(OutgoingMessage::new(&queue, format!("{w}/{i}"))).await;
                match result {
                    Err(Error::QueueNotFound { .. }) if queue != q => refused += 1,
                    Ok(id) if queue == q && !id.is_empty() => ids.push(id),
                    other => panic!("task {w} message {i} to {queue}: {other:?}"),
                }
            }
            (ids, refused)
        }));
    }
    let (mut seen, mut refused) = (HashSet::new(), 0);
    for t in tasks {
        let (ids, r) = t.await.unwrap();
        refused += r;
        for id in ids {
            assert!(seen.insert(id.clone()), "id {id} returned to two callers");
        }
    }
    p.close().await.unwrap();
    let total = TASKS * EACH - 1;
    assert_eq!((seen.len(), refused), (total, 1));
    let st = p.stats();
    println!("{} messages in {} EnqueueBatch RPCs", st.messages, st.batches);
    assert!(
        st.messages == (total + 1) as u64 && st.batches > 0 && st.batches < (total / 4) as u64,
        "{st:?}"
    );
    assert_eq!(stats(&c, &q).await.depth, total as u64);
    // Every message is in the queue, with an id its caller was given.
    let peeked = c.peek(&q, 2000).await.unwrap();
    assert_eq!(peeked.len(), total);
    assert!(peeked.iter().all(|m| seen.contains(m.id())), "a peeked message no caller was given");
    let after = p.send(OutgoingMessage::new(&q, "late")).await;
    assert!(matches!(after, Err(Error::Closed(_))), "send after close: {after:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lone_message_goes_at_once() {
    let c = client("").await;
    let q = new_queue(&c, QueueConfig::new()).await;
    // A linger far longer than the test's patience: a lone message must not wait for it.
    let p = c.producer(ProducerSettings { linger: Duration::from_secs(60), ..Default::default() });
    let quick = Duration::from_secs(10);
    for i in 0..3 {
        let id = tokio::time::timeout(quick, p.enqueue(OutgoingMessage::new(&q, "solo"))).await;
        assert!(matches!(id, Ok(Ok(_))), "message {i}: {id:?}");
    }
    let pending = p.send(OutgoingMessage::new(&q, "async"));
    let id = tokio::time::timeout(quick, pending).await.expect("no outcome").unwrap();
    assert!(!id.is_empty());
    p.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enqueue_batch_has_a_result_per_message() {
    let c = client("").await;
    let q = new_queue(&c, QueueConfig::new()).await;
    let results = c
        .enqueue_batch(vec![
            OutgoingMessage::new(&q, "a"),
            OutgoingMessage::new(format!("{q}-nope"), "b"),
            OutgoingMessage::new("", "c"),
            OutgoingMessage::new(&q, "d"),
        ])
        .await
        .unwrap();
    match &results[..] {
        [
            Ok(a),
            Err(Error::QueueNotFound { op, .. }),
            Err(Error::InvalidArgument { .. }),
            Ok(d),
        ] => {
            assert!(a != d && !a.is_empty() && op == "EnqueueBatch", "{results:?}")
        }
        other => panic!("{other:?}"),
    }
}
