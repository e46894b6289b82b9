# frozen_string_literal: true

require_relative "test_helper"

class AdminTest < FilaTest::Case
  def test_queue_life
    c = new_client
    hook = "function on_enqueue(msg) return { fairness_key = msg.headers.tenant } end"
    q = new_queue(c, on_enqueue: hook, visibility_timeout: 45, max_attempts: 3)
    desc = c.get_queue(q)
    assert_equal [q, hook, 45.0, 3, ""], [desc.name, desc.config.on_enqueue, desc.config.visibility_timeout,
                                          desc.config.max_attempts, desc.dlq_of]
    assert_equal q, c.get_queue(Fila.dlq_name(q)).dlq_of

    c.update_queue(q, **desc.config.to_h, visibility_timeout: 10)
    assert_equal [10.0, 3, hook], c.get_queue(q).config.to_h.values_at(:visibility_timeout, :max_attempts, :on_enqueue)
    assert_raises(Fila::InvalidArgument) { c.update_queue(q, on_enqueue: "not lua (") }
    assert_equal hook, c.get_queue(q).config.on_enqueue, "a bad script changes nothing"

    names = c.list_queues.map(&:name)
    assert_includes names, q
    assert_includes names, "#{q}.dlq"
    c.delete_queue(q)
    refute_includes c.list_queues.map(&:name), q
    assert_raises(Fila::QueueNotFound) { c.get_queue(q) }
  end

  def test_config_and_throttles
    c = new_client
    prefix = "ruby.test.#{FilaTest.next_seq}."
    c.set_config("#{prefix}a", "1")
    c.set_config("#{prefix}b", "two")
    assert_equal "two", c.get_config("#{prefix}b")
    assert_equal({ "#{prefix}a" => "1", "#{prefix}b" => "two" }, c.list_config(prefix))
    c.set_config("#{prefix}a", "")
    assert_raises(Fila::NotFound) { c.get_config("#{prefix}a") }

    key = "provider:ruby-#{FilaTest.next_seq}"
    c.set_throttle(key, 100, 20)
    assert_equal "100,20", c.get_config("throttle.#{key}")
    c.set_throttle(key, 2.5)
    assert_equal "2.5,2.5", c.get_config("throttle.#{key}")
    c.clear_throttle(key)
    assert_raises(Fila::NotFound) { c.get_config("throttle.#{key}") }
  end

  def test_stats_peek_explain
    c = new_client
    hook = <<~LUA
      function on_enqueue(msg)
        return { fairness_key = msg.headers.tenant, throttle_keys = { "t:" .. msg.headers.tenant } }
      end
    LUA
    q = new_queue(c, on_enqueue: hook)
    c.set_throttle("t:acme", 1000, 1000)
    enqueue_n(c, q, 3, headers: { "tenant" => "acme" })
    s = stats(c, q)
    assert_equal [3, 0, 1, 3], [s.depth, s.in_flight, s.active_fairness_keys, s.totals.enqueued]
    assert_equal [["acme", 3]], s.keys.map { |k| [k.key, k.pending] }
    assert_equal "t:acme", s.throttles.first&.key
    assert_includes s.hooks.map(&:hook), "on_enqueue"

    peeked = c.peek(q, 2)
    assert_equal ["m0", "m1"], peeked.map(&:payload)
    assert_equal ["acme"], peeked.map(&:fairness_key).uniq
    assert_equal 0, stats(c, q).in_flight, "peek does not lease"

    why = c.explain(q, "acme")
    refute_empty why.summary
    assert_equal 3, why.pending
  end

  def test_dead_letters_and_redrive
    c = new_client
    q = new_queue(c, max_attempts: 1)
    enqueue_n(c, q, 2)
    consumer = c.lease(q)
    take(consumer, 2).each { |m| m.nack("broken") }
    assert consumer.close
    dlq = Fila.dlq_name(q)
    wait_for("2 dead letters") { stats(c, dlq).depth == 2 }
    dead = c.peek(dlq)
    assert_equal ["broken", "broken"], dead.map(&:last_error)
    assert_equal 1, c.redrive(dlq, 1)
    assert_equal 1, c.redrive(dlq)
    wait_for("both back") { stats(c, q).depth == 2 }
  end
end
