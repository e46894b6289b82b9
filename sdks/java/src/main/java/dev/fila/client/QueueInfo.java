package dev.fila.client;

/**
 * One queue of {@link FilaClient#listQueues}.
 *
 * @param name the queue's name
 * @param depth messages ready or waiting (not leased)
 * @param inFlight messages leased
 * @param activeConsumers consumers reading it
 */
public record QueueInfo(String name, long depth, long inFlight, int activeConsumers) {}
