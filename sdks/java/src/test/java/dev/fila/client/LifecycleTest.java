package dev.fila.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Status;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class LifecycleTest extends BrokerTest {

  @Test
  void enqueueLeaseAck() {
    FilaClient c = client();
    String q = newQueue(c, QueueConfig.builder().onEnqueueScript("""
        function on_enqueue(msg)
          return { fairness_key = msg.headers.tenant, weight = 3,
                   throttle_keys = { "t:" .. msg.headers.tenant } }
        end""").build());
    Instant before = Instant.now().minusSeconds(1);
    String id = c.enqueue(q, "hello".getBytes(StandardCharsets.UTF_8), Map.of("tenant", "acme"));
    assertFalse(id.isEmpty());
    try (Consumer cons = c.lease(q, ConsumerSettings.builder().credit(1).build())) {
      Message m = take(cons, 1, Duration.ofSeconds(10)).get(0);
      assertEquals(id, m.id());
      assertEquals("hello", new String(m.payload(), StandardCharsets.UTF_8));
      assertEquals(Map.of("tenant", "acme"), m.headers());
      assertEquals(q, m.queue());
      assertEquals("acme", m.fairnessKey());
      assertEquals(3, m.weight());
      assertEquals(List.of("t:acme"), m.throttleKeys());
      assertEquals(0, m.attemptCount());
      assertEquals("", m.lastError());
      assertFalse(m.leaseId().isEmpty());
      Instant enqueued = m.enqueuedAt().orElseThrow();
      assertTrue(enqueued.isAfter(before), "enqueuedAt " + enqueued);
      assertFalse(m.leasedAt().orElseThrow().isBefore(enqueued.minusSeconds(1)));
      join(m.ackAsync());
      assertTrue(m.isSettled());
      // A second ack of the same message is a no-op on the client: the first one counts.
      join(m.ackAsync());
    }
    QueueStats s = c.getStats(q);
    assertEquals(0, s.depth());
    assertEquals(0, s.inFlight());
    assertEquals(1, s.totals().acked());
  }

  @Test
  void nackRedeliversWithAttemptCount() {
    FilaClient c = client();
    String q = newQueue(c,
        QueueConfig.builder().retryBackoff(Duration.ofMillis(10), Duration.ZERO).build());
    String id = c.enqueue(q, "job".getBytes(StandardCharsets.UTF_8));
    try (Consumer cons = closeLater(c.lease(q))) {
      Message first = take(cons, 1, Duration.ofSeconds(10)).get(0);
      assertEquals(0, first.attemptCount());
      join(first.nackAsync("disk full"));
      Message again = take(cons, 1, Duration.ofSeconds(10)).get(0);
      assertEquals(id, again.id());
      assertEquals(1, again.attemptCount());
      assertEquals("disk full", again.lastError());
      assertNotEquals(first.leaseId(), again.leaseId(), "a redelivery has a new lease id");
      // The first delivery's lease is gone: acking with it is refused.
      assertThrows(FailedPreconditionException.class,
          () -> c.ack(q, first.id(), first.leaseId()));
      join(again.ackAsync());
    }
  }

  @Test
  void ackOfAnUnknownIdIsMessageNotFound() {
    FilaClient c = client();
    String q = newQueue(c, null);
    MessageNotFoundException e =
        assertThrows(MessageNotFoundException.class, () -> c.ack(q, "no-such-message", ""));
    assertInstanceOf(NotFoundException.class, e);
    assertEquals("AckBatch", e.op());
    assertEquals(Status.Code.NOT_FOUND, e.code());
    assertThrows(MessageNotFoundException.class,
        () -> c.nack(q, "no-such-message", "", "x"));
    List<ItemResult> r =
        c.extendLease(q, List.of(new LeaseRef("no-such-message", "")), Duration.ofSeconds(1));
    assertEquals(1, r.size());
    assertInstanceOf(MessageNotFoundException.class, r.get(0).error());
  }

  @Test
  void subscribeAcksOnReturnAndNacksOnThrow() {
    FilaClient c = client();
    String q = newQueue(c,
        QueueConfig.builder().retryBackoff(Duration.ofMillis(10), Duration.ZERO).build());
    List<String> ids = enqueueN(c, q, 10, Map.of());
    AtomicInteger handled = new AtomicInteger();
    AtomicInteger retried = new AtomicInteger();
    try (Subscription sub = c.subscribe(q, ConsumerSettings.builder().credit(4).build(), m -> {
      handled.incrementAndGet();
      if (m.attemptCount() == 0 && m.id().equals(ids.get(3))) {
        throw new IllegalStateException("transient failure of " + m.id());
      }
      if (m.attemptCount() == 1) {
        retried.incrementAndGet();
      }
    })) {
      waitFor(Duration.ofSeconds(15), "10 acks", () -> c.getStats(q).totals().acked() == 10);
      assertFalse(sub.isDone());
    }
    QueueStats s = c.getStats(q);
    assertEquals(11, handled.get());
    assertEquals(1, retried.get());
    assertEquals(1, s.totals().nacked());
    assertEquals(0, s.depth());
    assertEquals(List.of(), c.peek(FilaClient.dlqName(q), 10));
  }

  @Test
  void leasesOfHeldMessagesAreExtended() {
    FilaClient c = client();
    String q = newQueue(c, QueueConfig.builder().visibilityTimeout(Duration.ofMillis(600)).build());
    enqueueN(c, q, 1, Map.of());
    AtomicInteger calls = new AtomicInteger();
    try (Subscription sub = c.subscribe(q, ConsumerSettings.DEFAULT, m -> {
      calls.incrementAndGet();
      // Three visibility timeouts of work: without extension the lease would expire and the
      // message be delivered again.
      Thread.sleep(1800);
    })) {
      waitFor(Duration.ofSeconds(15), "the ack", () -> c.getStats(q).totals().acked() == 1);
    }
    QueueStats s = c.getStats(q);
    assertEquals(1, calls.get());
    assertEquals(0, s.totals().expired());
    assertEquals(1, s.totals().leased());
  }

  @Test
  void classicConsumeStream() {
    FilaClient c = client();
    String q = newQueue(c, null);
    List<String> ids = enqueueN(c, q, 5, Map.of());
    Consumer cons = c.consume(q, ConsumerSettings.DEFAULT);
    List<Message> got = take(cons, 5, Duration.ofSeconds(10));
    for (int i = 0; i < 5; i++) {
      assertEquals(ids.get(i), got.get(i).id());
      got.get(i).ack();
    }
    cons.close();
    assertTrue(cons.error().isEmpty());
    assertFalse(cons.hasNext());
    waitFor(Duration.ofSeconds(5), "5 acks", () -> c.getStats(q).totals().acked() == 5);
  }
}
