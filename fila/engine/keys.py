"""Every storage key, in one place. One column family; the first byte says what a key holds,
so recovery is a prefix scan per kind, never a search:

    Q <queue name>              -> queue record (JSON: id, dlq_of, settings)
    M <qid:4> <seq:8>           -> a message, as the `fila.v1.Message` bytes it is delivered as
    D <qid:4> <seq:8>           -> when (unix ms, 8 bytes) a delayed message becomes ready
    C <config key>              -> runtime config value (UTF-8)
    K <key id>                  -> an API key record (JSON; the secret only as a SHA-256)

Integers are big-endian, so byte order is numeric order. `seq` grows monotonically
(milliseconds << 16 | counter): a queue's messages scan in enqueue order, and a whole queue's
messages and delays die with one `delete_range` each.
"""

from __future__ import annotations

import struct

QUEUE = b"Q"
MESSAGE = b"M"
DELAY = b"D"
CONFIG = b"C"
API_KEY = b"K"

_QID = struct.Struct(">I")
_QID_SEQ = struct.Struct(">IQ")
_U64 = struct.Struct(">Q")


def queue(name: str) -> bytes:
    return QUEUE + name.encode()


def message(qid: int, seq: int) -> bytes:
    return MESSAGE + _QID_SEQ.pack(qid, seq)


def delay(qid: int, seq: int) -> bytes:
    return DELAY + _QID_SEQ.pack(qid, seq)


def config(key: str) -> bytes:
    return CONFIG + key.encode()


def api_key(key_id: str) -> bytes:
    return API_KEY + key_id.encode()


def queue_span(prefix: bytes, qid: int) -> tuple[bytes, bytes]:
    """[start, end) of every `prefix` key of queue `qid` (for delete_range)."""
    return prefix + _QID.pack(qid), prefix + _QID.pack(qid + 1)


def split_qid_seq(key: bytes) -> tuple[int, int]:
    """(qid, seq) of a message or delay key."""
    qid, seq = _QID_SEQ.unpack_from(key, 1)
    return qid, seq


def encode_u64(value: int) -> bytes:
    return _U64.pack(value)


def decode_u64(value: bytes) -> int:
    return int(_U64.unpack(value)[0])
