// Decode frames captured from a running broker with protobufjs (the runtime behind
// @grpc/proto-loader, so behind the original Fila JS SDK) and print each as canonical JSON.
// stdin: one JSON object per line, {"type": "ConsumeResponse" | "LeaseResponse", "b64": "..."};
// stdout: one JSON array of messages per input line. Run by tests/test_wire_runtimes.py.
"use strict";
const path = require("path");
const readline = require("readline");
const protobuf = require("protobufjs");

const protoDir = path.resolve(__dirname, "..", "..", "proto");
const root = new protobuf.Root();
root.resolvePath = (origin, target) =>
  target.startsWith("google/") ? protobuf.util.path.resolve(origin, target) : path.join(protoDir, target);
root.loadSync(["fila/v1/service.proto"], { keepCase: true });

function timestamp(ts) {
  return ts ? { seconds: String(ts.seconds || 0), nanos: ts.nanos || 0 } : null;
}

function canonical(m) {
  const md = m.metadata || {};
  return {
    id: m.id || "",
    headers: m.headers || {},
    payload: Buffer.from(m.payload || []).toString("base64"),
    metadata: {
      fairness_key: md.fairness_key || "",
      weight: md.weight || 0,
      throttle_keys: md.throttle_keys || [],
      attempt_count: md.attempt_count || 0,
      queue_id: md.queue_id || "",
      last_error: md.last_error || "",
      lease_id: md.lease_id || "",
    },
    timestamps: {
      enqueued_at: timestamp(m.timestamps && m.timestamps.enqueued_at),
      leased_at: timestamp(m.timestamps && m.timestamps.leased_at),
    },
  };
}

const rl = readline.createInterface({ input: process.stdin });
rl.on("line", (line) => {
  if (!line.trim()) return;
  const { type, b64 } = JSON.parse(line);
  const decoded = root.lookupType("fila.v1." + type).decode(Buffer.from(b64, "base64"));
  const messages = type === "LeaseResponse" ? decoded.messages : [decoded.message];
  process.stdout.write(JSON.stringify(messages.map(canonical)) + "\n");
});
