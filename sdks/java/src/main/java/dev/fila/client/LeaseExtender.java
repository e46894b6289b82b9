package dev.fila.client;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Keeps the leases of the messages a consumer holds alive (Pub/Sub's automatic lease
 * extension): every {@code extendEvery} it extends those that arrived at least half a period
 * ago, until {@code maxExtension} after they arrived, in ExtendLease calls of up to 10,000.
 * Without it a message whose handler takes longer than the visibility timeout would be
 * delivered to someone else while it is still being worked on.
 */
final class LeaseExtender {
  private final Core core;
  private final Consumer consumer;
  private final ConsumerSettings settings;
  private final Duration timeout;
  private final AtomicBoolean running = new AtomicBoolean(); // a round is out
  private final Object lock = new Object();
  private ScheduledFuture<?> ticks; // guarded by lock
  private boolean stopped; // guarded by lock

  LeaseExtender(Core core, Consumer consumer, ConsumerSettings settings, Duration timeout) {
    this.core = core;
    this.consumer = consumer;
    this.settings = settings;
    this.timeout = timeout;
  }

  /** Works out the period and starts the ticks (on a worker: it may ask for the queue). */
  void start() {
    Duration every = settings.extendEvery();
    if (every.isZero()) {
      every = Duration.ofSeconds(10);
      try {
        Duration vt = AdminCalls.getQueue(core, Duration.ofSeconds(5), consumer.queue()).config()
            .visibilityTimeout();
        if (!vt.isZero()) {
          every = vt.dividedBy(3);
        }
      } catch (FilaException e) {
        // no admin permission, or no such queue (the stream says so): keep the default
      }
    }
    long period = Math.max(every.toNanos(), Duration.ofMillis(10).toNanos());
    synchronized (lock) {
      if (stopped || core.isClosed()) {
        return;
      }
      // The tick only hands the round to a worker: the timer thread also runs linger timers.
      ticks = core.timers.scheduleAtFixedRate(() -> core.workers.execute(() -> round(period / 2)),
          period, period, TimeUnit.NANOSECONDS);
    }
  }

  void stop() {
    synchronized (lock) {
      stopped = true;
      if (ticks != null) {
        ticks.cancel(false);
      }
    }
  }

  private void round(long minAge) {
    if (!running.compareAndSet(false, true)) {
      return; // the last round is still out: skip this one
    }
    try {
      List<LeaseRef> due = consumer.heldBetween(minAge, settings.maxExtension().toNanos());
      for (int i = 0; i < due.size(); i += Batcher.MAX_BATCH_ITEMS) {
        List<LeaseRef> chunk = due.subList(i, Math.min(due.size(), i + Batcher.MAX_BATCH_ITEMS));
        try {
          core.calls.extendLease(consumer.queue(), chunk, settings.leaseExtension(),
              Core.deadline(timeout));
        } catch (FilaException e) {
          // not fatal: a lease that ended is the broker's to deliver again
        }
      }
    } catch (RuntimeException e) {
      // the client is closing (its executor refuses work): nothing left to extend
    } finally {
      running.set(false);
    }
  }
}
