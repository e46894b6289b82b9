package dev.fila.client;

import fila.v1.FilaAdminGrpc;
import fila.v1.FilaServiceGrpc;
import fila.v1.Service;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;

/**
 * A connection to a Fila broker: the hot path (enqueue, lease, ack, ...) and the admin API.
 * Thread-safe: make one per broker and share it. Close it when done: that sends the acks still
 * waiting in their batches and closes the connection.
 *
 * <pre>{@code
 * try (FilaClient fila = FilaClient.builder("127.0.0.1:5555").apiKey(key).build()) {
 *   String id = fila.enqueue("emails", payload, Map.of("tenant", "acme"));
 * }
 * }</pre>
 *
 * <p>The connection is made lazily and kept up by gRPC. Every call has a deadline (the
 * builder's {@link FilaClientBuilder#timeout}, 30s by default; {@link #withTimeout} for
 * others); a call made while the broker is unreachable is retried with backoff within it
 * ({@link RetryPolicy}). When a broker of a cluster answers that another node leads the queue
 * (the {@value #LEADER_ADDR_KEY} trailer), the client dials that node and sends the call there.
 * Every failure is a {@link FilaException}.
 */
public final class FilaClient implements AutoCloseable {
  /** The default deadline of every call. */
  public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(30);
  /**
   * The trailer a broker of a cluster sends with {@code UNAVAILABLE} when another node leads the
   * queue: that node's address. The client follows it by itself.
   */
  public static final String LEADER_ADDR_KEY = "x-fila-leader-addr";
  /** Ends the name of every dead-letter queue: queue q's is q + ".dlq". */
  public static final String DLQ_SUFFIX = ".dlq";

  private final Core core;
  private final Duration timeout;
  private final boolean owner; // false for a withTimeout view: closing it closes nothing

  private FilaClient(Core core, Duration timeout, boolean owner) {
    this.core = core;
    this.timeout = timeout;
    this.owner = owner;
  }

  /** A view of a core with its default timeout (for the SDK's own classes). */
  static FilaClient of(Core core) {
    return new FilaClient(core, core.opts.timeout(), false);
  }

  /** A builder of a client of the broker at {@code addr} ("host:port"). */
  public static FilaClientBuilder builder(String addr) {
    return new FilaClientBuilder(addr);
  }

  static FilaClient owning(Core core, Duration timeout) {
    return new FilaClient(core, timeout, true);
  }

  /** The name of queue's dead-letter queue. */
  public static String dlqName(String queue) {
    return queue + DLQ_SUFFIX;
  }

  /**
   * This client with another deadline for its calls: it shares the connection, batches and
   * consumers of this one; closing it closes nothing (close the original).
   * {@link Duration#ZERO} means no deadline.
   */
  public FilaClient withTimeout(Duration timeout) {
    return new FilaClient(core, timeout, false);
  }

  /** The deadline this client gives its calls. */
  public Duration timeout() {
    return timeout;
  }

  /** Where calls go now: the builder's address, or the leader the client was redirected to. */
  public String addr() {
    return core.current().addr();
  }

  // -- produce ---------------------------------------------------------------------------------

  /**
   * Sends one message and returns its id once the broker has it on disk.
   *
   * @throws QueueNotFoundException if the queue does not exist
   * @throws OverloadedException if the broker is full
   */
  public String enqueue(String queue, byte[] payload, Map<String, String> headers) {
    OutgoingMessage m = new OutgoingMessage(queue, headers, payload);
    Service.EnqueueRequest req = Service.EnqueueRequest.newBuilder().setQueue(m.queue())
        .putAllHeaders(m.headers())
        .setPayload(com.google.protobuf.ByteString.copyFrom(m.payload())).build();
    return core.invoke("Enqueue", timeout, (cn, d) -> cn.svc(d).enqueue(req)).getMessageId();
  }

  /** {@link #enqueue(String, byte[], Map)} without headers. */
  public String enqueue(String queue, byte[] payload) {
    return enqueue(queue, payload, Map.of());
  }

  /**
   * Sends many messages (at most 10,000) in one {@code EnqueueBatch} call and returns a result
   * per message, in order: one refused message does not fail the others. For batching done for
   * you, across threads, use a {@link Producer}.
   *
   * @throws FilaException for the call as a whole (nothing was enqueued, or, for
   *     {@link UnavailableException}, possibly some)
   */
  public List<EnqueueResult> enqueueBatch(List<OutgoingMessage> messages) {
    if (messages.isEmpty()) {
      return List.of();
    }
    List<Service.EnqueueRequest> reqs = new ArrayList<>(messages.size());
    for (OutgoingMessage m : messages) {
      reqs.add(Service.EnqueueRequest.newBuilder().setQueue(m.queue()).putAllHeaders(m.headers())
          .setPayload(com.google.protobuf.ByteString.copyFrom(m.payload())).build());
    }
    core.checkOpen();
    List<EnqueueResult> out = new ArrayList<>(reqs.size());
    for (Batcher.Outcome<String> o : core.calls.enqueueBatch(reqs, Core.deadline(timeout))) {
      out.add(new EnqueueResult(o.value(), o.error()));
    }
    return out;
  }

  /** A batching producer with the default {@link ProducerSettings}. */
  public Producer newProducer() {
    return newProducer(ProducerSettings.DEFAULT);
  }

  /** A batching producer: many threads publish, each hears the outcome of its own message. */
  public Producer newProducer(ProducerSettings settings) {
    core.checkOpen();
    return new Producer(core, timeout, settings);
  }

  // -- consume ---------------------------------------------------------------------------------

  /** {@link #lease(String, ConsumerSettings)} with the default settings (credit 100). */
  public Consumer lease(String queue) {
    return lease(queue, ConsumerSettings.DEFAULT);
  }

  /**
   * Opens the credit-controlled {@code Lease} stream on queue: the consumer holds at most
   * {@code settings.credit()} unacknowledged messages. Close it to stop. Against a broker
   * without the Lease stream it reads the classic Consume stream instead.
   */
  public Consumer lease(String queue, ConsumerSettings settings) {
    return Consumer.start(core, queue, settings, timeout, false);
  }

  /**
   * Opens the classic {@code Consume} stream on queue (the original broker's): the broker
   * pushes ready messages as fast as they are read, up to its own limit of unacknowledged ones;
   * the credit does not apply. Prefer {@link #lease}.
   */
  public Consumer consume(String queue, ConsumerSettings settings) {
    return Consumer.start(core, queue, settings, timeout, true);
  }

  /**
   * Leases messages from queue and calls handler for each, on {@code settings.handlerThreads()}
   * threads, until the subscription is closed or the stream fails for good. A handler that
   * returns acks its message; one that throws nacks it with the exception's message. Leases are
   * extended while handlers run.
   */
  public Subscription subscribe(String queue, ConsumerSettings settings, MessageHandler handler) {
    return subscribe(queue, settings, null, handler);
  }

  /** {@link #subscribe(String, ConsumerSettings, MessageHandler)} on your own executor. */
  public Subscription subscribe(String queue, ConsumerSettings settings, ExecutorService executor,
      MessageHandler handler) {
    ConsumerSettings s = settings == null ? ConsumerSettings.DEFAULT : settings;
    return new Subscription(lease(queue, s), handler, executor, s.handlerThreads());
  }

  /**
   * Acknowledges (deletes) a leased message and returns once the ack is on disk. With the
   * lease id it was delivered with, the broker refuses ({@link FailedPreconditionException}) an
   * ack whose lease expired and whose message went to another consumer since. Acks made at about
   * the same time travel together in one {@code AckBatch} RPC.
   *
   * @throws MessageNotFoundException if the message is not leased (unknown, already acked, or
   *     its lease expired)
   */
  public void ack(String queue, String messageId, String leaseId) {
    Producer.await(ackAsync(queue, messageId, leaseId));
  }

  /** {@link #ack} without waiting: the future completes with its outcome. */
  public CompletableFuture<Void> ackAsync(String queue, String messageId, String leaseId) {
    Calls.AckItem item = new Calls.AckItem(messageId, leaseId == null ? "" : leaseId);
    return core.acks.submit(queue, item, item.size());
  }

  /**
   * Reports that processing a leased message failed, with why: the queue's {@code on_failure}
   * hook or its retry policy decides what happens next. Batched like acks.
   */
  public void nack(String queue, String messageId, String leaseId, String reason) {
    Producer.await(nackAsync(queue, messageId, leaseId, reason));
  }

  /** {@link #nack} without waiting: the future completes with its outcome. */
  public CompletableFuture<Void> nackAsync(String queue, String messageId, String leaseId,
      String reason) {
    Calls.NackItem item = new Calls.NackItem(messageId, leaseId == null ? "" : leaseId,
        reason == null ? "" : reason);
    return core.nacks.submit(queue, item, item.size());
  }

  /**
   * Makes the leases of messages end {@code extend} from now ({@link Duration#ZERO}: the queue's
   * visibility timeout), for work that takes longer than that. Consumers extend the leases of
   * the messages they hold by themselves.
   *
   * @return one result per lease, in order
   */
  public List<ItemResult> extendLease(String queue, List<LeaseRef> leases, Duration extend) {
    core.checkOpen();
    return core.calls.extendLease(queue, leases, extend, Core.deadline(timeout));
  }

  // -- queues ----------------------------------------------------------------------------------

  /** Creates a queue with the default settings (and its dead-letter queue). */
  public void createQueue(String name) {
    createQueue(name, QueueConfig.DEFAULT);
  }

  /**
   * Creates a queue, and its dead-letter queue {@code name + ".dlq"}.
   *
   * @throws AlreadyExistsException if it exists
   * @throws InvalidArgumentException if a script does not compile
   */
  public void createQueue(String name, QueueConfig config) {
    AdminCalls.createQueue(core, timeout, name, config);
  }

  /**
   * Replaces a queue's scripts and settings as a whole (a zero field goes back to its
   * default): start from {@code getQueue(name).config().toBuilder()} to change one. A bad
   * script changes nothing.
   */
  public void updateQueue(String name, QueueConfig config) {
    AdminCalls.updateQueue(core, timeout, name, config);
  }

  /** A queue's settings, defaults filled in. */
  public QueueDescription getQueue(String name) {
    return AdminCalls.getQueue(core, timeout, name);
  }

  /** Deletes a queue, its dead-letter queue and every message in them. */
  public void deleteQueue(String name) {
    AdminCalls.deleteQueue(core, timeout, name);
  }

  /** Every queue the client may see. */
  public List<QueueInfo> listQueues() {
    return AdminCalls.listQueues(core, timeout);
  }

  // -- runtime config --------------------------------------------------------------------------

  /** Sets a runtime config key (hooks read it with {@code fila.get}); "" deletes it. */
  public void setConfig(String key, String value) {
    AdminCalls.setConfig(core, timeout, key, value);
  }

  /**
   * A runtime config value.
   *
   * @throws NotFoundException if the key is not set
   */
  public String getConfig(String key) {
    return AdminCalls.getConfig(core, timeout, key);
  }

  /** Every runtime config key starting with prefix, and its value. */
  public Map<String, String> listConfig(String prefix) {
    return AdminCalls.listConfig(core, timeout, prefix);
  }

  /**
   * Gives throttle key {@code key} a token bucket: {@code ratePerSecond} tokens a second, at
   * most {@code burst} of them ({@code burst <= 0}: max(1, rate)). It is the runtime config
   * entry {@code throttle.<key> = "<rate>,<burst>"}; every queue whose messages name the key
   * shares it.
   */
  public void setThrottle(String key, double ratePerSecond, double burst) {
    double b = burst > 0 ? burst : Math.max(1, ratePerSecond);
    setConfig("throttle." + key, num(ratePerSecond) + "," + num(b));
  }

  private static String num(double v) {
    return v == Math.rint(v) && Math.abs(v) < 1e15 ? Long.toString((long) v) : Double.toString(v);
  }

  /** Removes the token bucket of a throttle key: its messages are no longer limited. */
  public void clearThrottle(String key) {
    setConfig("throttle." + key, "");
  }

  // -- inspect ---------------------------------------------------------------------------------

  /** A queue's depth, in-flight count, consumers, fairness keys, throttles, hooks and totals. */
  public QueueStats getStats(String queue) {
    return AdminCalls.getStats(core, timeout, queue);
  }

  /**
   * Up to limit (0: 100) messages of a queue, oldest first, without leasing them (a
   * dead-letter queue's, say).
   */
  public List<Message> peek(String queue, int limit) {
    return AdminCalls.peek(core, timeout, queue, limit);
  }

  /**
   * Moves up to count (0: all) ready messages of a dead-letter queue back to its queue, oldest
   * first.
   *
   * @return how many moved
   */
  public long redrive(String dlq, long count) {
    return AdminCalls.redrive(core, timeout, dlq, count);
  }

  /** Why a fairness key of a queue is waiting, in plain words from live state. */
  public Explanation explain(String queue, String fairnessKey) {
    return AdminCalls.explain(core, timeout, queue, fairnessKey);
  }

  // -- API keys --------------------------------------------------------------------------------

  /**
   * Creates an API key (superadmins only); the secret is shown only this once. A new key may do
   * nothing until {@link #setAcl} gives it permissions.
   *
   * @param expiresAt when it expires, or null for never
   */
  public CreatedApiKey createApiKey(String name, Instant expiresAt, boolean superadmin) {
    return AdminCalls.createApiKey(core, timeout, name, expiresAt, superadmin);
  }

  /** Deletes a key: its next call fails, and its open streams end. */
  public void revokeApiKey(String keyId) {
    AdminCalls.revokeApiKey(core, timeout, keyId);
  }

  /** Every API key (never their secrets). */
  public List<ApiKey> listApiKeys() {
    return AdminCalls.listApiKeys(core, timeout);
  }

  /** Replaces the permissions of an API key. */
  public void setAcl(String keyId, List<Permission> permissions) {
    AdminCalls.setAcl(core, timeout, keyId, permissions);
  }

  /** The permissions of an API key. */
  public Acl getAcl(String keyId) {
    return AdminCalls.getAcl(core, timeout, keyId);
  }

  // -- the rest --------------------------------------------------------------------------------

  /**
   * The generated {@code FilaService} stub on the current connection: an escape hatch for what
   * the SDK does not wrap. Calls made on it get no deadline, retries or error mapping.
   */
  public FilaServiceGrpc.FilaServiceBlockingStub serviceStub() {
    return core.current().svc();
  }

  /** The generated {@code FilaAdmin} stub on the current connection (see {@link #serviceStub}). */
  public FilaAdminGrpc.FilaAdminBlockingStub adminStub() {
    return core.current().admin();
  }

  /**
   * Sends the acks and nacks still waiting in their batches, waits for their answers (at most
   * the client's timeout) and closes the connections. Close the client's consumers and
   * producers first. Closing a {@link #withTimeout} view does nothing.
   */
  @Override
  public void close() {
    if (owner) {
      core.close();
    }
  }
}
