package dev.fila.client;

import io.grpc.Status;
import java.time.Duration;

/**
 * The broker refused the call to protect itself ({@code RESOURCE_EXHAUSTED}): its memory
 * budget for pending messages is spent. Wait {@link #retryAfter()} before trying again (or let
 * the client do it: {@link RetryPolicy#retryOverloaded()}).
 */
public class OverloadedException extends FilaException {
  private static final long serialVersionUID = 1L;

  private final Duration retryAfter;

  /** An overload error from {@code op}, with the broker's hint of when to retry. */
  public OverloadedException(String op, String brokerMessage, Duration retryAfter) {
    super(op, Status.Code.RESOURCE_EXHAUSTED, brokerMessage);
    this.retryAfter = retryAfter == null ? Duration.ZERO : retryAfter;
  }

  /**
   * How long the broker asks the client to wait before it retries: its {@code retry-after-ms}
   * trailer, or {@link Duration#ZERO} when it sent none (one item of a batch carries none).
   */
  public Duration retryAfter() {
    return retryAfter;
  }
}
