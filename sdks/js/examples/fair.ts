import { Client } from "@fila/client";

// Schedule every message by its tenant (the queue's on_enqueue hook).
const onEnqueue = `function on_enqueue(msg)
  return { fairness_key = msg.headers.tenant }
end`;

const fila = new Client({ addr: process.env.FILA_ADDR ?? "127.0.0.1:5555" });
await fila.createQueue("fair-demo", { onEnqueue });

// acme floods the queue first; globex and initech send a few jobs each.
const producer = fila.producer();
const jobs = { acme: 60, globex: 10, initech: 10 };
await Promise.all(Object.entries(jobs).flatMap(([tenant, n]) =>
  Array.from({ length: n }, (_, i) => producer.enqueue("fair-demo", `job ${i}`, { tenant }))));

// One consumer: the tenants take turns instead of acme's backlog going first.
const order: string[] = [];
for await (const msg of fila.lease("fair-demo", { credit: 1 })) {
  order.push(msg.fairnessKey);
  await msg.ack();
  if (order.length === 9) break;
}
console.log(order.join(" "));

await fila.deleteQueue("fair-demo");
await fila.close();
