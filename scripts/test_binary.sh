#!/usr/bin/env bash
# Test the Nuitka-built executable end to end (not part of CI: the build alone takes a while).
#
#   scripts/test_binary.sh                  # build dist/fila if it is missing, then test it
#   scripts/test_binary.sh --rebuild        # build again first
#   scripts/test_binary.sh -- -x -k crash   # extra arguments after -- go to pytest
#
# Checks: `fila --help`, `fila serve --help`, a broker from the executable taking a queue with a
# Lua hook and a message through the executable's own CLI, `fila top` drawing that queue in a
# real terminal (tmux) and quitting on q, `fila demo` (which starts a broker by running itself),
# and then the whole test suite with FILA_BIN pointing at the executable (every `fila serve`
# and `fila ...` the tests start is the executable).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BIN="$ROOT/dist/fila"   # absolute: the tests start it from other working directories
rebuild=0
pytest_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --rebuild) rebuild=1; shift ;;
    --) shift; pytest_args=("$@"); break ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done

if [ ! -x "$BIN" ] || [ "$rebuild" = 1 ]; then
  echo "== building dist/fila (nice -n 10)"
  nice -n 10 .venv/bin/python scripts/build_binary.py
elif [ -n "$(find fila pyproject.toml -newer "$BIN" -name '*.py' -print -quit 2>/dev/null)" ]; then
  echo "note: fila/ has changed since dist/fila was built; --rebuild to test the current code"
fi
[ -f dist/fila.build.json ] && echo "== dist/fila.build.json" && head -12 dist/fila.build.json

work=$(mktemp -d "${TMPDIR:-/tmp}/fila-bin-test.XXXXXX")
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  tmux kill-session -t "fila-bin-top-$$" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

echo "== fila --help"
"$BIN" --help > "$work/help.txt"   # the first run also unpacks into the onefile cache
grep -q "serve" "$work/help.txt"
echo "== fila serve --help"
"$BIN" serve --help | grep -q -- "--listen"

echo "== a broker from the executable, driven by the executable's CLI"
"$BIN" serve --listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 --data-dir "$work/data" \
  > "$work/serve.log" 2>&1 &
server_pid=$!
addr=""
for _ in $(seq 1 300); do
  addr=$(sed -n 's/.*listening on \([0-9.]*:[0-9]*\).*/\1/p' "$work/serve.log" | head -1)
  [ -n "$addr" ] && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/serve.log"; echo "FAIL: fila serve exited"; exit 1; }
  sleep 0.1
done
[ -n "$addr" ] || { cat "$work/serve.log"; echo "FAIL: fila serve did not start"; exit 1; }
metrics=$(sed -n 's|.*metrics on \(http://[0-9.]*:[0-9]*\)/metrics.*|\1|p' "$work/serve.log" | head -1)
cat > "$work/hook.lua" <<'EOF'
function on_enqueue(msg)
  return { fairness_key = msg.headers.tenant or "none", throttle_keys = { "t:" .. (msg.headers.tenant or "none") } }
end
EOF
"$BIN" --addr "$addr" queue create binary-smoke --on-enqueue "$work/hook.lua" > /dev/null
"$BIN" --addr "$addr" enqueue binary-smoke -H tenant=acme --payload hello > /dev/null
"$BIN" --addr "$addr" --output json stats binary-smoke | tee "$work/stats.json" | grep -q acme
if [ -n "$metrics" ]; then
  .venv/bin/python -c "import sys, urllib.request; sys.exit(urllib.request.urlopen('$metrics/healthz', timeout=5).status != 200)"
  echo "   healthz ok at $metrics"
fi
echo "   ok: serve, queue create (Lua hook), enqueue, stats at $addr"

echo "== fila top"
if ! "$BIN" top --help > /dev/null 2>&1; then
  echo "SKIP: 'fila top' is not a command of this build (not wired into fila.cli yet)"
elif ! command -v tmux > /dev/null; then
  echo "SKIP: tmux is not installed (apt-get install -y tmux) to run 'fila top' in a terminal"
else
  session="fila-bin-top-$$"
  tmux new-session -d -s "$session" -x 120 -y 36 \
    "TERM=xterm-256color '$BIN' --addr '$addr' top; echo \"fila top exited: \$?\"; sleep 30"
  drawn=0
  for _ in $(seq 1 100); do
    tmux capture-pane -p -t "$session" > "$work/top.txt"
    if grep -q "binary-smoke" "$work/top.txt"; then drawn=1; break; fi
    sleep 0.2
  done
  if [ "$drawn" != 1 ]; then cat "$work/top.txt"; echo "FAIL: fila top did not draw the queue"; exit 1; fi
  tmux send-keys -t "$session" q
  quit=0
  for _ in $(seq 1 50); do
    tmux capture-pane -p -t "$session" > "$work/top.txt"
    if grep -q "fila top exited: 0" "$work/top.txt"; then quit=1; break; fi
    sleep 0.2
  done
  tmux kill-session -t "$session" 2>/dev/null || true
  if [ "$quit" != 1 ]; then cat "$work/top.txt"; echo "FAIL: fila top did not quit cleanly on q"; exit 1; fi
  echo "   ok: drew the queue in a 120x36 terminal, quit on q"
fi
kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=""

echo "== fila demo (starts its own broker: the executable runs itself)"
port=$(.venv/bin/python -c "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")
(cd "$work" && timeout 180 "$BIN" demo --listen "127.0.0.1:$port" --data-dir "$work/demo-data") \
  > "$work/demo.txt" 2>&1 || { cat "$work/demo.txt"; echo "FAIL: fila demo"; exit 1; }
grep -q "Broker stopped" "$work/demo.txt" || { cat "$work/demo.txt"; echo "FAIL: fila demo"; exit 1; }
echo "   ok: fair scheduling and throttling demo ran against the broker it started"

echo "== the test suite against the executable (FILA_BIN=$BIN)"
FILA_BIN="$BIN" .venv/bin/python -m pytest tests/ -q -p no:cacheprovider "${pytest_args[@]}"
