/**
 * A real `fila serve` for the tests: on 127.0.0.1, port 0 (the port is read from its
 * "listening on 127.0.0.1:<port>" line), a fresh data dir, metrics off. It can be killed and
 * started again on the same data dir and port. FILA_SERVER_CMD overrides the command (split on
 * spaces), e.g. FILA_SERVER_CMD="/opt/fila/bin/fila".
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The package's root: the nearest folder up from here whose package.json is @fila/client. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pj = join(dir, "package.json");
    if (existsSync(pj) && JSON.parse(readFileSync(pj, "utf8")).name === "@fila/client") return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error("cannot find the @fila/client package root");
    dir = up;
  }
}

/** The Fila repository this package lives in (sdks/js -> ../..). */
export const repoRoot = (): string => resolve(packageRoot(), "..", "..");

export function serverCommand(): string[] {
  const custom = process.env.FILA_SERVER_CMD?.trim();
  if (custom) return custom.split(/\s+/);
  return [join(repoRoot(), ".venv", "bin", "python"), "-m", "fila"];
}

export interface BrokerOptions {
  /** Extra `fila serve` arguments (TLS flags, --config ...). */
  args?: string[];
  /** Extra environment (FILA_BOOTSTRAP_APIKEY ...). */
  env?: Record<string, string>;
  /** Files to write into the broker's folder (its working directory) before it starts. */
  files?: Record<string, string>;
}

const LISTENING = /listening on 127\.0\.0\.1:(\d+)/;
const START_TIMEOUT_MS = 30_000;
const running = new Set<ChildProcess>();
process.on("exit", () => {
  for (const p of running) p.kill("SIGKILL");
});

export class Broker {
  /** A scratch folder for this broker: its data dir, log and any files a test writes. */
  readonly dir: string;
  readonly dataDir: string;
  port = 0;
  log = "";
  private proc: ChildProcess | undefined;

  private constructor(private readonly opts: BrokerOptions) {
    this.dir = mkdtempSync(join(tmpdir(), "fila-js-test-"));
    this.dataDir = join(this.dir, "data");
    for (const [name, text] of Object.entries(opts.files ?? {})) writeFileSync(join(this.dir, name), text);
  }

  static async start(opts: BrokerOptions = {}): Promise<Broker> {
    const b = new Broker(opts);
    try {
      await b.launch(0);
    } catch (e) {
      b.cleanup();
      throw e;
    }
    return b;
  }

  get addr(): string {
    return `127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.proc !== undefined && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** kill -9: nothing flushed, nothing closed. */
  async kill(): Promise<void> {
    const p = this.proc;
    this.proc = undefined;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise<void>((r) => p.once("exit", () => r()));
    p.kill("SIGKILL");
    await exited;
    running.delete(p);
  }

  /** Start again on the same data dir and port (retrying while the port is still taken). */
  async restart(): Promise<void> {
    await this.kill();
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      try {
        await this.launch(this.port);
        return;
      } catch (e) {
        if (Date.now() > deadline || !/cannot listen/.test(String(e))) throw e;
        await new Promise((r) => setTimeout(r, 100)); // the port is not free yet: poll again
      }
    }
  }

  /** Kill the broker and delete its folder. */
  async stop(): Promise<void> {
    await this.kill();
    this.cleanup();
  }

  private cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }

  private launch(port: number): Promise<void> {
    const [cmd, ...pre] = serverCommand();
    const args = [...pre, "serve", "--listen", `127.0.0.1:${port}`, "--data-dir", this.dataDir,
                  "--metrics-listen", "off", ...(this.opts.args ?? [])];
    const proc = spawn(cmd!, args, {
      cwd: this.dir, env: { ...process.env, ...this.opts.env }, stdio: ["ignore", "pipe", "pipe"],
    });
    running.add(proc);
    this.proc = proc;
    this.log = "";
    return new Promise<void>((resolvePromise, reject) => {
      const timer = setTimeout(() => {
        proc.kill("SIGKILL");
        reject(new Error(`fila serve did not start in ${START_TIMEOUT_MS} ms:\n${this.log}`));
      }, START_TIMEOUT_MS);
      const onData = (chunk: Buffer): void => {
        this.log += chunk.toString();
        const m = LISTENING.exec(this.log);
        if (m && !this.port) this.port = Number(m[1]);
        if (m) {
          clearTimeout(timer);
          resolvePromise();
        }
      };
      proc.stdout!.on("data", onData);
      proc.stderr!.on("data", onData);
      proc.once("error", (e) => {
        clearTimeout(timer);
        running.delete(proc);
        reject(new Error(`cannot run ${cmd}: ${e.message} (set FILA_SERVER_CMD or run scripts/setup_env.sh)`));
      });
      proc.once("exit", (code, sig) => {
        clearTimeout(timer);
        running.delete(proc);
        reject(new Error(`fila serve exited (${code ?? sig}) before listening:\n${this.log}`));
      });
    });
  }
}
