#!/usr/bin/env bash
# Create .venv (if needed) and install Fila with its dev tools into it. Idempotent and quiet.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=.venv/.fila-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  log=.venv/install.log
  echo "installing Fila and its dev tools into .venv (log: $log) ..."
  if ! { .venv/bin/python -m pip install --upgrade pip &&
         .venv/bin/python -m pip install -e '.[dev]'; } >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    echo "error: installing into .venv failed; the full log is in $log" >&2
    exit 1
  fi
  touch "$stamp"
fi
