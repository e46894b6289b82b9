package dev.fila.client;

/**
 * A queue's settings as {@link FilaClient#getQueue} returns them, defaults filled in.
 *
 * @param name the queue's name
 * @param config its settings
 * @param dlqOf for a dead-letter queue, the queue whose failures it holds; "" otherwise
 */
public record QueueDescription(String name, QueueConfig config, String dlqOf) {}
