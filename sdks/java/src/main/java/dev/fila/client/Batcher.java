package dev.fila.client;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Turns many single calls into batch RPCs, per key (a queue, or one key for all). Batching
 * adapts to load like Nagle's algorithm without its delay: when no RPC is in flight for a key
 * an item goes out at once (a lone caller never waits for the linger); while one is, items
 * gather and go when it returns, when maxItems or maxBytes of them wait, or after linger at the
 * latest. At most maxInFlight RPCs per key are out at once. Every item gets its own outcome.
 */
final class Batcher<I, R> {
  /** The most items the broker takes in one batch RPC. */
  static final int MAX_BATCH_ITEMS = 10_000;

  /** Sends one batch; throws for the batch as a whole, else returns an outcome per item. */
  interface Sender<I, R> {
    List<Outcome<R>> send(String key, List<I> items);
  }

  /** The result of one item: a value or an error. */
  record Outcome<R>(R value, FilaException error) {
    static <R> Outcome<R> ok(R value) {
      return new Outcome<>(value, null);
    }

    static <R> Outcome<R> failed(FilaException error) {
      return new Outcome<>(null, error);
    }
  }

  record Limits(Duration linger, int maxItems, int maxBytes, int maxInFlight) {
    Limits {
      linger = linger == null || linger.isNegative() ? Duration.ZERO : linger;
      maxItems = maxItems < 1 || maxItems > MAX_BATCH_ITEMS ? MAX_BATCH_ITEMS : maxItems;
      maxBytes = maxBytes < 1 ? 4 << 20 : maxBytes;
      maxInFlight = Math.max(1, maxInFlight);
    }
  }

  private record Waiting<I, R>(I item, int size, CompletableFuture<R> future) {}

  private static final class Group<I, R> {
    final ArrayList<Waiting<I, R>> items = new ArrayList<>();
    int bytes;
    int busy; // RPCs in flight
    ScheduledFuture<?> timer;
    int timerGen;
  }

  private final Sender<I, R> sender;
  private final Limits limits;
  private final ScheduledExecutorService timers;
  private final Executor workers;
  private final String what;

  private final Object lock = new Object();
  private final Map<String, Group<I, R>> groups = new HashMap<>();
  private boolean closed;
  private long pending; // items submitted and not yet answered

  final AtomicLong rpcs = new AtomicLong();
  final AtomicLong sent = new AtomicLong();

  Batcher(String what, Sender<I, R> sender, Limits limits, ScheduledExecutorService timers,
      Executor workers) {
    this.what = what;
    this.sender = sender;
    this.limits = limits;
    this.timers = timers;
    this.workers = workers;
  }

  /** Queues item (of about size bytes) for key; the future completes with its outcome. */
  CompletableFuture<R> submit(String key, I item, int size) {
    CompletableFuture<R> f = new CompletableFuture<>();
    synchronized (lock) {
      if (closed) {
        f.completeExceptionally(new ClosedException(what));
        return f;
      }
      Group<I, R> g = groups.computeIfAbsent(key, k -> new Group<>());
      if (!g.items.isEmpty() && g.bytes + size > limits.maxBytes()) {
        flushLocked(key, g); // this item would overflow the batch: send what waits first
      }
      g.items.add(new Waiting<>(item, size, f));
      g.bytes += size;
      pending++;
      if (g.busy == 0 || g.items.size() >= limits.maxItems() || g.bytes >= limits.maxBytes()) {
        flushLocked(key, g); // idle: go now; or the batch is full
      } else if (g.timer == null) {
        armLocked(key, g);
      }
    }
    return f;
  }

  private void armLocked(String key, Group<I, R> g) {
    int gen = g.timerGen;
    try {
      g.timer = timers.schedule(() -> {
        synchronized (lock) {
          if (g.timerGen == gen) {
            g.timer = null;
            flushLocked(key, g);
          }
        }
      }, limits.linger().toNanos(), TimeUnit.NANOSECONDS);
    } catch (RejectedExecutionException e) { // the client was closed under us
      List<Waiting<I, R>> waiting = new ArrayList<>(g.items);
      g.items.clear();
      g.bytes = 0;
      failLocked(waiting);
    }
  }

  /** Fails items that will never be sent (the client's threads are gone); lock held. */
  private void failLocked(List<Waiting<I, R>> items) {
    ClosedException closed = new ClosedException("client");
    items.forEach(w -> w.future().completeExceptionally(closed));
    pending -= items.size();
    if (pending == 0) {
      lock.notifyAll();
    }
  }

  /** Sends what waits in g, as many RPCs as it takes and the in-flight limit allows. */
  private void flushLocked(String key, Group<I, R> g) {
    while (!g.items.isEmpty() && g.busy < limits.maxInFlight()) {
      if (g.timer != null) {
        g.timer.cancel(false);
        g.timer = null;
      }
      g.timerGen++;
      int n = 0;
      int bytes = 0;
      while (n < g.items.size() && n < limits.maxItems()
          && (n == 0 || bytes + g.items.get(n).size() <= limits.maxBytes())) {
        bytes += g.items.get(n).size();
        n++;
      }
      List<Waiting<I, R>> head = g.items.subList(0, n);
      List<Waiting<I, R>> batch = new ArrayList<>(head);
      head.clear();
      g.bytes -= bytes;
      g.busy++;
      try {
        workers.execute(() -> run(key, g, batch));
      } catch (RejectedExecutionException e) { // the client was closed under us
        g.busy--;
        failLocked(batch);
        continue;
      }
      if (g.items.size() < limits.maxItems() && g.bytes < limits.maxBytes()) {
        break; // what is left is not a full batch: it waits for company
      }
    }
    if (!g.items.isEmpty() && g.timer == null && g.busy < limits.maxInFlight()) {
      armLocked(key, g);
    }
  }

  private void run(String key, Group<I, R> g, List<Waiting<I, R>> batch) {
    List<I> items = new ArrayList<>(batch.size());
    for (Waiting<I, R> w : batch) {
      items.add(w.item());
    }
    rpcs.incrementAndGet();
    sent.addAndGet(items.size());
    try {
      List<Outcome<R>> outs = null;
      FilaException failed = null;
      try {
        outs = sender.send(key, items);
      } catch (RuntimeException e) {
        failed = Errors.from("batch", e);
      }
      for (int i = 0; i < batch.size(); i++) {
        CompletableFuture<R> f = batch.get(i).future();
        if (failed != null) {
          f.completeExceptionally(failed);
        } else if (i < outs.size() && outs.get(i).error() == null) {
          f.complete(outs.get(i).value());
        } else {
          f.completeExceptionally(i < outs.size() ? outs.get(i).error()
              : new FilaException("batch", io.grpc.Status.Code.INTERNAL,
                  "the broker answered fewer results than items"));
        }
      }
    } catch (RuntimeException | Error e) {
      // Never leave a caller waiting: whatever went wrong is every item's outcome.
      for (Waiting<I, R> w : batch) {
        w.future().completeExceptionally(e);
      }
      throw e;
    } finally {
      done(key, g, batch.size());
    }
  }

  private void done(String key, Group<I, R> g, int n) {
    synchronized (lock) {
      g.busy--;
      if (!g.items.isEmpty()) {
        flushLocked(key, g); // what gathered while this call was out goes now
      } else if (g.busy == 0) {
        groups.remove(key, g);
      }
      pending -= n;
      if (pending == 0) {
        lock.notifyAll();
      }
    }
  }

  /**
   * Sends everything waiting now; returns once every item submitted so far has its outcome
   * (true), or after timeout (false).
   */
  boolean flush(Duration timeout) throws InterruptedException {
    long end = System.nanoTime() + timeout.toNanos();
    synchronized (lock) {
      for (Map.Entry<String, Group<I, R>> e : new ArrayList<>(groups.entrySet())) {
        flushLocked(e.getKey(), e.getValue());
      }
      while (pending > 0) {
        long left = end - System.nanoTime();
        if (left <= 0) {
          return false;
        }
        TimeUnit.NANOSECONDS.timedWait(lock, left);
      }
      return true;
    }
  }

  /** Refuses new items, then flushes. */
  boolean close(Duration timeout) throws InterruptedException {
    synchronized (lock) {
      closed = true;
    }
    return flush(timeout);
  }
}
