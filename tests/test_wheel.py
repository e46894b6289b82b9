"""The wheel users install (pip, pipx, uvx, the Docker image) holds everything `fila` needs.

Fast part: build the two wheels from what the Docker builder stage copies (the broker's
pyproject.toml, README.md and fila/; the SDK's sdks/python) and look inside. Slow part (FILA_SLOW_TESTS=1; needs PyPI for the dependencies): install
it into a fresh venv and run the installed `fila`: --help, and a broker that takes a queue
with a Lua hook (which needs fila/engine/sandbox.lua).
"""

from __future__ import annotations

import email.parser
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROTOS = sorted(p.stem for p in (ROOT / "proto" / "fila" / "v1").glob("*.proto"))
SLOW = os.environ.get("FILA_SLOW_TESTS") == "1"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Build from a copy holding only what the Docker build context sends, so neither the
    # checkout (build/, *.egg-info) is touched nor a file outside that context is relied on.
    src = tmp_path_factory.mktemp("src")
    shutil.copy2(ROOT / "pyproject.toml", src)
    shutil.copy2(ROOT / "README.md", src)
    shutil.copytree(ROOT / "fila", src / "fila",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    out = tmp_path_factory.mktemp("wheel")
    # Without build isolation (setuptools from this environment, no download) when it has
    # setuptools; venvs of Python 3.12+ do not, and then pip fetches it.
    isolation = [] if importlib.util.find_spec("setuptools") is None else ["--no-build-isolation"]
    run = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", *isolation,
                          "-q", "-w", str(out), str(src)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    wheels = list(out.glob("fila-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


@pytest.fixture(scope="module")
def sdk_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """fila-client, the Python SDK (sdks/python): fila.client and the fila.v1 stubs."""
    src = tmp_path_factory.mktemp("sdk")
    shutil.copytree(ROOT / "sdks" / "python", src / "python",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build"))
    out = tmp_path_factory.mktemp("sdk-wheel")
    isolation = [] if importlib.util.find_spec("setuptools") is None else ["--no-build-isolation"]
    run = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", *isolation,
                          "-q", "-w", str(out), str(src / "python")],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    [found] = list(out.glob("fila_client-*.whl"))
    return found


def _names(wheel: Path) -> set[str]:
    with zipfile.ZipFile(wheel) as zf:
        return set(zf.namelist())


def _dist_info(wheel: Path, name: str) -> str:
    with zipfile.ZipFile(wheel) as zf:
        [path] = [n for n in zf.namelist()
                  if re.fullmatch(r"fila(_client)?-[^/]+\.dist-info/" + name, n)]
        return zf.read(path).decode()


def _requires(wheel: Path) -> set[str]:
    meta = email.parser.Parser().parsestr(_dist_info(wheel, "METADATA"))
    return {re.split(r"[\s<>=!~;\[(]", r, maxsplit=1)[0].lower().replace("_", "-")
            for r in meta.get_all("Requires-Dist") or [] if "extra ==" not in r}


def test_the_sdk_wheel_holds_the_client_and_stubs_and_needs_only_grpc(sdk_wheel: Path) -> None:
    names = _names(sdk_wheel)
    assert "fila/client/__init__.py" in names and "fila/client/py.typed" in names
    assert not [n for n in names if n.startswith("fila/") and not n.startswith(("fila/client/", "fila/v1/"))]
    assert "fila/__init__.py" not in names  # fila is a namespace package
    assert _requires(sdk_wheel) == {"grpcio", "protobuf"}


def test_generated_stubs_are_in_the_wheel(sdk_wheel: Path) -> None:
    names = _names(sdk_wheel)
    assert PROTOS == ["admin", "messages", "service"]
    for stem in PROTOS:
        for suffix in ("_pb2.py", "_pb2_grpc.py", "_pb2.pyi"):
            assert f"fila/v1/{stem}{suffix}" in names, f"fila/v1/{stem}{suffix}"


def test_every_data_file_is_in_the_wheel(wheel: Path) -> None:
    """sandbox.lua (Lua rules), fila_top.tcss (`fila top`), the .pyi stubs: each non-Python
    file in the package must ship, or the installed broker or TUI breaks at run time."""
    names = _names(wheel)
    assert "fila/engine/sandbox.lua" in names
    data = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "fila").rglob("*")
                  if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts)
    missing = [p for p in data if p not in names]
    assert not missing, f"not in the wheel (add to [tool.setuptools.package-data]): {missing}"


def test_every_package_is_in_the_wheel(wheel: Path) -> None:
    names = _names(wheel)
    packages = sorted(str(p.parent.relative_to(ROOT)) for p in (ROOT / "fila").rglob("__init__.py"))
    assert {"fila/engine", "fila/server", "fila/cli", "fila/tui"} <= set(packages)
    assert not [p for p in packages if f"{p}/__init__.py" not in names]
    assert "fila/__init__.py" not in names and not [n for n in names if n.startswith("fila/client/")]


def test_console_scripts(wheel: Path) -> None:
    entry_points = _dist_info(wheel, "entry_points.txt")
    section = entry_points.split("[console_scripts]", 1)[1].split("\n[", 1)[0]
    scripts = dict(re.findall(r"^\s*(\S+)\s*=\s*(\S+)\s*$", section, re.M))
    assert scripts.get("fila") == "fila.cli:main"
    assert scripts.get("fila-cli") == "fila.cli:main"


def test_declared_dependencies(wheel: Path) -> None:
    """What the code imports at run time is declared, so `pip install fila` gets it."""
    required = _requires(wheel)
    needed = {"fila-client", "grpcio", "protobuf", "rocksdict", "lupa", "typer", "prometheus-client"}
    if (ROOT / "fila" / "tui").is_dir():
        needed.add("textual")  # `fila top`
    assert needed <= required, f"missing from [project].dependencies: {sorted(needed - required)}"


def test_no_tests_or_junk_in_the_wheel(wheel: Path) -> None:
    names = _names(wheel)
    assert not [n for n in names if n.startswith(("tests/", "bench/", "scripts/", "proto/"))]
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]


# --- slow: install the wheel into a fresh venv --------------------------------------------

@pytest.fixture(scope="module")
def venv(wheel: Path, sdk_wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not SLOW:
        pytest.skip("set FILA_SLOW_TESTS=1 to install the wheel into a fresh venv (uses PyPI)")
    env_dir = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", str(env_dir)], check=True, timeout=120)
    run = subprocess.run([str(env_dir / "bin" / "python"), "-m", "pip", "install", "-q",
                          "--disable-pip-version-check", str(sdk_wheel), str(wheel)],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    return env_dir


def test_installed_fila_help(venv: Path, tmp_path: Path) -> None:
    for script in ("fila", "fila-cli"):
        run = subprocess.run([str(venv / "bin" / script), "--help"], capture_output=True,
                             text=True, timeout=60, cwd=tmp_path)
        assert run.returncode == 0, run.stderr
        assert "serve" in run.stdout and "queue" in run.stdout


def test_installed_fila_serves_a_queue_with_a_lua_hook(venv: Path, tmp_path: Path) -> None:
    fila = str(venv / "bin" / "fila")
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([fila, "serve", "--listen", "127.0.0.1:0", "--metrics-listen", "off",
                                 "--data-dir", str(tmp_path / "data")],
                                stdout=out, stderr=out, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 30
        while not (m := re.search(r"listening on (\S+):(\d+)", log.read_text(errors="replace"))):
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        addr = f"127.0.0.1:{m.group(2)}"
        hook = tmp_path / "hook.lua"
        hook.write_text("function on_enqueue(msg)\n"
                        "  return { fairness_key = msg.headers.tenant or 'none' }\nend\n")
        run = subprocess.run([fila, "--addr", addr, "queue", "create", "jobs", "--on-enqueue", str(hook)],
                             capture_output=True, text=True, timeout=60, cwd=tmp_path)
        assert run.returncode == 0, run.stdout + run.stderr
        run = subprocess.run([fila, "--addr", addr, "--output", "json", "queue", "list"],
                             capture_output=True, text=True, timeout=60, cwd=tmp_path)
        assert run.returncode == 0 and "jobs" in run.stdout, run.stdout + run.stderr
    finally:
        proc.kill()
        proc.wait(10)
