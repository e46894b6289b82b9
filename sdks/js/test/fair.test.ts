// Fair scheduling seen through the SDK, and the fair-scheduling example: the docs page and the
// README show exactly examples/fair.ts, and it runs against a real broker.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { promisify } from "node:util";

import { Client } from "@fila/client";

import { packageRoot, repoRoot } from "./helpers/broker.js";
import { brokerFixture } from "./helpers/fixtures.js";
import { eventually } from "./helpers/poll.js";

const run = promisify(execFile);

// The quickstart's hook (docs/quickstart.md): schedule every message by its tenant.
const TENANT_HOOK = `
function on_enqueue(msg)
  local tenant = msg.headers.tenant or "anonymous"
  return { fairness_key = tenant, throttle_keys = { "tenant:" .. tenant } }
end`;

/** The ```ts block right after `<!-- example: sdks/js/examples/fair.ts -->` in a Markdown file. */
function exampleBlock(markdown: string): string {
  const m = /<!-- example: sdks\/js\/examples\/fair\.ts -->\s*\n```ts\n([\s\S]*?)```/.exec(markdown);
  assert.ok(m, "no example block marked <!-- example: sdks/js/examples/fair.ts -->");
  return m[1]!;
}

describe("fair scheduling", () => {
  const ready = brokerFixture();

  test("three tenants, one consumer: deliveries alternate, whatever the backlog", async () => {
    const broker = await ready();
    const fila = new Client({ addr: broker.addr });
    try {
      await fila.createQueue("tenants", { onEnqueue: TENANT_HOOK });
      // acme's 90 are all enqueued before the others' 15 each: FIFO would give acme 90 in a row.
      const backlog = [...Array(90).fill("acme"), ...Array(15).fill("globex"), ...Array(15).fill("initech")];
      const out = await fila.enqueueBatch(backlog.map((tenant, i) => ({
        queue: "tenants", payload: `${tenant}-${i}`, headers: { tenant },
      })));
      assert.ok(out.every((o) => o.ok));

      const order: string[] = [];
      for await (const msg of fila.lease("tenants", { credit: 1 })) {
        order.push(msg.fairnessKey);
        assert.deepEqual(msg.throttleKeys, [`tenant:${msg.fairnessKey}`]);
        await msg.ack();
        if (order.length === 30) break;
      }
      const counts = Object.fromEntries(["acme", "globex", "initech"].map((t) => [t, order.filter((k) => k === t).length]));
      assert.deepEqual(counts, { acme: 10, globex: 10, initech: 10 });
      for (let i = 0; i + 3 <= order.length; i += 3) {
        assert.equal(new Set(order.slice(i, i + 3)).size, 3, `round ${i / 3}: ${order.slice(i, i + 3)}`);
      }
      const stats = await eventually(async () => {
        const s = await fila.getStats("tenants");
        return s.totals.acked === 30 && s;
      }, "the acks");
      // What is left: 90 messages, the other tenants' 5 each pending (one of acme's may be
      // leased already: the broker leases ahead as soon as an ack frees the credit).
      assert.equal(stats.depth + stats.inFlight, 90);
      const pending = Object.fromEntries(stats.keys.map((k) => [k.key, k.pendingCount]));
      assert.deepEqual([pending.globex, pending.initech], [5, 5]);
    } finally {
      await fila.close();
    }
  });

  test("the docs page and the README show examples/fair.ts, and it runs", async () => {
    const broker = await ready();
    const example = readFileSync(join(packageRoot(), "examples", "fair.ts"), "utf8");
    assert.equal(exampleBlock(readFileSync(join(repoRoot(), "docs", "sdk-js.md"), "utf8")), example,
                 "docs/sdk-js.md differs from sdks/js/examples/fair.ts");
    assert.equal(exampleBlock(readFileSync(join(packageRoot(), "README.md"), "utf8")), example,
                 "sdks/js/README.md differs from sdks/js/examples/fair.ts");

    const { stdout } = await run(process.execPath, [join(packageRoot(), "build", "examples", "fair.js")], {
      env: { ...process.env, FILA_ADDR: broker.addr }, timeout: 30_000,
    });
    assert.equal(stdout.trim(), "acme globex initech acme globex initech acme globex initech");
  });
});
