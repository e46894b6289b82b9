package dev.fila.client;

import static org.junit.jupiter.api.Assertions.fail;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.TestInfo;

/**
 * The tests' base: a broker they share (each test on queues of its own; tests that need a
 * broker configured otherwise start their own), clients closed when the test ends, and helpers.
 */
abstract class BrokerTest {
  private static TestBroker shared;
  private static final AtomicLong queueSeq = new AtomicLong();

  private final List<AutoCloseable> cleanups = new ArrayList<>();
  private String testName = "test";

  /** The shared broker, started by the first test that needs it, killed when the JVM exits. */
  static synchronized TestBroker shared() {
    if (shared == null) {
      shared = TestBroker.start(); // throws (the test fails) when there is no broker
      TestBroker b = shared;
      Runtime.getRuntime().addShutdownHook(new Thread(b::close));
    }
    return shared;
  }

  @BeforeEach
  void rememberName(TestInfo info) {
    testName = info.getTestClass().map(Class::getSimpleName).orElse("") + "-"
        + info.getTestMethod().map(m -> m.getName()).orElse("test");
  }

  @AfterEach
  void cleanUp() throws Exception {
    for (int i = cleanups.size() - 1; i >= 0; i--) {
      cleanups.get(i).close();
    }
  }

  /** Closes c when the test ends (in reverse order of registration). */
  <T extends AutoCloseable> T closeLater(T c) {
    cleanups.add(c);
    return c;
  }

  /** A client of the shared broker, closed when the test ends. */
  FilaClient client() {
    return client(shared().addr(), b -> b);
  }

  /** A client of addr, set up further by configure, closed when the test ends. */
  FilaClient client(String addr, UnaryOperator<FilaClientBuilder> configure) {
    return closeLater(configure.apply(FilaClient.builder(addr).timeout(Duration.ofSeconds(20)))
        .build());
  }

  /** A broker of the test's own, killed when the test ends. */
  TestBroker broker(List<String> args, Map<String, String> env) {
    return closeLater(TestBroker.start(args, env));
  }

  /** Creates a queue named after the test and returns its name. */
  String newQueue(FilaClient c, QueueConfig cfg) {
    String name = testName.toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9_-]+", "-") + "-"
        + queueSeq.incrementAndGet();
    c.createQueue(name, cfg == null ? QueueConfig.DEFAULT : cfg);
    return name;
  }

  /** Polls cond until it holds, failing the test after timeout. */
  static void waitFor(Duration timeout, String what, BooleanSupplier cond) {
    long end = System.nanoTime() + timeout.toNanos();
    while (!cond.getAsBoolean()) {
      if (System.nanoTime() > end) {
        fail("timed out after " + timeout + " waiting for " + what);
      }
      try {
        Thread.sleep(10);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        fail("interrupted waiting for " + what);
      }
    }
  }

  /** Reads n messages from a consumer, failing the test if they do not come in time. */
  static List<Message> take(Consumer c, int n, Duration timeout) {
    List<Message> got = new ArrayList<>();
    long end = System.nanoTime() + timeout.toNanos();
    while (got.size() < n) {
      long left = end - System.nanoTime();
      if (left <= 0) {
        fail("got " + got.size() + " of " + n + " messages in " + timeout);
      }
      Message m = c.poll(Duration.ofNanos(left));
      if (m == null && c.isDone()) {
        fail("consumer stopped after " + got.size() + " of " + n + " messages: " + c.error());
      }
      if (m != null) {
        got.add(m);
      }
    }
    return got;
  }

  /** Enqueues n messages m0..m(n-1) in one batch and returns their ids. */
  static List<String> enqueueN(FilaClient c, String queue, int n, Map<String, String> headers) {
    List<OutgoingMessage> msgs = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      msgs.add(OutgoingMessage.of(queue, "m" + i, headers));
    }
    List<String> ids = new ArrayList<>();
    for (EnqueueResult r : c.enqueueBatch(msgs)) {
      ids.add(r.orThrow());
    }
    return ids;
  }

  /** Waits for an SDK future; throws its FilaException. */
  static <T> T join(CompletableFuture<T> f) {
    return Producer.await(f);
  }
}
