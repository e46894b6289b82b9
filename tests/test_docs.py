"""The docs are tested like code: every marked example runs against a real broker.

How a document marks its examples (see docs/index.md, "How the examples are tested"): an HTML
comment on the line before a fenced code block, invisible when the Markdown is rendered.

    <!-- run -->              run the next ```sh / ```bash / ```python block; it must exit 0
    <!-- run exit=N -->       run it; it must exit with code N
    <!-- file: NAME -->       write the next block's text to NAME (a hook, a config file, ...)
    <!-- output -->           the next block must equal the stdout of the last block run;
                              "..." in it matches any text (like doctest's ELLIPSIS)
    <!-- broker: K=V ... -->  environment for this document's broker (before its first run);
                              config=FILE starts it with --config FILE (a `file:` block)
    <!-- restart-broker -->   stop the broker with SIGTERM and start it again on its data dir
    <!-- crash-broker -->     kill -9 the broker and start it again on its data dir

README.md is run the same way, its blocks in order, from a directory that has this
checkout's `.venv` and `examples/`. Each document with a `run` block gets its own broker (tests/fila_process.py), started on a
free port just before its first block runs, and its own empty working directory in which its
blocks run in order. Shell blocks run with `bash -euo pipefail`, Python blocks with this
checkout's Python; both see FILA_ADDR (the broker's address), FILA_METRICS_URL, and a PATH
that finds this checkout's `fila` first.

The rest of this file keeps the reference pages honest: docs/cli.md and docs/api.md are
regenerated and compared, every metric and config key is documented, the Grafana dashboard
and alert rules name only metrics the broker exports, and every link resolves.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.fila_process import FilaProcess

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
BIN = ROOT / ".venv" / "bin" if (ROOT / ".venv" / "bin" / "fila").exists() else Path(sys.executable).parent
PYTHON = BIN / "python" if (BIN / "python").exists() else Path(sys.executable)
BLOCK_TIMEOUT_S = 60

FENCE = re.compile(r"^(?P<fence>`{3,}|~{3,})\s*(?P<info>[^`]*)$")
DIRECTIVE = re.compile(r"^<!--\s*(?P<body>[a-z-]+(?::|\s|$).*?)\s*-->\s*$")
WORD = re.compile(r"([a-z-]+)\s*:?\s*(.*)")
SHELLS = {"sh", "bash", "shell"}
PYTHONS = {"python", "py"}


@dataclass
class Block:
    line: int  # 1-based line of the opening fence
    lang: str
    text: str


@dataclass
class Step:
    kind: str  # run | file | output | restart | crash
    line: int
    block: Block | None = None
    arg: str = ""


@dataclass
class Doc:
    path: Path
    steps: list[Step] = field(default_factory=list)
    broker_env: dict[str, str] = field(default_factory=dict)
    broker_config: str = ""

    @property
    def name(self) -> str:
        return self.path.relative_to(ROOT).as_posix()


def parse(path: Path) -> Doc:
    """The steps a document asks for, in order; raises ValueError on a malformed mark."""
    doc = Doc(path)
    lines = path.read_text().splitlines()
    pending: tuple[str, str, int] | None = None  # (directive, argument, line)
    i = 0
    while i < len(lines):
        line = lines[i]
        m = DIRECTIVE.match(line.strip())
        if m:
            word, arg = WORD.match(m.group("body")).groups()  # type: ignore[union-attr]
            if word in ("run", "file", "output"):
                pending = (word, arg, i + 1)
            elif word == "broker":
                for item in shlex.split(arg):
                    key, sep, value = item.partition("=")
                    if not sep:
                        raise ValueError(f"{doc.name}:{i + 1}: broker: wants KEY=VALUE, got {item!r}")
                    if key == "config":
                        doc.broker_config = value
                    else:
                        doc.broker_env[key] = value
            elif word == "restart-broker":
                doc.steps.append(Step("restart", i + 1))
            elif word == "crash-broker":
                doc.steps.append(Step("crash", i + 1))
            i += 1
            continue
        f = FENCE.match(line)
        if f:
            fence = f.group("fence")
            info = f.group("info").strip()
            lang = info.split()[0] if info else ""
            start = i + 1
            body: list[str] = []
            i += 1
            while i < len(lines) and not lines[i].startswith(fence):
                body.append(lines[i])
                i += 1
            block = Block(start, lang, "\n".join(body) + "\n")
            if pending is not None:
                word, arg, at = pending
                if word == "run" and lang not in SHELLS | PYTHONS:
                    raise ValueError(f"{doc.name}:{at}: <!-- run --> before a ```{lang} block")
                if word == "file" and not arg:
                    raise ValueError(f"{doc.name}:{at}: <!-- file: NAME --> needs a NAME")
                doc.steps.append(Step(word, start, block, arg))
                pending = None
            i += 1
            continue
        if pending is not None and line.strip():
            raise ValueError(f"{doc.name}:{pending[2]}: <!-- {pending[0]} --> is not followed by a code block")
        i += 1
    return doc


def all_docs() -> list[Path]:
    return sorted(DOCS.rglob("*.md"))


README = ROOT / "README.md"


def runnable_docs() -> list[Doc]:
    docs = [parse(p) for p in [*all_docs(), README]]
    return [d for d in docs if any(s.kind == "run" for s in d.steps)]


def _matches(expected: str, actual: str) -> bool:
    def norm(text: str) -> str:
        return "\n".join(ln.rstrip() for ln in text.strip("\n").splitlines())

    parts = [re.escape(p) for p in norm(expected).split("...")]
    return re.fullmatch(".*?".join(parts), norm(actual), re.DOTALL) is not None


class DocRunner:
    def __init__(self, doc: Doc, tmp: Path) -> None:
        self.doc = doc
        self.tmp = tmp
        self.work = tmp / "work"
        self.work.mkdir()
        self.scripts = tmp / "blocks"
        self.scripts.mkdir()
        self.broker: FilaProcess | None = None
        self.last_stdout = ""
        self.last_step: Step | None = None
        if doc.path == README:  # its commands run from a checkout: .venv/bin/fila, examples/
            for name in (".venv", "examples"):
                (self.work / name).symlink_to(ROOT / name)
        self.path_dirs = [str(BIN)]
        if os.environ.get("FILA_BIN"):  # test a built executable: make `fila` resolve to it
            shim = tmp / "bin"
            shim.mkdir()
            (shim / "fila").symlink_to(os.environ["FILA_BIN"])
            self.path_dirs.insert(0, str(shim))

    def where(self, step: Step) -> str:
        return f"{self.doc.name}:{step.line}"

    def start_broker(self) -> None:
        config = self.work / self.doc.broker_config if self.doc.broker_config else None
        self.broker = FilaProcess(self.tmp / "broker" / "data", env=self.doc.broker_env,
                                  config_file=config)
        self.broker.data_dir.parent.mkdir(exist_ok=True)
        self.broker.start()

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("FILA_", "OTEL_"))}
        assert self.broker is not None
        env.update(FILA_ADDR=self.broker.addr, FILA_METRICS_URL=self.broker.metrics_url,
                   PATH=os.pathsep.join([*self.path_dirs, env.get("PATH", "")]),
                   PYTHONUNBUFFERED="1", NO_COLOR="1", COLUMNS="100")
        return env

    def fail(self, step: Step, what: str, out: str = "", err: str = "") -> None:
        log = self.broker.log_text()[-3000:] if self.broker else ""
        assert step.block is not None
        pytest.fail(
            f"{self.where(step)}: {what}\n--- block\n{step.block.text}--- stdout\n{out}"
            f"--- stderr\n{err}--- broker log (tail)\n{log}", pytrace=False)

    def run(self, step: Step) -> None:
        block = step.block
        assert block is not None
        if self.broker is None:
            self.start_broker()
        script = self.scripts / f"line{block.line}.{'py' if block.lang in PYTHONS else 'sh'}"
        script.write_text(block.text)
        if block.lang in PYTHONS:
            argv = [str(PYTHON), str(script)]
        else:
            argv = ["bash", "-euo", "pipefail", str(script)]
        started = time.monotonic()
        try:
            proc = subprocess.run(argv, cwd=self.work, env=self.env(), capture_output=True,
                                  text=True, timeout=BLOCK_TIMEOUT_S, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired as exc:
            self.fail(step, f"did not finish in {BLOCK_TIMEOUT_S} s",
                      str(exc.stdout or ""), str(exc.stderr or ""))
            return
        want = int(step.arg.partition("exit=")[2] or 0) if step.arg else 0
        if proc.returncode != want:
            self.fail(step, f"exited with {proc.returncode}, expected {want}",
                      proc.stdout, proc.stderr)
        self.last_stdout = proc.stdout
        self.last_step = step
        if os.environ.get("FILA_DOCS_TIMES"):  # where the time goes: pytest -s
            print(f"{time.monotonic() - started:6.2f} s  {self.where(step)}")

    def check_output(self, step: Step) -> None:
        assert step.block is not None
        if self.last_step is None:
            pytest.fail(f"{self.where(step)}: <!-- output --> before any block ran", pytrace=False)
        if not _matches(step.block.text, self.last_stdout):
            pytest.fail(
                f"{self.where(step)}: the output shown is not what the block at "
                f"{self.where(self.last_step)} printed\n--- shown\n{step.block.text}"
                f"--- printed\n{self.last_stdout}", pytrace=False)

    def go(self) -> None:
        for step in self.doc.steps:
            if step.kind == "file":
                assert step.block is not None
                target = self.work / step.arg
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(step.block.text)
            elif step.kind == "run":
                self.run(step)
            elif step.kind == "output":
                self.check_output(step)
            elif step.kind in ("restart", "crash"):
                if self.broker is None:
                    pytest.fail(f"{self.where(step)}: no broker to restart yet", pytrace=False)
                    return
                if step.kind == "restart":
                    self.broker.terminate()
                self.broker.restart()

    def close(self) -> None:
        if self.broker is not None:
            self.broker.kill()


@pytest.fixture
def doc_tmp() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="fila-docs-") as tmp:
        yield Path(tmp)


@pytest.mark.parametrize("doc", runnable_docs(), ids=lambda d: d.name)
def test_examples_run(doc: Doc, doc_tmp: Path) -> None:
    runner = DocRunner(doc, doc_tmp)
    try:
        runner.go()
    finally:
        runner.close()


# -- generated references ---------------------------------------------------------------------

@pytest.mark.parametrize("script", ["gen_cli_docs.py", "gen_api_docs.py"])
def test_generated_reference_is_up_to_date(script: str) -> None:
    proc = subprocess.run([str(PYTHON), str(ROOT / "scripts" / script), "--check"],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr + proc.stdout


# -- the reference pages cover what the code has ----------------------------------------------

def exported_metrics() -> dict[str, str]:
    """Every metric family /metrics serves, with its type, from the real collector."""
    from prometheus_client import generate_latest

    from fila.engine.broker import Broker
    from fila.engine.storage import Storage
    from fila.server.metrics import StorageStats, make_registry

    with tempfile.TemporaryDirectory() as tmp:
        storage = Storage(Path(tmp) / "data")
        try:
            registry = make_registry(Broker(storage), 50, StorageStats())
            text = generate_latest(registry).decode()
        finally:
            storage.close()
    return dict(re.findall(r"^# TYPE (\S+) (\S+)$", text, re.M))


def sample_names(families: dict[str, str]) -> set[str]:
    names = set()
    for name, kind in families.items():
        if kind == "histogram":
            names |= {f"{name}_bucket", f"{name}_count", f"{name}_sum"}
        else:
            names.add(name)
    return names


def test_every_metric_is_documented() -> None:
    text = (DOCS / "operations.md").read_text()
    missing = [name for name in exported_metrics() if f"`{name}`" not in text]
    assert not missing, f"docs/operations.md does not describe: {missing}"


def test_dashboard_and_alerts_name_only_real_metrics() -> None:
    known = sample_names(exported_metrics())
    dashboard = json.loads((DOCS / "grafana" / "fila-dashboard.json").read_text())
    exprs: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                if k in ("expr", "query") and isinstance(v, str):
                    exprs.append(v)
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(dashboard)
    assert dashboard.get("panels") and exprs, "the dashboard has no panels with queries"
    alerts = (DOCS / "grafana" / "alerts.yml").read_text()
    assert alerts.startswith("groups:") and "- alert:" in alerts and "expr:" in alerts
    used = set(re.findall(r"\bfila_[a-z_]+\b", " ".join(exprs) + alerts))
    assert used - known == set(), f"not exported by the broker: {sorted(used - known)}"


def test_every_config_key_flag_and_env_var_is_documented() -> None:
    from dataclasses import fields

    from fila.engine.broker import Limits
    from fila.engine.rules import LuaLimits
    from fila.server import settings

    text = (DOCS / "operations.md").read_text()
    keys = set(re.findall(r"^\s{4}(\w+) =", settings.__doc__ or "", re.M))
    keys |= {f.name for f in fields(Limits)} | {f.name for f in fields(LuaLimits)}
    sections = set(re.findall(r"^\s{4}\[(\w+)\]", settings.__doc__ or "", re.M))
    envs = set(re.findall(r'"((?:FILA|OTEL)_[A-Z_]+)"', Path(settings.__file__).read_text()))
    import typer.main

    from fila.cli.main import app
    serve = typer.main.get_command(app).commands["serve"]  # type: ignore[attr-defined]
    flags = {opt for p in serve.params for opt in p.opts if opt.startswith("--")}
    missing = [f"`{k}`" for k in sorted(keys) if f"`{k}`" not in text]
    missing += [f"[{s}]" for s in sorted(sections) if f"[{s}]" not in text]
    missing += [e for e in sorted(envs) if e not in text]
    missing += [f for f in sorted(flags) if f"`{f}" not in text]
    assert not missing, f"docs/operations.md does not mention: {missing}"


# -- links ------------------------------------------------------------------------------------

LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def _headings(path: Path) -> set[str]:
    anchors = set()
    for line in path.read_text().splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            title = re.sub(r"[^\w\- ]", "", title).replace(" ", "-")
            anchors.add(title)
    return anchors


def test_links_resolve_and_index_links_every_page() -> None:
    broken = []
    pages = all_docs()
    for page in [*pages, ROOT / "llms.txt"]:
        text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
        for target in LINK.findall(text):
            if re.match(r"[a-z]+:", target):
                continue  # http(s), mailto: not checked offline
            file_part, _, anchor = target.partition("#")
            dest = (page.parent / file_part).resolve() if file_part else page
            if not dest.exists():
                broken.append(f"{page.relative_to(ROOT)}: {target}")
            elif anchor and dest.suffix == ".md" and anchor not in _headings(dest):
                broken.append(f"{page.relative_to(ROOT)}: {target} (no such heading)")
    assert not broken, "broken links:\n" + "\n".join(broken)
    index = (DOCS / "index.md").read_text()
    unlinked = [p.relative_to(DOCS).as_posix() for p in pages
                if p.name != "index.md" and f"({p.relative_to(DOCS).as_posix()}" not in index]
    assert not unlinked, f"docs/index.md does not link: {unlinked}"
    llms = (ROOT / "llms.txt").read_text()
    assert llms.startswith("# Fila\n") and "\n> " in llms
    not_in_llms = [p.relative_to(ROOT).as_posix() for p in pages
                   if f"({p.relative_to(ROOT).as_posix()})" not in llms]
    assert not not_in_llms, f"llms.txt does not link: {not_in_llms}"


def test_marks_are_well_formed() -> None:
    for page in all_docs():
        doc = parse(page)  # raises on a mark that is not followed by a block
        for step in doc.steps:
            if step.kind == "output":
                assert step.block is not None
