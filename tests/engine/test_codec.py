"""Message ids: the fast text form is the UUIDv7 layout, in order, unique; stored bytes are
read back as protobuf reads them."""

from __future__ import annotations

import uuid

from hypothesis import given
from hypothesis import strategies as st

from fila.engine.codec import IdGenerator, MetadataCache, metadata_offset, stored_id
from fila.v1 import messages_pb2


@given(st.integers(min_value=0, max_value=(1 << 48) - 1), st.integers(min_value=0, max_value=0xFFFF))
def test_message_id_is_the_uuidv7_layout(ms: int, counter: int) -> None:
    g = IdGenerator()
    seq = ms << 16 | counter
    text = g.message_id(seq)
    assert text == g.message_id_reference(seq)
    u = uuid.UUID(text)
    assert u.version == 7 and u.variant == uuid.RFC_4122
    assert u.int >> 80 == ms  # the first 48 bits are the millisecond


def test_ids_of_one_process_sort_as_their_sequence_numbers() -> None:
    g = IdGenerator(wall_ms=lambda: 1_700_000_000_000)
    seqs = [g.next_seq() for _ in range(70_000)]  # past the 16-bit counter: into the next ms
    ids = [g.message_id(s) for s in seqs]
    assert len(set(ids)) == len(ids)
    assert ids == sorted(ids)


_text = st.text(max_size=40)


@st.composite
def _stored(draw: st.DrawFn) -> tuple[bytes, messages_pb2.Message]:
    """A Message as Fila stores it (metadata and timestamps last), of any field sizes."""
    m = messages_pb2.Message(
        id=draw(st.one_of(st.just(str(uuid.uuid4())), _text)),
        headers=draw(st.dictionaries(_text, st.text(max_size=300), max_size=4)),
        payload=draw(st.binary(max_size=20_000)),
    )
    if draw(st.booleans()):
        md = m.metadata
        md.fairness_key = draw(_text)
        md.weight = draw(st.integers(0, 1_000_000))
        md.throttle_keys.extend(draw(st.lists(_text, max_size=3)))
        md.attempt_count = draw(st.integers(0, 300))
        md.queue_id = draw(_text)
        md.last_error = draw(st.text(max_size=200))
        m.timestamps.enqueued_at.FromMilliseconds(draw(st.integers(0, 1 << 42)))
    return m.SerializeToString(), m


@given(_stored())
def test_metadata_is_found_and_read_as_protobuf_reads_it(stored: tuple[bytes, messages_pb2.Message]) -> None:
    data, m = stored
    at = metadata_offset(data)
    # The fields before it, serialized alone, are exactly that long.
    head = messages_pb2.Message(id=m.id, headers=m.headers, payload=m.payload)
    assert at == len(head.SerializeToString())
    assert (at < len(data)) == m.HasField("metadata")
    md = messages_pb2.Message.FromString(data).metadata
    expected = (md.fairness_key, md.weight or 1, tuple(md.throttle_keys), md.attempt_count,
                md.last_error)
    cache = MetadataCache()
    assert cache.fields(data, at) == expected
    assert cache.fields(data, at) == expected  # the second time from the cache
    assert stored_id(data) == m.id
