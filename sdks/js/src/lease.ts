/**
 * The credit-controlled Lease stream as an async iterator.
 *
 *     for await (const msg of client.lease("jobs", { credit: 10 })) {
 *       await handle(msg.payload);
 *       await msg.ack();
 *     }
 *
 * The broker leases the stream at most `credit` messages that are not yet acked or nacked;
 * each ack or nack frees one. Acks and nacks travel in AckBatch / NackBatch RPCs with the
 * lease id. While a message is held (delivered, not yet acked), its lease is extended every
 * `autoExtend.everyMs`. If the stream breaks (broker restarted, network) it is re-opened with
 * backoff, and a redirect to a leader is followed; messages received on the old stream still
 * count against the credit until they are settled.
 */
import { status, type ClientDuplexStream, type ServiceError } from "@grpc/grpc-js";

import type { Acker } from "./acks.js";
import { backoffMs, type Connection } from "./connection.js";
import { FilaError, errorFor, fromServiceError, leaderAddrOf } from "./errors.js";
import type { LeaseRequest, LeaseResponse } from "./gen/fila/v1/service.js";
import { messageFrom, type ItemOutcome, type Message } from "./types.js";

export const MAX_CREDIT = 10_000;
export const DEFAULT_CREDIT = 100;

export interface AutoExtendOptions {
  /** Renew each held message's lease at least this often (default 10,000 ms: keep it below
   *  the queue's visibility timeout, 30,000 ms by default). */
  everyMs?: number;
  /** How long each renewal lasts from now; 0 (default) means the queue's visibility timeout. */
  extendMs?: number;
  /** Stop renewing a message held longer than this (default 1 hour). */
  maxMs?: number;
}

export interface LeaseOptions {
  /** Most messages held at once (leased, not yet acked or nacked): 1 to 10,000 (default 100). */
  credit?: number;
  /** Most messages per LeaseResponse (default min(credit, 100)). */
  maxBatch?: number;
  /** Close the stream when this signal aborts. */
  signal?: AbortSignal;
  /** Keep the leases of held messages alive (default on); `false` turns it off. */
  autoExtend?: AutoExtendOptions | false;
  /** Re-open the stream when it breaks (default true); `false` ends the iterator with the error. */
  reconnect?: boolean;
}

/** Stream endings that are the broker's final word: the iterator throws them. */
const FATAL = new Set<number>([
  status.INVALID_ARGUMENT, status.NOT_FOUND, status.ALREADY_EXISTS, status.PERMISSION_DENIED,
  status.UNAUTHENTICATED, status.FAILED_PRECONDITION, status.UNIMPLEMENTED, status.OUT_OF_RANGE,
]);
const RELEASE_ERROR = "released unprocessed: the consumer closed its lease stream";

/** A delivered message: ack it when done, nack it when it failed. */
export class LeasedMessage implements Message {
  readonly id: string;
  readonly queue: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly payload: Buffer;
  readonly fairnessKey: string;
  readonly weight: number;
  readonly throttleKeys: readonly string[];
  readonly attemptCount: number;
  readonly lastError: string;
  readonly leaseId: string;
  readonly enqueuedAt: Date | undefined;
  readonly leasedAt: Date | undefined;
  /** When this client received it (ms since the epoch). */
  readonly receivedAt: number;
  readonly #owner: LeaseStream;
  readonly #generation: number;
  #settlement: Promise<void> | undefined;

  /** @internal */
  constructor(m: Message, owner: LeaseStream, generation: number) {
    this.id = m.id;
    this.queue = m.queue;
    this.headers = m.headers;
    this.payload = m.payload;
    this.fairnessKey = m.fairnessKey;
    this.weight = m.weight;
    this.throttleKeys = m.throttleKeys;
    this.attemptCount = m.attemptCount;
    this.lastError = m.lastError;
    this.leaseId = m.leaseId;
    this.enqueuedAt = m.enqueuedAt;
    this.leasedAt = m.leasedAt;
    this.receivedAt = Date.now();
    this.#owner = owner;
    this.#generation = generation;
  }

  /** @internal the stream generation it arrived on */
  get _generation(): number {
    return this.#generation;
  }

  /** Whether ack() or nack() was called. */
  get settled(): boolean {
    return this.#settlement !== undefined;
  }

  /** Done: delete the message. Resolves once the ack is durable; a second call returns the first's promise. */
  ack(): Promise<void> {
    return (this.#settlement ??= this.#owner._settle(this, "ack"));
  }

  /** Failed: the queue's on_failure hook (or retry with backoff) decides what happens next. */
  nack(error: unknown = ""): Promise<void> {
    return (this.#settlement ??= this.#owner._settle(this, "nack", errorText(error)));
  }

  /** Keep the lease `extendMs` more from now (0: the queue's visibility timeout). */
  async extend(extendMs = 0): Promise<void> {
    const [r] = await this.#owner._extend([this], extendMs);
    if (r && !r.ok) throw r.error;
  }
}

/** The text a nack carries for a thrown value. */
export function errorText(e: unknown): string {
  if (e instanceof Error) return e.message || e.name;
  return typeof e === "string" ? e : String(e);
}

type Waiter = { resolve: (r: IteratorResult<LeasedMessage>) => void; reject: (e: unknown) => void };

export class LeaseStream implements AsyncIterableIterator<LeasedMessage> {
  readonly queue: string;
  private creditValue: number;
  private readonly maxBatch: number;
  private readonly reconnect: boolean;
  private readonly extendOpts: Required<AutoExtendOptions> | undefined;
  private readonly buffer: LeasedMessage[] = [];
  private readonly held = new Set<LeasedMessage>(); // received, not settled
  private readonly waiters: Waiter[] = [];
  private call: ClientDuplexStream<LeaseRequest, LeaseResponse> | undefined;
  private generation = 0;
  private carried = 0; // held messages that arrived on an earlier stream
  private sentCredit = 0;
  private attempts = 0;
  private redirects = 0;
  private reopenTimer: NodeJS.Timeout | undefined;
  private extendTimer: NodeJS.Timeout | undefined;
  private extending = false;
  private failure: FilaError | undefined;
  private closing: Promise<void> | undefined;
  private readonly signal: AbortSignal | undefined;
  private readonly onAbort = (): void => void this.close();

  /** @internal use `client.lease()` */
  constructor(private readonly conn: Connection, private readonly acker: Acker, queue: string,
              opts: LeaseOptions = {}, private readonly onClosed?: (s: LeaseStream) => void) {
    this.queue = queue;
    this.creditValue = checkCredit(opts.credit ?? DEFAULT_CREDIT);
    this.maxBatch = opts.maxBatch ?? Math.min(this.creditValue, 100);
    this.reconnect = opts.reconnect ?? true;
    if (opts.autoExtend !== false) {
      const a = opts.autoExtend ?? {};
      this.extendOpts = { everyMs: a.everyMs ?? 10_000, extendMs: a.extendMs ?? 0, maxMs: a.maxMs ?? 3_600_000 };
      this.extendTimer = setInterval(() => void this.extendHeld(), this.extendOpts.everyMs);
      this.extendTimer.unref();
    }
    this.signal = opts.signal;
    if (this.signal?.aborted) {
      void this.close();
      return;
    }
    this.signal?.addEventListener("abort", this.onAbort, { once: true });
    this.open();
  }

  /** The most messages this stream holds at once. */
  get credit(): number {
    return this.creditValue;
  }

  /** Messages received and not yet acked or nacked (yielded or waiting to be). */
  get unacked(): number {
    return this.held.size;
  }

  get closed(): boolean {
    return this.closing !== undefined;
  }

  /** Change the credit; the broker leases up to the new value from now on. */
  setCredit(credit: number): void {
    this.creditValue = checkCredit(credit);
    this.sendCredit();
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<LeasedMessage>> {
    const m = this.buffer.shift();
    if (m) return Promise.resolve({ value: m, done: false });
    if (this.failure) {
      const f = this.failure;
      this.failure = undefined;
      this.finish();
      return Promise.reject(f);
    }
    if (this.closing) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  /** Called by `break` in a for-await loop: closes the stream. */
  async return(): Promise<IteratorResult<LeasedMessage>> {
    await this.close();
    return { value: undefined, done: true };
  }

  /**
   * Stop leasing. Messages received but not yet handed out are released (nacked); messages
   * handed out can still be acked or nacked. Resolves once the releases are answered.
   */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closing = this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.signal?.removeEventListener("abort", this.onAbort);
    clearTimeout(this.reopenTimer);
    clearInterval(this.extendTimer);
    this.endCall();
    for (const w of this.waiters.splice(0)) w.resolve({ value: undefined, done: true });
    const unsent = this.buffer.splice(0);
    if (!this.conn.isClosed) await Promise.allSettled(unsent.map((m) => m.nack(RELEASE_ERROR)));
    this.onClosed?.(this);
  }

  private finish(): void {
    void this.close();
  }

  private endCall(): void {
    const call = this.call;
    this.call = undefined;
    if (call) {
      call.end();
      call.cancel();
    }
  }

  private open(): void {
    if (this.closing) return;
    let call: ClientDuplexStream<LeaseRequest, LeaseResponse>;
    try {
      call = this.conn.openLease();
    } catch (e) {
      this.fail(e instanceof FilaError ? e : errorFor(status.CANCELLED, String(e)));
      return;
    }
    this.call = call;
    this.generation++;
    this.carried = this.held.size;
    const credit = this.wantedCredit();
    this.sentCredit = credit;
    const gen = this.generation;
    call.on("data", (resp: LeaseResponse) => {
      if (this.call !== call) {
        if (this.closing) this.releaseLate(resp); // leased to us on the way while we closed
        return;
      }
      this.attempts = 0;
      this.redirects = 0;
      for (const pb of resp.messages) this.deliver(new LeasedMessage(messageFrom(pb), this, gen));
    });
    call.on("error", (err: ServiceError) => this.ended(call, err)); // CANCELLED after close: ignored
    call.on("status", (s: { code: number }) => {
      if (s.code === status.OK) this.ended(call, undefined);
    });
    call.write({ queue: this.queue, credit, maxBatch: this.maxBatch });
  }

  private releaseLate(resp: LeaseResponse): void {
    if (this.conn.isClosed) return;
    for (const pb of resp.messages) {
      const m = messageFrom(pb);
      this.acker.nack(m.queue || this.queue, m.id, RELEASE_ERROR, m.leaseId).catch(() => undefined);
    }
  }

  private deliver(m: LeasedMessage): void {
    this.held.add(m);
    const w = this.waiters.shift();
    if (w) w.resolve({ value: m, done: false });
    else this.buffer.push(m);
  }

  private ended(call: ClientDuplexStream<LeaseRequest, LeaseResponse>, err: ServiceError | undefined): void {
    if (this.call !== call || this.closing) return;
    this.call = undefined;
    call.end();
    const code = err?.code ?? status.OK;
    if (err && FATAL.has(code)) return this.fail(fromServiceError(err, "queue"));
    const leader = err && code === status.UNAVAILABLE ? leaderAddrOf(err) : undefined;
    if (leader && this.redirects < 3) {
      this.redirects++;
      this.conn.redirect(leader);
      return this.open();
    }
    if (!this.reconnect) {
      return err ? this.fail(fromServiceError(err, "queue")) : this.finish();
    }
    const wait = backoffMs(this.attempts++, 100, 5_000);
    this.redirects = 0;
    this.reopenTimer = setTimeout(() => this.open(), wait);
  }

  private fail(err: FilaError): void {
    if (this.closing) return;
    const w = this.waiters.shift();
    if (w) {
      w.reject(err);
      this.finish();
    } else {
      this.failure = err; // thrown by the next next(), after what is buffered
      this.endCall();
    }
  }

  private wantedCredit(): number {
    return Math.max(1, this.creditValue - this.carried);
  }

  private sendCredit(): void {
    const want = this.wantedCredit();
    if (this.call && want !== this.sentCredit) {
      this.sentCredit = want;
      this.call.write({ queue: "", credit: want, maxBatch: 0 });
    }
  }

  /** A held message leaves the stream's count (acked, nacked, or its lease lost). */
  private release(m: LeasedMessage): void {
    if (!this.held.delete(m)) return;
    if (m._generation < this.generation) {
      this.carried--;
      this.sendCredit();
    }
  }

  /** @internal */
  _settle(m: LeasedMessage, how: "ack" | "nack", error = ""): Promise<void> {
    this.release(m);
    return how === "ack" ? this.acker.ack(m.queue || this.queue, m.id, m.leaseId)
      : this.acker.nack(m.queue || this.queue, m.id, error, m.leaseId);
  }

  /** @internal */
  async _extend(msgs: LeasedMessage[], extendMs: number): Promise<ItemOutcome[]> {
    const out = await this.acker.extend(this.queue, msgs.map((m) => m.id), extendMs, msgs.map((m) => m.leaseId));
    out.forEach((r, i) => {
      if (!r.ok) this.release(msgs[i]!); // the lease is gone: it no longer counts
    });
    return out;
  }

  private async extendHeld(): Promise<void> {
    const o = this.extendOpts;
    if (!o || this.extending || !this.held.size || this.conn.isClosed) return;
    this.extending = true;
    try {
      const now = Date.now();
      const due = [...this.held].filter((m) => now - m.receivedAt < o.maxMs);
      if (due.length) await this._extend(due, o.extendMs);
    } catch {
      // the broker is unreachable: the next tick tries again (the lease may lapse meanwhile)
    } finally {
      this.extending = false;
    }
  }
}

function checkCredit(credit: number): number {
  if (!Number.isInteger(credit) || credit < 1 || credit > MAX_CREDIT) {
    throw new RangeError(`credit must be an integer from 1 to ${MAX_CREDIT}, not ${credit}`);
  }
  return credit;
}
