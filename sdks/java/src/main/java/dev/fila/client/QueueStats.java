package dev.fila.client;

import fila.v1.Admin;
import java.time.Duration;
import java.util.List;

/**
 * A queue's state ({@link FilaClient#getStats}): depth, in flight, consumers, its fairness
 * keys, throttles and hooks, and its totals since the broker started.
 *
 * @param depth messages ready or waiting (not leased)
 * @param inFlight messages leased
 * @param ready messages ready for delivery
 * @param delayed messages waiting for a retry delay
 * @param dlqDepth messages in its dead-letter queue
 * @param activeFairnessKeys keys with ready messages
 * @param activeConsumers consumers reading it
 * @param quantum the DRR quantum
 * @param drrRounds DRR turns handed out
 * @param keys per fairness key
 * @param throttles per token bucket its messages use
 * @param hooks per Lua hook
 * @param totals counters since the broker started
 * @param deliveryRate deliveries per second, recently
 * @param enqueueRate enqueues per second, recently
 * @param leaderNodeId always 0 on a single-node broker
 * @param replicationCount always 1 on a single-node broker
 */
public record QueueStats(
    long depth, long inFlight, long ready, long delayed, long dlqDepth, long activeFairnessKeys,
    int activeConsumers, int quantum, long drrRounds, List<KeyStats> keys,
    List<ThrottleStats> throttles, List<HookStats> hooks, Totals totals, double deliveryRate,
    double enqueueRate, long leaderNodeId, int replicationCount) {

  /**
   * One fairness key.
   *
   * @param key the key
   * @param pending its ready messages
   * @param deficit its DRR credit left
   * @param weight its weight
   * @param delivered messages leased since it was last active
   * @param deliveryRate its deliveries per second, recently
   * @param fairShare the part of the deliveries it can get
   * @param actualShare the part it got, recently
   * @param fairRate deliveries per second it can get (0: nothing bounds it)
   * @param limitedBy what bounds it: throttle key(s), "consumers", or ""
   */
  public record KeyStats(String key, long pending, long deficit, int weight, long delivered,
      double deliveryRate, double fairShare, double actualShare, double fairRate,
      String limitedBy) {}

  /**
   * One token bucket.
   *
   * @param key the throttle key
   * @param tokens tokens in the bucket now
   * @param ratePerSecond its rate
   * @param burst its size
   * @param passed checks that found a token
   * @param hits checks that found it empty
   * @param waiting ready messages held back now by it
   */
  public record ThrottleStats(String key, double tokens, double ratePerSecond, double burst,
      long passed, long hits, long waiting) {}

  /**
   * One Lua hook.
   *
   * @param hook "on_enqueue" or "on_failure"
   * @param configured whether the queue has it
   * @param calls calls so far
   * @param errors failed calls
   * @param p50 median call latency
   * @param p99 99th percentile call latency
   * @param breakerState "closed", "open" or "half-open"
   * @param breakerOpenings how often its circuit breaker opened
   */
  public record HookStats(String hook, boolean configured, long calls, long errors,
      Duration p50, Duration p99, String breakerState, long breakerOpenings) {}

  /** A queue's counters since the broker started. */
  public record Totals(long enqueued, long leased, long acked, long nacked, long expired,
      long deadLettered, long redriven) {}

  static QueueStats from(Admin.GetStatsResponse r) {
    List<KeyStats> keys = r.getPerKeyStatsList().stream().map(k -> new KeyStats(k.getKey(),
        k.getPendingCount(), k.getCurrentDeficit(), k.getWeight(), k.getDelivered(),
        k.getDeliveryRate(), k.getFairShare(), k.getActualShare(), k.getFairRate(),
        k.getLimitedBy())).toList();
    List<ThrottleStats> throttles = r.getPerThrottleStatsList().stream()
        .map(t -> new ThrottleStats(t.getKey(), t.getTokens(), t.getRatePerSecond(),
            t.getBurst(), t.getPassed(), t.getHits(), t.getWaiting())).toList();
    List<HookStats> hooks = r.getHooksList().stream().map(h -> new HookStats(h.getHook(),
        h.getConfigured(), h.getCalls(), h.getErrors(), micros(h.getP50Us()),
        micros(h.getP99Us()), h.getBreakerState(), h.getBreakerOpenings())).toList();
    Totals totals = new Totals(r.getEnqueuedTotal(), r.getLeasedTotal(), r.getAckedTotal(),
        r.getNackedTotal(), r.getExpiredTotal(), r.getDeadLetteredTotal(), r.getRedrivenTotal());
    return new QueueStats(r.getDepth(), r.getInFlight(), r.getReady(), r.getDelayed(),
        r.getDlqDepth(), r.getActiveFairnessKeys(), r.getActiveConsumers(), r.getQuantum(),
        r.getDrrRounds(), keys, throttles, hooks, totals, r.getDeliveryRate(),
        r.getEnqueueRate(), r.getLeaderNodeId(), r.getReplicationCount());
  }

  private static Duration micros(double us) {
    return Duration.ofNanos((long) (us * 1000));
  }
}
