package dev.fila.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ConsumerTest extends BrokerTest {

  @Test
  void neverHoldsMoreThanItsCredit() {
    FilaClient c = client();
    String q = newQueue(c, null);
    enqueueN(c, q, 60, Map.of());
    Consumer cons = closeLater(c.lease(q, ConsumerSettings.builder().credit(5).maxBatch(2)
        .build()));
    List<Message> held = new ArrayList<>(take(cons, 5, Duration.ofSeconds(10)));
    waitFor(Duration.ofSeconds(5), "5 in flight", () -> c.getStats(q).inFlight() == 5);
    // Holding 5 unacked messages, the consumer gets no sixth: watch the broker for a while.
    long end = System.nanoTime() + Duration.ofMillis(300).toNanos();
    while (System.nanoTime() < end) {
      Message m = cons.poll(Duration.ofMillis(20));
      if (m != null) {
        fail("a sixth message arrived while 5 were unacked: " + m.id());
      }
      long inFlight = c.getStats(q).inFlight();
      assertTrue(inFlight <= 5, "in flight " + inFlight + " > credit 5");
    }
    // Acking frees one slot each: the rest flows through, never more than 5 held at once.
    int maxHeld = 0;
    for (int got = 5; got < 60; got++) {
      held.remove(0).ack();
      held.add(take(cons, 1, Duration.ofSeconds(10)).get(0));
      maxHeld = Math.max(maxHeld, cons.stats().held());
      long inFlight = c.getStats(q).inFlight();
      assertTrue(inFlight <= 5, "in flight " + inFlight + " > credit 5");
    }
    assertTrue(maxHeld <= 5, "held " + maxHeld + " at once with credit 5");
    // Raising the credit is sent to the broker on the open stream.
    enqueueN(c, q, 10, Map.of());
    cons.setCredit(12);
    take(cons, 7, Duration.ofSeconds(10));
    waitFor(Duration.ofSeconds(5), "12 in flight", () -> c.getStats(q).inFlight() == 12);
  }

  @Test
  void countsItselfAndCloseWaitsForAcks() {
    FilaClient c = client();
    String q = newQueue(c, null);
    enqueueN(c, q, 3, Map.of());
    Consumer cons = c.lease(q);
    List<Message> msgs = take(cons, 3, Duration.ofSeconds(10));
    ConsumerStats st = cons.stats();
    assertEquals(new ConsumerStats(3, 3, 0), st);
    msgs.forEach(Message::ack);
    cons.close();
    assertEquals(0, cons.stats().held());
    // Close waited for the acks: they are on the broker.
    assertEquals(3, c.getStats(q).totals().acked());
    assertFalse(cons.hasNext());
    assertNull(cons.poll(Duration.ofMillis(10)));
    assertTrue(cons.isDone());
  }

  @Test
  void forEachLoopReadsTheStream() {
    FilaClient c = client();
    String q = newQueue(c, null);
    List<String> ids = enqueueN(c, q, 4, Map.of());
    List<String> got = new ArrayList<>();
    try (Consumer cons = c.lease(q)) {
      for (Message m : cons) {
        got.add(m.id());
        m.ack();
        if (got.size() == ids.size()) {
          break;
        }
      }
    }
    assertEquals(ids, got);
  }
}
