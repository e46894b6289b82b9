package dev.fila.client;

import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;

/**
 * A {@link MessageHandler} running over a queue's lease stream (the handler form of a
 * {@link Consumer}, like Pub/Sub's Subscriber): messages are handed to the handler on
 * {@link ConsumerSettings#handlerThreads()} threads, never more unacked at once than the
 * credit. Close it to stop: no new message is handed out, running handlers finish, their acks
 * are sent.
 *
 * <pre>{@code
 * try (Subscription sub = client.subscribe("emails", ConsumerSettings.DEFAULT,
 *     msg -> send(msg.payload()))) {
 *   sub.awaitTermination(Duration.ofMinutes(10));
 * }
 * }</pre>
 */
public final class Subscription implements AutoCloseable {
  private final Consumer consumer;
  private final MessageHandler handler;
  private final ExecutorService executor;
  private final boolean ownExecutor;
  private final Thread dispatcher;
  private final CountDownLatch stopped = new CountDownLatch(1);
  private volatile boolean closing;

  Subscription(Consumer consumer, MessageHandler handler, ExecutorService executor,
      int threads) {
    this.consumer = consumer;
    this.handler = handler;
    this.ownExecutor = executor == null;
    this.executor = executor != null ? executor
        : Executors.newFixedThreadPool(threads, Core.daemon("fila-handler-" + consumer.queue()));
    this.dispatcher = new Thread(this::dispatch, "fila-subscription-" + consumer.queue());
    dispatcher.setDaemon(true);
    dispatcher.start();
  }

  private void dispatch() {
    try {
      while (!closing && consumer.hasNext()) {
        Message msg = consumer.next();
        try {
          executor.execute(() -> handle(msg));
        } catch (RejectedExecutionException e) {
          if (executor.isShutdown()) {
            return; // the message's lease runs out and it is delivered again
          }
          handle(msg); // a saturated executor: run it here, which slows the intake down
        }
      }
    } catch (FilaException e) {
      // the stream failed for good: error() says why
    } finally {
      stopped.countDown();
    }
  }

  private void handle(Message msg) {
    try {
      handler.handle(msg);
      msg.ack(); // a no-op if the handler settled it itself
    } catch (Exception e) {
      String why = e.getMessage() == null ? e.getClass().getName() : e.getMessage();
      msg.nack(why);
    } catch (Error e) {
      msg.nack(e.toString());
      throw e;
    }
  }

  /** Why the subscription stopped, if the broker refused its stream for good. */
  public Optional<FilaException> error() {
    return consumer.error();
  }

  /** Whether the subscription has stopped handing out messages (closed, or failed for good). */
  public boolean isDone() {
    return stopped.getCount() == 0;
  }

  /**
   * Waits until the subscription stops handing out messages (it was closed, or its stream failed
   * for good), at most {@code timeout}.
   *
   * @return whether it stopped
   * @throws FilaException why it stopped, if the broker refused its stream
   */
  public boolean awaitTermination(Duration timeout) {
    try {
      if (!stopped.await(timeout.toNanos(), TimeUnit.NANOSECONDS)) {
        return false;
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
    consumer.error().ifPresent(e -> {
      throw e;
    });
    return true;
  }

  /** The counters of the consumer underneath. */
  public ConsumerStats stats() {
    return consumer.stats();
  }

  /**
   * Stops handing out messages, waits (up to a minute) for the running handlers, then closes
   * the stream and waits for the acks of their messages.
   */
  @Override
  public void close() {
    closing = true;
    consumer.stopReceiving(); // wakes the dispatcher: hasNext() turns false
    try {
      stopped.await(10, TimeUnit.SECONDS);
      if (ownExecutor) {
        executor.shutdown();
        executor.awaitTermination(1, TimeUnit.MINUTES);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    consumer.close(); // the handlers' acks are all sent: wait for their answers
  }
}
