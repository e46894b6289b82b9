#!/usr/bin/env bash
# Generate the Go stubs of the fila.v1 contract (filapb/) from the repository's proto/.
# filapb/ is committed (so `go get` works) and never edited by hand: change proto/ and run
#
#   ./gen.sh            regenerate filapb/
#   ./gen.sh --check    exit 1 if the committed filapb/ differs from what proto/ generates
#
# Tools: protoc-gen-go and protoc-gen-go-grpc at the versions below, installed with
# `go install` into .bin/ (git-ignored); protoc is grpc_tools.protoc from the repository's
# Python venv (../../.venv, made by scripts/setup_env.sh), which also holds the well-known
# types (google/protobuf/timestamp.proto). FILA_PYTHON overrides that Python.
set -euo pipefail
cd "$(dirname "$0")"
MODULE=github.com/fila-project/fila/sdks/go
PKG=filapb
PROTOC_GEN_GO=v1.36.12
PROTOC_GEN_GO_GRPC=v1.6.2
ROOT=../..
PY=${FILA_PYTHON:-$ROOT/.venv/bin/python}
BIN=$PWD/.bin

ensure_tool() {  # name module version "what --version prints"
  local name=$1 module=$2 version=$3 want=$4
  if [ ! -x "$BIN/$name" ] || [ "$("$BIN/$name" --version 2>/dev/null)" != "$want" ]; then
    echo "installing $name $version into .bin/ ..." >&2
    GOBIN=$BIN go install "$module@$version"
  fi
}
ensure_tool protoc-gen-go google.golang.org/protobuf/cmd/protoc-gen-go "$PROTOC_GEN_GO" \
  "protoc-gen-go $PROTOC_GEN_GO"
ensure_tool protoc-gen-go-grpc google.golang.org/grpc/cmd/protoc-gen-go-grpc "$PROTOC_GEN_GO_GRPC" \
  "protoc-gen-go-grpc ${PROTOC_GEN_GO_GRPC#v}"

if [ ! -x "$PY" ]; then
  echo "error: no Python at $PY: run scripts/setup_env.sh first (or set FILA_PYTHON)" >&2
  exit 1
fi
WELL_KNOWN=$("$PY" -c 'import grpc_tools, os; print(os.path.join(os.path.dirname(grpc_tools.__file__), "_proto"))')

generate() {  # out_dir: writes out_dir/filapb/*.go
  local out=$1 protos=() maps=() f
  while IFS= read -r f; do protos+=("$f"); done < <(cd "$ROOT/proto" && find fila -name '*.proto' | LC_ALL=C sort)
  # The .proto files name no go_package (they are the original broker's): map each here.
  for f in "${protos[@]}"; do maps+=("M$f=$MODULE/$PKG;$PKG"); done
  local go_opts grpc_opts
  go_opts="module=$MODULE$(printf ',%s' "${maps[@]}")"
  grpc_opts="$go_opts"
  "$PY" -m grpc_tools.protoc -I"$ROOT/proto" -I"$WELL_KNOWN" \
    --plugin=protoc-gen-go="$BIN/protoc-gen-go" \
    --plugin=protoc-gen-go-grpc="$BIN/protoc-gen-go-grpc" \
    --go_out="$out" --go_opt="$go_opts" \
    --go-grpc_out="$out" --go-grpc_opt="$grpc_opts" \
    "${protos[@]}"
}

if [ "${1:-}" = "--check" ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  generate "$tmp"
  if ! diff -r "$tmp/$PKG" "$PKG" >"$tmp/diff.txt"; then
    cat "$tmp/diff.txt" >&2
    echo "error: $PKG/ drifted from proto/: run sdks/go/gen.sh and commit the result" >&2
    exit 1
  fi
  echo "$PKG/ matches proto/ ($(find "$PKG" -name '*.go' | wc -l) files)"
  exit 0
fi
rm -rf "$PKG"
generate .
echo "wrote $(find "$PKG" -name '*.go' | wc -l) files to $PKG/"
