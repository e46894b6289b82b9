package dev.fila.client;

import java.time.Duration;

/**
 * How a {@link Producer} batches (Pub/Sub's BatchingSettings). Zero fields take their
 * defaults.
 *
 * @param linger the longest a message waits for company while a batch is in flight (default
 *     5ms); when no batch is in flight a message goes at once
 * @param maxMessages the most messages per {@code EnqueueBatch} RPC (default 1,000; at most
 *     10,000): a batch that reaches it goes at once
 * @param maxBytes the most bytes per RPC (default 4 MiB), likewise
 * @param maxInFlight the most {@code EnqueueBatch} RPCs out at once (default 4)
 */
public record ProducerSettings(Duration linger, int maxMessages, int maxBytes, int maxInFlight) {

  /** Linger 5ms, 1,000 messages or 4 MiB per batch, 4 batches in flight. */
  public static final ProducerSettings DEFAULT = builder().build();

  /** Fills in the defaults of zero and null fields. */
  public ProducerSettings {
    linger = linger == null || linger.isZero() || linger.isNegative()
        ? Duration.ofMillis(5) : linger;
    maxMessages = maxMessages <= 0 ? 1000 : Math.min(maxMessages, Batcher.MAX_BATCH_ITEMS);
    maxBytes = maxBytes <= 0 ? 4 << 20 : maxBytes;
    maxInFlight = maxInFlight <= 0 ? 4 : maxInFlight;
  }

  /** A builder, starting from the defaults. */
  public static Builder builder() {
    return new Builder();
  }

  /** Builds {@link ProducerSettings}. */
  public static final class Builder {
    private Duration linger = Duration.ZERO;
    private int maxMessages;
    private int maxBytes;
    private int maxInFlight;

    private Builder() {}

    /** The longest a message waits for company while a batch is in flight (default 5ms). */
    public Builder linger(Duration linger) {
      this.linger = linger;
      return this;
    }

    /** The most messages per EnqueueBatch RPC (default 1,000; at most 10,000). */
    public Builder maxMessages(int n) {
      this.maxMessages = n;
      return this;
    }

    /** The most bytes per EnqueueBatch RPC (default 4 MiB). */
    public Builder maxBytes(int n) {
      this.maxBytes = n;
      return this;
    }

    /** The most EnqueueBatch RPCs out at once (default 4). */
    public Builder maxInFlight(int n) {
      this.maxInFlight = n;
      return this;
    }

    /** The settings. */
    public ProducerSettings build() {
      return new ProducerSettings(linger, maxMessages, maxBytes, maxInFlight);
    }
  }
}
