// The admin calls against a real broker: queues, runtime config, throttles, stats, DLQ, peek.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { AlreadyExistsError, InvalidArgumentError, LeasedMessage, NotFoundError, dlqName } from "@fila/client";

import { clientFixture } from "./helpers/fixtures.js";
import { eventually, queueName } from "./helpers/poll.js";

const TENANT_HOOK = `
function on_enqueue(msg)
  return { fairness_key = msg.headers.tenant or "anonymous", throttle_keys = { "provider:smtp" } }
end`;

describe("admin", () => {
  const ready = clientFixture();

  test("create, get, update, list and delete queues", async () => {
    const { fila } = await ready();
    const q = queueName("admin");
    await fila.createQueue(q, { onEnqueue: TENANT_HOOK, visibilityTimeoutMs: 5_000 });
    await assert.rejects(fila.createQueue(q), AlreadyExistsError);
    await assert.rejects(fila.createQueue(queueName(), { onEnqueue: "this is not lua" }), InvalidArgumentError);

    const got = await fila.getQueue(q);
    assert.equal(got.name, q);
    assert.equal(got.dlqOf, "");
    assert.equal(got.config.visibilityTimeoutMs, 5_000);
    assert.equal(got.config.maxAttempts, 10, "defaults are filled in");
    assert.match(got.config.onEnqueue, /fairness_key/);
    assert.equal((await fila.getQueue(dlqName(q))).dlqOf, q);

    await fila.updateQueue(q, { ...got.config, maxAttempts: 3 });
    assert.equal((await fila.getQueue(q)).config.maxAttempts, 3);

    await fila.enqueue(q, "x", { tenant: "acme" });
    const row = (await fila.listQueues()).find((i) => i.name === q);
    assert.deepEqual(row, { name: q, depth: 1, inFlight: 0, activeConsumers: 0 });

    await fila.deleteQueue(q);
    assert.equal((await fila.listQueues()).find((i) => i.name === q), undefined);
    await assert.rejects(fila.getQueue(q), NotFoundError);
  });

  test("runtime config and throttles", async () => {
    const { fila } = await ready();
    await fila.setConfig("weight.acme", "3");
    assert.equal(await fila.getConfig("weight.acme"), "3");
    await fila.setThrottle("provider:smtp", 100, 20);
    await fila.setThrottle("provider:slow", 0.5);
    assert.deepEqual(await fila.listConfig("throttle."), {
      "throttle.provider:slow": "0.5,1",
      "throttle.provider:smtp": "100,20",
    });
    await fila.removeThrottle("provider:slow");
    assert.deepEqual(Object.keys(await fila.listConfig("throttle.")), ["throttle.provider:smtp"]);
    await fila.setConfig("weight.acme", "");
    await assert.rejects(fila.getConfig("weight.acme"), NotFoundError);
  });

  test("stats, explain and peek", async () => {
    const { fila } = await ready();
    const q = queueName("stats");
    await fila.createQueue(q, { onEnqueue: TENANT_HOOK });
    await fila.setThrottle("provider:smtp", 1000, 1000);
    for (const tenant of ["acme", "acme", "globex"]) await fila.enqueue(q, tenant, { tenant });
    const s = await fila.getStats(q);
    assert.equal(s.depth, 3);
    assert.equal(s.activeFairnessKeys, 2);
    assert.deepEqual(s.keys.map((k) => [k.key, k.pendingCount]).sort(), [["acme", 2], ["globex", 1]]);
    assert.ok(s.throttles.some((t) => t.key === "provider:smtp" && t.ratePerSecond === 1000));
    assert.ok(s.hooks.some((h) => h.hook === "on_enqueue" && h.configured && h.calls === 3));
    assert.equal(s.totals.enqueued, 3);

    const why = await fila.explain(q, "acme");
    assert.equal(why.pending, 2);
    assert.ok(why.summary.length > 0);

    const peeked = await fila.peek(q, 2);
    assert.deepEqual(peeked.map((m) => [m.fairnessKey, m.throttleKeys]),
                     [["acme", ["provider:smtp"]], ["acme", ["provider:smtp"]]]);
  });

  test("a failed message goes to the DLQ and redrive brings it back", async () => {
    const { fila } = await ready();
    const q = queueName("dlq");
    await fila.createQueue(q, { maxAttempts: 1 });
    const id = await fila.enqueue(q, "poison");
    const stream = fila.lease(q, { credit: 1 });
    const msg = (await stream.next()).value as LeasedMessage;
    await msg.nack("cannot parse");
    const dead = await eventually(async () => (await fila.peek(dlqName(q)))[0], "the dead letter");
    assert.equal(dead.id, id);
    assert.equal(dead.lastError, "cannot parse");
    assert.equal((await fila.getStats(q)).dlqDepth, 1);

    assert.equal(await fila.redrive(dlqName(q)), 1);
    const back = (await stream.next()).value as LeasedMessage;
    assert.equal(back.id, id);
    await back.ack();
    await stream.close();
    assert.equal((await fila.getStats(q)).totals.redriven, 1);
  });
});
