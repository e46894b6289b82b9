/**
 * The channel to the broker: address, TLS, the API key, deadlines, and what to do when a call
 * fails on the way — retry with backoff on UNAVAILABLE (within the call's deadline), and
 * follow a cluster node's `x-fila-leader-addr` redirect to the node it names.
 */
import {
  ChannelCredentials,
  Metadata,
  credentials as grpcCredentials,
  status,
  type CallOptions as GrpcCallOptions,
  type ChannelOptions,
  type ClientDuplexStream,
  type ClientUnaryCall,
  type Interceptor,
  type ServiceError,
} from "@grpc/grpc-js";
import { createSecureContext, type SecureContextOptions } from "node:tls";

import { FilaError, errorFor, fromServiceError, leaderAddrOf, type NotFoundHint } from "./errors.js";
import { FilaAdminClient } from "./gen/fila/v1/admin.js";
import { FilaServiceClient, type LeaseRequest, type LeaseResponse } from "./gen/fila/v1/service.js";

/** TLS settings: PEM contents (not paths). With none of them, the system's roots verify the broker. */
export interface TlsOptions {
  /** The CA (PEM) that signed the broker's certificate, instead of the system roots. */
  ca?: string | Buffer;
  /** Client certificate chain (PEM), for brokers that require one (mTLS). Needs `key`. */
  cert?: string | Buffer;
  /** The client certificate's private key (PEM). */
  key?: string | Buffer;
  /** Check the broker's certificate against this name instead of the address's host. */
  serverName?: string;
}

export interface RetryOptions {
  /** First wait after an UNAVAILABLE answer (default 50 ms); it doubles up to `maxBackoffMs`. */
  initialBackoffMs?: number;
  /** Longest wait between two tries (default 2000 ms). */
  maxBackoffMs?: number;
}

export interface ClientOptions {
  /** host:port of the broker (default: env FILA_ADDR, else 127.0.0.1:5555). */
  addr?: string;
  /** Sent as `authorization: Bearer <key>` on every call. */
  apiKey?: string;
  /** `true` for TLS verified by the system roots; an object for a private CA and/or mTLS. */
  tls?: boolean | TlsOptions;
  /** Deadline of each call unless the call says otherwise (default 30,000 ms). */
  timeoutMs?: number;
  /** Retry calls answered UNAVAILABLE (broker restarting, unreachable) until their deadline;
   *  `false` fails them at once. */
  retry?: RetryOptions | false;
  /** How many `x-fila-leader-addr` redirects one call follows (default 3). */
  maxRedirects?: number;
  /** Extra grpc-js channel options. */
  channelOptions?: ChannelOptions;
  /** grpc-js client interceptors, run on every call (tracing, logging, counting). */
  interceptors?: Interceptor[];
}

/** Per-call options. */
export interface CallOptions {
  /** This call's deadline, instead of the client's `timeoutMs`. */
  timeoutMs?: number;
  /** Abort the call: it rejects with the signal's reason. */
  signal?: AbortSignal;
}

const DEFAULT_ADDR = "127.0.0.1:5555";
const DEFAULT_TIMEOUT_MS = 30_000;
const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

/** Reconnect quickly after a broker restart (grpc-js waits 1 s, then up to 120 s, by default). */
const DEFAULT_CHANNEL_OPTIONS: ChannelOptions = {
  "grpc.max_receive_message_length": MAX_MESSAGE_BYTES,
  "grpc.max_send_message_length": MAX_MESSAGE_BYTES,
  "grpc.initial_reconnect_backoff_ms": 100,
  "grpc.max_reconnect_backoff_ms": 2_000,
};

interface Node {
  addr: string;
  hot: FilaServiceClient;
  admin: FilaAdminClient;
}

type Callback<Res> = (err: ServiceError | null, res?: Res) => void;
/** Starts one unary RPC on a node: `(node, metadata, options, callback) => call`. */
export type UnaryStarter<Res> = (node: Node, md: Metadata, opts: Partial<GrpcCallOptions>,
                                 cb: Callback<Res>) => ClientUnaryCall;

function pem(v: string | Buffer): Buffer {
  return Buffer.isBuffer(v) ? v : Buffer.from(v);
}

function channelCredentials(tls: ClientOptions["tls"]): ChannelCredentials {
  if (!tls) return grpcCredentials.createInsecure();
  const t: TlsOptions = tls === true ? {} : tls;
  if ((t.cert === undefined) !== (t.key === undefined)) {
    throw new TypeError("tls.cert and tls.key go together (a client certificate and its key)");
  }
  // Node's own secure context: without `ca` it trusts Node's default roots, including
  // NODE_EXTRA_CA_CERTS (grpc-js's createSsl(null) leaves those out).
  const ctx: SecureContextOptions = {};
  if (t.ca !== undefined) ctx.ca = pem(t.ca);
  if (t.cert !== undefined) ctx.cert = pem(t.cert);
  if (t.key !== undefined) ctx.key = pem(t.key);
  return grpcCredentials.createFromSecureContext(createSecureContext(ctx));
}

/** An abortable wait; resolves early (never rejects) when the signal aborts. */
export function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, Math.max(0, ms));
    signal?.addEventListener("abort", done, { once: true });
  });
}

/** Exponential backoff with full jitter: the wait before try number `attempt` (0-based). */
export function backoffMs(attempt: number, initial: number, max: number): number {
  const cap = Math.min(max, initial * 2 ** Math.min(attempt, 20));
  return cap / 2 + Math.random() * (cap / 2);
}

export class Connection {
  readonly timeoutMs: number;
  private readonly creds: ChannelCredentials;
  private readonly options: ChannelOptions;
  private readonly interceptors: Interceptor[];
  private readonly apiKey: string | undefined;
  private readonly retry: Required<RetryOptions> | false;
  private readonly maxRedirects: number;
  private readonly nodes = new Map<string, Node>();
  private current: string;
  private closed = false;

  constructor(opts: ClientOptions = {}) {
    this.current = opts.addr ?? process.env.FILA_ADDR ?? DEFAULT_ADDR;
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.creds = channelCredentials(opts.tls);
    const serverName = typeof opts.tls === "object" ? opts.tls.serverName : undefined;
    this.options = {
      ...DEFAULT_CHANNEL_OPTIONS,
      ...(serverName ? { "grpc.ssl_target_name_override": serverName, "grpc.default_authority": serverName } : {}),
      ...opts.channelOptions,
    };
    this.interceptors = opts.interceptors ?? [];
    this.apiKey = opts.apiKey;
    this.retry = opts.retry === false ? false : {
      initialBackoffMs: opts.retry?.initialBackoffMs ?? 50,
      maxBackoffMs: opts.retry?.maxBackoffMs ?? 2_000,
    };
    this.maxRedirects = opts.maxRedirects ?? 3;
    this.node(this.current); // connect lazily, but fail now on bad options
  }

  /** The address calls go to now (changes when a node redirects us to its leader). */
  get addr(): string {
    return this.current;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** The clients for one address (created once, sharing one channel). */
  node(addr: string = this.current): Node {
    let n = this.nodes.get(addr);
    if (!n) {
      const hot = new FilaServiceClient(addr, this.creds, { ...this.options, interceptors: this.interceptors });
      const admin = new FilaAdminClient(addr, this.creds, {
        ...this.options, interceptors: this.interceptors, channelOverride: hot.getChannel(),
      });
      n = { addr, hot, admin };
      this.nodes.set(addr, n);
    }
    return n;
  }

  metadata(): Metadata {
    const md = new Metadata();
    if (this.apiKey) md.set("authorization", `Bearer ${this.apiKey}`);
    return md;
  }

  /** Follow a redirect: later calls (and re-opened streams) go to `addr`. */
  redirect(addr: string): void {
    this.current = addr;
  }

  /**
   * Run one unary RPC: with the deadline, the API key, retries on UNAVAILABLE until the
   * deadline and redirects to a named leader. Rejects with a FilaError (or the signal's reason).
   */
  async unary<Res>(start: UnaryStarter<Res>, opts: CallOptions = {}, hint?: NotFoundHint): Promise<Res> {
    if (this.closed) throw closedError("the client");
    const { signal } = opts;
    signal?.throwIfAborted();
    const deadline = Date.now() + (opts.timeoutMs ?? this.timeoutMs);
    let redirects = 0;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.once(start, deadline, signal);
      } catch (e) {
        if (signal?.aborted) throw signal.reason;
        const err = e as ServiceError;
        if (e instanceof FilaError || typeof err.code !== "number") throw e;
        const leader = err.code === status.UNAVAILABLE ? leaderAddrOf(err) : undefined;
        if (leader && redirects < this.maxRedirects) {
          redirects++;
          this.redirect(leader);
          attempt = -1; // a new node: start the backoff over
          continue;
        }
        if (err.code === status.UNAVAILABLE && this.retry && !this.closed) {
          const wait = backoffMs(attempt, this.retry.initialBackoffMs, this.retry.maxBackoffMs);
          if (Date.now() + wait < deadline) {
            await delay(wait, signal);
            if (signal?.aborted) throw signal.reason;
            continue;
          }
        }
        throw fromServiceError(err, hint);
      }
    }
  }

  private once<Res>(start: UnaryStarter<Res>, deadline: number, signal?: AbortSignal): Promise<Res> {
    if (this.closed) return Promise.reject(closedError("the client"));
    return new Promise<Res>((resolve, reject) => {
      const onAbort = (): void => call.cancel();
      const call = start(this.node(), this.metadata(), { deadline }, (err, res) => {
        signal?.removeEventListener("abort", onAbort);
        if (err) reject(err);
        else resolve(res as Res);
      });
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  /** Open a Lease stream on the current node (no deadline: it lives until cancelled). */
  openLease(): ClientDuplexStream<LeaseRequest, LeaseResponse> {
    if (this.closed) throw closedError("the client");
    return this.node().hot.lease(this.metadata());
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const n of this.nodes.values()) {
      n.admin.close();
      n.hot.close();
    }
    this.nodes.clear();
  }
}

/** A FilaError for the client's own refusals (closed client or producer). */
export function closedError(what: string): FilaError {
  return errorFor(status.CANCELLED, `${what} is closed`);
}
