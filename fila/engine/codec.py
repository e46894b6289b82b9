"""Message ids and the bytes a message is stored and delivered as.

A message is stored as the serialized `fila.v1.Message` it will be delivered as, ending with
its `metadata` and `timestamps` fields (`metadata_offset` finds where they start). The server
frames those bytes for a lease as they are, splicing in the lease (fila.server.frames).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from fila.v1 import messages_pb2, service_pb2


def varint(value: int) -> bytes:
    if value < 0x80:
        return bytes((value,))
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


class IdGenerator:
    """Monotonic sequence numbers and the UUIDv7 text ids built from them.

    seq = unix_ms << 16 | counter: ordered across restarts (as long as the clock does not run
    backwards by more than the recovered maximum), unique within one data dir. The id is
    UUIDv7-shaped: 48 bits of ms, version 7, the counter, variant 10, and 58 random bits
    drawn once per process (uniqueness comes from seq; the random part keeps two data dirs'
    ids apart).
    """

    def __init__(self, last_seq: int = 0, wall_ms: Callable[[], int] | None = None) -> None:
        self.last_seq = last_seq
        self._wall_ms = wall_ms or (lambda: time.time_ns() // 1_000_000)
        self._tail = (0b10 << 62) | (int.from_bytes(os.urandom(8), "big") & ((1 << 58) - 1))
        # The text id is built from parts made once (this runs once per message): the
        # millisecond's part (cached for the current one), the counter's high 12 bits, and
        # the tail, which depends only on the counter's low 4 bits.
        self._ms = -1
        self._ms_part = ""
        self._mid_parts = [f"{c:03x}" for c in range(4096)]
        tails = [f"{self._tail | (c << 58):016x}" for c in range(16)]
        self._tail_parts = [f"-{t[:4]}-{t[4:]}" for t in tails]

    def next_seq(self) -> int:
        seq = self._wall_ms() << 16
        if seq <= self.last_seq:
            seq = self.last_seq + 1
        self.last_seq = seq
        return seq

    def message_id(self, seq: int) -> str:
        ms = seq >> 16
        if ms != self._ms:
            h = f"{ms:012x}"
            self._ms, self._ms_part = ms, f"{h[:8]}-{h[8:]}-7"
        counter = seq & 0xFFFF
        return self._ms_part + self._mid_parts[counter >> 4] + self._tail_parts[counter & 0xF]

    def message_id_reference(self, seq: int) -> str:
        """The same id, spelled out as the UUIDv7 layout says (for tests of the fast one)."""
        counter = seq & 0xFFFF
        tail = self._tail | ((counter & 0xF) << 58)
        h = f"{seq >> 16:012x}7{counter >> 4:03x}{tail:016x}"
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def encode_message(
    mid: str,
    headers: dict[str, str],
    payload: bytes,
    fairness_key: str,
    weight: int,
    throttle_keys: tuple[str, ...],
    attempts: int,
    queue: str,
    enqueued_ms: int,
) -> bytes:
    msg = messages_pb2.Message(
        id=mid,
        headers=headers,
        payload=payload,
        metadata=messages_pb2.MessageMetadata(
            fairness_key=fairness_key,
            weight=weight,
            throttle_keys=throttle_keys,
            attempt_count=attempts,
            queue_id=queue,
        ),
    )
    ts = msg.timestamps.enqueued_at
    ts.seconds, ts.nanos = divmod(enqueued_ms, 1000)
    ts.nanos *= 1_000_000
    return bytes(msg.SerializeToString())


def _field(tag: bytes, value: bytes) -> bytes:
    return tag + varint(len(value)) + value


def request_body(headers: dict[str, str], payload: bytes) -> bytes:
    """Message fields 2 (headers) and 3 (payload), serialized. EnqueueRequest uses the same
    field numbers, so its serialized bytes minus field 1 (the queue) are exactly this."""
    return bytes(service_pb2.EnqueueRequest(headers=headers, payload=payload).SerializeToString())


def strip_queue(request_bytes: bytes) -> bytes:
    """Serialized EnqueueRequest -> its headers and payload fields (drops field 1, which
    serializers write first)."""
    if request_bytes[:1] != b"\x0a":
        return request_bytes
    length, i = request_bytes[1], 2
    if length & 0x80:  # a queue name of 128+ bytes: decode the varint properly
        length, shift = 0, 0
        i = 1
        while True:
            b = request_bytes[i]
            i += 1
            length |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                break
    return request_bytes[i + length:]


STORED_HEAD = 2 + 36  # Message.id's tag, length and the 36 characters of a UUID


class StoredEncoder:
    """Builds a message's stored bytes without a protobuf object per message.

    The metadata part depends only on (fairness key, weight, throttle keys, queue), so it is
    cached per queue; the timestamp part only on the millisecond.
    """

    MAX_CACHED = 100_000

    def __init__(self, queue: str) -> None:
        self._queue_field = _field(b"\x2a", queue.encode())  # MessageMetadata.queue_id = 5
        self._meta: dict[tuple[str, int, tuple[str, ...]], bytes] = {}
        self._ts_ms = -1
        self._ts = b""

    def metadata(self, fkey: str, weight: int, tkeys: tuple[str, ...]) -> bytes:
        key = (fkey, weight, tkeys)
        meta = self._meta.get(key)
        if meta is None:
            inner = _field(b"\x0a", fkey.encode()) + b"\x10" + varint(weight)
            for tk in tkeys:
                inner += _field(b"\x1a", tk.encode())
            inner += self._queue_field
            meta = _field(b"\x22", inner)  # Message.metadata = 4
            if len(self._meta) >= self.MAX_CACHED:
                self._meta.clear()
            self._meta[key] = meta
        return meta

    def timestamps(self, ms: int) -> bytes:
        if ms != self._ts_ms:
            seconds, rest = divmod(ms, 1000)
            ts = b"\x08" + varint(seconds) + (b"\x10" + varint(rest * 1_000_000) if rest else b"")
            self._ts = _field(b"\x2a", _field(b"\x0a", ts))  # timestamps { enqueued_at }
            self._ts_ms = ms
        return self._ts

    def encode(self, mid: str, body: bytes, fkey: str, weight: int, tkeys: tuple[str, ...],
               enqueued_ms: int) -> bytes:
        """A new message (attempt 0): id + headers/payload + metadata + timestamps. Its
        metadata starts at STORED_HEAD + len(body)."""
        return b"".join((b"\x0a\x24", mid.encode(), body, self.metadata(fkey, weight, tkeys),
                         self.timestamps(enqueued_ms)))


def decode_message(data: bytes) -> messages_pb2.Message:
    msg: messages_pb2.Message = messages_pb2.Message.FromString(data)
    return msg


def with_attempts(
    data: bytes, attempts: int, queue: str | None = None, last_error: str | None = None
) -> bytes:
    """The stored bytes with a new attempt count (and optionally queue name and last error)."""
    msg = messages_pb2.Message.FromString(data)
    msg.metadata.attempt_count = attempts
    if queue is not None:
        msg.metadata.queue_id = queue
    if last_error is not None:
        msg.metadata.last_error = last_error
    return bytes(msg.SerializeToString())


def read_varint(data: bytes, i: int) -> tuple[int, int]:
    """The varint at data[i:], and the index after it."""
    value = shift = 0
    while True:
        b = data[i]
        i += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, i
        shift += 7


def metadata_offset(data: bytes) -> int:
    """Where the top-level `metadata` field (4) of a serialized Message starts (len(data) if
    it has none): a walk over the top-level fields, for bytes whose layout is not known (after
    recovery, a nack's rewrite). Fields with one-byte tags and lengths go the short way."""
    i, n = 0, len(data)
    while i < n:
        tag = data[i]
        if tag < 0x80 and tag & 7 == 2:  # a one-byte tag, length-delimited: every field here
            if tag == 0x22:
                return i
            length, j = data[i + 1], i + 2
            if length & 0x80:
                length, j = read_varint(data, i + 1)
            i = j + length
            continue
        tag, j = read_varint(data, i)
        field, wire = tag >> 3, tag & 7
        if field == 4 and wire == 2:
            return i
        if wire == 0:
            _, j = read_varint(data, j)
        elif wire == 1:
            j += 8
        elif wire == 2:
            length, j = read_varint(data, j)
            j += length
        elif wire == 5:
            j += 4
        else:
            raise ValueError(f"unexpected wire type {wire} in a stored message")
        i = j
    return n


class MetadataCache:
    """What a stored message's `metadata` says, decoded once per distinct bytes: (fairness
    key, weight, throttle keys, attempt count, last error). Recovery reads millions of
    messages whose metadata repeats per tenant; a cache bounded like StoredEncoder's."""

    MAX_CACHED = 100_000

    def __init__(self) -> None:
        self._seen: dict[bytes, tuple[str, int, tuple[str, ...], int, str]] = {}

    def fields(self, data: bytes, meta_at: int) -> tuple[str, int, tuple[str, ...], int, str]:
        """The metadata of `data`, whose metadata field starts at `meta_at`
        (metadata_offset; len(data) if it has none, which reads as all defaults)."""
        meta = b""
        if meta_at < len(data):
            length, i = data[meta_at + 1], meta_at + 2
            if length & 0x80:
                length, i = read_varint(data, meta_at + 1)
            meta = data[i:i + length]
        got = self._seen.get(meta)
        if got is None:
            md = messages_pb2.MessageMetadata.FromString(meta)
            got = (md.fairness_key, md.weight or 1, tuple(md.throttle_keys), md.attempt_count,
                   md.last_error)
            if len(self._seen) >= self.MAX_CACHED:
                self._seen.clear()
            self._seen[meta] = got
        return got


def stored_id(data: bytes) -> str:
    """A stored message's id: its first field, 36 characters wherever Fila wrote it (a
    UUID, `StoredEncoder` and upb both put field 1 first), else read by decoding."""
    if len(data) >= STORED_HEAD and data[0] == 0x0A and data[1] == 0x24:
        return data[2:STORED_HEAD].decode()
    return str(messages_pb2.Message.FromString(data).id)
