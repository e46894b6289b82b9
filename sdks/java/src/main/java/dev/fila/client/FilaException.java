package dev.fila.client;

import io.grpc.Status;

/**
 * The root of every error the SDK throws: a call the broker refused, or one that did not reach
 * it. Unchecked, like gRPC's own {@code StatusRuntimeException}. Catch a subclass to handle one
 * kind ({@link QueueNotFoundException}, {@link OverloadedException}, ...), or this class for
 * all of them.
 *
 * <p>Every instance carries the RPC that failed ({@link #op()}), the gRPC status code
 * ({@link #code()}; for one item of a batch RPC, the code the single-item RPC would have
 * answered) and the broker's own description ({@link #brokerMessage()}), which names the field
 * or the thing at fault.
 */
public class FilaException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final String op;
  private final Status.Code code;
  private final String brokerMessage;

  /**
   * @param op the RPC that failed, e.g. {@code "Enqueue"} ("" when no RPC was made)
   * @param code the gRPC status code
   * @param brokerMessage the broker's description of the failure
   */
  public FilaException(String op, Status.Code code, String brokerMessage) {
    super(render(op, code, brokerMessage)); // no cause yet: Errors may add the transport's
    this.op = op == null ? "" : op;
    this.code = code == null ? Status.Code.UNKNOWN : code;
    this.brokerMessage = brokerMessage == null ? "" : brokerMessage;
  }

  /** As {@link #FilaException(String, Status.Code, String)}, with the exception behind it. */
  public FilaException(String op, Status.Code code, String brokerMessage, Throwable cause) {
    super(render(op, code, brokerMessage), cause);
    this.op = op == null ? "" : op;
    this.code = code == null ? Status.Code.UNKNOWN : code;
    this.brokerMessage = brokerMessage == null ? "" : brokerMessage;
  }

  private static String render(String op, Status.Code code, String msg) {
    String text = msg == null || msg.isEmpty() ? String.valueOf(code) : msg;
    return op == null || op.isEmpty() ? "fila: " + text : "fila: " + op + ": " + text;
  }

  /** The RPC that failed, e.g. {@code "Enqueue"} or {@code "AckBatch"}. */
  public String op() {
    return op;
  }

  /** The gRPC status code. */
  public Status.Code code() {
    return code;
  }

  /** The broker's description (names the field or thing at fault). */
  public String brokerMessage() {
    return brokerMessage;
  }

  /**
   * Whether the same call may succeed later unchanged: the broker was overloaded or could not
   * be reached.
   */
  public boolean isTemporary() {
    return code == Status.Code.UNAVAILABLE || code == Status.Code.RESOURCE_EXHAUSTED;
  }
}
