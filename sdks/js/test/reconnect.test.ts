// The broker is killed and started again (same data dir, same port) under a running consumer
// and producer: the lease iterator re-opens its stream by itself, calls retry until the
// broker is back, and every message is eventually acked.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { FilaError } from "@fila/client";

import { clientFixture } from "./helpers/fixtures.js";
import { eventually } from "./helpers/poll.js";

describe("reconnect", () => {
  const ready = clientFixture({}, { timeoutMs: 30_000 });

  test("a consumer keeps consuming across a broker restart", async () => {
    const { broker, fila } = await ready();
    const q = "restart-q";
    await fila.createQueue(q);
    const producer = fila.producer();
    const before = await Promise.all(Array.from({ length: 200 }, (_, i) => producer.enqueue(q, `b${i}`)));

    const acked = new Set<string>();
    let ackFailures = 0;
    let maxHeld = 0; // messages of the old stream count against the new one's credit
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    let pause!: () => void;
    const paused = new Promise<void>((r) => (pause = r));
    const stream = fila.lease(q, { credit: 10 });
    const expected = new Set(before);
    const consumer = (async () => {
      for await (const msg of stream) {
        maxHeld = Math.max(maxHeld, stream.unacked);
        if (acked.size === 50) {
          pause();
          await gate; // hold this and the other buffered messages while the broker restarts
        }
        try {
          await msg.ack();
          acked.add(msg.id);
        } catch (e) {
          assert.ok(e instanceof FilaError, String(e)); // its lease died with the old broker
          ackFailures++;
        }
        if ([...expected].every((id) => acked.has(id))) break;
      }
    })();

    await paused;
    await broker.restart();
    const during = await producer.enqueue(q, "after the restart"); // the producer reconnects too
    expected.add(during);
    open();
    await eventually(() => [...expected].every((id) => acked.has(id)), "every message acked", 60_000);
    await consumer;
    assert.ok(ackFailures >= 1, "some acks were for leases of the old broker");
    assert.ok(maxHeld <= 10, `held ${maxHeld} messages with a credit of 10`);
    const stats = await fila.getStats(q);
    assert.equal(stats.depth, 0);
    assert.equal(stats.inFlight, 0);
    await producer.close();
  });

  test("a call made while the broker is down succeeds once it is back", async () => {
    const { broker, fila } = await ready();
    await fila.createQueue("outage-q");
    await broker.kill();
    const pending = fila.enqueue("outage-q", "patient"); // retries while nothing listens
    await broker.restart();
    const id = await pending;
    assert.deepEqual((await fila.peek("outage-q")).map((m) => m.id), [id]);
  });
});
