//! The batched lifecycle through the Rust SDK, shaped like sdks/go/bench and
//! sdks/python/bench/lifecycle.py: it produces N messages with the batching `Producer` while
//! one consumer leases them and acks each (acks batched by the client), and prints the acked
//! messages per second.
//!
//! ```sh
//! cargo run --release --example bench                      # starts its own broker, N=200,000
//! cargo run --release --example bench -- -addr 127.0.0.1:5555 -n 50000 -size 100
//! ```
//!
//! Flags (as the Go bench's): -addr (default $FILA_ADDR, else a broker of this checkout),
//! -n 200000, -size 100, -credit 1000, -batch 1000 (producer max messages per
//! EnqueueBatch), -linger 5ms.

#[path = "../tests/it/broker.rs"]
mod broker;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use fila::{Bytes, Client, ConsumerSettings, OutgoingMessage, ProducerSettings, QueueConfig};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

struct Flags {
    addr: String,
    n: usize,
    size: usize,
    credit: u32,
    batch: usize,
    linger: Duration,
}

fn parse_duration(s: &str) -> Result<Duration, BoxError> {
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let v: f64 = num.parse().map_err(|_| format!("bad duration {s:?}"))?;
    let secs = match unit {
        "" | "s" => v,
        "ms" => v / 1e3,
        "us" | "µs" => v / 1e6,
        "ns" => v / 1e9,
        _ => return Err(format!("bad duration {s:?} (use 5ms, 1s, ...)").into()),
    };
    Ok(Duration::from_secs_f64(secs))
}

fn flags() -> Result<Flags, BoxError> {
    let mut f = Flags {
        addr: std::env::var("FILA_ADDR").unwrap_or_default(),
        n: 200_000,
        size: 100,
        credit: 1000,
        batch: 1000,
        linger: Duration::from_millis(5),
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let name = arg.trim_start_matches('-');
        let (name, inline) = match name.split_once('=') {
            Some((n, v)) => (n.to_string(), Some(v.to_string())),
            None => (name.to_string(), None),
        };
        if name == "h" || name == "help" {
            println!("flags: -addr HOST:PORT -n N -size BYTES -credit N -batch N -linger 5ms");
            std::process::exit(0);
        }
        let value = match inline {
            Some(v) => v,
            None => args.next().ok_or_else(|| format!("flag -{name} needs a value"))?,
        };
        match name.as_str() {
            "addr" => f.addr = value,
            "n" => f.n = value.parse()?,
            "size" => f.size = value.parse()?,
            "credit" => f.credit = value.parse()?,
            "batch" => f.batch = value.parse()?,
            "linger" => f.linger = parse_duration(&value)?,
            other => return Err(format!("unknown flag -{other}").into()),
        }
    }
    Ok(f)
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let mut f = flags()?;
    let _broker = if f.addr.is_empty() {
        let b = broker::Broker::start(broker::Options::default())
            .map_err(|e| format!("starting a broker: {e}"))?;
        f.addr = b.addr.clone();
        println!("started fila serve on {}", b.addr);
        Some(b)
    } else {
        None
    };
    run(&f).await
}

async fn run(f: &Flags) -> Result<(), BoxError> {
    let client = Client::builder(&f.addr).timeout(Duration::from_secs(60)).connect().await?;
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_nanos();
    let queue = format!("bench-{nanos}");
    client.create_queue(&queue, QueueConfig::new()).await?;

    let settings =
        ConsumerSettings { credit: f.credit, max_batch: f.credit.min(1000), ..Default::default() };
    let mut consumer = client.lease(&queue, settings);
    let n = f.n;
    let start = Instant::now();
    let consuming = tokio::spawn(async move {
        let mut seen = HashSet::with_capacity(n);
        while seen.len() < n {
            let Some(msg) = consumer.next().await else { break };
            let msg = msg?;
            msg.ack();
            seen.insert(msg.id().to_string());
        }
        consumer.close().await?; // waits until every ack is answered
        Ok::<_, fila::Error>((seen.len(), start.elapsed()))
    });

    let settings =
        ProducerSettings { max_messages: f.batch, linger: f.linger, ..Default::default() };
    let producer = client.producer(settings);
    let payload = Bytes::from(vec![b'x'; f.size]);
    let results: Vec<_> = (0..n)
        .map(|_| {
            producer.send(OutgoingMessage {
                queue: queue.clone(),
                payload: payload.clone(),
                ..Default::default()
            })
        })
        .collect();
    for (i, r) in results.into_iter().enumerate() {
        r.await.map_err(|e| format!("message {i}: {e}"))?;
    }
    let produced = start.elapsed();
    producer.close().await?;
    let (seen, took) = tokio::time::timeout(Duration::from_secs(600), consuming)
        .await
        .map_err(|_| "the consumer stalled")???;
    if seen < n {
        return Err(format!("the consumer stopped after {seen} of {n} messages").into());
    }
    let st = producer.stats();
    let rate = |secs: f64| n as f64 / secs;
    println!(
        "produced {n} x {} B in {:.2}s ({:.0} msg/s, {} EnqueueBatch RPCs)",
        f.size,
        produced.as_secs_f64(),
        rate(produced.as_secs_f64()),
        st.batches
    );
    println!(
        "acked    {n} in {:.2}s: {:.0} acked msg/s",
        took.as_secs_f64(),
        rate(took.as_secs_f64())
    );
    client.delete_queue(&queue).await?;
    client.close().await?;
    Ok(())
}
