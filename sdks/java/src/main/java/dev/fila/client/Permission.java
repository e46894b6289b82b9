package dev.fila.client;

/**
 * One permission of an API key's ACL: a kind of call on the queues a pattern names.
 *
 * @param kind {@link #PRODUCE}, {@link #CONSUME} or {@link #ADMIN}
 * @param pattern {@code "*"}, a queue name, or a prefix pattern such as {@code "orders.*"}
 */
public record Permission(String kind, String pattern) {
  /** Enqueue. */
  public static final String PRODUCE = "produce";
  /** Lease, ack, nack, extend. */
  public static final String CONSUME = "consume";
  /** The admin API. */
  public static final String ADMIN = "admin";

  /** {@code produce} on pattern. */
  public static Permission produce(String pattern) {
    return new Permission(PRODUCE, pattern);
  }

  /** {@code consume} on pattern. */
  public static Permission consume(String pattern) {
    return new Permission(CONSUME, pattern);
  }

  /** {@code admin} on pattern. */
  public static Permission admin(String pattern) {
    return new Permission(ADMIN, pattern);
  }
}
