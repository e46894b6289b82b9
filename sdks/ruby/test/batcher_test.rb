# frozen_string_literal: true

require_relative "test_helper"

# The batcher and futures alone, with a fake send (no broker).
class BatcherTest < FilaTest::Case
  # A send that records its batches and answers when +gate+ opens.
  class Recorder
    attr_reader :batches

    def initialize
      @batches = Queue.new
      @gate = Queue.new
    end

    def call(key, items)
      @batches << [key, items]
      @gate.pop
      items.map { |i| i == :bad ? [nil, Fila::InvalidArgument.new("bad item")] : ["id-#{i}", nil] }
    end

    def open(n = 1)
      n.times { @gate << true }
    end
  end

  def batcher(rec, **limits)
    b = Fila::Batcher.new(linger: 0.01, max_items: 100, max_in_flight: 1, **limits) { |k, i| rec.call(k, i) }
    @to_close << Struct.new(:b, :rec) { def close = (rec.open(100) && b.close(5)) }.new(b, rec)
    b
  end

  def test_an_idle_batcher_sends_at_once_and_a_busy_one_gathers
    rec = Recorder.new
    b = batcher(rec)
    first = b.submit("q", 0, 1)
    assert_equal ["q", [0]], rec.batches.pop, "idle: the first item goes alone, at once"
    rest = (1..5).map { |i| b.submit("q", i, 1) }
    rec.open
    assert_equal "id-0", first.value(5)
    assert_equal ["q", [1, 2, 3, 4, 5]], rec.batches.pop, "what gathered while busy goes together"
    rec.open
    assert_equal (1..5).map { |i| "id-#{i}" }, rest.map { |f| f.value(5) }
    assert_equal 2, b.rpcs
    assert_equal 6, b.items_sent
  end

  def test_batches_are_split_by_count_and_keys_are_apart
    rec = Recorder.new
    b = batcher(rec, max_items: 3, max_in_flight: 2)
    b.submit("a", 0, 1)
    b.submit("b", 0, 1)
    assert_equal %w[a b], [rec.batches.pop, rec.batches.pop].map(&:first).sort, "one key does not wait for another"
    futures = (1..7).map { |i| b.submit("a", i, 1) }
    assert_equal [1, 2, 3], rec.batches.pop.last, "a full batch goes while another is in flight"
    rec.open(20)
    assert_equal "id-7", futures.last.value(5)
    assert b.flush(5)
    sizes = []
    sizes << rec.batches.pop.last.size until rec.batches.empty?
    assert sizes.all? { |n| n <= 3 }, "batches of at most 3: #{sizes}"
  end

  def test_items_fail_alone_or_together
    rec = Recorder.new
    b = batcher(rec)
    rec.open(10)
    bad = b.submit("q", :bad, 1)
    assert_kind_of Fila::InvalidArgument, bad.error(5)
    failing = Fila::Batcher.new(linger: 0, max_items: 10) { raise Fila::Unavailable, "down" }
    assert_kind_of Fila::Unavailable, failing.submit("q", 1, 1).error(5)
    failing.close(1)
    assert_kind_of Fila::ClosedError, failing.submit("q", 2, 1).error(1)
  end

  def test_a_lingering_batch_goes_after_the_linger
    rec = Recorder.new
    b = batcher(rec, max_in_flight: 2)
    b.submit("q", 0, 1) # in flight, unanswered
    rec.batches.pop
    t0 = monotonic
    later = b.submit("q", 1, 1) # a second RPC is allowed: it goes after the linger
    assert_equal ["q", [1]], rec.batches.pop
    assert_operator monotonic - t0, :>=, 0.009
    rec.open(2)
    assert_equal "id-1", later.value(5)
  end

  def test_future
    f = Fila::Future.new
    refute f.wait(0.01)
    assert_raises(Fila::DeadlineExceeded) { f.value(0.01) }
    seen = []
    f.on_resolve { |x| seen << x.value }
    Thread.new { f.resolve(42) }.join
    assert_equal [42, 42, true], [f.value, seen.first, f.succeeded?]
    f.resolve(43) # the first outcome stays
    assert_equal 42, f.value
    failed = Fila::Future.resolved(nil, Fila::Unavailable.new("x"))
    assert_raises(Fila::Unavailable) { failed.value }
    refute_predicate failed, :succeeded?
  end
end
