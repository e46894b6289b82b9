/**
 * The Java client of Fila, the message broker with fair scheduling across tenants and per-key
 * throttling.
 *
 * <p>Start with {@link dev.fila.client.FilaClient#builder(String)}. Produce with
 * {@link dev.fila.client.FilaClient#enqueue}, {@link dev.fila.client.FilaClient#enqueueBatch}
 * or a batching {@link dev.fila.client.Producer}; consume with a credit-controlled
 * {@link dev.fila.client.Consumer} (a blocking iterator) or a
 * {@link dev.fila.client.Subscription} (a handler); administer queues, runtime config,
 * throttles, dead letters and API keys on the same client. Every failure is a
 * {@link dev.fila.client.FilaException}. The generated stubs of the {@code fila.v1} contract
 * are in the package {@code fila.v1}.
 */
package dev.fila.client;
