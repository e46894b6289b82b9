/**
 * Acks, nacks and lease extensions: one call per message for the caller, AckBatch /
 * NackBatch RPCs on the wire (per queue, batched by `Batcher`), each carrying the lease id.
 */
import { Batcher, type BatchLimits } from "./batcher.js";
import type { CallOptions, Connection } from "./connection.js";
import { fromItemError } from "./errors.js";
import type { ItemResult } from "./gen/fila/v1/service.js";
import type { ItemOutcome } from "./types.js";

/** The most items one batch RPC may carry (docs/api.md). */
export const MAX_BATCH_ITEMS = 10_000;

export const DEFAULT_ACK_LIMITS: BatchLimits = {
  maxItems: 1000,
  maxBytes: 4 * 1024 * 1024,
  lingerMs: 2,
  maxInFlight: 4,
};

interface AckItem {
  id: string;
  leaseId: string;
}

interface NackItem extends AckItem {
  error: string;
}

function outcomes(results: ItemResult[]): Array<void | Error> {
  return results.map((r) => (r.error ? fromItemError(r.error, "message") : undefined));
}

function chunks<T>(items: T[], size = MAX_BATCH_ITEMS): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

export class Acker {
  private readonly acks: Batcher<string, AckItem, void>;
  private readonly nacks: Batcher<string, NackItem, void>;

  constructor(private readonly conn: Connection, limits: Partial<BatchLimits> = {}) {
    const l = { ...DEFAULT_ACK_LIMITS, ...limits };
    l.maxItems = Math.min(l.maxItems, MAX_BATCH_ITEMS);
    this.acks = new Batcher((queue, items) => this.sendAcks(queue, items), l);
    this.nacks = new Batcher((queue, items) => this.sendNacks(queue, items), l);
  }

  /** Acknowledge one message; resolves once the ack is durable, rejects with its own error. */
  ack(queue: string, id: string, leaseId = ""): Promise<void> {
    return this.acks.submit(queue, { id, leaseId }, id.length + leaseId.length + 8);
  }

  /** Report one failed delivery; the queue's on_failure hook (or retry with backoff) decides. */
  nack(queue: string, id: string, error = "", leaseId = ""): Promise<void> {
    return this.nacks.submit(queue, { id, leaseId, error }, id.length + leaseId.length + error.length + 12);
  }

  private async sendAcks(queue: string, items: AckItem[]): Promise<Array<void | Error>> {
    const messageIds = items.map((i) => i.id);
    const leaseIds = items.some((i) => i.leaseId) ? items.map((i) => i.leaseId) : [];
    const req = { queue, messageIds, leaseIds };
    const r = await this.conn.unary<{ results: ItemResult[] }>(
      (n, md, o, cb) => n.hot.ackBatch(req, md, o, cb), {}, "message");
    return outcomes(r.results);
  }

  private async sendNacks(queue: string, items: NackItem[]): Promise<Array<void | Error>> {
    const req = { queue, items: items.map((i) => ({ messageId: i.id, error: i.error, leaseId: i.leaseId })) };
    const r = await this.conn.unary<{ results: ItemResult[] }>(
      (n, md, o, cb) => n.hot.nackBatch(req, md, o, cb), {}, "message");
    return outcomes(r.results);
  }

  /** Push back the visibility timeout of leased messages: one outcome per id, in order. */
  async extend(queue: string, ids: string[], extendMs = 0, leaseIds: string[] = [],
               opts?: CallOptions): Promise<ItemOutcome[]> {
    if (leaseIds.length && leaseIds.length !== ids.length) {
      throw new RangeError("leaseIds must be empty or as long as the message ids");
    }
    const out: ItemOutcome[] = [];
    const leaseChunks = leaseIds.length ? chunks(leaseIds) : [];
    for (const [i, part] of chunks(ids).entries()) {
      const req = { queue, messageIds: part, extendMs, leaseIds: leaseChunks[i] ?? [] };
      const r = await this.conn.unary<{ results: ItemResult[] }>(
        (n, md, o, cb) => n.hot.extendLease(req, md, o, cb), opts, "message");
      r.results.forEach((res, j) => {
        const id = res.messageId || part[j]!;
        out.push(res.error ? { ok: false, id, error: fromItemError(res.error, "message") } : { ok: true, id });
      });
    }
    return out;
  }

  /** Resolve once every ack and nack asked for so far has been answered. */
  async flush(): Promise<void> {
    await Promise.all([this.acks.flushAll(), this.nacks.flushAll()]);
  }
}
