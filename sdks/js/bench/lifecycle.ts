// The batched lifecycle through the SDK: a Producer enqueues N messages of SIZE bytes while one
// lease stream takes them and acks each (acks batched into AckBatch RPCs). Prints acked msg/s.
//
//   npm run bench                              # N=200000, against a broker it starts itself
//   BENCH_N=20000 FILA_ADDR=host:port node build/bench/lifecycle.js
//
// Environment: BENCH_N (messages, default 200000), BENCH_SIZE (payload bytes, 100),
// BENCH_CREDIT (lease credit, 2000), BENCH_WINDOW (enqueues in flight at once, 10000),
// FILA_ADDR (use this broker instead of starting one; the queue is created and deleted).
import { Client } from "@fila/client";

import { Broker } from "../test/helpers/broker.js";

const N = Number(process.env.BENCH_N ?? 200_000);
const SIZE = Number(process.env.BENCH_SIZE ?? 100);
const CREDIT = Number(process.env.BENCH_CREDIT ?? 2_000);
const WINDOW = Number(process.env.BENCH_WINDOW ?? 10_000);

const broker = process.env.FILA_ADDR ? undefined : await Broker.start();
const addr = process.env.FILA_ADDR ?? broker!.addr;
const fila = new Client({ addr, timeoutMs: 60_000 });
const queue = `bench-${process.pid}`;

try {
  await fila.createQueue(queue);
  const payload = Buffer.alloc(SIZE, 0x61);
  const producer = fila.producer();
  const t0 = performance.now();

  let acked = 0;
  let ackErrors = 0;
  let allAcked!: () => void;
  const done = new Promise<void>((r) => (allAcked = r));
  const stream = fila.lease(queue, { credit: CREDIT });
  const consumer = (async () => {
    for await (const msg of stream) {
      msg.ack().then(() => {
        if (++acked === N) allAcked();
      }, () => {
        ackErrors++;
      });
    }
  })();

  // Keep WINDOW enqueues in flight: the producer batches them into EnqueueBatch RPCs.
  let sent = 0;
  let produced = 0;
  let tProduced = 0;
  await new Promise<void>((resolve, reject) => {
    const more = (): void => {
      while (sent < N && sent - produced < WINDOW) {
        sent++;
        producer.enqueue(queue, payload).then(() => {
          if (++produced === N) {
            tProduced = performance.now();
            resolve();
          } else {
            more();
          }
        }, reject);
      }
    };
    more();
  });
  await done;
  const tAcked = performance.now();
  await stream.close();
  await consumer;

  const s = (ms: number): string => (ms / 1000).toFixed(2);
  const rate = (n: number, ms: number): string => Math.round(n / (ms / 1000)).toLocaleString("en-US");
  const { batches } = producer.stats;
  console.log(`produced ${N} x ${SIZE} B in ${s(tProduced - t0)} s (${rate(N, tProduced - t0)} msg/s, ` +
              `${batches} EnqueueBatch RPCs, ${Math.round(N / batches)} per RPC)`);
  console.log(`acked    ${acked} in ${s(tAcked - t0)} s: ${rate(acked, tAcked - t0)} msg/s` +
              (ackErrors ? ` (${ackErrors} ack errors)` : ""));
  await producer.close();
  await fila.deleteQueue(queue);
} finally {
  await fila.close();
  await broker?.stop();
}
