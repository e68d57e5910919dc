#!/usr/bin/env bash
# The README's demo command works as written: scripts/demo fetches the page
# through the shim (the server saw client 10.7.0.2).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
fail() { echo "FAIL: $*"; exit 1; }
out=$(timeout 300 "$ROOT/scripts/demo" </dev/null 2>&1) || fail "scripts/demo exit $?: $(tail -5 <<<"$out")"
grep -q '^hello from the kernel side' <<<"$out" || fail "page not fetched: $(tail -5 <<<"$out")"
grep -q '^10\.7\.0\.2 .*"GET / HTTP' <<<"$out" || fail "server did not see client 10.7.0.2"
echo "PASS: scripts/demo"
