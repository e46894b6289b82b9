package dev.fila.client;

import java.util.List;

/**
 * Why a fairness key of a queue waits, in plain words from live state
 * ({@link FilaClient#explain}).
 *
 * @param summary the main reason, one line
 * @param reasons every reason that applies, most important first
 * @param pending the key's ready messages
 * @param inFlight its leased messages
 * @param delayed its messages waiting for a retry delay
 * @param weight its weight
 * @param activeKeys the queue's keys with ready messages
 * @param consumers the queue's consumers
 */
public record Explanation(String summary, List<String> reasons, long pending, long inFlight,
    long delayed, int weight, long activeKeys, int consumers) {}
