package dev.fila.client;

import java.util.Optional;

/**
 * The outcome of one message of {@link FilaClient#enqueueBatch}: its id, or why the broker
 * refused it (one refused message does not fail the others).
 *
 * @param messageId the broker-assigned id, or null when the message was refused
 * @param error why it was refused, or null when it was accepted
 */
public record EnqueueResult(String messageId, FilaException error) {

  /** Whether the message was accepted. */
  public boolean ok() {
    return error == null;
  }

  /** The error, if the message was refused. */
  public Optional<FilaException> failure() {
    return Optional.ofNullable(error);
  }

  /** The message's id, or throws why it was refused. */
  public String orThrow() {
    if (error != null) {
      throw error;
    }
    return messageId;
  }
}
