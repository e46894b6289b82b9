package dev.fila.client;

import io.grpc.ChannelCredentials;
import io.grpc.ClientInterceptor;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannelBuilder;
import io.grpc.TlsChannelCredentials;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * Builds a {@link FilaClient}: the broker's address, then TLS, an API key, the default
 * deadline and retries.
 *
 * <pre>{@code
 * FilaClient fila = FilaClient.builder("broker.internal:5555")
 *     .tls(Path.of("ca.pem"))                                 // TLS, trusting a private CA
 *     .tlsClientCert(Path.of("client.pem"), Path.of("client.key")) // mTLS
 *     .apiKey(System.getenv("FILA_API_KEY"))                 // authorization: Bearer <key>
 *     .timeout(Duration.ofSeconds(10))                       // every call's deadline
 *     .build();
 * }</pre>
 */
public final class FilaClientBuilder {
  private final String addr;
  private String apiKey;
  private boolean tls;
  private final List<byte[]> caPems = new ArrayList<>();
  private byte[] certPem;
  private byte[] keyPem;
  private ChannelCredentials credentials;
  private Duration timeout = FilaClient.DEFAULT_TIMEOUT;
  private RetryPolicy retry = RetryPolicy.DEFAULT;
  private Duration ackLinger = Duration.ofMillis(1);
  private int ackMaxBatch = 1000;
  private final List<ClientInterceptor> interceptors = new ArrayList<>();
  private final List<Consumer<ManagedChannelBuilder<?>>> configurators = new ArrayList<>();

  FilaClientBuilder(String addr) {
    if (addr == null || addr.isBlank()) {
      throw new IllegalArgumentException("fila: empty broker address");
    }
    this.addr = addr;
  }

  /** Sends {@code authorization: Bearer <key>} on every call (a broker with API keys on). */
  public FilaClientBuilder apiKey(String key) {
    this.apiKey = key;
    return this;
  }

  /** Turns TLS on, verifying the broker against the system's roots. */
  public FilaClientBuilder tls() {
    this.tls = true;
    return this;
  }

  /**
   * Turns TLS on, trusting the PEM CA certificate(s) in this file instead of the system's
   * roots: for a broker whose certificate a private CA signed ({@code --tls-cert}).
   */
  public FilaClientBuilder tls(Path caFile) {
    return tlsCa(read(caFile));
  }

  /** {@link #tls(Path)} with the CA's PEM in memory. */
  public FilaClientBuilder tlsCa(byte[] caPem) {
    this.tls = true;
    caPems.add(caPem.clone());
    return this;
  }

  /**
   * Turns TLS on and presents this PEM certificate chain and PKCS#8 key to the broker: mutual
   * TLS, for a broker started with a client CA ({@code --tls-ca}).
   */
  public FilaClientBuilder tlsClientCert(Path certFile, Path keyFile) {
    return tlsClientCert(read(certFile), read(keyFile));
  }

  /** {@link #tlsClientCert(Path, Path)} with the PEMs in memory. */
  public FilaClientBuilder tlsClientCert(byte[] certPem, byte[] keyPem) {
    this.tls = true;
    this.certPem = certPem.clone();
    this.keyPem = keyPem.clone();
    return this;
  }

  /**
   * Your own channel credentials (a {@code TlsChannelCredentials} with a custom trust or key
   * manager, say); they replace the TLS settings above.
   */
  public FilaClientBuilder channelCredentials(ChannelCredentials credentials) {
    this.credentials = credentials;
    return this;
  }

  /**
   * The deadline of every call (default 30s; {@link Duration#ZERO}: none). Retries happen
   * within it. {@link FilaClient#withTimeout} gives some calls another.
   */
  public FilaClientBuilder timeout(Duration timeout) {
    this.timeout = timeout == null || timeout.isNegative() ? Duration.ZERO : timeout;
    return this;
  }

  /** How unavailable calls are retried and streams re-opened ({@link RetryPolicy#DEFAULT}). */
  public FilaClientBuilder retry(RetryPolicy policy) {
    this.retry = policy == null ? RetryPolicy.DEFAULT : policy;
    return this;
  }

  /**
   * How acks and nacks are batched into {@code AckBatch} / {@code NackBatch}: while one is in
   * flight for a queue, acks gather for up to linger or until max of them wait (defaults 1ms,
   * 1000); when none is, an ack goes at once.
   */
  public FilaClientBuilder ackBatching(Duration linger, int max) {
    this.ackLinger = linger;
    this.ackMaxBatch = max;
    return this;
  }

  /** Adds gRPC client interceptors (tracing, metrics, your own headers). */
  public FilaClientBuilder interceptor(ClientInterceptor... interceptors) {
    this.interceptors.addAll(List.of(interceptors));
    return this;
  }

  /** Changes the gRPC channel builder before the client builds its channels (keepalive, ...). */
  public FilaClientBuilder configureChannel(
      Consumer<ManagedChannelBuilder<?>> configurator) {
    this.configurators.add(configurator);
    return this;
  }

  /**
   * The client. It does not wait for the connection: the first call does (and fails with
   * {@link UnavailableException} if the broker cannot be reached in time).
   *
   * @throws IllegalArgumentException if a certificate or key cannot be read
   */
  public FilaClient build() {
    ClientOptions o = new ClientOptions(addr, apiKey, credentials(), timeout, retry, ackLinger,
        ackMaxBatch, List.copyOf(interceptors), List.copyOf(configurators));
    return FilaClient.owning(new Core(o), timeout);
  }

  private ChannelCredentials credentials() {
    if (credentials != null) {
      return credentials;
    }
    if (!tls) {
      return InsecureChannelCredentials.create();
    }
    TlsChannelCredentials.Builder b = TlsChannelCredentials.newBuilder();
    try {
      if (!caPems.isEmpty()) {
        ByteArrayOutputStream all = new ByteArrayOutputStream();
        for (byte[] pem : caPems) {
          all.write(pem);
          all.write('\n');
        }
        b.trustManager(new ByteArrayInputStream(all.toByteArray()));
      }
      if (certPem != null) {
        b.keyManager(new ByteArrayInputStream(certPem), new ByteArrayInputStream(keyPem));
      }
    } catch (IOException e) {
      throw new IllegalArgumentException("fila: reading the TLS certificates: " + e, e);
    }
    return b.build();
  }

  private static byte[] read(Path p) {
    try {
      return Files.readAllBytes(p);
    } catch (IOException e) {
      throw new IllegalArgumentException("fila: reading " + p + ": " + e, e);
    }
  }
}
