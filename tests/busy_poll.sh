#!/usr/bin/env bash
# Busy polling (issue 13, process mode): with SOCKSHIM_BUSY_POLL_US, or a
# socket's SO_BUSY_POLL, a blocking recv (and with the former epoll_wait,
# poll and select) polls the device itself before it
# sleeps (50 ms here; the kernel server answers 2 ms after each request, so
# the answer comes while the client polls), and
# takes at least half of the 200 answers that way (the shim's count
# at exit, SOCKSHIM_LOG=debug); without either, none is taken so. Every
# answer is checked. A malformed value is refused with one clear line.
source "$(dirname "$0")/lib.sh"
export SOCKSHIM_MODE=process

cat > "$WORK/rr.py" <<'PY'
import socket, sys, time
mode, host, port, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), 200
if mode == "server":
    l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    l.bind((host, port)); l.listen(8); open(sys.argv[4], "w").write("ready")
    while True:
        c, _ = l.accept()
        while (d := c.recv(64)):
            time.sleep(0.002)  # the answer comes while the client polls
            c.sendall(d.upper())
        c.close()
c = socket.create_connection((host, port))
if mode == "client-sockopt":
    c.setsockopt(socket.SOL_SOCKET, 46, 50000)  # SO_BUSY_POLL, microseconds
    assert c.getsockopt(socket.SOL_SOCKET, 46) == 50000
bad = 0
if mode in ("client-epoll", "client-poll", "client-select"):
    import selectors
    sel = {"client-epoll": selectors.EpollSelector, "client-poll": selectors.PollSelector,
           "client-select": selectors.SelectSelector}[mode]()
    c.setblocking(False)
    sel.register(c, selectors.EVENT_READ)
    for i in range(n):
        msg = b"request %d" % i
        c.send(msg)
        got = b""
        while len(got) < len(msg):
            sel.select()
            got += c.recv(64)
        bad += got != msg.upper()
    print("answers", n, "bad", bad)
    sys.exit(0)
for i in range(n):
    msg = b"request %d" % i
    c.sendall(msg)
    got = c.recv(64)
    bad += got != msg.upper()
print("answers", n, "bad", bad)
PY

rm -f "$WORK/ready"
bg in_ns python3 "$WORK/rr.py" server 10.7.0.1 7311 "$WORK/ready"
wait_file "$WORK/ready" || fail "kernel server"

# hits ENV... -> "answers N bad B hits H" (H: busy poll's count, 0 if none)
run() {
  local mode=$1 out log
  shift
  out=$(shimmed env SOCKSHIM_LOG=debug "$@" python3 "$WORK/rr.py" "$mode" 10.7.0.1 7311 2> "$WORK/log") ||
    fail "$mode $*: client failed: $(tail -3 "$WORK/log")"
  hits=$(grep -o 'busy poll answered [0-9]*' "$WORK/log" | grep -o '[0-9]*$')
  echo "$out hits ${hits:-0}"
}

out=$(run client)
[[ $out == "answers 200 bad 0 hits 0" ]] || fail "no busy poll: $out"
pass "without busy polling: 200 answers, none taken by polling"

out=$(run client SOCKSHIM_BUSY_POLL_US=50000)
[[ $out =~ ^"answers 200 bad 0 hits "([0-9]+)$ ]] && [ "${BASH_REMATCH[1]}" -ge 100 ] ||
  fail "SOCKSHIM_BUSY_POLL_US=50000: $out"
pass "SOCKSHIM_BUSY_POLL_US=50000: 200 answers, ${BASH_REMATCH[1]} taken by polling the device"

out=$(run client-sockopt)
[[ $out =~ ^"answers 200 bad 0 hits "([0-9]+)$ ]] && [ "${BASH_REMATCH[1]}" -ge 100 ] ||
  fail "SO_BUSY_POLL 50000: $out"
pass "SO_BUSY_POLL=50000 on the socket: 200 answers, ${BASH_REMATCH[1]} taken by polling the device"

out=$(run client-epoll SOCKSHIM_BUSY_POLL_US=50000)
[[ $out =~ ^"answers 200 bad 0 hits "([0-9]+)$ ]] && [ "${BASH_REMATCH[1]}" -ge 100 ] ||
  fail "epoll_wait, SOCKSHIM_BUSY_POLL_US=50000: $out"
pass "epoll_wait with SOCKSHIM_BUSY_POLL_US=50000: 200 answers, ${BASH_REMATCH[1]} taken by polling the device"

for call in poll select; do
  out=$(run client-$call SOCKSHIM_BUSY_POLL_US=50000)
  [[ $out =~ ^"answers 200 bad 0 hits "([0-9]+)$ ]] && [ "${BASH_REMATCH[1]}" -ge 100 ] ||
    fail "$call, SOCKSHIM_BUSY_POLL_US=50000: $out"
  pass "$call with SOCKSHIM_BUSY_POLL_US=50000: 200 answers, ${BASH_REMATCH[1]} taken by polling the device"
  out=$(run client-$call)
  [[ $out == "answers 200 bad 0 hits 0" ]] || fail "$call without busy poll: $out"
done
pass "poll and select without the variable: 200 answers each, none taken by polling"

shimmed env SOCKSHIM_BUSY_POLL_US=fast python3 -c 'import socket; socket.socket()' 2> "$WORK/log"
grep -q "bad configuration: SOCKSHIM_BUSY_POLL_US=fast: microseconds" "$WORK/log" ||
  fail "a malformed SOCKSHIM_BUSY_POLL_US: $(cat "$WORK/log")"
pass "SOCKSHIM_BUSY_POLL_US=fast is refused with one line"
