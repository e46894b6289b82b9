// The hot path through the SDK against a real broker: enqueue, lease, ack, nack, credit,
// lease ids, lease extension, batch enqueue and the handler form.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import {
  FailedPreconditionError,
  FilaError,
  LeasedMessage,
  MessageNotFoundError,
  NotFoundError,
  QueueNotFoundError,
} from "@fila/client";

import { clientFixture } from "./helpers/fixtures.js";
import { eventually, queueName } from "./helpers/poll.js";

describe("lifecycle", () => {
  const ready = clientFixture();

  test("enqueue, lease, ack", async () => {
    const { fila } = await ready();
    const q = queueName();
    await fila.createQueue(q);
    const payload = Buffer.from([0, 1, 2, 255]);
    const id = await fila.enqueue(q, payload, { tenant: "acme" });
    assert.match(id, /^[0-9a-f-]{36}$/);

    const stream = fila.lease(q, { credit: 5 });
    const { value: msg } = await stream.next();
    assert.ok(msg instanceof LeasedMessage);
    assert.equal(msg.id, id);
    assert.equal(msg.queue, q);
    assert.deepEqual({ ...msg.headers }, { tenant: "acme" });
    assert.ok(Buffer.isBuffer(msg.payload));
    assert.deepEqual([...msg.payload], [0, 1, 2, 255]);
    assert.equal(msg.fairnessKey, "default");
    assert.equal(msg.weight, 1);
    assert.deepEqual(msg.throttleKeys, []);
    assert.equal(msg.attemptCount, 0);
    assert.equal(msg.lastError, "");
    assert.ok(msg.leaseId);
    assert.ok(msg.enqueuedAt instanceof Date && msg.leasedAt instanceof Date);
    assert.ok(msg.leasedAt.getTime() >= msg.enqueuedAt.getTime());
    assert.equal(stream.unacked, 1);

    await msg.ack();
    assert.equal(stream.unacked, 0);
    assert.equal(msg.ack(), msg.ack(), "a second ack returns the first one's promise");
    await stream.close();
    const stats = await eventually(async () => {
      const s = await fila.getStats(q);
      return s.totals.acked === 1 && s.depth === 0 && s.inFlight === 0 && s;
    }, "the ack to land");
    assert.equal(stats.totals.enqueued, 1);
  });

  test("a nacked message is delivered again with attempt count 1 and the error", async () => {
    const { fila } = await ready();
    const q = queueName();
    await fila.createQueue(q, { retryBackoffBaseMs: 1 });
    const id = await fila.enqueue(q, "work");
    const stream = fila.lease(q, { credit: 1 });
    const first = (await stream.next()).value as LeasedMessage;
    assert.equal(first.attemptCount, 0);
    await first.nack(new Error("boom: the handler failed"));
    const again = (await stream.next()).value as LeasedMessage;
    assert.equal(again.id, id);
    assert.equal(again.attemptCount, 1);
    assert.equal(again.lastError, "boom: the handler failed");
    assert.notEqual(again.leaseId, first.leaseId);
    await again.ack();
    await stream.close();
  });

  test("a stream never holds more unacked messages than its credit", async () => {
    const { fila } = await ready();
    const q = queueName();
    await fila.createQueue(q);
    const credit = 3;
    await fila.enqueueBatch(Array.from({ length: 10 }, (_, i) => ({ queue: q, payload: `m${i}` })));
    const stream = fila.lease(q, { credit });
    const firstThree = [];
    for (let i = 0; i < credit; i++) firstThree.push((await stream.next()).value as LeasedMessage);
    const got: { fourth?: LeasedMessage } = {};
    const pending = stream.next().then((r) => (got.fourth = r.value as LeasedMessage));

    // The broker has leased exactly the credit and keeps the rest: check it a few times.
    for (let i = 0; i < 5; i++) {
      const s = await eventually(async () => {
        const st = await fila.getStats(q);
        return st.totals.leased >= credit && st;
      }, "the credit to fill");
      assert.equal(s.inFlight, credit);
      assert.equal(s.ready, 10 - credit);
      assert.equal(s.totals.leased, credit);
    }
    assert.equal(got.fourth, undefined);
    assert.equal(stream.unacked, credit);

    await firstThree[0]!.ack(); // frees one slot: exactly one more arrives
    const fourth = await pending;
    let maxHeld = stream.unacked;
    let acked = 2; // the first one, and `fourth` below
    await fourth.ack();
    for (const m of firstThree.slice(1)) {
      await m.ack();
      acked++;
    }
    while (acked < 10) {
      const m = (await stream.next()).value as LeasedMessage;
      maxHeld = Math.max(maxHeld, stream.unacked);
      await m.ack();
      acked++;
    }
    assert.ok(maxHeld <= credit, `held ${maxHeld} > credit ${credit}`);
    await stream.close();
    await eventually(async () => (await fila.getStats(q)).totals.acked === 10, "all acks");
  });

  test("acking an unknown id is MessageNotFoundError; a stale lease id is refused", async () => {
    const { fila } = await ready();
    const q = queueName();
    await fila.createQueue(q, { visibilityTimeoutMs: 300 });
    const err = await fila.ack(q, "no-such-message").catch((e: unknown) => e);
    assert.ok(err instanceof MessageNotFoundError, String(err));
    assert.ok(err instanceof NotFoundError && err instanceof FilaError);
    assert.equal(err.codeName, "NOT_FOUND");
    assert.match(err.message, /not leased/);
    await assert.rejects(fila.ack("no-such-queue", "x"), QueueNotFoundError);

    // Let the lease expire; the message comes back with a new lease id, and the old one is refused.
    await fila.enqueue(q, "slow");
    const stream = fila.lease(q, { credit: 2, autoExtend: false });
    const first = (await stream.next()).value as LeasedMessage;
    const second = (await stream.next()).value as LeasedMessage;
    assert.equal(second.id, first.id);
    assert.equal(second.attemptCount, 1);
    assert.equal(second.lastError, "visibility timeout expired");
    await assert.rejects(first.ack(), FailedPreconditionError);
    await second.ack();
    await stream.close();
  });

  test("held messages' leases are extended while the handler works", async () => {
    const { fila } = await ready();
    const q = queueName();
    const visibilityTimeoutMs = 400;
    await fila.createQueue(q, { visibilityTimeoutMs });
    await fila.enqueue(q, "long job");
    const stream = fila.lease(q, { credit: 1, autoExtend: { everyMs: 100 } });
    const msg = (await stream.next()).value as LeasedMessage;
    // Hold it for three visibility timeouts: it must never expire.
    while (Date.now() - msg.receivedAt < 3 * visibilityTimeoutMs) {
      const s = await fila.getStats(q);
      assert.equal(s.totals.expired, 0);
      assert.equal(s.inFlight, 1);
      await new Promise((r) => setTimeout(r, 50));
    }
    await msg.ack();
    // And by hand: extendLease answers per id.
    await fila.enqueue(q, "another");
    const m2 = (await stream.next()).value as LeasedMessage;
    const outcomes = await fila.extendLease(q, [m2.id, "unknown-id"], { extendMs: 5_000 });
    assert.equal(outcomes[0]!.ok, true);
    assert.equal(outcomes[1]!.ok, false);
    assert.ok(!outcomes[1]!.ok && outcomes[1]!.error instanceof MessageNotFoundError);
    await m2.extend(5_000);
    await m2.ack();
    await stream.close();
  });

  test("enqueueBatch answers per message", async () => {
    const { fila } = await ready();
    const q = queueName();
    await fila.createQueue(q);
    const out = await fila.enqueueBatch([
      { queue: q, payload: "a" },
      { queue: "missing-queue", payload: "b" },
      { queue: q, payload: new Uint8Array([99]), headers: { k: "v" } },
    ]);
    assert.equal(out.length, 3);
    assert.ok(out[0]!.ok && out[2]!.ok);
    assert.ok(!out[1]!.ok && out[1]!.error instanceof QueueNotFoundError);
    const peeked = await fila.peek(q);
    assert.deepEqual(peeked.map((m) => m.payload.toString()), ["a", "c"]);
    assert.deepEqual(peeked.map((m) => m.id), [out[0]!.ok && out[0]!.id, out[2]!.ok && out[2]!.id]);
  });

  test("subscribe: a handler that resolves acks, one that throws nacks with its error", async () => {
    const { fila } = await ready();
    const q = queueName();
    await fila.createQueue(q, { retryBackoffBaseMs: 1 });
    const ids = await Promise.all(["x", "y", "z"].map((p) => fila.enqueue(q, p)));
    const seen: Array<{ id: string; attempt: number; lastError: string }> = [];
    const sub = fila.subscribe(q, async (msg) => {
      seen.push({ id: msg.id, attempt: msg.attemptCount, lastError: msg.lastError });
      if (msg.payload.toString() === "y" && msg.attemptCount === 0) throw new Error("y is not ready");
    }, { credit: 2 });
    await eventually(async () => (await fila.getStats(q)).totals.acked === 3, "three acks");
    await sub.close();
    await sub.done;
    const retried = seen.filter((s) => s.id === ids[1]);
    assert.deepEqual(retried, [
      { id: ids[1], attempt: 0, lastError: "" },
      { id: ids[1], attempt: 1, lastError: "y is not ready" },
    ]);
    assert.equal(seen.length, 4);
  });

  test("a lease stream stops on close(), on break and on its AbortSignal", async () => {
    const { fila } = await ready();
    const q = queueName();
    await fila.createQueue(q);
    const ac = new AbortController();
    const stream = fila.lease(q, { signal: ac.signal });
    const waiting = stream.next();
    // Abort once the broker has the stream: a Lease stream cancelled in the same instant it
    // sends its first request stays registered at the broker (and holds leases) until the
    // broker's stall timeout closes it, 30 s later — a broker bug, not the SDK's.
    await eventually(async () => (await fila.getStats(q)).activeConsumers === 1, "the stream to open");
    ac.abort();
    assert.deepEqual(await waiting, { value: undefined, done: true });
    assert.ok(stream.closed);

    await fila.enqueue(q, "one");
    let n = 0;
    for await (const m of fila.lease(q)) {
      await m.ack();
      n++;
      break;
    }
    assert.equal(n, 1);
    await eventually(async () => (await fila.getStats(q)).activeConsumers === 0, "streams to close");
  });
});
