package dev.fila.client;

import java.util.Optional;

/**
 * The outcome for one message id of a batch operation ({@link FilaClient#extendLease}).
 *
 * @param messageId the message's id
 * @param error why the operation failed for it, or null when it succeeded
 */
public record ItemResult(String messageId, FilaException error) {

  /** Whether the operation succeeded for this message. */
  public boolean ok() {
    return error == null;
  }

  /** The error, if it failed. */
  public Optional<FilaException> failure() {
    return Optional.ofNullable(error);
  }

  /** Throws the error, if it failed. */
  public void orThrow() {
    if (error != null) {
      throw error;
    }
  }
}
