package bench;

import dev.fila.client.Consumer;
import dev.fila.client.ConsumerSettings;
import dev.fila.client.FilaClient;
import dev.fila.client.Message;
import dev.fila.client.OutgoingMessage;
import dev.fila.client.Producer;
import dev.fila.client.ProducerSettings;
import dev.fila.client.ProducerStats;
import dev.fila.client.TestBroker;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * The batched lifecycle through the Java SDK, shaped like sdks/go/bench and
 * sdks/python/bench/lifecycle.py: it produces N messages with the batching Producer while a
 * consumer leases them and acks them (acks batched by the client), and prints the acked messages
 * per second.
 *
 * <pre>
 *   ./run.sh bench.Lifecycle                              # starts its own broker, N=200,000
 *   ./run.sh bench.Lifecycle -addr 127.0.0.1:5555 -n 50000 -size 100
 * </pre>
 */
public final class Lifecycle {
  private Lifecycle() {}

  public static void main(String[] args) throws Exception {
    String addr = System.getenv().getOrDefault("FILA_ADDR", "");
    int n = 200_000;
    int size = 100;
    int credit = 1000;
    int batch = 1000;
    Duration linger = Duration.ofMillis(5);
    for (int i = 0; i < args.length; i++) {
      String flag = args[i].replaceFirst("^--?", "");
      String value = i + 1 < args.length ? args[++i] : usage("no value for " + args[i]);
      switch (flag) {
        case "addr" -> addr = value;
        case "n" -> n = Integer.parseInt(value.replace("_", ""));
        case "size" -> size = Integer.parseInt(value);
        case "credit" -> credit = Integer.parseInt(value);
        case "batch" -> batch = Integer.parseInt(value);
        case "linger" -> linger = Duration.ofNanos((long) (Double.parseDouble(
            value.replace("ms", "")) * 1_000_000));
        default -> usage("unknown flag " + args[i - 1]);
      }
    }
    if (addr.isEmpty()) {
      try (TestBroker b = TestBroker.start()) {
        System.out.println("started fila serve on " + b.addr());
        run(b.addr(), n, size, credit, batch, linger);
      }
    } else {
      run(addr, n, size, credit, batch, linger);
    }
  }

  private static String usage(String why) {
    System.err.println(why + "\nflags: -addr HOST:PORT -n N -size BYTES -credit N -batch N"
        + " -linger MS");
    System.exit(2);
    return "";
  }

  static void run(String addr, int n, int size, int credit, int batch, Duration linger)
      throws Exception {
    try (FilaClient client = FilaClient.builder(addr).timeout(Duration.ofMinutes(1)).build()) {
      String queue = "bench-" + System.nanoTime();
      client.createQueue(queue);
      long start = System.nanoTime();
      CompletableFuture<Long> consumed = new CompletableFuture<>();
      Consumer consumer = client.lease(queue, ConsumerSettings.builder().credit(credit)
          .maxBatch(Math.min(credit, 1000)).build());
      Thread reader = new Thread(() -> {
        try {
          Set<String> seen = new HashSet<>(n * 2);
          while (seen.size() < n) {
            Message msg = consumer.next();
            msg.ack();
            seen.add(msg.id());
          }
          consumer.close(); // waits until every ack is answered
          consumed.complete(System.nanoTime() - start);
        } catch (RuntimeException e) {
          consumed.completeExceptionally(e);
        }
      }, "bench-consumer");
      reader.start();

      Producer producer = client.newProducer(ProducerSettings.builder().maxMessages(batch)
          .linger(linger).build());
      byte[] payload = new byte[size];
      List<CompletableFuture<String>> results = new ArrayList<>(n);
      for (int i = 0; i < n; i++) {
        results.add(producer.publish(OutgoingMessage.of(queue, payload)));
      }
      for (int i = 0; i < n; i++) {
        results.get(i).join();
      }
      double produced = (System.nanoTime() - start) / 1e9;
      producer.close();
      double took = consumed.get(10, TimeUnit.MINUTES) / 1e9;
      ProducerStats st = producer.stats();
      System.out.printf("produced %d x %d B in %.2fs (%.0f msg/s, %d EnqueueBatch RPCs)%n",
          n, size, produced, n / produced, st.batches());
      System.out.printf("acked    %d in %.2fs: %.0f acked msg/s%n", n, took, n / took);
      client.deleteQueue(queue);
    }
  }
}
