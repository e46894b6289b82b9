# frozen_string_literal: true

module Fila
  # A message as the broker delivered it (from a Consumer) or showed it (Client#peek).
  #
  # Ack or nack every delivered message: until then it counts against its consumer's credit
  # and its lease is extended while the consumer runs. Both return at once (acks travel in
  # batches) with a Future of the broker's answer; only the first of them counts.
  class Message
    SETTLE_LOCK = Mutex.new # first ack or nack wins (held for an instant, never during a call)
    private_constant :SETTLE_LOCK

    # @return [String] the broker-assigned id, the same on every delivery (a good dedup key)
    attr_reader :id
    # @return [String] the queue the message is in
    attr_reader :queue
    # @return [String] the opaque payload (binary)
    attr_reader :payload
    # @return [String] identifies this delivery; acks and nacks send it back, so that the
    #   broker refuses them if the lease expired and the message went to someone else since
    attr_reader :lease_id
    # @return [Integer] 0 on the first delivery, then the failures (nacks, expired leases)
    attr_reader :attempt_count
    # @return [Consumer, nil] the consumer that received it (nil for a peeked message)
    attr_reader :consumer
    # @api private the consumer's stream generation and monotonic time it came on
    attr_reader :generation, :received_at

    # @api private
    def initialize(pb, client, consumer: nil, generation: 0, queue: nil, received_at: nil)
      @pb = pb
      @client = client
      @consumer = consumer
      @generation = generation
      @received_at = received_at || Process.clock_gettime(Process::CLOCK_MONOTONIC)
      @id = pb.id
      md = pb.metadata
      @queue = md && !md.queue_id.empty? ? md.queue_id : queue.to_s
      @lease_id = md ? md.lease_id : ""
      @attempt_count = md ? md.attempt_count : 0
      @payload = pb.payload
      @result = nil
    end

    # @return [Hash{String=>String}] the headers it was enqueued with
    def headers
      @headers ||= @pb.headers.to_h
    end

    # @return [String] what the queue's on_enqueue hook chose as its fairness key
    def fairness_key
      @pb.metadata&.fairness_key.to_s
    end

    # @return [Integer] its weight in the fair scheduling of its key
    def weight
      @pb.metadata&.weight.to_i
    end

    # @return [Array<String>] the token buckets it needs a token of
    def throttle_keys
      @throttle_keys ||= @pb.metadata ? @pb.metadata.throttle_keys.to_a : []
    end

    # @return [String] why the last attempt failed ("" if none did)
    def last_error
      @pb.metadata&.last_error.to_s
    end

    # @return [Time, nil] when it was enqueued
    def enqueued_at
      Units.time(@pb.timestamps&.enqueued_at)
    end

    # @return [Time, nil] when this lease began
    def leased_at
      Units.time(@pb.timestamps&.leased_at)
    end

    # Acknowledges the message: it is done and deleted. Returns at once; the Future tells the
    # broker's answer (nil once the ack is on disk, or an error: say the lease expired and the
    # message will be delivered again).
    # @return [Future]
    def ack
      settle { |f| @client.__send__(:submit_ack, @queue, @id, @lease_id, f) }
    end

    # Reports that processing failed, with why: the queue's on_failure hook or its retry
    # policy decides what next (retry after a delay, or the dead-letter queue).
    # @return [Future]
    def nack(reason = "")
      settle { |f| @client.__send__(:submit_nack, @queue, @id, @lease_id, reason.to_s, f) }
    end

    # @return [Boolean] whether ack or nack was called
    def settled?
      !@result.nil?
    end

    # Makes this message's lease end +seconds+ from now (nil: the queue's visibility timeout).
    # A consumer does this by itself for the messages it holds.
    # @raise [Fila::Error] if the lease is gone
    def extend_lease(seconds = nil, timeout: nil)
      errors = @client.extend_lease(@queue, [self], seconds: seconds, timeout: timeout)
      raise errors.first if errors.first
      nil
    end

    # @return [Hash] the message's fields
    def to_h
      { id: id, queue: queue, headers: headers, payload: payload, fairness_key: fairness_key,
        weight: weight, throttle_keys: throttle_keys, attempt_count: attempt_count,
        last_error: last_error, lease_id: lease_id, enqueued_at: enqueued_at, leased_at: leased_at }
    end

    def inspect
      "#<Fila::Message id=#{id} queue=#{queue} fairness_key=#{fairness_key.inspect} " \
        "attempt_count=#{attempt_count} payload=#{payload.bytesize}B>"
    end

    private

    def settle
      future = nil
      SETTLE_LOCK.synchronize do
        return @result if @result
        future = @result = Future.new
      end
      if @client.nil?
        return future.resolve(nil, ClosedError.new("the message has no client"))
      end
      @consumer&.__send__(:release, self, future)
      yield future
      future
    end
  end
end
