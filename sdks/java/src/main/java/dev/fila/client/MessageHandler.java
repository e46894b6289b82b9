package dev.fila.client;

/**
 * Handles one message of a {@link Subscription}. Returning normally acks the message; throwing
 * nacks it with the exception's message as the reason (the queue's retry policy or
 * {@code on_failure} hook decides what next). The handler may also ack or nack the message
 * itself; then the return does nothing more. While it runs, the message's lease is extended.
 */
@FunctionalInterface
public interface MessageHandler {
  /** Processes msg; throw to nack it. */
  void handle(Message msg) throws Exception;
}
