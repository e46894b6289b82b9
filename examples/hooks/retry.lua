-- on_failure: exponential backoff (1 s, 2 s, 4 s, ...), dead-letter after 5 attempts.
-- Reads msg.attempts (1 on the first failure) and msg.error.
function on_failure(msg)
  if msg.attempts >= 5 then
    return { action = "dlq" }
  end
  return { action = "retry", delay_ms = 1000 * 2 ^ (msg.attempts - 1) }
end
