package dev.fila.client;

import io.grpc.Status;

/** The API key's ACL does not allow the call ({@code PERMISSION_DENIED}). */
public class PermissionDeniedException extends FilaException {
  private static final long serialVersionUID = 1L;

  /** An error of this kind from {@code op}, with the broker's message. */
  public PermissionDeniedException(String op, Status.Code code, String brokerMessage) {
    super(op, code, brokerMessage);
  }

  /** An error of this kind from {@code op}, with the status code {@code PERMISSION_DENIED}. */
  public PermissionDeniedException(String op, String brokerMessage) {
    super(op, Status.Code.PERMISSION_DENIED, brokerMessage);
  }
}
