/**
 * Certificates for the TLS tests, made by `openssl` (OPENSSL overrides the command): a CA,
 * a server certificate for localhost / 127.0.0.1 and a client certificate, both signed by it.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface Certs {
  dir: string;
  /** Paths, for the broker's --tls-* flags. */
  files: { ca: string; serverCert: string; serverKey: string };
  /** PEM contents, for the client. */
  ca: Buffer;
  clientCert: Buffer;
  clientKey: Buffer;
  /** A client certificate from a CA the broker does not trust. */
  strangerCert: Buffer;
  strangerKey: Buffer;
  remove(): void;
}

function openssl(dir: string, ...args: string[]): void {
  execFileSync(process.env.OPENSSL ?? "openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
}

function ca(dir: string, name: string): void {
  openssl(dir, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", `/CN=${name}`,
          "-keyout", `${name}.key`, "-out", `${name}.pem`);
}

function signed(dir: string, name: string, by: string, ext?: string): void {
  openssl(dir, "req", "-newkey", "rsa:2048", "-nodes", "-subj", `/CN=${name}`,
          "-keyout", `${name}.key`, "-out", `${name}.csr`);
  openssl(dir, "x509", "-req", "-in", `${name}.csr`, "-CA", `${by}.pem`, "-CAkey", `${by}.key`,
          "-CAcreateserial", "-days", "2", "-out", `${name}.pem`, ...(ext ? ["-extfile", ext] : []));
}

export function makeCerts(): Certs {
  const dir = mkdtempSync(join(tmpdir(), "fila-js-certs-"));
  writeFileSync(join(dir, "san.cnf"), "subjectAltName=DNS:localhost,IP:127.0.0.1\n");
  ca(dir, "ca");
  signed(dir, "server", "ca", "san.cnf");
  signed(dir, "client", "ca");
  ca(dir, "other-ca");
  signed(dir, "stranger", "other-ca");
  const read = (f: string): Buffer => readFileSync(join(dir, f));
  return {
    dir,
    files: { ca: join(dir, "ca.pem"), serverCert: join(dir, "server.pem"), serverKey: join(dir, "server.key") },
    ca: read("ca.pem"),
    clientCert: read("client.pem"),
    clientKey: read("client.key"),
    strangerCert: read("stranger.pem"),
    strangerKey: read("stranger.key"),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
