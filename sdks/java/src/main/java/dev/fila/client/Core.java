package dev.fila.client;

import io.grpc.Deadline;
import io.grpc.Grpc;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.MetadataUtils;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * What every view of one client shares ({@link FilaClient#withTimeout} makes views): the
 * connections, the call loop with its deadline, retries and leader redirects, the ack and nack
 * batchers, and the client's threads.
 */
final class Core {
  /** The largest gRPC message the client sends or accepts (as the broker). */
  static final int MAX_MESSAGE_BYTES = 64 << 20;
  /** How many leader redirects one call follows. */
  static final int MAX_REDIRECTS = 5;

  final ClientOptions opts;
  final ScheduledExecutorService timers;
  final ExecutorService workers;
  final Batcher<Calls.AckItem, Void> acks;
  final Batcher<Calls.NackItem, Void> nacks;
  final Calls calls;
  /** The broker answered UNIMPLEMENTED to a batch RPC: it is the original broker. */
  final AtomicBoolean noBatchRpcs = new AtomicBoolean();

  private final Object lock = new Object();
  private final Map<String, Conn> conns = new HashMap<>();
  private Conn current;
  private volatile boolean closed; // written under lock, read without it on the hot path

  Core(ClientOptions opts) {
    this.opts = opts;
    ScheduledThreadPoolExecutor t = new ScheduledThreadPoolExecutor(1, daemon("fila-timer"));
    t.setRemoveOnCancelPolicy(true); // linger timers are cancelled all the time
    this.timers = t;
    this.workers = Executors.newCachedThreadPool(daemon("fila-worker"));
    this.current = dial(opts.addr());
    this.calls = new Calls(this);
    Batcher.Limits ackLimits = new Batcher.Limits(opts.ackLinger(), opts.ackMaxBatch(), 4 << 20, 4);
    this.acks = new Batcher<>("client", calls::sendAcks, ackLimits, timers, workers);
    this.nacks = new Batcher<>("client", calls::sendNacks, ackLimits, timers, workers);
  }

  static ThreadFactory daemon(String name) {
    AtomicInteger n = new AtomicInteger();
    return r -> {
      Thread th = new Thread(r, name + "-" + n.incrementAndGet());
      th.setDaemon(true); // a forgotten client must not keep the JVM alive
      return th;
    };
  }

  /** Makes (or reuses) the connection to addr. */
  private Conn dial(String addr) {
    synchronized (lock) {
      Conn cn = conns.get(addr);
      if (cn != null) {
        return cn;
      }
      ManagedChannelBuilder<?> b = Grpc.newChannelBuilder(addr, opts.credentials())
          .maxInboundMessageSize(MAX_MESSAGE_BYTES)
          .userAgent("fila-java");
      if (opts.apiKey() != null && !opts.apiKey().isEmpty()) {
        Metadata md = new Metadata();
        md.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER),
            "Bearer " + opts.apiKey());
        b.intercept(MetadataUtils.newAttachHeadersInterceptor(md));
      }
      b.intercept(opts.interceptors());
      for (java.util.function.Consumer<ManagedChannelBuilder<?>> c : opts.channelConfigurators()) {
        c.accept(b);
      }
      cn = Conn.of(addr, b.build());
      conns.put(addr, cn);
      return cn;
    }
  }

  /** The connection calls go to now. */
  Conn current() {
    synchronized (lock) {
      return current;
    }
  }

  /**
   * Makes addr (a leader named by the broker reached through {@code from}) the connection
   * calls go to; nothing if another call already moved on from {@code from}.
   */
  void follow(Conn from, String addr) {
    synchronized (lock) {
      if (closed) {
        throw new ClosedException("client");
      }
      if (current != from || current.addr().equals(addr)) {
        return;
      }
      current = dial(addr);
    }
  }

  boolean isClosed() {
    return closed;
  }

  void checkOpen() {
    if (isClosed()) {
      throw new ClosedException("client");
    }
  }

  /** One attempt of a unary call on a connection, with the call's deadline (null: none). */
  interface Rpc<T> {
    T call(Conn cn, Deadline deadline);
  }

  static Deadline deadline(Duration timeout) {
    return timeout == null || timeout.isZero() || timeout.isNegative()
        ? null : Deadline.after(timeout.toNanos(), TimeUnit.NANOSECONDS);
  }

  /**
   * Runs a unary call with a deadline {@code timeout} from now, retrying while the broker is
   * unavailable and following leader redirects, and turns its failure into a FilaException.
   */
  <T> T invoke(String op, Duration timeout, Rpc<T> rpc) {
    return invoke(op, deadline(timeout), rpc);
  }

  <T> T invoke(String op, Deadline deadline, Rpc<T> rpc) {
    checkOpen();
    RetryPolicy policy = opts.retry();
    int redirects = 0;
    FilaException retried = null; // why the last retried attempt failed
    for (int attempt = 1; ; attempt++) {
      Conn cn = current();
      StatusRuntimeException failure;
      try {
        return rpc.call(cn, deadline);
      } catch (StatusRuntimeException e) {
        failure = e;
      }
      Status st = failure.getStatus();
      Metadata trailers = failure.getTrailers();
      String leader = Errors.leaderAddr(trailers);
      boolean expired = deadline != null && deadline.isExpired();
      if (leader != null && st.getCode() == Status.Code.UNAVAILABLE
          && redirects < MAX_REDIRECTS && !expired) {
        redirects++;
        attempt--;
        follow(cn, leader);
        continue;
      }
      FilaException fe = Errors.from(op, st, trailers);
      if (retried != null && st.getCode() == Status.Code.DEADLINE_EXCEEDED) {
        // The deadline passed while a retry waited for the broker to come back: the broker
        // being unavailable is the reason worth reporting.
        retried.addSuppressed(fe);
        throw retried;
      }
      if (!policy.retryable(fe) || (policy.maxAttempts() > 0 && attempt >= policy.maxAttempts())
          || isClosed() || Thread.currentThread().isInterrupted()) {
        throw fe;
      }
      Duration wait = policy.backoff(attempt);
      if (fe instanceof OverloadedException oe && oe.retryAfter().compareTo(wait) > 0) {
        wait = oe.retryAfter();
      }
      if (deadline != null && deadline.timeRemaining(TimeUnit.NANOSECONDS) <= wait.toNanos()) {
        throw fe; // the deadline comes first: report why the last attempt failed
      }
      retried = fe;
      if (st.getCode() == Status.Code.UNAVAILABLE) {
        // gRPC waits up to minutes between reconnect attempts once a broker went away; ask it
        // to try again now, so that a restarted broker is found within our own backoff.
        cn.channel().resetConnectBackoff();
      }
      try {
        Thread.sleep(wait.toMillis(), (int) (wait.toNanos() % 1_000_000));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw fe;
      }
    }
  }

  /**
   * Sends the acks and nacks still waiting (at most the client's timeout), then closes the
   * connections and the client's threads.
   */
  void close() {
    synchronized (lock) {
      if (closed) {
        return;
      }
    }
    Duration grace = opts.timeout().isZero() ? Duration.ofSeconds(30) : opts.timeout();
    try {
      acks.close(grace);
      nacks.close(grace);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    List<Conn> all;
    synchronized (lock) {
      closed = true;
      all = new ArrayList<>(conns.values());
    }
    for (Conn cn : all) {
      cn.channel().shutdown();
    }
    for (Conn cn : all) {
      try {
        if (!cn.channel().awaitTermination(1, TimeUnit.SECONDS)) {
          cn.channel().shutdownNow();
        }
      } catch (InterruptedException e) {
        cn.channel().shutdownNow();
        Thread.currentThread().interrupt();
      }
    }
    timers.shutdownNow();
    workers.shutdown();
  }

  /** Every channel made so far (for tests and stats). */
  List<ManagedChannel> channels() {
    synchronized (lock) {
      List<ManagedChannel> out = new ArrayList<>();
      conns.values().forEach(c -> out.add(c.channel()));
      return out;
    }
  }
}
