# frozen_string_literal: true

# The batched lifecycle through the Ruby SDK, shaped like sdks/go/bench and
# sdks/python/bench/lifecycle.py: produce N 100-byte messages with the batching Producer
# (publish from one thread, then wait for every outcome) while one lease stream (credit 1,000)
# takes them and acks each (acks batched into AckBatch); print the acked messages per second.
#
#   ruby bench/lifecycle.rb                          # starts its own broker (../../.venv), N=200,000
#   ruby bench/lifecycle.rb --addr 127.0.0.1:5555 -n 50000 --size 100

$LOAD_PATH.unshift(File.expand_path("../lib", __dir__))
require "optparse"
require "set"
require "fila"
require_relative "../test/support/test_broker"

opts = { addr: ENV.fetch("FILA_ADDR", ""), n: 200_000, size: 100, credit: 1000, batch: 1000, linger: 5.0 }
OptionParser.new do |o|
  o.banner = "usage: ruby bench/lifecycle.rb [options]"
  o.on("--addr ADDR", "broker address (default: start a broker of this checkout)") { |v| opts[:addr] = v }
  o.on("-n N", Integer, "messages (default 200,000)") { |v| opts[:n] = v }
  o.on("--size BYTES", Integer, "payload bytes (default 100)") { |v| opts[:size] = v }
  o.on("--credit N", Integer, "consumer credit: unacked messages held (default 1000)") { |v| opts[:credit] = v }
  o.on("--batch N", Integer, "producer max_messages per EnqueueBatch (default 1000)") { |v| opts[:batch] = v }
  o.on("--linger MS", Float, "producer linger, ms (default 5)") { |v| opts[:linger] = v }
end.parse!

def run(addr, n:, size:, credit:, batch:, linger:)
  client = Fila::Client.new(addr, timeout: 60)
  queue = "bench-#{Process.clock_gettime(Process::CLOCK_REALTIME, :nanosecond)}"
  client.create_queue(queue)
  clock = -> { Process.clock_gettime(Process::CLOCK_MONOTONIC) }
  start = clock.call

  consumer = client.lease(queue, credit: credit, max_batch: [credit, 1000].min)
  consumed = Thread.new do
    seen = Set.new
    consumer.each do |msg|
      msg.ack
      seen << msg.id
      break if seen.size == n
    end
    consumer.close # waits until every ack is answered
    clock.call - start
  end

  producer = client.producer(max_messages: batch, linger: linger / 1000.0)
  payload = "x" * size
  results = Array.new(n) { producer.publish(queue, payload) }
  results.each_with_index do |r, i|
    err = r.error
    raise "message #{i}: #{err.message}" if err
  end
  produced = clock.call - start
  producer.close
  took = consumed.value
  raise "consumer stopped early: #{consumer.error.message}" if consumer.error

  st = producer.stats
  printf("produced %d x %d B in %.2fs (%.0f msg/s, %d EnqueueBatch RPCs)\n",
         n, size, produced, n / produced, st.batches)
  printf("acked    %d in %.2fs: %.0f acked msg/s\n", n, took, n / took)
  client.delete_queue(queue)
ensure
  client&.close
end

settings = opts.slice(:n, :size, :credit, :batch, :linger)
if opts[:addr].empty?
  Fila::TestBroker.start do |broker|
    puts "started fila serve on #{broker.addr}"
    run(broker.addr, **settings)
  end
else
  run(opts[:addr], **settings)
end
