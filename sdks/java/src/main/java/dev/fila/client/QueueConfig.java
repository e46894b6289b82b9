package dev.fila.client;

import fila.v1.Admin;
import java.time.Duration;

/**
 * A queue's settings. A zero field means the broker's default.
 *
 * @param onEnqueueScript Lua source defining {@code on_enqueue(msg)}, which returns the
 *     message's {@code fairness_key}, {@code weight} and {@code throttle_keys} ("": key
 *     "default", weight 1)
 * @param onFailureScript Lua source defining {@code on_failure(msg)}, which returns
 *     {@code { action = "retry", delay_ms = N }} or {@code { action = "dlq" }} ("": retry with
 *     backoff)
 * @param visibilityTimeout how long a lease lasts (default 30s, at most 12h; ms precision)
 * @param maxAttempts failures before the default policy dead-letters a message (default 10)
 * @param retryBackoffBase the default retry delay's base: base * 2^(attempts-1) (default 100ms)
 * @param retryBackoffMax the default retry delay's cap (default 60s)
 * @param luaInstructionBudget instructions a hook may run (0: the broker's default)
 * @param luaMemoryBytes memory a hook may use (0: the broker's default)
 * @param luaTimeLimit time a hook may run (zero: the broker's default)
 */
public record QueueConfig(
    String onEnqueueScript,
    String onFailureScript,
    Duration visibilityTimeout,
    int maxAttempts,
    Duration retryBackoffBase,
    Duration retryBackoffMax,
    long luaInstructionBudget,
    long luaMemoryBytes,
    Duration luaTimeLimit) {

  /** Every setting at the broker's default. */
  public static final QueueConfig DEFAULT = builder().build();

  /** Nulls become "" and {@link Duration#ZERO}. */
  public QueueConfig {
    onEnqueueScript = onEnqueueScript == null ? "" : onEnqueueScript;
    onFailureScript = onFailureScript == null ? "" : onFailureScript;
    visibilityTimeout = orZero(visibilityTimeout);
    retryBackoffBase = orZero(retryBackoffBase);
    retryBackoffMax = orZero(retryBackoffMax);
    luaTimeLimit = orZero(luaTimeLimit);
  }

  private static Duration orZero(Duration d) {
    return d == null || d.isNegative() ? Duration.ZERO : d;
  }

  /** A builder, starting from the defaults. */
  public static Builder builder() {
    return new Builder();
  }

  /** A builder starting from this configuration (to change one setting of GetQueue's). */
  public Builder toBuilder() {
    return new Builder().onEnqueueScript(onEnqueueScript).onFailureScript(onFailureScript)
        .visibilityTimeout(visibilityTimeout).maxAttempts(maxAttempts)
        .retryBackoff(retryBackoffBase, retryBackoffMax)
        .luaLimits(luaInstructionBudget, luaMemoryBytes, luaTimeLimit);
  }

  Admin.QueueConfig proto() {
    return Admin.QueueConfig.newBuilder()
        .setOnEnqueueScript(onEnqueueScript)
        .setOnFailureScript(onFailureScript)
        .setVisibilityTimeoutMs(visibilityTimeout.toMillis())
        .setMaxAttempts(maxAttempts)
        .setRetryBackoffBaseMs(retryBackoffBase.toMillis())
        .setRetryBackoffMaxMs(retryBackoffMax.toMillis())
        .setLuaInstructionBudget(luaInstructionBudget)
        .setLuaMemoryBytes(luaMemoryBytes)
        .setLuaTimeLimitMs((int) luaTimeLimit.toMillis())
        .build();
  }

  static QueueConfig from(Admin.QueueConfig c) {
    return new QueueConfig(c.getOnEnqueueScript(), c.getOnFailureScript(),
        Duration.ofMillis(c.getVisibilityTimeoutMs()), c.getMaxAttempts(),
        Duration.ofMillis(c.getRetryBackoffBaseMs()), Duration.ofMillis(c.getRetryBackoffMaxMs()),
        c.getLuaInstructionBudget(), c.getLuaMemoryBytes(),
        Duration.ofMillis(Integer.toUnsignedLong(c.getLuaTimeLimitMs())));
  }

  /** Builds a {@link QueueConfig}. */
  public static final class Builder {
    private String onEnqueueScript = "";
    private String onFailureScript = "";
    private Duration visibilityTimeout = Duration.ZERO;
    private int maxAttempts;
    private Duration retryBackoffBase = Duration.ZERO;
    private Duration retryBackoffMax = Duration.ZERO;
    private long luaInstructionBudget;
    private long luaMemoryBytes;
    private Duration luaTimeLimit = Duration.ZERO;

    private Builder() {}

    /** The Lua source defining {@code on_enqueue(msg)}. */
    public Builder onEnqueueScript(String lua) {
      this.onEnqueueScript = lua;
      return this;
    }

    /** The Lua source defining {@code on_failure(msg)}. */
    public Builder onFailureScript(String lua) {
      this.onFailureScript = lua;
      return this;
    }

    /** How long a lease lasts (default 30s). */
    public Builder visibilityTimeout(Duration d) {
      this.visibilityTimeout = d;
      return this;
    }

    /** Failures before the default policy dead-letters a message (default 10). */
    public Builder maxAttempts(int n) {
      this.maxAttempts = n;
      return this;
    }

    /** The default retry delay: min(base * 2^(attempts-1), max) (defaults 100ms, 60s). */
    public Builder retryBackoff(Duration base, Duration max) {
      this.retryBackoffBase = base;
      this.retryBackoffMax = max;
      return this;
    }

    /** The Lua limits of the queue's hooks (0: the broker's defaults). */
    public Builder luaLimits(long instructions, long memoryBytes, Duration time) {
      this.luaInstructionBudget = instructions;
      this.luaMemoryBytes = memoryBytes;
      this.luaTimeLimit = time;
      return this;
    }

    /** The configuration. */
    public QueueConfig build() {
      return new QueueConfig(onEnqueueScript, onFailureScript, visibilityTimeout, maxAttempts,
          retryBackoffBase, retryBackoffMax, luaInstructionBudget, luaMemoryBytes, luaTimeLimit);
    }
  }
}
