# frozen_string_literal: true

module Fila
  class Consumer
    # The requests of one Lease stream (the first names the queue and the credit, later ones
    # change the credit), read by gRPC's writer thread of the call.
    class RequestQueue
      # How often a waiting writer looks whether its call already ended (gRPC joins the
      # writer when the broker ends a stream cleanly, so it must not wait forever).
      POLL = 1.0

      attr_writer :call

      def initialize
        @mutex = Mutex.new
        @cond = ConditionVariable.new
        @items = []
        @closed = false
        @call = nil
      end

      def push(req)
        @mutex.synchronize do
          return if @closed
          @items << req
          @cond.signal
        end
      end

      # Ends the requests: the writer sends end-of-stream and stops.
      def close
        @mutex.synchronize do
          @closed = true
          @cond.broadcast
        end
      end

      def each_request
        Enumerator.new do |y|
          while (req = pop)
            y << req
          end
        end
      end

      private

      def pop
        @mutex.synchronize do
          loop do
            return @items.shift unless @items.empty?
            return nil if @closed || @call&.status
            @cond.wait(@mutex, POLL)
          end
        end
      end
    end
    private_constant :RequestQueue

    private

    # Runs one stream until it breaks: whether it delivered anything, whether the broker
    # redirected the consumer to another node, and the error that ended it.
    # @return [Array(Boolean, Boolean, Fila::Error)]
    def session
      opened = open_stream
      return [false, false, nil] unless opened
      credit, generation = opened
      conn = @client.current
      op = @classic ? "Consume" : "Lease"
      requests = RequestQueue.new
      got = false
      call = nil
      begin
        call = start_call(conn, requests, credit)
        requests.call = call
        unless attach(call, requests)
          call.cancel
          return [false, false, nil]
        end
        call.execute.each do |resp|
          pbs = @classic ? [resp.message].compact : resp.messages.to_a
          next if pbs.empty?
          got = true
          deliver(pbs, generation)
        end
        [got, false, nil] # the broker ended the stream cleanly: open another
      rescue GRPC::BadStatus => e
        [got, follow_leader(conn, e), Errors.from_status(op, e)]
      rescue GRPC::Core::CallError, RuntimeError => e
        raise unless e.is_a?(GRPC::Core::CallError) || @client.closed? # "closed!": the channel
        [got, false, Unavailable.new(e.message, op: op)]
      ensure
        requests.close
        detach(call) if call
      end
    end

    def start_call(conn, requests, credit)
      md = @client.metadata
      if @classic
        conn.service.consume(V1::ConsumeRequest.new(queue: @queue), metadata: md, return_op: true)
      else
        requests.push(V1::LeaseRequest.new(queue: @queue, credit: credit, max_batch: @max_batch))
        conn.service.lease(requests.each_request, metadata: md, return_op: true)
      end
    end

    # A broker of a cluster that does not lead the queue names the leader: go there.
    def follow_leader(conn, status)
      return false unless status.code == GRPC::Core::StatusCodes::UNAVAILABLE
      addr = Errors.leader_addr(status.metadata)
      return false unless addr
      @client.follow(conn, addr)
      true
    rescue ClosedError
      false
    end
  end
end
