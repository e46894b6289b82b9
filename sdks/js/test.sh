#!/usr/bin/env bash
# From nothing: the repository's venv (the broker the tests start), npm ci, build, generated-code
# drift check, then the tests against real `fila serve` processes. Extra arguments go to node --test.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
"$(dirname "$0")/../../scripts/setup_env.sh"
cd "$here"
echo "== npm ci"
npm ci --no-audit --no-fund --loglevel=error
echo "== build (tsc)"
npm run --silent build
echo "== generated code matches proto/"
npm run --silent gen:check
echo "== node --test"
node --test --test-concurrency=1 "$@" build/test/*.test.js
