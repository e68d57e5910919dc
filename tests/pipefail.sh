#!/usr/bin/env bash
# The "no tun7 10.11.0.1/24" flake of tests/sockshim.sh: under pipefail,
# `ip -o addr show dev X | grep -q ADDR` fails when grep exits at its
# first match while ip still writes (ip writes each address line with its
# own write(2), and dies of SIGPIPE: status 141). The device had the
# address all along. The checks now go through lib.sh's out_has, which
# reads the whole output first. This test shows the hazard
# deterministically, then runs the real check 200 times beside two busy
# loops (the load under which the flake was seen): never a failure.
source "$(dirname "$0")/lib.sh"

# 1. Deterministic: a writer whose second line comes after grep has
# matched the first.
two_lines() { echo first; sleep 0.2; echo second; }
two_lines | grep -q first
rc=$?
[ "$rc" = 141 ] || fail "'two_lines | grep -q first' exit $rc, want 141 (SIGPIPE)"
out_has first two_lines || fail "out_has missed the first line"
out_has second two_lines || fail "out_has missed the second line"
out_has third two_lines && fail "out_has found a line that is not there"
out_has . false && fail "out_has passed a failed command"
pass "grep -q under pipefail fails a writer with lines after the match (141); out_has reads them all"

# 2. Under load: the device has both addresses, so ip writes two lines.
out_has 'inet6 fd00:7::1/64' ip -n "$NS" -o addr show dev sockshim0 || fail "no IPv6 address on sockshim0"
bg sh -c 'while :; do :; done'
bg sh -c 'while :; do :; done'
naive=0 bad=0
for _ in $(seq 200); do
  ip -n "$NS" -o addr show dev sockshim0 | grep -q 'inet 10.7.0.1/24' || naive=$((naive + 1))
  out_has 'inet 10.7.0.1/24' ip -n "$NS" -o addr show dev sockshim0 || bad=$((bad + 1))
done
[ "$bad" = 0 ] || fail "out_has missed the address $bad times of 200 under load"
pass "under two busy loops: out_has found the address 200/200 (the old pipeline failed $naive/200)"
