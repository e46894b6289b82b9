package dev.fila.client;

import java.time.Duration;

/**
 * How a {@link Consumer} or {@link Subscription} reads a queue: flow control (Pub/Sub's
 * FlowControlSettings) and automatic lease extension. Zero fields take their defaults.
 *
 * @param credit the most messages the consumer holds at once: delivered and not yet acked or
 *     nacked (Pub/Sub's max outstanding messages). The broker never leases the stream more.
 *     1 to 10,000; default 100
 * @param maxBatch the most messages per delivery from the broker (0: the broker's, 100)
 * @param extendEvery how often the leases of held messages are extended, so that a message
 *     still being worked on is not delivered again when its visibility timeout passes. Zero: a
 *     third of the queue's visibility timeout when the client may read the queue's settings
 *     ({@code GetQueue}), else 10s; set it below your queue's visibility timeout if that is
 *     shorter and the key has no admin permission
 * @param leaseExtension how long each extension makes a lease last from then (zero: the
 *     queue's visibility timeout)
 * @param maxExtension how long after a held message arrived it stops being extended (default
 *     1h); negative turns automatic extension off
 * @param handlerThreads for {@link FilaClient#subscribe}: the threads the handler runs on
 *     (0: min(credit, 16))
 */
public record ConsumerSettings(
    int credit,
    int maxBatch,
    Duration extendEvery,
    Duration leaseExtension,
    Duration maxExtension,
    int handlerThreads) {

  /** The most credit a consumer may ask for. */
  public static final int MAX_CREDIT = 10_000;

  /** Credit 100, the broker's batch size, extension for up to an hour. */
  public static final ConsumerSettings DEFAULT = builder().build();

  /** Fills in the defaults of zero and null fields and clamps the credit to [1, 10,000]. */
  public ConsumerSettings {
    credit = credit <= 0 ? 100 : Math.min(credit, MAX_CREDIT);
    maxBatch = Math.max(0, maxBatch);
    extendEvery = extendEvery == null || extendEvery.isNegative() ? Duration.ZERO : extendEvery;
    leaseExtension =
        leaseExtension == null || leaseExtension.isNegative() ? Duration.ZERO : leaseExtension;
    maxExtension = maxExtension == null || maxExtension.isZero() ? Duration.ofHours(1)
        : maxExtension;
    handlerThreads = handlerThreads <= 0 ? Math.min(credit, 16) : handlerThreads;
  }

  /** Whether held messages' leases are extended by the consumer. */
  public boolean autoExtend() {
    return !maxExtension.isNegative();
  }

  /** A builder, starting from the defaults. */
  public static Builder builder() {
    return new Builder();
  }

  /** A builder starting from these settings. */
  public Builder toBuilder() {
    Builder b = new Builder();
    b.credit = credit;
    b.maxBatch = maxBatch;
    b.extendEvery = extendEvery;
    b.leaseExtension = leaseExtension;
    b.maxExtension = maxExtension;
    b.handlerThreads = handlerThreads;
    return b;
  }

  /** Builds {@link ConsumerSettings}. */
  public static final class Builder {
    private int credit;
    private int maxBatch;
    private Duration extendEvery = Duration.ZERO;
    private Duration leaseExtension = Duration.ZERO;
    private Duration maxExtension = Duration.ofHours(1);
    private int handlerThreads;

    private Builder() {}

    /** The most unacknowledged messages held at once (1 to 10,000; default 100). */
    public Builder credit(int credit) {
      this.credit = credit;
      return this;
    }

    /** The most messages per delivery (0: the broker's, 100). */
    public Builder maxBatch(int maxBatch) {
      this.maxBatch = maxBatch;
      return this;
    }

    /** How often held messages' leases are extended (zero: a third of the visibility timeout). */
    public Builder extendEvery(Duration every) {
      this.extendEvery = every;
      return this;
    }

    /** How long each extension makes a lease last (zero: the queue's visibility timeout). */
    public Builder leaseExtension(Duration extension) {
      this.leaseExtension = extension;
      return this;
    }

    /** How long a held message is extended at most (default 1h). */
    public Builder maxExtension(Duration max) {
      this.maxExtension = max;
      return this;
    }

    /** Turns automatic lease extension off. */
    public Builder noAutoExtend() {
      this.maxExtension = Duration.ofSeconds(-1);
      return this;
    }

    /** The threads a subscription's handler runs on (0: min(credit, 16)). */
    public Builder handlerThreads(int threads) {
      this.handlerThreads = threads;
      return this;
    }

    /** The settings. */
    public ConsumerSettings build() {
      return new ConsumerSettings(credit, maxBatch, extendEvery, leaseExtension, maxExtension,
          handlerThreads);
    }
  }
}
