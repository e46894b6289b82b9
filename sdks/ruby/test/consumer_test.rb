# frozen_string_literal: true

require_relative "test_helper"

class ConsumerTest < FilaTest::Case
  def test_lease_never_holds_more_than_its_credit
    c = new_client
    q = new_queue(c)
    enqueue_n(c, q, 60)
    consumer = c.lease(q, credit: 5, max_batch: 2)
    held = take(consumer, 5)
    wait_for("5 in flight") { stats(c, q).in_flight == 5 }
    # Holding 5 unacked messages, the consumer gets no sixth: watch the broker for a while.
    watch_until = monotonic + 0.3
    while monotonic < watch_until
      extra = consumer.next(timeout: 0.02)
      flunk "a sixth message arrived while 5 were unacked: #{extra.id}" if extra
      assert_operator stats(c, q).in_flight, :<=, 5
    end
    # Acking frees one slot each: the rest flows through, never more than 5 held at once.
    max_held = 0
    55.times do
      held.shift.ack
      held << take(consumer, 1).first
      max_held = [max_held, consumer.stats.held].max
      assert_operator stats(c, q).in_flight, :<=, 5
    end
    assert_operator max_held, :<=, 5
    # Raising the credit is sent to the broker on the open stream.
    enqueue_n(c, q, 10)
    consumer.credit = 12
    take(consumer, 7)
    wait_for("12 in flight") { stats(c, q).in_flight == 12 }
    assert_equal 12, consumer.stats.held
  end

  def test_consumer_counts_itself_and_close_waits_for_acks
    c = new_client
    q = new_queue(c)
    enqueue_n(c, q, 3)
    consumer = c.lease(q)
    msgs = take(consumer, 3)
    st = consumer.stats
    assert_equal [3, 3, 0], [st.delivered, st.held, st.reconnects]
    msgs.each(&:ack)
    assert consumer.close
    assert_equal 0, consumer.stats.held
    # close waited for the acks: they are on the broker.
    assert_equal 3, stats(c, q).totals.acked
    assert_predicate consumer, :stopped?
  end

  def test_a_missing_queue_stops_the_consumer_with_its_error
    c = new_client
    consumer = c.lease("no-such-queue-#{FilaTest.next_seq}")
    err = assert_raises(Fila::QueueNotFound) { consumer.each { flunk "a message?" } }
    assert_equal "Lease", err.op
    assert_same err, consumer.error
    assert_raises(Fila::QueueNotFound) { consumer.next }
    assert consumer.close
  end

  def test_a_closed_client_refuses_consumers_and_calls
    c = Fila::Client.new(shared.addr)
    c.close
    assert_predicate c, :closed?
    assert_raises(Fila::ClosedError) { c.list_queues }
    assert_raises(Fila::ClosedError) { c.lease("q").next }
  end
end
