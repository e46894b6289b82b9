package dev.fila.client;

import io.grpc.Status;

/**
 * The message is not leased ({@code NOT_FOUND}): an unknown id, already acked, or its lease
 * expired.
 */
public class MessageNotFoundException extends NotFoundException {
  private static final long serialVersionUID = 1L;

  /** An error of this kind from {@code op}, with the broker's message. */
  public MessageNotFoundException(String op, Status.Code code, String brokerMessage) {
    super(op, code, brokerMessage);
  }

  /** An error of this kind from {@code op}, with the status code {@code NOT_FOUND}. */
  public MessageNotFoundException(String op, String brokerMessage) {
    super(op, Status.Code.NOT_FOUND, brokerMessage);
  }
}
