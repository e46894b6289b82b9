#!/usr/bin/env bash
# Build the container image from the Dockerfile for real, and check it, on a machine with no
# image registry and no container runtime that can create namespaces (a sandbox, say):
#
#   scripts/container_check.sh            # needs root, buildah and debootstrap (apt-get)
#
# 1. A base image with Python 3.11, from a Debian 12 rootfs made here with debootstrap (the
#    Dockerfile's PYTHON_IMAGE; python:3.11-slim cannot be pulled without a registry).
# 2. `buildah bud --isolation chroot` of the Dockerfile on that base: both stages, as
#    `docker build` would run them (chroot isolation: no namespaces needed).
# 3. The image's CMD run as its USER (uid 10001) with `buildah run`, its HEALTHCHECK command
#    run against it, and `fila demo --addr` run inside the image against that broker.
# Not part of CI (it takes minutes and root); see docs/install.md.
set -euo pipefail
cd "$(dirname "$0")/.."

BASE=localhost/fila-base:debian12-python3.11
IMAGE=localhost/fila:check
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

for tool in buildah debootstrap; do
  command -v "$tool" >/dev/null || { echo "error: needs $tool (apt-get install -y $tool)" >&2; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "error: run as root (debootstrap and buildah's chroot isolation)" >&2; exit 1; }

if ! buildah inspect --type image "$BASE" >/dev/null 2>&1; then
  echo "== base image $BASE: a Debian 12 rootfs with python3 and venv (debootstrap)"
  rootfs=$(mktemp -d)
  debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
    bookworm "$rootfs" "$MIRROR" >/dev/null
  ctr=$(buildah from scratch)
  mnt=$(buildah mount "$ctr")
  cp -a "$rootfs/." "$mnt/"
  buildah umount "$ctr" >/dev/null
  buildah commit --quiet "$ctr" "$BASE" >/dev/null
  buildah rm "$ctr" >/dev/null
  rm -rf "$rootfs"
fi

echo "== building $IMAGE from the Dockerfile (buildah bud --isolation chroot)"
# The builder's pip reaches PyPI through this machine's network: lend its CA bundle to the
# RUN steps (mounted while they run, never a layer), in case the way out re-signs TLS.
buildah bud --quiet --format docker --isolation chroot --layers --build-arg "PYTHON_IMAGE=$BASE" \
  --volume /etc/ssl/certs/ca-certificates.crt:/etc/ssl/certs/ca-certificates.crt:ro \
  -t "$IMAGE" .

for port in 5555 9464; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "error: port $port is taken on this machine; the image's CMD listens there" >&2; exit 1
  fi
done

echo "== running the image's CMD as its USER"
ctr=$(buildah from "$IMAGE")
log=$(mktemp)
cleanup() {
  if [ -n "${server:-}" ]; then
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
  fi
  buildah rm "$ctr" >/dev/null 2>&1 || true
}
trap cleanup EXIT
user=$(buildah inspect --type image --format '{{.OCIv1.Config.User}}' "$IMAGE")
workdir=$(buildah inspect --type image --format '{{.OCIv1.Config.WorkingDir}}' "$IMAGE")
# CMD of the image, as the runtime would start it (no shell).
buildah run --isolation chroot --user "$user" --workingdir "$workdir" "$ctr" -- \
  fila serve --listen 0.0.0.0:5555 --metrics-listen 0.0.0.0:9464 >"$log" 2>&1 &
server=$!
for _ in $(seq 100); do
  grep -q "listening on" "$log" && break
  kill -0 "$server" 2>/dev/null || { cat "$log"; echo "error: the broker exited" >&2; exit 1; }
  sleep 0.2
done
grep "listening on" "$log"

echo "== the image's HEALTHCHECK"
buildah inspect --type image "$IMAGE" | python3 -c '
import json, sys
test = json.load(sys.stdin)["Docker"]["config"]["Healthcheck"]["Test"]
assert test[0] == "CMD", test
print("   " + " ".join(test[1:]), file=sys.stderr)
print("\0".join(test[1:]), end="")' >/tmp/fila-healthcheck.argv
mapfile -d '' -t check </tmp/fila-healthcheck.argv
buildah run --isolation chroot --user "$user" "$ctr" -- "${check[@]}"
echo "   healthy (exit 0)"

echo "== fila demo inside the image, against that broker"
buildah run --isolation chroot --user "$user" --workingdir /tmp "$ctr" -- \
  fila demo --addr 127.0.0.1:5555 | tail -n 4
echo "== ok: $IMAGE built, ran as uid $user, passed its HEALTHCHECK and the demo"
