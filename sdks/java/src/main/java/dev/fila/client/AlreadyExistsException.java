package dev.fila.client;

import io.grpc.Status;

/** A queue created twice ({@code ALREADY_EXISTS}). */
public class AlreadyExistsException extends FilaException {
  private static final long serialVersionUID = 1L;

  /** An error of this kind from {@code op}, with the broker's message. */
  public AlreadyExistsException(String op, Status.Code code, String brokerMessage) {
    super(op, code, brokerMessage);
  }

  /** An error of this kind from {@code op}, with the status code {@code ALREADY_EXISTS}. */
  public AlreadyExistsException(String op, String brokerMessage) {
    super(op, Status.Code.ALREADY_EXISTS, brokerMessage);
  }
}
