package dev.fila.client;

import fila.v1.Service;
import io.grpc.stub.ClientCallStreamObserver;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * A consumer's state under one lock: the messages it holds (delivered, not yet acked or
 * nacked), its credit, the stream it reads now and whether it was closed.
 *
 * <p>The credit is the most messages held at once. A new stream (after a reconnect) is opened
 * with the credit minus the messages still held from earlier streams ({@code oldHeld}); each of
 * those that is settled gives its slot back to the current stream, which tells the broker. So
 * the consumer never holds more than its credit, across reconnects too.
 */
final class FlowControl {
  private final Object lock = new Object();
  private final Set<Message> held = Collections.newSetFromMap(new IdentityHashMap<>());
  private int oldHeld; // of the held ones, those from earlier streams
  private long generation; // the current stream's
  private int credit; // the credit asked for
  private int streamCredit; // the current stream's: credit - oldHeld
  private int sentCredit; // what the broker was last told
  private ClientCallStreamObserver<Service.LeaseRequest> requests; // the Lease stream's
  private ClientCallStreamObserver<?> call; // the current stream, to cancel it
  private boolean closed;
  private boolean done;
  private FilaException error;

  FlowControl(int credit) {
    this.credit = credit;
  }

  /**
   * Waits until the consumer may hold more messages than it holds from earlier streams, and
   * starts a new stream generation: returns {generation, credit}, or null once closed.
   */
  long[] open(boolean classic) {
    synchronized (lock) {
      while (true) {
        if (closed) {
          return null;
        }
        oldHeld = held.size();
        int avail = credit - oldHeld;
        if (classic || avail >= 1) {
          streamCredit = Math.max(avail, 1);
          sentCredit = 0;
          return new long[] {++generation, streamCredit};
        }
        try {
          lock.wait();
        } catch (InterruptedException e) {
          return null;
        }
      }
    }
  }

  /** Remembers the call of stream gen; false if it must be cancelled (closed, or superseded). */
  @SuppressWarnings("unchecked")
  boolean register(long gen, ClientCallStreamObserver<?> c, boolean lease) {
    synchronized (lock) {
      call = c;
      requests = lease ? (ClientCallStreamObserver<Service.LeaseRequest>) c : null;
      return !closed && generation == gen;
    }
  }

  /** Sends the first request of Lease stream gen. */
  void sendFirst(long gen, Service.LeaseRequest first) {
    synchronized (lock) {
      if (generation != gen || requests == null) {
        return;
      }
      try {
        requests.onNext(first);
        sentCredit = first.getCredit();
      } catch (RuntimeException e) {
        // the call was cancelled already: its end says why
      }
    }
  }

  /** Stream gen ended. */
  void ended(long gen) {
    synchronized (lock) {
      if (generation == gen) {
        call = null;
        requests = null;
      }
    }
  }

  /** Counts a delivered message as held; false once closed (it is not handed out). */
  boolean adopt(Message msg) {
    synchronized (lock) {
      if (closed) {
        return false;
      }
      held.add(msg);
      return true;
    }
  }

  /** Forgets messages that were never handed out. */
  void drop(Collection<?> msgs) {
    synchronized (lock) {
      msgs.forEach(held::remove);
    }
  }

  /**
   * msg was acked or nacked: it no longer counts against the credit. A message of an earlier
   * stream gives its slot back to the current stream.
   */
  void release(Message msg) {
    synchronized (lock) {
      if (!held.remove(msg)) {
        return;
      }
      if (msg.generation != generation && oldHeld > 0) {
        oldHeld--;
        if (streamCredit < credit) {
          streamCredit++;
          sendCreditLocked();
        }
      }
      lock.notifyAll();
    }
  }

  void setCredit(int n) {
    synchronized (lock) {
      credit = Math.max(1, Math.min(n, ConsumerSettings.MAX_CREDIT));
      streamCredit = Math.max(1, credit - oldHeld);
      sendCreditLocked();
      lock.notifyAll();
    }
  }

  /** Tells the broker the current stream's credit, if it changed; lock held. */
  private void sendCreditLocked() {
    if (requests == null || streamCredit == sentCredit) {
      return;
    }
    try {
      requests.onNext(Service.LeaseRequest.newBuilder().setCredit(streamCredit).build());
      sentCredit = streamCredit;
    } catch (RuntimeException e) {
      // the stream is ending: the next one starts with the right credit
    }
  }

  /** Marks the consumer closed and returns the call to cancel (or null). */
  ClientCallStreamObserver<?> close() {
    synchronized (lock) {
      closed = true;
      lock.notifyAll();
      return call;
    }
  }

  boolean isClosed() {
    synchronized (lock) {
      return closed;
    }
  }

  /** Waits d, or less if the consumer is closed first (then false). */
  boolean pause(Duration d) {
    long end = System.nanoTime() + d.toNanos();
    synchronized (lock) {
      try {
        while (!closed && System.nanoTime() < end) {
          TimeUnit.NANOSECONDS.timedWait(lock, end - System.nanoTime());
        }
      } catch (InterruptedException e) {
        return false;
      }
      return !closed;
    }
  }

  /** Why the consumer stopped (kept unless it was closed first). */
  void fail(FilaException e) {
    synchronized (lock) {
      if (!closed) {
        error = e;
      }
    }
  }

  FilaException error() {
    synchronized (lock) {
      return error;
    }
  }

  /** The stream loop ended; returns whether it ended on an error. */
  boolean finish() {
    synchronized (lock) {
      done = true;
      return error != null;
    }
  }

  boolean isDone() {
    synchronized (lock) {
      return done;
    }
  }

  int heldCount() {
    synchronized (lock) {
      return held.size();
    }
  }

  /** The held messages that arrived between minAge and maxAge nanoseconds ago. */
  List<LeaseRef> heldBetween(long minAge, long maxAge) {
    long now = System.nanoTime();
    List<LeaseRef> due = new ArrayList<>();
    synchronized (lock) {
      for (Message m : held) {
        long age = now - m.receivedNanos;
        if (age >= minAge && age < maxAge) {
          due.add(new LeaseRef(m.id(), m.leaseId()));
        }
      }
    }
    return due;
  }
}
