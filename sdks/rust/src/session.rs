//! One consumer's streams: opened one after the other (with backoff, following redirects),
//! each with the credit the consumer has left, and its messages handed to the consumer.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::Instant;

use futures_core::Stream;
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;

use crate::consumer::{HeldLease, Shared};
use crate::error::{Error, Result, leader_addr};
use crate::message::{Held, Message};
use crate::proto;
use crate::retry::MAX_REDIRECTS;

/// Whether re-opening the stream cannot fix what ended it.
fn permanent(e: &Error) -> bool {
    use tonic::Code::*;
    matches!(
        e.code(),
        InvalidArgument
            | NotFound
            | AlreadyExists
            | PermissionDenied
            | FailedPrecondition
            | Unauthenticated
            | Unimplemented
            | OutOfRange
    )
}

/// Opens streams one after the other until the consumer stops.
pub(crate) async fn run(sh: Arc<Shared>, tx: mpsc::UnboundedSender<Result<Message>>) {
    let policy = sh.client.inner.retry.clone();
    let (mut failures, mut redirects) = (0u32, 0u32);
    loop {
        // A closed client ends its consumers' streams.
        let (got, redirected, err) = tokio::select! {
            ended = session(&sh, &tx) => ended,
            _ = sh.client.closed() => (false, false, Error::Closed("client")),
        };
        if tx.is_closed() {
            return;
        }
        let classic = sh.state.lock().unwrap().classic;
        if err.code() == tonic::Code::Unimplemented && !classic {
            sh.state.lock().unwrap().classic = true; // a broker without Lease: read Consume
            continue;
        }
        if permanent(&err) || sh.client.is_closed() {
            let err = if sh.client.is_closed() { Error::Closed("client") } else { err };
            let _ = tx.send(Err(err));
            return;
        }
        if got {
            (failures, redirects) = (0, 0);
        }
        sh.reconnects.fetch_add(1, Ordering::Relaxed);
        if redirected && redirects < MAX_REDIRECTS {
            redirects += 1;
            continue; // to the leader, at once
        }
        failures += 1;
        tokio::select! {
            _ = tokio::time::sleep(policy.backoff(failures)) => {}
            _ = sh.client.closed() => {}
        }
    }
}

/// Waits until the consumer may hold more messages than it holds from earlier streams, and
/// starts a new stream generation with the credit left.
async fn open_credit(sh: &Shared) -> (u32, u64, Arc<Notify>, bool) {
    loop {
        {
            let mut st = sh.state.lock().unwrap();
            st.old_held = st.held.len();
            let avail = st.credit.saturating_sub(st.old_held as u32);
            if st.classic || avail >= 1 {
                st.generation += 1;
                st.stream_credit = avail.max(1);
                st.wake = Arc::new(Notify::new());
                return (avail.max(1), st.generation, st.wake.clone(), st.classic);
            }
        }
        sh.released.notified().await;
    }
}

/// One stream, until it breaks: whether it delivered anything, whether the broker
/// redirected the consumer to another node, and the error that ended it.
async fn session(
    sh: &Arc<Shared>,
    tx: &mpsc::UnboundedSender<Result<Message>>,
) -> (bool, bool, Error) {
    let (credit, generation, wake, classic) = open_credit(sh).await;
    let conn = sh.client.current();
    let op = if classic { "Consume" } else { "Lease" };
    let mut stream = if classic {
        let req = sh.client.request(proto::ConsumeRequest { queue: sh.queue.clone() }, None);
        Receiving::Classic(match conn.svc().consume(req).await {
            Ok(r) => r.into_inner(),
            Err(st) => return (false, follow(sh, &conn, &st), Error::from_status(op, &st)),
        })
    } else {
        let (req_tx, req_rx) = mpsc::unbounded_channel();
        let first = proto::LeaseRequest {
            queue: sh.queue.clone(),
            credit,
            max_batch: sh.settings.max_batch,
        };
        let _ = req_tx.send(first);
        let sender = sh.client.inner.runtime.spawn(send_credit(
            sh.clone(),
            req_tx,
            generation,
            wake,
            credit,
        ));
        let req = sh.client.request(Requests(req_rx), None);
        let resp = conn.svc().lease(req).await;
        match resp {
            Ok(r) => Receiving::Lease(r.into_inner(), AbortOnDrop(sender)),
            Err(st) => {
                sender.abort();
                return (false, follow(sh, &conn, &st), Error::from_status(op, &st));
            }
        }
    };
    let mut got = false;
    loop {
        let next = match &mut stream {
            Receiving::Lease(s, _) => s.message().await.map(|r| r.map(|r| r.messages)),
            Receiving::Classic(s) => {
                s.message().await.map(|r| r.map(|r| r.message.into_iter().collect()))
            }
        };
        let msgs: Vec<proto::Message> = match next {
            Ok(Some(msgs)) => msgs,
            Ok(None) => {
                let message = "the broker ended the stream".to_string();
                return (got, false, Error::Unavailable { op: op.into(), message });
            }
            Err(st) => return (got, follow(sh, &conn, &st), Error::from_status(op, &st)),
        };
        got = true;
        for m in msgs {
            let msg = adopt(sh, m, generation);
            sh.delivered.fetch_add(1, Ordering::Relaxed);
            if tx.send(Ok(msg)).is_err() {
                return (got, false, Error::Closed("consumer"));
            }
        }
    }
}

/// Follows a cluster's redirect named in a stream's error; whether it did.
fn follow(sh: &Shared, conn: &crate::client::Conn, st: &tonic::Status) -> bool {
    match leader_addr(st) {
        Some(addr) => sh.client.follow(conn, &addr).is_ok(),
        None => false,
    }
}

fn adopt(sh: &Arc<Shared>, m: proto::Message, generation: u64) -> Message {
    let seq = {
        let mut st = sh.state.lock().unwrap();
        st.next_seq += 1;
        let seq = st.next_seq;
        let lease_id = m.metadata.as_ref().map(|md| md.lease_id.clone()).unwrap_or_default();
        st.held.insert(seq, HeldLease { id: m.id.clone(), lease_id, received: Instant::now() });
        seq
    };
    let held = Held { consumer: sh.clone(), seq, generation };
    Message::from_proto(m, sh.client.clone(), Some(held), &sh.queue)
}

/// Tells the broker each new credit of the stream of generation `generation`.
async fn send_credit(
    sh: Arc<Shared>,
    req_tx: mpsc::UnboundedSender<proto::LeaseRequest>,
    generation: u64,
    wake: Arc<Notify>,
    mut sent: u32,
) {
    loop {
        wake.notified().await;
        let (want, current) = {
            let st = sh.state.lock().unwrap();
            (st.stream_credit, st.generation)
        };
        if current != generation {
            return;
        }
        if want != sent {
            if req_tx.send(proto::LeaseRequest { credit: want, ..Default::default() }).is_err() {
                return;
            }
            sent = want;
        }
    }
}

enum Receiving {
    Lease(tonic::Streaming<proto::LeaseResponse>, #[allow(dead_code)] AbortOnDrop),
    Classic(tonic::Streaming<proto::ConsumeResponse>),
}

/// Ends a stream's credit sender with the stream.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The requests of a `Lease` stream: the first names the queue, the rest change the credit.
struct Requests(mpsc::UnboundedReceiver<proto::LeaseRequest>);

impl Stream for Requests {
    type Item = proto::LeaseRequest;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.0.poll_recv(cx)
    }
}
