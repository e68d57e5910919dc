#!/usr/bin/env bash
# Logging that explains decisions, once per reason (issue 14): with
# SOCKSHIM_LOG=info a program under the shim gets one stderr line per
# distinct reason a socket went to the kernel's stack (AF_UNIX three
# times, AF_NETLINK twice, an AF_INET SOCK_RAW, a loopback connect to a
# kernel listener twice) or a call was refused (an option the stack does
# not implement, set twice); at the default level, none of them.
source "$(dirname "$0")/lib.sh"
# A kernel listener on loopback (outside the shim) for the loopback case.
bg in_ns python3 -c '
import socket
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("127.0.0.1", 7070)); l.listen()
while True: l.accept()[0].close()'
for _ in $(seq 100); do in_ns bash -c 'exec 3<>/dev/tcp/127.0.0.1/7070' 2>/dev/null && break; sleep 0.05; done
cat > "$WORK/prog.py" <<'PY'
import socket, struct
for _ in range(3):
    socket.socket(socket.AF_UNIX, socket.SOCK_STREAM).close()
for _ in range(2):
    socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0).close()
socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP).close()
for _ in range(2):
    socket.create_connection(("127.0.0.1", 7070)).close()
s = socket.socket()
for _ in range(2):
    try:
        s.setsockopt(socket.SOL_SOCKET, 50, struct.pack("i", -1))  # SO_ATTACH_BPF
    except OSError as e:
        print("SO_ATTACH_BPF:", e.strerror)
PY
shimmed env SOCKSHIM_LOG=info python3 "$WORK/prog.py" > "$WORK/out" 2> "$WORK/err" || fail "program: $(cat "$WORK/err")"
count() { grep -c -- "$1" "$WORK/err"; }
[ "$(count 'socket(AF_UNIX, ...) goes to the kernel')" = 1 ] || fail "AF_UNIX: $(cat "$WORK/err")"
[ "$(count 'socket(AF_NETLINK, ...) goes to the kernel')" = 1 ] || fail "AF_NETLINK: $(cat "$WORK/err")"
[ "$(count 'socket(AF_INET, SOCK_RAW, 1) goes to the kernel: the stack serves TCP')" = 1 ] || fail "SOCK_RAW: $(cat "$WORK/err")"
[ "$(count 'a TCP connect to 127.0.0.1:7070 went to the kernel')" = 1 ] || fail "loopback: $(cat "$WORK/err")"
grep -q "SO_ATTACH_BPF: Protocol not available" "$WORK/out" || fail "SO_ATTACH_BPF: $(cat "$WORK/out")"
[ "$(count 'setsockopt(SOL_SOCKET, 50) refused with ENOPROTOOPT')" = 1 ] || fail "option: $(cat "$WORK/err")"
pass "SOCKSHIM_LOG=info: one line per reason: $(grep -c 'sockshim: ' "$WORK/err") lines"
sed 's/^/  /' "$WORK/err"
shimmed python3 "$WORK/prog.py" > "$WORK/out" 2> "$WORK/err" || fail "program: $(cat "$WORK/err")"
grep -q "goes to the kernel\|went to the kernel\|refused with" "$WORK/err" && fail "default level explained: $(cat "$WORK/err")"
pass "default level: no decision lines"
