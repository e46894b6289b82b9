package dev.fila.client;

import java.time.Instant;
import java.util.Optional;

/**
 * An API key as {@link FilaClient#listApiKeys} describes it (never its secret).
 *
 * @param id the key's id
 * @param name its name
 * @param createdAt when it was made
 * @param expiresAt when it expires; null when it never does
 * @param superadmin whether it may do everything
 */
public record ApiKey(String id, String name, Instant createdAt, Instant expiresAt,
    boolean superadmin) {
  /** When it expires, if it does. */
  public Optional<Instant> expiry() {
    return Optional.ofNullable(expiresAt);
  }
}
