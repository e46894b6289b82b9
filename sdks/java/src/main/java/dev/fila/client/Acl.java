package dev.fila.client;

import java.util.List;

/**
 * An API key's permissions ({@link FilaClient#getAcl}).
 *
 * @param keyId the key's id
 * @param permissions what it may do
 * @param superadmin whether it may do everything
 */
public record Acl(String keyId, List<Permission> permissions, boolean superadmin) {}
