package dev.fila.client;

import fila.v1.Messages;
import fila.v1.Service;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Reads a queue's credit-controlled {@code Lease} stream and hands its messages out as a
 * blocking {@link Iterator}: {@code hasNext()} waits for the next message. It holds at most
 * {@link ConsumerSettings#credit()} messages that are not acked or nacked, and the broker never
 * leases it more. It re-opens the stream by itself when it breaks (the broker restarted, a
 * network blip), with backoff, and follows a cluster's redirect to the queue's leader; the
 * leases of the messages it holds are extended while it runs.
 *
 * <pre>{@code
 * try (Consumer consumer = client.lease("jobs", ConsumerSettings.builder().credit(10).build())) {
 *   for (Message msg : consumer) {
 *     work(msg.payload());
 *     msg.ack();
 *   }
 * }
 * }</pre>
 *
 * <p>It stops when closed (then {@code hasNext()} is false) or on an error that re-opening
 * cannot fix, such as a queue that does not exist or a key that may not consume it: then
 * {@code hasNext()} throws that {@link FilaException}, after the messages already received.
 * One thread reads at a time; {@link #close()}, {@link #setCredit} and the messages' acks may
 * come from any thread.
 */
public final class Consumer implements Iterator<Message>, Iterable<Message>, AutoCloseable {
  private static final Object END = new Object();

  private final Core core;
  private final String queue;
  private final ConsumerSettings settings;
  private final Duration timeout;
  private volatile boolean classic; // reads the classic Consume stream
  private final FlowControl flow;
  private final LinkedBlockingQueue<Object> buffer = new LinkedBlockingQueue<>();
  private final Thread runner;
  private LeaseExtender extender; // null when automatic extension is off

  private final Object readLock = new Object();
  private Message peeked; // guarded by readLock
  private boolean ended; // guarded by readLock

  private final Object ackLock = new Object();
  private int acking; // acks and nacks sent and not yet answered; guarded by ackLock

  private final AtomicLong delivered = new AtomicLong();
  private final AtomicLong reconnects = new AtomicLong();

  private Consumer(Core core, String queue, ConsumerSettings s, Duration timeout, boolean classic) {
    this.core = core;
    this.queue = queue;
    this.settings = s;
    this.timeout = timeout;
    this.classic = classic;
    this.flow = new FlowControl(s.credit());
    this.runner = new Thread(this::run, "fila-consumer-" + queue);
    runner.setDaemon(true);
  }

  static Consumer start(Core core, String queue, ConsumerSettings s, Duration timeout,
      boolean classic) {
    Consumer c = new Consumer(core, queue, s == null ? ConsumerSettings.DEFAULT : s, timeout,
        classic);
    if (core.isClosed()) {
      c.flow.fail(new ClosedException("client"));
      c.flow.finish();
      c.buffer.add(END);
      return c;
    }
    c.runner.start();
    if (c.settings.autoExtend()) {
      c.extender = new LeaseExtender(core, c, c.settings, timeout);
      core.workers.execute(c.extender::start);
    }
    return c;
  }

  /** The queue this consumer reads. */
  public String queue() {
    return queue;
  }

  // -- reading ---------------------------------------------------------------------------------

  /**
   * Waits for the next message: true when there is one; false once the consumer is closed.
   *
   * @throws FilaException why the consumer stopped, when the broker refused the stream in a way
   *     re-opening cannot fix ({@link QueueNotFoundException}, {@link
   *     PermissionDeniedException}, ...), or CANCELLED when the reading thread is interrupted
   */
  @Override
  public boolean hasNext() {
    synchronized (readLock) {
      if (peeked == null && !ended) {
        Object o = take(null);
        if (o != END) {
          peeked = (Message) o;
        }
      }
      if (peeked != null) {
        return true;
      }
      throwIfFailed();
      return false;
    }
  }

  /** The next message, waiting for it (see {@link #hasNext()}). */
  @Override
  public Message next() {
    synchronized (readLock) {
      if (!hasNext()) {
        throw new NoSuchElementException("the consumer is closed");
      }
      Message m = peeked;
      peeked = null;
      return m;
    }
  }

  /**
   * The next message, waiting at most {@code wait} for it; null if none came, or the consumer
   * is closed.
   *
   * @throws FilaException why the consumer stopped (see {@link #hasNext()})
   */
  public Message poll(Duration wait) {
    synchronized (readLock) {
      if (peeked != null) {
        Message m = peeked;
        peeked = null;
        return m;
      }
      if (!ended) {
        Object o = take(wait);
        if (o == null) {
          return null;
        }
        if (o != END) {
          return (Message) o;
        }
      }
      throwIfFailed();
      return null;
    }
  }

  /** The next thing in the buffer, waiting (at most wait, if not null); readLock held. */
  private Object take(Duration wait) {
    try {
      Object o = wait == null ? buffer.take() : buffer.poll(wait.toNanos(), TimeUnit.NANOSECONDS);
      if (o == END) {
        ended = true;
      }
      return o;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new FilaException(classic ? "Consume" : "Lease", Status.Code.CANCELLED,
          "interrupted");
    }
  }

  private void throwIfFailed() {
    FilaException e = flow.error();
    if (e != null) {
      throw e;
    }
  }

  /** This consumer itself: it can be read once, e.g. by one for-each loop. */
  @Override
  public Iterator<Message> iterator() {
    return this;
  }

  // -- state -----------------------------------------------------------------------------------

  /** Why the consumer stopped, if the broker refused its stream for good. */
  public Optional<FilaException> error() {
    return Optional.ofNullable(flow.error());
  }

  /** Whether the consumer has stopped (closed, or refused for good). */
  public boolean isDone() {
    return flow.isDone();
  }

  /** The consumer's counters. */
  public ConsumerStats stats() {
    return new ConsumerStats(delivered.get(), flow.heldCount(), reconnects.get());
  }

  /**
   * Changes how many unacknowledged messages the consumer may hold (1 to 10,000), telling the
   * broker at once on the open stream.
   */
  public void setCredit(int n) {
    flow.setCredit(n);
  }

  /**
   * Stops the consumer and waits (at most the client's timeout) until the acks and nacks of
   * its messages are answered. Messages it received and had not handed out stay leased until
   * their visibility timeout passes.
   */
  @Override
  public void close() {
    stopReceiving();
    if (extender != null) {
      extender.stop();
    }
    long end = System.nanoTime() + (timeout.isZero() ? Duration.ofSeconds(30) : timeout).toNanos();
    synchronized (ackLock) {
      try {
        while (acking > 0 && System.nanoTime() < end) {
          TimeUnit.NANOSECONDS.timedWait(ackLock, end - System.nanoTime());
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  /**
   * Ends the stream and hands out nothing more, but keeps extending the leases of the messages
   * still held (a subscription's running handlers), until close().
   */
  void stopReceiving() {
    ClientCallStreamObserver<?> c = flow.close();
    if (c != null) {
      c.cancel("consumer closed", null);
    }
    try {
      if (runner.isAlive() && Thread.currentThread() != runner) {
        runner.join(10_000);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    List<Object> unread = new ArrayList<>();
    buffer.drainTo(unread);
    flow.drop(unread);
    buffer.add(END);
  }

  // -- the streams -----------------------------------------------------------------------------

  private record SessionEnd(boolean got, boolean redirected, FilaException error) {}

  /** Opens streams one after the other until the consumer stops. */
  private void run() {
    RetryPolicy policy = core.opts.retry();
    int failures = 0;
    int redirects = 0;
    try {
      while (true) {
        SessionEnd end = session();
        if (flow.isClosed()) {
          return;
        }
        FilaException e = end.error();
        if (e != null && e.code() == Status.Code.UNIMPLEMENTED && !classic) {
          classic = true; // a broker without the Lease stream: read Consume instead
          continue;
        }
        if (e != null && Errors.permanent(e)) {
          flow.fail(e);
          return;
        }
        if (core.isClosed()) {
          flow.fail(new ClosedException("client"));
          return;
        }
        if (end.got()) {
          failures = 0;
          redirects = 0;
        }
        reconnects.incrementAndGet();
        if (end.redirected() && redirects < Core.MAX_REDIRECTS) {
          redirects++;
          continue; // to the leader, at once
        }
        failures++;
        if (e != null && e.code() == Status.Code.UNAVAILABLE) {
          core.current().channel().resetConnectBackoff();
        }
        if (!flow.pause(policy.backoff(failures))) {
          return;
        }
      }
    } catch (RuntimeException e) {
      flow.fail(Errors.from(classic ? "Consume" : "Lease", e));
    } finally {
      if (flow.finish() && extender != null) {
        extender.stop(); // refused for good: nothing more will be held
      }
      buffer.add(END);
    }
  }

  /** Runs one stream until it ends. */
  private SessionEnd session() {
    long[] opened = flow.open(classic);
    if (opened == null) {
      return new SessionEnd(false, false, null);
    }
    long gen = opened[0];
    Conn cn = core.current();
    CompletableFuture<Throwable> ended = new CompletableFuture<>();
    AtomicBoolean got = new AtomicBoolean();
    String op = classic ? "Consume" : "Lease";
    if (classic) {
      cn.svcAsync().consume(Service.ConsumeRequest.newBuilder().setQueue(queue).build(),
          new Observer<Service.ConsumeRequest, Service.ConsumeResponse>(gen, ended, false) {
            @Override
            public void onNext(Service.ConsumeResponse r) {
              got.set(true);
              deliver(r.getMessage(), gen);
            }
          });
    } else {
      cn.svcAsync().lease(new Observer<Service.LeaseRequest, Service.LeaseResponse>(gen, ended,
          true) {
        @Override
        public void onNext(Service.LeaseResponse r) {
          got.set(true);
          for (Messages.Message m : r.getMessagesList()) {
            deliver(m, gen);
          }
        }
      });
      flow.sendFirst(gen, Service.LeaseRequest.newBuilder().setQueue(queue)
          .setCredit((int) opened[1]).setMaxBatch(settings.maxBatch()).build());
    }
    Throwable t = ended.join(); // close() cancels the call, which ends it
    flow.ended(gen);
    if (t == null) { // the broker ended the stream (e.g. a stalled one): open another
      return new SessionEnd(got.get(), false, null);
    }
    Status st = Status.fromThrowable(t);
    Metadata trailers = Status.trailersFromThrowable(t);
    String leader = Errors.leaderAddr(trailers);
    boolean redirected = false;
    if (leader != null && st.getCode() == Status.Code.UNAVAILABLE) {
      try {
        core.follow(cn, leader);
        redirected = true;
      } catch (ClosedException e) {
        // the client closed: run() sees it
      }
    }
    return new SessionEnd(got.get(), redirected, Errors.from(op, st, trailers));
  }

  /** The response side of one stream: registers the call, reports how it ended. */
  private abstract class Observer<Q, R> implements ClientResponseObserver<Q, R> {
    private final long gen;
    private final CompletableFuture<Throwable> ended;
    private final boolean lease;

    Observer(long gen, CompletableFuture<Throwable> ended, boolean lease) {
      this.gen = gen;
      this.ended = ended;
      this.lease = lease;
    }

    @Override
    public void beforeStart(ClientCallStreamObserver<Q> r) {
      if (!flow.register(gen, r, lease)) {
        r.cancel("consumer closed", null);
      }
    }

    @Override
    public void onError(Throwable t) {
      ended.complete(t);
    }

    @Override
    public void onCompleted() {
      ended.complete(null);
    }
  }

  private void deliver(Messages.Message m, long gen) {
    Message msg = new Message(m, core, this, gen, queue);
    if (flow.adopt(msg)) { // else: never handed out, it stays leased until its visibility timeout
      delivered.incrementAndGet();
      buffer.add(msg);
    }
  }

  /** msg was acked or nacked: it no longer counts against the credit. */
  void release(Message msg) {
    flow.release(msg);
  }

  /** Counts an ack or nack until it is answered, so that close() can wait for it. */
  void countAck(CompletableFuture<Void> outcome) {
    synchronized (ackLock) {
      acking++;
    }
    outcome.whenComplete((v, e) -> {
      synchronized (ackLock) {
        if (--acking == 0) {
          ackLock.notifyAll();
        }
      }
    });
  }

  /** The held messages that arrived between minAge and maxAge nanoseconds ago. */
  List<LeaseRef> heldBetween(long minAge, long maxAge) {
    return flow.heldBetween(minAge, maxAge);
  }
}
