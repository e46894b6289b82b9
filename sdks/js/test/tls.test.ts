// TLS with a private CA, the system roots, mTLS, and API keys over TLS, with certificates the
// test makes itself (helpers/certs.ts).
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { join } from "node:path";
import { describe, test } from "node:test";
import { promisify } from "node:util";

import { Client, UnauthenticatedError, UnavailableError, type FilaClientOptions } from "@fila/client";

import { Broker, packageRoot, type BrokerOptions } from "./helpers/broker.js";
import { makeCerts, type Certs } from "./helpers/certs.js";
import { fixture } from "./helpers/fixtures.js";

const run = promisify(execFile);

/** A broker of its own for the suite, serving TLS with certificates made for it. */
function tlsBroker(opts: (certs: Certs) => BrokerOptions): () => Promise<{ broker: Broker; certs: Certs }> {
  return fixture(async () => {
    const certs = makeCerts();
    try {
      return { broker: await Broker.start(opts(certs)), certs };
    } catch (e) {
      certs.remove();
      throw e;
    }
  }, async ({ broker, certs }) => {
    await broker.stop();
    certs.remove();
  });
}

/** Whether a client with these options can talk to the broker. */
async function reaches(opts: FilaClientOptions): Promise<unknown> {
  const fila = new Client({ retry: false, timeoutMs: 5_000, ...opts });
  try {
    await fila.listQueues();
    return true;
  } catch (e) {
    return e;
  } finally {
    await fila.close();
  }
}

describe("TLS", () => {
  const ready = tlsBroker((certs) => ({
    args: ["--tls-cert", certs.files.serverCert, "--tls-key", certs.files.serverKey],
  }));

  test("a private CA verifies the broker; the hot path works over TLS", async () => {
    const { broker, certs } = await ready();
    const fila = new Client({ addr: broker.addr, tls: { ca: certs.ca } });
    try {
      await fila.createQueue("tls-q");
      const id = await fila.enqueue("tls-q", "secret");
      for await (const m of fila.lease("tls-q", { credit: 1 })) {
        assert.equal(m.id, id);
        await m.ack();
        break;
      }
    } finally {
      await fila.close();
    }
    assert.equal(await reaches({ addr: `localhost:${broker.port}`, tls: { ca: certs.ca.toString() } }), true);
    assert.equal(await reaches({ addr: broker.addr, tls: { ca: certs.ca, serverName: "localhost" } }), true);
  });

  test("without the CA, or without TLS, the broker is unreachable", async () => {
    const { broker, certs } = await ready();
    assert.ok(await reaches({ addr: broker.addr, tls: true }) instanceof UnavailableError, "system roots");
    assert.ok(await reaches({ addr: broker.addr }) instanceof UnavailableError, "plaintext");
    assert.ok(await reaches({ addr: broker.addr, tls: { ca: certs.ca, serverName: "elsewhere.example" } })
      instanceof UnavailableError, "a name the certificate does not have");
  });

  test("tls: true verifies with the system roots", async () => {
    const { broker, certs } = await ready();
    const script = join(packageRoot(), "build", "test", "fixtures", "system-roots.js");
    const { stdout } = await run(process.execPath, [script], {
      env: { ...process.env, FILA_ADDR: broker.addr, NODE_EXTRA_CA_CERTS: certs.files.ca },
    });
    assert.match(stdout, /verified by the system roots/);
  });

  test("a client certificate without its key is refused up front", async () => {
    const { broker, certs } = await ready();
    assert.throws(() => new Client({ addr: broker.addr, tls: { ca: certs.ca, cert: certs.clientCert } }), TypeError);
  });
});

describe("mTLS and API keys", () => {
  const KEY = `bootstrap-${process.pid}`;
  const ready = tlsBroker((certs) => ({
    args: ["--tls-cert", certs.files.serverCert, "--tls-key", certs.files.serverKey, "--tls-ca", certs.files.ca],
    env: { FILA_BOOTSTRAP_APIKEY: KEY },
  }));

  test("a client certificate signed by the CA, and the API key, are both needed", async () => {
    const { broker, certs } = await ready();
    const mtls = { ca: certs.ca, cert: certs.clientCert, key: certs.clientKey };
    assert.equal(await reaches({ addr: broker.addr, tls: mtls, apiKey: KEY }), true);
    assert.ok(await reaches({ addr: broker.addr, tls: mtls }) instanceof UnauthenticatedError, "no API key");
    assert.ok(await reaches({ addr: broker.addr, tls: { ca: certs.ca }, apiKey: KEY }) instanceof UnavailableError,
              "no client certificate");
    assert.ok(await reaches({
      addr: broker.addr, tls: { ca: certs.ca, cert: certs.strangerCert, key: certs.strangerKey }, apiKey: KEY,
    }) instanceof UnavailableError, "a certificate from another CA");

    const fila = new Client({ addr: broker.addr, tls: mtls, apiKey: KEY });
    try {
      await fila.createQueue("mtls-q");
      const producer = fila.producer();
      const ids = await Promise.all(["a", "b", "c"].map((p) => producer.enqueue("mtls-q", p)));
      let n = 0;
      for await (const m of fila.lease("mtls-q", { credit: 3 })) {
        assert.ok(ids.includes(m.id));
        await m.ack();
        if (++n === 3) break;
      }
    } finally {
      await fila.close();
    }
  });
});
