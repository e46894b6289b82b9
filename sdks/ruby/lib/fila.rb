# frozen_string_literal: true

# The Ruby client of Fila, the message broker with fair scheduling across tenants and per-key
# throttling. It speaks the broker's `fila.v1` gRPC contract through stubs generated from
# proto/ (Fila::V1, in lib/fila/v1/) and adds what a client should not have to write itself:
# batching, flow control, lease extension, retries, reconnects and typed errors.
#
#   require "fila"
#   client = Fila::Client.new("127.0.0.1:5555")
#   client.enqueue("emails", "hello", headers: { "tenant" => "acme" })
#   client.lease("emails", credit: 10) { |msg| puts msg.payload; break }
#   client.close
module Fila
end

require "grpc"
require_relative "fila/version"
# The generated stubs require each other as "fila/v1/...": lib/ must be on the load path
# (it is for the gem, and with ruby -Ilib).
$LOAD_PATH.unshift(__dir__) unless $LOAD_PATH.include?(__dir__)
require "fila/v1/messages_pb"
require "fila/v1/service_services_pb"
require "fila/v1/admin_services_pb"
require_relative "fila/errors"
require_relative "fila/future"
require_relative "fila/retry_policy"
require_relative "fila/types"
require_relative "fila/tls"
require_relative "fila/batcher"
require_relative "fila/message"
require_relative "fila/hot_path"
require_relative "fila/admin"
require_relative "fila/client"
require_relative "fila/producer"
require_relative "fila/consumer"
require_relative "fila/consumer_stream"
