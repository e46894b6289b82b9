"""The fair-scheduling demo: `fila demo`.

Starts a broker (unless --addr points at one), then:
  1. fairness: tenant A enqueues 900 messages, B-E 25 each; of the first 100 deliveries each
     tenant gets about 20, where FIFO would have given all 100 to A;
  2. throttling: A is limited to 50 msg/s; B-E are still served at full speed while A
     drains at 50/s.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from fila.client import Client, FilaError, NotFound

QUEUE = "demo"
HOOK = """
-- fairness by tenant, and a throttle key per tenant
function on_enqueue(msg)
  local tenant = msg.headers.tenant or "anonymous"
  return { fairness_key = tenant, throttle_keys = { "tenant:" .. tenant } }
end
"""
TENANTS = ["A", "B", "C", "D", "E"]


def _say(text: str = "") -> None:
    print(text, flush=True)


def _fill(c: Client, per_tenant: dict[str, int]) -> list[str]:
    order = []
    for tenant, n in per_tenant.items():
        for i in range(n):
            c.enqueue(QUEUE, f"{tenant}-{i}".encode(), {"tenant": tenant})
            order.append(tenant)
    return order


def _bar(n: int, scale: int = 1) -> str:
    return "#" * (n // scale)


def fairness(c: Client) -> None:
    counts = {"A": 900, "B": 25, "C": 25, "D": 25, "E": 25}
    _say("1. Fair scheduling")
    _say("   enqueueing 900 messages from tenant A, then 25 from each of B, C, D, E ...")
    fifo_order = _fill(c, counts)
    got: Counter[str] = Counter()
    with c.consume(QUEUE) as stream:
        for i, msg in enumerate(stream):
            got[msg.headers["tenant"]] += 1
            c.ack(QUEUE, msg.id)
            if i == 99:
                break
    fifo = Counter(fifo_order[:100])
    _say("   first 100 deliveries per tenant:")
    _say("   tenant   fila (DRR)              FIFO would give")
    for t in TENANTS:
        _say(f"   {t:<8} {got[t]:>3} {_bar(got[t], 2):<20} {fifo[t]:>3} {_bar(fifo[t], 5)}")
    _say()


def throttling(c: Client, seconds: float = 3.0) -> None:
    _say("2. Throttling: tenant A limited to 50 msg/s (runtime config, no restart)")
    c.set_throttle("tenant:A", 50, 10)
    c.delete_queue(QUEUE)
    c.create_queue(QUEUE, on_enqueue=HOOK)
    _fill(c, {"A": 400, "B": 100, "C": 100, "D": 100, "E": 100})
    done_at: dict[str, float] = {}
    got: Counter[str] = Counter()
    start = time.monotonic()
    with c.consume(QUEUE) as stream:
        for msg in stream:
            tenant = msg.headers["tenant"]
            got[tenant] += 1
            c.ack(QUEUE, msg.id)
            now = time.monotonic() - start
            if tenant != "A" and got[tenant] == 100:
                done_at[tenant] = now
            if now >= seconds:
                break
    elapsed = time.monotonic() - start
    for t in TENANTS[1:]:
        when = f"all 100 in {done_at[t]:.2f} s" if t in done_at else f"{got[t]} of 100"
        _say(f"   {t}: {when}")
    rate = got["A"] / elapsed
    _say(f"   A: {got['A']} in {elapsed:.1f} s = {rate:.0f} msg/s "
         "(the throttle holds A back in the broker; no consumer ever saw a message it had to put back)")
    c.set_config("throttle.tenant:A", "")
    _say()


def run(c: Client) -> None:
    try:
        c.delete_queue(QUEUE)
    except NotFound:
        pass
    c.create_queue(QUEUE, on_enqueue=HOOK)
    fairness(c)
    throttling(c)
    c.delete_queue(QUEUE)
    _say("Done. Try it yourself: fila serve, then see README.md.")


_LISTENING = re.compile(rb"listening on (\S+):(\d+)")


class DemoBroker:
    """The broker the demo starts: on free ports (gRPC and metrics) unless told where, so it
    runs beside anything else on the machine; its log goes to `log`."""

    def __init__(self, data_dir: str, listen: str) -> None:
        self.log = Path(data_dir + ".log") if data_dir else Path("fila-demo.log")
        # A compiled `fila` (scripts/build_binary.py) has no interpreter to run `-m fila`
        # with: it starts itself instead.
        me = [sys.argv[0]] if "__compiled__" in globals() else [sys.executable, "-m", "fila"]
        cmd = [*me, "serve", "--listen", listen or "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0"]
        if data_dir:
            cmd += ["--data-dir", data_dir]
        self._offset = self.log.stat().st_size if self.log.exists() else 0
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=out, env=dict(os.environ))

    def address(self, timeout_s: float = 20.0) -> str | None:
        """HOST:PORT once the broker says it listens; None if it exited or never did."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self.log.open("rb") as f:
                f.seek(self._offset)
                m = _LISTENING.search(f.read())
            if m:
                return f"{m.group(1).decode()}:{m.group(2).decode()}"
            if self.proc.poll() is not None:
                return None
            time.sleep(0.05)
        return None

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def main(addr: str | None, data_dir: str, listen: str) -> int:
    broker = None
    if addr is None:
        _say(f"Starting a broker (data in {data_dir or 'the default ./fila-data'}) ...")
        broker = DemoBroker(data_dir, listen)
        addr = broker.address()
        if addr is None:
            _say(f"the broker did not start; see {broker.log}")
            broker.stop()
            return 1
    try:
        with Client(addr, timeout_s=10, reconnect=None) as c:
            deadline = time.monotonic() + 20
            while True:
                try:
                    c.list_queues()
                    break
                except FilaError:
                    if broker is not None and broker.proc.poll() is not None:
                        _say(f"the broker stopped; see {broker.log}")
                        return 1
                    if time.monotonic() > deadline:
                        _say(f"no broker answered on {addr}")
                        return 1
                    time.sleep(0.1)
            run(c)
    finally:
        if broker is not None:
            broker.stop()
            _say("Broker stopped.")
    return 0
