#!/usr/bin/env bash
# The Python SDK's own tests, from nothing: the repository's venv (the SDK installed editable,
# and the broker the tests start), then pytest on sdks/python/tests. Extra arguments go to
# pytest. (./scripts/test.sh runs these with the broker's suite.)
set -euo pipefail
cd "$(dirname "$0")/../.."
./scripts/setup_env.sh
.venv/bin/python -m pytest -q sdks/python/tests "$@"
