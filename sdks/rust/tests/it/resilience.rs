//! Resilience: a broker restarted under a running consumer and producer, and a cluster's
//! redirect to the queue's leader.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use fila::{
    Client, ConsumerSettings, LEADER_ADDR_KEY, OutgoingMessage, ProducerSettings, QueueConfig,
};

use crate::{Broker, Options, client, enqueue_n, new_queue, shared, stats, take, wait_for};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer_and_producer_survive_a_broker_restart() {
    let mut b = Broker::must_start(Options::default());
    let c = Client::builder(&b.addr).timeout(Duration::from_secs(30)).connect().await.unwrap();
    let q = new_queue(&c, QueueConfig::new()).await;
    let mut cons = c.lease(&q, ConsumerSettings { credit: 10, ..Default::default() });
    let before = enqueue_n(&c, &q, 6, &[]).await;
    let mut got = take(&mut cons, 6, Duration::from_secs(10)).await;
    for m in &got[..5] {
        m.ack_with_result().await.unwrap();
    }
    let unacked = got.pop().unwrap(); // leased when the broker dies: ready again after the restart

    b.kill();
    // A message produced while the broker is down waits (retrying) until it is back.
    let p = c.producer(ProducerSettings::default());
    let during = p.send(OutgoingMessage::new(&q, "sent while down"));
    b.restart().unwrap_or_else(|e| panic!("restarting the broker on port {}: {e}", b.port));
    let during_id = during.await.expect("the message produced while the broker was down");
    let after = enqueue_n(&c, &q, 3, &[]).await;

    let mut want: HashSet<String> = after.into_iter().collect();
    want.extend([unacked.id().to_string(), during_id]);
    for m in take(&mut cons, want.len(), Duration::from_secs(30)).await {
        assert!(
            want.remove(m.id()),
            "unexpected delivery {} (acked before the restart: {before:?})",
            m.id()
        );
        if m.id() == unacked.id() {
            assert_eq!(m.attempt_count(), 0, "a restart counted as a failure");
        }
        m.ack();
    }
    unacked.ack(); // its old lease died with the broker: refused, and harmless
    assert!(cons.stats().reconnects >= 1, "the stream was never re-opened: {:?}", cons.stats());
    cons.close().await.unwrap();
    p.close().await.unwrap();
    wait_for(Duration::from_secs(10), "the queue to drain", || async {
        let s = stats(&c, &q).await;
        s.depth == 0 && s.in_flight == 0
    })
    .await;
}

/// Stands in for a node of a cluster that does not lead the queue: it answers every call
/// with UNAVAILABLE and the leader's address in the x-fila-leader-addr trailer, as the
/// original broker's followers do (a trailers-only response, as gRPC servers send an error
/// that comes before any message). Plain HTTP/2, so the tests need no gRPC server.
async fn follower(leader: String) -> (String, Arc<AtomicU32>) {
    let lis = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = lis.local_addr().unwrap().to_string();
    let hits = Arc::new(AtomicU32::new(0));
    let counter = hits.clone();
    tokio::spawn(async move {
        while let Ok((sock, _)) = lis.accept().await {
            let (leader, hits) = (leader.clone(), counter.clone());
            tokio::spawn(async move {
                let Ok(mut conn) = h2::server::handshake(sock).await else { return };
                while let Some(Ok((_req, mut respond))) = conn.accept().await {
                    hits.fetch_add(1, Ordering::SeqCst);
                    let resp = http::Response::builder()
                        .header("content-type", "application/grpc")
                        .header("grpc-status", "14") // UNAVAILABLE
                        .header("grpc-message", "not the leader of this queue")
                        .header(LEADER_ADDR_KEY, &leader)
                        .body(())
                        .unwrap();
                    let _ = respond.send_response(resp, true);
                }
            });
        }
    });
    (addr, hits)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_and_streams_follow_the_leader_redirect() {
    let leader = shared().addr.clone();
    let (addr, hits) = follower(leader.clone()).await;

    let c = client(&addr).await;
    let q = new_queue(&c, QueueConfig::new()).await; // create_queue is redirected to the leader
    assert_eq!((c.addr(), hits.load(Ordering::SeqCst)), (leader.clone(), 1));
    let id = c.enqueue(OutgoingMessage::new(&q, "via the leader")).await.unwrap();
    assert_eq!(hits.load(Ordering::SeqCst), 1, "later calls go to the leader directly");

    // A consumer whose stream is the first call of its client follows the redirect too.
    // (extend_every set: the consumer does not look up the queue's visibility timeout.)
    let c2 = client(&addr).await;
    let settings =
        ConsumerSettings { extend_every: Some(Duration::from_secs(10)), ..Default::default() };
    let mut cons = c2.lease(&q, settings);
    let m = take(&mut cons, 1, Duration::from_secs(10)).await.remove(0);
    assert_eq!((m.id(), hits.load(Ordering::SeqCst), c2.addr()), (&*id, 2, leader));
    m.ack_with_result().await.unwrap();
    cons.close().await.unwrap();
}
