package dev.fila.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class AdminTest extends BrokerTest {

  @Test
  void queueLifecycle() {
    FilaClient c = client();
    String hook = "function on_enqueue(msg) return { fairness_key = msg.headers.tenant } end";
    String q = newQueue(c, QueueConfig.builder().onEnqueueScript(hook)
        .visibilityTimeout(Duration.ofSeconds(45)).maxAttempts(3).build());
    QueueDescription d = c.getQueue(q);
    assertEquals(q, d.name());
    assertEquals(hook, d.config().onEnqueueScript());
    assertEquals(Duration.ofSeconds(45), d.config().visibilityTimeout());
    assertEquals(3, d.config().maxAttempts());
    assertEquals("", d.dlqOf());
    assertEquals(q, c.getQueue(FilaClient.dlqName(q)).dlqOf());

    c.updateQueue(q, d.config().toBuilder().visibilityTimeout(Duration.ofSeconds(5)).build());
    assertEquals(Duration.ofSeconds(5), c.getQueue(q).config().visibilityTimeout());
    assertEquals(hook, c.getQueue(q).config().onEnqueueScript());

    enqueueN(c, q, 2, Map.of("tenant", "acme"));
    QueueInfo info = c.listQueues().stream().filter(i -> i.name().equals(q)).findFirst()
        .orElseThrow();
    assertEquals(2, info.depth());
    assertTrue(c.listQueues().stream().anyMatch(i -> i.name().equals(FilaClient.dlqName(q))));

    List<Message> peeked = c.peek(q, 10);
    assertEquals(2, peeked.size());
    assertEquals("acme", peeked.get(0).fairnessKey());
    assertEquals("m0", new String(peeked.get(0).payload()));

    QueueStats s = c.getStats(q);
    assertEquals(2, s.depth());
    assertEquals(1, s.activeFairnessKeys());
    assertEquals("acme", s.keys().get(0).key());
    assertEquals(2, s.keys().get(0).pending());
    assertTrue(s.hooks().stream().anyMatch(h -> h.hook().equals("on_enqueue") && h.configured()));
    assertEquals(2, s.totals().enqueued());

    Explanation why = c.explain(q, "acme");
    assertFalse(why.summary().isEmpty());
    assertEquals(2, why.pending());

    c.deleteQueue(q);
    assertThrows(QueueNotFoundException.class, () -> c.getQueue(q));
    assertFalse(c.listQueues().stream().anyMatch(i -> i.name().equals(q)));
  }

  @Test
  void runtimeConfigAndThrottles() {
    FilaClient c = client();
    String prefix = "java-admin-test.";
    c.setConfig(prefix + "a", "1");
    c.setConfig(prefix + "b", "two");
    assertEquals("two", c.getConfig(prefix + "b"));
    assertEquals(Map.of(prefix + "a", "1", prefix + "b", "two"), c.listConfig(prefix));
    c.setConfig(prefix + "a", "");
    assertThrows(NotFoundException.class, () -> c.getConfig(prefix + "a"));

    c.setThrottle("java-test:smtp", 100, 20);
    assertEquals("100,20", c.getConfig("throttle.java-test:smtp"));
    c.setThrottle("java-test:slow", 0.5, 0);
    assertEquals("0.5,1", c.getConfig("throttle.java-test:slow"));
    String q = newQueue(c, QueueConfig.builder().onEnqueueScript(
        "function on_enqueue(msg) return { throttle_keys = { \"java-test:smtp\" } } end").build());
    enqueueN(c, q, 1, Map.of());
    QueueStats s = c.getStats(q);
    assertEquals(1, s.throttles().size());
    assertEquals("java-test:smtp", s.throttles().get(0).key());
    assertEquals(100.0, s.throttles().get(0).ratePerSecond());
    assertEquals(20.0, s.throttles().get(0).burst());
    c.clearThrottle("java-test:smtp");
    c.clearThrottle("java-test:slow");
    assertThrows(NotFoundException.class, () -> c.getConfig("throttle.java-test:smtp"));
  }

  @Test
  void deadLettersAreRedriven() {
    FilaClient c = client();
    String q = newQueue(c, QueueConfig.builder().onFailureScript(
        "function on_failure(msg) return { action = \"dlq\" } end").build());
    String id = enqueueN(c, q, 1, Map.of()).get(0);
    try (Consumer cons = c.lease(q)) {
      join(take(cons, 1, Duration.ofSeconds(10)).get(0).nackAsync("poison"));
    }
    String dlq = FilaClient.dlqName(q);
    waitFor(Duration.ofSeconds(5), "the dead letter", () -> c.getStats(dlq).depth() == 1);
    Message dead = c.peek(dlq, 0).get(0);
    assertEquals(id, dead.id());
    assertEquals("poison", dead.lastError());
    assertEquals(1, c.getStats(q).dlqDepth());
    assertEquals(1, c.redrive(dlq, 0));
    assertEquals(1, c.getStats(q).depth());
    assertEquals(0, c.getStats(dlq).depth());
  }
}
