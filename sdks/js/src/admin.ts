/** The FilaAdmin calls: queues, runtime config, throttles, stats, dead letters, API keys. */
import type { CallOptions, Connection } from "./connection.js";
import type * as adminPb from "./gen/fila/v1/admin.js";
import {
  configFromPb,
  configToPb,
  messageFrom,
  statsFromPb,
  type ApiKeyInfo,
  type Explanation,
  type Message,
  type Permission,
  type QueueConfig,
  type QueueDescription,
  type QueueInfo,
  type QueueStats,
} from "./types.js";

/** The prefix of the runtime config keys that hold throttle rates ("throttle.<key>" = "rate,burst"). */
export const THROTTLE_PREFIX = "throttle.";

/** A number as the broker's config parser and Python's `%g` write it: 100, 0.1, 2.5. */
function num(n: number): string {
  if (!Number.isFinite(n) || n < 0) throw new RangeError(`not a rate: ${n}`);
  return String(Number(n.toPrecision(6)));
}

export class AdminApi {
  protected constructor(protected readonly conn: Connection) {}

  /** Create a queue (and its dead-letter queue `<name>.dlq`); resolves with the queue's id. */
  async createQueue(name: string, config: QueueConfig = {}, opts?: CallOptions): Promise<string> {
    const req = { name, config: configToPb(config) };
    const r = await this.conn.unary<{ queueId: string }>(
      (n, md, o, cb) => n.admin.createQueue(req, md, o, cb), opts, "queue");
    return r.queueId;
  }

  /**
   * Replace a queue's scripts and settings (a script that does not compile changes nothing).
   * This replaces the whole configuration: a setting left out goes back to its default; to
   * change one, start from `(await getQueue(name)).config`.
   */
  async updateQueue(name: string, config: QueueConfig = {}, opts?: CallOptions): Promise<void> {
    const req = { name, config: configToPb(config) };
    await this.conn.unary((n, md, o, cb) => n.admin.updateQueue(req, md, o, cb), opts, "queue");
  }

  /** A queue's settings (defaults filled in) and, for a DLQ, the queue it serves. */
  async getQueue(name: string, opts?: CallOptions): Promise<QueueDescription> {
    const r = await this.conn.unary<adminPb.GetQueueResponse>(
      (n, md, o, cb) => n.admin.getQueue({ name }, md, o, cb), opts, "queue");
    return { name: r.name, config: configFromPb(r.config), dlqOf: r.dlqOf };
  }

  /** Delete a queue, its dead-letter queue and every message in them. */
  async deleteQueue(name: string, opts?: CallOptions): Promise<void> {
    await this.conn.unary((n, md, o, cb) => n.admin.deleteQueue({ queue: name }, md, o, cb), opts, "queue");
  }

  /** Every queue this client may see, with its depth, in-flight messages and consumers. */
  async listQueues(opts?: CallOptions): Promise<QueueInfo[]> {
    const r = await this.conn.unary<adminPb.ListQueuesResponse>(
      (n, md, o, cb) => n.admin.listQueues({}, md, o, cb), opts);
    return r.queues.map((q) => ({
      name: q.name, depth: q.depth, inFlight: q.inFlight, activeConsumers: q.activeConsumers,
    }));
  }

  /** Set a runtime config key (read by Lua hooks with fila.get); an empty value deletes it. */
  async setConfig(key: string, value: string, opts?: CallOptions): Promise<void> {
    await this.conn.unary((n, md, o, cb) => n.admin.setConfig({ key, value }, md, o, cb), opts);
  }

  /** A runtime config value; rejects with NotFoundError if the key is not set. */
  async getConfig(key: string, opts?: CallOptions): Promise<string> {
    const r = await this.conn.unary<{ value: string }>(
      (n, md, o, cb) => n.admin.getConfig({ key }, md, o, cb), opts);
    return r.value;
  }

  /** Every runtime config key starting with `prefix`, and its value. */
  async listConfig(prefix = "", opts?: CallOptions): Promise<Record<string, string>> {
    const r = await this.conn.unary<adminPb.ListConfigResponse>(
      (n, md, o, cb) => n.admin.listConfig({ prefix }, md, o, cb), opts);
    return Object.fromEntries(r.entries.map((e) => [e.key, e.value]));
  }

  /**
   * Limit throttle key `key` to `ratePerSecond` deliveries per second, in bursts of up to
   * `burst` (default max(1, rate)): the runtime config entry `throttle.<key>` = "rate,burst".
   */
  async setThrottle(key: string, ratePerSecond: number, burst?: number, opts?: CallOptions): Promise<void> {
    const b = burst ?? Math.max(1, ratePerSecond);
    await this.setConfig(THROTTLE_PREFIX + key, `${num(ratePerSecond)},${num(b)}`, opts);
  }

  /** Remove the throttle on `key`: its messages are no longer limited. */
  async removeThrottle(key: string, opts?: CallOptions): Promise<void> {
    await this.setConfig(THROTTLE_PREFIX + key, "", opts);
  }

  /** A queue's depth, in-flight, consumers, fairness keys, throttles and hooks. */
  async getStats(queue: string, opts?: CallOptions): Promise<QueueStats> {
    const r = await this.conn.unary<adminPb.GetStatsResponse>(
      (n, md, o, cb) => n.admin.getStats({ queue }, md, o, cb), opts, "queue");
    return statsFromPb(r);
  }

  /** Move up to `count` (0: all) messages from a dead-letter queue back to its queue. */
  async redrive(dlqQueue: string, count = 0, opts?: CallOptions): Promise<number> {
    const r = await this.conn.unary<{ redriven: number }>(
      (n, md, o, cb) => n.admin.redrive({ dlqQueue, count }, md, o, cb), opts, "queue");
    return r.redriven;
  }

  /** Up to `limit` (at most 100 when 0) messages of a queue, oldest first, without leasing them. */
  async peek(queue: string, limit = 100, opts?: CallOptions): Promise<Message[]> {
    const r = await this.conn.unary<adminPb.PeekMessagesResponse>(
      (n, md, o, cb) => n.admin.peekMessages({ queue, limit }, md, o, cb), opts, "queue");
    return r.messages.map(messageFrom);
  }

  /** Why is `fairnessKey` waiting in `queue`? In plain words (`summary`, `reasons`). */
  async explain(queue: string, fairnessKey: string, opts?: CallOptions): Promise<Explanation> {
    return this.conn.unary<Explanation>(
      (n, md, o, cb) => n.admin.explain({ queue, fairnessKey }, md, o, cb), opts, "queue");
  }

  /** Create an API key; the key itself is shown only this once. */
  async createApiKey(name: string, options: { expiresAtMs?: number; superadmin?: boolean } = {},
                     opts?: CallOptions): Promise<{ keyId: string; key: string }> {
    const req = { name, expiresAtMs: options.expiresAtMs ?? 0, isSuperadmin: options.superadmin ?? false };
    const r = await this.conn.unary<{ keyId: string; key: string }>(
      (n, md, o, cb) => n.admin.createApiKey(req, md, o, cb), opts);
    return { keyId: r.keyId, key: r.key };
  }

  /** Revoke a key: its next call fails, and its open streams end. */
  async revokeApiKey(keyId: string, opts?: CallOptions): Promise<void> {
    await this.conn.unary((n, md, o, cb) => n.admin.revokeApiKey({ keyId }, md, o, cb), opts);
  }

  /** The API keys (never the keys themselves). */
  async listApiKeys(opts?: CallOptions): Promise<ApiKeyInfo[]> {
    const r = await this.conn.unary<{ keys: ApiKeyInfo[] }>(
      (n, md, o, cb) => n.admin.listApiKeys({}, md, o, cb), opts);
    return r.keys.map((k) => ({ ...k }));
  }

  /** Replace a key's permissions: produce / consume / admin on queue patterns. */
  async setAcl(keyId: string, permissions: Permission[], opts?: CallOptions): Promise<void> {
    const req = { keyId, permissions: permissions.map((p) => ({ kind: p.kind, pattern: p.pattern })) };
    await this.conn.unary((n, md, o, cb) => n.admin.setAcl(req, md, o, cb), opts);
  }

  /** A key's permissions, and whether it is a superadmin. */
  async getAcl(keyId: string, opts?: CallOptions): Promise<{ permissions: Permission[]; isSuperadmin: boolean }> {
    const r = await this.conn.unary<adminPb.GetAclResponse>(
      (n, md, o, cb) => n.admin.getAcl({ keyId }, md, o, cb), opts);
    return {
      permissions: r.permissions.map((p) => ({ kind: p.kind as Permission["kind"], pattern: p.pattern })),
      isSuperadmin: r.isSuperadmin,
    };
  }
}
