package dev.fila.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class SecurityTest extends BrokerTest {

  /** A client expected to fail fast: no retries, a short deadline. */
  private FilaClient quick(String addr, java.util.function.UnaryOperator<FilaClientBuilder> cfg) {
    return client(addr, b -> cfg.apply(b.retry(RetryPolicy.NONE).timeout(Duration.ofSeconds(3))));
  }

  @Test
  void tlsWithACustomCa() {
    Pki p = closeLater(Pki.create());
    TestBroker b = broker(List.of("--tls-cert", p.serverCert.toString(), "--tls-key",
        p.serverKey.toString()), Map.of());
    FilaClient c = client(b.addr(), x -> x.tls(p.caFile));
    String q = newQueue(c, null);
    assertFalse(c.enqueue(q, "over TLS".getBytes()).isEmpty());
    // The same through "localhost", which the certificate also names, with the CA in memory.
    FilaClient c2 = client("localhost:" + b.port(), x -> x.tlsCa(Pki.read(p.caFile)));
    assertTrue(c2.listQueues().stream().anyMatch(i -> i.name().equals(q)));
    // A plain client, or one trusting only the system roots, cannot talk to it.
    assertThrows(UnavailableException.class, () -> quick(b.addr(), x -> x).listQueues());
    assertThrows(UnavailableException.class, () -> quick(b.addr(), x -> x.tls()).listQueues());
  }

  @Test
  void mutualTls() {
    Pki p = closeLater(Pki.create());
    TestBroker b = broker(List.of("--tls-cert", p.serverCert.toString(), "--tls-key",
        p.serverKey.toString(), "--tls-ca", p.caFile.toString()), Map.of());
    FilaClient c = client(b.addr(), x -> x.tls(p.caFile).tlsClientCert(p.clientCert, p.clientKey));
    String q = newQueue(c, null);
    enqueueN(c, q, 1, Map.of());
    try (Consumer cons = c.lease(q)) {
      join(take(cons, 1, Duration.ofSeconds(10)).get(0).ackAsync());
    }
    // From memory, too.
    FilaClient c2 = client(b.addr(), x -> x.tlsCa(Pki.read(p.caFile))
        .tlsClientCert(Pki.read(p.clientCert), Pki.read(p.clientKey)));
    assertFalse(c2.listQueues().isEmpty());
    // Without a client certificate the broker refuses the connection.
    assertThrows(UnavailableException.class,
        () -> quick(b.addr(), x -> x.tls(p.caFile)).listQueues());
    // A junk key is refused when the client is built.
    assertThrows(IllegalArgumentException.class, () -> FilaClient.builder(b.addr())
        .tlsClientCert("junk".getBytes(), "junk".getBytes()).build());
  }

  @Test
  void apiKeysAndAcls() {
    String bootstrap = "test-bootstrap-key-0123456789"; // made up for this test's broker
    TestBroker b = broker(List.of(), Map.of("FILA_BOOTSTRAP_APIKEY", bootstrap));
    FilaClient root = client(b.addr(), x -> x.apiKey(bootstrap));
    String q = newQueue(root, null);

    assertThrows(UnauthenticatedException.class,
        () -> client(b.addr(), x -> x).enqueue(q, new byte[] {1}));
    assertThrows(UnauthenticatedException.class,
        () -> client(b.addr(), x -> x.apiKey("fila_nope_nope")).listQueues());

    CreatedApiKey key = root.createApiKey("worker", null, false);
    assertFalse(key.id().isEmpty());
    assertFalse(key.key().isEmpty());
    assertFalse(key.toString().contains(key.key()), "the secret stays out of toString");
    root.setAcl(key.id(), List.of(Permission.consume(q)));
    Acl acl = root.getAcl(key.id());
    assertEquals(List.of(new Permission(Permission.CONSUME, q)), acl.permissions());
    assertFalse(acl.superadmin());
    List<ApiKey> keys = root.listApiKeys();
    assertEquals(1, keys.size());
    assertEquals(key.id(), keys.get(0).id());
    assertEquals("worker", keys.get(0).name());
    assertTrue(keys.get(0).createdAt() != null && keys.get(0).expiry().isEmpty());

    FilaClient worker = client(b.addr(), x -> x.apiKey(key.key()));
    assertThrows(PermissionDeniedException.class, () -> worker.enqueue(q, new byte[] {1}));
    assertThrows(PermissionDeniedException.class, () -> worker.createQueue(q + "-2"));
    enqueueN(root, q, 1, Map.of());
    try (Consumer cons = worker.lease(q)) {
      join(take(cons, 1, Duration.ofSeconds(10)).get(0).ackAsync());
    }
    Consumer other = closeLater(worker.lease(q + "-elsewhere"));
    assertThrows(PermissionDeniedException.class, other::hasNext);

    root.revokeApiKey(key.id());
    assertThrows(UnauthenticatedException.class, worker::listQueues);
  }
}
