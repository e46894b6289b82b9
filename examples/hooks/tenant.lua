-- on_enqueue: fair shares per tenant, and every message limited by its email provider.
-- Reads headers: tenant, provider. Reads config: weight.<tenant> (optional, default 1).
function on_enqueue(msg)
  local tenant = msg.headers.tenant or "anonymous"
  return {
    fairness_key = tenant,
    weight = tonumber(fila.get("weight." .. tenant) or "1"),
    throttle_keys = { "provider:" .. (msg.headers.provider or "smtp") },
  }
end
