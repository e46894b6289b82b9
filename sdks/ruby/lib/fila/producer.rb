# frozen_string_literal: true

module Fila
  # Enqueues messages for many threads at once, in EnqueueBatch calls, and tells each caller
  # the outcome of its own message: its id once it is on disk, or why it was refused
  # (Pub/Sub's batching publisher). Batching adapts to load: when no batch is in flight a
  # message goes at once (a lone caller never waits for the linger); while one is, messages
  # gather and go when it returns, when +max_messages+ or +max_bytes+ of them wait, or after
  # +linger+. Thread-safe. Close it to send what waits.
  #
  #   producer = client.producer(linger: 0.005, max_messages: 1000)
  #   result = producer.publish("emails", payload, headers: { "tenant" => "acme" })
  #   result.value                                   # the id, or raises why it was refused
  #   producer.enqueue("emails", payload)            # publish and wait
  #   producer.close
  class Producer
    # What a producer counted.
    Stats = Struct.new(:messages, :batches, keyword_init: true)

    # @param linger [Numeric] the longest a message waits for company while a batch is in
    #   flight, seconds (default 0.005)
    # @param max_messages [Integer] most messages per EnqueueBatch (default 1,000; at most 10,000)
    # @param max_bytes [Integer] most bytes per EnqueueBatch (default 4 MiB)
    # @param max_in_flight [Integer] most EnqueueBatch calls out at once (default 4)
    def initialize(client, linger: 0.005, max_messages: 1000, max_bytes: 4 << 20, max_in_flight: 4)
      @client = client
      @batcher = Batcher.new(linger: linger, max_items: max_messages, max_bytes: max_bytes,
                             max_in_flight: max_in_flight) do |_key, reqs|
        client.__send__(:send_enqueue_batch, reqs)
      end
    end

    # Queues a message for the next batch and returns at once.
    # @return [Future] resolved with the message's id, or the error it was refused with
    def publish(queue, payload = "", headers: {})
      queue = queue.to_s
      payload = payload.to_s
      size = queue.bytesize + payload.bytesize + 8
      req = if headers.nil? || headers.empty?
              V1::EnqueueRequest.new(queue: queue, payload: payload)
            else
              headers.each { |k, v| size += k.to_s.bytesize + v.to_s.bytesize + 6 }
              V1::EnqueueRequest.new(queue: queue, payload: payload, headers: Fila.string_map(headers))
            end
      # One key for every queue: an EnqueueBatch may mix queues.
      @batcher.submit(nil, req, size)
    end

    # #publish, waiting for the outcome (at most +timeout+, default the client's).
    # @return [String] the message's id
    # @raise [Fila::Error] why it was refused; Fila::DeadlineExceeded if the wait timed out
    #   (the message may still be enqueued)
    def enqueue(queue, payload = "", headers: {}, timeout: nil)
      publish(queue, payload, headers: headers).value(timeout || @client.timeout)
    end

    # Sends what waits now and waits until every message published so far has its outcome.
    # @return [Boolean] whether they all have within +timeout+
    def flush(timeout: @client.timeout)
      @batcher.flush(timeout)
    end

    # Sends what waits, waits for the outcomes (at most +timeout+), and makes later publishes
    # fail with Fila::ClosedError.
    def close(timeout: @client.timeout)
      @batcher.close(timeout)
    end

    # @return [Stats] messages sent and EnqueueBatch calls made
    def stats
      Stats.new(messages: @batcher.items_sent, batches: @batcher.rpcs)
    end
  end
end
