# Shared helpers for the end-to-end tests (sourced). Each test gets its own
# network namespace (scripts/netns-up) removed on exit, even on failure.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SHIM=${SOCKSHIM_SO:-$ROOT/target/release/libsockshim.so}
NS="sst-$$-$(basename "$0" .sh)"
WORK=$(mktemp -d)
PIDS=()

# kill_tree PID: PID and all its descendants (a server started through
# ip netns exec and env is a grandchild of the PID bg saw).
kill_tree() {
  local p=$1 c
  for c in $(pgrep -P "$p" 2>/dev/null); do kill_tree "$c"; done
  kill "$p" 2>/dev/null
}
# stop_last: stop the most recent bg process tree and wait for it.
stop_last() {
  local p=${PIDS[-1]}
  kill_tree "$p"; wait "$p" 2>/dev/null
  for _ in $(seq 50); do out_has . ip netns pids "$NS" 2>/dev/null || break; sleep 0.05; done
}

cleanup() {
  for p in "${PIDS[@]}"; do kill_tree "$p"; done
  # What still runs in our namespace (the detached stack service of
  # SOCKSHIM_MODE=service, lingering through TIME_WAITs) goes too.
  for p in $(ip netns pids "$NS" 2>/dev/null); do kill "$p" 2>/dev/null; done
  "$ROOT/scripts/netns-down" "$NS" >/dev/null 2>&1
  rm -rf "$WORK"
}
trap cleanup EXIT

fail() { echo "FAIL: $*"; exit 1; }

# out_has PATTERN CMD...: CMD succeeds and a line of its output matches
# PATTERN (grep's basic regex). The output is read to its end first: with
# pipefail, `CMD | grep -q PATTERN` fails when grep exits at the first
# match while CMD is still writing (CMD dies of SIGPIPE, status 141). `ip
# -o addr show` writes each address with its own write(2), so under load
# that made "no tun7 10.11.0.1/24" out of a device that had the address
# (tests/pipefail.sh).
out_has() { local pat=$1 out; shift; out=$("$@") || return 1; grep -q -- "$pat" <<<"$out"; }
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

# retry N CMD...: run CMD until it succeeds, up to N times 0.1 s apart.
retry() { local n=$1; shift; for _ in $(seq "$n"); do "$@" && return 0; sleep 0.1; done; return 1; }

# veth_pair NAME_A NAME_B: two namespaces joined by a veth pair, A=10.8.0.1,
# B=10.8.0.2 and fd00:8::1/fd00:8::2 (the kernel baseline for comparisons).
veth_pair() {
  ip netns add "$1"; ip netns add "$2"
  ip link add "vA$$" type veth peer name "vB$$"
  ip link set "vA$$" netns "$1"; ip link set "vB$$" netns "$2"
  ip -n "$1" addr add 10.8.0.1/24 dev "vA$$"; ip -n "$2" addr add 10.8.0.2/24 dev "vB$$"
  ip -n "$1" -6 addr add fd00:8::1/64 dev "vA$$" nodad 2>/dev/null; ip -n "$2" -6 addr add fd00:8::2/64 dev "vB$$" nodad 2>/dev/null
  ip -n "$1" link set lo up; ip -n "$2" link set lo up
  ip -n "$1" link set "vA$$" up; ip -n "$2" link set "vB$$" up
  for _ in $(seq 100); do
    out_has LOWER_UP ip -n "$1" -o link show "vA$$" && out_has LOWER_UP ip -n "$2" -o link show "vB$$" && return 0
    sleep 0.05
  done
  return 1
}

# shimmed_udp_echo PORT: a program under the shim that holds the stack (and
# its addresses, both families) and echoes UDP on PORT; returns once it
# answers a kernel client on 10.7.0.2.
shimmed_udp_echo() {
  bg shimmed python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.bind(("::", int(sys.argv[1])))
while True:
    d, a = s.recvfrom(64)
    s.sendto(d, a)' "$1"
  retry 50 in_ns python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(0.2)
s.sendto(b"up", ("10.7.0.2", int(sys.argv[1])))
s.recv(8)' "$1" 2>/dev/null
}

# with_veth_pair: the kernel baseline's namespaces $VA and $VB (veth_pair),
# removed at exit with the rest.
with_veth_pair() {
  VA="$NS-va"; VB="$NS-vb"
  trap 'ip netns del "$VA" 2>/dev/null; ip netns del "$VB" 2>/dev/null; cleanup' EXIT
  veth_pair "$VA" "$VB"
}
