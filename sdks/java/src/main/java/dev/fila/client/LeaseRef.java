package dev.fila.client;

import java.util.Objects;

/**
 * Names one leased message: its id and, optionally, the lease id it was delivered with (so
 * that the broker refuses the operation if that lease expired and the message went to another
 * consumer).
 *
 * @param messageId the message's id
 * @param leaseId the lease id of its delivery, or "" to skip the check
 */
public record LeaseRef(String messageId, String leaseId) {
  /** A null lease id becomes "". */
  public LeaseRef {
    Objects.requireNonNull(messageId, "messageId");
    leaseId = leaseId == null ? "" : leaseId;
  }
}
