package dev.fila.client;

/**
 * A consumer's counters.
 *
 * @param delivered messages the broker delivered to it
 * @param held messages delivered and not yet acked or nacked (never more than the credit)
 * @param reconnects streams re-opened after they broke
 */
public record ConsumerStats(long delivered, int held, long reconnects) {}
