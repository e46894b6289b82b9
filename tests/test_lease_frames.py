"""Lease frames: the bytes a lease stream sends for a stored message decode, in protobuf, as
that message with its lease id and lease time, and carry each submessage once (protobufjs
keeps only the last occurrence of a repeated one)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from fila.engine import codec
from fila.server.frames import lease_frame
from fila.v1 import messages_pb2, service_pb2

_text = st.text(max_size=30)


@st.composite
def _stored(draw: st.DrawFn) -> bytes:
    """Stored bytes as Fila writes them: at enqueue (StoredEncoder), or rewritten by upb
    after a failure (codec.with_attempts), with field lengths of one to three varint bytes."""
    request = service_pb2.EnqueueRequest(
        queue=draw(_text),
        headers=draw(st.dictionaries(_text, st.text(max_size=300), max_size=3)),
        payload=draw(st.binary(max_size=20_000)),
    )
    body = codec.strip_queue(request.SerializeToString())
    data = codec.StoredEncoder(draw(_text)).encode(
        "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", body, draw(_text) or "k",
        draw(st.integers(1, 1_000_000)), tuple(draw(st.lists(_text, max_size=3))),
        draw(st.integers(0, 1 << 42)))
    if draw(st.booleans()):
        data = codec.with_attempts(data, draw(st.integers(1, 1000)),
                                   last_error=draw(st.text(max_size=5000)))
    return data


def _top_level_tags(data: bytes) -> list[int]:
    tags, i = [], 0
    while i < len(data):
        tag, i = codec.read_varint(data, i)
        assert tag & 7 == 2  # every field of a Message here is length-delimited
        length, i = codec.read_varint(data, i)
        i += length
        tags.append(tag >> 3)
    assert i == len(data)
    return tags


@given(_stored(), st.integers(0, 1 << 42), st.integers(0, 1 << 64))
def test_a_frame_is_the_stored_message_with_its_lease(data: bytes, leased_ms: int,
                                                      lease_id: int) -> None:
    frame = lease_frame(data, codec.metadata_offset(data), leased_ms, lease_id)
    got = service_pb2.ConsumeResponse.FromString(frame).message
    want = messages_pb2.Message.FromString(data)
    want.metadata.lease_id = str(lease_id)
    want.timestamps.leased_at.FromMilliseconds(leased_ms)
    assert got == want
    assert _top_level_tags(frame) == [1]
    _, start = codec.read_varint(frame, 1)  # ConsumeResponse.message's length
    tags = _top_level_tags(frame[start:])
    assert tags.count(1) == tags.count(4) == tags.count(5) == 1  # id, metadata, timestamps once
