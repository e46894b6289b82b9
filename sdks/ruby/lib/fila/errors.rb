# frozen_string_literal: true

module Fila
  # The root of every error the SDK raises for a failed call: the RPC (+op+), the gRPC status
  # (+code+, +code_name+), the broker's message, and for overload the broker's hint of when to
  # retry (+retry_after+, seconds). Rescue a subclass to handle one kind:
  #
  #   begin
  #     client.enqueue("emails", payload)
  #   rescue Fila::QueueNotFound
  #     client.create_queue("emails")
  #   rescue Fila::Overloaded => e
  #     sleep e.retry_after || 0.1
  #   end
  #
  # One item of a batch (an EnqueueResult, an ack's Future) fails with the same classes.
  class Error < StandardError
    # The gRPC status code name each class stands for (nil: not a status, e.g. ClosedError).
    CODE_NAME = nil

    # @return [String, nil] the RPC that failed, e.g. "Enqueue" or "AckBatch"
    attr_reader :op
    # @return [Integer] the gRPC status code (GRPC::Core::StatusCodes)
    attr_reader :code
    # @return [String] the broker's description, naming the field or thing at fault
    attr_reader :details
    # @return [Float, nil] seconds the broker asks the client to wait (Overloaded only)
    attr_reader :retry_after
    # @return [Hash] the trailing metadata of the failed call ({} for one item of a batch)
    attr_reader :metadata

    def initialize(details = nil, op: nil, code: nil, retry_after: nil, metadata: {})
      @op = op
      @code = code || Errors::CODES.fetch(self.class::CODE_NAME || "UNKNOWN")
      @details = details.to_s
      @retry_after = retry_after
      @metadata = metadata
      text = @details.empty? ? code_name : @details
      super(op ? "#{op}: #{text}" : text)
    end

    # @return [String] the status code's name, e.g. "NOT_FOUND"
    def code_name
      Errors::NAMES.fetch(@code, "UNKNOWN")
    end

    # Whether the same call may succeed later (overload, an unreachable broker).
    def transient?
      false
    end
  end

  # Something named in the call does not exist (a queue, a leased message, a config key, an
  # API key). QueueNotFound and MessageNotFound are its two common cases.
  class NotFound < Error; CODE_NAME = "NOT_FOUND"; end

  # The queue does not exist.
  class QueueNotFound < NotFound; end

  # The message is not leased: unknown id, already acked, or its lease expired.
  class MessageNotFound < NotFound; end

  # Bad input; the message names the field. Also raised before a call for arguments the SDK
  # can tell are wrong (a junk certificate, more than 10,000 items in one batch).
  class InvalidArgument < Error; CODE_NAME = "INVALID_ARGUMENT"; end

  # A queue created twice.
  class AlreadyExists < Error; CODE_NAME = "ALREADY_EXISTS"; end

  # Well formed but not allowed now, e.g. an ack with a stale lease id, updating a DLQ.
  class FailedPrecondition < Error; CODE_NAME = "FAILED_PRECONDITION"; end

  # The broker refused the call to protect itself (RESOURCE_EXHAUSTED): retry after
  # #retry_after seconds (its +retry-after-ms+ trailer).
  class Overloaded < Error
    CODE_NAME = "RESOURCE_EXHAUSTED"
    def transient? = true
  end

  # The broker cannot be reached, is restarting, or cannot write (UNAVAILABLE).
  class Unavailable < Error
    CODE_NAME = "UNAVAILABLE"
    def transient? = true
  end

  # No API key, or an unknown, revoked or expired one.
  class Unauthenticated < Error; CODE_NAME = "UNAUTHENTICATED"; end

  # The API key's ACL does not allow the call.
  class PermissionDenied < Error; CODE_NAME = "PERMISSION_DENIED"; end

  # The call's deadline passed (the client's timeout, or a per-call +timeout:+), or a wait
  # for a Future timed out.
  class DeadlineExceeded < Error; CODE_NAME = "DEADLINE_EXCEEDED"; end

  # The call was cancelled.
  class Cancelled < Error; CODE_NAME = "CANCELLED"; end

  # The broker does not know the RPC (an older broker, see "Against the original broker").
  class Unimplemented < Error; CODE_NAME = "UNIMPLEMENTED"; end

  # The Client, Producer or Consumer was closed.
  class ClosedError < Error; end

  # Turning gRPC failures into Fila errors, in one place.
  module Errors
    CODES = {
      "OK" => 0, "CANCELLED" => 1, "UNKNOWN" => 2, "INVALID_ARGUMENT" => 3,
      "DEADLINE_EXCEEDED" => 4, "NOT_FOUND" => 5, "ALREADY_EXISTS" => 6,
      "PERMISSION_DENIED" => 7, "RESOURCE_EXHAUSTED" => 8, "FAILED_PRECONDITION" => 9,
      "ABORTED" => 10, "OUT_OF_RANGE" => 11, "UNIMPLEMENTED" => 12, "INTERNAL" => 13,
      "UNAVAILABLE" => 14, "DATA_LOSS" => 15, "UNAUTHENTICATED" => 16
    }.freeze
    NAMES = CODES.invert.freeze

    CLASSES = {
      "CANCELLED" => Cancelled, "INVALID_ARGUMENT" => InvalidArgument,
      "OUT_OF_RANGE" => InvalidArgument, "DEADLINE_EXCEEDED" => DeadlineExceeded,
      "NOT_FOUND" => NotFound, "ALREADY_EXISTS" => AlreadyExists,
      "PERMISSION_DENIED" => PermissionDenied, "RESOURCE_EXHAUSTED" => Overloaded,
      "FAILED_PRECONDITION" => FailedPrecondition, "UNIMPLEMENTED" => Unimplemented,
      "UNAVAILABLE" => Unavailable, "UNAUTHENTICATED" => Unauthenticated
    }.freeze

    # The trailer a broker of a cluster sends with UNAVAILABLE when another node leads the
    # queue: that node's address. The client follows it by itself.
    LEADER_ADDR_KEY = "x-fila-leader-addr"
    RETRY_AFTER_KEY = "retry-after-ms"

    # The RPCs whose NOT_FOUND is about a message unless the broker says it is the queue.
    MESSAGE_OPS = %w[Ack Nack AckBatch NackBatch ExtendLease].freeze

    module_function

    # The error of a call that failed with a gRPC status.
    # @param op [String] the RPC
    # @param status [GRPC::BadStatus]
    def from_status(op, status)
      md = status.metadata.is_a?(Hash) ? status.metadata : {}
      build(op, NAMES.fetch(status.code, "UNKNOWN"), status.details, md)
    end

    # The error of one failed item of a batch RPC (+code+ is a status code name).
    def from_item(op, code, message)
      build(op, code, message.to_s.empty? ? code : message, {})
    end

    def build(op, name, details, metadata)
      cls = CLASSES.fetch(name, Error)
      cls = not_found_kind(op, details) if cls == NotFound
      retry_after = cls == Overloaded ? retry_after(metadata) : nil
      cls.new(details, op: op, code: CODES.fetch(name, 2), retry_after: retry_after, metadata: metadata)
    end

    # NOT_FOUND is told apart by what the broker says it did not find, and by the call (an
    # ack's NOT_FOUND item is a message).
    def not_found_kind(op, details)
      text = details.to_s.downcase
      return QueueNotFound if text.start_with?("queue")
      return MessageNotFound if text.start_with?("message")
      if MESSAGE_OPS.include?(op)
        return text.include?("queue") && !text.include?("message") ? QueueNotFound : MessageNotFound
      end
      text.include?("queue") ? QueueNotFound : NotFound
    end

    def retry_after(metadata)
      value = Array(metadata[RETRY_AFTER_KEY]).first
      ms = Float(value.to_s.strip, exception: false)
      ms && ms >= 0 ? ms / 1000.0 : nil
    end

    def leader_addr(metadata)
      return nil unless metadata.is_a?(Hash)
      value = Array(metadata[LEADER_ADDR_KEY]).first
      value.nil? || value.empty? ? nil : value
    end
  end
end
