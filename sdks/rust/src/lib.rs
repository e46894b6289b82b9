//! The Rust client of [Fila](https://github.com/fila-project/fila), the message broker with
//! fair scheduling across tenants and per-key throttling.
//!
//! It speaks the `fila.v1` gRPC contract (stubs generated at build time from the
//! repository's `proto/`, in [`proto`]) and adds what a client should not have to write
//! itself, after Google Cloud Pub/Sub's client libraries: a [`Producer`] that batches for
//! many tasks and tells each its own outcome, a [`Consumer`] that is a [`Stream`] of leased
//! messages under flow control (credit) with automatic lease extension, a handler form
//! ([`Client::receive`]), batched acks, retries, reconnects, cluster redirects, TLS, mTLS
//! and API keys, and one error enum ([`Error`]).
//!
//! ```no_run
//! use fila::{Client, ConsumerSettings, OutgoingMessage};
//!
//! # async fn demo() -> fila::Result<()> {
//! let client = Client::builder("127.0.0.1:5555").api_key("...").connect().await?;
//! client.enqueue(OutgoingMessage::new("emails", "hello").header("tenant", "acme")).await?;
//! let mut consumer = client.lease("emails", ConsumerSettings { credit: 1, ..Default::default() });
//! if let Some(msg) = consumer.next().await {
//!     let msg = msg?;
//!     println!("{} {:?}", msg.fairness_key(), msg.payload());
//!     msg.ack();
//! }
//! consumer.close().await?;
//! client.close().await
//! # }
//! ```
//!
//! [`Stream`]: futures_core::Stream

mod admin;
mod batcher;
mod client;
mod consumer;
mod error;
mod hotpath;
mod legacy;
mod message;
mod producer;
mod receive;
mod retry;
mod session;
mod types;

/// The generated `fila.v1` messages and gRPC clients (prost and tonic): an escape hatch
/// through [`Client::service`] and [`Client::admin`].
pub mod proto {
    tonic::include_proto!("fila.v1");
}

pub use bytes::Bytes;
pub use client::{Client, ClientBuilder, TlsConfig};
pub use consumer::{Consumer, ConsumerSettings, ConsumerStats, MAX_CREDIT};
pub use error::{Error, LEADER_ADDR_KEY, Result};
pub use hotpath::LeaseRef;
pub use message::{AckResult, Message, OutgoingMessage};
pub use producer::{Producer, ProducerSettings, ProducerStats, PublishResult};
pub use retry::RetryPolicy;
pub use tonic::Code;
pub use types::{
    Acl, ApiKey, ApiKeyOptions, DLQ_SUFFIX, Explanation, HookStats, KeyStats, NewApiKey,
    Permission, Queue, QueueConfig, QueueInfo, QueueStats, ThrottleStats, Totals, dlq_name,
};
