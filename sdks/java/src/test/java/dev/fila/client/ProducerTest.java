package dev.fila.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.MethodDescriptor;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class ProducerTest extends BrokerTest {

  /** Counts the RPCs a client sends, by method. */
  static final class RpcCounter implements ClientInterceptor {
    final Map<String, AtomicInteger> calls = new ConcurrentHashMap<>();

    @Override
    public <Q, R> ClientCall<Q, R> interceptCall(MethodDescriptor<Q, R> method,
        CallOptions options, Channel next) {
      calls.computeIfAbsent(method.getBareMethodName(), k -> new AtomicInteger())
          .incrementAndGet();
      return next.newCall(method, options);
    }

    int get(String method) {
      AtomicInteger n = calls.get(method);
      return n == null ? 0 : n.get();
    }
  }

  @Test
  void batchesFor64ConcurrentCallers() throws Exception {
    RpcCounter rpcs = new RpcCounter();
    FilaClient c = client(shared().addr(), b -> b.interceptor(rpcs));
    String q = newQueue(c, null);
    Producer p = c.newProducer(ProducerSettings.builder().linger(Duration.ofMillis(5))
        .maxMessages(100).build());
    int workers = 64;
    int each = 20;
    List<List<String>> ids = new ArrayList<>();
    List<String> errors = java.util.Collections.synchronizedList(new ArrayList<>());
    AtomicInteger refused = new AtomicInteger();
    CountDownLatch start = new CountDownLatch(1);
    List<Thread> threads = new ArrayList<>();
    for (int w = 0; w < workers; w++) {
      List<String> mine = new ArrayList<>();
      ids.add(mine);
      int worker = w;
      Thread t = new Thread(() -> {
        try {
          start.await();
        } catch (InterruptedException e) {
          return;
        }
        for (int i = 0; i < each; i++) {
          // One caller's message is refused: only it hears so.
          String queue = worker == 7 && i == 3 ? q + "-missing" : q;
          try {
            String id = p.enqueue(queue, (worker + "/" + i).getBytes(StandardCharsets.UTF_8),
                Map.of());
            if (!queue.equals(q)) {
              errors.add("a message to a missing queue was accepted: " + id);
            }
            mine.add(id);
          } catch (QueueNotFoundException e) {
            if (queue.equals(q)) {
              errors.add("worker " + worker + " message " + i + ": " + e);
            }
            refused.incrementAndGet();
          } catch (RuntimeException e) {
            errors.add("worker " + worker + " message " + i + ": " + e);
          }
        }
      });
      threads.add(t);
      t.start();
    }
    start.countDown();
    for (Thread t : threads) {
      t.join(TimeUnit.SECONDS.toMillis(60));
    }
    p.close();
    assertEquals(List.of(), errors);
    Set<String> seen = new HashSet<>();
    for (List<String> list : ids) {
      for (String id : list) {
        assertTrue(seen.add(id), "id " + id + " returned to two callers");
      }
    }
    int total = workers * each - 1;
    assertEquals(total, seen.size());
    assertEquals(1, refused.get());
    int batches = rpcs.get("EnqueueBatch");
    ProducerStats st = p.stats();
    assertTrue(batches > 0 && batches < total / 4,
        batches + " EnqueueBatch RPCs for " + total + " messages");
    assertEquals(0, rpcs.get("Enqueue"));
    assertEquals(batches, st.batches());
    assertEquals(total + 1, st.messages());
    assertEquals(total, c.getStats(q).depth());
    // Every message is in the queue, with the id its caller was given.
    List<Message> peeked = c.peek(q, 2000);
    assertEquals(total, peeked.size());
    for (Message m : peeked) {
      assertTrue(seen.contains(m.id()), "peeked " + m.id() + ", which no caller was given");
    }
    assertThrows(ClosedException.class, () -> p.enqueue(q, new byte[0], Map.of()));
  }

  @Test
  void aLoneMessageGoesAtOnce() {
    FilaClient c = client();
    String q = newQueue(c, null);
    // A linger far longer than the test's patience: a lone message must not wait for it.
    try (Producer p = c.newProducer(ProducerSettings.builder().linger(Duration.ofMinutes(1))
        .build())) {
      long start = System.nanoTime();
      for (int i = 0; i < 3; i++) {
        assertFalse(p.enqueue(q, "solo".getBytes(StandardCharsets.UTF_8), null).isEmpty());
      }
      CompletableFuture<String> f = p.publish(OutgoingMessage.of(q, "async", Map.of()));
      assertFalse(join(f).isEmpty());
      assertTrue(System.nanoTime() - start < TimeUnit.SECONDS.toNanos(10));
    }
  }

  @Test
  void enqueueBatchHasAResultPerMessage() {
    FilaClient c = client();
    String q = newQueue(c, null);
    List<EnqueueResult> res = c.enqueueBatch(List.of(
        OutgoingMessage.of(q, "a".getBytes(StandardCharsets.UTF_8)),
        OutgoingMessage.of(q + "-nope", "b".getBytes(StandardCharsets.UTF_8)),
        OutgoingMessage.of("", "c".getBytes(StandardCharsets.UTF_8)),
        OutgoingMessage.of(q, "d".getBytes(StandardCharsets.UTF_8))));
    assertEquals(4, res.size());
    assertTrue(res.get(0).ok());
    assertTrue(res.get(3).ok());
    assertNotEquals(res.get(0).messageId(), res.get(3).messageId());
    assertInstanceOf(QueueNotFoundException.class, res.get(1).error());
    assertInstanceOf(InvalidArgumentException.class, res.get(2).error());
    assertThrows(QueueNotFoundException.class, () -> res.get(1).orThrow());
  }
}
