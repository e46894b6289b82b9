"""Message ids and the bytes a message is stored and delivered as.

A message is stored as the serialized `fila.v1.Message` it will be delivered as, so a lease
sends stored bytes back as they are, framed as a `ConsumeResponse`, with the lease time
appended: protobuf merges a repeated embedded field into the first, so appending
`timestamps { leased_at }` to the stored bytes fills in the lease time without parsing.
"""

from __future__ import annotations

import os
import time

from fila.v1 import messages_pb2

_CONSUME_MESSAGE_TAG = b"\x0a"  # ConsumeResponse.message, field 1, length-delimited
_TIMESTAMPS_TAG = b"\x2a"  # Message.timestamps, field 5
_LEASED_AT_TAG = b"\x12"  # MessageTimestamps.leased_at, field 2
_METADATA_TAG = b"\x22"  # Message.metadata, field 4
_LEASE_ID_TAG = b"\x3a"  # MessageMetadata.lease_id, field 7


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
    backwards by more than the recovered maximum), unique within one data dir.
    """

    def __init__(self, last_seq: int = 0) -> None:
        self.last_seq = last_seq
        self._rand = int.from_bytes(os.urandom(8), "big") & ((1 << 46) - 1)

    def next_seq(self) -> int:
        seq = time.time_ns() // 1_000_000 << 16
        if seq <= self.last_seq:
            seq = self.last_seq + 1
        self.last_seq = seq
        return seq

    def message_id(self, seq: int) -> str:
        ms = seq >> 16
        counter = seq & 0xFFFF
        # 48 bits of ms, version 7, 12 bits of counter, variant 10, 4 bits counter + 58 random.
        hi = (ms << 16) | 0x7000 | (counter >> 4)
        self._rand = (self._rand * 6364136223846793005 + 1442695040888963407) & ((1 << 64) - 1)
        lo = (0b10 << 62) | ((counter & 0xF) << 58) | (self._rand >> 6)
        h = f"{hi:016x}{lo:016x}"
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
    return msg.SerializeToString()


def decode_message(data: bytes) -> messages_pb2.Message:
    return messages_pb2.Message.FromString(data)


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
    return msg.SerializeToString()


def lease_frame(data: bytes, leased_ms: int, lease_id: int) -> bytes:
    """A `ConsumeResponse` carrying the stored message with its lease time and lease id."""
    seconds, ms = divmod(leased_ms, 1000)
    ts = b"\x08" + varint(seconds)
    if ms:
        ts += b"\x10" + varint(ms * 1_000_000)
    leased = _LEASED_AT_TAG + varint(len(ts)) + ts
    token = str(lease_id).encode()
    lease = _LEASE_ID_TAG + bytes((len(token),)) + token  # ids are short: 1-byte lengths
    # timestamps { leased_at } and metadata { lease_id }, merged into the stored message
    suffix = b"".join((_TIMESTAMPS_TAG, bytes((len(leased),)), leased,
                       _METADATA_TAG, bytes((len(lease),)), lease))
    return b"".join((_CONSUME_MESSAGE_TAG, varint(len(data) + len(suffix)), data, suffix))
