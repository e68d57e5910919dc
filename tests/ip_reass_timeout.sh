#!/usr/bin/env bash
# A datagram whose fragments never all come: after net.ipv4.ipfrag_time
# (set to 1 s in the test's namespace, which the shim reads) the stack drops
# it on its own timer and answers with an ICMP time exceeded (fragment
# reassembly) quoting the first fragment, as a kernel host over veth does
# in the same run.
source "$(dirname "$0")/lib.sh"
FRAG="python3 $(dirname "$0")/tools/first_fragment.py"
in_ns sysctl -qw net.ipv4.ipfrag_time=1
# A program under the shim holds the stack (and its addresses) meanwhile.
shimmed_udp_echo 7410 || fail "the shimmed echo program does not answer"
with_veth_pair || fail "veth pair"
ip netns exec "$VB" sysctl -qw net.ipv4.ipfrag_time=1
kernel=$(ip netns exec "$VA" $FRAG 10.8.0.2) || fail "kernel probe"
shim=$(in_ns $FRAG 10.7.0.2) || fail "shim probe"
echo "kernel over veth: $kernel; shim: $shim"
[ "$kernel" != none ] || fail "the kernel sent no time exceeded: the oracle changed"
[ "$shim" = "$kernel" ] || fail "shim answered '$shim', the kernel '$kernel'"
pass "an unfinished datagram times out on the stack's timer: $shim"
