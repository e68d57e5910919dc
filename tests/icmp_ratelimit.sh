#!/usr/bin/env bash
# ICMP errors are rate-limited as Linux's: a kernel client sends 100
# datagrams at once to a closed UDP port of a program under the shim and
# counts the port unreachables that come back (IPv4 and IPv6); the same
# burst to a closed port of a kernel host over a veth pair, in this run, is
# the oracle (6 on Linux 6.18: a peer's bucket holds six).
source "$(dirname "$0")/lib.sh"
BURST="python3 $(dirname "$0")/tools/icmp_burst.py"
# A program under the shim holds the stack (and its addresses) meanwhile.
shimmed_udp_echo 7400 || fail "the shimmed echo program does not answer"
with_veth_pair || fail "veth pair"
# Two bursts 2.5 s apart: the pause refills two and a half messages' worth
# of a peer's bucket (IPv4: one a second; IPv6: one per 100 ms, and six at most).
kernel=$(ip netns exec "$VA" $BURST 10.8.0.2 7401 100 2.5) || fail "kernel burst"
v4=$(in_ns $BURST 10.7.0.2 7401 100 2.5) || fail "IPv4 burst"
kernel6=$(ip netns exec "$VA" $BURST fd00:8::2 7401 100 2.5) || fail "kernel IPv6 burst"
v6=$(in_ns $BURST fd00:7::2 7401 100 2.5) || fail "IPv6 burst"
echo "port unreachables for two bursts of 100 datagrams: kernel over veth $kernel / $kernel6, shim $v4 / $v6 (IPv4 / IPv6)"
[ "$v4" = "$kernel" ] || fail "IPv4: $v4 port unreachables, the kernel sent $kernel"
[ "$v6" = "$kernel6" ] || fail "IPv6: $v6 port unreachables, the kernel sent $kernel6"
[ "${v4%% *}" -lt 100 ] || fail "IPv4: no limit"
pass "ICMP errors rate-limited as the kernel's: $v4 (IPv4) and $v6 (IPv6) for two bursts of 100"
