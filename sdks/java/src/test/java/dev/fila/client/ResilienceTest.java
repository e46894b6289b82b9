package dev.fila.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.grpc.InsecureServerCredentials;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerMethodDefinition;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class ResilienceTest extends BrokerTest {

  @Test
  void consumerAndProducerSurviveABrokerRestart() {
    TestBroker b = broker(List.of(), Map.of());
    FilaClient c = client(b.addr(), x -> x.timeout(Duration.ofSeconds(30)));
    String q = newQueue(c, null);
    Consumer cons = closeLater(c.lease(q, ConsumerSettings.builder().credit(10).build()));

    List<String> before = enqueueN(c, q, 6, Map.of());
    List<Message> got = take(cons, 6, Duration.ofSeconds(10));
    for (Message m : got.subList(0, 5)) {
      join(m.ackAsync());
    }
    Message unacked = got.get(5); // leased when the broker dies: ready again after the restart

    b.kill();
    // A message published while the broker is down waits (retrying) until it is back.
    Producer p = closeLater(c.newProducer());
    CompletableFuture<String> during =
        p.publish(OutgoingMessage.of(q, "sent while down".getBytes(StandardCharsets.UTF_8)));
    b.restart();
    String duringId = join(during);
    List<String> after = enqueueN(c, q, 3, Map.of());

    Set<String> want = new HashSet<>(after);
    want.add(unacked.id());
    want.add(duringId);
    for (Message m : take(cons, want.size(), Duration.ofSeconds(30))) {
      if (!want.remove(m.id())) {
        fail("unexpected delivery " + m.id() + " (acked before the restart: "
            + before.subList(0, 5) + ")");
      }
      if (m.id().equals(unacked.id())) {
        assertEquals(0, m.attemptCount(), "a restart counted as a failure");
      }
      m.ack();
    }
    unacked.ack(); // its old lease died with the broker: refused, and harmless
    assertTrue(cons.stats().reconnects() >= 1, "the stream was never re-opened: " + cons.stats());
    cons.close();
    waitFor(Duration.ofSeconds(10), "the queue to drain", () -> {
      QueueStats s = c.getStats(q);
      return s.depth() == 0 && s.inFlight() == 0;
    });
  }

  /**
   * Stands in for a node of a cluster that does not lead the queue: it answers every call with
   * UNAVAILABLE and the leader's address in the x-fila-leader-addr trailer, as the original
   * broker's followers do. The leader is the real broker.
   */
  static final class Follower implements AutoCloseable {
    final AtomicInteger hits = new AtomicInteger();
    final Server server;

    Follower(String leader) throws IOException {
      MethodDescriptor.Marshaller<byte[]> bytes = LegacyTest.BYTES;  // raw bytes both ways
      server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0),
              InsecureServerCredentials.create())
          .fallbackHandlerRegistry(new io.grpc.HandlerRegistry() {
            @Override
            public ServerMethodDefinition<?, ?> lookupMethod(String method, String authority) {
              MethodDescriptor<byte[], byte[]> md = MethodDescriptor.<byte[], byte[]>newBuilder()
                  .setType(MethodDescriptor.MethodType.UNKNOWN).setFullMethodName(method)
                  .setRequestMarshaller(bytes).setResponseMarshaller(bytes).build();
              return ServerMethodDefinition.create(md, (call, headers) -> {
                hits.incrementAndGet();
                Metadata trailers = new Metadata();
                trailers.put(Errors.LEADER_ADDR, leader);
                call.close(Status.UNAVAILABLE.withDescription("not the leader of this queue"),
                    trailers);
                return new ServerCall.Listener<>() {};
              });
            }
          })
          .build().start();
    }

    String addr() {
      return "127.0.0.1:" + server.getPort();
    }

    @Override
    public void close() throws InterruptedException {
      server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
  }

  @Test
  void callsAndStreamsFollowTheLeaderRedirect() throws Exception {
    String leader = shared().addr();
    Follower f = closeLater(new Follower(leader));

    FilaClient c = client(f.addr(), x -> x);
    String q = newQueue(c, null); // CreateQueue is redirected to the leader
    assertEquals(leader, c.addr());
    assertEquals(1, f.hits.get());
    String id = c.enqueue(q, "via the leader".getBytes(StandardCharsets.UTF_8));
    assertEquals(1, f.hits.get(), "after a redirect calls go to the leader");

    // A consumer whose stream is the first call of its client follows the redirect too.
    // (extendEvery set: the consumer does not look up the queue's visibility timeout.)
    FilaClient c2 = client(f.addr(), x -> x);
    Consumer cons = closeLater(c2.lease(q, ConsumerSettings.builder()
        .extendEvery(Duration.ofSeconds(10)).build()));
    Message m = take(cons, 1, Duration.ofSeconds(10)).get(0);
    assertEquals(id, m.id());
    assertEquals(2, f.hits.get());
    assertEquals(leader, c2.addr());
    join(m.ackAsync());
  }
}
