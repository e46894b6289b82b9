package dev.fila.client;

import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;

/** Turns gRPC statuses and batch items into FilaExceptions, in one place. */
final class Errors {
  private Errors() {}

  static final Metadata.Key<String> RETRY_AFTER =
      Metadata.Key.of("retry-after-ms", Metadata.ASCII_STRING_MARSHALLER);
  static final Metadata.Key<String> LEADER_ADDR =
      Metadata.Key.of(FilaClient.LEADER_ADDR_KEY, Metadata.ASCII_STRING_MARSHALLER);

  /** The exception of a failed call, from its status and trailers. */
  static FilaException from(String op, Status st, Metadata trailers) {
    String msg = st.getDescription() == null ? "" : st.getDescription();
    Status.Code code = st.getCode();
    if (code == Status.Code.UNKNOWN && st.getCause() instanceof java.io.IOException) {
      // grpc-java reports a write to a connection that just died (ClosedChannelException) as
      // UNKNOWN: it is the broker going away, to be retried like any UNAVAILABLE.
      code = Status.Code.UNAVAILABLE;
      msg = msg.isEmpty() ? "connection lost: " + st.getCause() : msg;
    }
    FilaException e = of(op, code, msg, retryAfter(trailers));
    if (st.getCause() != null && e.getCause() == null) {
      try {
        e.initCause(st.getCause()); // the transport's reason (a refused connection, ...)
      } catch (IllegalStateException ignored) {
        // a cause was set already
      }
    }
    return e;
  }

  /** The exception of any throwable a gRPC call or a future ended with. */
  static FilaException from(String op, Throwable t) {
    while ((t instanceof CompletionException || t instanceof ExecutionException)
        && t.getCause() != null) {
      t = t.getCause();
    }
    if (t instanceof FilaException fe) {
      return fe;
    }
    if (t instanceof CancellationException) {
      return new FilaException(op, Status.Code.CANCELLED, "cancelled", t);
    }
    Status st = Status.fromThrowable(t);
    return from(op, st, Status.trailersFromThrowable(t));
  }

  /** The exception of one failed item of a batch RPC: code is a status code name. */
  static FilaException fromItem(String op, String codeName, String message) {
    Status.Code code;
    try {
      code = Status.Code.valueOf(codeName);
    } catch (IllegalArgumentException | NullPointerException e) {
      code = Status.Code.UNKNOWN;
    }
    return of(op, code, message == null || message.isEmpty() ? codeName : message, null);
  }

  static FilaException of(String op, Status.Code code, String msg, Duration retryAfter) {
    switch (code) {
      case NOT_FOUND:
        return notFound(op, msg);
      case INVALID_ARGUMENT:
      case OUT_OF_RANGE:
        return new InvalidArgumentException(op, code, msg);
      case ALREADY_EXISTS:
        return new AlreadyExistsException(op, code, msg);
      case FAILED_PRECONDITION:
        return new FailedPreconditionException(op, code, msg);
      case RESOURCE_EXHAUSTED:
        return new OverloadedException(op, msg, retryAfter);
      case UNAVAILABLE:
        return new UnavailableException(op, code, msg);
      case UNAUTHENTICATED:
        return new UnauthenticatedException(op, code, msg);
      case PERMISSION_DENIED:
        return new PermissionDeniedException(op, code, msg);
      case DEADLINE_EXCEEDED:
        return new DeadlineExceededException(op, code, msg);
      default:
        return new FilaException(op, code, msg);
    }
  }

  /**
   * NOT_FOUND has one code for several things: told apart by what the broker says it did not
   * find ("queue 'x' does not exist", "message 'y' is not leased ..."), and by the call (a
   * NOT_FOUND item of an ack is a message).
   */
  private static NotFoundException notFound(String op, String msg) {
    String lower = msg.toLowerCase(Locale.ROOT);
    boolean ackLike = switch (op) {
      case "Ack", "Nack", "AckBatch", "NackBatch", "ExtendLease" -> true;
      default -> false;
    };
    if (lower.startsWith("queue")) {
      return new QueueNotFoundException(op, msg);
    }
    if (lower.startsWith("message")) {
      return new MessageNotFoundException(op, msg);
    }
    if (ackLike) {
      return lower.contains("queue") && !lower.contains("message")
          ? new QueueNotFoundException(op, msg)
          : new MessageNotFoundException(op, msg);
    }
    if (lower.contains("queue")) {
      return new QueueNotFoundException(op, msg);
    }
    return new NotFoundException(op, msg);
  }

  static Duration retryAfter(Metadata md) {
    if (md == null) {
      return null;
    }
    String v = md.get(RETRY_AFTER);
    if (v == null) {
      return null;
    }
    try {
      double ms = Double.parseDouble(v.trim());
      return ms >= 0 ? Duration.ofNanos((long) (ms * 1_000_000)) : null;
    } catch (NumberFormatException e) {
      return null;
    }
  }

  /** The leader a follower named in its trailers, or null. */
  static String leaderAddr(Metadata md) {
    if (md == null) {
      return null;
    }
    String v = md.get(LEADER_ADDR);
    return v == null || v.isEmpty() ? null : v;
  }

  /** Whether a failed stream cannot be fixed by opening it again. */
  static boolean permanent(FilaException e) {
    if (e instanceof ClosedException) {
      return true;
    }
    return switch (e.code()) {
      case INVALID_ARGUMENT, NOT_FOUND, ALREADY_EXISTS, PERMISSION_DENIED, FAILED_PRECONDITION,
          UNAUTHENTICATED, UNIMPLEMENTED, OUT_OF_RANGE -> true;
      default -> false;
    };
  }

  static boolean unimplemented(Throwable t) {
    if (t instanceof FilaException fe) {
      return fe.code() == Status.Code.UNIMPLEMENTED;
    }
    return t instanceof StatusRuntimeException sre
        && sre.getStatus().getCode() == Status.Code.UNIMPLEMENTED;
  }
}
