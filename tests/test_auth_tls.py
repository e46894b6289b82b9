"""API keys, ACLs, TLS and mTLS through the real server."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from fila.client import (
    Client,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unauthenticated,
    Unavailable,
)
from tests.conftest import take, wait_for
from tests.fila_process import FilaProcess, fila_command

BOOT = "boot-secret-for-tests"


@pytest.fixture
def secured(tmp_path: Path):  # noqa: ANN201
    proc = FilaProcess(tmp_path / "data", env={"FILA_BOOTSTRAP_APIKEY": BOOT}).start()
    yield proc
    proc.kill()


def test_auth_requires_a_valid_key(secured: FilaProcess) -> None:
    assert "API keys required" in secured.log_text()
    with Client(secured.addr) as anon, pytest.raises(Unauthenticated, match="missing API key"):
        anon.list_queues()
    with Client(secured.addr, api_key="fila_nope_nope") as bad, pytest.raises(Unauthenticated):
        bad.enqueue("q", b"x")
    with Client(secured.addr, api_key=BOOT) as root:
        root.create_queue("q")
        assert [q.name for q in root.list_queues()] == ["q", "q.dlq"]


def test_acl_kinds_and_patterns(secured: FilaProcess) -> None:
    with Client(secured.addr, api_key=BOOT) as root:
        root.create_queue("orders.eu")
        root.create_queue("billing")
        key_id, key = root.create_api_key("orders-producer")
        assert key.startswith("fila_") and key_id in key
        root.set_acl(key_id, [("produce", "orders.*"), ("consume", "orders.*")])
        assert root.get_acl(key_id) == ([("produce", "orders.*"), ("consume", "orders.*")], False)
        with pytest.raises(InvalidArgument, match=r"permissions\[0\].kind"):
            root.set_acl(key_id, [("write", "*")])
        with pytest.raises(InvalidArgument, match="pattern"):
            root.set_acl(key_id, [("produce", "or*ders")])
    with Client(secured.addr, api_key=key) as c:
        mid = c.enqueue("orders.eu", b"x")
        with pytest.raises(PermissionDenied, match="may not produce on queue 'billing'"):
            c.enqueue("billing", b"x")
        with pytest.raises(PermissionDenied, match="may not admin"):
            c.create_queue("orders.us")
        with pytest.raises(PermissionDenied, match="superadmin"):
            c.create_api_key("mine")
        assert {q.name for q in c.list_queues()} == {"orders.eu", "orders.eu.dlq"}
        [m] = take(c, "orders.eu", 1, ack=True)
        assert m.id == mid


def test_keys_are_stored_hashed_and_survive_restart(secured: FilaProcess) -> None:
    with Client(secured.addr, api_key=BOOT) as root:
        key_id, key = root.create_api_key("app", superadmin=True)
    secured.kill()
    raw = b"".join(p.read_bytes() for p in secured.data_dir.rglob("*") if p.is_file())
    assert key.split("_", 2)[2].encode() not in raw, "the secret is stored in clear"
    secured.start()
    with Client(secured.addr, api_key=key) as c:
        c.create_queue("q")
        assert [k["key_id"] for k in c.list_api_keys()] == [key_id]


def test_revocation_takes_effect_on_the_next_call_and_open_streams(secured: FilaProcess) -> None:
    with Client(secured.addr, api_key=BOOT) as root:
        root.create_queue("q")
        key_id, key = root.create_api_key("worker")
        root.set_acl(key_id, [("consume", "q"), ("produce", "q")])
        with Client(secured.addr, api_key=key) as c:
            c.enqueue("q", b"x")
            stream = c.consume("q")
            it = iter(stream)
            next(it)
            root.revoke_api_key(key_id)
            with pytest.raises(Unauthenticated):
                next(it)  # the open stream is closed
            with pytest.raises(Unauthenticated):
                c.enqueue("q", b"y")
        with pytest.raises(NotFound):
            root.revoke_api_key(key_id)


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_certs(d: Path) -> None:
    """A CA, a server cert for 127.0.0.1/localhost, and a client cert, all signed by the CA."""
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=test-ca",
             "-keyout", "ca.key", "-out", "ca.pem", cwd=d)
    (d / "san.cnf").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    for name in ("server", "client"):
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}",
                 "-keyout", f"{name}.key", "-out", f"{name}.csr", cwd=d)
        extra = ["-extfile", "san.cnf"] if name == "server" else []
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                 "-CAcreateserial", "-days", "2", "-out", f"{name}.pem", *extra, cwd=d)


def test_tls_and_mtls(tmp_path: Path) -> None:
    certs = tmp_path / "certs"
    certs.mkdir()
    make_certs(certs)
    tls = FilaProcess(tmp_path / "tls", extra_args=[
        "--tls-cert", str(certs / "server.pem"), "--tls-key", str(certs / "server.key")]).start()
    try:
        assert ", TLS" in tls.log_text()
        with Client(tls.addr, ca_file=str(certs / "ca.pem"), timeout_s=5) as c:
            c.create_queue("q")
        with Client(tls.addr, timeout_s=2) as plain, pytest.raises(Unavailable):
            plain.list_queues()
        cli = subprocess.run(
            [*fila_command(), "--addr", tls.addr, "--ca-file", str(certs / "ca.pem"),
             "--output", "json", "queue", "list"], capture_output=True, text=True, timeout=60)
        assert cli.returncode == 0, cli.stderr
        assert '"q"' in cli.stdout
    finally:
        tls.kill()
    mtls = FilaProcess(tmp_path / "mtls", extra_args=[
        "--tls-cert", str(certs / "server.pem"), "--tls-key", str(certs / "server.key"),
        "--tls-ca", str(certs / "ca.pem")]).start()
    try:
        assert "client certificates required" in mtls.log_text()
        with Client(mtls.addr, ca_file=str(certs / "ca.pem"), timeout_s=2) as no_cert:
            with pytest.raises(Unavailable):
                no_cert.list_queues()
        with Client(mtls.addr, ca_file=str(certs / "ca.pem"), cert_file=str(certs / "client.pem"),
                    key_file=str(certs / "client.key"), timeout_s=5) as c:
            c.create_queue("q")
            assert wait_for(lambda: c.list_queues(), what="queues")
    finally:
        mtls.kill()


def test_narrowing_an_acl_closes_open_streams_at_the_next_delivery(secured: FilaProcess) -> None:
    with Client(secured.addr, api_key=BOOT) as root:
        root.create_queue("q")
        key_id, key = root.create_api_key("worker")
        root.set_acl(key_id, [("consume", "q")])
        root.enqueue("q", b"1")
        with Client(secured.addr, api_key=key) as c:
            stream = c.lease("q", credit=1)
            it = iter(stream)
            first = next(it)
            root.set_acl(key_id, [("consume", "other")])  # no longer allowed on q
            root.enqueue("q", b"2")
            root.ack("q", first.id, first.lease_id)  # frees the credit: a delivery is due
            with pytest.raises(PermissionDenied, match="no longer may consume"):
                next(it)
            stream.close()


def test_admin_changes_are_logged_with_the_key_that_made_them(secured: FilaProcess) -> None:
    with Client(secured.addr, api_key=BOOT) as root:
        key_id, key = root.create_api_key("ops-alice")
        root.set_acl(key_id, [("admin", "*")])
    with Client(secured.addr, api_key=key) as alice:
        alice.create_queue("audited")
        alice.set_config("feature.x", "on")
    log = secured.log_text()
    assert "admin change rpc=CreateQueue target=audited api_key=ops-alice" in log
    assert "admin change rpc=SetConfig target=feature.x api_key=ops-alice" in log
    assert "rpc=CreateApiKey target=ops-alice api_key=bootstrap" in log
