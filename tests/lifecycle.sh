#!/usr/bin/env bash
# Process life cycle under the shim, as Linux behaves: a subprocess started
# with python's subprocess (vfork + close_range in the child) leaves the
# parent's connections alone; a fork()ed child may not use inherited stack
# sockets (one clear message) and the parent's connection survives; exit()
# without close() still sends the FIN (the kernel closes a dying process's
# sockets); socket timeouts read back exactly as the kernel rounds them, and
# an accepted socket inherits its listener's.
source "$(dirname "$0")/lib.sh"
bg in_ns socat TCP-LISTEN:7000,bind=10.7.0.1,reuseaddr,fork EXEC:cat
wait_tcp 10.7.0.1 7000 || fail "kernel echo server"

# -u: the forked child ends with os._exit (no stdio flush), so its line must
# not depend on PYTHONUNBUFFERED being set (a clean environment has not).
out=$(shimmed timeout 20 python3 -u -c "
import os, socket, subprocess
s = socket.create_connection(('10.7.0.1', 7000))
def rt(m):
    # Until our own line is back (a child's echo may come first).
    s.sendall(m); d = b''
    while not d.endswith(m):
        d += s.recv(100)
    return ' '.join(d.decode().split())
print(rt(b'one\n'))
subprocess.run(['true'], check=True)
print(rt(b'two\n'))
pid = os.fork()
if pid == 0:
    try:
        s.send(b'child\n'); print('child-sent')
    except OSError:
        print('child-refused')
    os._exit(0)
os.waitpid(pid, 0)
print(rt(b'three\n'))
" 2> "$WORK/err" | tr '\n' ' ')
if [ "${SOCKSHIM_MODE:-process}" = service ]; then
  # The stack service shares the socket with the child, as Linux does.
  [ "$out" = "one two child-sent child three " ] || fail "subprocess/fork: got '$out' ($(cat "$WORK/err"))"
else
  [ "$out" = "one two child-refused three " ] || fail "subprocess/fork: got '$out' ($(cat "$WORK/err"))"
  grep -q "inherited" "$WORK/err" || fail "fork child: no message ($(cat "$WORK/err"))"
fi
pass "subprocess (vfork) and fork children leave the parent's connection working"

# exit() without close(): the kernel-side reader must see EOF at once.
bg in_ns timeout 10 socat -u TCP-LISTEN:7002,bind=10.7.0.1,reuseaddr OPEN:"$WORK/got",creat,trunc
reader=${PIDS[-1]}
# (no wait_tcp here: its probe connection would be the one it serves)
for _ in $(seq 50); do out_has ':7002 ' in_ns ss -ltn && break; sleep 0.05; done
head -c 300000 /dev/urandom > "$WORK/sent"
start=$(date +%s%N)
shimmed timeout 10 python3 -c "
import socket, ctypes
s = socket.create_connection(('10.7.0.1', 7002))
s.sendall(open('$WORK/sent', 'rb').read())
ctypes.CDLL(None).exit(0)" || fail "exit client"
wait "$reader"; rc=$?
ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ $rc -eq 0 ] || fail "reader never saw EOF after the client's exit (rc $rc, ${ms} ms)"
[ "$(sha "$WORK/sent")" = "$(sha "$WORK/got")" ] || fail "data lost at exit"
pass "exit() without close(): data and FIN delivered (${ms} ms)"

out=$(shimmed timeout 10 python3 -c "
import socket, struct
tv = struct.pack('ll', 1, 250000)
res = []
for s in (socket.socket(), socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)):
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, tv)
    res.append(struct.unpack('ll', s.getsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, 16)))
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, struct.pack('ll', 0, 1000000))
        res.append('set')
    except OSError as e:
        res.append(e.errno)
print(res[0] == res[2], res[1] == res[3], res[1])
")
[ "$out" = "True True 33" ] || fail "socket timeouts differ from the kernel's: '$out'"
pass "SO_RCVTIMEO/SO_SNDTIMEO: same rounding and EDOM as the kernel"

# closefrom() (glibc implements it with an internal close_range) must not
# close the shim's own fds: the connection keeps working after it.
cat > "$WORK/closefrom.c" <<'C'
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>
int main(void) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(7000) };
    inet_pton(AF_INET, "10.7.0.1", &a.sin_addr);
    if (connect(s, (struct sockaddr *)&a, sizeof a)) { perror("connect"); return 1; }
    closefrom(s + 1);
    char buf[16];
    if (write(s, "hi\n", 3) != 3) { perror("write"); return 1; }
    ssize_t n = read(s, buf, sizeof buf);
    printf("%zd\n", n);
    return n == 3 ? 0 : 1;
}
C
gcc -O2 -o "$WORK/closefrom" "$WORK/closefrom.c" || fail "compile closefrom.c"
out=$(shimmed timeout 10 "$WORK/closefrom" 2>&1) || fail "closefrom: '$out'"
pass "closefrom() leaves the shim's own fds open"
