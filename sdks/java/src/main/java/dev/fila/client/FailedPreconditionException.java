package dev.fila.client;

import io.grpc.Status;

/**
 * Well formed but not allowed now ({@code FAILED_PRECONDITION}): a stale lease id (the lease
 * expired and the message went to another consumer), updating a dead-letter queue, ...
 */
public class FailedPreconditionException extends FilaException {
  private static final long serialVersionUID = 1L;

  /** An error of this kind from {@code op}, with the broker's message. */
  public FailedPreconditionException(String op, Status.Code code, String brokerMessage) {
    super(op, code, brokerMessage);
  }

  /** An error of this kind from {@code op}, with the status code {@code FAILED_PRECONDITION}. */
  public FailedPreconditionException(String op, String brokerMessage) {
    super(op, Status.Code.FAILED_PRECONDITION, brokerMessage);
  }
}
