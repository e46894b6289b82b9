package dev.fila.client;

import io.grpc.Status;

/** No API key, or an unknown, revoked or expired one ({@code UNAUTHENTICATED}). */
public class UnauthenticatedException extends FilaException {
  private static final long serialVersionUID = 1L;

  /** An error of this kind from {@code op}, with the broker's message. */
  public UnauthenticatedException(String op, Status.Code code, String brokerMessage) {
    super(op, code, brokerMessage);
  }

  /** An error of this kind from {@code op}, with the status code {@code UNAUTHENTICATED}. */
  public UnauthenticatedException(String op, String brokerMessage) {
    super(op, Status.Code.UNAUTHENTICATED, brokerMessage);
  }
}
