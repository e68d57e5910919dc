#!/usr/bin/env bash
# The sockshim command: `sockshim run -- curl` end to end in a namespace
# (the server sees 10.7.0.2); `run --netns` makes a namespace with its TUN
# device, runs there on the stack, and removes it; the launcher refuses,
# with one line saying why, a static binary (gcc -static), a Go binary (a
# static one carrying Go's build-id note, added with objcopy) and a setgid
# one, and runs them with --force after a loud warning; a missing TUN
# device and a missing library are one line each; --help everywhere.
source "$(dirname "$0")/lib.sh"
SS=$ROOT/target/release/sockshim
[ -x "$SS" ] || fail "missing $SS (cargo build --release -p cli)"
NS2="sst-$$-made" NS3="sst-$$-updown"
# lib.sh's cleanup, plus the namespaces this test makes itself.
eval "lib_$(declare -f cleanup)"
cleanup() { lib_cleanup; ip netns del "$NS2" 2>/dev/null; ip netns del "$NS3" 2>/dev/null; }

# 1. run -- curl in the test's namespace.
echo "served through sockshim run" > "$WORK/index.html"
bg in_ns python3 -m http.server --bind 10.7.0.1 8080 --directory "$WORK" 2> "$WORK/server.log"
wait_tcp 10.7.0.1 8080 || fail "server did not start"
got=$(in_ns timeout 60 "$SS" run -- curl -sS http://10.7.0.1:8080/index.html 2>"$WORK/run.err") || fail "run -- curl exit $?: $(cat "$WORK/run.err")"
[ "$got" = "served through sockshim run" ] || fail "curl got: $got"
grep -q '^10.7.0.2 .*GET /index.html' "$WORK/server.log" || fail "server did not see client 10.7.0.2"
[ -s "$WORK/run.err" ] && fail "run printed: $(cat "$WORK/run.err")"
# It preloads by absolute path, whatever the working directory.
env_line=$(cd / && in_ns "$SS" run -- sh -c 'echo "$LD_PRELOAD"') || fail "run -- sh"
[ "$env_line" = "$(realpath "$SHIM")" ] || fail "LD_PRELOAD=$env_line, want $(realpath "$SHIM")"
pass "sockshim run -- curl: fetched over the stack (client 10.7.0.2), LD_PRELOAD absolute"

# 2. --netns makes a namespace with the device, the program runs on the
# stack there (it binds the stack's address, which the kernel does not
# have, and the kernel side answers its connect to a closed port with RST),
# and the namespace is gone afterwards.
out=$(timeout 60 "$SS" run --netns "$NS2" --addr 10.9.0.5/24 -- python3 -c '
import socket
s = socket.socket()
s.bind(("10.9.0.5", 0))
me = s.getsockname()[0]
try:
    s.connect(("10.9.0.1", 9))
except ConnectionRefusedError:
    print("refused", me)
' 2>&1) || fail "run --netns exit $?: $out"
out_has "^$NS2" ip netns list && fail "run --netns left $NS2 behind"
[ "$out" = "refused 10.9.0.5" ] || fail "run --netns: $out"
pass "sockshim run --netns: made $NS2 with the device (kernel side 10.9.0.1), ran on the stack, removed it"

# 3. netns up/down: the same commands the scripts use.
"$SS" netns up "$NS3" --tun tun7 --addr 10.11.0.1/24 || fail "netns up"
out_has 'inet 10.11.0.1/24' ip -n "$NS3" -o addr show dev tun7 || fail "no tun7 10.11.0.1/24"
# Room for a burst towards the stack (the TUN default of 500 dropped FINs).
out_has 'qlen 10000' ip -n "$NS3" link show dev tun7 || fail "tun7's txqueuelen is not 10000"
"$SS" netns up "$NS3" --tun tun7 --addr 10.11.0.1/24 || fail "netns up is not idempotent"
"$SS" netns down "$NS3" || fail "netns down"
out_has "^$NS3" ip netns list && fail "netns down left $NS3"
"$SS" netns down "$NS3" || fail "netns down is not idempotent"
pass "sockshim netns up/down (idempotent)"

# 4. Programs the shim cannot serve.
printf '#include <stdio.h>\nint main(void) { puts("ran"); return 0; }\n' > "$WORK/hello.c"
gcc -static -o "$WORK/static" "$WORK/hello.c" || fail "gcc -static (libc6-dev)"
refused() { # refused WHAT PROG: exit 126, one line naming WHAT; --force runs it with a WARNING
  local what=$1 prog=$2 out rc
  out=$(in_ns "$SS" run -- "$prog" 2>&1); rc=$?
  [ $rc -eq 126 ] || fail "$what: exit $rc, want 126: $out"
  [ "$(wc -l <<<"$out")" -eq 1 ] && grep -q "^sockshim run: refusing: .*$what" <<<"$out" || fail "$what: said: $out"
  out=$(in_ns "$SS" run --force -- "$prog" 2>&1) || fail "$what --force: exit $?: $out"
  grep -q "^sockshim run: WARNING: .*$what" <<<"$out" && grep -qx ran <<<"$out" || fail "$what --force: $out"
}
refused "statically linked" "$WORK/static"
pass "static binary: refused with a reason, --force warns loudly and runs it"
cp "$WORK/static" "$WORK/gostatic"
printf 'Go-build-id-of-this-test' > "$WORK/goid"
objcopy --add-section .note.go.buildid="$WORK/goid" "$WORK/gostatic" || fail "objcopy"
out=$(in_ns "$SS" run -- "$WORK/gostatic" 2>&1)
grep -q "refusing: .*is a Go program" <<<"$out" || fail "Go binary not detected: $out"
pass "Go binary (build-id note): refused"
gcc -o "$WORK/dyn" "$WORK/hello.c" || fail "gcc"
chgrp nogroup "$WORK/dyn" && chmod 2755 "$WORK/dyn" || fail "chgrp/chmod"
refused "setgid" "$WORK/dyn"
pass "setgid binary: refused with a reason"
chmod 0755 "$WORK/dyn"
got=$(in_ns "$SS" run -- "$WORK/dyn" 2>&1) || fail "dynamic binary: $got"
[ "$got" = ran ] || fail "dynamic binary said: $got"
# A script is judged by its interpreter.
printf '#!%s\n' "$WORK/static" > "$WORK/script"; chmod +x "$WORK/script"
out=$(in_ns "$SS" run -- "$WORK/script" 2>&1)
grep -q "refusing: script .*interpreter .*statically linked" <<<"$out" || fail "script: $out"
pass "dynamic binary runs silently; a script with a static interpreter is refused"

# 5. Missing device, missing library, missing command: one line each.
out=$(in_ns "$SS" run --tun nosuch0 -- true 2>&1) || fail "missing device: exit $?"
[ "$(wc -l <<<"$out")" -eq 1 ] && grep -q "WARNING: no device nosuch0" <<<"$out" || fail "missing device said: $out"
out=$("$SS" run --lib /nonexistent/libsockshim.so -- true 2>&1) && fail "missing lib exited 0"
[ "$(wc -l <<<"$out")" -eq 1 ] && grep -q "libsockshim.so not found" <<<"$out" || fail "missing lib said: $out"
out=$("$SS" run -- no-such-command-here 2>&1); rc=$?
[ $rc -eq 127 ] && [ "$(wc -l <<<"$out")" -eq 1 ] || fail "missing command: exit $rc: $out"
pass "missing device, library, command: one line each"

# 6. --help on everything.
for args in "" "run" "check" "netns" "netns up" "netns down"; do
  # shellcheck disable=SC2086
  out=$("$SS" $args --help 2>&1) || fail "sockshim $args --help: exit $?"
  grep -q "^Usage: sockshim" <<<"$out" || fail "sockshim $args --help: $out"
done
pass "--help on every command"
