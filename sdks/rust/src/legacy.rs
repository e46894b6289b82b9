//! Against the original broker. The batch RPCs (`EnqueueBatch`, `AckBatch`, `NackBatch`) and
//! the `Lease` stream are Fila's additions to its contract; when a broker answers
//! `UNIMPLEMENTED` to them, the client sends the single-message RPCs instead, several at
//! once, and consumers read the classic `Consume` stream: the same API, without the
//! batching (and without credit).

use std::future::Future;

use tokio::task::JoinSet;

use crate::client::Client;
use crate::error::{Error, Result};
use crate::hotpath::AckItem;
use crate::proto;

/// How many single-message RPCs one batch becomes at once.
const CONCURRENCY: usize = 16;

/// Runs `call` for every item, up to [`CONCURRENCY`] at once; an outcome per item, in order.
async fn each<I, R, F, Fut>(items: Vec<I>, call: F) -> Vec<Result<R>>
where
    I: Send + 'static,
    R: Send + 'static,
    F: Fn(I) -> Fut,
    Fut: Future<Output = Result<R>> + Send + 'static,
{
    let n = items.len();
    let mut outs: Vec<Option<Result<R>>> = (0..n).map(|_| None).collect();
    let mut tasks = JoinSet::new();
    for (i, item) in items.into_iter().enumerate() {
        if tasks.len() >= CONCURRENCY {
            if let Some(Ok((j, out))) = tasks.join_next().await {
                outs[j] = Some(out);
            }
        }
        let fut = call(item);
        tasks.spawn(async move { (i, fut.await) });
    }
    while let Some(joined) = tasks.join_next().await {
        if let Ok((j, out)) = joined {
            outs[j] = Some(out);
        }
    }
    outs.into_iter().map(|o| o.unwrap_or_else(|| Err(Error::Closed("task")))).collect()
}

impl Client {
    pub(crate) async fn enqueue_each(
        &self,
        reqs: Vec<proto::EnqueueRequest>,
    ) -> Vec<Result<String>> {
        each(reqs, |req| {
            let c = self.clone();
            async move {
                let resp = c
                    .invoke("Enqueue", &req, |c, r| async move { c.svc().enqueue(r).await })
                    .await?;
                Ok(resp.message_id)
            }
        })
        .await
    }

    pub(crate) async fn ack_each(&self, queue: &str, items: Vec<AckItem>) -> Vec<Result<()>> {
        each(items, |it| {
            let c = self.clone();
            let req = proto::AckRequest {
                queue: queue.to_string(),
                message_id: it.id,
                lease_id: it.lease_id,
            };
            async move {
                c.invoke("Ack", &req, |c, r| async move { c.svc().ack(r).await }).await?;
                Ok(())
            }
        })
        .await
    }

    pub(crate) async fn nack_each(
        &self,
        queue: &str,
        items: Vec<proto::NackItem>,
    ) -> Vec<Result<()>> {
        each(items, |it| {
            let c = self.clone();
            let req = proto::NackRequest {
                queue: queue.to_string(),
                message_id: it.message_id,
                error: it.error,
                lease_id: it.lease_id,
            };
            async move {
                c.invoke("Nack", &req, |c, r| async move { c.svc().nack(r).await }).await?;
                Ok(())
            }
        })
        .await
    }
}
