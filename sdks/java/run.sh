#!/usr/bin/env bash
# Runs a main class of this SDK's test sources (the example, the bench) on the test classpath:
#
#   ./run.sh examples.Fair                       # beside a running `fila serve` (FILA_ADDR)
#   ./run.sh bench.Lifecycle -n 200000           # starts its own broker unless -addr is given
#
# It compiles first (quietly) and writes the dependency classpath to target/classpath.txt.
set -euo pipefail
cd "$(dirname "$0")"
if [ $# -lt 1 ]; then
  echo "usage: ./run.sh MAIN_CLASS [ARGS...]" >&2
  exit 2
fi
main=$1
shift
mvn -B -q -Dstyle.color=never test-compile dependency:build-classpath -Dmdep.includeScope=test \
  -Dmdep.outputFile=target/classpath.txt >&2
exec java -cp "target/test-classes:target/classes:$(cat target/classpath.txt)" "$main" "$@"
