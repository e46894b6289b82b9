# frozen_string_literal: true

require_relative "test_helper"
require "socket"

class ErrorsTest < FilaTest::Case
  def test_statuses_map_to_one_error_tree
    c = new_client
    q = new_queue(c)
    err = assert_raises(Fila::QueueNotFound) { c.enqueue("#{q}-missing", "x") }
    assert_kind_of Fila::NotFound, err
    assert_kind_of Fila::Error, err
    assert_equal ["Enqueue", GRPC::Core::StatusCodes::NOT_FOUND], [err.op, err.code]
    assert_match(/does not exist/, err.details)
    assert_match(/\AEnqueue: /, err.message)

    assert_raises(Fila::AlreadyExists) { c.create_queue(q) }
    bad = assert_raises(Fila::InvalidArgument) { c.create_queue("#{q}-lua", on_enqueue: "function on_enqueue(") }
    assert_equal "INVALID_ARGUMENT", bad.code_name
    empty = assert_raises(Fila::InvalidArgument) { c.ack(q, "") }
    assert_match(/message_id/, empty.details)
    missing = assert_raises(Fila::NotFound) { c.get_config("no.such.key.#{FilaTest.next_seq}") }
    refute_kind_of Fila::QueueNotFound, missing
    refute_kind_of Fila::MessageNotFound, missing
    assert_raises(Fila::QueueNotFound) { c.get_stats("#{q}-missing") }
    refute_predicate err, :transient?
  end

  def test_an_unreachable_broker_is_unavailable
    port = TCPServer.open("127.0.0.1", 0).then { |s| s.addr[1].tap { s.close } }
    c = new_client("127.0.0.1:#{port}", retry_policy: { max_attempts: 1 })
    err = assert_raises(Fila::Unavailable) { c.list_queues }
    assert_predicate err, :transient?
    # With retries, the call keeps trying until its deadline and reports the last failure.
    retrying = new_client("127.0.0.1:#{port}")
    t0 = monotonic
    assert_raises(Fila::Unavailable) { retrying.list_queues(timeout: 0.5) }
    assert_operator monotonic - t0, :<, 3
  end

  # Statuses a test broker does not give on demand: mapped the same way from fake ones.
  def test_overload_carries_the_brokers_retry_after
    err = Fila::Errors.from_status("EnqueueBatch", GRPC::ResourceExhausted.new("full", { "retry-after-ms" => "150" }))
    assert_kind_of Fila::Overloaded, err
    assert_in_delta 0.15, err.retry_after
    assert_predicate err, :transient?
    assert_equal "RESOURCE_EXHAUSTED", err.code_name
    assert_nil Fila::Errors.from_status("Enqueue", GRPC::ResourceExhausted.new("full")).retry_after

    {
      GRPC::Unavailable => Fila::Unavailable, GRPC::Unauthenticated => Fila::Unauthenticated,
      GRPC::PermissionDenied => Fila::PermissionDenied, GRPC::InvalidArgument => Fila::InvalidArgument,
      GRPC::FailedPrecondition => Fila::FailedPrecondition, GRPC::DeadlineExceeded => Fila::DeadlineExceeded,
      GRPC::Unimplemented => Fila::Unimplemented, GRPC::Internal => Fila::Error
    }.each do |status, cls|
      assert_instance_of cls, Fila::Errors.from_status("X", status.new("m"))
    end
  end

  def test_batch_items_and_not_found_kinds
    item = Fila::Errors.from_item("AckBatch", "NOT_FOUND", "message 'x' is not leased from queue 'q'")
    assert_instance_of Fila::MessageNotFound, item
    assert_equal({}, item.metadata)
    assert_instance_of Fila::QueueNotFound, Fila::Errors.from_item("AckBatch", "NOT_FOUND", "queue 'q' does not exist")
    assert_instance_of Fila::MessageNotFound, Fila::Errors.from_item("ExtendLease", "NOT_FOUND", "not leased")
    assert_instance_of Fila::NotFound, Fila::Errors.from_item("GetConfig", "NOT_FOUND", "config key 'k' is not set")
    assert_instance_of Fila::InvalidArgument, Fila::Errors.from_item("EnqueueBatch", "INVALID_ARGUMENT", "")
    assert_equal "EnqueueBatch: INVALID_ARGUMENT", Fila::Errors.from_item("EnqueueBatch", "INVALID_ARGUMENT", "").message
    assert_instance_of Fila::Error, Fila::Errors.from_item("X", "SOMETHING_NEW", "?")
  end

  def test_client_side_argument_errors
    assert_raises(Fila::InvalidArgument) { Fila::Client.new("") }
    assert_raises(Fila::InvalidArgument) { Fila::Client.new("127.0.0.1:1", ca_file: "/no/such/ca.pem") }
    assert_raises(Fila::InvalidArgument) { Fila::Client.new("127.0.0.1:1", cert: "junk", key: "junk") }
    assert_raises(Fila::InvalidArgument) { Fila::Client.new("127.0.0.1:1", ca_cert: "junk") }
  end
end
