# frozen_string_literal: true

# The SDK's tests run against real `fila serve` processes (test/support/test_broker.rb): a
# shared one for most tests (each on queues of its own) and brokers of their own for tests
# that need one configured otherwise (TLS, API keys, restarts). A broker that cannot start
# fails every test that needs it; nothing is skipped.

$LOAD_PATH.unshift(File.expand_path("../lib", __dir__))
# gRPC core logs failed TLS handshakes (which the security tests cause on purpose) to stderr.
ENV["GRPC_VERBOSITY"] ||= "NONE"
require "minitest/autorun"
require "fila"
require_relative "support/test_broker"

module FilaTest
  @mutex = Mutex.new
  @shared = nil
  @shared_error = nil
  @seq = 0

  class << self
    # The broker most tests use, started on first use (a failure to start is raised again
    # for every test that asks, so each of them fails).
    def shared_broker
      @mutex.synchronize do
        raise @shared_error if @shared_error
        @shared ||= Fila::TestBroker.start
      rescue Fila::TestBroker::StartError => e
        @shared_error = e
        raise
      end
    end

    def stop_shared
      @mutex.synchronize { @shared&.cleanup }
    end

    def next_seq
      @mutex.synchronize { @seq += 1 }
    end
  end

  Minitest.after_run { FilaTest.stop_shared }

  # The base of every test class: clients, queues, brokers of its own, polling helpers.
  class Case < Minitest::Test
    # Tests run on a few threads at once: most of their time is spent waiting on brokers.
    parallelize_me!

    def setup
      @to_close = []
    end

    def teardown
      @to_close.reverse_each do |c|
        c.respond_to?(:cleanup) ? c.cleanup : c.close
      rescue StandardError => e
        warn "teardown: #{e.class}: #{e.message}"
      end
    end

    def shared
      FilaTest.shared_broker
    end

    # A client of +addr+ (the shared broker if nil), closed when the test ends.
    def new_client(addr = nil, **opts)
      client = Fila::Client.new(addr || shared.addr, timeout: 20, **opts)
      @to_close << client
      client
    end

    # A broker of this test's own, killed and removed when it ends.
    def start_broker(**opts)
      broker = Fila::TestBroker.new(**opts)
      @to_close << broker
      broker.start
    end

    # Creates a queue named after the test and returns its name.
    def new_queue(client, **config)
      name = "#{self.class.name}-#{self.name}".downcase.gsub(/[^a-z0-9_-]+/, "-")[0, 80]
      name = "#{name}-#{FilaTest.next_seq}"
      client.create_queue(name, **config)
      name
    end

    # Polls the block until it is truthy; fails the test after +timeout+ seconds.
    def wait_for(what, timeout: 10)
      deadline = monotonic + timeout
      until (result = yield)
        flunk "timed out after #{timeout}s waiting for #{what}" if monotonic > deadline
        sleep 0.01
      end
      result
    end

    # Takes +n+ messages from a consumer, failing the test if they do not come in time.
    def take(consumer, n, timeout: 10)
      deadline = monotonic + timeout
      Array.new(n) do |i|
        left = deadline - monotonic
        msg = left.positive? ? consumer.next(timeout: left) : nil
        flunk "got #{i} of #{n} messages in #{timeout}s" unless msg
        msg
      rescue StopIteration
        flunk "the consumer stopped after #{i} of #{n} messages: #{consumer.error.inspect}"
      end
    end

    def enqueue_n(client, queue, n, headers: {})
      results = client.enqueue_batch(Array.new(n) { |i| { queue: queue, payload: "m#{i}", headers: headers } })
      results.each_with_index { |r, i| flunk "message #{i} refused: #{r.error.message}" unless r.ok? }
      results.map(&:id)
    end

    def stats(client, queue)
      client.get_stats(queue)
    end

    def monotonic
      Process.clock_gettime(Process::CLOCK_MONOTONIC)
    end
  end
end
