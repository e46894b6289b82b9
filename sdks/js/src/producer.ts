/**
 * The batching producer: `await producer.enqueue(queue, payload)` looks like one call per
 * message, but calls made close together travel as one EnqueueBatch RPC. Each promise
 * resolves with its own message's id once that message is durable, or rejects with its own
 * error (a refused message fails only its caller).
 *
 * When no batch is in flight, a message goes out at once (with whatever else was enqueued in
 * the same turn of the event loop); while batches are in flight, messages gather until one
 * returns, `maxMessages` or `maxBytes` are reached, or `lingerMs` passes.
 */
import { MAX_BATCH_ITEMS } from "./acks.js";
import { Batcher, type BatchLimits } from "./batcher.js";
import { closedError, type Connection } from "./connection.js";
import { fromItemError } from "./errors.js";
import type { EnqueueRequest, EnqueueResult } from "./gen/fila/v1/service.js";
import { toBuffer, type Headers, type Payload } from "./types.js";

export interface ProducerOptions {
  /** Most messages per EnqueueBatch RPC (default 1,000; at most 10,000). */
  maxMessages?: number;
  /** Most bytes (payloads, headers, queue names) per RPC (default 4 MiB). */
  maxBytes?: number;
  /** Longest a message waits for company while a batch is in flight (default 5 ms). */
  lingerMs?: number;
  /** Most batch RPCs in flight at once (default 4). */
  maxInFlight?: number;
  /** Deadline of each batch RPC (default: the client's timeoutMs). */
  timeoutMs?: number;
}

export const DEFAULT_PRODUCER_OPTIONS: Required<Omit<ProducerOptions, "timeoutMs">> = {
  maxMessages: 1000,
  maxBytes: 4 * 1024 * 1024,
  lingerMs: 5,
  maxInFlight: 4,
};

/** What a message costs a batch, near enough: payload, queue name and headers. */
function sizeOf(req: EnqueueRequest): number {
  let n = req.payload.length + req.queue.length + 8;
  for (const [k, v] of Object.entries(req.headers)) n += k.length + v.length + 4;
  return n;
}

export class Producer {
  private readonly batcher: Batcher<null, EnqueueRequest, string>;
  private readonly timeoutMs: number | undefined;
  private closing: Promise<void> | undefined;

  /** @internal use `client.producer()` */
  constructor(private readonly conn: Connection, opts: ProducerOptions = {},
              private readonly onClosed?: (p: Producer) => void) {
    const d = DEFAULT_PRODUCER_OPTIONS;
    const limits: BatchLimits = {
      maxItems: Math.min(opts.maxMessages ?? d.maxMessages, MAX_BATCH_ITEMS),
      maxBytes: opts.maxBytes ?? d.maxBytes,
      lingerMs: opts.lingerMs ?? d.lingerMs,
      maxInFlight: opts.maxInFlight ?? d.maxInFlight,
    };
    this.timeoutMs = opts.timeoutMs;
    this.batcher = new Batcher((_key, items) => this.send(items), limits);
  }

  /** Enqueue one message; resolves with its id once it is durable. */
  enqueue(queue: string, payload: Payload, headers: Headers = {}): Promise<string> {
    if (this.closing) return Promise.reject(closedError("the producer"));
    const req: EnqueueRequest = { queue, headers, payload: toBuffer(payload) };
    return this.batcher.submit(null, req, sizeOf(req));
  }

  /** EnqueueBatch RPCs sent so far, and the messages they carried. */
  get stats(): { batches: number; messages: number } {
    return { batches: this.batcher.counts.batches, messages: this.batcher.counts.items };
  }

  /** Send what is waiting and resolve once every message enqueued so far is answered. */
  flush(): Promise<void> {
    return this.batcher.flushAll();
  }

  /** Flush, then refuse further messages. */
  close(): Promise<void> {
    this.closing ??= this.flush().finally(() => this.onClosed?.(this));
    return this.closing;
  }

  private async send(messages: EnqueueRequest[]): Promise<Array<string | Error>> {
    const req = { messages };
    const r = await this.conn.unary<{ results: EnqueueResult[] }>(
      (n, md, o, cb) => n.hot.enqueueBatch(req, md, o, cb), { timeoutMs: this.timeoutMs }, "queue");
    return r.results.map((x) => (x.error ? fromItemError(x.error, "queue") : x.messageId));
  }
}
