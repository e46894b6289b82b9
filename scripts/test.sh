#!/usr/bin/env bash
# Set up from nothing and run every check CI runs: lint, types, generated stubs, tests.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup_env.sh --tests
echo "== ruff"
.venv/bin/ruff check .
echo "== mypy"
.venv/bin/mypy
echo "== generated stubs match proto/"
.venv/bin/python scripts/gen_proto.py --check
echo "== pytest"
.venv/bin/python -m pytest -q "$@"
echo "== Go SDK (sdks/go)"
./sdks/go/test.sh
echo "== JavaScript SDK (sdks/js)"
./sdks/js/test.sh
echo "== Ruby SDK (sdks/ruby)"
./sdks/ruby/test.sh
echo "== Rust SDK (sdks/rust)"
./sdks/rust/test.sh
echo "== Java SDK (sdks/java)"
./sdks/java/test.sh
