"""What one turn will write, and how to take it back: the single path of every effect.

Every change to durable state goes through one `Staging`: `put`, `delete` and `delete_range`
add operations to one RocksDB WriteBatch, and the change to memory that goes with them is
recorded with `undo(fn, *args)`, which says how to reverse it. `take()` hands the batch and
the undo log to the writer. If the write fails, the log runs newest first, so memory ends
exactly as storage is: an effect is undone only after everything staged after it.

What cannot be taken back (ending a deleted queue's streams, or a revoked key's) is put off
with `after(fn, *args)` until the write has succeeded.

An undo item is a function and its arguments, not a closure: the hot path stages one per
message, and a tuple is cheaper to build.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol


class WriteBatch(Protocol):
    def put(self, key: bytes, value: bytes) -> None: ...

    def delete(self, key: bytes) -> None: ...

    def delete_range(self, begin: bytes, end: bytes) -> None: ...


UndoItem = tuple[Callable[..., Any], tuple[Any, ...]]


class Staging:
    def __init__(self, new_batch: Callable[[], WriteBatch]) -> None:
        self._new_batch = new_batch
        self.batch: WriteBatch = new_batch()
        self.ops = 0  # storage operations staged
        self.log: list[UndoItem] = []
        self.done: list[UndoItem] = []

    def put(self, key: bytes, value: bytes) -> None:
        self.batch.put(key, value)
        self.ops += 1

    def delete(self, key: bytes) -> None:
        self.batch.delete(key)
        self.ops += 1

    def delete_range(self, begin: bytes, end: bytes) -> None:
        self.batch.delete_range(begin, end)
        self.ops += 1

    def undo(self, fn: Callable[..., Any], *args: Any) -> None:
        """If the write fails, call fn(*args) (newest first)."""
        self.log.append((fn, args))

    def after(self, fn: Callable[..., Any], *args: Any) -> None:
        """Once the write has succeeded, call fn(*args) (oldest first)."""
        self.done.append((fn, args))

    def take(self) -> tuple[WriteBatch, int, list[UndoItem], list[UndoItem]]:
        """The staged batch, its size, its undo log and what runs after it is written;
        staging starts afresh."""
        out = self.batch, self.ops, self.log, self.done
        self.batch, self.ops, self.log, self.done = self._new_batch(), 0, [], []
        return out


def roll_back(log: list[UndoItem]) -> None:
    """Reverse a failed batch's effects in memory, newest first."""
    for fn, args in reversed(log):
        fn(*args)
