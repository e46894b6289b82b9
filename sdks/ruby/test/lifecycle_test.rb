# frozen_string_literal: true

require_relative "test_helper"

class LifecycleTest < FilaTest::Case
  HOOK = <<~LUA
    function on_enqueue(msg)
      return { fairness_key = msg.headers.tenant, weight = 3, throttle_keys = { "t:" .. msg.headers.tenant } }
    end
  LUA

  def test_enqueue_lease_ack
    c = new_client
    q = new_queue(c, on_enqueue: HOOK)
    before = Time.now - 1
    id = c.enqueue(q, "hello", headers: { tenant: "acme" })
    refute_empty id
    consumer = c.lease(q, credit: 1)
    m = take(consumer, 1).first
    assert_equal [id, "hello", { "tenant" => "acme" }, q], [m.id, m.payload, m.headers, m.queue]
    assert_equal ["acme", 3, ["t:acme"]], [m.fairness_key, m.weight, m.throttle_keys]
    assert_equal [0, ""], [m.attempt_count, m.last_error]
    refute_empty m.lease_id
    assert_operator m.enqueued_at, :>, before
    assert_operator m.leased_at, :>=, m.enqueued_at - 1
    assert_same consumer, m.consumer

    result = m.ack
    assert_nil result.value(10)
    s = stats(c, q)
    assert_equal [0, 0, 1], [s.depth, s.in_flight, s.totals.acked]
    # A second ack of the same message is a no-op on the client: the first one counts.
    assert_same result, m.ack
    assert_same result, m.nack("too late")
    assert consumer.close
  end

  def test_nack_redelivers_with_attempt_count
    c = new_client
    q = new_queue(c, retry_backoff_base: 0.01)
    id = c.enqueue(q, "job")
    consumer = c.lease(q)
    first = take(consumer, 1).first
    assert_nil first.nack("disk full").value(10)
    again = take(consumer, 1).first
    assert_equal [id, 1, "disk full"], [again.id, again.attempt_count, again.last_error]
    refute_equal first.lease_id, again.lease_id, "a redelivery has a new lease id"
    # The first delivery's lease is gone: acking with it is refused.
    assert_raises(Fila::FailedPrecondition) { c.ack(q, first.id, lease_id: first.lease_id) }
    again.ack
    assert consumer.close
    assert_equal 1, stats(c, q).totals.acked
  end

  def test_ack_of_an_unknown_id_is_message_not_found
    c = new_client
    q = new_queue(c)
    err = assert_raises(Fila::MessageNotFound) { c.ack(q, "no-such-message") }
    assert_kind_of Fila::NotFound, err
    refute_kind_of Fila::QueueNotFound, err
    assert_equal ["AckBatch", "NOT_FOUND", GRPC::Core::StatusCodes::NOT_FOUND], [err.op, err.code_name, err.code]
    assert_raises(Fila::MessageNotFound) { c.nack(q, "no-such-message", "x") }
    errors = c.extend_lease(q, ["no-such-message"], seconds: 1)
    assert_equal 1, errors.size
    assert_kind_of Fila::MessageNotFound, errors.first
    # Acking in a queue that does not exist is the queue's error.
    assert_raises(Fila::QueueNotFound) { c.ack("#{q}-missing", "no-such-message") }
  end

  def test_block_form_acks_on_return_and_nacks_on_raise
    c = new_client
    q = new_queue(c, retry_backoff_base: 0.01)
    ids = enqueue_n(c, q, 10)
    handled = Queue.new
    runner = Thread.new do
      c.lease(q, credit: 4, threads: 3) do |m|
        handled << [m.id, m.attempt_count]
        raise "transient failure of #{m.id}" if m.id == ids[3] && m.attempt_count.zero?
        m.consumer.stop if handled.size == 11
      end
    end
    wait_for("10 acks") { stats(c, q).totals.acked == 10 }
    assert_nil runner.value
    s = stats(c, q)
    assert_equal [1, 0], [s.totals.nacked, s.depth]
    seen = Array.new(handled.size) { handled.pop }
    assert_equal 11, seen.size
    assert_includes seen, [ids[3], 1]
  end

  def test_block_form_break_acks_and_closes
    c = new_client
    q = new_queue(c)
    enqueue_n(c, q, 3)
    got = []
    c.lease(q, credit: 10) do |m|
      got << m
      break if got.size == 2
    end
    assert_equal 2, got.size
    assert got.all?(&:settled?)
    assert_predicate got.first.consumer, :stopped?
    wait_for("2 acks") { stats(c, q).totals.acked == 2 }

    # break works from handler threads too: the message is acked and the consumer stops.
    # (Another queue: the third message above stays leased to the closed consumer until its
    # visibility timeout passes.)
    q2 = new_queue(c)
    enqueue_n(c, q2, 3)
    seen = Queue.new
    c.lease(q2, threads: 2) do |m|
      seen << m
      break
    end
    first = seen.pop
    assert_predicate first, :settled?
    assert_nil first.ack.value(10)
  end

  def test_block_form_raises_the_error_that_stops_it
    c = new_client
    assert_raises(Fila::QueueNotFound) { c.lease("no-such-queue-#{FilaTest.next_seq}") { flunk "a message?" } }
  end

  def test_enumerator_forms
    c = new_client
    q = new_queue(c)
    ids = enqueue_n(c, q, 4)
    consumer = c.lease(q, credit: 10)
    assert_equal ids.first(2), consumer.first(2).map { |m| m.ack && m.id }
    enum = consumer.each
    assert_equal ids[2], enum.next.tap(&:ack).id
    assert_equal ids[3], consumer.next(timeout: 10).tap(&:ack).id
    assert_nil consumer.next(timeout: 0.05), "nothing left: next times out"
    assert consumer.close
    assert_raises(StopIteration) { consumer.next }
    assert_nil consumer.error
    assert_equal [], consumer.to_a, "each ends at once on a closed consumer"
  end

  def test_leases_of_held_messages_are_extended
    c = new_client
    q = new_queue(c, visibility_timeout: 0.6)
    enqueue_n(c, q, 1)
    calls = 0
    c.lease(q) do |m|
      calls += 1
      # The work: well past the visibility timeout. Without extension the lease would
      # expire and the message be delivered again.
      sleep 1.5
      m.ack
      break
    end
    s = stats(c, q)
    assert_equal [1, 0, 1, 1], [calls, s.totals.expired, s.totals.leased, s.totals.acked]
  end

  def test_classic_consume_stream
    c = new_client
    q = new_queue(c)
    ids = enqueue_n(c, q, 5)
    consumer = c.consume(q)
    got = take(consumer, 5)
    assert_equal ids, got.map(&:id)
    got.each(&:ack)
    assert consumer.close
    assert_nil consumer.error
    wait_for("5 acks") { stats(c, q).totals.acked == 5 }
  end
end
