# frozen_string_literal: true

module Fila
  # Produce and acknowledge: the FilaService calls of a Client (consuming is Consumer's).
  module HotPath
    # Sends one message and returns its id once the broker has it on disk.
    # @param payload [String] opaque bytes
    # @param headers [Hash] read by the queue's on_enqueue hook (e.g. the tenant)
    # @return [String] the message id
    def enqueue(queue, payload = "", headers: {}, timeout: nil)
      req = V1::EnqueueRequest.new(queue: queue.to_s, payload: payload.to_s, headers: Fila.string_map(headers))
      invoke("Enqueue", timeout) { |c, o| c.service.enqueue(req, **o) }.message_id
    end

    # Sends many messages (at most 10,000) in one EnqueueBatch call and returns a result per
    # message, in order: one refused message does not fail the others. Raises for the call as
    # a whole. For batching done for you, across threads, use a Producer.
    # @param messages [Array<OutgoingMessage, Hash>] each with :queue, :payload, :headers
    # @return [Array<EnqueueResult>]
    def enqueue_batch(messages, timeout: nil)
      reqs = messages.map { |m| OutgoingMessage.from(m).to_proto }
      send_enqueue_batch(reqs, timeout).map { |id, err| EnqueueResult.new(id, err) }
    end

    # Acknowledges (deletes) a leased message and returns once the ack is on disk. With the
    # +lease_id+ it was delivered with, the broker refuses (FailedPrecondition) an ack whose
    # lease expired and whose message went to another consumer since. Acks made at about the
    # same time travel together in one AckBatch call.
    # @raise [Fila::MessageNotFound] if the message is not leased
    def ack(queue, message_id, lease_id: "", timeout: nil)
      submit_ack(queue.to_s, message_id.to_s, lease_id.to_s, Future.new).value(timeout || @timeout)
    end

    # Reports that processing a leased message failed, with why: the queue's on_failure
    # hook, or its retry policy, decides what next. Batched like acks.
    def nack(queue, message_id, reason = "", lease_id: "", timeout: nil)
      submit_nack(queue.to_s, message_id.to_s, lease_id.to_s, reason.to_s, Future.new).value(timeout || @timeout)
    end

    # Makes the leases of messages end +seconds+ from now (nil: the queue's visibility
    # timeout from now), for work longer than the visibility timeout. Consumers extend the
    # leases of the messages they hold by themselves.
    # @param leases [Array<Message, String, Array(String, String)>] messages, ids, or
    #   [id, lease_id] pairs
    # @return [Array<Fila::Error, nil>] per lease, nil where it was extended
    def extend_lease(queue, leases, seconds: nil, timeout: nil)
      refs = leases.map do |l|
        case l
        when Message then [l.id, l.lease_id]
        when Array then [l[0].to_s, l[1].to_s]
        else [l.to_s, ""]
        end
      end
      check_batch_size("ExtendLease", refs.size)
      req = V1::ExtendLeaseRequest.new(queue: queue.to_s, message_ids: refs.map(&:first),
                                       extend_ms: Units.ms(seconds))
      req.lease_ids.replace(refs.map(&:last)) if refs.any? { |_, lid| !lid.empty? }
      resp = invoke("ExtendLease", timeout) { |c, o| c.service.extend_lease(req, **o) }
      item_outcomes("ExtendLease", refs.size, resp.results).map(&:last)
    end

    private

    def check_batch_size(op, n)
      return if n <= Batcher::MAX_ITEMS
      raise InvalidArgument.new("#{n} items; at most #{Batcher::MAX_ITEMS} per call", op: op)
    end

    # [[id, error], ...] for EnqueueRequests, one per request.
    def send_enqueue_batch(reqs, timeout = nil)
      check_batch_size("EnqueueBatch", reqs.size)
      return legacy_each(reqs) { |r| legacy_enqueue(r, timeout) } unless @batch_rpcs
      req = V1::EnqueueBatchRequest.new(messages: reqs)
      resp = begin
        invoke("EnqueueBatch", timeout) { |c, o| c.service.enqueue_batch(req, **o) }
      rescue Unimplemented
        @batch_rpcs = false
        return legacy_each(reqs) { |r| legacy_enqueue(r, timeout) }
      end
      results = resp.results
      Array.new(reqs.size) do |i|
        r = results[i]
        if r.nil? then [nil, Error.new("no result for this message", op: "EnqueueBatch")]
        elsif r.error then [nil, Errors.from_item("EnqueueBatch", r.error.code, r.error.message)]
        else [r.message_id, nil]
        end
      end
    end

    def submit_ack(queue, id, lease_id, future)
      @acks.submit(queue, [id, lease_id], id.bytesize + lease_id.bytesize + 8, future: future)
    end

    def submit_nack(queue, id, lease_id, reason, future)
      item = V1::NackItem.new(message_id: id, lease_id: lease_id, error: reason)
      @nacks.submit(queue, item, id.bytesize + lease_id.bytesize + reason.bytesize + 12, future: future)
    end

    def send_acks(queue, items)
      return legacy_each(items) { |id, lid| legacy_ack(queue, id, lid) } unless @batch_rpcs
      req = V1::AckBatchRequest.new(queue: queue, message_ids: items.map(&:first))
      req.lease_ids.replace(items.map(&:last)) if items.any? { |_, lid| !lid.empty? }
      resp = begin
        invoke("AckBatch") { |c, o| c.service.ack_batch(req, **o) }
      rescue Unimplemented
        @batch_rpcs = false
        return legacy_each(items) { |id, lid| legacy_ack(queue, id, lid) }
      end
      item_outcomes("AckBatch", items.size, resp.results)
    end

    def send_nacks(queue, items)
      return legacy_each(items) { |it| legacy_nack(queue, it) } unless @batch_rpcs
      req = V1::NackBatchRequest.new(queue: queue, items: items)
      resp = begin
        invoke("NackBatch") { |c, o| c.service.nack_batch(req, **o) }
      rescue Unimplemented
        @batch_rpcs = false
        return legacy_each(items) { |it| legacy_nack(queue, it) }
      end
      item_outcomes("NackBatch", items.size, resp.results)
    end

    def item_outcomes(op, n, results)
      Array.new(n) do |i|
        r = results[i]
        if r.nil? then [nil, Error.new("no result for this item", op: op)]
        elsif r.error then [nil, Errors.from_item(op, r.error.code, r.error.message)]
        else [nil, nil]
        end
      end
    end

    # The batch RPCs are Fila's additions to the original broker's contract. Against a
    # broker without them (UNIMPLEMENTED) a batch becomes single-message RPCs, a few at once.
    LEGACY_CONCURRENCY = 8

    def legacy_each(items)
      outs = Array.new(items.size)
      next_index = 0
      lock = Mutex.new
      workers = Array.new([LEGACY_CONCURRENCY, items.size].min) do
        Thread.new do
          loop do
            i = lock.synchronize { next_index.tap { next_index += 1 } }
            break if i >= items.size
            outs[i] = begin
              [yield(items[i]), nil]
            rescue Fila::Error => e
              [nil, e]
            end
          end
        end
      end
      workers.each(&:join)
      outs
    end

    def legacy_enqueue(req, timeout)
      invoke("Enqueue", timeout) { |c, o| c.service.enqueue(req, **o) }.message_id
    end

    def legacy_ack(queue, id, lease_id)
      req = V1::AckRequest.new(queue: queue, message_id: id, lease_id: lease_id)
      invoke("Ack") { |c, o| c.service.ack(req, **o) }
      nil
    end

    def legacy_nack(queue, item)
      req = V1::NackRequest.new(queue: queue, message_id: item.message_id, lease_id: item.lease_id,
                                error: item.error)
      invoke("Nack") { |c, o| c.service.nack(req, **o) }
      nil
    end
  end
end
