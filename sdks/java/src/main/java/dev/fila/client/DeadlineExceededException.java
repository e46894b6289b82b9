package dev.fila.client;

import io.grpc.Status;

/**
 * The call did not finish within its deadline ({@code DEADLINE_EXCEEDED}): the client timeout,
 * or {@link FilaClient#withTimeout}.
 */
public class DeadlineExceededException extends FilaException {
  private static final long serialVersionUID = 1L;

  /** An error of this kind from {@code op}, with the broker's message. */
  public DeadlineExceededException(String op, Status.Code code, String brokerMessage) {
    super(op, code, brokerMessage);
  }

  /** An error of this kind from {@code op}, with the status code {@code DEADLINE_EXCEEDED}. */
  public DeadlineExceededException(String op, String brokerMessage) {
    super(op, Status.Code.DEADLINE_EXCEEDED, brokerMessage);
  }
}
