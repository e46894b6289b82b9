//! Against the original broker: without Fila's additions (they answer UNIMPLEMENTED) the
//! client falls back to the single-message RPCs and the classic Consume stream.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use fila::{ConsumerSettings, Error, OutgoingMessage, QueueConfig};
use h2::{RecvStream, SendStream};

use crate::{client, new_queue, shared, stats, take, wait_for};

type Calls = Arc<Mutex<HashMap<String, u32>>>;

/// Copies one HTTP/2 body (its data, then its trailers) from `from` to `to`.
async fn pump(mut from: RecvStream, mut to: SendStream<Bytes>) {
    while let Some(Ok(data)) = from.data().await {
        let _ = from.flow_control().release_capacity(data.len());
        if to.send_data(data, false).is_err() {
            return;
        }
    }
    match from.trailers().await {
        Ok(Some(trailers)) => drop(to.send_trailers(trailers)),
        _ => drop(to.send_data(Bytes::new(), true)),
    }
}

/// Puts the real broker behind a proxy that offers only the original broker's RPCs: Fila's
/// additions (the batch RPCs, Lease, ExtendLease) answer UNIMPLEMENTED, as an original broker
/// does. Everything else goes through, frame for frame. Plain HTTP/2 on both sides.
async fn legacy_broker(upstream: String) -> (String, Calls) {
    const ADDITIONS: [&str; 5] = ["EnqueueBatch", "AckBatch", "NackBatch", "Lease", "ExtendLease"];
    let lis = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = lis.local_addr().unwrap().to_string();
    let calls: Calls = Arc::default();
    let seen = calls.clone();
    tokio::spawn(async move {
        while let Ok((sock, _)) = lis.accept().await {
            let (upstream, seen) = (upstream.clone(), seen.clone());
            tokio::spawn(async move {
                let up = tokio::net::TcpStream::connect(&upstream).await.unwrap();
                let (up, up_conn) = h2::client::handshake(up).await.unwrap();
                tokio::spawn(up_conn);
                let Ok(mut conn) = h2::server::handshake(sock).await else { return };
                while let Some(Ok((req, mut respond))) = conn.accept().await {
                    let method = req.uri().path().rsplit('/').next().unwrap_or("").to_string();
                    *seen.lock().unwrap().entry(method.clone()).or_default() += 1;
                    if ADDITIONS.contains(&method.as_str()) {
                        let resp = http::Response::builder()
                            .header("content-type", "application/grpc")
                            .header("grpc-status", "12") // UNIMPLEMENTED
                            .header("grpc-message", format!("unknown method {method}"))
                            .body(())
                            .unwrap();
                        let _ = respond.send_response(resp, true);
                        continue;
                    }
                    let up = up.clone();
                    tokio::spawn(async move {
                        let (parts, body) = req.into_parts();
                        let Ok(mut up) = up.ready().await else { return };
                        let request = http::Request::from_parts(parts, ());
                        let Ok((response, to_up)) = up.send_request(request, false) else { return };
                        tokio::spawn(pump(body, to_up));
                        let Ok(response) = response.await else { return };
                        let (parts, body) = response.into_parts();
                        let Ok(to_client) =
                            respond.send_response(http::Response::from_parts(parts, ()), false)
                        else {
                            return;
                        };
                        pump(body, to_client).await;
                    });
                }
            });
        }
    });
    (addr, calls)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_fila_additions_the_single_message_rpcs_are_used() {
    let (addr, calls) = legacy_broker(shared().addr.clone()).await;
    let c = client(&addr).await;
    let q = new_queue(&c, QueueConfig::new().retries(0, Duration::from_millis(10), Duration::ZERO))
        .await;
    let msgs = (0..5).map(|i| OutgoingMessage::new(&q, format!("m{i}"))).collect();
    let results = c.enqueue_batch(msgs).await.unwrap();
    assert!(results.iter().all(|r| r.is_ok()), "{results:?}");
    let refused =
        c.enqueue_batch(vec![OutgoingMessage::new(format!("{q}-nope"), "x")]).await.unwrap();
    assert!(matches!(refused[..], [Err(Error::QueueNotFound { .. })]), "{refused:?}");

    let mut cons = c.lease(&q, ConsumerSettings::default()); // becomes the Consume stream
    let got = take(&mut cons, 5, Duration::from_secs(10)).await;
    for m in &got[1..] {
        m.ack_with_result().await.expect("ack through Ack");
    }
    got[0].nack_with_result("once more").await.expect("nack through Nack");
    let again = take(&mut cons, 1, Duration::from_secs(10)).await.remove(0);
    assert_eq!((again.id(), again.attempt_count()), (got[0].id(), 1));
    again.ack();
    cons.close().await.unwrap();
    wait_for(Duration::from_secs(5), "5 acks", || async { stats(&c, &q).await.totals.acked == 5 })
        .await;

    let calls = calls.lock().unwrap().clone();
    let n = |m: &str| calls.get(m).copied().unwrap_or(0);
    // The first refusal tells the client: it asks for no batch RPC again (the acks never
    // try AckBatch), and a consumer asks for Lease once per client.
    assert_eq!(
        (n("EnqueueBatch"), n("AckBatch"), n("NackBatch"), n("Lease")),
        (1, 0, 0, 1),
        "{calls:?}"
    );
    assert_eq!((n("Enqueue"), n("Consume"), n("Ack"), n("Nack")), (6, 1, 5, 1), "{calls:?}");
}
