/** Plain views of what the broker takes and returns (the generated types stay inside). */
import type * as adminPb from "./gen/fila/v1/admin.js";
import type * as msgPb from "./gen/fila/v1/messages.js";

import type { FilaError } from "./errors.js";

/** What a message's payload may be given as; it is always delivered as a Buffer. */
export type Payload = Buffer | Uint8Array | string;
export type Headers = Record<string, string>;

/** A message as the broker delivers (or peeks) it. */
export interface Message {
  /** Broker-assigned, unique for the life of the data dir (UUIDv7 text). */
  readonly id: string;
  readonly queue: string;
  readonly headers: Readonly<Headers>;
  readonly payload: Buffer;
  /** Who the message is scheduled for (from the queue's on_enqueue hook; "default" without one). */
  readonly fairnessKey: string;
  readonly weight: number;
  readonly throttleKeys: readonly string[];
  /** 0 on the first delivery, 1 after one failure (nack or lease expiry), and so on. */
  readonly attemptCount: number;
  /** Why the last attempt failed (the nack's error, or "visibility timeout expired"). */
  readonly lastError: string;
  /** Identifies this lease; sent back with ack/nack/extend so a stale lease is refused. */
  readonly leaseId: string;
  readonly enqueuedAt: Date | undefined;
  readonly leasedAt: Date | undefined;
}

/** One message for `enqueueBatch`. */
export interface EnqueueMessage {
  queue: string;
  payload: Payload;
  headers?: Headers;
}

/** The outcome of one message of `enqueueBatch`: its id, or why it was refused. */
export type EnqueueOutcome = { ok: true; id: string } | { ok: false; error: FilaError };

/** The outcome of one id of a batch ack, nack or extendLease. */
export type ItemOutcome = { ok: true; id: string } | { ok: false; id: string; error: FilaError };

/** A queue's settings; 0 or "" (or leaving it out) means the broker's default. */
export interface QueueConfig {
  /** Lua source defining on_enqueue(msg): fairness key, weight, throttle keys. */
  onEnqueue?: string;
  /** Lua source defining on_failure(msg): retry or dead-letter. */
  onFailure?: string;
  /** Default 30,000. */
  visibilityTimeoutMs?: number;
  /** Failures before the default policy dead-letters a message (default 10). */
  maxAttempts?: number;
  retryBackoffBaseMs?: number;
  retryBackoffMaxMs?: number;
  luaInstructionBudget?: number;
  luaMemoryBytes?: number;
  luaTimeLimitMs?: number;
}

/** A queue as GetQueue describes it: settings with the defaults filled in. */
export interface QueueDescription {
  name: string;
  config: Required<QueueConfig>;
  /** For a dead-letter queue, the queue whose failures it holds; "" otherwise. */
  dlqOf: string;
}

export interface QueueInfo {
  name: string;
  depth: number;
  inFlight: number;
  activeConsumers: number;
}

export type KeyStats = adminPb.PerFairnessKeyStats;
export type ThrottleStats = adminPb.PerThrottleKeyStats;
export type HookStats = adminPb.HookStats;
export type Explanation = adminPb.ExplainResponse;

export interface QueueStats {
  /** Messages ready or waiting (not leased). */
  depth: number;
  inFlight: number;
  activeFairnessKeys: number;
  activeConsumers: number;
  quantum: number;
  ready: number;
  /** Waiting for a retry delay to pass. */
  delayed: number;
  dlqDepth: number;
  drrRounds: number;
  /** Per fairness key: pending, deficit, weight, delivery rate, fair and actual share. */
  keys: KeyStats[];
  throttles: ThrottleStats[];
  hooks: HookStats[];
  /** Totals since the broker started. */
  totals: {
    enqueued: number; leased: number; acked: number; nacked: number;
    expired: number; deadLettered: number; redriven: number;
  };
  deliveryRate: number;
  enqueueRate: number;
}

export interface ApiKeyInfo {
  keyId: string;
  name: string;
  createdAtMs: number;
  expiresAtMs: number;
  isSuperadmin: boolean;
}

/** One grant of an API key's ACL. */
export interface Permission {
  kind: "produce" | "consume" | "admin";
  /** "*", a queue name, or a prefix pattern such as "orders.*". */
  pattern: string;
}

export const DLQ_SUFFIX = ".dlq";

/** The name of a queue's dead-letter queue. */
export function dlqName(queue: string): string {
  return queue + DLQ_SUFFIX;
}

export function toBuffer(p: Payload): Buffer {
  if (typeof p === "string") return Buffer.from(p);
  if (Buffer.isBuffer(p)) return p;
  return Buffer.from(p.buffer, p.byteOffset, p.byteLength);
}

export function messageFrom(m: msgPb.Message): Message {
  const md = m.metadata;
  return {
    id: m.id,
    queue: md?.queueId ?? "",
    headers: m.headers,
    payload: m.payload,
    fairnessKey: md?.fairnessKey ?? "",
    weight: md?.weight ?? 0,
    throttleKeys: md?.throttleKeys ?? [],
    attemptCount: md?.attemptCount ?? 0,
    lastError: md?.lastError ?? "",
    leaseId: md?.leaseId ?? "",
    enqueuedAt: m.timestamps?.enqueuedAt,
    leasedAt: m.timestamps?.leasedAt,
  };
}

export function configToPb(c: QueueConfig = {}): adminPb.QueueConfig {
  return {
    onEnqueueScript: c.onEnqueue ?? "",
    onFailureScript: c.onFailure ?? "",
    visibilityTimeoutMs: c.visibilityTimeoutMs ?? 0,
    maxAttempts: c.maxAttempts ?? 0,
    retryBackoffBaseMs: c.retryBackoffBaseMs ?? 0,
    retryBackoffMaxMs: c.retryBackoffMaxMs ?? 0,
    luaInstructionBudget: c.luaInstructionBudget ?? 0,
    luaMemoryBytes: c.luaMemoryBytes ?? 0,
    luaTimeLimitMs: c.luaTimeLimitMs ?? 0,
  };
}

export function configFromPb(c: adminPb.QueueConfig | undefined): Required<QueueConfig> {
  return {
    onEnqueue: c?.onEnqueueScript ?? "",
    onFailure: c?.onFailureScript ?? "",
    visibilityTimeoutMs: c?.visibilityTimeoutMs ?? 0,
    maxAttempts: c?.maxAttempts ?? 0,
    retryBackoffBaseMs: c?.retryBackoffBaseMs ?? 0,
    retryBackoffMaxMs: c?.retryBackoffMaxMs ?? 0,
    luaInstructionBudget: c?.luaInstructionBudget ?? 0,
    luaMemoryBytes: c?.luaMemoryBytes ?? 0,
    luaTimeLimitMs: c?.luaTimeLimitMs ?? 0,
  };
}

export function statsFromPb(r: adminPb.GetStatsResponse): QueueStats {
  return {
    depth: r.depth,
    inFlight: r.inFlight,
    activeFairnessKeys: r.activeFairnessKeys,
    activeConsumers: r.activeConsumers,
    quantum: r.quantum,
    ready: r.ready,
    delayed: r.delayed,
    dlqDepth: r.dlqDepth,
    drrRounds: r.drrRounds,
    keys: r.perKeyStats,
    throttles: r.perThrottleStats,
    hooks: r.hooks,
    totals: {
      enqueued: r.enqueuedTotal, leased: r.leasedTotal, acked: r.ackedTotal, nacked: r.nackedTotal,
      expired: r.expiredTotal, deadLettered: r.deadLetteredTotal, redriven: r.redrivenTotal,
    },
    deliveryRate: r.deliveryRate,
    enqueueRate: r.enqueueRate,
  };
}
