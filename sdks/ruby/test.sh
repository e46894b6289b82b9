#!/usr/bin/env bash
# The Ruby SDK's checks, from nothing: the repository's venv (it holds the broker the tests
# start), Debian's Ruby packages (no gem server is reachable: ruby, ruby-grpc,
# ruby-google-protobuf, ruby-grpc-tools for the stubs, ruby-minitest, rake), the stubs'
# drift check, a syntax check, and the minitest suite. apt-get runs only when a package is
# missing (as root, or through sudo). Extra arguments go to the test run (e.g. -n /credit/ -v).
set -euo pipefail
"$(dirname "$0")/../../scripts/setup_env.sh"
cd "$(dirname "$0")"

PACKAGES=(ruby ruby-grpc ruby-google-protobuf ruby-grpc-tools ruby-minitest rake libprotobuf-dev)
missing=()
for p in "${PACKAGES[@]}"; do
  if [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" != "install ok installed" ]; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "== apt-get install ${missing[*]}"
  sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo >/dev/null; then
      echo "error: not root and no sudo: install ${missing[*]} first" >&2
      exit 1
    fi
    sudo=(sudo)
  fi
  log=$(mktemp)
  if ! { "${sudo[@]}" apt-get update -qq &&
         DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
           "${missing[@]}"; } >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    echo "error: apt-get install failed (log: $log)" >&2
    exit 1
  fi
  rm -f "$log"
fi
echo "== ruby: $(ruby -e 'print RUBY_VERSION'), $(gem list -e grpc | tr -d '\n'), $(gem list -e google-protobuf | tr -d '\n')"
# The gem builds, and its dependencies resolve against what Debian installed.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
gem build --quiet fila-client.gemspec -o "$tmp/fila-client.gem" >/dev/null
ruby -e 'spec = Gem::Specification.load("fila-client.gemspec")
         spec.runtime_dependencies.each(&:to_spec)
         puts "fila-client #{spec.version}: the gem builds, its dependencies resolve"'

echo "== ruby: generated stubs (lib/fila/v1/) match proto/"
./gen.sh --check

echo "== ruby -wc (syntax)"
for f in lib/fila.rb lib/fila/*.rb test/*.rb test/support/*.rb bench/*.rb examples/*.rb; do
  ruby -wc "$f" >/dev/null
done

echo "== minitest"
# All test files in one process; their tests run a few at once (parallelize_me!).
ruby -Ilib -Itest -e 'Dir["test/*_test.rb"].sort.each { |f| require File.expand_path(f) }' -- "$@"
