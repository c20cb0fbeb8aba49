#!/bin/sh
# API conformance: starts the debug `hcp serve` on a throwaway data folder (manual clock at
# 2026-11-20, a copy of rules/), seeds a small county through the API (seed.py), and runs
# schemathesis against the served OpenAPI document as a new client would: signed in as the
# first administrator, with the source's API key. Fails on any finding.
#
# Usage: tests/conformance/run.sh SCHEMATHESIS HCP_BINARY [EXAMPLES]
#
# Excluded operations, and why:
#   POST /api/v1/admin/clock   moves the platform clock to any instant; a far one expires the
#                              run's own session and every later answer is a 401
#   POST /api/v1/admin/sweep   sweeps as of any instant (years past the loaded calendars):
#                              slow in a debug build, and it rewrites every open order
#   POST /api/v1/auth/login    argon2 per request; fuzzing it only measures the hash (its
#                              refusals are covered by the end-to-end tests)
#   POST /api/v1/auth/logout   ends the run's own session: every later answer would be a 401
#   POST /api/v1/auth/password would end the run's session if a case ever guessed the
#                              password; both are covered by tests/tests/sessions.rs
#   POST /api/v1/admin/plugins takes a WebAssembly component (application/wasm), which
#                              schemathesis cannot generate; installs are covered by the
#                              end-to-end plugin tests
#   GET /api/v1/live           an event stream that stays open for minutes: every case would
#                              wait for the request timeout (the RBAC matrix and the browser
#                              tests read it)
set -eu

SCHEMATHESIS=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
HCP=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
EXAMPLES=${3:-8}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
WORK=$(mktemp -d)
SERVER=

cleanup() {
  if [ -n "$SERVER" ]; then kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; fi
  if [ -n "${KEEP_LOG:-}" ]; then cp "$WORK/stderr.log" "$KEEP_LOG"; fi
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

cp -r "$ROOT/rules" "$WORK/rules"
cat > "$WORK/hcp.toml" <<TOML
rules_dir = "$WORK/rules"
[clock]
manual_start = "2026-11-20T10:00:00+08:00"
[workflow]
sweep_secs = 0
[security]
token_hours = 8760
idle_minutes = 525600
[limits]
# Schemathesis posts and reads from one address far faster than any citizen.
public_posts_per_minute = 1000000
public_reads_per_minute = 1000000
TOML

HCP_LOG=${HCP_LOG:-warn} NO_COLOR=1 "$HCP" serve --config "$WORK/hcp.toml" --listen 127.0.0.1:0 \
  --data "$WORK/data" > "$WORK/stdout.log" 2> "$WORK/stderr.log" &
SERVER=$!
tries=0
until grep -q "first administrator" "$WORK/stdout.log" 2>/dev/null; do
  tries=$((tries + 1))
  if [ $tries -gt 300 ] || ! kill -0 "$SERVER" 2>/dev/null; then
    echo "hcp did not start:"; cat "$WORK/stdout.log" "$WORK/stderr.log"; exit 1
  fi
  sleep 0.2
done
URL=$(sed -n 's/.*listening on \(http[^ ]*\).*/\1/p' "$WORK/stdout.log" | head -n 1)
PASSWORD=$(sed -n 's/.*first administrator: admin \/ \([^ ]*\).*/\1/p' "$WORK/stdout.log" | head -n 1)
set -- $(python3 "$HERE/seed.py" "$URL" "$PASSWORD")
TOKEN=$1
KEY=$2
echo "seeded $URL"
# Schemathesis keeps its cache in the folder it runs in: the throwaway one.
cd "$WORK"

. "$HERE/schemathesis.sh"
run_schemathesis "$SCHEMATHESIS" "$URL" "$TOKEN" "$KEY" "$EXAMPLES" 30 "$ROOT/target/conformance"
