//! Fair scheduling across tenants, seen through the SDK.

use std::collections::HashMap;
use std::time::Duration;

use fila::{ConsumerSettings, QueueConfig};

use crate::{client, enqueue_n, new_queue, stats, take};

/// The quickstart's hook (docs/quickstart.md): schedule every message by its tenant, and
/// give each tenant its own throttle key.
const TENANT_HOOK: &str = r#"-- Schedule every message by its tenant, and give each tenant its own rate limit key.
function on_enqueue(msg)
  local tenant = msg.headers.tenant or "anonymous"
  return {
    fairness_key = tenant,
    throttle_keys = { "tenant:" .. tenant },
  }
end"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fair_scheduling_across_three_tenants() {
    let c = client("").await;
    let q = new_queue(&c, QueueConfig::new().on_enqueue(TENANT_HOOK)).await;
    // acme floods the queue first; globex and initech come after it.
    enqueue_n(&c, &q, 40, &[("tenant", "acme")]).await;
    enqueue_n(&c, &q, 10, &[("tenant", "globex")]).await;
    enqueue_n(&c, &q, 10, &[("tenant", "initech")]).await;
    let s = stats(&c, &q).await;
    assert_eq!((s.active_fairness_keys, s.keys.len()), (3, 3), "{:?}", s.keys);

    let mut cons = c.lease(&q, ConsumerSettings { credit: 60, ..Default::default() });
    let mut order = Vec::new();
    for m in take(&mut cons, 60, Duration::from_secs(10)).await {
        assert_eq!(m.throttle_keys(), [format!("tenant:{}", m.fairness_key())]);
        order.push(m.fairness_key().to_string());
        m.ack();
    }
    // A FIFO queue would deliver 40 acme messages first. DRR serves the tenants in turn:
    // every round of three has each tenant once, until only acme has messages left.
    for round in order[..30].chunks(3) {
        let mut got: HashMap<&str, usize> = HashMap::new();
        for k in round {
            *got.entry(k).or_default() += 1;
        }
        assert!(got.len() == 3 && got.values().all(|n| *n == 1), "round {round:?} of {order:?}");
    }
    assert!(order[30..].iter().all(|k| k == "acme"), "{order:?}");
    cons.close().await.unwrap();
}
