# frozen_string_literal: true

module Fila
  # Every queue +q+ has a dead-letter queue +q.dlq+.
  DLQ_SUFFIX = ".dlq"

  # @return [String] the name of +queue+'s dead-letter queue
  def self.dlq_name(queue)
    "#{queue}#{DLQ_SUFFIX}"
  end

  # Durations are seconds (Float) in Ruby and milliseconds on the wire.
  module Units
    module_function

    def ms(seconds)
      seconds.nil? || seconds.to_f <= 0 ? 0 : (seconds.to_f * 1000).round
    end

    def seconds(ms)
      ms.to_i / 1000.0
    end

    def time(ts)
      return nil if ts.nil? || (ts.seconds.zero? && ts.nanos.zero?)
      Time.at(ts.seconds, ts.nanos, :nsec)
    end

    def time_ms(ms)
      ms.to_i.zero? ? nil : Time.at(ms.to_i / 1000, (ms.to_i % 1000) * 1000, :usec)
    end
  end

  # A message to enqueue: its queue, headers (read by the queue's on_enqueue hook, e.g. the
  # tenant) and opaque payload. EnqueueBatch also takes plain hashes with these keys.
  OutgoingMessage = Struct.new(:queue, :payload, :headers, keyword_init: true) do
    def self.from(msg)
      return msg if msg.is_a?(OutgoingMessage)
      h = msg.to_h
      new(queue: h[:queue] || h["queue"], payload: h[:payload] || h["payload"],
          headers: h[:headers] || h["headers"])
    end

    # @api private
    def to_proto
      V1::EnqueueRequest.new(queue: queue.to_s, payload: payload.to_s, headers: Fila.string_map(headers))
    end

    # About how many bytes the message takes in a batch.
    def bytesize
      n = queue.to_s.bytesize + payload.to_s.bytesize + 8
      headers&.each { |k, v| n += k.to_s.bytesize + v.to_s.bytesize + 6 }
      n
    end
  end

  # @api private headers as protobuf wants them: string keys and values
  def self.string_map(headers)
    return {} if headers.nil? || headers.empty?
    headers.each_with_object({}) { |(k, v), h| h[k.to_s] = v.to_s }
  end

  # The outcome of one message of Client#enqueue_batch: its id, or why it was refused.
  EnqueueResult = Struct.new(:id, :error) do
    def ok? = error.nil?
  end

  # A queue's settings (create_queue and update_queue take the same keywords). Durations are
  # seconds; nil or 0 means the broker's default.
  #
  # @!attribute on_enqueue   Lua source defining on_enqueue(msg) (fairness key, weight, throttle keys)
  # @!attribute on_failure   Lua source defining on_failure(msg) (retry with a delay, or dead-letter)
  # @!attribute visibility_timeout  how long a lease lasts (default 30)
  # @!attribute max_attempts failures before the default policy dead-letters a message (10)
  # @!attribute retry_backoff_base, retry_backoff_max  the default retry delay:
  #   min(base * 2**(attempts - 1), max), defaults 0.1 and 60
  # @!attribute lua_instruction_budget, lua_memory_bytes, lua_time_limit  hook limits
  QueueConfig = Struct.new(:on_enqueue, :on_failure, :visibility_timeout, :max_attempts,
                           :retry_backoff_base, :retry_backoff_max, :lua_instruction_budget,
                           :lua_memory_bytes, :lua_time_limit, keyword_init: true) do
    # @api private
    def to_proto
      V1::QueueConfig.new(
        on_enqueue_script: on_enqueue.to_s, on_failure_script: on_failure.to_s,
        visibility_timeout_ms: Units.ms(visibility_timeout), max_attempts: max_attempts.to_i,
        retry_backoff_base_ms: Units.ms(retry_backoff_base),
        retry_backoff_max_ms: Units.ms(retry_backoff_max),
        lua_instruction_budget: lua_instruction_budget.to_i, lua_memory_bytes: lua_memory_bytes.to_i,
        lua_time_limit_ms: Units.ms(lua_time_limit)
      )
    end

    # @api private
    def self.from_proto(c)
      new(on_enqueue: c.on_enqueue_script, on_failure: c.on_failure_script,
          visibility_timeout: Units.seconds(c.visibility_timeout_ms), max_attempts: c.max_attempts,
          retry_backoff_base: Units.seconds(c.retry_backoff_base_ms),
          retry_backoff_max: Units.seconds(c.retry_backoff_max_ms),
          lua_instruction_budget: c.lua_instruction_budget, lua_memory_bytes: c.lua_memory_bytes,
          lua_time_limit: Units.seconds(c.lua_time_limit_ms))
    end
  end

  # A queue's settings as get_queue returns them (defaults filled in); +dlq_of+ is, for a
  # dead-letter queue, the queue whose failures it holds.
  QueueDescription = Struct.new(:name, :config, :dlq_of, keyword_init: true)

  # One queue of list_queues.
  QueueInfo = Struct.new(:name, :depth, :in_flight, :active_consumers, keyword_init: true)

  # One fairness key of a queue in get_stats: pending messages, DRR deficit and weight, and
  # its share of the deliveries (what it can get, what it got, what limits it).
  KeyStats = Struct.new(:key, :pending, :deficit, :weight, :delivered, :delivery_rate, :fair_share,
                        :actual_share, :fair_rate, :limited_by, keyword_init: true)

  # One token bucket in get_stats.
  ThrottleStats = Struct.new(:key, :tokens, :rate_per_second, :burst, :passed, :hits, :waiting,
                             keyword_init: true)

  # One Lua hook of a queue in get_stats: calls, errors, latency, circuit breaker.
  HookStats = Struct.new(:hook, :configured, :calls, :errors, :p50_us, :p99_us, :breaker_state,
                         :breaker_openings, keyword_init: true)

  # Totals since the broker started.
  Totals = Struct.new(:enqueued, :leased, :acked, :nacked, :expired, :dead_lettered, :redriven,
                      keyword_init: true)

  # A queue's state (get_stats).
  QueueStats = Struct.new(:depth, :in_flight, :ready, :delayed, :dlq_depth, :active_fairness_keys,
                          :active_consumers, :quantum, :drr_rounds, :delivery_rate, :enqueue_rate,
                          :keys, :throttles, :hooks, :totals, keyword_init: true) do
    # @api private
    def self.from_proto(r)
      new(depth: r.depth, in_flight: r.in_flight, ready: r.ready, delayed: r.delayed,
          dlq_depth: r.dlq_depth, active_fairness_keys: r.active_fairness_keys,
          active_consumers: r.active_consumers, quantum: r.quantum, drr_rounds: r.drr_rounds,
          delivery_rate: r.delivery_rate, enqueue_rate: r.enqueue_rate,
          keys: r.per_key_stats.map do |k|
            KeyStats.new(key: k.key, pending: k.pending_count, deficit: k.current_deficit,
                         weight: k.weight, delivered: k.delivered, delivery_rate: k.delivery_rate,
                         fair_share: k.fair_share, actual_share: k.actual_share,
                         fair_rate: k.fair_rate, limited_by: k.limited_by)
          end,
          throttles: r.per_throttle_stats.map do |t|
            ThrottleStats.new(key: t.key, tokens: t.tokens, rate_per_second: t.rate_per_second,
                              burst: t.burst, passed: t.passed, hits: t.hits, waiting: t.waiting)
          end,
          hooks: r.hooks.map do |h|
            HookStats.new(hook: h.hook, configured: h.configured, calls: h.calls, errors: h.errors,
                          p50_us: h.p50_us, p99_us: h.p99_us, breaker_state: h.breaker_state,
                          breaker_openings: h.breaker_openings)
          end,
          totals: Totals.new(enqueued: r.enqueued_total, leased: r.leased_total,
                             acked: r.acked_total, nacked: r.nacked_total,
                             expired: r.expired_total, dead_lettered: r.dead_lettered_total,
                             redriven: r.redriven_total))
    end
  end

  # Why a fairness key waits (explain), in plain words from live state.
  Explanation = Struct.new(:summary, :reasons, :pending, :in_flight, :delayed, :weight,
                           :active_keys, :consumers, keyword_init: true)

  # An API key as list_api_keys describes it (never its secret).
  ApiKey = Struct.new(:id, :name, :created_at, :expires_at, :superadmin, keyword_init: true)

  # The key and its secret, as create_api_key returns them (the secret is shown only once).
  NewApiKey = Struct.new(:id, :key, :superadmin, keyword_init: true)

  # One permission of an API key: +kind+ is "produce", "consume" or "admin"; +pattern+ is
  # "*", a queue name, or a prefix pattern such as "orders.*".
  Permission = Struct.new(:kind, :pattern) do
    def self.from(p)
      p.is_a?(Permission) ? p : new(*(p.is_a?(Hash) ? p.values_at(:kind, :pattern) : p))
    end
  end

  # An API key's permissions (get_acl).
  Acl = Struct.new(:key_id, :permissions, :superadmin, keyword_init: true)
end
