#!/usr/bin/env bash
# The stack service's own descriptor table full (it holds one per socket of
# every client): a program's accept gets ENFILE, as Linux's when the
# system's file table is full, and the connection stays queued: once the
# program has closed some, every connection is served, in order, none
# reset. The service runs with 64 descriptors (and without
# CAP_SYS_RESOURCE, so it cannot raise them); the program with its own.
source "$(dirname "$0")/lib.sh"
D=$ROOT/target/release/sockshimd
[ -x "$D" ] || fail "missing $D (cargo build --release -p service)"
ip netns exec "$NS" setpriv --inh-caps=-sys_resource --bounding-set=-sys_resource \
  prlimit --nofile=64:64 env SOCKSHIM_IDLE_MS=2500 "$D" || fail "enfile: the capped service did not start"
cat >"$WORK/enfile.py" <<'PY'
import errno, socket
N = 60
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("10.7.0.2", 7302)); l.listen(128)
print("ready", flush=True)
held, served, enfile = [], 0, None
def serve(c):
    c.sendall(c.recv(16).upper()); c.close()
while served + len(held) < N:
    try:
        c, _ = l.accept()
        held.append(c)
    except OSError as e:
        if e.errno != errno.ENFILE:
            raise
        if enfile is None:
            enfile = len(held)
        if not held:
            raise
        for c in held[: len(held) // 2 + 1]:
            serve(c); served += 1
        held = held[len(held) // 2 + 1 :]
for c in held:
    serve(c); served += 1
print("enfile after %s; served %d" % (enfile, served), flush=True)
PY
bg shimmed env SOCKSHIM_MODE=service python3 "$WORK/enfile.py" >"$WORK/enfile.out" 2>&1
wait_file "$WORK/enfile.out" || fail "enfile: the program did not start"
in_ns python3 - >"$WORK/enfile.cli" 2>&1 <<'PY' || fail "enfile: client: $(cat "$WORK/enfile.cli")"
import socket
conns = []
for i in range(60):
    s = socket.create_connection(("10.7.0.2", 7302), timeout=20)
    s.sendall(b"c%02d" % i); conns.append(s)
for i, s in enumerate(conns):
    got = s.recv(16)
    assert got == b"C%02d" % i, "connection %d: %r" % (i, got)
print("60 answered")
PY
for _ in $(seq 100); do grep -q "^enfile after" "$WORK/enfile.out" && break; sleep 0.1; done
grep -qE "^enfile after [0-9]+; served 60$" "$WORK/enfile.out" || fail "enfile: $(cat "$WORK/enfile.out")"
pass "the service's descriptor table full: accept is ENFILE ($(grep -o "^enfile after [0-9]*" "$WORK/enfile.out")), the connections wait queued, all 60 answered"
