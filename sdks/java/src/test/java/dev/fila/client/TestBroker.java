package dev.fila.client;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * A real {@code fila serve} process for the tests (and the bench). It listens on 127.0.0.1:0
 * (the OS picks a free port) and the port is read from its "listening on 127.0.0.1:PORT" log
 * line, polled with a deadline. The broker is this checkout's, from its venv (../../.venv, made
 * by scripts/setup_env.sh); FILA_SERVER_CMD replaces that command (e.g. a built {@code fila}
 * executable) and gets {@code serve ...} appended. A missing broker is an error, never a skip.
 */
public final class TestBroker implements AutoCloseable {
  /** How long a broker gets to print its listening line. */
  public static final Duration START_TIMEOUT = Duration.ofSeconds(30);
  private static final Pattern LISTENING = Pattern.compile("listening on (\\S+):(\\d+)");

  private final List<String> args;
  private final Map<String, String> env;
  private final Path workDir;
  private final Path logFile;
  private final Path dataDir;
  private long logOffset;
  private Process process;
  private int port;

  private TestBroker(List<String> args, Map<String, String> env) throws IOException {
    this.args = List.copyOf(args);
    this.env = Map.copyOf(env);
    this.workDir = Files.createTempDirectory("fila-java-test-");
    this.logFile = workDir.resolve("fila.log");
    this.dataDir = workDir.resolve("data");
  }

  /** Starts a broker with extra {@code fila serve} flags and environment, once it listens. */
  public static TestBroker start(List<String> args, Map<String, String> env) {
    TestBroker b;
    try {
      b = new TestBroker(args, env);
    } catch (IOException e) {
      throw new IllegalStateException("making a temp dir for fila serve: " + e, e);
    }
    try {
      b.launch(0);
      return b;
    } catch (IOException | RuntimeException e) {
      b.close();
      throw new IllegalStateException("starting fila serve: " + e, e);
    }
  }

  /** A broker with the default settings. */
  public static TestBroker start() {
    return start(List.of(), Map.of());
  }

  /** The repository's root: -Dfila.repo.root, or the first directory up holding proto/fila/v1. */
  public static Path repoRoot() {
    String prop = System.getProperty("fila.repo.root");
    if (prop != null && !prop.isEmpty()) {
      return Path.of(prop).toAbsolutePath().normalize();
    }
    for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
      if (Files.exists(p.resolve("proto/fila/v1/service.proto"))) {
        return p;
      }
    }
    throw new IllegalStateException("cannot find the repository root (proto/fila/v1) above "
        + Path.of("").toAbsolutePath());
  }

  /** The command that runs {@code fila} (before {@code serve ...}). */
  static List<String> command() {
    String override = System.getenv("FILA_SERVER_CMD");
    if (override != null && !override.isBlank()) {
      return Arrays.asList(override.trim().split("\\s+"));
    }
    Path fila = repoRoot().resolve(".venv/bin/fila");
    if (!Files.isExecutable(fila)) {
      throw new IllegalStateException("no broker at " + fila
          + ": run scripts/setup_env.sh (or set FILA_SERVER_CMD)");
    }
    return List.of(fila.toString());
  }

  private void launch(int onPort) throws IOException {
    List<String> cmd = new ArrayList<>(command());
    cmd.addAll(List.of("serve", "--listen", "127.0.0.1:" + onPort, "--data-dir",
        dataDir.toString(), "--metrics-listen", "off"));
    cmd.addAll(args);
    ProcessBuilder pb = new ProcessBuilder(cmd).directory(workDir.toFile()) // no stray fila.toml
        .redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.appendTo(logFile.toFile()));
    pb.environment().keySet().removeIf(k -> k.startsWith("FILA_")); // the broker's own settings
    pb.environment().putAll(env);
    logOffset = Files.exists(logFile) ? Files.size(logFile) : 0;
    process = pb.start();
    long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
    while (System.nanoTime() < deadline) {
      Matcher m = LISTENING.matcher(log());
      if (m.find()) {
        port = Integer.parseInt(m.group(2));
        return;
      }
      if (!process.isAlive()) {
        throw new IllegalStateException("fila serve exited (" + process.exitValue()
            + ") before listening:\n" + log());
      }
      try {
        process.waitFor(20, java.util.concurrent.TimeUnit.MILLISECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      }
    }
    kill();
    throw new IllegalStateException("fila serve did not listen within " + START_TIMEOUT + ":\n"
        + log());
  }

  /** {@code 127.0.0.1:PORT}. */
  public String addr() {
    return "127.0.0.1:" + port;
  }

  public int port() {
    return port;
  }

  public Path dataDir() {
    return dataDir;
  }

  public Path workDir() {
    return workDir;
  }

  /** What the broker logged since it last started. */
  public String log() {
    try {
      byte[] all = Files.exists(logFile) ? Files.readAllBytes(logFile) : new byte[0];
      int from = (int) Math.min(logOffset, all.length);
      return new String(all, from, all.length - from, StandardCharsets.UTF_8);
    } catch (IOException e) {
      return "";
    }
  }

  /** Stops the broker with SIGKILL (like a crash) and waits for it to exit. */
  public void kill() {
    if (process == null) {
      return;
    }
    process.descendants().forEach(ProcessHandle::destroyForcibly);
    process.destroyForcibly();
    try {
      process.waitFor();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** Kills the broker and starts it again on the same port and data dir. */
  public void restart() {
    kill();
    try {
      launch(port);
    } catch (IOException e) {
      throw new IllegalStateException("restarting fila serve: " + e, e);
    }
  }

  /** Kills the broker and removes its files. */
  @Override
  public void close() {
    kill();
    try (Stream<Path> files = Files.walk(workDir)) {
      files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException e) {
      // a temp dir left behind is harmless
    }
  }
}
