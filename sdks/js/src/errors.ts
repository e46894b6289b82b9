/**
 * Fila's errors: one root class, `FilaError`, and a subclass per gRPC status the broker
 * answers with (docs/api.md, "Errors"). The broker names the thing at fault in the message;
 * for NOT_FOUND that tells a missing queue from a message that is not (or no longer) leased.
 *
 *     FilaError
 *     ├── InvalidArgumentError       bad input: the message names the field
 *     ├── NotFoundError              no such queue, leased message, config key or API key
 *     │   ├── QueueNotFoundError
 *     │   └── MessageNotFoundError
 *     ├── AlreadyExistsError         a queue created twice
 *     ├── FailedPreconditionError    well formed but not allowed now (e.g. a stale lease id)
 *     ├── OverloadedError            RESOURCE_EXHAUSTED: retry after `retryAfterMs`
 *     ├── UnavailableError           the broker is unreachable, or its storage cannot write
 *     ├── UnauthenticatedError       no API key, or one that is unknown, revoked or expired
 *     ├── PermissionDeniedError      the key's ACL does not allow this
 *     ├── AbortedError               the broker closed a stream that made no progress
 *     └── DeadlineExceededError      the call's deadline passed
 */
import { Metadata, status, type ServiceError } from "@grpc/grpc-js";

/** The trailer the broker sends with RESOURCE_EXHAUSTED: how long to wait before retrying. */
export const RETRY_AFTER_KEY = "retry-after-ms";
/** The trailer a cluster node sends with UNAVAILABLE: the address of the queue's leader. */
export const LEADER_ADDR_KEY = "x-fila-leader-addr";
/** What the broker suggests when it sends no retry-after-ms (docs/api.md). */
export const DEFAULT_RETRY_AFTER_MS = 100;

export interface FilaErrorOptions {
  /** The gRPC status code (`status.NOT_FOUND` ...). */
  code?: number;
  /** Trailing metadata of the failed call, if any. */
  metadata?: Metadata;
  cause?: unknown;
}

/** The root of every error this SDK raises for a broker answer or a failed call. */
export class FilaError extends Error {
  /** The gRPC status code (see `status` in @grpc/grpc-js). */
  readonly code: number;
  /** The status code's name, e.g. "NOT_FOUND". */
  readonly codeName: string;
  /** The trailing metadata of the failed call (empty for a failed item of a batch). */
  readonly metadata: Metadata;

  constructor(message: string, options: FilaErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = options.code ?? status.UNKNOWN;
    this.codeName = status[this.code] ?? "UNKNOWN";
    this.metadata = options.metadata ?? new Metadata();
  }
}

export class InvalidArgumentError extends FilaError {}
export class NotFoundError extends FilaError {}
/** The queue does not exist (or was deleted while a stream was open on it). */
export class QueueNotFoundError extends NotFoundError {}
/** The message is not leased from that queue: unknown, already acked, or its lease expired. */
export class MessageNotFoundError extends NotFoundError {}
export class AlreadyExistsError extends FilaError {}
export class FailedPreconditionError extends FilaError {}
export class UnavailableError extends FilaError {}
export class UnauthenticatedError extends FilaError {}
export class PermissionDeniedError extends FilaError {}
export class AbortedError extends FilaError {}
export class DeadlineExceededError extends FilaError {}

/** RESOURCE_EXHAUSTED: the broker is overloaded; wait `retryAfterMs` and retry. */
export class OverloadedError extends FilaError {
  /** From the `retry-after-ms` trailer (100 when the broker sent none). */
  readonly retryAfterMs: number;

  constructor(message: string, options: FilaErrorOptions & { retryAfterMs?: number } = {}) {
    super(message, options);
    this.retryAfterMs = options.retryAfterMs ?? DEFAULT_RETRY_AFTER_MS;
  }
}

/** What a NOT_FOUND is about when its message does not say: the RPC's subject. */
export type NotFoundHint = "queue" | "message" | undefined;

const QUEUE_MISSING = /^queue .* (does not exist|was deleted)/;
const MESSAGE_MISSING = /^message .* is not leased/;

function notFound(message: string, options: FilaErrorOptions, hint: NotFoundHint): FilaError {
  if (QUEUE_MISSING.test(message)) return new QueueNotFoundError(message, options);
  if (MESSAGE_MISSING.test(message)) return new MessageNotFoundError(message, options);
  if (hint === "queue") return new QueueNotFoundError(message, options);
  if (hint === "message") return new MessageNotFoundError(message, options);
  return new NotFoundError(message, options);
}

function firstValue(md: Metadata, key: string): string | undefined {
  const v = md.get(key)[0];
  return v === undefined ? undefined : v.toString();
}

/** The error for a gRPC status code, its message and trailers. */
export function errorFor(code: number, message: string, metadata?: Metadata, hint?: NotFoundHint,
                         cause?: unknown): FilaError {
  const options: FilaErrorOptions = { code, metadata, cause };
  const text = message || (status[code] ?? "UNKNOWN");
  switch (code) {
    case status.INVALID_ARGUMENT:
      return new InvalidArgumentError(text, options);
    case status.NOT_FOUND:
      return notFound(text, options, hint);
    case status.ALREADY_EXISTS:
      return new AlreadyExistsError(text, options);
    case status.FAILED_PRECONDITION:
      return new FailedPreconditionError(text, options);
    case status.RESOURCE_EXHAUSTED: {
      const raw = metadata && firstValue(metadata, RETRY_AFTER_KEY);
      const ms = raw === undefined ? NaN : Number(raw);
      return new OverloadedError(text, { ...options, retryAfterMs: Number.isFinite(ms) ? ms : undefined });
    }
    case status.UNAVAILABLE:
      return new UnavailableError(text, options);
    case status.UNAUTHENTICATED:
      return new UnauthenticatedError(text, options);
    case status.PERMISSION_DENIED:
      return new PermissionDeniedError(text, options);
    case status.ABORTED:
      return new AbortedError(text, options);
    case status.DEADLINE_EXCEEDED:
      return new DeadlineExceededError(text, options);
    default:
      return new FilaError(text, options);
  }
}

/** Translate a failed gRPC call (a ServiceError from @grpc/grpc-js) into a FilaError. */
export function fromServiceError(err: ServiceError, hint?: NotFoundHint): FilaError {
  return errorFor(err.code, err.details, err.metadata, hint, err);
}

/** The error of one failed item of a batch RPC (its `code` is a status code name). */
export function fromItemError(item: { code: string; message: string }, hint?: NotFoundHint): FilaError {
  const code = (status as unknown as Record<string, number | undefined>)[item.code] ?? status.UNKNOWN;
  return errorFor(code, item.message || item.code, undefined, hint);
}

/** The leader address a cluster node named in its trailers, if any. */
export function leaderAddrOf(err: { metadata?: Metadata }): string | undefined {
  return err.metadata ? firstValue(err.metadata, LEADER_ADDR_KEY) : undefined;
}
