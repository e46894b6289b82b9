"""`fila enqueue`, `consume`, `ack` and `nack` against a real broker."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
from pathlib import Path

from fila.client import Client, QueueConfig
from tests.conftest import take
from tests.fila_process import FilaProcess, fila_command
from tests.test_cli import TENANT_HOOK, assert_error, fila, fila_json

MESSAGE_FIELDS = {"id", "queue", "fairness_key", "weight", "throttle_keys", "attempt_count",
                  "headers", "payload", "payload_encoding", "enqueued_at", "leased_at",
                  "last_error", "lease_id"}


def test_enqueue_one_message_with_headers(server: FilaProcess, client: Client) -> None:
    client.create_queue("jobs", on_enqueue=TENANT_HOOK)
    r = fila(server.addr, "enqueue", "jobs", "-H", "tenant=acme", "--header", "kind=a=b",
             "--payload", "hello")
    assert r.exit_code == 0, r.stderr
    mid = r.stdout.strip()
    [msg] = take(client, "jobs", 1)
    assert (msg.id, msg.payload, msg.headers, msg.fairness_key) == (
        mid, b"hello", {"tenant": "acme", "kind": "a=b"}, "acme")

    assert_error(fila(server.addr, "enqueue", "jobs", "-H", "novalue", "-p", "x"), 2, "name=value")
    assert_error(fila(server.addr, "enqueue", "jobs", "-H", "=v", "-p", "x"), 2, "name=value")
    assert_error(fila(server.addr, "enqueue", "nope", "-p", "x"), 3, "'nope' does not exist")
    assert_error(fila(server.addr, "enqueue", "jobs", "-p", "@/no/such/file"), 2,
                 "cannot read --payload file")
    assert_error(fila(server.addr, "enqueue", "jobs", "-p", "x" * (1024 * 1024 + 1)), 2,
                 "error: payload is 1048577 bytes, over the limit")


def test_enqueue_lines_from_stdin_in_order(server: FilaProcess, client: Client) -> None:
    client.create_queue("jobs")
    r = fila(server.addr, "enqueue", "jobs", "-H", "src=cli", input="one\ntwo\r\n\nthree\n")
    assert r.exit_code == 0, r.stderr
    ids = r.stdout.split()
    assert len(ids) == 3
    got = take(client, "jobs", 3)
    assert [(m.id, m.payload, m.headers) for m in got] == [
        (ids[0], b"one", {"src": "cli"}), (ids[1], b"two", {"src": "cli"}),
        (ids[2], b"three", {"src": "cli"})]

    doc = fila_json(server.addr, "enqueue", "jobs", "--payload", "-", input="a\nb\n")
    assert set(doc) == {"queue", "message_ids"} and doc["queue"] == "jobs"
    assert len(doc["message_ids"]) == 2
    r = fila(server.addr, "enqueue", "jobs", "-p", "-", input="")  # nothing to send: say so
    assert r.exit_code == 2 and "no messages on stdin" in r.stderr
    assert client.get_stats("jobs").depth == 2


def test_enqueue_whole_files_and_stdin(server: FilaProcess, client: Client, tmp_path: Path) -> None:
    client.create_queue("jobs")
    blob = bytes(range(256))
    path = tmp_path / "blob.bin"
    path.write_bytes(blob)
    [from_file] = fila_json(server.addr, "enqueue", "jobs", "--payload", f"@{path}")["message_ids"]
    [from_stdin] = fila_json(server.addr, "enqueue", "jobs", "-p", "@-",
                             input="line 1\nline 2\n")["message_ids"]
    got = {m.id: m.payload for m in take(client, "jobs", 2)}
    assert got == {from_file: blob, from_stdin: b"line 1\nline 2\n"}


def test_bulk_enqueue_keeps_order_across_batches(server: FilaProcess, client: Client) -> None:
    client.create_queue("jobs")
    lines = [f"m{i}" for i in range(250)]
    r = fila(server.addr, "enqueue", "jobs", input="\n".join(lines) + "\n")
    assert r.exit_code == 0, r.stderr
    ids = r.stdout.split()
    assert len(ids) == 250
    got = take(client, "jobs", 250, ack=True)
    assert [m.id for m in got] == ids
    assert [m.payload.decode() for m in got] == lines


def test_bulk_enqueue_reports_a_refused_message(server: FilaProcess, client: Client) -> None:
    client.create_queue("jobs")
    too_big = "x" * (1024 * 1024 + 1)
    text = f"a\nb\n{too_big}\nc\n"
    r = fila(server.addr, "enqueue", "jobs", input=text)
    assert_error(r, 2, "1 of 4 messages refused; message 3: payload is 1048577 bytes, over the limit")
    assert len(r.stdout.split()) == 3  # a, b and c made it, and their ids are printed
    r = fila(server.addr, "--output", "json", "enqueue", "jobs", input=text)
    assert r.exit_code == 2 and len(json.loads(r.stdout)["message_ids"]) == 3
    assert client.get_stats("jobs").depth == 6


def test_consume_never_leases_more_than_max(server: FilaProcess, client: Client) -> None:
    client.create_queue("jobs")
    for i in range(10):
        client.enqueue("jobs", f"m{i}".encode())
    docs = fila_json(server.addr, "consume", "jobs", "--ack", "--max", "3")
    assert [d["payload"] for d in docs] == ["m0", "m1", "m2"]
    stats = client.get_stats("jobs")
    assert (stats.depth, stats.in_flight) == (7, 0)
    assert len(fila_json(server.addr, "consume", "jobs", "--max", "2")) == 2  # no --ack
    stats = client.get_stats("jobs")
    assert (stats.depth, stats.in_flight) == (5, 2)
    docs = fila_json(server.addr, "consume", "jobs", "--ack", "--timeout-s", "0.5")
    assert [d["payload"] for d in docs] == ["m5", "m6", "m7", "m8", "m9"]
    stats = client.get_stats("jobs")
    assert (stats.depth, stats.in_flight) == (0, 2)


def test_consume_prints_and_acks(server: FilaProcess, client: Client) -> None:
    client.create_queue("jobs", on_enqueue=TENANT_HOOK)
    text_id = client.enqueue("jobs", "héllo\nworld", {"tenant": "acme"})
    bin_id = client.enqueue("jobs", b"\x00\xff\x10", {"tenant": "beta"})
    docs = fila_json(server.addr, "consume", "jobs", "--ack", "--max", "2")
    assert [set(d) for d in docs] == [MESSAGE_FIELDS, MESSAGE_FIELDS]
    by_id = {d["id"]: d for d in docs}
    t, b = by_id[text_id], by_id[bin_id]
    assert (t["queue"], t["fairness_key"], t["weight"], t["throttle_keys"], t["attempt_count"]) == (
        "jobs", "acme", 1, ["t"], 0)
    assert (t["headers"], t["payload"], t["payload_encoding"]) == (
        {"tenant": "acme"}, "héllo\nworld", "utf-8")
    assert t["enqueued_at"].endswith("Z") and t["leased_at"].endswith("Z") and t["last_error"] == ""
    assert (b["payload_encoding"], base64.b64decode(b["payload"])) == ("base64", b"\x00\xff\x10")
    stats = client.get_stats("jobs")
    assert (stats.depth, stats.in_flight) == (0, 0)

    mid = client.enqueue("jobs", b"plain", {"tenant": "acme", "x": "1"})
    r = fila(server.addr, "consume", "jobs", "-n", "1", "--ack")
    assert r.exit_code == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[:4] == [f"id:            {mid}", "fairness key:  acme", "attempts:      0",
                         "headers:       tenant=acme x=1"]
    assert "throttle keys: t" in lines and "payload:       plain" in lines
    client.enqueue("jobs", b"\x01\x02")
    r = fila(server.addr, "consume", "jobs", "-n", "1", "--ack")
    assert "payload (base64): AQI=" in r.stdout


def test_consume_stops_when_idle_and_keeps_leases_without_ack(server: FilaProcess,
                                                               client: Client) -> None:
    client.create_queue("jobs")
    assert fila_json(server.addr, "consume", "jobs", "--timeout-s", "0.2") == []
    assert fila_json(server.addr, "consume", "jobs", "--max", "0") == []
    mid = client.enqueue("jobs", b"x")
    [doc] = fila_json(server.addr, "consume", "jobs", "--timeout-s", "0.3")
    assert doc["id"] == mid
    assert client.get_stats("jobs").in_flight == 1  # leased, not acked: it waits for `fila ack`
    assert fila_json(server.addr, "ack", "jobs", mid) == {"queue": "jobs", "id": mid, "acked": True}
    assert client.get_stats("jobs").in_flight == 0
    assert_error(fila(server.addr, "consume", "nope", "--timeout-s", "5"), 3, "'nope' does not exist")


def test_ack_and_nack(server: FilaProcess, client: Client) -> None:
    client.create_queue("jobs", QueueConfig(retry_backoff_base_ms=1))
    mid = client.enqueue("jobs", b"work")
    [msg] = take(client, "jobs", 1)
    r = fila(server.addr, "nack", "jobs", msg.id, "--error", "smtp 451")
    assert r.exit_code == 0 and r.stdout == f"nacked {mid}\n"
    [again] = take(client, "jobs", 1)
    assert (again.id, again.attempt_count, again.last_error) == (mid, 1, "smtp 451")
    assert fila_json(server.addr, "nack", "jobs", mid) == {"queue": "jobs", "id": mid, "nacked": True}
    [third] = take(client, "jobs", 1)
    r = fila(server.addr, "ack", "jobs", third.id)
    assert r.exit_code == 0 and r.stdout == f"acked {mid}\n"
    assert_error(fila(server.addr, "ack", "jobs", mid), 3, "not leased")
    assert_error(fila(server.addr, "nack", "jobs", mid), 3, "not leased")
    assert_error(fila(server.addr, "ack", "nope", mid), 3, "'nope' does not exist")
    assert_error(fila(server.addr, "ack", "jobs", ""), 2, "message_id")


def test_bulk_enqueue_shows_progress_only_on_a_terminal(server: FilaProcess, client: Client) -> None:
    client.create_queue("jobs")
    master, slave = os.openpty()
    try:
        proc = subprocess.run(
            [*fila_command(), "--addr", server.addr, "enqueue", "jobs"],
            input=b"a\nb\nc\n", stdout=subprocess.PIPE, stderr=slave, timeout=60,
        )
        os.close(slave)
        slave = -1
        tty_text = b""
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: every writer has closed the terminal
                break
            if not chunk:
                break
            tty_text += chunk
    finally:
        if slave >= 0:
            os.close(slave)
        os.close(master)
    assert proc.returncode == 0
    assert len(proc.stdout.split()) == 3  # the ids still go to stdout, not to the terminal
    assert b"enqueued 3 messages" in tty_text
    r = fila(server.addr, "enqueue", "jobs", input="d\n")  # stderr is not a terminal: no bar
    assert r.exit_code == 0 and r.stderr == ""
    assert client.get_stats("jobs").depth == 4


def test_enqueue_without_payload_from_a_terminal_is_a_usage_error(server: FilaProcess) -> None:
    master, slave = os.openpty()
    try:
        proc = subprocess.run([*fila_command(), "--addr", server.addr, "enqueue", "jobs"],
                              stdin=slave, capture_output=True, timeout=60)
    finally:
        os.close(slave)
        os.close(master)
    assert proc.returncode == 2
    assert proc.stderr.decode().splitlines() == [
        "error: give --payload, or pipe messages on stdin (one per line)"]


def test_ctrl_c_while_reading_a_terminal_exits_cleanly(server: FilaProcess, client: Client) -> None:
    client.create_queue("jobs")
    master, slave = os.openpty()
    proc = subprocess.Popen([*fila_command(), "--addr", server.addr, "enqueue", "jobs", "-p", "-"],
                            stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        os.write(master, b"typed by hand\n")
        assert proc.stdout is not None
        first_id = proc.stdout.readline().decode().strip()  # enqueued before EOF
        assert first_id
        proc.send_signal(signal.SIGINT)  # while it waits for the next line
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(slave)
        os.close(master)
    assert proc.returncode == 130, err
    assert b"Fatal" not in err and b"Traceback" not in err
    [msg] = take(client, "jobs", 1)
    assert (msg.id, msg.payload) == (first_id, b"typed by hand")
