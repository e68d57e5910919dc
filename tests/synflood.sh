#!/usr/bin/env bash
# A bounded SYN flood (issue 15): tests/tools/synflood.c, a raw-socket
# tool run on the kernel side inside the test's namespace, sends 40,000
# SYNs at 4,000 a second to a server under the shim (listen backlog 8)
# from addresses nobody holds, so the SYN queue is full all along. During
# the flood, 40 connections from the kernel side each get the server's
# line within 3 s (the SYN queue being full, they go through SYN cookies:
# without them every SYN would be dropped). In service mode, `sockshim
# stat` shows the cookies sent and received.
source "$(dirname "$0")/lib.sh"
gcc -O2 -o "$WORK/synflood" "$ROOT/tests/tools/synflood.c" || fail "compile synflood.c"

cat > "$WORK/server.py" <<'PY'
import socket, threading
l = socket.socket()
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("10.7.0.2", 8080))
l.listen(8)
def serve(c):
    c.sendall(b"hello\n")
    c.close()
while True:
    c, _ = l.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
PY
bg shimmed python3 "$WORK/server.py"
wait_tcp 10.7.0.2 8080 || fail "server under the shim did not start"

bg in_ns "$WORK/synflood" 10.7.0 10.7.0.2 8080 40000 4000
flood=${PIDS[-1]}
sleep 1
out=$(in_ns timeout 120 python3 - <<'PY'
import socket, time
worst, bad = 0.0, []
for i in range(40):
    t = time.monotonic()
    try:
        c = socket.create_connection(("10.7.0.2", 8080), timeout=3)
        c.settimeout(3)
        line = c.makefile().readline()
        c.close()
        if line != "hello\n":
            bad.append(f"{i}: got {line!r}")
    except OSError as e:
        bad.append(f"{i}: {e}")
    worst = max(worst, time.monotonic() - t)
print(f"{40 - len(bad)}/40 connected, slowest {worst:.3f} s")
for b in bad:
    print(b)
PY
) || fail "clients: $out"
kill -0 "$flood" 2>/dev/null || fail "the flood ended before the clients did: the test proves nothing ($out)"
head -1 <<<"$out" | grep -q '^40/40 connected' || fail "during the flood: $out"
pass "during a flood of 4,000 SYN/s against backlog 8: $out"

if [ "${SOCKSHIM_MODE:-process}" = service ]; then
  stat=$(in_ns "$ROOT/target/release/sockshim" stat --json 2>&1) || fail "stat: $stat"
  python3 - "$stat" <<'PY' || fail "stat counters: $stat"
import json, sys
c = dict(json.loads(sys.argv[1])["counters"])
sent, recv = c.get("syncookies_sent", 0), c.get("syncookies_recv", 0)
print(f"syncookies_sent {sent}, syncookies_recv {recv}, syncookies_failed {c.get('syncookies_failed', 0)}")
assert sent >= 1000 and recv >= 1, c
PY
  pass "sockshim stat: SYN cookies sent and received"
fi
wait "$flood" 2>/dev/null
