# frozen_string_literal: true

require_relative "test_helper"

class LegacyTest < FilaTest::Case
  # Stands in for the original broker: its FilaService has only Enqueue, Consume, Ack and
  # Nack (every other call is UNIMPLEMENTED), each passed on to the real broker.
  class OriginalBroker
    include GRPC::GenericService
    self.marshal_class_method = :encode
    self.unmarshal_class_method = :decode
    self.service_name = "fila.v1.FilaService"
    rpc :Enqueue, Fila::V1::EnqueueRequest, Fila::V1::EnqueueResponse
    rpc :Consume, Fila::V1::ConsumeRequest, stream(Fila::V1::ConsumeResponse)
    rpc :Ack, Fila::V1::AckRequest, Fila::V1::AckResponse
    rpc :Nack, Fila::V1::NackRequest, Fila::V1::NackResponse

    attr_reader :addr, :calls

    def initialize(upstream)
      @up = Fila::V1::FilaService::Stub.new(upstream, :this_channel_is_insecure)
      @calls = Hash.new(0)
      @streams = []
      @mutex = Mutex.new
      @server = GRPC::RpcServer.new(pool_size: 8)
      @addr = "127.0.0.1:#{@server.add_http2_port('127.0.0.1:0', :this_port_is_insecure)}"
      @server.handle(self)
      @thread = Thread.new { @server.run }
      @server.wait_till_running(10)
    end

    def count(name)
      @mutex.synchronize { @calls[name] += 1 }
    end

    def enqueue(req, _call)
      count(:enqueue)
      @up.enqueue(req)
    end

    def ack(req, _call)
      count(:ack)
      @up.ack(req)
    end

    def nack(req, _call)
      count(:nack)
      @up.nack(req)
    end

    def consume(req, _call)
      count(:consume)
      op = @up.consume(req, return_op: true)
      @mutex.synchronize { @streams << op }
      op.execute
    end

    def cleanup
      @mutex.synchronize { @streams.each(&:cancel) }
      @server.stop
      @thread.join(5)
    end
  end

  def test_without_the_batch_rpcs_the_single_ones_are_used
    admin = new_client
    q = new_queue(admin, retry_backoff_base: 0.01)
    old = OriginalBroker.new(shared.addr)
    @to_close << old
    c = new_client(old.addr)

    results = c.enqueue_batch(Array.new(3) { |i| { queue: q, payload: "m#{i}" } })
    assert_equal [true] * 3, results.map(&:ok?)
    producer = c.producer
    refute_empty producer.enqueue(q, "m3")
    assert producer.close
    assert_equal 4, old.calls[:enqueue]

    consumer = c.lease(q, credit: 10) # the Lease stream is refused: Consume instead
    msgs = take(consumer, 4)
    assert_equal %w[m0 m1 m2 m3], msgs.map(&:payload).sort
    msgs.first(3).each { |m| assert_nil m.ack.value(10) }
    assert_nil msgs.last.nack("once more").value(10)
    again = take(consumer, 1).first
    assert_equal [msgs.last.id, 1], [again.id, again.attempt_count]
    again.ack
    assert consumer.close
    assert_equal [1, 4, 1], old.calls.values_at(:consume, :ack, :nack)
    assert_equal 4, stats(admin, q).totals.acked
  end
end
