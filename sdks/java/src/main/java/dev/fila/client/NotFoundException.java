package dev.fila.client;

import io.grpc.Status;

/**
 * Something named in the call does not exist ({@code NOT_FOUND}): a queue, a leased message, a
 * config key, an API key. {@link QueueNotFoundException} and {@link MessageNotFoundException}
 * are its two common cases.
 */
public class NotFoundException extends FilaException {
  private static final long serialVersionUID = 1L;

  /** An error of this kind from {@code op}, with the broker's message. */
  public NotFoundException(String op, Status.Code code, String brokerMessage) {
    super(op, code, brokerMessage);
  }

  /** An error of this kind from {@code op}, with the status code {@code NOT_FOUND}. */
  public NotFoundException(String op, String brokerMessage) {
    super(op, Status.Code.NOT_FOUND, brokerMessage);
  }
}
