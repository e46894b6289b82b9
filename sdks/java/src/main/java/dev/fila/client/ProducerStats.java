package dev.fila.client;

/**
 * A producer's counters.
 *
 * @param messages messages sent
 * @param batches {@code EnqueueBatch} RPCs sent
 */
public record ProducerStats(long messages, long batches) {}
