# frozen_string_literal: true

module Fila
  # How the client retries a call that failed because the broker was unavailable
  # (UNAVAILABLE: unreachable, restarting, or its storage could not write), and how fast
  # consumers re-open their streams: exponential backoff with jitter, never past the call's
  # deadline.
  #
  # A call that failed with UNAVAILABLE may have taken effect (the connection broke after the
  # broker acted): delivery is at-least-once, so a retried enqueue can store a message twice.
  #
  # @!attribute max_attempts
  #   the most attempts of one call, the first included; 1 turns retries off, 0 (default)
  #   retries until the call's deadline
  # @!attribute initial_backoff
  #   seconds before the first retry (default 0.05); each retry doubles it up to +max_backoff+
  # @!attribute max_backoff
  #   the longest wait between attempts, seconds (default 2)
  # @!attribute retry_overloaded
  #   also retry calls refused as overloaded (RESOURCE_EXHAUSTED), waiting at least the
  #   broker's retry-after hint; off by default: the caller sees Fila::Overloaded and decides
  RetryPolicy = Struct.new(:max_attempts, :initial_backoff, :max_backoff, :retry_overloaded,
                           keyword_init: true) do
    def initialize(max_attempts: 0, initial_backoff: 0.05, max_backoff: 2.0, retry_overloaded: false)
      initial_backoff = 0.05 unless initial_backoff.to_f.positive?
      max_backoff = [max_backoff.to_f.positive? ? max_backoff.to_f : 2.0, initial_backoff.to_f].max
      super(max_attempts: max_attempts.to_i, initial_backoff: initial_backoff.to_f,
            max_backoff: max_backoff, retry_overloaded: retry_overloaded ? true : false)
    end

    # The wait before retry number +n+ (1 for the first): exponential, capped, with "equal
    # jitter" (between half and all of it), so that many clients do not retry in step.
    def backoff(n)
      d = [initial_backoff * (2**[n - 1, 30].min), max_backoff].min
      d / 2 + rand * d / 2
    end

    # Whether an error of this kind is worth another attempt.
    def retryable?(error)
      case error
      when Unavailable then true
      when Overloaded then retry_overloaded
      else false
      end
    end

    # Whether attempt number +attempt+ was the last one allowed.
    def exhausted?(attempt)
      max_attempts.positive? && attempt >= max_attempts
    end
  end
end
