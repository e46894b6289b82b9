#!/usr/bin/env bash
# Create .venv (if needed) and install Fila with its dev tools into it. Idempotent and quiet.
# With --tests, also what the test suite needs beyond Python (Node packages).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=.venv/.fila-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ sdks/python/pyproject.toml -nt "$stamp" ]; then
  log=.venv/install.log
  echo "installing Fila and its dev tools into .venv (log: $log) ..."
  if ! { .venv/bin/python -m pip install --upgrade pip &&
         .venv/bin/python -m pip install -e ./sdks/python -e '.[dev]'; } >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    echo "error: installing into .venv failed; the full log is in $log" >&2
    exit 1
  fi
  touch "$stamp"
fi
[ "${1:-}" = "--tests" ] || exit 0
# The test suite's own tools beyond Python: protobufjs for tests/test_wire_runtimes.py (it
# decodes our frames as @grpc/proto-loader does).
js=tests/js
if [ ! -f "$js/node_modules/.fila-installed" ] || [ "$js/package-lock.json" -nt "$js/node_modules/.fila-installed" ]; then
  if ! command -v npm >/dev/null; then
    echo "error: the tests need Node.js 20 and npm (for protobufjs); install them first" >&2
    exit 1
  fi
  if ! npm ci --prefix "$js" --no-audit --no-fund --loglevel=error >"$js/install.log" 2>&1; then
    cat "$js/install.log" >&2
    echo "error: npm ci in $js failed" >&2
    exit 1
  fi
  touch "$js/node_modules/.fila-installed"
fi
# actionlint, for the release workflow's lint in tests/test_install.py (a Go module; Go is one
# of the machine's toolchains).
if [ ! -x .venv/bin/actionlint ]; then
  if ! command -v go >/dev/null; then
    echo "error: the tests need Go (to install actionlint); install it first" >&2
    exit 1
  fi
  if ! GOBIN="$PWD/.venv/bin" GOFLAGS=-mod=mod go install github.com/rhysd/actionlint/cmd/actionlint@v1.7.12 \
       >.venv/actionlint-install.log 2>&1; then
    cat .venv/actionlint-install.log >&2
    echo "error: go install actionlint failed" >&2
    exit 1
  fi
fi
