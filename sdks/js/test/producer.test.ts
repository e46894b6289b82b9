// The batching Producer against a real broker: concurrent callers share EnqueueBatch RPCs
// and each gets its own answer.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { InterceptingCall, type Interceptor } from "@grpc/grpc-js";

import { Client, FilaError, InvalidArgumentError, LeasedMessage, QueueNotFoundError } from "@fila/client";

import { brokerFixture } from "./helpers/fixtures.js";
import { queueName } from "./helpers/poll.js";

/** Counts the RPCs this client sends, and the size of each EnqueueBatch. */
function rpcCounter(): { interceptor: Interceptor; calls: Map<string, number>; batchSizes: number[] } {
  const calls = new Map<string, number>();
  const batchSizes: number[] = [];
  const interceptor: Interceptor = (options, nextCall) => {
    const method = options.method_definition.path.split("/").pop()!;
    calls.set(method, (calls.get(method) ?? 0) + 1);
    return new InterceptingCall(nextCall(options), {
      sendMessage(message: { messages?: unknown[] }, next) {
        if (method === "EnqueueBatch") batchSizes.push(message.messages?.length ?? 0);
        next(message);
      },
    });
  };
  return { interceptor, calls, batchSizes };
}

async function drain(fila: Client, q: string, n: number): Promise<Map<string, string>> {
  const got = new Map<string, string>();
  const stream = fila.lease(q, { credit: 100 });
  for await (const m of stream as AsyncIterable<LeasedMessage>) {
    got.set(m.id, m.payload.toString());
    await m.ack();
    if (got.size === n) break;
  }
  return got;
}

describe("producer", () => {
  const ready = brokerFixture();

  test("64 concurrent callers: each gets its own id, in fewer RPCs than messages", async () => {
    const broker = await ready();
    const counter = rpcCounter();
    const fila = new Client({ addr: broker.addr, interceptors: [counter.interceptor] });
    try {
      const q = queueName("p64");
      await fila.createQueue(q);
      const producer = fila.producer({ lingerMs: 5 });
      const payloads = Array.from({ length: 64 }, (_, i) => `caller-${i}`);
      const ids = await Promise.all(payloads.map((p) => producer.enqueue(q, p, { caller: p })));
      assert.equal(new Set(ids).size, 64);
      const rpcs = counter.calls.get("EnqueueBatch") ?? 0;
      assert.ok(rpcs >= 1 && rpcs < 64, `${rpcs} EnqueueBatch RPCs for 64 messages`);
      assert.equal(counter.calls.get("Enqueue"), undefined);
      assert.deepEqual(producer.stats, { batches: rpcs, messages: 64 });

      // Each caller's id names the message that caller sent.
      const stored = await drain(fila, q, 64);
      ids.forEach((id, i) => assert.equal(stored.get(id), payloads[i]));
      await producer.close();
    } finally {
      await fila.close();
    }
  });

  test("an idle producer sends at once; while a batch is in flight, messages gather", async () => {
    const broker = await ready();
    const counter = rpcCounter();
    const fila = new Client({ addr: broker.addr, interceptors: [counter.interceptor] });
    try {
      const q = queueName("idle");
      await fila.createQueue(q);
      // A linger of a minute: only "nothing in flight" or "a batch returned" can send early.
      const producer = fila.producer({ lingerMs: 60_000, maxMessages: 100, maxInFlight: 1 });
      const t0 = Date.now();
      await producer.enqueue(q, "alone");
      assert.ok(Date.now() - t0 < 10_000, `a lone message took ${Date.now() - t0} ms`);
      assert.deepEqual(counter.batchSizes, [1]);

      const first = producer.enqueue(q, "first");
      await new Promise((r) => setImmediate(r)); // "first" is on the wire now
      const rest = Array.from({ length: 50 }, (_, i) => producer.enqueue(q, `gathered-${i}`));
      await Promise.all([first, ...rest]);
      assert.deepEqual(counter.batchSizes, [1, 1, 50], "the 50 waited for the batch in flight, together");

      const many = await Promise.all(Array.from({ length: 250 }, (_, i) => producer.enqueue(q, `m${i}`)));
      assert.equal(new Set(many).size, 250);
      const sizes = counter.batchSizes.slice(3);
      assert.deepEqual(sizes, [100, 100, 50], "at most maxMessages per RPC");
      await producer.close();
    } finally {
      await fila.close();
    }
  });

  test("maxBytes splits batches", async () => {
    const broker = await ready();
    const counter = rpcCounter();
    const fila = new Client({ addr: broker.addr, interceptors: [counter.interceptor] });
    try {
      const q = queueName("bytes");
      await fila.createQueue(q);
      const producer = fila.producer({ maxBytes: 10_000 });
      const big = Buffer.alloc(3_000, 1);
      await Promise.all(Array.from({ length: 10 }, () => producer.enqueue(q, big)));
      assert.ok(counter.batchSizes.every((n) => n <= 3), `batch sizes ${counter.batchSizes}`);
      await producer.close();
    } finally {
      await fila.close();
    }
  });

  test("a refused message fails only its own caller", async () => {
    const broker = await ready();
    const fila = new Client({ addr: broker.addr });
    try {
      const q = queueName("mixed");
      await fila.createQueue(q);
      const producer = fila.producer();
      const results = await Promise.allSettled([
        producer.enqueue(q, "ok-1"),
        producer.enqueue("no-such-queue", "lost"),
        producer.enqueue(q, Buffer.alloc(2 * 1024 * 1024)), // over the broker's max_payload_bytes
        producer.enqueue(q, "ok-2"),
      ]);
      assert.deepEqual(results.map((r) => r.status), ["fulfilled", "rejected", "rejected", "fulfilled"]);
      const [, missing, tooBig] = results as PromiseRejectedResult[];
      assert.ok(missing!.reason instanceof QueueNotFoundError, String(missing!.reason));
      assert.ok(tooBig!.reason instanceof InvalidArgumentError, String(tooBig!.reason));
      assert.equal((await fila.getStats(q)).depth, 2);

      await producer.close();
      await assert.rejects(producer.enqueue(q, "late"), FilaError);
    } finally {
      await fila.close();
    }
  });
});
