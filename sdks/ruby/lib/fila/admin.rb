# frozen_string_literal: true

module Fila
  # The FilaAdmin calls of a Client: queues, runtime config, throttles, stats, dead letters,
  # API keys and ACLs. Every method takes +timeout:+ (seconds) to override the client's.
  module Admin
    # Creates a queue, and its dead-letter queue +name.dlq+. Keywords are QueueConfig's
    # (+on_enqueue:+, +on_failure:+, +visibility_timeout:+, ...); omitted ones take the
    # broker's defaults.
    # @raise [Fila::AlreadyExists] if it exists; [Fila::InvalidArgument] for a bad script
    # @return [String] the queue's id
    def create_queue(name, timeout: nil, **config)
      req = V1::CreateQueueRequest.new(name: name.to_s, config: QueueConfig.new(**config).to_proto)
      admin_call("CreateQueue", timeout) { |a, o| a.create_queue(req, **o) }.queue_id
    end

    # Replaces a queue's scripts and settings as a whole (an omitted keyword goes back to its
    # default: start from get_queue(name).config.to_h to change one). A bad script changes
    # nothing.
    def update_queue(name, timeout: nil, **config)
      req = V1::UpdateQueueRequest.new(name: name.to_s, config: QueueConfig.new(**config).to_proto)
      admin_call("UpdateQueue", timeout) { |a, o| a.update_queue(req, **o) }
      nil
    end

    # @return [QueueDescription] a queue's settings, defaults filled in
    def get_queue(name, timeout: nil)
      r = admin_call("GetQueue", timeout) { |a, o| a.get_queue(V1::GetQueueRequest.new(name: name.to_s), **o) }
      QueueDescription.new(name: r.name, config: QueueConfig.from_proto(r.config), dlq_of: r.dlq_of)
    end

    # Deletes a queue, its dead-letter queue and every message in them.
    def delete_queue(name, timeout: nil)
      admin_call("DeleteQueue", timeout) { |a, o| a.delete_queue(V1::DeleteQueueRequest.new(queue: name.to_s), **o) }
      nil
    end

    # @return [Array<QueueInfo>] every queue the client may see
    def list_queues(timeout: nil)
      r = admin_call("ListQueues", timeout) { |a, o| a.list_queues(V1::ListQueuesRequest.new, **o) }
      r.queues.map do |q|
        QueueInfo.new(name: q.name, depth: q.depth, in_flight: q.in_flight, active_consumers: q.active_consumers)
      end
    end

    # Sets a runtime config key (read by Lua hooks with +fila.get+); "" deletes it.
    def set_config(key, value, timeout: nil)
      req = V1::SetConfigRequest.new(key: key.to_s, value: value.to_s)
      admin_call("SetConfig", timeout) { |a, o| a.set_config(req, **o) }
      nil
    end

    # @return [String] a runtime config value
    # @raise [Fila::NotFound] if the key is not set
    def get_config(key, timeout: nil)
      admin_call("GetConfig", timeout) { |a, o| a.get_config(V1::GetConfigRequest.new(key: key.to_s), **o) }.value
    end

    # @return [Hash{String=>String}] every runtime config key starting with +prefix+
    def list_config(prefix = "", timeout: nil)
      r = admin_call("ListConfig", timeout) { |a, o| a.list_config(V1::ListConfigRequest.new(prefix: prefix.to_s), **o) }
      r.entries.to_h { |e| [e.key, e.value] }
    end

    # Gives throttle key +key+ a token bucket: +rate+ tokens a second, at most +burst+ (nil:
    # max(1, rate)). It is the runtime config entry +throttle.<key>+ = "<rate>,<burst>";
    # every queue whose messages name the key shares it.
    def set_throttle(key, rate, burst = nil, timeout: nil)
      burst = [1, rate].max if burst.nil? || burst.to_f <= 0
      set_config("throttle.#{key}", "#{number(rate)},#{number(burst)}", timeout: timeout)
    end

    # Removes the token bucket of throttle key +key+: its messages are no longer limited.
    def clear_throttle(key, timeout: nil)
      set_config("throttle.#{key}", "", timeout: timeout)
    end

    # @return [QueueStats] depth, in flight, consumers, per-key shares, throttles, hooks, totals
    def get_stats(queue, timeout: nil)
      r = admin_call("GetStats", timeout) { |a, o| a.get_stats(V1::GetStatsRequest.new(queue: queue.to_s), **o) }
      QueueStats.from_proto(r)
    end
    alias stats get_stats

    # Moves up to +count+ (0: all) ready messages of a dead-letter queue back to its queue,
    # oldest first.
    # @return [Integer] how many moved
    def redrive(dlq, count = 0, timeout: nil)
      req = V1::RedriveRequest.new(dlq_queue: dlq.to_s, count: count.to_i)
      admin_call("Redrive", timeout) { |a, o| a.redrive(req, **o) }.redriven
    end

    # @return [Array<Message>] up to +limit+ (0: 100) messages of a queue, oldest first,
    #   without leasing them
    def peek(queue, limit = 0, timeout: nil)
      req = V1::PeekMessagesRequest.new(queue: queue.to_s, limit: [limit.to_i, 0].max)
      r = admin_call("PeekMessages", timeout) { |a, o| a.peek_messages(req, **o) }
      r.messages.map { |m| Message.new(m, self, queue: queue) }
    end

    # @return [Explanation] why a fairness key of a queue waits, in plain words
    def explain(queue, fairness_key, timeout: nil)
      req = V1::ExplainRequest.new(queue: queue.to_s, fairness_key: fairness_key.to_s)
      r = admin_call("Explain", timeout) { |a, o| a.explain(req, **o) }
      Explanation.new(summary: r.summary, reasons: r.reasons.to_a, pending: r.pending,
                      in_flight: r.in_flight, delayed: r.delayed, weight: r.weight,
                      active_keys: r.active_keys, consumers: r.consumers)
    end

    # Creates an API key (superadmins only). A new key may do nothing until set_acl gives it
    # permissions. The secret (+key+) is shown only this once.
    # @param expires_at [Time, nil]
    # @return [NewApiKey]
    def create_api_key(name, superadmin: false, expires_at: nil, timeout: nil)
      req = V1::CreateApiKeyRequest.new(name: name.to_s, is_superadmin: superadmin ? true : false,
                                        expires_at_ms: expires_at ? (expires_at.to_f * 1000).round : 0)
      r = admin_call("CreateApiKey", timeout) { |a, o| a.create_api_key(req, **o) }
      NewApiKey.new(id: r.key_id, key: r.key, superadmin: r.is_superadmin)
    end

    # Deletes an API key: its next call fails, and its open streams end.
    def revoke_api_key(id, timeout: nil)
      admin_call("RevokeApiKey", timeout) { |a, o| a.revoke_api_key(V1::RevokeApiKeyRequest.new(key_id: id.to_s), **o) }
      nil
    end

    # @return [Array<ApiKey>] every API key (never their secrets)
    def list_api_keys(timeout: nil)
      r = admin_call("ListApiKeys", timeout) { |a, o| a.list_api_keys(V1::ListApiKeysRequest.new, **o) }
      r.keys.map do |k|
        ApiKey.new(id: k.key_id, name: k.name, created_at: Units.time_ms(k.created_at_ms),
                   expires_at: Units.time_ms(k.expires_at_ms), superadmin: k.is_superadmin)
      end
    end

    # Replaces the permissions of an API key.
    # @param permissions [Array<Permission, Hash, Array(String, String)>] e.g.
    #   [{ kind: "consume", pattern: "orders.*" }]
    def set_acl(id, permissions, timeout: nil)
      perms = permissions.map do |p|
        p = Permission.from(p)
        V1::AclPermission.new(kind: p.kind.to_s, pattern: p.pattern.to_s)
      end
      req = V1::SetAclRequest.new(key_id: id.to_s, permissions: perms)
      admin_call("SetAcl", timeout) { |a, o| a.set_acl(req, **o) }
      nil
    end

    # @return [Acl] an API key's permissions and whether it is a superadmin
    def get_acl(id, timeout: nil)
      r = admin_call("GetAcl", timeout) { |a, o| a.get_acl(V1::GetAclRequest.new(key_id: id.to_s), **o) }
      Acl.new(key_id: r.key_id, permissions: r.permissions.map { |p| Permission.new(p.kind, p.pattern) },
              superadmin: r.is_superadmin)
    end

    private

    def admin_call(op, timeout, &block)
      invoke(op, timeout) { |conn, opts| block.call(conn.admin, opts) }
    end

    def number(x)
      x.is_a?(Float) && x == x.floor ? x.to_i.to_s : x.to_s
    end
  end
end
