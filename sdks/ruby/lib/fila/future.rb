# frozen_string_literal: true

module Fila
  # The outcome of an operation to come: a published message (its id), an ack or a nack.
  # Any thread may wait for it; it is resolved once, with a value or an error.
  #
  #   result = producer.publish("emails", "hello")
  #   result.value          # waits; the message's id, or raises why it was refused
  #   result.wait(1)        # waits at most 1 s; true once resolved
  #   result.on_resolve { |f| log(f.error) unless f.succeeded? }
  class Future
    # One lock for every future: its critical sections are a few instructions, and futures
    # are made per message (a Mutex and a ConditionVariable each would cost more than that).
    LOCK = Mutex.new
    private_constant :LOCK

    def initialize
      @resolved = false
      @value = nil
      @error = nil
      @callbacks = nil
      @cond = nil # made by the first waiter
    end

    # A future resolved already.
    def self.resolved(value = nil, error = nil)
      new.tap { |f| f.resolve(value, error) }
    end

    # Sets the outcome (the first call wins) and runs the callbacks. Returns self.
    def resolve(value = nil, error = nil)
      callbacks = LOCK.synchronize do
        return self if @resolved
        @value = value
        @error = error
        @resolved = true
        @cond&.broadcast
        @callbacks
      end
      callbacks&.each { |cb| run(cb) }
      self
    end

    # @return [Boolean] whether the outcome is known
    def resolved?
      @resolved
    end

    # Waits until the outcome is known, at most +timeout+ seconds (nil: no limit).
    # @return [Boolean] whether it is known
    def wait(timeout = nil)
      return true if @resolved
      deadline = timeout && (now + timeout)
      LOCK.synchronize do
        until @resolved
          @cond ||= ConditionVariable.new
          if deadline
            left = deadline - now
            return false if left <= 0
            @cond.wait(LOCK, left)
          else
            @cond.wait(LOCK)
          end
        end
      end
      true
    end

    # Waits for the outcome and returns its value, or raises its error.
    # @raise [Fila::DeadlineExceeded] if +timeout+ seconds pass first
    def value(timeout = nil)
      unless wait(timeout)
        raise DeadlineExceeded.new("no outcome within #{timeout}s (it may still come)")
      end
      raise @error if @error
      @value
    end

    # Waits for the outcome and returns its error (nil on success).
    def error(timeout = nil)
      wait(timeout) ? @error : DeadlineExceeded.new("no outcome within #{timeout}s")
    end

    # @return [Boolean] resolved without an error
    def succeeded?
      @resolved && @error.nil?
    end

    # Calls the block with this future once it is resolved (at once if it is), on the
    # thread that resolves it: keep it short.
    def on_resolve(&block)
      LOCK.synchronize do
        unless @resolved
          (@callbacks ||= []) << block
          return self
        end
      end
      run(block)
      self
    end

    def inspect
      state = if !@resolved then "pending"
              elsif @error then "failed: #{@error.message}"
              else "ok: #{@value.inspect}"
              end
      "#<#{self.class.name} #{state}>"
    end

    private

    def run(callback)
      callback.call(self)
    rescue StandardError => e
      warn "fila: a Future callback raised #{e.class}: #{e.message}"
    end

    def now
      Process.clock_gettime(Process::CLOCK_MONOTONIC)
    end
  end
end
