// Broker answers mapped to FilaError subclasses: not found, invalid argument, overload with its
// retry-after, unauthenticated and permission denied (API keys on), aborted calls.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import {
  Client,
  FilaError,
  InvalidArgumentError,
  MessageNotFoundError,
  NotFoundError,
  OverloadedError,
  PermissionDeniedError,
  QueueNotFoundError,
  RETRY_AFTER_KEY,
  UnauthenticatedError,
} from "@fila/client";

import { brokerFixture, clientFixture } from "./helpers/fixtures.js";
import { queueName } from "./helpers/poll.js";

async function leaseError(fila: Client, queue: string): Promise<unknown> {
  try {
    for await (const m of fila.lease(queue, { credit: 1 })) await m.ack();
  } catch (e) {
    return e;
  }
  return undefined;
}

describe("errors from a plain broker", () => {
  const ready = clientFixture();

  test("queue not found, on every path", async () => {
    const { fila } = await ready();
    const err = await fila.enqueue("nope", "x").catch((e: unknown) => e);
    assert.ok(err instanceof QueueNotFoundError, String(err));
    assert.ok(err instanceof NotFoundError && err instanceof FilaError && err instanceof Error);
    assert.equal(err.name, "QueueNotFoundError");
    assert.equal(err.codeName, "NOT_FOUND");
    assert.match(err.message, /queue 'nope' does not exist/);
    assert.ok(await leaseError(fila, "nope") instanceof QueueNotFoundError);
    await assert.rejects(fila.getStats("nope"), QueueNotFoundError);
    await assert.rejects(fila.producer().enqueue("nope", "x"), QueueNotFoundError);
  });

  test("message not found and invalid argument", async () => {
    const { fila } = await ready();
    const q = queueName();
    await fila.createQueue(q);
    await assert.rejects(fila.nack(q, "00000000-0000-0000-0000-000000000000", "x"), MessageNotFoundError);
    await assert.rejects(fila.ack(q, ""), InvalidArgumentError);
    await assert.rejects(fila.enqueue(q, Buffer.alloc(2 * 1024 * 1024)), (e: unknown) =>
      e instanceof InvalidArgumentError && /payload/.test(e.message));
    await assert.rejects(fila.createQueue(queueName(), { onEnqueue: "function on_enqueue(" }), InvalidArgumentError);
    assert.throws(() => fila.lease(q, { credit: 0 }), RangeError);
  });

  test("an AbortSignal rejects the call with its reason", async () => {
    const { fila } = await ready();
    await assert.rejects(fila.listQueues({ signal: AbortSignal.abort() }), { name: "AbortError" });
    const reason = new Error("changed my mind");
    const ac = new AbortController();
    const call = fila.listQueues({ signal: ac.signal });
    ac.abort(reason);
    await assert.rejects(call, (e) => e === reason || e instanceof FilaError);
  });
});

describe("overload", () => {
  // A broker that holds at most 20 kB of pending messages.
  const ready = brokerFixture({
    args: ["--config", "limits.toml"], files: { "limits.toml": "[limits]\nmax_pending_bytes = 20000\n" },
  });

  test("RESOURCE_EXHAUSTED is OverloadedError with the retry-after-ms trailer", async () => {
    const broker = await ready();
    const fila = new Client({ addr: broker.addr, timeoutMs: 10_000 });
    try {
      await fila.createQueue("q");
      let refused: unknown;
      for (let i = 0; i < 1000 && !refused; i++) {
        refused = await fila.enqueue("q", Buffer.alloc(1000)).then(() => undefined, (e: unknown) => e);
      }
      assert.ok(refused instanceof OverloadedError, String(refused));
      assert.equal(refused.codeName, "RESOURCE_EXHAUSTED");
      assert.equal(refused.retryAfterMs, 100);
      assert.deepEqual(refused.metadata.get(RETRY_AFTER_KEY), ["100"]);
      assert.match(refused.message, /max_pending_bytes/);
      // The batching producer reports it per message.
      const r = await fila.producer().enqueue("q", Buffer.alloc(1000)).catch((e: unknown) => e);
      assert.ok(r instanceof OverloadedError, String(r));
    } finally {
      await fila.close();
    }
  });
});

describe("API keys", () => {
  const BOOTSTRAP = `bootstrap-${process.pid}-${Date.now()}`;
  const ready = clientFixture({ env: { FILA_BOOTSTRAP_APIKEY: BOOTSTRAP } }, { apiKey: BOOTSTRAP });

  test("no key, or a wrong one, is UnauthenticatedError", async () => {
    const { broker, fila: admin } = await ready();
    await admin.createQueue("auth-q");
    for (const apiKey of [undefined, "not-a-key"]) {
      const fila = new Client({ addr: broker.addr, apiKey });
      try {
        await assert.rejects(fila.enqueue("auth-q", "x"), UnauthenticatedError);
        await assert.rejects(fila.listQueues(), UnauthenticatedError);
        assert.ok(await leaseError(fila, "auth-q") instanceof UnauthenticatedError);
      } finally {
        await fila.close();
      }
    }
  });

  test("a key's ACL is enforced: PermissionDeniedError outside it", async () => {
    const { broker, fila: admin } = await ready();
    await admin.createQueue("orders.eu");
    await admin.createQueue("billing");
    const { keyId, key } = await admin.createApiKey("order-producer");
    await admin.setAcl(keyId, [{ kind: "produce", pattern: "orders.*" }]);
    assert.deepEqual(await admin.getAcl(keyId), {
      permissions: [{ kind: "produce", pattern: "orders.*" }], isSuperadmin: false,
    });
    assert.ok((await admin.listApiKeys()).some((k) => k.keyId === keyId && k.name === "order-producer"));

    const fila = new Client({ addr: broker.addr, apiKey: key });
    try {
      assert.ok(await fila.enqueue("orders.eu", "ok"));
      await assert.rejects(fila.enqueue("billing", "no"), PermissionDeniedError);
      await assert.rejects(fila.createQueue("orders.new"), PermissionDeniedError);
      assert.ok(await leaseError(fila, "orders.eu") instanceof PermissionDeniedError);
      const [outcome] = await fila.enqueueBatch([{ queue: "billing", payload: "no" }]);
      assert.ok(outcome && !outcome.ok && outcome.error instanceof PermissionDeniedError);
    } finally {
      await fila.close();
    }
    await admin.revokeApiKey(keyId);
    const revoked = new Client({ addr: broker.addr, apiKey: key });
    await assert.rejects(revoked.enqueue("orders.eu", "x"), UnauthenticatedError);
    await revoked.close();
  });
});
