"""Leases stay bounded, and a stalled consumer gets nothing more: through the real server."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import grpc

from fila.client import Client, QueueConfig
from fila.v1 import service_pb2
from tests.conftest import wait_for
from tests.fila_process import FilaProcess
from tests.test_overload import rss_bytes


def test_a_consumer_that_never_reads_does_not_starve_a_healthy_one(tmp_path: Path) -> None:
    """A Lease stream with credit 10,000 that never reads its socket, beside a healthy
    consumer, under steady traffic. The stuck stream is leased only what its transport takes
    (a lease starts when its message is written), then nothing: when those leases expire
    unacked it is closed, what it was never sent goes back as it was, and what it was sent
    expires once and goes to the healthy consumer. Every message is acked by the healthy one;
    none is dead-lettered (before, leases kept going to the stuck stream as they expired,
    until max_attempts sent hundreds to the DLQ unread). The stuck client, reading at last,
    gets what its buffers held and then ABORTED."""
    conf = tmp_path / "fila.toml"
    conf.write_text("[lease]\nstall_timeout_ms = 1500\n")
    proc = FilaProcess(tmp_path / "data", config_file=conf).start()
    payload = b"x" * 1000
    try:
        with Client(proc.addr, timeout_s=10) as c:
            c.create_queue("q", QueueConfig(visibility_timeout_ms=1000, max_attempts=3,
                                            retry_backoff_base_ms=1, retry_backoff_max_ms=1))
            with grpc.insecure_channel(proc.addr) as ch:
                stuck = ch.stream_stream(
                    "/fila.v1.FilaService/Lease",
                    request_serializer=service_pb2.LeaseRequest.SerializeToString,
                    response_deserializer=service_pb2.LeaseResponse.FromString,
                )(iter([service_pb2.LeaseRequest(queue="q", credit=10_000, max_batch=100)]))
                wait_for(lambda: c.get_stats("q").active_consumers == 1, what="the stuck stream")
                acked: set[str] = set()
                healthy = c.lease("q", credit=100)

                def read() -> None:
                    for m in healthy:
                        c.ack("q", m.id, m.lease_id)
                        acked.add(m.id)

                t = threading.Thread(target=read, daemon=True)
                t.start()
                sent = [c.enqueue("q", payload) for _ in range(3000)]  # steady traffic
                wait_for(lambda: acked >= set(sent), 60, "the healthy consumer to ack everything")
                assert c.get_stats("q").active_consumers == 1  # the stuck one was closed
                assert "closing a stream that makes no progress" in proc.log_text()
                code = None
                try:
                    for _ in stuck:  # the stuck client reads at last
                        pass
                except grpc.RpcError as exc:
                    code = exc.code()
                assert code == grpc.StatusCode.ABORTED
                healthy.close()
                t.join(10)
            assert c.get_stats("q.dlq").depth == 0
    finally:
        proc.kill()


def test_extending_leases_again_and_again_keeps_memory_bounded(server: FilaProcess) -> None:
    with Client(server.addr, timeout_s=30) as c:
        c.create_queue("q")
        for i in range(0, 2000, 100):
            for j in range(i, i + 100):
                c.enqueue("q", str(j))
        stream = c.lease("q", credit=2000)
        it = iter(stream)
        held = [next(it) for _ in range(2000)]
        before = rss_bytes(server.proc.pid)  # type: ignore[union-attr]
        ids = [m.id for m in held]
        for _ in range(150):  # 300,000 extensions of 12 h
            c.extend_lease("q", ids, 12 * 3600 * 1000)
        grown = rss_bytes(server.proc.pid) - before  # type: ignore[union-attr]
        assert grown < 40 * 1024 * 1024, f"300,000 extensions grew the broker by {grown >> 20} MiB"
        assert c.get_stats("q").in_flight == 2000
        stream.close()


def test_a_lease_stream_reading_without_acking_gets_its_credit_promptly(server: FilaProcess) -> None:
    """Taking makes room in the stream's outbox; the next turn must refill it at once (not at
    the next once-a-second timer, which held such a reader to ~200 msg/s)."""
    with Client(server.addr, timeout_s=30) as c:
        c.create_queue("q")
        for i in range(5000):
            c.enqueue("q", str(i))
        stream = c.lease("q", credit=5000)
        deadline = time.monotonic() + 10
        got = 0
        for _ in stream:
            got += 1
            if got == 5000 or time.monotonic() > deadline:
                break
        stream.close()
        assert got == 5000, f"only {got} messages in 10 s"
