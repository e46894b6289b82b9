"""Fair under throttling through the real server: a shared bucket is shared by weight, every
consumer of a throttled queue is served, and the classic Consume stream reads like the
original broker's (many messages before the first ack)."""

from __future__ import annotations

import threading
import time
from collections import Counter
from pathlib import Path

import grpc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fila.client import Client
from fila.v1 import service_pb2
from tests.conftest import wait_for
from tests.fila_process import FilaProcess

ROOT = Path(__file__).resolve().parent.parent
TENANT_HOOK = (ROOT / "examples" / "hooks" / "tenant.lua").read_text()
PROVIDERS_HOOK = """
function on_enqueue(msg)
  local keys = {}
  for k in string.gmatch(msg.headers.providers or "", "[^,]+") do keys[#keys + 1] = "provider:" .. k end
  return { fairness_key = msg.headers.tenant, throttle_keys = keys }
end
"""


def within(got: float, expected: float, rel: float = 0.05) -> bool:
    return abs(got - expected) <= rel * expected + 1


class Reader:
    """One consumer in a thread: reads a stream, acks each message, notes (time, key)."""

    def __init__(self, addr: str, queue: str, lease: bool = False) -> None:
        self.client = Client(addr, timeout_s=10)
        self.stream = self.client.lease(queue, credit=10) if lease else self.client.consume(queue)
        self.queue = queue
        self.got: list[tuple[float, str]] = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        for m in self.stream:
            self.got.append((time.monotonic(), m.fairness_key))
            self.client.ack(self.queue, m.id, m.lease_id)

    def close(self) -> None:
        self.stream.close()
        self.thread.join(10)
        self.client.close()


def read_until(readers: list[Reader], n: int, timeout_s: float = 30.0) -> None:
    wait_for(lambda: sum(len(r.got) for r in readers) >= n, timeout_s, f"{n} deliveries")


def setup_tenants(client: Client, weights: dict[str, int], rate: float, burst: float,
                  per_tenant: int = 400) -> None:
    client.create_queue("jobs", on_enqueue=TENANT_HOOK)
    for tenant, w in weights.items():
        if w != 1:
            client.set_config(f"weight.{tenant}", str(w))
    client.set_throttle("provider:smtp", rate, burst)
    for i in range(per_tenant):  # interleaved, as several producers would
        for tenant in weights:
            client.enqueue("jobs", f"{tenant}-{i}", {"tenant": tenant})


def shares_after_burst(got: list[tuple[float, str]], burst: int, n: int) -> Counter[str]:
    """Who got the n deliveries after the bucket's initial burst."""
    return Counter(key for _, key in sorted(got)[burst:burst + n])


def test_the_readme_reproduction(client: Client, server: FilaProcess) -> None:
    """tenant.lua, weight.t1 = 2, throttle.provider:smtp = 100,20, 400 each for t1, t2, t3, one
    consumer: after the burst, ~50 / 25 / 25 msg/s."""
    setup_tenants(client, {"t1": 2, "t2": 1, "t3": 1}, 100, 20)
    reader = Reader(server.addr, "jobs")
    try:
        read_until([reader], 20 + 300)
        got = shares_after_burst(reader.got, 20, 300)
        times = sorted(t for t, _ in reader.got)
        elapsed = times[20 + 299] - times[20]
    finally:
        reader.close()
    assert within(got["t1"], 150) and within(got["t2"], 75) and within(got["t3"], 75), got
    assert elapsed >= 2.6  # the bucket's 100/s holds: 300 deliveries take ~3 s
    stats = client.get_stats("jobs")
    by_key = {k.key: k for k in stats.keys}
    # what each can get now: half, a quarter, a quarter of the bucket
    assert [round(by_key[t].fair_rate) for t in ("t1", "t2", "t3")] == [50, 25, 25]
    assert by_key["t1"].fair_share == 0.5 and by_key["t1"].limited_by == "provider:smtp"


def test_weights_one_to_five_on_one_bucket(client: Client, server: FilaProcess) -> None:
    weights = {f"w{w}": w for w in range(1, 6)}
    setup_tenants(client, weights, 300, 10, per_tenant=200)
    reader = Reader(server.addr, "jobs")
    try:
        read_until([reader], 10 + 450)
        got = shares_after_burst(reader.got, 10, 450)
    finally:
        reader.close()
    for tenant, w in weights.items():
        assert within(got[tenant], 450 * w / 15), got


def test_two_providers_shared_by_overlapping_tenants(client: Client, server: FilaProcess) -> None:
    """smtp (100/s) is shared by a and c, ses (40/s) by b and c: a 50, b 20, c 50 + 20."""
    client.create_queue("jobs", on_enqueue=PROVIDERS_HOOK)
    client.set_throttle("provider:smtp", 100, 5)
    client.set_throttle("provider:ses", 40, 5)
    for _ in range(400):
        client.enqueue("jobs", "a", {"tenant": "a", "providers": "smtp"})
        client.enqueue("jobs", "b", {"tenant": "b", "providers": "ses"})
        client.enqueue("jobs", "c", {"tenant": "c", "providers": "smtp"})
        client.enqueue("jobs", "c", {"tenant": "c", "providers": "ses"})
    reader = Reader(server.addr, "jobs")
    try:
        wait_for(lambda: len(reader.got) >= 20, what="the bursts")
        start = reader.got[-1][0] + 1.0
        end = start + 5.0
        wait_for(lambda: reader.got[-1][0] >= end, 30, "five seconds of deliveries")
    finally:
        reader.close()
    got = Counter(key for t, key in reader.got if start <= t < end)
    assert within(got["a"], 250, 0.1) and within(got["b"], 100, 0.1) and within(got["c"], 350, 0.1), got


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(weights=st.lists(st.integers(1, 4), min_size=2, max_size=4),
       rate=st.integers(100, 300), burst=st.integers(1, 20))
def test_any_weights_share_one_bucket(make_server, weights: list[int], rate: int, burst: int) -> None:  # noqa: ANN001
    server = make_server(f"data-{'-'.join(map(str, weights))}-{rate}-{burst}")
    with Client(server.addr, timeout_s=10) as client:
        tenants = {f"t{i}": w for i, w in enumerate(weights)}
        n = 40 * sum(weights)
        setup_tenants(client, tenants, rate, burst, per_tenant=n)
        reader = Reader(server.addr, "jobs")
        try:
            read_until([reader], burst + n)
            got = shares_after_burst(reader.got, burst, n)
        finally:
            reader.close()
    assert set(got) <= set(tenants)  # only keys with messages are scheduled
    for tenant, w in tenants.items():
        assert got[tenant] > 0 and within(got[tenant], n * w / sum(weights)), (got, tenants)
    server.kill()


def test_every_consumer_of_a_throttled_queue_is_served(client: Client, server: FilaProcess) -> None:
    """Two classic streams on a throttled queue take turns instead of one getting everything."""
    setup_tenants(client, {"t1": 1}, 100, 5, per_tenant=600)
    readers = [Reader(server.addr, "jobs") for _ in range(2)]
    try:
        wait_for(lambda: all(r.got for r in readers), what="both consumers to get a message")
        read_until(readers, 200)
    finally:
        for r in readers:
            r.close()
    counts = [len(r.got) for r in readers]
    assert min(counts) >= 0.4 * sum(counts), counts


def test_eight_lease_streams_share_a_throttled_queue(client: Client, server: FilaProcess) -> None:
    setup_tenants(client, {"t1": 1, "t2": 1}, 200, 5, per_tenant=500)
    readers = [Reader(server.addr, "jobs", lease=True) for _ in range(8)]
    try:
        read_until(readers, 400)
    finally:
        for r in readers:
            r.close()
    counts = [len(r.got) for r in readers]
    assert min(counts) >= 0.5 * sum(counts) / 8, counts  # each gets at least half its share


def test_a_classic_stream_reads_a_thousand_before_its_first_ack(client: Client, server: FilaProcess) -> None:
    client.create_queue("q")
    for i in range(1500):
        client.enqueue("q", str(i))
    with grpc.insecure_channel(server.addr) as ch:
        call = ch.unary_stream("/fila.v1.FilaService/Consume",
                               request_serializer=service_pb2.ConsumeRequest.SerializeToString,
                               response_deserializer=service_pb2.ConsumeResponse.FromString)(
            service_pb2.ConsumeRequest(queue="q"), timeout=30)
        ids = []
        for resp in call:
            ids.append(resp.message.id)
            if len(ids) == 1500:
                break
        assert len(set(ids)) == 1500  # all of them, not one acked
        assert client.get_stats("q").in_flight == 1500
        call.cancel()


def test_a_classic_stream_that_stops_reading_holds_at_most_its_cap(tmp_path: Path) -> None:
    conf = tmp_path / "fila.toml"
    conf.write_text("[lease]\nconsume_max_unacked = 300\n")
    server = FilaProcess(tmp_path / "data", config_file=conf).start()
    try:
        with Client(server.addr, timeout_s=10) as client:
            client.create_queue("q")
            for i in range(3000):
                client.enqueue("q", str(i))
            stalled = client.consume("q")
            next(iter(stalled))  # and never read again
            wait_for(lambda: client.get_stats("q").in_flight >= 100, what="leases")
            held = client.get_stats("q").in_flight
            assert held <= 300, held
            # the rest stays ready for others: a second consumer reads them
            other = client.lease("q", credit=50)
            it = iter(other)
            seen = {next(it).id for _ in range(50)}
            assert len(seen) == 50
            assert client.get_stats("q").in_flight <= 300 + 50
            other.close()
            stalled.close()
    finally:
        server.kill()
