"""Exit codes and error lines of `fila`, including real subprocesses (no tracebacks, env vars)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from fila import errors
from fila.cli.errors import ExitCode, describe
from fila.client import Client
from tests.fila_process import FilaProcess, fila_command
from tests.test_cli import assert_error, fila


def run(*args: str, env: dict[str, str] | None = None, stdin: bytes = b"") -> subprocess.CompletedProcess[str]:
    """The real console program, as a script would run it."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("FILA_")}
    return subprocess.run([*fila_command(), *args], input=stdin.decode(), capture_output=True,
                          text=True, env={**base, **(env or {})}, timeout=60)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_unreachable_broker_is_exit_5_with_one_line() -> None:
    addr = f"127.0.0.1:{closed_port()}"
    p = run("--addr", addr, "queue", "list")
    assert p.returncode == 5
    assert p.stdout == ""
    assert p.stderr == (f"error: cannot reach a Fila broker at {addr} — is `fila serve` running? "
                        "(set --addr or FILA_ADDR)\n")
    for args in (["enqueue", "q", "-p", "x"], ["consume", "q", "--timeout-s", "5"],
                 ["config", "get", "k"], ["stats", "q"], ["dlq", "peek", "q"],
                 ["throttle", "set", "k", "--rate", "1"], ["queue", "update", "q", "--max-attempts", "2"]):
        assert_error(fila(addr, *args), 5, f"cannot reach a Fila broker at {addr}")


def test_expected_errors_never_print_a_traceback(server: FilaProcess) -> None:
    p = run("--addr", server.addr, "stats", "nope")
    assert (p.returncode, p.stdout) == (3, "")
    assert p.stderr == ("error: queue 'nope' does not exist — `fila queue list` shows the queues "
                        "there are\n")
    p = run("--addr", server.addr, "queue", "create")
    assert p.returncode == 2
    assert p.stderr == "error: missing argument 'name' — see `fila queue create --help`\n"
    p = run("--addr", server.addr, "--output", "yaml", "queue", "list")
    assert p.returncode == 2 and p.stderr.startswith("error: invalid value for '--output'")
    assert len(p.stderr.splitlines()) == 1
    p = run("--addr", server.addr, "nosuchcommand")
    assert p.returncode == 2 and p.stderr.startswith("error: no such command 'nosuchcommand'")
    p = run("--addr", server.addr, "throttle", "set", "k", "--rate", "abc")
    assert p.returncode == 2 and p.stderr.startswith("error: invalid value for '--rate'")
    assert "Traceback" not in p.stderr


def test_environment_sets_the_global_options(server: FilaProcess, client: Client) -> None:
    client.create_queue("jobs")
    p = run("queue", "list", env={"FILA_ADDR": server.addr, "FILA_OUTPUT": "json",
                                  "FILA_API_KEY": "secret"})
    assert p.returncode == 0, p.stderr
    assert [q["name"] for q in json.loads(p.stdout)] == ["jobs", "jobs.dlq"]
    r = fila(server.addr, "--api-key", "k", "--output", "json", "config", "list")
    assert r.exit_code == 0 and json.loads(r.stdout) == []
    r = fila(server.addr, "config", "list", env={"FILA_OUTPUT": "json"})
    assert json.loads(r.stdout) == []


def _err(cls: type[errors.FilaError], msg: str, code_name: str | None = None) -> errors.FilaError:
    exc = cls(msg)
    if code_name:
        exc.code_name = code_name
    return exc


@pytest.mark.parametrize(("exc", "code", "fragment"), [
    (_err(errors.InvalidArgument, "limit must be at most 10000"), ExitCode.USAGE, "at most 10000"),
    (_err(errors.NotFound, "message 'm' is not leased"), ExitCode.NOT_FOUND, "not leased"),
    (_err(errors.AlreadyExists, "queue 'q' already exists"), ExitCode.ALREADY_EXISTS, "fila queue update"),
    (_err(errors.FailedPrecondition, "'q.dlq' is a dead-letter queue"), ExitCode.REFUSED, "dead-letter"),
    (_err(errors.ResourceExhausted, "too many consumers"), ExitCode.REFUSED, "retry later"),
    (_err(errors.Unauthenticated, "no key"), ExitCode.REFUSED, "--api-key"),
    (_err(errors.PermissionDenied, "denied"), ExitCode.REFUSED, "ask an admin"),
    (_err(errors.FilaError, "nope", "UNIMPLEMENTED"), ExitCode.REFUSED, "does not support"),
    (_err(errors.FilaError, "slow", "DEADLINE_EXCEEDED"), ExitCode.UNAVAILABLE, "did not answer in time"),
    (_err(errors.Unavailable, "storage write failed: disk full"), ExitCode.UNAVAILABLE, "retry later"),
    (_err(errors.Unavailable, "failed to connect to all addresses"), ExitCode.UNAVAILABLE, "cannot reach"),
    (_err(errors.FilaError, "boom\nat line 2", "INTERNAL"), ExitCode.UNEXPECTED, "(INTERNAL): boom at line 2"),
])
def test_every_broker_error_has_its_exit_code(exc: errors.FilaError, code: ExitCode, fragment: str) -> None:
    got, line = describe(exc, "h:1")
    assert got is code
    assert fragment in line and "\n" not in line


def test_exit_codes_are_the_documented_numbers() -> None:
    assert [int(c) for c in ExitCode] == [0, 1, 2, 3, 4, 5, 6]


def test_api_key_is_sent(make_server: Callable[..., FilaProcess]) -> None:
    server = make_server(env={"FILA_BOOTSTRAP_APIKEY": "root-key"})
    assert_error(fila(server.addr, "queue", "list"), 6, "--api-key")
    assert_error(fila(server.addr, "--api-key", "wrong", "consume", "q", "-t", "5"), 6, "--api-key")
    r = fila(server.addr, "--api-key", "root-key", "queue", "create", "jobs")
    assert r.exit_code == 0, r.stderr
    r = fila(server.addr, "enqueue", "jobs", "-p", "x", env={"FILA_API_KEY": "root-key"})
    assert r.exit_code == 0, r.stderr
    docs = json.loads(fila(server.addr, "-o", "json", "--api-key", "root-key", "consume", "jobs",
                           "--ack", "-n", "1").stdout)
    assert [d["payload"] for d in docs] == ["x"]


def test_serve_on_a_busy_port_says_so_in_one_line_and_creates_nothing(tmp_path: Path) -> None:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        data = tmp_path / "data"
        r = run("serve", "--listen", f"127.0.0.1:{port}", "--data-dir", str(data),
                "--metrics-listen", "off")
        assert r.returncode == 2
        out = r.stdout + r.stderr
        assert f"cannot listen on 127.0.0.1:{port}: Address already in use" in out
        assert "add_port" not in out and "GRPC_VERBOSITY" not in out  # no gRPC internals
        assert not data.exists()
        r = run("serve", "--listen", "127.0.0.1:0", "--data-dir", str(data),
                "--metrics-listen", f"127.0.0.1:{port}")
        assert r.returncode == 2 and "--metrics-listen" in r.stdout + r.stderr
        assert not data.exists()


def test_an_address_without_a_port_or_a_host_that_does_not_resolve_is_a_usage_error() -> None:
    r = run("--addr", "localhost", "queue", "list")
    assert r.returncode == 2 and "needs a port" in r.stderr
    r = run("queue", "list", "--addr", "no-such-host.invalid:5555")  # after the subcommand too
    assert r.returncode == 2 and "does not resolve" in r.stderr


def test_connection_and_output_options_work_after_the_subcommand(server: FilaProcess) -> None:
    Client(server.addr).create_queue("q")
    r = run("stats", "q", "--output", "json", "--addr", server.addr)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["queue"] == "q"
    r = run("queue", "create", "q2", f"--addr={server.addr}", "-o", "json")
    assert r.returncode == 0 and json.loads(r.stdout) == {"queue": "q2", "dlq": "q2.dlq"}
    r = run("-o", "json", "enqueue", "q", "--addr", server.addr, stdin=b"")
    assert r.returncode == 2 and "no messages on stdin" in r.stderr


def test_consume_as_json_interrupted_before_any_message_prints_an_empty_list(server: FilaProcess) -> None:
    import signal

    from tests.conftest import wait_for

    c = Client(server.addr)
    c.create_queue("q")
    base = {k: v for k, v in os.environ.items() if not k.startswith("FILA_")}
    proc = subprocess.Popen([*fila_command(), "--addr", server.addr, "-o", "json", "consume", "q",
                             "--ack"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=base)
    try:
        wait_for(lambda: c.get_stats("q").active_consumers == 1, what="the consumer")
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert json.loads(out) == []
