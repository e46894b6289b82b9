# frozen_string_literal: true

module Fila
  # A connection to a Fila broker: the hot path (enqueue, lease, ack, ...) and the admin API.
  # Thread-safe: make one per broker and share it; close it when done (that sends the acks
  # still waiting in their batches and closes the connection).
  #
  #   client = Fila::Client.new("127.0.0.1:5555", api_key: ENV["FILA_API_KEY"], timeout: 10)
  #   client.enqueue("emails", "hello", headers: { "tenant" => "acme" })
  #   client.close
  #
  # The connection is made lazily and kept up by gRPC; a call made while the broker is
  # unreachable is retried with backoff within its deadline (RetryPolicy). When a broker of a
  # cluster answers that another node leads the queue (the +x-fila-leader-addr+ trailer), the
  # client dials that node and sends the call there.
  class Client
    include HotPath
    include Admin

    # The deadline of a call that names none, seconds.
    DEFAULT_TIMEOUT = 30.0
    # The largest gRPC message sent or accepted (as the broker).
    MAX_MESSAGE_BYTES = 64 << 20
    # The most leader redirects one call follows.
    MAX_REDIRECTS = 5

    Connection = Struct.new(:addr, :channel, :service, :admin)
    private_constant :Connection

    # @return [Numeric, nil] the default deadline of a call, seconds (nil: none)
    attr_reader :timeout
    # @return [RetryPolicy]
    attr_reader :retry_policy

    # @param addr [String] "host:port" of the broker (default $FILA_ADDR or 127.0.0.1:5555)
    # @param api_key [String, nil] sent as +authorization: Bearer <key>+ on every call
    # @param tls [Boolean] TLS, verifying the broker against the system's roots
    # @param ca_cert [String, nil] PEM of a private CA to trust instead (implies TLS)
    # @param ca_file [String, nil] the same, from a file
    # @param cert [String, nil] PEM client certificate, for mutual TLS (with +key+)
    # @param key [String, nil] PEM private key of +cert+
    # @param cert_file [String, nil], key_file [String, nil] the same, from files
    # @param tls_server_name [String, nil] the name to verify the broker's certificate against
    # @param timeout [Numeric, nil] the deadline of every call that names none (each call
    #   takes +timeout:+ of its own), seconds; nil: no deadline
    # @param retry_policy [RetryPolicy, Hash] how unavailable calls are retried
    # @param ack_linger [Numeric] how long acks and nacks gather while a batch is in flight
    # @param ack_max_batch [Integer] the most acks (or nacks) per AckBatch (NackBatch)
    # @param channel_args [Hash] extra gRPC channel arguments (keepalive, ...)
    # @raise [Fila::InvalidArgument] for a bad address or certificate
    def initialize(addr = ENV.fetch("FILA_ADDR", "127.0.0.1:5555"), api_key: nil, tls: false,
                   ca_cert: nil, ca_file: nil, cert: nil, key: nil, cert_file: nil, key_file: nil,
                   tls_server_name: nil, timeout: DEFAULT_TIMEOUT, retry_policy: RetryPolicy.new,
                   ack_linger: 0.001, ack_max_batch: 1000, channel_args: {})
      raise InvalidArgument, "empty broker address" if addr.to_s.empty?
      @timeout = timeout&.to_f&.positive? ? timeout.to_f : nil
      @retry_policy = retry_policy.is_a?(Hash) ? RetryPolicy.new(**retry_policy) : retry_policy
      @credentials = TLS.credentials(tls: tls, ca_cert: ca_cert, ca_file: ca_file, cert: cert,
                                     key: key, cert_file: cert_file, key_file: key_file)
      @channel_args = default_channel_args(tls_server_name).merge(channel_args)
      # Frozen: handed to every call as is, never copied.
      @metadata = (api_key.to_s.empty? ? {} : { "authorization" => "Bearer #{api_key}" }).freeze
      @mutex = Mutex.new
      @conns = {}
      @closed = false
      @batch_rpcs = true # false once the broker answered UNIMPLEMENTED to one (legacy.rb)
      @current = dial(addr.to_s)
      @acks = Batcher.new(linger: ack_linger, max_items: ack_max_batch) { |q, items| send_acks(q, items) }
      @nacks = Batcher.new(linger: ack_linger, max_items: ack_max_batch) { |q, items| send_nacks(q, items) }
    end

    # A client for the block, closed when it returns.
    #   Fila::Client.open("127.0.0.1:5555") { |c| c.enqueue("q", "x") }
    def self.open(*args, **kwargs)
      client = new(*args, **kwargs)
      return client unless block_given?
      begin
        yield client
      ensure
        client.close
      end
    end

    # @return [String] where calls go now: the address given, or the leader redirected to
    def addr
      current.addr
    end

    # @return [Boolean]
    def closed?
      @closed
    end

    # Opens the credit-controlled lease stream on +queue+: the consumer holds at most +credit+
    # messages it has not acked or nacked, and the broker never leases it more.
    #
    # Without a block, returns the Consumer (Enumerable: +each+, +next(timeout:)+, +first(n)+).
    # With a block, calls it for each message until the block breaks, the consumer is stopped
    # (+msg.consumer.stop+) or the stream fails for good (then it raises why): a block that
    # returns (or breaks) acks the message, one that raises nacks it with the error's message
    # (unless the block acked or nacked it itself). +threads:+ runs that many blocks at once.
    #
    # @param credit [Integer] most unacked messages held (1..10,000, default 100)
    # @param max_batch [Integer, nil] most messages per delivery (broker default 100)
    # @param extend_every [Numeric, nil] how often held messages' leases are extended, seconds
    #   (default a third of the queue's visibility timeout if the client may read it, else 10)
    # @param lease_extension [Numeric, nil] how long each extension lasts (default the
    #   queue's visibility timeout)
    # @param max_extension [Numeric] stop extending a message held this long (default 3600;
    #   0 turns automatic extension off)
    # @return [Consumer, nil]
    def lease(queue, credit: Consumer::DEFAULT_CREDIT, max_batch: nil, extend_every: nil,
              lease_extension: nil, max_extension: Consumer::DEFAULT_MAX_EXTENSION, threads: 1,
              &handler)
      consumer = Consumer.new(self, queue, credit: credit, max_batch: max_batch,
                                           extend_every: extend_every, lease_extension: lease_extension,
                                           max_extension: max_extension)
      run_consumer(consumer, threads, &handler)
    end

    # Opens the classic Consume stream on +queue+ (the original broker's): no credit, the
    # broker pushes up to its own limit of unacked messages. Prefer #lease. Same forms.
    def consume(queue, extend_every: nil, lease_extension: nil,
                max_extension: Consumer::DEFAULT_MAX_EXTENSION, threads: 1, &handler)
      consumer = Consumer.new(self, queue, credit: Consumer::MAX_CREDIT, extend_every: extend_every,
                                           lease_extension: lease_extension, max_extension: max_extension,
                                           classic: true)
      run_consumer(consumer, threads, &handler)
    end

    # A Producer that batches enqueues for many threads (see Producer#initialize for the
    # settings). With a block, yields it and closes it after.
    # @return [Producer]
    def producer(**settings)
      producer = Producer.new(self, **settings)
      return producer unless block_given?
      begin
        yield producer
      ensure
        producer.close
      end
    end

    # Sends the acks and nacks still waiting, waits for their answers (at most the client's
    # timeout) and closes the connections. Close consumers and producers first.
    def close
      return if @closed
      @acks.close(@timeout)
      @nacks.close(@timeout)
      conns = @mutex.synchronize do
        @closed = true
        @conns.values
      end
      conns.each { |c| c.channel.close }
      nil
    end

    # The generated FilaService stub on the current connection: an escape hatch for what the
    # SDK does not wrap (no retries, no error mapping; pass +metadata:+ yourself).
    # @return [Fila::V1::FilaService::Stub]
    def service_stub
      current.service
    end

    # The generated FilaAdmin stub on the current connection (see #service_stub).
    # @return [Fila::V1::FilaAdmin::Stub]
    def admin_stub
      current.admin
    end

    def inspect
      "#<Fila::Client #{addr}#{@closed ? ' (closed)' : ''}>"
    end

    # @api private the call metadata (the API key)
    attr_reader :metadata

    # @api private the connection calls go to now
    def current
      @mutex.synchronize { @current }
    end

    # @api private makes +addr+ (a leader named by a broker reached through +from+) where
    # calls go; a no-op if another call already moved on from +from+.
    def follow(from, addr)
      @mutex.synchronize do
        raise ClosedError, "the client is closed" if @closed
        @current = dial(addr) if @current.equal?(from) && from.addr != addr
      end
    end

    # @api private runs one call with the client's deadline, metadata, retries and leader
    # redirects, and turns its failure into a Fila::Error. Yields the connection and the
    # call's keyword options (deadline:, metadata:).
    def invoke(op, timeout = nil)
      raise ClosedError.new("the client is closed", op: op) if @closed
      deadline = deadline_for(timeout)
      attempt = 0
      redirects = 0
      loop do
        conn = current
        begin
          return yield(conn, { deadline: deadline, metadata: @metadata })
        rescue GRPC::BadStatus => e
          leader = e.code == GRPC::Core::StatusCodes::UNAVAILABLE && Errors.leader_addr(e.metadata)
          if leader && redirects < MAX_REDIRECTS
            redirects += 1
            follow(conn, leader)
            next
          end
          err = Errors.from_status(op, e)
          attempt += 1
          raise err if !@retry_policy.retryable?(err) || @retry_policy.exhausted?(attempt) || @closed
          wait = [@retry_policy.backoff(attempt), err.retry_after.to_f].max
          raise err if deadline && Time.now + wait >= deadline # report why the last attempt failed
          sleep wait
        rescue GRPC::Core::CallError, RuntimeError => e
          # A call on a channel that close closed meanwhile raises RuntimeError("closed!").
          raise ClosedError.new("the client is closed", op: op) if @closed
          raise unless e.is_a?(GRPC::Core::CallError)
          raise Unavailable.new(e.message, op: op)
        end
      end
    end

    private

    def deadline_for(timeout)
      t = timeout.nil? ? @timeout : timeout.to_f
      t&.positive? ? Time.now + t : nil
    end

    def default_channel_args(server_name)
      args = {
        "grpc.max_receive_message_length" => MAX_MESSAGE_BYTES,
        "grpc.max_send_message_length" => MAX_MESSAGE_BYTES,
        # Reconnect soon after a broker comes back (gRPC's own backoff grows to 2 minutes).
        "grpc.initial_reconnect_backoff_ms" => 100,
        "grpc.max_reconnect_backoff_ms" => (@retry_policy.max_backoff * 1000).round,
        "grpc.min_reconnect_backoff_ms" => 5000 # also the connect timeout
      }
      args["grpc.ssl_target_name_override"] = server_name if server_name
      args
    end

    # Makes (or reuses) the connection to +addr+; @mutex held or not yet shared.
    def dial(addr)
      @conns[addr] ||= begin
        channel = GRPC::Core::Channel.new(addr, @channel_args, @credentials)
        Connection.new(addr, channel,
                       V1::FilaService::Stub.new(addr, @credentials, channel_override: channel),
                       V1::FilaAdmin::Stub.new(addr, @credentials, channel_override: channel))
      end
    rescue TypeError, ArgumentError, RuntimeError => e
      raise InvalidArgument, "connecting to #{addr}: #{e.message}"
    end

    def run_consumer(consumer, threads, &handler)
      return consumer unless handler
      begin
        consumer.receive(threads: threads, &handler)
      ensure
        consumer.close
      end
      nil
    end
  end
end
