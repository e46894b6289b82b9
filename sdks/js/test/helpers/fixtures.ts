/** Suite fixtures: a broker (and a client of it), started on first use, stopped after the suite. */
import { after } from "node:test";

import { Client, type FilaClientOptions } from "@fila/client";

import { Broker, type BrokerOptions } from "./broker.js";

/**
 * A resource shared by the tests of a suite, started by the first test that asks for it and
 * stopped after the suite. If it cannot start, every test that needs it fails with the reason
 * (they are never skipped).
 */
export function fixture<T>(start: () => Promise<T>, stop: (t: T) => Promise<void>): () => Promise<T> {
  let started: Promise<T> | undefined;
  after(async () => {
    const t = await started?.catch(() => undefined);
    if (t !== undefined) await stop(t);
  });
  return () => (started ??= start());
}

/** A broker of its own for this suite. */
export function brokerFixture(opts: BrokerOptions | (() => BrokerOptions) = {}): () => Promise<Broker> {
  return fixture(() => Broker.start(typeof opts === "function" ? opts() : opts), (b) => b.stop());
}

/** A broker of its own for this suite, and a client of it. */
export function clientFixture(opts: BrokerOptions = {}, client: FilaClientOptions = {}):
    () => Promise<{ broker: Broker; fila: Client }> {
  return fixture(async () => {
    const broker = await Broker.start(opts);
    return { broker, fila: new Client({ addr: broker.addr, timeoutMs: 10_000, ...client }) };
  }, async ({ broker, fila }) => {
    await fila.close();
    await broker.stop();
  });
}
