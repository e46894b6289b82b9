"""Message ids: the fast text form is the UUIDv7 layout, in order, unique."""

from __future__ import annotations

import uuid

from hypothesis import given
from hypothesis import strategies as st

from fila.engine.codec import IdGenerator


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
