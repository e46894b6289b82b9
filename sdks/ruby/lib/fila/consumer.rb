# frozen_string_literal: true

module Fila
  # Reads a queue's lease stream on a thread of its own and hands its messages out, in
  # order, to whoever asks: +each+, +next+, or #receive with a block. It is Enumerable.
  #
  # Flow control (Pub/Sub's max outstanding messages): the consumer holds at most +credit+
  # messages that are delivered and not yet acked or nacked, counting those waiting to be
  # handed out, and the broker never leases it more. While it holds a message it extends its
  # lease (every +extend_every+, up to +max_extension+), so long work is not delivered twice.
  #
  # It re-opens the stream by itself when it breaks (the broker restarted, a network blip),
  # with backoff, keeping its credit, and follows a cluster's redirect to the queue's leader.
  # It stops when closed or on an error that re-opening cannot fix (the queue does not exist,
  # the key may not consume it): then +each+ and +next+ raise that error.
  #
  #   consumer = client.lease("jobs", credit: 10)
  #   consumer.each do |msg|
  #     work(msg.payload)
  #     msg.ack
  #   end
  class Consumer
    include Enumerable

    DEFAULT_CREDIT = 100
    MAX_CREDIT = 10_000
    DEFAULT_MAX_EXTENSION = 3600.0
    # What +extend_every+ defaults to when the queue's visibility timeout cannot be read.
    FALLBACK_EXTEND_EVERY = 10.0

    # What a consumer counted.
    Stats = Struct.new(:delivered, :held, :reconnects, keyword_init: true)

    # @return [String]
    attr_reader :queue
    # @return [Integer] the most unacked messages held
    attr_reader :credit

    # @api private use Client#lease or Client#consume
    def initialize(client, queue, credit: DEFAULT_CREDIT, max_batch: nil, extend_every: nil,
                   lease_extension: nil, max_extension: DEFAULT_MAX_EXTENSION, classic: false)
      @client = client
      @queue = queue.to_s
      @credit = credit.to_i.clamp(1, MAX_CREDIT)
      @max_batch = max_batch.to_i.clamp(0, MAX_CREDIT)
      @extend_every = extend_every&.to_f
      @lease_extension = lease_extension
      @max_extension = max_extension.to_f
      @classic = classic
      @mutex = Mutex.new
      @cond = ConditionVariable.new # anything changed: a delivery, a release, a stop
      @inbox = []                   # delivered, not yet handed out
      @held = {}.compare_by_identity # delivered, not yet acked or nacked (inbox included)
      @old_held = 0                 # of those, the ones from earlier streams
      @generation = 0               # the current stream's
      @stream_credit = 0            # the current stream's credit: credit - old_held
      @sent_credit = 0              # what the broker was last told
      @requests = nil               # the current stream's RequestQueue
      @call = nil                   # the current stream's gRPC operation (to cancel it)
      @stopped = false
      @done = false
      @error = nil
      @acking = 0 # acks and nacks sent, not yet answered
      @delivered = 0
      @reconnects = 0
      @reader = @extender = nil
      if client.closed?
        @error = ClosedError.new("the client is closed")
        @done = @stopped = true
        return
      end
      @reader = Thread.new { run }
      @reader.name = "fila-lease #{@queue}"
      return unless @max_extension.positive?
      @extender = Thread.new { extend_leases }
      @extender.name = "fila-extend #{@queue}"
    end

    # Yields each message as it arrives until the consumer stops; then raises the error
    # that stopped it, if one did. Without a block, an Enumerator.
    def each
      return enum_for(:each) unless block_given?
      while (msg = take(nil))
        yield msg
      end
      raise @error if @error
      self
    end

    # The next message, waiting at most +timeout+ seconds (nil: no limit).
    # @return [Message, nil] nil if none came in time
    # @raise [StopIteration] once the consumer stopped (+loop do+ ends on it)
    # @raise [Fila::Error] the error that stopped it, if one did
    def next(timeout: nil)
      msg = take(timeout)
      return msg if msg
      raise @error if @error
      raise StopIteration, "the consumer stopped" if @stopped
      nil
    end

    # Calls the block for each message until the consumer stops, +threads+ at once: a block
    # that returns (or breaks) acks the message, one that raises nacks it with the error's
    # message, unless it acked or nacked the message itself. Raises the error that stopped
    # the consumer, if one did.
    def receive(threads: 1, &handler)
      raise ArgumentError, "receive needs a block" unless handler
      if threads.to_i <= 1
        each { |msg| handle(msg, &handler) }
      else
        workers = Array.new(threads.to_i) do
          Thread.new do
            while (msg = take(nil))
              handle(msg, &handler)
            end
          end
        end
        workers.each(&:join)
        raise @error if @error
      end
      self
    end

    # Changes how many unacked messages the consumer may hold (1..10,000), telling the
    # broker at once.
    def credit=(n)
      @mutex.synchronize do
        @credit = n.to_i.clamp(1, MAX_CREDIT)
        @stream_credit = [1, @credit - @old_held].max
        send_credit_locked
      end
    end

    # Stops the consumer without waiting: the stream is cancelled and +each+ / +next+ end.
    def stop
      call = @mutex.synchronize do
        @stopped = true
        @cond.broadcast
        @call
      end
      call&.cancel
      nil
    end

    # Stops the consumer and waits (at most +timeout+, default the client's) until the acks
    # and nacks of its messages are answered. Messages it received and did not hand out stay
    # leased until their visibility timeout passes.
    # @return [Boolean] whether everything was answered in time
    def close(timeout: @client.timeout)
      stop
      deadline = timeout && (now + timeout)
      [@reader, @extender].each { |t| t&.join(deadline && [deadline - now, 0].max) }
      @mutex.synchronize do
        while @acking.positive?
          left = deadline && (deadline - now)
          return false if left && left <= 0
          @cond.wait(@mutex, left)
        end
      end
      true
    end

    # @return [Boolean] whether the consumer has stopped
    def stopped?
      @done
    end

    # @return [Fila::Error, nil] why the consumer stopped, if an error stopped it
    def error
      @done ? @error : nil
    end

    # @return [Stats] messages delivered, held now, and streams re-opened after they broke
    def stats
      @mutex.synchronize { Stats.new(delivered: @delivered, held: @held.size, reconnects: @reconnects) }
    end

    def inspect
      "#<Fila::Consumer #{@queue} credit=#{@credit}#{@done ? ' (stopped)' : ''}>"
    end

    private

    def now
      Process.clock_gettime(Process::CLOCK_MONOTONIC)
    end

    # The next message handed out, waiting at most +timeout+; nil once stopped or on timeout.
    def take(timeout)
      deadline = timeout && (now + timeout)
      @mutex.synchronize do
        loop do
          return nil if @stopped || (@done && @inbox.empty?)
          return @inbox.shift unless @inbox.empty?
          left = deadline && (deadline - now)
          return nil if left && left <= 0
          @cond.wait(@mutex, left)
        end
      end
    end

    def handle(msg)
      yield msg
    rescue LocalJumpError
      # break in a block run on a worker thread (threads: > 1): done with it, and stop.
      msg.ack unless msg.settled?
      stop
    rescue StandardError => e
      msg.nack(e.message) unless msg.settled?
    ensure
      # Returned, or left with break: done with it. (Not for Interrupt and the like.)
      msg.ack unless msg.settled? || $!
    end

    # Called by Message#ack / #nack: the message no longer counts against the credit. A
    # message of an earlier stream gives its slot back to the current stream.
    def release(msg, future)
      @mutex.synchronize do
        return unless @held.delete(msg)
        if msg.generation != @generation && @old_held.positive?
          @old_held -= 1
          if @stream_credit < @credit
            @stream_credit += 1
            send_credit_locked
          end
        end
        @acking += 1
        @cond.broadcast
      end
      future.on_resolve do
        @mutex.synchronize do
          @acking -= 1
          @cond.broadcast if @acking.zero?
        end
      end
    end

    def send_credit_locked
      return if @classic || @requests.nil? || @stream_credit == @sent_credit
      @requests.push(V1::LeaseRequest.new(credit: @stream_credit))
      @sent_credit = @stream_credit
    end

    # Waits +seconds+, or less if the consumer stops first; whether it stopped.
    def wait_stop(seconds)
      deadline = now + seconds
      @mutex.synchronize do
        until @stopped
          left = deadline - now
          return false if left <= 0
          @cond.wait(@mutex, left)
        end
        true
      end
    end

    # Opens streams one after the other until the consumer stops.
    def run
      failures = 0
      redirects = 0
      until @stopped
        got, redirected, err = session # consumer_stream.rb
        break if @stopped
        if err.is_a?(Unimplemented) && !@classic
          @classic = true # a broker without the Lease stream: read Consume
          next
        end
        if permanent?(err)
          @error = err
          break
        end
        if @client.closed?
          @error = ClosedError.new("the client is closed")
          break
        end
        failures = redirects = 0 if got
        @mutex.synchronize { @reconnects += 1 }
        if redirected && redirects < Client::MAX_REDIRECTS
          redirects += 1
          next # to the leader, at once
        end
        failures += 1
        wait_stop(@client.retry_policy.backoff(failures))
      end
    rescue StandardError => e
      @error = e.is_a?(Fila::Error) ? e : Fila::Error.new("consumer failed: #{e.class}: #{e.message}")
    ensure
      @mutex.synchronize do
        @done = @stopped = true
        @inbox.each { |m| @held.delete(m) }
        @inbox.clear
        @cond.broadcast
      end
    end

    # Errors that re-opening the stream cannot fix.
    def permanent?(err)
      case err
      when InvalidArgument, NotFound, AlreadyExists, PermissionDenied, FailedPrecondition,
           Unauthenticated, Unimplemented then true
      else false
      end
    end

    # Waits until the consumer may hold more messages than it holds
    # from earlier streams and starts a new stream generation with the credit left:
    # [credit, generation], or nil once stopped.
    def open_stream
      @mutex.synchronize do
        loop do
          return nil if @stopped
          @old_held = @held.size
          avail = @credit - @old_held
          if @classic || avail >= 1
            @generation += 1
            @stream_credit = @sent_credit = avail
            return [avail, @generation]
          end
          @cond.wait(@mutex)
        end
      end
    end

    # The stream's call and request queue, for cancel and credit;
    # false if the consumer stopped meanwhile (the caller cancels the call).
    def attach(call, requests)
      @mutex.synchronize do
        @call = call
        @requests = requests
        !@stopped
      end
    end

    def detach(call)
      @mutex.synchronize do
        if @call.equal?(call)
          @call = nil
          @requests = nil
        end
      end
    end

    # Messages of stream +generation+ arrived.
    def deliver(pbs, generation)
      at = now
      msgs = pbs.map do |pb|
        Message.new(pb, @client, consumer: self, generation: generation, queue: @queue, received_at: at)
      end
      @mutex.synchronize do
        msgs.each { |m| @held[m] = true }
        @inbox.concat(msgs)
        @delivered += msgs.size
        @cond.broadcast
      end
    end

    # Keeps the leases of the messages the consumer holds alive, every +extend_every+, until
    # +max_extension+ after each was received.
    def extend_leases
      every = @extend_every
      every = visibility_timeout.then { |vt| vt&.positive? ? vt / 3.0 : FALLBACK_EXTEND_EVERY } unless every&.positive?
      every = [every, 0.01].max
      until wait_stop(every)
        leases = due_leases(every / 2.0)
        leases.each_slice(Batcher::MAX_ITEMS) do |slice|
          @client.extend_lease(@queue, slice, seconds: @lease_extension)
        rescue Fila::Error
          nil # a lease that ended is the broker's to deliver again
        end
      end
    end

    def due_leases(min_age)
      t = now
      @mutex.synchronize do
        @held.each_key.select do |m|
          age = t - m.received_at
          age >= min_age && age < @max_extension
        end
      end
    end

    # The queue's visibility timeout, if this client may read the queue's settings.
    def visibility_timeout
      @client.get_queue(@queue, timeout: 5).config.visibility_timeout
    rescue Fila::Error
      nil
    end
  end
end
