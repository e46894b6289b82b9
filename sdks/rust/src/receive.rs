//! The handler form of consuming, and the automatic lease extension of held messages.

use std::fmt::Display;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;

use crate::batcher::MAX_BATCH_ITEMS;
use crate::client::Client;
use crate::consumer::{ConsumerSettings, Shared};
use crate::error::Result;
use crate::message::Message;

impl Client {
    /// Leases messages from `queue` and calls `handler` for each, concurrently (at most
    /// `settings.credit` at once), until `shutdown` completes or the stream fails for good.
    /// When the handler returns `Ok(())` the message is acked; when it returns an error, the
    /// message is nacked with the error's text (the queue's retry policy or `on_failure`
    /// hook decides what next); a handler may also settle the message itself. While a
    /// handler runs, its message's lease is extended, so long work is not delivered twice.
    ///
    /// Returns `Ok(())` after `shutdown`, once the running handlers have returned and their
    /// acks are answered; otherwise the error that stopped the stream
    /// ([`Error::QueueNotFound`](crate::Error::QueueNotFound), ...), also after the running
    /// handlers have returned.
    ///
    /// ```no_run
    /// # async fn demo(client: fila::Client) -> fila::Result<()> {
    /// let (stop, stopped) = tokio::sync::oneshot::channel::<()>(); // stop.send(()) ends it
    /// client
    ///     .receive("emails", Default::default(), async { let _ = stopped.await; }, |msg| async move {
    ///         println!("sending {:?}", msg.payload());
    ///         Ok::<(), std::io::Error>(())
    ///     })
    ///     .await
    /// # }
    /// ```
    pub async fn receive<F, Fut, E>(
        &self,
        queue: &str,
        settings: ConsumerSettings,
        shutdown: impl Future<Output = ()>,
        handler: F,
    ) -> Result<()>
    where
        F: Fn(Message) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = std::result::Result<(), E>> + Send + 'static,
        E: Display,
    {
        let mut consumer = self.lease(queue, settings);
        let handler = Arc::new(handler);
        let mut running = JoinSet::new();
        tokio::pin!(shutdown);
        let outcome = loop {
            tokio::select! {
                _ = &mut shutdown => break Ok(()),
                next = consumer.next() => match next {
                    Some(Ok(msg)) => {
                        let handler = handler.clone();
                        running.spawn(async move {
                            let settle = msg.clone();
                            match handler(msg).await {
                                Ok(()) => settle.ack(),
                                Err(e) => settle.nack(&e.to_string()),
                            }
                        });
                    }
                    Some(Err(e)) => break Err(e),
                    None => break Ok(()),
                },
                Some(_) = running.join_next(), if !running.is_empty() => {} // reap
            }
        };
        // A handler that panicked dropped its message, which nacks it.
        while running.join_next().await.is_some() {}
        let closed = consumer.close().await;
        outcome.and(closed)
    }
}

/// Keeps the leases of the messages a consumer holds alive, every `extend_every`, until
/// `max_extension` after each was delivered.
pub(crate) async fn extend_leases(sh: Arc<Shared>) {
    let every = match sh.settings.extend_every {
        Some(d) => d,
        None => default_extend_every(&sh).await,
    }
    .max(Duration::from_millis(10));
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker.tick().await; // the first tick is now
    while !sh.client.is_closed() {
        ticker.tick().await;
        let due = sh.due_leases(every / 2);
        for chunk in due.chunks(MAX_BATCH_ITEMS) {
            // Failures are not fatal: a lease that ended is the broker's to deliver again.
            let _ = sh.client.extend_lease(&sh.queue, chunk, sh.settings.lease_extension).await;
        }
    }
}

/// A third of the queue's visibility timeout, if this client may read the queue's settings;
/// else 10s.
async fn default_extend_every(sh: &Shared) -> Duration {
    let client = sh.client.with_timeout(Duration::from_secs(5));
    match client.get_queue(&sh.queue).await {
        Ok(q) if !q.config.visibility_timeout.is_zero() => q.config.visibility_timeout / 3,
        _ => Duration::from_secs(10),
    }
}
