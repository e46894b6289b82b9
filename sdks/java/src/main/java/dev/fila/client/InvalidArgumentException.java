package dev.fila.client;

import io.grpc.Status;

/** Bad input ({@code INVALID_ARGUMENT}, {@code OUT_OF_RANGE}): the message names the field. */
public class InvalidArgumentException extends FilaException {
  private static final long serialVersionUID = 1L;

  /** An error of this kind from {@code op}, with the broker's message. */
  public InvalidArgumentException(String op, Status.Code code, String brokerMessage) {
    super(op, code, brokerMessage);
  }

  /** An error of this kind from {@code op}, with the status code {@code INVALID_ARGUMENT}. */
  public InvalidArgumentException(String op, String brokerMessage) {
    super(op, Status.Code.INVALID_ARGUMENT, brokerMessage);
  }
}
