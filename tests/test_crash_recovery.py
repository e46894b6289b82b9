"""kill -9 the real server mid-stream and check nothing confirmed is lost or comes back."""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path

from fila.client import Client, FilaError, QueueConfig
from tests.conftest import take, wait_for
from tests.fila_process import FilaProcess

HOOK = "function on_enqueue(msg) return {fairness_key = msg.headers.tenant} end"


def all_ids(c: Client, queue: str) -> set[str]:
    return {m.id for m in c.peek(queue, limit=10_000)}


def test_kill_9_mid_stream_loses_no_confirmed_message(tmp_path: Path) -> None:
    proc = FilaProcess(tmp_path / "data").start()
    with Client(proc.addr, timeout_s=5, reconnect=None) as c:  # no retries: it watches failures
        c.create_queue("jobs", on_enqueue=HOOK)
    enqueued: set[str] = set()
    acked: set[str] = set()
    ack_sent: set[str] = set()
    lock = threading.Lock()
    stop = threading.Event()

    def produce(n: int) -> None:
        with Client(proc.addr, timeout_s=5, reconnect=None) as c:  # no retries: it watches failures
            i = 0
            while not stop.is_set():
                try:
                    mid = c.enqueue("jobs", b"x" * 100, {"tenant": f"t{n}-{i % 7}"})
                except FilaError:
                    return  # the server died: this one was not confirmed
                with lock:
                    enqueued.add(mid)
                i += 1

    def consume() -> None:
        with Client(proc.addr, timeout_s=5, reconnect=None) as c:  # no retries: it watches failures
            try:
                with c.consume("jobs") as stream:
                    for msg in stream:
                        with lock:
                            ack_sent.add(msg.id)  # applied or not, if the crash eats the answer
                        c.ack("jobs", msg.id)
                        with lock:
                            acked.add(msg.id)
                        if stop.is_set():
                            return
            except FilaError:
                return

    threads = [threading.Thread(target=produce, args=(n,)) for n in range(3)]
    threads.append(threading.Thread(target=consume))
    for t in threads:
        t.start()
    wait_for(lambda: len(acked) > 50 and len(enqueued) > 200, what="traffic")
    time.sleep(random.uniform(0.0, 0.2))  # kill at a random moment of live traffic
    proc.kill()
    stop.set()
    for t in threads:
        t.join(10)
    proc.start()
    with Client(proc.addr, timeout_s=5, reconnect=None) as c:  # no retries: it watches failures
        present = all_ids(c, "jobs")
    assert enqueued - ack_sent <= present, "a confirmed message was lost"
    assert not (acked & present), "a confirmed ack came back"
    assert "recovery finished" in proc.log_text() and "messages=" in proc.log_text()
    proc.kill()


def test_restart_keeps_queues_scripts_config_and_order(tmp_path: Path) -> None:
    proc = FilaProcess(tmp_path / "data").start()
    with Client(proc.addr, timeout_s=5, reconnect=None) as c:  # no retries: it watches failures
        c.create_queue("jobs", on_enqueue=HOOK, visibility_timeout_ms=1234)
        c.set_config("app.mode", "blue")
        c.set_throttle("tenant:a", 5, 2)
        ids = [c.enqueue("jobs", str(i), {"tenant": "a"}) for i in range(5)]
    proc.kill()
    proc.start()
    with Client(proc.addr, timeout_s=5, reconnect=None) as c:  # no retries: it watches failures
        cfg, _ = c.get_queue("jobs")
        assert cfg.on_enqueue_script == HOOK and cfg.visibility_timeout_ms == 1234
        assert c.get_config("app.mode") == "blue"
        assert c.list_config("throttle.") == {"throttle.tenant:a": "5,2"}
        got = take(c, "jobs", 5)
        assert [m.id for m in got] == ids  # FIFO within the key survives recovery
        assert all(m.fairness_key == "a" for m in got)
        new_id = c.enqueue("jobs", b"after", {"tenant": "a"})
        assert new_id not in ids
    proc.kill()


def test_leased_message_is_ready_again_after_a_crash(tmp_path: Path) -> None:
    proc = FilaProcess(tmp_path / "data").start()
    with Client(proc.addr, timeout_s=5, reconnect=None) as c:  # no retries: it watches failures
        c.create_queue("jobs", QueueConfig(visibility_timeout_ms=60_000))
        mid = c.enqueue("jobs", b"x")
        [msg] = take(c, "jobs", 1)
        assert msg.id == mid
    proc.kill()
    proc.start()
    with Client(proc.addr, timeout_s=5, reconnect=None) as c:  # no retries: it watches failures
        [again] = take(c, "jobs", 1)
        assert again.id == mid
        c.ack("jobs", again.id)
        assert c.get_stats("jobs").depth == 0
    proc.kill()


def test_sigterm_shuts_down_cleanly_and_keeps_everything(tmp_path: Path) -> None:
    proc = FilaProcess(tmp_path / "data").start()
    with Client(proc.addr, timeout_s=5, reconnect=None) as c:  # no retries: it watches failures
        c.create_queue("jobs")
        ids = {c.enqueue("jobs", str(i)) for i in range(20)}
    assert proc.terminate() == 0
    assert "stopped" in proc.log_text()
    proc.start()
    with Client(proc.addr, timeout_s=5, reconnect=None) as c:  # no retries: it watches failures
        assert all_ids(c, "jobs") == ids
    proc.kill()


def test_data_dir_in_use_is_refused(tmp_path: Path) -> None:
    first = FilaProcess(tmp_path / "data").start()
    second = FilaProcess(tmp_path / "data")
    second.log_path = tmp_path / "second.log"
    try:
        second.start()
        raise AssertionError("a second broker opened a data dir in use")
    except RuntimeError as exc:
        assert "in use by another Fila process" in str(exc)
    finally:
        first.kill()
