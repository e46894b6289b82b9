# Fair scheduling: acme floods the queue, globex and initech send a few messages each, and
# one consumer still sees the three tenants take turns.
require "fila"

client = Fila::Client.new(ENV.fetch("FILA_ADDR", "127.0.0.1:5555"))
hook = "function on_enqueue(msg) return { fairness_key = msg.headers.tenant } end"
begin
  client.create_queue("fair-demo", on_enqueue: hook)
rescue Fila::AlreadyExists
  # made by an earlier run: use it
end

tenants = ["acme"] * 8 + ["globex"] * 3 + ["initech"] * 3 # acme sends 8 messages first
results = client.enqueue_batch(tenants.map { |t| { queue: "fair-demo", headers: { "tenant" => t } } })
results.each { |r| raise r.error unless r.ok? }

order = []
client.lease("fair-demo") do |msg| # one consumer takes all 14; a block that returns acks
  order << msg.fairness_key
  break if order.size == tenants.size
end
client.close
puts order.join(" ")
