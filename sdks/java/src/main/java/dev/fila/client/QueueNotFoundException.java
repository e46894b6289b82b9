package dev.fila.client;

import io.grpc.Status;

/** The queue does not exist ({@code NOT_FOUND}). */
public class QueueNotFoundException extends NotFoundException {
  private static final long serialVersionUID = 1L;

  /** An error of this kind from {@code op}, with the broker's message. */
  public QueueNotFoundException(String op, Status.Code code, String brokerMessage) {
    super(op, code, brokerMessage);
  }

  /** An error of this kind from {@code op}, with the status code {@code NOT_FOUND}. */
  public QueueNotFoundException(String op, String brokerMessage) {
    super(op, Status.Code.NOT_FOUND, brokerMessage);
  }
}
