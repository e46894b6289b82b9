package dev.fila.client;

import io.grpc.Status;

/**
 * The broker cannot be reached, is restarting, or cannot write ({@code UNAVAILABLE}). The client
 * retries these by itself until the deadline of the call ({@link RetryPolicy}).
 */
public class UnavailableException extends FilaException {
  private static final long serialVersionUID = 1L;

  /** An error of this kind from {@code op}, with the broker's message. */
  public UnavailableException(String op, Status.Code code, String brokerMessage) {
    super(op, code, brokerMessage);
  }

  /** An error of this kind from {@code op}, with the status code {@code UNAVAILABLE}. */
  public UnavailableException(String op, String brokerMessage) {
    super(op, Status.Code.UNAVAILABLE, brokerMessage);
  }
}
