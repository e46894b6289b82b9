"""fila-client on its own: with nothing of the broker importable (no fila.engine, rocksdict,
lupa, typer, textual), only grpcio and protobuf beside it, it talks to a real `fila serve`."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import google.protobuf
import grpc

from tests.fila_process import FilaProcess

SDK = Path(__file__).resolve().parent.parent  # sdks/python
EXAMPLE = SDK / "examples" / "fair.py"

SCRIPT = """
import sys
from fila.client import Client, NotFound
with Client(sys.argv[1]) as c:
    c.create_queue("q", on_enqueue="function on_enqueue(m) return {fairness_key=m.headers.t} end")
    mid = c.enqueue("q", b"hello", {"t": "acme"})
    with c.lease("q", credit=1) as stream:
        msg = next(iter(stream))
    assert (msg.id, msg.payload, msg.fairness_key, msg.attempt_count) == (mid, b"hello", "acme", 0)
    c.ack("q", msg.id, msg.lease_id)
    try:
        c.ack("q", msg.id, msg.lease_id)
    except NotFound:
        pass
    else:
        raise SystemExit("a second ack of the same message was not refused")
    assert c.get_stats("q").depth == 0
parts = ("rocksdict", "lupa", "typer", "textual", "prometheus_client",
         "fila.engine", "fila.server", "fila.cli", "fila.tui")
broker = [m for m in sys.modules if any(m == p or m.startswith(p + ".") for p in parts)]
assert not broker, broker
print("ok", sorted({m.split(".")[0] for m in sys.modules if m.startswith(("grpc", "google"))}))
"""


def _only_grpc_and_protobuf(tmp_path: Path) -> Path:
    """A directory holding grpc, protobuf (google/) and typing_extensions, as links: with the
    SDK's source, all a subprocess started with -S (no site-packages) can import."""
    deps = tmp_path / "deps"
    deps.mkdir()
    (deps / "grpc").symlink_to(Path(grpc.__file__).parent)
    (deps / "google").symlink_to(Path(google.protobuf.__file__).parent.parent)
    import typing_extensions
    (deps / "typing_extensions.py").symlink_to(typing_extensions.__file__)
    return deps


def test_the_sdk_alone_talks_to_a_broker(server: FilaProcess, tmp_path: Path) -> None:
    deps = _only_grpc_and_protobuf(tmp_path)
    code = f"import sys; sys.path[:0] = [{str(SDK)!r}, {str(deps)!r}]\n" + SCRIPT
    run = subprocess.run([sys.executable, "-S", "-c", code, server.addr], capture_output=True,
                         text=True, timeout=60, env={k: v for k, v in os.environ.items()
                                                     if not k.startswith("PYTHON")})
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.startswith("ok")


def test_the_readme_example_is_the_example_file_and_it_is_fair(server: FilaProcess) -> None:
    readme = (SDK / "README.md").read_text()
    block = re.search(r"<!-- python-example: examples/fair.py -->\n```python\n(.*?)```", readme,
                      re.S)
    assert block and block.group(1) == EXAMPLE.read_text()
    run = subprocess.run([sys.executable, str(EXAMPLE)], capture_output=True, text=True,
                         timeout=60, env={**os.environ, "FILA_ADDR": server.addr})
    assert run.returncode == 0, run.stderr
    printed = run.stdout.strip()
    assert printed == "acme globex initech " * 3 + "acme acme acme acme acme"
    assert f"It prints `{printed}`" in readme
