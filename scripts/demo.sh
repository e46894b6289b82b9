#!/usr/bin/env bash
# Set up from nothing, start a broker on the default data dir (./fila-data), run the
# fair-scheduling demo against it, and stop the broker.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup_env.sh
exec .venv/bin/fila demo "$@"
