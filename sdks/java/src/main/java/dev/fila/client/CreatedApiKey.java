package dev.fila.client;

/**
 * A new API key ({@link FilaClient#createApiKey}).
 *
 * @param id the key's id (for its ACL and to revoke it)
 * @param key the secret, shown only this once: send it with {@link FilaClientBuilder#apiKey}
 * @param superadmin whether it may do everything
 */
public record CreatedApiKey(String id, String key, boolean superadmin) {
  @Override
  public String toString() {
    // The secret stays out of logs.
    return "CreatedApiKey[id=" + id + ", superadmin=" + superadmin + "]";
  }
}
