// Cluster redirects: a node that is not the leader answers UNAVAILABLE with the trailer
// `x-fila-leader-addr: <leader>` (the original Fila broker's convention). This broker runs one
// node and never sends it, so the test stands up a stand-in "follower" — a gRPC server that
// answers every call with that redirect — in front of a real broker, which serves the calls.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import {
  Metadata,
  Server,
  ServerCredentials,
  status,
  type ServerWritableStream,
  type ServiceDefinition,
  type UntypedHandleCall,
  type UntypedServiceImplementation,
  type sendUnaryData,
} from "@grpc/grpc-js";

import { Client, LEADER_ADDR_KEY, UnavailableError } from "@fila/client";

import { admin, service } from "@fila/client/proto";

import { brokerFixture } from "./helpers/fixtures.js";

/** A server whose every RPC answers UNAVAILABLE, naming `leader` (or nobody) in its trailers. */
async function follower(leader: string | undefined): Promise<{ addr: string; calls: string[]; stop(): void }> {
  const server = new Server();
  const calls: string[] = [];
  const redirect = (method: string) => {
    calls.push(method);
    const metadata = new Metadata();
    if (leader) metadata.set(LEADER_ADDR_KEY, leader);
    return { code: status.UNAVAILABLE, details: "this node is not the queue's leader", metadata };
  };
  const implement = (svc: ServiceDefinition): UntypedServiceImplementation => Object.fromEntries(
    Object.entries(svc).map(([name, def]): [string, UntypedHandleCall] => [name, def.responseStream
      ? (call: ServerWritableStream<unknown, unknown>) => call.emit("error", redirect(name))
      : (_call: unknown, cb: sendUnaryData<unknown>) => cb(redirect(name))]));
  server.addService(service.FilaServiceService, implement(service.FilaServiceService));
  server.addService(admin.FilaAdminService, implement(admin.FilaAdminService));
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  return { addr: `127.0.0.1:${port}`, calls, stop: () => server.forceShutdown() };
}

describe("leader redirect", () => {
  const ready = brokerFixture();

  test("unary calls follow x-fila-leader-addr to the leader and stay there", async () => {
    const broker = await ready();
    const node = await follower(broker.addr);
    const fila = new Client({ addr: node.addr });
    try {
      await fila.createQueue("redirected");
      assert.equal(fila.addr, broker.addr);
      const id = await fila.enqueue("redirected", "via the leader");
      assert.deepEqual(node.calls, ["createQueue"], "after the redirect, calls go to the leader");
      assert.equal((await fila.peek("redirected"))[0]?.id, id);
    } finally {
      await fila.close();
      node.stop();
    }
  });

  test("a lease stream opened on a follower is re-opened on the leader", async () => {
    const broker = await ready();
    const node = await follower(broker.addr);
    const fila = new Client({ addr: node.addr });
    const seed = new Client({ addr: broker.addr });
    try {
      await seed.createQueue("redirected-lease");
      const id = await seed.enqueue("redirected-lease", "x");
      for await (const m of fila.lease("redirected-lease", { credit: 1 })) {
        assert.equal(m.id, id);
        await m.ack();
        break;
      }
      assert.deepEqual(node.calls, ["lease"]);
      const producer = fila.producer();
      assert.ok(await producer.enqueue("redirected-lease", "y"));
      await producer.close();
    } finally {
      await Promise.all([fila.close(), seed.close()]);
      node.stop();
    }
  });

  test("UNAVAILABLE without a leader is retried until the deadline, then surfaced", async () => {
    const node = await follower(undefined);
    const fila = new Client({ addr: node.addr, timeoutMs: 1_000 });
    try {
      await assert.rejects(fila.listQueues(), UnavailableError);
      assert.ok(node.calls.length > 1, `tried ${node.calls.length} times`);
    } finally {
      await fila.close();
      node.stop();
    }
  });
});
