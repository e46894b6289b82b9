# frozen_string_literal: true

require_relative "test_helper"

class ResilienceTest < FilaTest::Case
  def test_consumer_and_producer_survive_a_broker_restart
    b = start_broker
    c = new_client(b.addr, timeout: 30)
    q = new_queue(c)
    consumer = c.lease(q, credit: 10)
    before = enqueue_n(c, q, 6)
    got = take(consumer, 6)
    got.first(5).each { |m| assert_nil m.ack.value(10) }
    unacked = got.last # leased when the broker dies: ready again after the restart

    b.kill
    # A message published while the broker is down waits (retrying) until it is back.
    producer = c.producer
    during = producer.publish(q, "sent while down")
    b.restart
    during_id = during.value(30)
    after = enqueue_n(c, q, 3)

    want = [unacked.id, during_id, *after]
    take(consumer, want.size, timeout: 30).each do |m|
      assert_includes want, m.id, "unexpected delivery (acked before the restart: #{before.first(5)})"
      assert_equal 0, m.attempt_count, "a restart counted as a failure" if m.id == unacked.id
      want.delete(m.id)
      m.ack
    end
    assert_empty want
    unacked.ack # its old lease died with the broker: refused, and harmless
    assert_operator consumer.stats.reconnects, :>=, 1, "the stream was re-opened"
    assert producer.close
    assert consumer.close
    wait_for("the queue to drain") { stats(c, q).then { |s| s.depth.zero? && s.in_flight.zero? } }
  end

  # Stands in for a node of a cluster that does not lead the queue: it answers every call
  # with UNAVAILABLE and the leader's address in the x-fila-leader-addr trailer, as the
  # original broker's followers do. The leader is the real broker.
  class Follower
    attr_reader :addr

    def initialize(leader)
      @hits = 0
      @mutex = Mutex.new
      follower = self
      services = [Fila::V1::FilaService::Service, Fila::V1::FilaAdmin::Service].map do |base|
        Class.new(base) do
          base.rpc_descs.each_key do |name|
            define_method(GRPC::GenericService.underscore(name.to_s)) do |_request, _call| # (a bidi handler must take exactly two)
              follower.hit
              raise GRPC::Unavailable.new("not the leader of this queue",
                                          { Fila::Errors::LEADER_ADDR_KEY => leader })
            end
          end
        end
      end
      @server = GRPC::RpcServer.new(pool_size: 4)
      port = @server.add_http2_port("127.0.0.1:0", :this_port_is_insecure)
      @addr = "127.0.0.1:#{port}"
      services.each { |s| @server.handle(s) }
      @thread = Thread.new { @server.run }
      @server.wait_till_running(10)
    end

    def hit
      @mutex.synchronize { @hits += 1 }
    end

    def hits
      @mutex.synchronize { @hits }
    end

    def cleanup
      @server.stop
      @thread.join(5)
    end
  end

  def test_calls_and_streams_follow_the_leader_redirect
    follower = Follower.new(shared.addr)
    @to_close << follower
    c = new_client(follower.addr)
    q = new_queue(c) # CreateQueue is redirected to the leader
    assert_equal [shared.addr, 1], [c.addr, follower.hits]
    id = c.enqueue(q, "via the leader")
    assert_equal 1, follower.hits

    # A consumer whose stream is the first call of its client follows the redirect too.
    # (extend_every set: the consumer does not look up the queue's visibility timeout.)
    c2 = new_client(follower.addr)
    consumer = c2.lease(q, extend_every: 10)
    m = take(consumer, 1).first
    assert_equal [id, 2, shared.addr], [m.id, follower.hits, c2.addr]
    assert_nil m.ack.value(10)
    assert consumer.close
  end
end
