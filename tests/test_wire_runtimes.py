"""Every protobuf runtime decodes our frames the same.

Lease frames are built from stored bytes, not by a protobuf library, so they are checked
against two runtimes: upb (Python's) and protobufjs (behind @grpc/proto-loader, so behind the
original Fila's JavaScript SDK), which keeps only the *last* occurrence of a submessage that
appears twice instead of merging. Frames are captured raw from a real `fila serve`.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import grpc
import pytest

from fila.client import Client, QueueConfig
from fila.v1 import messages_pb2, service_pb2
from tests.fila_process import FilaProcess

JS_DIR = Path(__file__).parent / "js"
HOOK = """
function on_enqueue(msg)
  return { fairness_key = msg.headers.tenant, weight = 3, throttle_keys = { "provider:x", "tenant:" .. msg.headers.tenant } }
end
"""


def node_decode(frames: list[tuple[str, bytes]]) -> list[list[dict[str, Any]]]:
    """Decode frames with protobufjs under node (installed by scripts/setup_env.sh)."""
    node = shutil.which("node")
    assert node, "node is needed for this test (the CI set-up installs it)"
    assert (JS_DIR / "node_modules" / "protobufjs").is_dir(), "run scripts/setup_env.sh first"
    lines = "".join(json.dumps({"type": t, "b64": base64.b64encode(b).decode()}) + "\n"
                    for t, b in frames)
    out = subprocess.run([node, str(JS_DIR / "decode.js")], input=lines, capture_output=True,
                         text=True, timeout=60, check=True).stdout
    return [json.loads(line) for line in out.splitlines()]


def _ts(ts: Any) -> dict[str, Any] | None:
    return {"seconds": str(ts.seconds), "nanos": ts.nanos} if ts.seconds or ts.nanos else None


def upb_canonical(m: messages_pb2.Message) -> dict[str, Any]:
    md = m.metadata
    return {
        "id": m.id, "headers": dict(m.headers),
        "payload": base64.b64encode(m.payload).decode(),
        "metadata": {
            "fairness_key": md.fairness_key, "weight": md.weight,
            "throttle_keys": list(md.throttle_keys), "attempt_count": md.attempt_count,
            "queue_id": md.queue_id, "last_error": md.last_error, "lease_id": md.lease_id,
        },
        "timestamps": {"enqueued_at": _ts(m.timestamps.enqueued_at),
                       "leased_at": _ts(m.timestamps.leased_at)},
    }


def _read_varint(data: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        b = data[i]
        i += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, i
        shift += 7


def top_level_fields(message: bytes) -> list[int]:
    """The field numbers of a serialized Message, in order (length-delimited fields only)."""
    out, i = [], 0
    while i < len(message):
        tag, i = _read_varint(message, i)
        assert tag & 7 == 2, "every Message field is length-delimited"
        length, i = _read_varint(message, i)
        out.append(tag >> 3)
        i += length
    return out


def consume_one(addr: str, queue: str) -> bytes:
    """One raw ConsumeResponse from the classic stream."""
    with grpc.insecure_channel(addr) as ch:
        call = ch.unary_stream("/fila.v1.FilaService/Consume",
                               request_serializer=service_pb2.ConsumeRequest.SerializeToString,
                               response_deserializer=None)(service_pb2.ConsumeRequest(queue=queue),
                                                           timeout=10)
        frame: bytes = next(iter(call))
        call.cancel()
        return frame


def lease_batch(addr: str, queue: str, n: int) -> bytes:
    """One raw LeaseResponse of up to n messages from the credit stream."""
    with grpc.insecure_channel(addr) as ch:
        call = ch.stream_stream("/fila.v1.FilaService/Lease",
                                request_serializer=service_pb2.LeaseRequest.SerializeToString,
                                response_deserializer=None)(
            iter([service_pb2.LeaseRequest(queue=queue, credit=n, max_batch=n)]), timeout=10)
        frame: bytes = next(iter(call))
        call.cancel()
        return frame


def check_same(frames: list[tuple[str, bytes]]) -> list[list[dict[str, Any]]]:
    """Both runtimes decode each frame to the same messages; each submessage occurs once."""
    js = node_decode(frames)
    for (kind, raw), js_messages in zip(frames, js, strict=True):
        if kind == "ConsumeResponse":
            messages = [service_pb2.ConsumeResponse.FromString(raw).message]
            _, start = _read_varint(raw, 1)  # one field: the Message
            inner = [raw[start:]]
        else:
            resp2 = service_pb2.LeaseResponse.FromString(raw)
            messages = list(resp2.messages)
            inner, i = [], 0
            while i < len(raw):
                _, i = _read_varint(raw, i)
                length, i = _read_varint(raw, i)
                inner.append(raw[i:i + length])
                i += length
        for m in inner:
            fields = top_level_fields(m)
            assert fields.count(4) == 1 and fields.count(5) == 1, fields
        assert [upb_canonical(m) for m in messages] == js_messages
    return js


@pytest.fixture
def fila(server: FilaProcess) -> Client:
    with Client(server.addr, timeout_s=10) as c:
        yield c


def test_first_delivery_with_throttle_keys(server: FilaProcess, fila: Client) -> None:
    fila.create_queue("q", on_enqueue=HOOK)
    mid = fila.enqueue("q", b"\x00\x01payload", {"tenant": "acme", "k": "v"})
    [[m]] = check_same([("ConsumeResponse", consume_one(server.addr, "q"))])
    assert m["id"] == mid and m["headers"] == {"tenant": "acme", "k": "v"}
    assert m["metadata"]["queue_id"] == "q" and m["metadata"]["fairness_key"] == "acme"
    assert m["metadata"]["weight"] == 3
    assert m["metadata"]["throttle_keys"] == ["provider:x", "tenant:acme"]
    assert m["metadata"]["lease_id"] and m["metadata"]["attempt_count"] == 0
    assert m["timestamps"]["enqueued_at"] and m["timestamps"]["leased_at"]


def test_redelivery_after_nack_and_the_dead_letter_copy(server: FilaProcess, fila: Client) -> None:
    fila.create_queue("q", QueueConfig(on_enqueue_script=HOOK, max_attempts=2,
                                       retry_backoff_base_ms=1, retry_backoff_max_ms=1))
    fila.enqueue("q", b"x", {"tenant": "acme"})
    [[first]] = check_same([("ConsumeResponse", consume_one(server.addr, "q"))])
    fila.nack("q", first["id"], "boom", first["metadata"]["lease_id"])
    [[again]] = check_same([("ConsumeResponse", consume_one(server.addr, "q"))])
    assert again["metadata"]["attempt_count"] == 1 and again["metadata"]["last_error"] == "boom"
    assert again["metadata"]["fairness_key"] == "acme" and again["metadata"]["queue_id"] == "q"
    assert again["metadata"]["lease_id"] != first["metadata"]["lease_id"]
    fila.nack("q", again["id"], "boom again", again["metadata"]["lease_id"])
    [[dead]] = check_same([("ConsumeResponse", consume_one(server.addr, "q.dlq"))])
    assert dead["id"] == first["id"] and dead["metadata"]["queue_id"] == "q.dlq"
    assert dead["metadata"]["attempt_count"] == 2 and dead["metadata"]["last_error"] == "boom again"


def test_lease_batches_and_recovered_messages(server: FilaProcess, fila: Client) -> None:
    fila.create_queue("q", on_enqueue=HOOK)
    ids = [fila.enqueue("q", str(i), {"tenant": f"t{i % 2}"}) for i in range(5)]
    server.restart()  # recovered messages: their stored layout is found again, not assumed
    with Client(server.addr, timeout_s=10) as again:
        again.enqueue("q", "fresh", {"tenant": "t0"})
    [batch] = check_same([("LeaseResponse", lease_batch(server.addr, "q", 10))])
    assert {m["id"] for m in batch} >= set(ids[:1]) and len(batch) >= 2
    assert all(m["metadata"]["queue_id"] == "q" and m["metadata"]["lease_id"] for m in batch)


def test_unknown_fields_sent_by_a_producer_are_not_stored(server: FilaProcess, fila: Client) -> None:
    """A client cannot smuggle a second `metadata` into its message by sending field 4 in an
    EnqueueRequest (which has no field 4)."""
    fila.create_queue("q")
    fake = messages_pb2.MessageMetadata(fairness_key="spoofed", attempt_count=7).SerializeToString()
    raw = service_pb2.EnqueueRequest(queue="q", payload=b"p").SerializeToString()
    raw += b"\x22" + bytes((len(fake),)) + fake
    with grpc.insecure_channel(server.addr) as ch:
        ch.unary_unary("/fila.v1.FilaService/Enqueue", request_serializer=None,
                       response_deserializer=service_pb2.EnqueueResponse.FromString)(raw, timeout=10)
    [[m]] = check_same([("ConsumeResponse", consume_one(server.addr, "q"))])
    assert m["metadata"]["fairness_key"] == "default" and m["metadata"]["attempt_count"] == 0
