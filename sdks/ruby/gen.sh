#!/usr/bin/env bash
# Generate the Ruby stubs of the fila.v1 contract (lib/fila/v1/) from the repository's proto/.
# lib/fila/v1/ is committed (the gem ships it) and never edited by hand: change proto/ and run
#
#   ./gen.sh            regenerate lib/fila/v1/
#   ./gen.sh --check    exit 1 if the committed lib/fila/v1/ differs from what proto/ generates
#
# Tools (Debian's, installed by test.sh): grpc_tools_ruby_protoc (ruby-grpc-tools), which runs
# /usr/bin/protoc with the gRPC Ruby plugin, and the well-known types
# (google/protobuf/timestamp.proto) from libprotobuf-dev. The protoc must be the version of
# the google-protobuf runtime the gem runs on (ruby-google-protobuf): checked below.
set -euo pipefail
cd "$(dirname "$0")"
ROOT=../..
OUT=lib/fila/v1
WELL_KNOWN=${FILA_PROTO_INCLUDE:-/usr/include}

for tool in grpc_tools_ruby_protoc protoc ruby; do
  if ! command -v "$tool" >/dev/null; then
    echo "error: $tool not found: run ./test.sh once (it installs Debian's ruby-grpc-tools)" >&2
    exit 1
  fi
done
if [ ! -f "$WELL_KNOWN/google/protobuf/timestamp.proto" ]; then
  echo "error: no $WELL_KNOWN/google/protobuf/timestamp.proto: apt-get install libprotobuf-dev" >&2
  exit 1
fi
protoc_version=$(protoc --version | awk '{print $2}')
runtime_version=$(ruby -e 'require "google/protobuf"; print Gem.loaded_specs["google-protobuf"].version')
if [ "$protoc_version" != "$runtime_version" ]; then
  echo "error: protoc $protoc_version differs from the google-protobuf runtime $runtime_version" >&2
  exit 1
fi

generate() {  # out_dir: writes out_dir/fila/v1/*.rb
  local out=$1 protos=() f
  while IFS= read -r f; do protos+=("$f"); done < <(cd "$ROOT/proto" && find fila -name '*.proto' | LC_ALL=C sort)
  grpc_tools_ruby_protoc -I"$ROOT/proto" -I"$WELL_KNOWN" --ruby_out="$out" --grpc_out="$out" "${protos[@]}"
}

if [ "${1:-}" = "--check" ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  generate "$tmp"
  if ! diff -r "$tmp/fila/v1" "$OUT" >"$tmp/diff.txt"; then
    cat "$tmp/diff.txt" >&2
    echo "error: $OUT/ drifted from proto/: run sdks/ruby/gen.sh and commit the result" >&2
    exit 1
  fi
  echo "$OUT/ matches proto/ ($(find "$OUT" -name '*.rb' | wc -l) files, protoc $protoc_version)"
  exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
generate "$tmp"
rm -rf "$OUT"
mkdir -p "$(dirname "$OUT")"
mv "$tmp/fila/v1" "$OUT"
echo "wrote $(find "$OUT" -name '*.rb' | wc -l) files to $OUT/"
