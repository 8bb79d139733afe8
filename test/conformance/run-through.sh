#!/usr/bin/env bash
# Run the MCP conformance suites against the in-repo conformance server, directly or through the
# gateway, and compare the result with the recorded baseline (test/conformance/baseline/*.txt).
#
#   test/conformance/run-through.sh direct            suites against the server itself; compare
#   test/conformance/run-through.sh direct --record   same, then overwrite the baseline with the result
#   test/conformance/run-through.sh gateway [CMD...]  server behind the gateway; compare
#
# Gateway mode starts the server on a free port, writes a gateway config
#   {"listen":{"host":"127.0.0.1","port":PORT},"servers":{"conf":{"url":"http://127.0.0.1:UPPORT/mcp"}}}
# starts CMD (default: node_modules/.bin/tsx server/src/cli/main.ts serve --config {config}), waits for
# GET /healthz, and runs the suites against http://127.0.0.1:PORT/mcp/conf. In CMD, `{config}` is
# replaced by the config file's path and `{port}` by the gateway port; when no argument mentions
# `{config}`, `--config <path>` is appended.
#
# Output (summaries, console logs, raw checks.json, server/gateway logs) goes to $CONFORMANCE_OUT,
# default test-results/conformance/<mode>. Exit status: 0 no regression, 1 regression (compare.ts),
# 2 setup failure (server or gateway did not come up). Everything binds 127.0.0.1; every process
# started here is stopped on exit.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
BASELINE="$ROOT/test/conformance/baseline"
TSX="$ROOT/node_modules/.bin/tsx"
STARTUP_TIMEOUT="${CONFORMANCE_STARTUP_TIMEOUT:-60}"

MODE="${1:-}"
[[ $# -gt 0 ]] && shift
RECORD=0
if [[ "$MODE" == "direct" && "${1:-}" == "--record" ]]; then
  RECORD=1
  shift
fi
if [[ "$MODE" != "direct" && "$MODE" != "gateway" ]] || [[ "$MODE" == "direct" && $# -gt 0 ]]; then
  sed -n '2,20p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
  exit 2
fi

OUT="${CONFORMANCE_OUT:-$ROOT/test-results/conformance/$MODE}"
rm -rf "$OUT"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"

log() { printf '[run-through] %s\n' "$*" >&2; }

# --- process bookkeeping: each child runs in its own session/process group (setsid), so stopping
# --- it also stops the node process tsx spawns underneath. Only these groups are signalled.
PGIDS=()
start_bg() { # LOGFILE CMD... ; sets STARTED_PID
  setsid "${@:2}" >"$1" 2>&1 </dev/null &
  STARTED_PID=$!
  PGIDS+=("$STARTED_PID")
}
cleanup() {
  local pgid
  for pgid in "${PGIDS[@]}"; do kill -TERM -- "-$pgid" 2>/dev/null || true; done
  for pgid in "${PGIDS[@]}"; do
    for _ in $(seq 1 50); do kill -0 -- "-$pgid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$pgid" 2>/dev/null || true
  done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{process.stdout.write(String(s.address().port));s.close();});'
}

# 1. the conformance server
start_bg "$OUT/server.log" "$TSX" test/fixtures/conformance-server.ts --port 0
SERVER_PID=$STARTED_PID
UPSTREAM_URL=""
for _ in $(seq 1 $((STARTUP_TIMEOUT * 10))); do
  UPSTREAM_URL="$(sed -n 's/^listening \(http:\/\/127\.0\.0\.1:[0-9]*\/mcp\)$/\1/p' "$OUT/server.log" | head -n1)"
  [[ -n "$UPSTREAM_URL" ]] && break
  kill -0 "$SERVER_PID" 2>/dev/null || break
  sleep 0.1
done
if [[ -z "$UPSTREAM_URL" ]]; then
  log "conformance server did not start; log:"
  cat "$OUT/server.log" >&2
  exit 2
fi
log "conformance server at $UPSTREAM_URL"

# 2. the gateway in front of it (gateway mode)
if [[ "$MODE" == "gateway" ]]; then
  PORT="$(free_port)"
  UPPORT="${UPSTREAM_URL#http://127.0.0.1:}"
  UPPORT="${UPPORT%/mcp}"
  CONFIG="$OUT/airlock.conformance.json"
  printf '{"listen":{"host":"127.0.0.1","port":%s},"servers":{"conf":{"url":"http://127.0.0.1:%s/mcp"}}}\n' \
    "$PORT" "$UPPORT" >"$CONFIG"
  if [[ $# -eq 0 ]]; then
    set -- "$TSX" server/src/cli/main.ts serve --config '{config}'
  fi
  GATEWAY_CMD=()
  HAS_CONFIG=0
  for arg in "$@"; do
    [[ "$arg" == *"{config}"* ]] && HAS_CONFIG=1
    arg="${arg//\{config\}/$CONFIG}"
    GATEWAY_CMD+=("${arg//\{port\}/$PORT}")
  done
  [[ $HAS_CONFIG -eq 1 ]] || GATEWAY_CMD+=(--config "$CONFIG")
  log "gateway: ${GATEWAY_CMD[*]}"
  start_bg "$OUT/gateway.log" "${GATEWAY_CMD[@]}"
  GATEWAY_PID=$STARTED_PID
  HEALTHY=0
  for _ in $(seq 1 $((STARTUP_TIMEOUT * 10))); do
    if curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$PORT/healthz" 2>/dev/null; then
      HEALTHY=1
      break
    fi
    kill -0 "$GATEWAY_PID" 2>/dev/null || break
    sleep 0.1
  done
  if [[ $HEALTHY -ne 1 ]]; then
    log "gateway did not become healthy on 127.0.0.1:$PORT; log:"
    cat "$OUT/gateway.log" >&2
    exit 2
  fi
  TARGET="http://127.0.0.1:$PORT/mcp/conf"
else
  TARGET="$UPSTREAM_URL"
fi

# 3. the suites, then the comparison
log "running the suites against $TARGET"
"$ROOT/.ci/conformance.sh" "$TARGET" "$OUT"

if [[ $RECORD -eq 1 ]]; then
  mkdir -p "$BASELINE"
  cp "$OUT"/*.txt "$BASELINE/"
  log "baseline recorded in $BASELINE"
fi

set +e
if [[ "$MODE" == "gateway" ]]; then GAPS=("$ROOT/test/conformance/gateway-known-gaps.txt"); else GAPS=(); fi
"$TSX" test/conformance/compare.ts "$BASELINE" "$OUT" "${GAPS[@]}"
STATUS=$?
set -e
log "results in $OUT (compare exit $STATUS)"
exit $STATUS
