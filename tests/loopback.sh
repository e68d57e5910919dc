#!/usr/bin/env bash
# Loopback beside the kernel's stack (issue 19): a shimmed curl fetches
# from a kernel http.server on 127.0.0.1 (the socket becomes a kernel
# socket at connect), a loopback port with no listener anywhere refuses,
# and a shimmed client and server in one process stay on our stack (its
# counters show the frames looped inside it).
source "$(dirname "$0")/lib.sh"
# The stack's counters: at exit (SOCKSHIM_LOG=debug) in process mode, in
# the service's log as each client goes in service mode.
export SOCKSHIM_SERVICE_LOG=$WORK/svc.log
export SOCKSHIM_LOG=debug
echo hello-from-kernel > "$WORK/k.txt"
bg in_ns python3 -m http.server --bind 127.0.0.1 8000 --directory "$WORK" 2> "$WORK/kserver.log"
wait_tcp 127.0.0.1 8000 || fail "kernel server did not start"
out=$(shimmed timeout 20 curl -sS http://127.0.0.1:8000/k.txt) || fail "shimmed curl to a kernel server on 127.0.0.1: exit $?"
[ "$out" = hello-from-kernel ] || fail "shimmed curl got '$out'"
pass "shimmed curl fetches from a kernel http.server on 127.0.0.1"

shimmed timeout 20 curl -sS http://127.0.0.1:8009/ 2> "$WORK/refused.txt"
rc=$?
[ $rc = 7 ] && grep -q "Couldn't connect\|Connection refused\|Failed to connect" "$WORK/refused.txt" \
  || fail "no listener anywhere: curl exit $rc ($(cat "$WORK/refused.txt")), want 7 (refused)"
pass "no listener on either stack: connection refused"

# One process, server and client on 127.0.0.1: our stack serves it.
cat > "$WORK/both.py" <<'PY'
import socket, sys, threading
port = int(sys.argv[1]) if len(sys.argv) > 1 else 8011
ls = socket.socket(); ls.bind(("127.0.0.1", port)); ls.listen(8)
def serve():
    c, _ = ls.accept(); c.sendall(c.recv(100).upper()); c.close()
t = threading.Thread(target=serve); t.start()
c = socket.create_connection(("127.0.0.1", port)); c.sendall(b"inside"); print(c.recv(100).decode()); c.close()
t.join()
PY
looped_now() {
  if [ "${SOCKSHIM_MODE:-process}" = service ]; then
    grep -o 'frames_looped: [0-9]*' "$WORK/svc.log" 2>/dev/null | tail -1 | cut -d' ' -f2
  else
    grep -o 'frames_looped: [0-9]*' "$WORK/both.log" 2>/dev/null | tail -1 | cut -d' ' -f2
  fi
}
before=$(looped_now)
out=$(shimmed timeout 20 python3 "$WORK/both.py" 2> "$WORK/both.log") || fail "shimmed client+server: exit $? ($(tail -3 "$WORK/both.log"))"
[ "$out" = INSIDE ] || fail "shimmed client+server got '$out'"
sleep 0.3 # the service logs its counters once it has seen the client go
looped=$(( $(looped_now) - ${before:-0} ))
[ "${looped:-0}" -ge 6 ] || fail "stack counters: frames_looped=${looped:-none}, want >= 6 ($(grep counters "$WORK/both.log"))"
grep -q "became a kernel socket" "$WORK/both.log" && fail "a socket of the one-process pair went to the kernel"
pass "shimmed client and server on 127.0.0.1 stay on our stack ($looped frames looped)"

# The other way: kernel clients reach shimmed servers through 127.0.0.1
# (the shadow listener in the kernel beside ours).
echo hello-from-shim > "$WORK/s.txt"
# `::` is a dual-stack [::] (http.server clears IPV6_V6ONLY): it covers
# 127.0.0.1 too, as Linux's.
for bindaddr in 127.0.0.1 0.0.0.0 ::; do
  case $bindaddr in 0.0.0.0) port=8022 ;; ::) port=8023 ;; *) port=8021 ;; esac
  bg shimmed python3 -m http.server --bind $bindaddr $port --directory "$WORK" 2> "$WORK/sserver.log"
  wait_tcp 127.0.0.1 $port || fail "shimmed server on $bindaddr: no kernel-side listener on 127.0.0.1:$port"
  for i in 1 2 3; do
    out=$(in_ns timeout 20 curl -sS http://127.0.0.1:$port/s.txt) || fail "kernel curl to a shimmed server on $bindaddr: exit $?"
    [ "$out" = hello-from-shim ] || fail "kernel curl got '$out' from the shimmed server on $bindaddr"
  done
  pass "kernel curl fetches from a shimmed http.server bound to $bindaddr (through 127.0.0.1)"
  # One port space: the kernel cannot take the port while ours holds it.
  in_ns python3 -c "
import socket, sys
s = socket.socket()
try:
    s.bind(('127.0.0.1', $port)); sys.exit('kernel bind succeeded')
except OSError as e:
    sys.exit(0 if e.errno == 98 else 'unexpected %s' % e)
" || fail "kernel bind on a port our server on $bindaddr holds"
  pass "a kernel bind of 127.0.0.1:$port is EADDRINUSE while the shimmed server holds it"
  stop_last
done

# SOCKSHIM_LOOPBACK=kernel: the same pair goes through the kernel (the
# client's socket becomes a kernel socket; the listener's shadow accepts);
# =stack: a kernel server on loopback is out of reach, as before issue 19.
out=$(SOCKSHIM_LOOPBACK=kernel shimmed timeout 20 python3 "$WORK/both.py" 8012 2> "$WORK/kboth.log") || fail "SOCKSHIM_LOOPBACK=kernel pair: exit $? ($(tail -3 "$WORK/kboth.log"))"
[ "$out" = INSIDE ] || fail "SOCKSHIM_LOOPBACK=kernel pair got '$out'"
grep -q "became a kernel socket" "$WORK/kboth.log" || fail "SOCKSHIM_LOOPBACK=kernel: the client stayed on our stack"
pass "SOCKSHIM_LOOPBACK=kernel: a shimmed pair on 127.0.0.1 goes through the kernel"
bg in_ns python3 -m http.server --bind 127.0.0.1 8030 --directory "$WORK" 2> "$WORK/kserver2.log"
wait_tcp 127.0.0.1 8030 || fail "kernel server did not start"
SOCKSHIM_LOOPBACK=stack shimmed timeout 20 curl -sS http://127.0.0.1:8030/k.txt > /dev/null 2>&1 \
  && fail "SOCKSHIM_LOOPBACK=stack: the shimmed curl reached the kernel server"
pass "SOCKSHIM_LOOPBACK=stack: loopback stays inside our stack"
stop_last

# Service mode: the reservation belongs to the socket, held by the
# service, so a listener inherited across exec keeps its port in the
# kernel and its shadow: a kernel curl reaches the exec'd image.
if [ "${SOCKSHIM_MODE:-process}" = service ]; then
  cat > "$WORK/exec_server.py" <<'PY'
import os, socket, sys
if len(sys.argv) > 1:  # the exec'd image: serve on the inherited fd
    ls = socket.socket(fileno=int(sys.argv[1]))
    while True:
        c, _ = ls.accept()
        try:
            if c.recv(1000):
                c.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 9\r\n\r\nafter-exe")
        except OSError:
            pass
        c.close()
ls = socket.socket(); ls.bind(("127.0.0.1", 8024)); ls.listen(8)
ls.set_inheritable(True)
os.execv(sys.executable, [sys.executable, sys.argv[0], str(ls.fileno())])
PY
  bg shimmed python3 "$WORK/exec_server.py"
  wait_tcp 127.0.0.1 8024 || fail "a listener inherited across exec: no kernel-side listener on 127.0.0.1:8024"
  out=$(in_ns timeout 20 curl -sS http://127.0.0.1:8024/) || fail "kernel curl to the exec'd image: exit $?"
  [ "$out" = after-exe ] || fail "kernel curl got '$out' from the exec'd image"
  pass "a listener inherited across exec keeps its reservation and shadow (service mode)"
  stop_last
fi
