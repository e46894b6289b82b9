/**
 * @fila/client: the TypeScript/JavaScript SDK of the Fila message broker (gRPC `fila.v1`).
 *
 * Start with `new Client({ addr })`: `enqueue` / `enqueueBatch` / `producer()` to produce,
 * `lease()` (an async iterator) or `subscribe()` (a handler) to consume, and the admin calls
 * (`createQueue`, `setThrottle`, `getStats`, ...). Every error is a `FilaError`.
 */
export { Client, type FilaClientOptions } from "./client.js";
export type { CallOptions, ClientOptions, RetryOptions, TlsOptions } from "./connection.js";
export { Producer, DEFAULT_PRODUCER_OPTIONS, type ProducerOptions } from "./producer.js";
export {
  LeaseStream,
  LeasedMessage,
  DEFAULT_CREDIT,
  MAX_CREDIT,
  type AutoExtendOptions,
  type LeaseOptions,
} from "./lease.js";
export { Subscription, type Handler, type SubscribeOptions } from "./subscriber.js";
export type { BatchLimits } from "./batcher.js";
export { MAX_BATCH_ITEMS } from "./acks.js";
export { THROTTLE_PREFIX } from "./admin.js";
export {
  DLQ_SUFFIX,
  dlqName,
  type ApiKeyInfo,
  type EnqueueMessage,
  type EnqueueOutcome,
  type Explanation,
  type Headers,
  type HookStats,
  type ItemOutcome,
  type KeyStats,
  type Message,
  type Payload,
  type Permission,
  type QueueConfig,
  type QueueDescription,
  type QueueInfo,
  type QueueStats,
  type ThrottleStats,
} from "./types.js";
export {
  FilaError,
  AbortedError,
  AlreadyExistsError,
  DeadlineExceededError,
  FailedPreconditionError,
  InvalidArgumentError,
  MessageNotFoundError,
  NotFoundError,
  OverloadedError,
  PermissionDeniedError,
  QueueNotFoundError,
  UnauthenticatedError,
  UnavailableError,
  LEADER_ADDR_KEY,
  RETRY_AFTER_KEY,
  type FilaErrorOptions,
} from "./errors.js";
