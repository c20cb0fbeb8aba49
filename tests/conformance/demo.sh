#!/bin/sh
# API conformance against the demo city (`make api-conformance-demo`): starts the release
# `hcp demo` on a throwaway data folder (about 90 days of history, the uplink to the simulated
# province on), signs in as the demo administrator, and runs schemathesis with the same checks
# and exclusions as run.sh (see there for why each is left out). Slower than run.sh (the demo
# seeds for a minute or two) and not part of `make test`; fails on any finding.
#
# Usage: tests/conformance/demo.sh SCHEMATHESIS HCP_RELEASE_BINARY [EXAMPLES]
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
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

# Schemathesis posts and reads from one address far faster than any citizen.
cat > "$WORK/hcp.toml" <<TOML
[limits]
public_posts_per_minute = 1000000
public_reads_per_minute = 1000000
TOML
# The demo finds its rules and adapters relative to the repository.
cd "$ROOT"
HCP_LOG=warn NO_COLOR=1 "$HCP" demo --config "$WORK/hcp.toml" --listen 127.0.0.1:0 --data "$WORK/data" \
  > "$WORK/stdout.log" 2> "$WORK/stderr.log" &
SERVER=$!
until grep -q "listening on" "$WORK/stdout.log" 2>/dev/null; do
  if ! kill -0 "$SERVER" 2>/dev/null; then
    echo "hcp demo did not start:"; tail -20 "$WORK/stderr.log"; exit 1
  fi
  sleep 2
done
URL=$(sed -n 's/.*listening on \(http[^ ]*\).*/\1/p' "$WORK/stdout.log" | head -n 1)
TOKEN=$(python3 - "$URL" <<'PY'
import json, sys, urllib.request
request = urllib.request.Request(
    sys.argv[1] + "/api/v1/auth/login",
    data=json.dumps({"username": "admin", "password": "demo-2026"}).encode(),
    headers={"Content-Type": "application/json"},
)
print(json.load(urllib.request.urlopen(request, timeout=60))["token"])
PY
)
KEY=$(grep -o 'hcpk_[A-Za-z0-9_-]*' "$WORK/stdout.log" | head -n 1)
echo "demo city at $URL"
cd "$WORK"

. "$HERE/schemathesis.sh"
run_schemathesis "$SCHEMATHESIS" "$URL" "$TOKEN" "$KEY" "$EXAMPLES" 120 "$ROOT/target/conformance"
