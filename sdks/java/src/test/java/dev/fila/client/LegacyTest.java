package dev.fila.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.Grpc;
import io.grpc.HandlerRegistry;
import io.grpc.InsecureChannelCredentials;
import io.grpc.InsecureServerCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerMethodDefinition;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** Against the original broker: Fila's additions answer UNIMPLEMENTED, the client falls back. */
class LegacyTest extends BrokerTest {
  static final MethodDescriptor.Marshaller<byte[]> BYTES = new MethodDescriptor.Marshaller<>() {
    @Override
    public InputStream stream(byte[] value) {
      return new ByteArrayInputStream(value);
    }

    @Override
    public byte[] parse(InputStream stream) {
      try {
        return stream.readAllBytes();
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
  };

  /**
   * Puts the real broker behind a proxy that offers only the original broker's RPCs: Fila's
   * additions (the batch RPCs, Lease, ExtendLease) answer UNIMPLEMENTED, as an original broker
   * does. Everything else goes through, byte for byte.
   */
  static final class LegacyBroker implements AutoCloseable {
    static final Set<String> ADDITIONS =
        Set.of("EnqueueBatch", "AckBatch", "NackBatch", "Lease", "ExtendLease");
    final Map<String, AtomicInteger> seen = new ConcurrentHashMap<>();
    final ManagedChannel upstream;
    final Server server;

    LegacyBroker(String upstreamAddr) throws IOException {
      upstream = Grpc.newChannelBuilder(upstreamAddr, InsecureChannelCredentials.create()).build();
      server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0),
              InsecureServerCredentials.create())
          .fallbackHandlerRegistry(new HandlerRegistry() {
            @Override
            public ServerMethodDefinition<?, ?> lookupMethod(String method, String authority) {
              MethodDescriptor<byte[], byte[]> md = MethodDescriptor.<byte[], byte[]>newBuilder()
                  .setType(MethodDescriptor.MethodType.BIDI_STREAMING).setFullMethodName(method)
                  .setRequestMarshaller(BYTES).setResponseMarshaller(BYTES).build();
              return ServerMethodDefinition.create(md, (call, headers) -> proxy(md, call, headers));
            }
          })
          .build().start();
    }

    int calls(String method) {
      AtomicInteger n = seen.get(method);
      return n == null ? 0 : n.get();
    }

    private ServerCall.Listener<byte[]> proxy(MethodDescriptor<byte[], byte[]> md,
        ServerCall<byte[], byte[]> call, Metadata headers) {
      String name = md.getBareMethodName();
      seen.computeIfAbsent(name, k -> new AtomicInteger()).incrementAndGet();
      if (ADDITIONS.contains(name)) {
        call.close(Status.UNIMPLEMENTED.withDescription("unknown method " + name), new Metadata());
        return new ServerCall.Listener<>() {};
      }
      ClientCall<byte[], byte[]> up = upstream.newCall(md, CallOptions.DEFAULT);
      up.start(new ClientCall.Listener<>() {
        @Override
        public void onHeaders(Metadata h) {
          synchronized (call) {
            call.sendHeaders(h);
          }
        }

        @Override
        public void onMessage(byte[] m) {
          synchronized (call) {
            call.sendMessage(m);
          }
          up.request(1);
        }

        @Override
        public void onClose(Status st, Metadata trailers) {
          synchronized (call) {
            call.close(st, trailers);
          }
        }
      }, headers);
      up.request(1);
      synchronized (call) {
        call.request(1);
      }
      return new ServerCall.Listener<>() {
        @Override
        public void onMessage(byte[] m) {
          synchronized (up) {
            up.sendMessage(m);
          }
          synchronized (call) {
            call.request(1);
          }
        }

        @Override
        public void onHalfClose() {
          synchronized (up) {
            up.halfClose();
          }
        }

        @Override
        public void onCancel() {
          up.cancel("the client cancelled", null);
        }
      };
    }

    String addr() {
      return "127.0.0.1:" + server.getPort();
    }

    @Override
    public void close() throws InterruptedException {
      server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      upstream.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
  }

  @Test
  void theSameApiWorksWithoutFilasAdditions() throws Exception {
    LegacyBroker legacy = closeLater(new LegacyBroker(shared().addr()));
    FilaClient c = client(legacy.addr(), x -> x);
    String q = newQueue(c, QueueConfig.builder()
        .retryBackoff(Duration.ofMillis(10), Duration.ZERO).build());

    List<EnqueueResult> res = c.enqueueBatch(List.of(OutgoingMessage.of(q, "a", Map.of()),
        OutgoingMessage.of(q + "-missing", "b", Map.of()), OutgoingMessage.of(q, "c", Map.of())));
    assertTrue(res.get(0).ok() && res.get(2).ok(), res.toString());
    assertInstanceOf(QueueNotFoundException.class, res.get(1).error());
    try (Producer p = c.newProducer()) {
      p.enqueue(q, "d".getBytes(StandardCharsets.UTF_8), Map.of());
    }
    assertEquals(1, legacy.calls("EnqueueBatch"), "asked once, then remembered");
    assertEquals(4, legacy.calls("Enqueue"));

    // lease() falls back to the classic Consume stream; acks and nacks to Ack and Nack.
    try (Consumer cons = c.lease(q, ConsumerSettings.builder()
        .extendEvery(Duration.ofSeconds(10)).build())) {
      List<Message> got = take(cons, 3, Duration.ofSeconds(10));
      join(got.get(0).ackAsync());
      join(got.get(1).ackAsync());
      join(got.get(2).nackAsync("again"));
      Message again = take(cons, 1, Duration.ofSeconds(10)).get(0);
      assertEquals(got.get(2).id(), again.id());
      assertEquals(1, again.attemptCount());
      join(again.ackAsync());
    }
    assertEquals(1, legacy.calls("Lease"));
    assertEquals(1, legacy.calls("Consume"));
    assertEquals(3, legacy.calls("Ack"));
    assertEquals(1, legacy.calls("Nack"));
    assertEquals(0, c.getStats(q).depth());
  }
}
