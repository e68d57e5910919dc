#!/usr/bin/env bash
# ICMP errors for TCP as Linux's tcp_v4_err: a kernel host rejects our SYN
# with an ICMP host unreachable (nft reject): connect() fails with
# EHOSTUNREACH, and only under IP_RECVERR the error queue holds the error
# (SO_EE_ORIGIN_ICMP, type 3 code 1, the SYN's TCP header quoted, the
# destination as the name); established connections whose data is
# rejected: with IP_RECVERR the next call reports the error once and the
# connection lives on, without it nothing shows. The same script against a
# kernel client over a veth pair, in this run, is the oracle.
source "$(dirname "$0")/lib.sh"
PROG="python3 $(dirname "$0")/tools/tcp_icmp_errors.py"
REJ=7409; OPEN=7408
# reject_rules NS: ICMP host unreachable for SYNs to REJ in NS.
reject_rules() {
  ip netns exec "$1" nft -f - <<NFT
table inet sst_icmp {
  chain input {
    type filter hook input priority 0;
    tcp dport $REJ reject with icmp type host-unreachable
  }
}
NFT
}
# a listener that reads what comes (kernel sockets) in NS on ADDR:OPEN.
listener() {
  bg ip netns exec "$1" python3 -c '
import socket, sys, threading
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind((sys.argv[1], int(sys.argv[2]))); l.listen(8)
def drain(c):
    while c.recv(4096): pass
while True:
    c, _ = l.accept(); threading.Thread(target=drain, args=(c,), daemon=True).start()' "$2" "$OPEN"
}
# The rule that rejects OPEN too (run by the client once it is connected).
more_rule() { echo "ip netns exec $1 nft add rule inet sst_icmp input tcp dport $OPEN reject with icmp type host-unreachable"; }

with_veth_pair || fail "veth pair"
reject_rules "$VB" || fail "nft in the kernel baseline"
listener "$VB" 10.8.0.2
retry 50 ip netns exec "$VA" bash -c "exec 3<>/dev/tcp/10.8.0.2/$OPEN" 2>/dev/null || fail "kernel listener"
kernel=$(ip netns exec "$VA" $PROG 10.8.0.2 $REJ $OPEN "$(more_rule "$VB")") || fail "kernel run: $kernel"

reject_rules "$NS" || fail "nft"
listener "$NS" 10.7.0.1
wait_tcp 10.7.0.1 $OPEN || fail "listener"
shim=$(shimmed $PROG 10.7.0.1 $REJ $OPEN "$(more_rule "$NS")") || fail "shim run: $shim"
echo "$kernel" >"$WORK/kernel"; echo "$shim" >"$WORK/shim"
diff -u "$WORK/kernel" "$WORK/shim" || fail "the shim's observations differ from the kernel's (above)"
grep -q "connect 1 EHOSTUNREACH" "$WORK/kernel" || fail "the baseline did not see the ICMP error: $kernel"
echo "$shim"
pass "TCP ICMP errors as the kernel's ($(wc -l <"$WORK/shim") observations)"
