//! Fair scheduling: acme floods the queue, globex and initech send a few messages each, and
//! one consumer still sees the three tenants take turns.
use fila::{Client, ConsumerSettings, Error, OutgoingMessage, QueueConfig};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let addr = std::env::var("FILA_ADDR").unwrap_or_else(|_| "127.0.0.1:5555".into());
    let client = Client::connect(addr).await?;
    let hook = "function on_enqueue(msg) return { fairness_key = msg.headers.tenant } end";
    match client.create_queue("fair-demo", QueueConfig::new().on_enqueue(hook)).await {
        Ok(()) | Err(Error::AlreadyExists { .. }) => {}
        Err(e) => return Err(e),
    }

    // acme sends 8 messages first, then globex and initech 3 each
    let tenants = "acme ".repeat(8) + "globex globex globex initech initech initech";
    let msgs: Vec<_> = tenants
        .split(' ')
        .map(|t| OutgoingMessage::new("fair-demo", "").header("tenant", t))
        .collect();
    let total = msgs.len();
    for result in client.enqueue_batch(msgs).await? {
        result?; // each message has its own result
    }

    // one consumer takes all 14, acking each
    let mut consumer = client.lease("fair-demo", ConsumerSettings::default());
    let mut order = Vec::new();
    while let Some(msg) = consumer.next().await {
        let msg = msg?;
        order.push(msg.fairness_key().to_string());
        msg.ack();
        if order.len() == total {
            break;
        }
    }
    consumer.close().await?;
    client.close().await?;
    println!("{}", order.join(" "));
    Ok(())
}
