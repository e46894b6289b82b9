package dev.fila.client;

import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.Objects;

/**
 * A message to enqueue: its queue, its headers (read by the queue's {@code on_enqueue} hook,
 * e.g. the tenant) and its opaque payload. Do not change the payload array after handing the
 * message to the client: it is sent as it is when its batch goes.
 *
 * @param queue the queue's name
 * @param headers string headers (never null; empty when none)
 * @param payload the bytes the broker stores and delivers unread (never null)
 */
public record OutgoingMessage(String queue, Map<String, String> headers, byte[] payload) {

  /** Null headers or payload become empty ones. */
  public OutgoingMessage {
    Objects.requireNonNull(queue, "queue");
    headers = headers == null ? Map.of() : headers;
    payload = payload == null ? new byte[0] : payload;
  }

  /** A message without headers. */
  public static OutgoingMessage of(String queue, byte[] payload) {
    return new OutgoingMessage(queue, Map.of(), payload);
  }

  /** A message with headers. */
  public static OutgoingMessage of(String queue, byte[] payload, Map<String, String> headers) {
    return new OutgoingMessage(queue, headers, payload);
  }

  /** A message whose payload is {@code text} in UTF-8. */
  public static OutgoingMessage of(String queue, String text, Map<String, String> headers) {
    return new OutgoingMessage(queue, headers, text.getBytes(StandardCharsets.UTF_8));
  }

  /** About how many bytes this message takes in a batch (for the producer's byte limit). */
  int size() {
    int n = queue.length() + payload.length + 8;
    for (Map.Entry<String, String> e : headers.entrySet()) {
      n += e.getKey().length() + e.getValue().length() + 6;
    }
    return n;
  }

  // byte[] compares by identity in a record: compare by content instead.
  @Override
  public boolean equals(Object o) {
    return o instanceof OutgoingMessage m
        && queue.equals(m.queue)
        && headers.equals(m.headers)
        && java.util.Arrays.equals(payload, m.payload);
  }

  @Override
  public int hashCode() {
    return Objects.hash(queue, headers, java.util.Arrays.hashCode(payload));
  }

  @Override
  public String toString() {
    return "OutgoingMessage[queue=" + queue + ", headers=" + headers + ", payload="
        + payload.length + " bytes]";
  }
}
