package dev.fila.client;

import java.time.Duration;
import java.util.concurrent.ThreadLocalRandom;

/**
 * How the client retries a call that failed because the broker was unavailable
 * ({@code UNAVAILABLE}: not reachable, restarting, or its storage could not write), and how fast
 * consumers re-open their streams. Retries wait with exponential backoff and jitter and never
 * outlast the call's deadline.
 *
 * <p>A call that failed with {@code UNAVAILABLE} may have taken effect (the connection broke
 * after the broker acted): delivery is at-least-once, so a retried enqueue can store a message
 * twice.
 *
 * @param maxAttempts the most attempts of one call, the first included; 1 turns retries off,
 *     0 retries until the call's deadline
 * @param initialBackoff the wait before the first retry; each retry doubles it up to
 *     {@code maxBackoff}
 * @param maxBackoff the longest wait between two attempts
 * @param retryOverloaded also retry calls the broker refused as overloaded
 *     ({@code RESOURCE_EXHAUSTED}), waiting at least its retry-after hint; off by default, so
 *     that the caller sees {@link OverloadedException} and decides
 */
public record RetryPolicy(
    int maxAttempts, Duration initialBackoff, Duration maxBackoff, boolean retryOverloaded) {

  /** Retries unavailable calls until their deadline: 50ms doubling to 2s. */
  public static final RetryPolicy DEFAULT =
      new RetryPolicy(0, Duration.ofMillis(50), Duration.ofSeconds(2), false);

  /** No retries: the first failure is the answer. */
  public static final RetryPolicy NONE = DEFAULT.withMaxAttempts(1);

  /** Fills in the defaults of null or non-positive durations. */
  public RetryPolicy {
    if (maxAttempts < 0) {
      maxAttempts = 0;
    }
    if (initialBackoff == null || initialBackoff.isNegative() || initialBackoff.isZero()) {
      initialBackoff = Duration.ofMillis(50);
    }
    if (maxBackoff == null || maxBackoff.isNegative() || maxBackoff.isZero()) {
      maxBackoff = Duration.ofSeconds(2);
    }
    if (maxBackoff.compareTo(initialBackoff) < 0) {
      maxBackoff = initialBackoff;
    }
  }

  /** This policy with another {@code maxAttempts}. */
  public RetryPolicy withMaxAttempts(int n) {
    return new RetryPolicy(n, initialBackoff, maxBackoff, retryOverloaded);
  }

  /** This policy with other backoff bounds. */
  public RetryPolicy withBackoff(Duration initial, Duration max) {
    return new RetryPolicy(maxAttempts, initial, max, retryOverloaded);
  }

  /** This policy, retrying overloaded calls too (or not). */
  public RetryPolicy withRetryOverloaded(boolean retry) {
    return new RetryPolicy(maxAttempts, initialBackoff, maxBackoff, retry);
  }

  /**
   * The wait before retry number {@code n} (1 for the first): exponential, capped, with "equal
   * jitter" (between half and all of it), so that many clients do not retry in step.
   */
  Duration backoff(int n) {
    long d = initialBackoff.toNanos();
    long cap = maxBackoff.toNanos();
    for (int i = 1; i < n && d < cap; i++) {
      d *= 2;
    }
    d = Math.min(d, cap);
    long half = d / 2;
    return Duration.ofNanos(half + ThreadLocalRandom.current().nextLong(half + 1));
  }

  boolean retryable(FilaException e) {
    return switch (e.code()) {
      case UNAVAILABLE -> !(e instanceof ClosedException);
      case RESOURCE_EXHAUSTED -> retryOverloaded;
      default -> false;
    };
  }
}
