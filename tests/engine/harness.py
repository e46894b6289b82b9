"""The engine in-process: a Broker on real RocksDB in a temp dir, a clock that moves only when
told, and a storage whose writes fail on demand (a full disk without root or tmpfs).

`Engine.check()` asserts the rule every effect must keep: memory holds exactly what storage
holds (queues, messages and their bytes, delay records, config, API keys, pending bytes).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fila.engine import Broker, BrokerSettings, Consumer, ManualClock, QueueSettings, Storage
from fila.engine import keys as K
from fila.engine.message import Entry
from fila.engine.staging import WriteBatch
from fila.errors import Unavailable
from fila.v1 import messages_pb2

TENANT_HOOK = """
function on_enqueue(msg)
  local keys = {}
  for k in string.gmatch(msg.headers.throttle or "", "[^,]+") do keys[#keys + 1] = k end
  return { fairness_key = msg.headers.tenant or "default", throttle_keys = keys,
           weight = tonumber(msg.headers.weight or "1") }
end
"""


class FaultyStorage(Storage):
    """Real RocksDB; `fail_writes` makes the next writes raise as a failing disk would."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.fail_writes = 0  # how many of the next writes fail
        self.writes = 0

    def write(self, batch: WriteBatch) -> None:
        if self.fail_writes:
            self.fail_writes -= 1
            raise Unavailable("storage cannot write: injected fault")
        self.writes += 1
        super().write(batch)


@dataclass
class Stream:
    """A consumer as a test sees it: its handle, and what it has been sent."""

    broker: Broker
    consumer: Consumer
    got: list[messages_pb2.Message] = field(default_factory=list)
    lease_ids: dict[str, str] = field(default_factory=dict)

    def read(self) -> list[messages_pb2.Message]:
        """What the stream can send now, decoded (as a client would see it, minus the lease
        frame)."""
        out = []
        for d in self.broker.take(self.consumer, 10_000):
            m = messages_pb2.Message.FromString(d.data)
            self.lease_ids[m.id] = str(d.lease_id)
            out.append(m)
        self.got += out
        return out


class Engine:
    def __init__(self, path: Path, settings: BrokerSettings | None = None) -> None:
        self.path = path
        self.clock = ManualClock()
        self.settings = settings or BrokerSettings()
        self.storage = FaultyStorage(path)
        self.broker = Broker(self.storage, self.settings, self.clock)

    # -- driving ----------------------------------------------------------------------------

    def turn(self) -> Any:
        return self.broker.turn()

    def advance(self, ms: int) -> Any:
        self.clock.advance(ms)
        return self.turn()

    def queue(self, name: str = "q", hook: str = TENANT_HOOK, **settings: Any) -> str:
        self.broker.create_queue(name, QueueSettings(on_enqueue_script=hook, **settings))
        self.turn()
        return name

    def enqueue(self, queue: str, payload: bytes = b"x", **headers: str) -> str:
        mid = self.broker.enqueue(queue, headers, payload)
        return mid

    def stream(self, queue: str, credit: int = 1000, window: int = 1000) -> Stream:
        return Stream(self.broker, self.broker.add_consumer(queue, credit, lambda: None,
                                                             window=window))

    def restart(self) -> None:
        """Close storage (as after kill -9, nothing else is flushed) and recover."""
        self.storage.close()
        self.storage = FaultyStorage(self.path)
        self.broker = Broker(self.storage, self.settings, self.clock)

    # -- the invariant ----------------------------------------------------------------------

    def entries(self) -> Iterator[tuple[int, Entry]]:
        """(qid, entry) for every message memory holds."""
        for q in self.broker.queues.values():
            for fk in q.drr.keys.values():
                for e in fk:
                    yield q.qid, e
            for _, _, e in q.delayed:
                if e.state == Entry.DELAYED:
                    yield q.qid, e
            for e in q.leases.values():
                yield q.qid, e

    def check(self) -> None:
        """Memory holds exactly what storage holds."""
        b, st = self.broker, self.storage
        stored_queues = {k[1:].decode(): json.loads(v) for k, v in st.scan(K.QUEUE)}
        assert stored_queues == {n: q.record() for n, q in b.queues.items()}
        stored_msgs = {K.split_qid_seq(k): bytes(v) for k, v in st.scan(K.MESSAGE)}
        memory = {}
        for qid, e in self.entries():
            assert (qid, e.seq) not in memory, f"{e.mid} is held twice"
            memory[(qid, e.seq)] = e
        assert set(stored_msgs) == set(memory), (sorted(stored_msgs), sorted(memory))
        for q in b.queues.values():  # peek's index holds each queue's messages, oldest first
            indexed = [(q.qid, e.seq) for e in q.oldest(len(memory) + 1)]
            assert indexed == sorted(k for k in memory if k[0] == q.qid), f"{q.name}: index"
        for at, e in memory.items():
            assert stored_msgs[at] == e.data, f"{e.mid}: stored bytes differ from memory"
            m = messages_pb2.Message.FromString(e.data)
            assert (m.metadata.attempt_count, m.metadata.fairness_key) == (e.attempts, e.fkey)
        stored_delays = {K.split_qid_seq(k): K.decode_u64(v) for k, v in st.scan(K.DELAY)}
        assert stored_delays == {at: e.ready_at_ms for at, e in memory.items() if e.ready_at_ms}
        assert b.pending_bytes == sum(len(e.data) for e in memory.values())
        stored_config = {k[1:].decode(): v.decode() for k, v in st.scan(K.CONFIG)}
        assert stored_config == b.config.values
        stored_keys = {k[1:].decode(): json.loads(v) for k, v in st.scan(K.API_KEY)}
        assert set(stored_keys) == set(b.api_keys.by_id)
        for key_id, doc in stored_keys.items():
            rec = b.api_keys.by_id[key_id]
            assert [tuple(p) for p in doc["permissions"]] == list(rec.permissions)

    def state(self) -> dict[str, Any]:
        """What a client could observe, to compare before and after."""
        b = self.broker
        out: dict[str, Any] = {"pending_bytes": b.pending_bytes, "config": dict(b.config.values),
                               "keys": {k: list(r.permissions) for k, r in b.api_keys.by_id.items()}}
        for name, q in sorted(b.queues.items()):
            out[name] = {
                "ready": sorted(e.mid for fk in q.drr.keys.values() for e in fk),
                "leased": sorted(q.leases), "delayed": q.delayed_count,
                "stats": dict(vars(q.stats)), "settings": q.settings,
            }
        return out
