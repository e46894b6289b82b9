# frozen_string_literal: true

module Fila
  # Turns many single calls into batch RPCs, per key (a queue, or one key for all), and gives
  # every item its own Future. Batching adapts to load like Nagle's algorithm without its
  # delay: when no RPC is in flight for a key an item goes out at once (a lone caller never
  # waits for the linger); while one is, items gather and go when it returns, when
  # +max_items+ or +max_bytes+ of them wait, or after +linger+ at the latest. At most
  # +max_in_flight+ RPCs per key are out at once, each on a thread of its own (the gRPC call
  # releases the GVL while it waits).
  #
  # The block sends one batch: it gets (key, items) and returns one [value, error] pair per
  # item, in order, or raises a Fila::Error that fails the whole batch.
  class Batcher
    # The most items the broker takes in one batch RPC.
    MAX_ITEMS = 10_000

    Group = Struct.new(:items, :bytes, :busy, :deadline)
    private_constant :Group

    # @return [Integer] batch RPCs sent
    attr_reader :rpcs
    # @return [Integer] items sent
    attr_reader :items_sent

    def initialize(linger:, max_items:, max_bytes: 4 << 20, max_in_flight: 4, &send)
      @send = send
      @linger = [linger.to_f, 0.0].max
      @max_items = max_items.to_i.clamp(1, MAX_ITEMS)
      @max_bytes = max_bytes.to_i.positive? ? max_bytes.to_i : 4 << 20
      @max_in_flight = [max_in_flight.to_i, 1].max
      @mutex = Mutex.new
      @timer_cond = ConditionVariable.new # the linger timer looks again
      @idle_cond = ConditionVariable.new  # pending dropped to zero
      @groups = {}
      @pending = 0 # items submitted and not yet answered
      @closed = false
      @timer = nil
      @rpcs = 0
      @items_sent = 0
    end

    # Queues +item+ (about +size+ bytes) for +key+ and returns its Future (+future+, if
    # given); the block, if given, is called with the future once it is resolved.
    def submit(key, item, size, future: Future.new, &on_resolve)
      future.on_resolve(&on_resolve) if on_resolve
      @mutex.synchronize do
        if @closed
          future.resolve(nil, ClosedError.new("the batcher is closed"))
          return future
        end
        g = (@groups[key] ||= Group.new([], 0, 0, nil))
        # This item would overflow the batch: send what waits first.
        flush_locked(key, g) if !g.items.empty? && g.bytes + size > @max_bytes
        g.items << [item, size, future]
        g.bytes += size
        @pending += 1
        if g.busy.zero? || g.items.size >= @max_items || g.bytes >= @max_bytes
          flush_locked(key, g) # idle: go now; or the batch is full
        elsif g.deadline.nil?
          arm_locked(g)
        end
      end
      future
    end

    # Sends everything waiting now and waits until every item submitted so far has its
    # outcome, at most +timeout+ seconds (nil: no limit). Returns whether they all have.
    def flush(timeout = nil)
      deadline = timeout && (now + timeout)
      @mutex.synchronize do
        @groups.each { |key, g| flush_locked(key, g) }
        while @pending.positive?
          left = deadline && (deadline - now)
          return false if left && left <= 0
          @idle_cond.wait(@mutex, left)
        end
      end
      true
    end

    # Refuses new items (their futures fail with ClosedError), then flushes.
    def close(timeout = nil)
      @mutex.synchronize do
        @closed = true
        @timer_cond.broadcast
      end
      flush(timeout)
    end

    private

    def now
      Process.clock_gettime(Process::CLOCK_MONOTONIC)
    end

    # Starts the linger of a group that has items waiting.
    def arm_locked(g)
      g.deadline = now + @linger
      if @timer&.alive?
        @timer_cond.signal
      else
        @timer = Thread.new { run_timer }
        @timer.name = "fila-batch-linger"
      end
    end

    # One thread per batcher wakes at the earliest linger deadline and sends what is due.
    def run_timer
      @mutex.synchronize do
        loop do
          t = now
          due = @groups.select { |_, g| g.deadline && g.deadline <= t }
          due.each do |key, g|
            g.deadline = nil
            flush_locked(key, g)
          end
          nearest = @groups.each_value.filter_map(&:deadline).min
          break if nearest.nil? && @closed
          @timer_cond.wait(@mutex, nearest ? [nearest - now, 0.0001].max : nil)
        end
      end
    end

    # Sends what waits in +g+: as many RPCs as it takes and the in-flight limit allows.
    def flush_locked(key, g)
      while !g.items.empty? && g.busy < @max_in_flight
        g.deadline = nil
        n = 0
        bytes = 0
        while n < g.items.size && n < @max_items && (n.zero? || bytes + g.items[n][1] <= @max_bytes)
          bytes += g.items[n][1]
          n += 1
        end
        batch = g.items.shift(n)
        g.bytes -= bytes
        g.busy += 1
        @rpcs += 1
        @items_sent += n
        Thread.new { run(key, g, batch) }.name = "fila-batch-rpc"
        break if g.items.size < @max_items && g.bytes < @max_bytes # not a full batch: it waits for company
      end
      arm_locked(g) if !g.items.empty? && g.deadline.nil? && g.busy < @max_in_flight
    end

    def run(key, g, batch)
      outs = nil
      err = nil
      begin
        outs = @send.call(key, batch.map(&:first))
      rescue Fila::Error => e
        err = e
      rescue StandardError => e
        err = Fila::Error.new("#{e.class}: #{e.message}")
      ensure
        batch.each_with_index do |(_, _, future), i|
          if err || outs.nil?
            future.resolve(nil, err || Fila::Error.new("the batch was not sent"))
          elsif (out = outs[i])
            future.resolve(out[0], out[1])
          else
            future.resolve(nil, Fila::Error.new("the broker answered fewer results than items"))
          end
        end
        @mutex.synchronize do
          g.busy -= 1
          if !g.items.empty?
            flush_locked(key, g) # what gathered while this call was out goes now
          elsif g.busy.zero? && @groups[key].equal?(g)
            @groups.delete(key)
          end
          @pending -= batch.size
          @idle_cond.broadcast if @pending.zero?
        end
      end
    end
  end
end
