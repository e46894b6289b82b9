/**
 * The Fila client: one connection to a broker, with the hot path (enqueue, lease, ack, nack)
 * and the admin calls (AdminApi).
 *
 *     const fila = new Client({ addr: "127.0.0.1:5555" });
 *     await fila.createQueue("jobs");
 *     await fila.enqueue("jobs", "hello", { tenant: "acme" });
 *     for await (const msg of fila.lease("jobs", { credit: 10 })) {
 *       await msg.ack();
 *       break;
 *     }
 *     await fila.close();
 */
import { Acker, MAX_BATCH_ITEMS } from "./acks.js";
import { AdminApi } from "./admin.js";
import type { BatchLimits } from "./batcher.js";
import { Connection, type CallOptions, type ClientOptions } from "./connection.js";
import { fromItemError } from "./errors.js";
import type { EnqueueBatchResponse } from "./gen/fila/v1/service.js";
import { LeaseStream, type LeaseOptions } from "./lease.js";
import { Producer, type ProducerOptions } from "./producer.js";
import { Subscription, type Handler, type SubscribeOptions } from "./subscriber.js";
import { toBuffer, type EnqueueMessage, type EnqueueOutcome, type Headers, type ItemOutcome,
         type Payload } from "./types.js";

export interface FilaClientOptions extends ClientOptions {
  /** How acks and nacks are batched (default: up to 1,000 per RPC, 2 ms linger). */
  ackBatching?: Partial<BatchLimits>;
}

export class Client extends AdminApi {
  private readonly acker: Acker;
  private readonly streams = new Set<LeaseStream>();
  private readonly producers = new Set<Producer>();
  private readonly subscriptions = new Set<Subscription>();
  private closing: Promise<void> | undefined;

  constructor(opts: FilaClientOptions = {}) {
    super(new Connection(opts));
    this.acker = new Acker(this.conn, opts.ackBatching);
  }

  /** The broker address calls go to (it changes when a cluster node redirects to its leader). */
  get addr(): string {
    return this.conn.addr;
  }

  // -- producing ----------------------------------------------------------------------------

  /** Enqueue one message (one Enqueue RPC); resolves with its id once it is durable. */
  async enqueue(queue: string, payload: Payload, headers: Headers = {}, opts?: CallOptions): Promise<string> {
    const req = { queue, headers, payload: toBuffer(payload) };
    const r = await this.conn.unary<{ messageId: string }>(
      (n, md, o, cb) => n.hot.enqueue(req, md, o, cb), opts, "queue");
    return r.messageId;
  }

  /**
   * Enqueue many messages in EnqueueBatch RPCs (10,000 per call): one outcome per message, in
   * order. A refused message does not fail the others; a failed RPC rejects the whole call.
   */
  async enqueueBatch(messages: EnqueueMessage[], opts?: CallOptions): Promise<EnqueueOutcome[]> {
    const out: EnqueueOutcome[] = [];
    for (let i = 0; i < messages.length; i += MAX_BATCH_ITEMS) {
      const req = {
        messages: messages.slice(i, i + MAX_BATCH_ITEMS).map((m) => ({
          queue: m.queue, headers: m.headers ?? {}, payload: toBuffer(m.payload),
        })),
      };
      const r = await this.conn.unary<EnqueueBatchResponse>(
        (n, md, o, cb) => n.hot.enqueueBatch(req, md, o, cb), opts, "queue");
      for (const x of r.results) {
        out.push(x.error ? { ok: false, error: fromItemError(x.error, "queue") } : { ok: true, id: x.messageId });
      }
    }
    return out;
  }

  /** A producer that batches `enqueue()` calls into EnqueueBatch RPCs (see Producer). */
  producer(opts?: ProducerOptions): Producer {
    this.checkOpen();
    const p = new Producer(this.conn, opts, (x) => this.producers.delete(x));
    this.producers.add(p);
    return p;
  }

  // -- consuming ----------------------------------------------------------------------------

  /** Open a credit-controlled lease stream; iterate it with `for await` (see LeaseStream). */
  lease(queue: string, opts?: LeaseOptions): LeaseStream {
    this.checkOpen();
    const s = new LeaseStream(this.conn, this.acker, queue, opts, (x) => this.streams.delete(x));
    if (!s.closed) this.streams.add(s);
    return s;
  }

  /**
   * Run `handler` for each message of `queue`, at most `credit` at once: resolving acks the
   * message, throwing nacks it with the error's text. `close()` the subscription to stop.
   */
  subscribe(queue: string, handler: Handler, opts?: SubscribeOptions): Subscription {
    const sub = new Subscription(this.lease(queue, opts), handler, opts);
    this.subscriptions.add(sub);
    void sub.done.finally(() => this.subscriptions.delete(sub)).catch(() => undefined);
    return sub;
  }

  /** Acknowledge a leased message (batched into AckBatch RPCs); resolves once it is durable. */
  ack(queue: string, messageId: string, leaseId = ""): Promise<void> {
    return this.acker.ack(queue, messageId, leaseId);
  }

  /** Report a failed delivery (batched into NackBatch RPCs); `error` reaches on_failure as msg.error. */
  nack(queue: string, messageId: string, error = "", leaseId = ""): Promise<void> {
    return this.acker.nack(queue, messageId, error, leaseId);
  }

  /** Keep leases alive `extendMs` more from now (0: the queue's visibility timeout); an outcome per id. */
  extendLease(queue: string, messageIds: string[],
              opts: CallOptions & { extendMs?: number; leaseIds?: string[] } = {}): Promise<ItemOutcome[]> {
    return this.acker.extend(queue, messageIds, opts.extendMs ?? 0, opts.leaseIds ?? [], opts);
  }

  // -- lifecycle ----------------------------------------------------------------------------

  /**
   * Close everything this client opened: subscriptions (waiting for their handlers), lease
   * streams, producers (flushing them), pending acks; then the channel.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    await Promise.allSettled([...this.subscriptions].map((s) => s.close()));
    await Promise.allSettled([...this.streams].map((s) => s.close()));
    await Promise.allSettled([...this.producers].map((p) => p.close()));
    await this.acker.flush().catch(() => undefined);
    this.conn.close();
  }

  private checkOpen(): void {
    if (this.closing || this.conn.isClosed) throw new TypeError("the client is closed");
  }
}
