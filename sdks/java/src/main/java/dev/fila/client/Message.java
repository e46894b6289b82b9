package dev.fila.client;

import com.google.protobuf.Timestamp;
import fila.v1.Messages;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;

/**
 * A message as the broker delivered it (from a {@link Consumer} or {@link Subscription}) or
 * showed it ({@link FilaClient#peek}). Thread-safe.
 *
 * <p>Settle every delivered message with {@link #ack()} or {@link #nack(String)}: until then it
 * counts against its consumer's credit and its lease is extended. Acks and nacks travel in
 * batches ({@code AckBatch} / {@code NackBatch}) with the message's lease id; only the first
 * ack or nack of a message counts.
 */
public final class Message {
  private final String id;
  private final String queue;
  private final Map<String, String> headers;
  private final byte[] payload;
  private final String fairnessKey;
  private final int weight;
  private final List<String> throttleKeys;
  private final int attemptCount;
  private final String lastError;
  private final String leaseId;
  private final Instant enqueuedAt;
  private final Instant leasedAt;

  private final Core core;
  final Consumer consumer; // null for a peeked message
  final long generation; // the consumer's stream it came on
  final long receivedNanos; // when the client read it (System.nanoTime)

  private CompletableFuture<Void> settled; // guarded by this

  Message(Messages.Message m, Core core, Consumer consumer, long generation, String queue) {
    Messages.MessageMetadata md = m.getMetadata();
    this.id = m.getId();
    this.queue = md.getQueueId().isEmpty() ? queue : md.getQueueId();
    this.headers = Map.copyOf(m.getHeadersMap());
    this.payload = m.getPayload().toByteArray();
    this.fairnessKey = md.getFairnessKey();
    this.weight = md.getWeight();
    this.throttleKeys = List.copyOf(md.getThrottleKeysList());
    this.attemptCount = md.getAttemptCount();
    this.lastError = md.getLastError();
    this.leaseId = md.getLeaseId();
    this.enqueuedAt = instant(m.getTimestamps().getEnqueuedAt());
    this.leasedAt = instant(m.getTimestamps().getLeasedAt());
    this.core = core;
    this.consumer = consumer;
    this.generation = generation;
    this.receivedNanos = System.nanoTime();
  }

  private static Instant instant(Timestamp t) {
    // The original broker sent zeros: no time.
    return t.getSeconds() == 0 && t.getNanos() == 0
        ? null : Instant.ofEpochSecond(t.getSeconds(), t.getNanos());
  }

  /** The broker-assigned id, the same on every delivery: a good deduplication key. */
  public String id() {
    return id;
  }

  /** The queue the message is in. */
  public String queue() {
    return queue;
  }

  /** The headers it was enqueued with (immutable). */
  public Map<String, String> headers() {
    return headers;
  }

  /** The payload (a copy of the bytes the broker sent; yours to change). */
  public byte[] payload() {
    return payload;
  }

  /** The fairness key the queue's {@code on_enqueue} hook gave it (by default "default"). */
  public String fairnessKey() {
    return fairnessKey;
  }

  /** Its weight in the fair scheduler (from the hook; default 1). */
  public int weight() {
    return weight;
  }

  /** The throttle keys whose token buckets it waits for (from the hook). */
  public List<String> throttleKeys() {
    return throttleKeys;
  }

  /** 0 on the first delivery; counts the failures (nacks and expired leases) since. */
  public int attemptCount() {
    return attemptCount;
  }

  /** Why the last attempt failed ("" when none did). */
  public String lastError() {
    return lastError;
  }

  /**
   * This delivery's lease id: acks and nacks send it back, so that the broker refuses them if
   * the lease expired and the message was delivered to someone else since.
   */
  public String leaseId() {
    return leaseId;
  }

  /** When the broker accepted the message. */
  public Optional<Instant> enqueuedAt() {
    return Optional.ofNullable(enqueuedAt);
  }

  /** When this lease began. */
  public Optional<Instant> leasedAt() {
    return Optional.ofNullable(leasedAt);
  }

  /**
   * Acknowledges the message: it is done, and deleted. Returns at once (acks travel in
   * batches); a failed ack (say its lease expired) means the message is delivered again. Use
   * {@link #ackAsync()} to learn the outcome.
   */
  public void ack() {
    ackAsync();
  }

  /**
   * Acks and returns the outcome to come: completes once the ack is on the broker's disk, or
   * exceptionally with a {@link FilaException} (a {@link FailedPreconditionException} when the
   * lease was lost). Only the first ack or nack counts: later calls return its outcome.
   */
  public CompletableFuture<Void> ackAsync() {
    return settle(() -> {
      Calls.AckItem item = new Calls.AckItem(id, leaseId);
      return core.acks.submit(queue, item, item.size());
    });
  }

  /**
   * Reports that processing failed, with why: the queue's {@code on_failure} hook or its retry
   * policy decides what next (retry after a delay, or the dead-letter queue). Returns at once.
   */
  public void nack(String reason) {
    nackAsync(reason);
  }

  /** Nacks and returns the outcome to come (see {@link #ackAsync()}). */
  public CompletableFuture<Void> nackAsync(String reason) {
    return settle(() -> {
      Calls.NackItem item = new Calls.NackItem(id, leaseId, reason == null ? "" : reason);
      return core.nacks.submit(queue, item, item.size());
    });
  }

  /** Whether the message was acked or nacked. */
  public synchronized boolean isSettled() {
    return settled != null;
  }

  /**
   * Makes this message's lease end {@code extend} from now ({@link Duration#ZERO}: the queue's
   * visibility timeout). A consumer does this by itself for the messages it holds.
   *
   * @throws FilaException why the lease could not be extended (e.g. it was lost)
   */
  public void extendLease(Duration extend) {
    FilaClient.of(core).extendLease(queue, List.of(new LeaseRef(id, leaseId)), extend)
        .get(0).orThrow();
  }

  private CompletableFuture<Void> settle(java.util.function.Supplier<CompletableFuture<Void>> s) {
    synchronized (this) {
      if (settled != null) {
        return settled;
      }
      if (consumer != null) {
        consumer.release(this);
      }
      try {
        settled = s.get();
      } catch (RuntimeException e) {
        settled = CompletableFuture.failedFuture(Errors.from("Ack", e));
      }
      if (consumer != null) {
        consumer.countAck(settled);
      }
      return settled;
    }
  }

  @Override
  public String toString() {
    return "Message[id=" + id + ", queue=" + queue + ", fairnessKey=" + fairnessKey
        + ", attemptCount=" + attemptCount + ", payload=" + payload.length + " bytes]";
  }
}
