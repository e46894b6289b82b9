package dev.fila.client;

import io.grpc.Status;

/**
 * The client, producer or consumer was closed before the call: no RPC was made. Its code is
 * {@code CANCELLED}.
 */
public class ClosedException extends FilaException {
  private static final long serialVersionUID = 1L;

  /** @param what what was closed: "client", "producer", ... */
  public ClosedException(String what) {
    super("", Status.Code.CANCELLED, what + " is closed");
  }
}
