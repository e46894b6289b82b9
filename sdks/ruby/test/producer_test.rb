# frozen_string_literal: true

require_relative "test_helper"

class ProducerTest < FilaTest::Case
  THREADS = 64
  PER_THREAD = 40

  def test_batching_producer_under_64_threads
    c = new_client
    q = new_queue(c)
    producer = c.producer(linger: 0.005, max_messages: 200)
    start = Queue.new
    threads = Array.new(THREADS) do |t|
      Thread.new do
        start.pop # all at once
        Array.new(PER_THREAD) do |i|
          payload = "t#{t}-m#{i}"
          [payload, producer.enqueue(q, payload, headers: { "thread" => t.to_s })]
        end
      end
    end
    THREADS.times { start << true }
    sent = threads.flat_map(&:value).to_h
    n = THREADS * PER_THREAD
    assert_equal n, sent.size
    assert_equal n, sent.values.uniq.size, "every caller got an id of its own"
    st = producer.stats
    assert_equal n, st.messages
    assert_operator st.batches, :<, n / 4, "the producer batched (#{st.batches} RPCs for #{n} messages)"
    assert producer.close

    # Each caller's id is its own message's.
    by_id = {}
    consumer = c.lease(q, credit: 1000)
    n.times do
      m = take(consumer, 1).first
      by_id[m.id] = m.payload
      m.ack
    end
    sent.each { |payload, id| assert_equal payload, by_id.fetch(id) }
    assert consumer.close
  end

  def test_a_refused_message_fails_its_caller_only
    c = new_client
    q = new_queue(c)
    c.producer do |producer|
      good = Array.new(5) { |i| producer.publish(q, "ok#{i}") }
      bad = producer.publish("#{q}-missing", "lost")
      more = producer.publish(q, "ok5")
      assert_kind_of Fila::QueueNotFound, bad.error(10)
      assert_raises(Fila::QueueNotFound) { bad.value }
      (good + [more]).each { |f| refute_empty f.value(10) }
      assert_predicate more, :succeeded?
    end
    assert_equal 6, stats(c, q).depth
  end

  def test_a_lone_message_does_not_wait_for_the_linger
    c = new_client
    q = new_queue(c)
    producer = c.producer(linger: 5)
    t0 = monotonic
    refute_empty producer.enqueue(q, "alone")
    assert_operator monotonic - t0, :<, 2.5, "an idle producer sends at once"
    assert producer.close
    closed = producer.publish(q, "after close")
    assert_kind_of Fila::ClosedError, closed.error(1)
  end

  def test_enqueue_batch_has_a_result_per_message
    c = new_client
    q = new_queue(c)
    results = c.enqueue_batch([
      Fila::OutgoingMessage.new(queue: q, payload: "a", headers: { "k" => "v" }),
      { queue: "#{q}-missing", payload: "b" },
      { queue: q, payload: "c" }
    ])
    assert_equal [true, false, true], results.map(&:ok?)
    assert_kind_of Fila::QueueNotFound, results[1].error
    assert_equal "EnqueueBatch", results[1].error.op
    assert_equal 2, stats(c, q).depth
    assert_raises(Fila::InvalidArgument) { c.enqueue_batch(Array.new(10_001) { { queue: q } }) }
  end
end
