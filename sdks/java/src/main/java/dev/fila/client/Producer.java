package dev.fila.client;

import fila.v1.Service;
import io.grpc.Status;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;

/**
 * Enqueues messages for many threads at once, in {@code EnqueueBatch} RPCs, and tells each
 * caller the outcome of its own message: its id once it is on the broker's disk, or why it was
 * refused. Batching adapts to load: a lone message goes at once; while a batch is in flight,
 * messages gather (up to {@link ProducerSettings#linger()}, {@code maxMessages} or
 * {@code maxBytes}) and go when it returns. Thread-safe. Close it to send what waits.
 *
 * <pre>{@code
 * try (Producer producer = client.newProducer()) {
 *   CompletableFuture<String> id = producer.publish(OutgoingMessage.of("emails", payload));
 *   String other = producer.enqueue("emails", payload, Map.of("tenant", "acme")); // waits
 * }
 * }</pre>
 */
public final class Producer implements AutoCloseable {
  private final Core core;
  private final Duration timeout;
  private final Batcher<Service.EnqueueRequest, String> batcher;

  Producer(Core core, Duration timeout, ProducerSettings s) {
    this.core = core;
    this.timeout = timeout;
    ProducerSettings ns = s == null ? ProducerSettings.DEFAULT : s;
    // One key for all queues: an EnqueueBatch carries each message's queue.
    this.batcher = new Batcher<>("producer", this::send,
        new Batcher.Limits(ns.linger(), ns.maxMessages(), ns.maxBytes(), ns.maxInFlight()),
        core.timers, core.workers);
  }

  private List<Batcher.Outcome<String>> send(String key, List<Service.EnqueueRequest> items) {
    return core.calls.enqueueBatch(items, Core.deadline(timeout));
  }

  /**
   * Queues msg for the next batch and returns at once. The future completes with the message's
   * id once it is on the broker's disk, or exceptionally with the {@link FilaException} that
   * refused this message alone ({@link QueueNotFoundException}, {@link OverloadedException},
   * ...), or {@link ClosedException} after {@link #close()}.
   */
  public CompletableFuture<String> publish(OutgoingMessage msg) {
    if (core.isClosed()) {
      return CompletableFuture.failedFuture(new ClosedException("client"));
    }
    Service.EnqueueRequest req = Service.EnqueueRequest.newBuilder()
        .setQueue(msg.queue())
        .putAllHeaders(msg.headers())
        .setPayload(com.google.protobuf.ByteString.copyFrom(msg.payload()))
        .build();
    return batcher.submit("", req, msg.size());
  }

  /** {@link #publish(OutgoingMessage)} of a message with these parts. */
  public CompletableFuture<String> publish(String queue, byte[] payload,
      Map<String, String> headers) {
    return publish(new OutgoingMessage(queue, headers, payload));
  }

  /**
   * Publishes and waits for the outcome: the message's id once it is on disk.
   *
   * @throws FilaException why this message was refused
   */
  public String enqueue(String queue, byte[] payload, Map<String, String> headers) {
    return await(publish(queue, payload, headers));
  }

  /** Waits for a future of this SDK and returns its value, or throws its FilaException. */
  static <T> T await(CompletableFuture<T> f) {
    try {
      return f.get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new FilaException("", Status.Code.CANCELLED, "interrupted", e);
    } catch (ExecutionException e) {
      throw Errors.from("", e.getCause());
    }
  }

  /**
   * Sends what waits now and returns once every message published so far has its outcome.
   *
   * @return false if that took longer than the client's timeout
   */
  public boolean flush() {
    try {
      return batcher.flush(grace());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  /**
   * Sends what waits, waits for the outcomes (at most the client's timeout), and makes later
   * publishes fail with {@link ClosedException}.
   */
  @Override
  public void close() {
    try {
      batcher.close(grace());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private Duration grace() {
    return timeout.isZero() ? Duration.ofSeconds(30) : timeout;
  }

  /** The producer's counters. */
  public ProducerStats stats() {
    return new ProducerStats(batcher.sent.get(), batcher.rpcs.get());
  }
}
