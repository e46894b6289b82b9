#!/usr/bin/env bash
# The Rust SDK's checks, from nothing: the repository's venv (it holds the broker the tests
# start), cargo fmt --check, cargo clippy -D warnings (when clippy is installed) and cargo
# test, whose tests start real `fila serve` processes. The stubs need no drift check:
# build.rs generates them from ../../proto at every build. Extra arguments go to cargo test
# (e.g. -- lifecycle --nocapture).
set -euo pipefail
"$(dirname "$0")/../../scripts/setup_env.sh"
cd "$(dirname "$0")"
echo "== rust: cargo fmt --check"
cargo fmt --check
echo "== cargo clippy"
if cargo clippy --version >/dev/null 2>&1; then
  cargo clippy --locked --all-targets -- -D warnings
else
  echo "clippy is not installed: skipped"
fi
echo "== cargo test"
cargo test --locked "$@"
