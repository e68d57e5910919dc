# Shared helpers for the end-to-end tests (sourced). Each test gets its own
# network namespace (scripts/netns-up) removed on exit, even on failure.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SHIM=${SOCKSHIM_SO:-$ROOT/target/release/libsockshim.so}
NS="sst-$$-$(basename "$0" .sh)"
WORK=$(mktemp -d)
PIDS=()

cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  "$ROOT/scripts/netns-down" "$NS" >/dev/null 2>&1
  rm -rf "$WORK"
}
trap cleanup EXIT

fail() { echo "FAIL: $*"; exit 1; }
pass() { echo "PASS: $*"; }

[ -f "$SHIM" ] || fail "missing $SHIM (cargo build --release -p shim)"
"$ROOT/scripts/netns-up" "$NS" || fail "netns-up"

# in_ns CMD...: run on kernel sockets inside the namespace (host 10.7.0.1).
in_ns() { ip netns exec "$NS" "$@"; }
# shimmed CMD...: run under the shim inside the namespace (host 10.7.0.2).
shimmed() { ip netns exec "$NS" env LD_PRELOAD="$SHIM" "$@"; }
# bg CMD...: start in the background, remember for cleanup.
bg() { "$@" & PIDS+=($!); }

# wait_port HOST PORT: until something listens there (kernel side check).
wait_tcp() {
  for _ in $(seq 100); do
    in_ns bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null && return 0
    sleep 0.05
  done
  return 1
}
wait_file() { for _ in $(seq 100); do [ -s "$1" ] && return 0; sleep 0.05; done; return 1; }

sha() { sha256sum "$1" | cut -c1-64; }
