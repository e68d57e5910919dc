#!/usr/bin/env bash
# TUN offloads (issue 13), in both modes: OFFLOAD_MIB (default 64) MiB of
# random bytes each way between the shim and a kernel peer (sha256 equal),
# with the stack's counters showing that super-segments left (tcp_tso_out)
# and super-frames arrived (gso_frames_in), most of them read straight into
# the receive buffer (tcp_rx_placed). Then shim -> a far namespace
# routed through the TUN's kernel side over a veth that does no checksum
# or segmentation offload: the kernel cuts our super-segments and finishes
# their partial checksums in software, and the far end, with receive
# checksum offload off, verifies every one (its TcpInCsumErrors must not
# move). IPv6 (TSO6) both ways in process mode. Last, SOCKSHIM_OFFLOAD=0:
# no super-segment either way.
source "$(dirname "$0")/lib.sh"
command -v socat >/dev/null || fail "socat not installed"
command -v ethtool >/dev/null || fail "ethtool not installed"
mib=${OFFLOAD_MIB:-64}
head -c "${mib}M" /dev/urandom > "$WORK/in" || fail "test data"
want=$(sha "$WORK/in")
export SOCKSHIM_SERVICE_LOG=$WORK/svc.log SOCKSHIM_IDLE_MS=300

FAR="$NS-far"
trap 'ip netns del "$FAR" 2>/dev/null; cleanup' EXIT
ip netns add "$FAR" || fail "netns $FAR"
ip link add "oN$$" type veth peer name "oF$$" || fail "veth"
ip link set "oN$$" netns "$NS" && ip link set "oF$$" netns "$FAR" || fail "veth ends"
ip -n "$NS" addr add 10.9.0.1/24 dev "oN$$" && ip -n "$FAR" addr add 10.9.0.2/24 dev "oF$$" || fail "veth addresses"
ip -n "$FAR" link set lo up && ip -n "$NS" link set "oN$$" up && ip -n "$FAR" link set "oF$$" up || fail "veth up"
ip -n "$FAR" route add 10.7.0.0/24 via 10.9.0.1 || fail "route back"
in_ns sysctl -qw net.ipv4.ip_forward=1 || fail "ip_forward"
in_ns ethtool -K "oN$$" tx off tso off gso off >/dev/null 2>&1 || fail "ethtool tx off"
ip netns exec "$FAR" ethtool -K "oF$$" rx off gro off >/dev/null 2>&1 || fail "ethtool rx off"
for _ in $(seq 100); do
  ip -n "$FAR" -o link show "oF$$" | grep -q LOWER_UP && in_ns ip -o link show "oN$$" | grep -q LOWER_UP && break
  sleep 0.05
done

listening() { ip netns exec "$1" ss -Htln "sport = :$2" | grep -q .; }
# ctr NAME FILE: the counter's last value in a "stack counters" log line.
ctr() { grep -o "$1: [0-9]*" "$2" 2>/dev/null | tail -1 | grep -o '[0-9]*$'; }
csum_errors() { ip netns exec "$1" nstat -az TcpInCsumErrors 2>/dev/null | awk '/TcpInCsumErrors/ { print $2 }'; }

# socat's TCP address for ADDR: TCP6 and [brackets] for IPv6.
tcp_of() { case $1 in *:*) echo "TCP6:[$1]" ;; *) echo "TCP:$1" ;; esac; }
listen_of() { case $1 in *:*) echo "TCP6-LISTEN:$2,bind=[$1]" ;; *) echo "TCP-LISTEN:$2,bind=$1" ;; esac; }

# to_kernel LABEL NETNS ADDR LOG ENV...: the shim sends the file to a
# kernel receiver at ADDR in NETNS; its counters go to LOG.
to_kernel() {
  local label=$1 ns=$2 addr=$3 log=$4 port
  shift 4
  port=$((7100 + RANDOM % 800))
  rm -f "$WORK/out"
  ip netns exec "$ns" socat -u "$(listen_of "$addr" $port)",reuseaddr OPEN:"$WORK/out",creat,trunc & PIDS+=($!)
  retry 50 listening "$ns" $port || fail "$label: kernel receiver"
  shimmed env SOCKSHIM_LOG=debug "$@" timeout 120 socat -u OPEN:"$WORK/in" "$(tcp_of "$addr")":$port 2> "$log" ||
    fail "$label: shim sender: $(tail -3 "$log")"
  wait "${PIDS[-1]}" || fail "$label: kernel receiver failed"
  [ "$(sha "$WORK/out")" = "$want" ] || fail "$label: sha256 differs ($(stat -c %s "$WORK/out") bytes)"
}

# from_kernel LABEL LOG [ADDR] [ENV...]: the kernel in the namespace sends
# the file to a shim receiver at ADDR (default 10.7.0.2).
from_kernel() {
  local label=$1 log=$2 addr=${3:-10.7.0.2} port
  shift 2; [ $# -gt 0 ] && shift
  port=$((7100 + RANDOM % 800))
  rm -f "$WORK/out"
  bg shimmed env SOCKSHIM_LOG=debug "$@" timeout 120 socat -u "$(listen_of "$addr" $port)",reuseaddr OPEN:"$WORK/out",creat,trunc 2> "$log"
  sleep 0.3
  retry 50 in_ns timeout 120 socat -u OPEN:"$WORK/in" "$(tcp_of "$addr")":$port 2>/dev/null || fail "$label: kernel sender"
  wait "${PIDS[-1]}" || fail "$label: shim receiver failed: $(tail -3 "$log")"
  [ "$(sha "$WORK/out")" = "$want" ] || fail "$label: sha256 differs ($(stat -c %s "$WORK/out") bytes)"
}

# The service writes its counters as each client goes; wait for them.
svc_settled() { sleep 0.5; }

for mode in process service; do
  export SOCKSHIM_MODE=$mode
  : > "$WORK/svc.log"
  to_kernel "$mode shim->kernel" "$NS" 10.7.0.1 "$WORK/tx.log"
  [ "$mode" = service ] && { svc_settled; cp "$WORK/svc.log" "$WORK/tx.log"; }
  tso=$(ctr tcp_tso_out "$WORK/tx.log")
  [ "${tso:-0}" -gt 0 ] || fail "$mode shim->kernel: no super-segment sent (tcp_tso_out=${tso:-none}): $(grep -m1 counters "$WORK/tx.log")"
  pass "$mode shim->kernel: $mib MiB, sha256 equal, $tso super-segments ($(ctr tcp_tso_bytes_out "$WORK/tx.log") bytes)"

  : > "$WORK/svc.log"
  from_kernel "$mode kernel->shim" "$WORK/rx.log"
  [ "$mode" = service ] && { svc_settled; cp "$WORK/svc.log" "$WORK/rx.log"; }
  gso=$(ctr gso_frames_in "$WORK/rx.log")
  bad=$(ctr drop_checksum "$WORK/rx.log")
  [ "${gso:-0}" -gt 0 ] || fail "$mode kernel->shim: no super-frame received (gso_frames_in=${gso:-none})"
  [ "${bad:-1}" -eq 0 ] || fail "$mode kernel->shim: $bad frames dropped by checksum"
  # Super-frames after the first of the stream are read straight into the
  # connection's receive buffer (the stack's tcp_rxplace.rs).
  placed=$(ctr tcp_rx_placed "$WORK/rx.log")
  [ "${placed:-0}" -gt 0 ] || fail "$mode kernel->shim: no segment read in place (tcp_rx_placed=${placed:-none})"
  pass "$mode kernel->shim: $mib MiB, sha256 equal, $gso super-frames received ($placed read in place), none dropped"; grep -o "frames_in: [0-9]*\|tcp_rx_[a-z]*: [0-9]*\|tcp_segs_out: [0-9]*" "$WORK/rx.log" | tr "\n" " "; echo

  before=$(csum_errors "$FAR")
  : > "$WORK/svc.log"
  to_kernel "$mode shim->far" "$FAR" 10.9.0.2 "$WORK/far.log"
  [ "$mode" = service ] && { svc_settled; cp "$WORK/svc.log" "$WORK/far.log"; }
  after=$(csum_errors "$FAR")
  tso=$(ctr tcp_tso_out "$WORK/far.log")
  [ "${tso:-0}" -gt 0 ] || fail "$mode shim->far: no super-segment sent (tcp_tso_out=${tso:-none})"
  [ "${before:-x}" = "${after:-y}" ] || fail "$mode shim->far: TcpInCsumErrors $before -> $after"
  pass "$mode shim->far (software segmentation and checksums on the way): sha256 equal, $tso super-segments, TcpInCsumErrors unchanged ($after)"
done
# The service lingers through our TIME_WAITs: stop it (it runs in our
# namespace) so the next shim can attach the device itself.
for p in $(ip netns pids "$NS" 2>/dev/null); do kill "$p" 2>/dev/null; done
for _ in $(seq 50); do ip netns pids "$NS" 2>/dev/null | grep -q . || break; sleep 0.1; done

export SOCKSHIM_MODE=process
to_kernel "IPv6 shim->kernel" "$NS" fd00:7::1 "$WORK/tx6.log"
tso=$(ctr tcp_tso_out "$WORK/tx6.log")
[ "${tso:-0}" -gt 0 ] || fail "IPv6 shim->kernel: no super-segment sent (tcp_tso_out=${tso:-none})"
from_kernel "IPv6 kernel->shim" "$WORK/rx6.log" fd00:7::2
gso=$(ctr gso_frames_in "$WORK/rx6.log")
[ "${gso:-0}" -gt 0 ] || fail "IPv6 kernel->shim: no super-frame received (gso_frames_in=${gso:-none})"
pass "IPv6: sha256 equal both ways, $tso super-segments sent, $gso super-frames received"

to_kernel "SOCKSHIM_OFFLOAD=0 shim->kernel" "$NS" 10.7.0.1 "$WORK/off.log" SOCKSHIM_OFFLOAD=0
from_kernel "SOCKSHIM_OFFLOAD=0 kernel->shim" "$WORK/off_rx.log" 10.7.0.2 SOCKSHIM_OFFLOAD=0
tso=$(ctr tcp_tso_out "$WORK/off.log")
gso=$(ctr gso_frames_in "$WORK/off_rx.log")
[ "${tso:-x}" = 0 ] && [ "${gso:-x}" = 0 ] || fail "SOCKSHIM_OFFLOAD=0: tcp_tso_out=${tso:-none} gso_frames_in=${gso:-none}, want 0 and 0"
pass "SOCKSHIM_OFFLOAD=0: sha256 equal both ways, no super-segment sent or received"
