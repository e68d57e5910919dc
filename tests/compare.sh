#!/usr/bin/env bash
# `sockshim compare -- CMD` (issue 14): curl fetching from a kernel server
# makes the same calls with the same results on the kernel (strace, veth)
# and under the shim (SOCKSHIM_TRACE): "same"; a program that deliberately
# behaves differently under the shim (another port when LD_PRELOAD is set)
# is reported at its first different call, with both sides' lines.
source "$(dirname "$0")/lib.sh"
command -v strace >/dev/null || fail "strace not installed"
SOCKSHIM=${SOCKSHIM_BIN_DIR:-$ROOT/target/release}/sockshim
[ -x "$SOCKSHIM" ] || fail "missing $SOCKSHIM (cargo build --release -p cli)"
echo "compared body" > "$WORK/index.html"
bg in_ns python3 -m http.server --bind 10.7.0.1 --directory "$WORK" 8000
wait_tcp 10.7.0.1 8000 || fail "kernel http server"

# Started straight through ip netns exec, which execs it: $! is compare's
# pid, which names its namespace (sscmp-PID).
ip netns exec "$NS" "$SOCKSHIM" compare --lib "$SHIM" --keep "$WORK/same" -- curl -sS -o /dev/null http://10.7.0.1:8000/index.html \
  > "$WORK/same.out" 2> "$WORK/same.err" &
cmp_pid=$!
wait "$cmp_pid"
rc=$?
[ $rc = 0 ] && grep -q "^same (" "$WORK/same.out" ||
  fail "compare -- curl: exit $rc, want same: $(cat "$WORK/same.out" "$WORK/same.err"); kernel: $(cat "$WORK/same/kernel.txt"); shim: $(cat "$WORK/same/shim.txt")"
grep -q "connect(" "$WORK/same/kernel.txt" && grep -q "connect(" "$WORK/same/shim.txt" || fail "compare: a side traced no connect"
out_has sscmp ip netns exec "$NS" ip -o link show && fail "compare left its veth behind"
# Only our compare's namespace: other scripts/test runs on the machine
# may be comparing at the same moment (their sscmp-* are theirs).
out_has "^sscmp-$cmp_pid\( \|\$\)" ip netns list && fail "compare left its namespace sscmp-$cmp_pid behind"
pass "compare -- curl: $(cat "$WORK/same.out")"

prog='if [ -n "${LD_PRELOAD:-}" ]; then port=8001; else port=8000; fi; curl -s -o /dev/null http://10.7.0.1:$port/index.html; exit 0'
in_ns "$SOCKSHIM" compare --lib "$SHIM" -- sh -c "$prog" > "$WORK/diff.out" 2> "$WORK/diff.err"
rc=$?
[ $rc = 1 ] || fail "compare of a different program: exit $rc, want 1: $(cat "$WORK/diff.out" "$WORK/diff.err")"
grep -q "^first divergence at call" "$WORK/diff.out" &&
  grep -q '^  kernel: connect(.*htons(8000)' "$WORK/diff.out" &&
  grep -q '^  shim:   connect(.*htons(8001)' "$WORK/diff.out" ||
  fail "compare of a different program: want the connect lines of both sides: $(cat "$WORK/diff.out")"
pass "compare of a deliberately different program: $(tr '\n' ' ' < "$WORK/diff.out")"
