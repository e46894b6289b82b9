#!/usr/bin/env bash
# The Go SDK's checks, from nothing: the repository's venv (it holds protoc, as grpc_tools,
# and the broker the tests start), the code generators, the stubs' drift check, gofmt,
# go vet and go test. Extra arguments go to `go test` (e.g. -run TestLifecycle -v).
set -euo pipefail
"$(dirname "$0")/../../scripts/setup_env.sh"
cd "$(dirname "$0")"
echo "== go: generated stubs (filapb/) match proto/"
./gen.sh --check
echo "== gofmt"
unformatted=$(gofmt -l .)
if [ -n "$unformatted" ]; then
  echo "error: not gofmt-formatted: $unformatted" >&2
  exit 1
fi
echo "== go vet"
go vet ./...
echo "== go test"
go test -count=1 -timeout 10m "$@" ./...
