"""Lease frames: the bytes a lease stream sends, built from a message's stored bytes.

A message is stored as the `fila.v1.Message` it is delivered as, ending with its `metadata`
and `timestamps` fields. A frame is that message framed as a `ConsumeResponse` (field 1 of
`LeaseResponse` is framed the same way), with the lease id spliced into `metadata` and the
lease time into `timestamps`: each submessage appears exactly once, because not every
protobuf runtime merges a repeated one (protobufjs keeps only the last occurrence).
"""

from __future__ import annotations

from fila.engine import read_varint, varint

_CONSUME_MESSAGE_TAG = b"\x0a"  # ConsumeResponse.message, field 1, length-delimited
_TIMESTAMPS_TAG = b"\x2a"  # Message.timestamps, field 5
_LEASED_AT_TAG = b"\x12"  # MessageTimestamps.leased_at, field 2
_METADATA_TAG = b"\x22"  # Message.metadata, field 4
_LEASE_ID_TAG = b"\x3a"  # MessageMetadata.lease_id, field 7

_leased_cache: tuple[int, bytes] = (-1, b"")


def _leased_at(ms: int) -> bytes:
    """`leased_at { ... }` for a millisecond (the last one cached: a batch shares it)."""
    global _leased_cache
    if _leased_cache[0] == ms:
        return _leased_cache[1]
    seconds, rest = divmod(ms, 1000)
    ts = b"\x08" + varint(seconds)
    if rest:
        ts += b"\x10" + varint(rest * 1_000_000)
    out = _LEASED_AT_TAG + bytes((len(ts),)) + ts
    _leased_cache = (ms, out)
    return out


# Varints of the lengths a frame has (a 100-byte payload's frame is ~200 bytes): looked up,
# not built, three times per delivered message.
_VARINTS = [varint(n) for n in range(1 << 14)]


def lease_frame(data: bytes, meta_at: int, leased_ms: int, lease_id: int) -> bytes:
    """A `ConsumeResponse` carrying the stored message with its lease id (in `metadata`) and
    lease time (in `timestamps`). `meta_at` is where `data`'s metadata field starts.

    Built in one join (the lengths are added up first, so the body is not copied a second
    time behind the frame's own tag and length): this runs once per delivered message."""
    n = len(data)
    if meta_at < n:  # metadata { ... }: usually a one-byte length
        length = data[meta_at + 1]
        i = meta_at + 2
        if length & 0x80:
            length, i = read_varint(data, meta_at + 1)
        after = i + length
        meta = data[i:after]
    else:
        meta, after = b"", n
    if after < n and data[after] == 0x2A:  # timestamps { enqueued_at }, last in stored bytes
        length = data[after + 1]
        i = after + 2
        if length & 0x80:
            length, i = read_varint(data, after + 1)
        times, rest = data[i:i + length], data[i + length:]
    else:
        times, rest = b"", data[after:]
    token = b"%d" % lease_id  # ids are short: a one-byte length
    cached = _leased_cache
    leased = cached[1] if cached[0] == leased_ms else _leased_at(leased_ms)
    v = _VARINTS
    meta_len = len(meta) + 2 + len(token)
    times_len = len(times) + len(leased)
    meta_varint = v[meta_len] if meta_len < 16384 else varint(meta_len)
    times_varint = v[times_len] if times_len < 16384 else varint(times_len)
    body_len = (meta_at + 2 + len(meta_varint) + len(times_varint) + meta_len + times_len
                + len(rest))
    return b"".join((_CONSUME_MESSAGE_TAG, v[body_len] if body_len < 16384 else varint(body_len),
                     data[:meta_at], _METADATA_TAG, meta_varint, meta,
                     _LEASE_ID_TAG, v[len(token)], token,
                     _TIMESTAMPS_TAG, times_varint, times, leased, rest))
