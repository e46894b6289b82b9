#!/usr/bin/env bash
# Install the `fila` executable for this machine, without root:
#
#   curl -sSf https://github.com/fila-project/fila/releases/latest/download/install.sh | bash
#   curl -sSf .../install.sh | bash -s -- --prefix "$HOME/opt/fila"
#   ./install.sh --from dist/fila          # a self-built executable (scripts/build_binary.py)
#   ./install.sh --from /media/fila-0.1.0  # a copied release directory, offline
#   ./install.sh --help
#
# It picks the release artifact for this OS and CPU (fila-linux-x86_64, fila-linux-aarch64,
# fila-darwin-arm64, fila-darwin-x86_64), downloads it with its .sha256 from FILA_RELEASE_URL,
# verifies the SHA-256, and puts it in ~/.local/bin (or --prefix DIR -> DIR/bin, or
# --bin-dir DIR / FILA_INSTALL_DIR -> DIR). It never calls sudo.
#
# FILA_RELEASE_URL may be https://, http://, file:// or a plain local directory (offline
# installs and tests). FILA_UNAME_S / FILA_UNAME_M stand in for `uname -s` / `uname -m`.
set -euo pipefail

DEFAULT_RELEASE_URL="https://github.com/fila-project/fila/releases/latest/download"

say() { printf 'fila-install: %s\n' "$*"; }
die() { printf 'fila-install: error: %s\n' "$*" >&2; exit 1; }

usage() {
  cat <<'EOF'
Install the fila executable (message broker, CLI and `fila top`) for this machine.

Usage: install.sh [options]
       curl -sSf https://.../install.sh | bash -s -- [options]

Options:
  --prefix DIR        install into DIR/bin (default prefix: ~/.local, so ~/.local/bin)
  --bin-dir DIR       install into DIR exactly (same as FILA_INSTALL_DIR)
  --release-url URL   where the artifacts are: https://..., http://..., file:///dir or a
                      local directory (same as FILA_RELEASE_URL)
  --version V         a release tag's artifacts (vV) instead of the latest release
  --from DIR|FILE     install offline: DIR holds release artifacts (as --release-url DIR);
                      FILE is an executable you built or copied (checked against FILE.sha256
                      when that exists next to it)
  -h, --help          this help

Environment:
  FILA_RELEASE_URL    default: https://github.com/fila-project/fila/releases/latest/download
  FILA_INSTALL_DIR    directory to put `fila` in (overridden by --prefix / --bin-dir)
  FILA_UNAME_S, FILA_UNAME_M   pretend to be another OS / CPU (testing)

Needs curl or wget (for http/https), and sha256sum or shasum. Never uses sudo: pick a
directory you can write to.
EOF
}

# Maps `uname -s` and `uname -m` to the release artifact's name, or fails with a clear error.
artifact_name() {
  local os_raw=$1 arch_raw=$2 os arch
  case "$os_raw" in
    Linux|linux) os=linux ;;
    Darwin|darwin) os=darwin ;;
    *) die "unsupported operating system '$os_raw': prebuilt fila executables exist for Linux and macOS (x86_64, aarch64/arm64). Build it yourself from a checkout (scripts/build_binary.py, or a wheel: see docs/install.md), then install.sh --from FILE." ;;
  esac
  case "$arch_raw" in
    x86_64|amd64|x64) arch=x86_64 ;;
    aarch64|arm64|armv8*|arm64e)
      if [ "$os" = darwin ]; then arch=arm64; else arch=aarch64; fi ;;
    *) die "unsupported CPU architecture '$arch_raw' on $os_raw: prebuilt fila executables exist for x86_64 and aarch64/arm64. Build it yourself from a checkout (scripts/build_binary.py, or a wheel: see docs/install.md), then install.sh --from FILE." ;;
  esac
  printf 'fila-%s-%s\n' "$os" "$arch"
}

# fetch URL DEST: https/http (curl or wget), file:// or a local path.
fetch() {
  local url=$1 dest=$2 path
  case "$url" in
    file://*)
      path=${url#file://}
      path=${path#localhost}
      path=$(printf '%b' "${path//%/\\x}")  # percent-decode (file:///my%20dir/...)
      [ -f "$path" ] || die "not found: $url"
      cp "$path" "$dest" ;;
    http://*|https://*)
      if command -v curl >/dev/null 2>&1; then
        curl --proto '=https,http' -fsSL --retry 3 -o "$dest" "$url" || die "download failed: $url"
      elif command -v wget >/dev/null 2>&1; then
        wget -q -O "$dest" "$url" || die "download failed: $url"
      else
        die "need curl or wget to download $url"
      fi ;;
    *://*)
      die "unsupported URL scheme in '$url' (use https://, http://, file:// or a directory)" ;;
    *)
      [ -f "$url" ] || die "not found: $url"
      cp "$url" "$dest" ;;
  esac
}

sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | awk '{print $1}'
  elif command -v shasum >/dev/null 2>&1; then
    shasum -a 256 "$1" | awk '{print $1}'
  else
    die "need sha256sum or shasum to verify the download (refusing to install unverified)"
  fi
}

main() {
  local release_url=${FILA_RELEASE_URL:-} bin_dir=${FILA_INSTALL_DIR:-} version="" from=""
  while [ $# -gt 0 ]; do
    case "$1" in
      -h|--help) usage; exit 0 ;;
      --prefix) [ $# -ge 2 ] || die "--prefix needs a directory"; bin_dir="${2%/}/bin"; shift 2 ;;
      --prefix=*) bin_dir="${1#--prefix=}"; bin_dir="${bin_dir%/}/bin"; shift ;;
      --bin-dir) [ $# -ge 2 ] || die "--bin-dir needs a directory"; bin_dir=$2; shift 2 ;;
      --bin-dir=*) bin_dir=${1#--bin-dir=}; shift ;;
      --release-url) [ $# -ge 2 ] || die "--release-url needs a URL"; release_url=$2; shift 2 ;;
      --release-url=*) release_url=${1#--release-url=}; shift ;;
      --version) [ $# -ge 2 ] || die "--version needs a version"; version=${2#v}; shift 2 ;;
      --version=*) version=${1#--version=}; version=${version#v}; shift ;;
      --from) [ $# -ge 2 ] || die "--from needs a directory or a file"; from=$2; shift 2 ;;
      --from=*) from=${1#--from=}; shift ;;
      *) die "unknown option '$1' (see --help)" ;;
    esac
  done
  if [ -n "$from" ]; then
    if [ -d "$from" ]; then
      release_url=$from
    elif [ ! -f "$from" ]; then
      die "--from $from: no such file or directory"
    fi
  fi
  if [ -z "$release_url" ]; then
    if [ -n "$version" ]; then
      release_url="https://github.com/fila-project/fila/releases/download/v$version"
    else
      release_url=$DEFAULT_RELEASE_URL
    fi
  fi
  release_url=${release_url%/}
  if [ -z "$bin_dir" ]; then
    [ -n "${HOME:-}" ] || die "HOME is not set: pass --prefix DIR or --bin-dir DIR"
    bin_dir="$HOME/.local/bin"
  fi

  local uname_s uname_m artifact
  uname_s=${FILA_UNAME_S:-$(uname -s)}
  uname_m=${FILA_UNAME_M:-$(uname -m)}
  artifact=$(artifact_name "$uname_s" "$uname_m")

  local tmp
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/fila-install.XXXXXX")
  # shellcheck disable=SC2064  # expand $tmp now: it is local to main
  trap "rm -rf '$tmp'" EXIT

  if [ -n "$from" ] && [ -f "$from" ]; then
    # One executable, not a release directory: take it as it is named.
    artifact=$(basename "$from")
    cp "$from" "$tmp/$artifact"
    if [ -f "$from.sha256" ]; then
      cp "$from.sha256" "$tmp/$artifact.sha256"
    else
      say "note: no $from.sha256 beside it: installing it unverified"
      sha256_of "$tmp/$artifact" | awk -v n="$artifact" '{print $1 "  " n}' >"$tmp/$artifact.sha256"
    fi
    chmod 755 "$tmp/$artifact"
    "$tmp/$artifact" --help >/dev/null 2>&1 || die "$from does not run on this machine (is it a fila executable for $uname_s $uname_m?)"
  else
    say "downloading $artifact from $release_url"
    fetch "$release_url/$artifact" "$tmp/$artifact"
    fetch "$release_url/$artifact.sha256" "$tmp/$artifact.sha256"
  fi

  local expected actual
  expected=$(awk 'NR == 1 {print tolower($1)}' "$tmp/$artifact.sha256")
  case "$expected" in
    *[!0-9a-f]*|"") die "$artifact.sha256 does not hold a SHA-256 (got '$expected')" ;;
  esac
  [ ${#expected} -eq 64 ] || die "$artifact.sha256 does not hold a SHA-256 (got '$expected')"
  actual=$(sha256_of "$tmp/$artifact")
  if [ "$actual" != "$expected" ]; then
    die "checksum mismatch for $artifact: expected $expected, got $actual. The download is corrupt or was tampered with; nothing was installed."
  fi
  say "sha256 ok ($actual)"

  mkdir -p "$bin_dir" 2>/dev/null || die "cannot create $bin_dir: choose a directory you can write to with --prefix DIR or --bin-dir DIR (this script never uses sudo)"
  [ -w "$bin_dir" ] || die "cannot write to $bin_dir: choose a directory you can write to with --prefix DIR or --bin-dir DIR (this script never uses sudo)"
  bin_dir=$(cd "$bin_dir" && pwd)
  # Copy next to the target, then rename over it: a running fila keeps its old file.
  cp "$tmp/$artifact" "$bin_dir/.fila.new.$$"
  chmod 755 "$bin_dir/.fila.new.$$"
  mv -f "$bin_dir/.fila.new.$$" "$bin_dir/fila"
  say "installed $bin_dir/fila"

  case ":${PATH:-}:" in
    *":$bin_dir:"*)
      say "$bin_dir is on your PATH"
      local found
      found=$(command -v fila 2>/dev/null || true)
      if [ -n "$found" ] && [ "$found" != "$bin_dir/fila" ]; then
        say "note: another fila comes first on your PATH: $found"
      fi ;;
    *)
      say "$bin_dir is not on your PATH; add it, e.g. in ~/.bashrc or ~/.zshrc:"
      say "  export PATH=\"$bin_dir:\$PATH\"" ;;
  esac
  cat <<EOF

Start a broker (127.0.0.1:5555, data in ./fila-data):   fila serve
See fair scheduling and throttling in action:          fila demo
Watch a running broker:                                 fila top
All commands:                                           fila --help
EOF
}

main "$@"
