package dev.fila.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Status;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ErrorsTest extends BrokerTest {

  @Test
  void statusesMapToTypedExceptions() {
    FilaClient c = client();
    String q = newQueue(c, null);

    QueueNotFoundException e = assertThrows(QueueNotFoundException.class,
        () -> c.enqueue("no-such-queue", new byte[] {1}));
    assertInstanceOf(NotFoundException.class, e);
    assertInstanceOf(FilaException.class, e);
    assertEquals("Enqueue", e.op());
    assertEquals(Status.Code.NOT_FOUND, e.code());
    assertTrue(e.brokerMessage().contains("no-such-queue"), e.brokerMessage());
    assertTrue(e.getMessage().startsWith("fila: Enqueue: "), e.getMessage());
    assertFalse(e.isTemporary());

    assertThrows(QueueNotFoundException.class, () -> c.getStats("no-such-queue"));
    assertThrows(InvalidArgumentException.class, () -> c.enqueue("", new byte[0]));
    assertThrows(InvalidArgumentException.class, () -> c.createQueue(q + "-bad",
        QueueConfig.builder().onEnqueueScript("function on_enqueue(msg) return {").build()));
    assertThrows(AlreadyExistsException.class, () -> c.createQueue(q));
    NotFoundException nf = assertThrows(NotFoundException.class, () -> c.getConfig("no.such.key"));
    assertFalse(nf instanceof QueueNotFoundException, nf.toString());
    assertFalse(nf instanceof MessageNotFoundException, nf.toString());
    assertThrows(FailedPreconditionException.class,
        () -> c.updateQueue(FilaClient.dlqName(q), QueueConfig.DEFAULT));

    // A lease stream on a missing queue stops, with the reason.
    Consumer cons = closeLater(c.lease("no-such-queue"));
    assertThrows(QueueNotFoundException.class, cons::hasNext);
    assertThrows(QueueNotFoundException.class, cons::hasNext); // and keeps saying so
    assertInstanceOf(QueueNotFoundException.class, cons.error().orElseThrow());
    assertTrue(cons.isDone());
  }

  @Test
  void overloadedCarriesRetryAfter() throws Exception {
    Path conf = Files.createTempFile("fila-test", ".toml");
    closeLater(() -> Files.deleteIfExists(conf));
    Files.writeString(conf, "[limits]\nmax_pending_bytes = 20000\n");
    TestBroker b = broker(List.of("--config", conf.toString()), Map.of());
    FilaClient c = client(b.addr(), x -> x);
    String q = newQueue(c, null);
    OverloadedException over = null;
    int accepted = 0;
    for (; accepted < 1000 && over == null; accepted++) {
      try {
        c.enqueue(q, new byte[1000]);
      } catch (OverloadedException e) {
        over = e;
      }
    }
    assertTrue(over != null, "no overload after " + accepted + " messages");
    assertTrue(over.isTemporary());
    assertEquals(Status.Code.RESOURCE_EXHAUSTED, over.code());
    assertEquals(Duration.ofMillis(100), over.retryAfter(), "the broker's retry-after-ms");
    // In a batch, the refused messages are refused one by one.
    List<EnqueueResult> res = c.enqueueBatch(List.of(OutgoingMessage.of(q, new byte[1000])));
    assertInstanceOf(OverloadedException.class, res.get(0).error());
  }

  @Test
  void unreachableBrokerIsUnavailableWithinTheTimeout() {
    TestBroker b = broker(List.of(), Map.of());
    b.kill(); // a port nothing listens on any more
    FilaClient c = client(b.addr(), x -> x.timeout(Duration.ofMillis(500)));
    long start = System.nanoTime();
    UnavailableException e = assertThrows(UnavailableException.class, c::listQueues);
    assertTrue(e.isTemporary());
    assertTrue(System.nanoTime() - start < Duration.ofSeconds(5).toNanos(),
        "the call outlasted its 500ms timeout by far");
    // No retries: the first failure is the answer.
    FilaClient once = client(b.addr(), x -> x.retry(RetryPolicy.NONE));
    start = System.nanoTime();
    assertThrows(UnavailableException.class, once::listQueues);
    assertTrue(System.nanoTime() - start < Duration.ofSeconds(5).toNanos());
    // A per-call deadline through a view of the client.
    FilaClient slow = client(b.addr(), x -> x.timeout(Duration.ofMinutes(5)));
    start = System.nanoTime();
    assertThrows(UnavailableException.class,
        () -> slow.withTimeout(Duration.ofMillis(300)).listQueues());
    assertTrue(System.nanoTime() - start < Duration.ofSeconds(5).toNanos());
  }

  @Test
  void aClosedClientRefusesCalls() {
    FilaClient c = FilaClient.builder(shared().addr()).build();
    String q = newQueue(c, null);
    Producer p = c.newProducer();
    c.close();
    assertThrows(ClosedException.class, () -> p.enqueue(q, new byte[0], null));
    assertThrows(ClosedException.class, () -> c.enqueue(q, new byte[0]));
    assertThrows(ClosedException.class, () -> join(c.ackAsync(q, "x", "")));
    assertThrows(ClosedException.class, c::newProducer);
    Consumer cons = c.lease(q);
    assertThrows(ClosedException.class, cons::hasNext);
  }
}
