#!/usr/bin/env bash
# Run the MCP conformance server suites against a URL and write per-scenario summaries.
#
#   .ci/conformance.sh URL OUTDIR      run the suites, write OUTDIR/{active,all,alpha-2026-07-28,alpha-2025-11-25}.txt
#   .ci/conformance.sh --install       only install Node 22 and the suites into .cache/
#
# Each summary file holds one sorted line per scenario: `PASS name` or `FAIL name: reason`.
# The console output of each run (OUTDIR/raw/<suite>.log) and its checks.json files (OUTDIR/raw/<suite>/)
# are kept for diagnosis.
# Exit status is 0 whenever the suites ran, even if checks failed: comparing against the baseline is the
# caller's job (test/conformance/compare.ts). Non-zero only for usage errors or a failed install.
#
# Node 22 (needed by the suites: they import `globSync` from `fs`) is installed from the npm registry as the
# `node` package into .cache/node22 and put first on PATH *only* for the suite processes. Nothing is installed
# into the project's node_modules and nothing globally.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="$ROOT/.cache"
NODE22_VERSION="22.23.3"
CONF_VERSION="0.1.16"
ALPHA_VERSION="0.2.0-alpha.12"
NODE22_DIR="$CACHE/node22"
CONF_DIR="$CACHE/conformance"
ALPHA_DIR="$CACHE/conformance-alpha"

log() { printf '[conformance] %s\n' "$*" >&2; }

installed_version() { # DIR PKG -> version or empty
  local pj="$1/node_modules/$2/package.json"
  [[ -f "$pj" ]] && node -p 'require(process.argv[1]).version' "$pj" 2>/dev/null || true
}

npm_install() { # DIR SPEC
  mkdir -p "$1"
  # A private package.json keeps npm from walking up into the project.
  [[ -f "$1/package.json" ]] || printf '{"name":"airlock-ci-cache","private":true}\n' >"$1/package.json"
  (cd "$1" && npm install --prefix "$1" --no-audit --no-fund --loglevel=error --save-exact "$2" >&2)
}

install_all() {
  if [[ "$(installed_version "$NODE22_DIR" node)" != "$NODE22_VERSION" ]]; then
    log "installing node@$NODE22_VERSION into $NODE22_DIR"
    npm_install "$NODE22_DIR" "node@$NODE22_VERSION"
  fi
  if [[ "$(installed_version "$CONF_DIR" @modelcontextprotocol/conformance)" != "$CONF_VERSION" ]]; then
    log "installing @modelcontextprotocol/conformance@$CONF_VERSION into $CONF_DIR"
    npm_install "$CONF_DIR" "@modelcontextprotocol/conformance@$CONF_VERSION"
  fi
  if [[ "$(installed_version "$ALPHA_DIR" @modelcontextprotocol/conformance)" != "$ALPHA_VERSION" ]]; then
    log "installing @modelcontextprotocol/conformance@$ALPHA_VERSION into $ALPHA_DIR"
    npm_install "$ALPHA_DIR" "@modelcontextprotocol/conformance@$ALPHA_VERSION"
  fi
  local v
  v="$("$NODE22_DIR/node_modules/.bin/node" --version)"
  [[ "$v" == "v$NODE22_VERSION" ]] || { log "unexpected node version $v"; exit 2; }
}

if [[ "${1:-}" == "--install" ]]; then
  install_all
  exit 0
fi
if [[ $# -ne 2 ]]; then
  echo "usage: $0 URL OUTDIR   |   $0 --install" >&2
  exit 2
fi
URL="$1"
OUTDIR="$2"
install_all
mkdir -p "$OUTDIR"
OUTDIR="$(cd "$OUTDIR" && pwd)"

NODE22_BIN="$NODE22_DIR/node_modules/.bin"
# Whole-run guard so a wedged server cannot hang CI (the alpha also has its own per-scenario timeout).
RUN_TIMEOUT="${CONFORMANCE_RUN_TIMEOUT:-900}"

# run_suite NAME SUITE_DIR ARGS... : runs the CLI with its results under OUTDIR/raw/NAME, then
# summarises them into OUTDIR/NAME.txt (console output: OUTDIR/raw/NAME.log).
run_suite() {
  local name="$1" dir="$2"
  shift 2
  local work="$OUTDIR/raw/$name"
  rm -rf "$work"
  mkdir -p "$work"
  log "$name: conformance server --url $URL $*"
  local rc=0
  (
    cd "$work"
    PATH="$NODE22_BIN:$PATH" timeout --kill-after=10 "$RUN_TIMEOUT" \
      "$NODE22_BIN/node" "$dir/node_modules/@modelcontextprotocol/conformance/dist/index.js" \
      server --url "$URL" -o "$work/results" "$@"
  ) >"$OUTDIR/raw/$name.log" 2>&1 || rc=$?
  log "$name: exit $rc"
  "$NODE22_BIN/node" "$ROOT/test/conformance/summarize.mjs" "$work/results" "$OUTDIR/raw/$name.log" >"$OUTDIR/$name.txt" \
    || { log "$name: could not summarise results"; : >"$OUTDIR/$name.txt"; }
  local pass fail
  pass=$(grep -c '^PASS ' "$OUTDIR/$name.txt" || true)
  fail=$(grep -c '^FAIL ' "$OUTDIR/$name.txt" || true)
  log "$name: $pass passed, $fail failed (scenarios)"
}

# 0.1.16: the 2025-era suite (active = scored scenarios; all = active + pending).
run_suite active "$CONF_DIR"
run_suite all "$CONF_DIR" --suite all
# 0.2.0-alpha: exactly what each spec revision requires (the alpha's `--requirements` replaces
# --suite/--spec-version). 2026-07-28 exercises the modern era (server/discover, MRTR, no sessions);
# 2025-11-25 re-runs the 2025 era with the alpha's newer checks (e.g. session lifecycle).
run_suite alpha-2026-07-28 "$ALPHA_DIR" --requirements 2026-07-28
run_suite alpha-2025-11-25 "$ALPHA_DIR" --requirements 2025-11-25
exit 0
