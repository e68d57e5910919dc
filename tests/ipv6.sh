#!/usr/bin/env bash
# IPv6 and dual stack end to end (issue 12). The device's kernel side is
# 10.7.0.1 and fd00:7::1; the shim is 10.7.0.2 and fd00:7::2.
# - curl -6 under the shim fetches from a kernel server on [fd00:7::1];
# - python http.server --bind :: under the shim (one AF_INET6 socket, dual
#   stack) serves kernel curl over IPv6 and over IPv4, and logs the IPv4
#   client as ::ffff:10.7.0.1, as on Linux;
# - a UDP exchange over IPv6 both ways; UDP datagrams bigger than the MTU
#   each way, both families (fragmented, and reassembled by the stack);
#   ICMPv6 echo of the shim's address answered by its stack.
source "$(dirname "$0")/lib.sh"
head -c 300000 /dev/urandom > "$WORK/f.bin"
want=$(sha "$WORK/f.bin")

out_has "fd00:7::1/64" in_ns ip -6 addr show dev sockshim0 || fail "netns-up gave the device no fd00:7::1/64"

bg in_ns python3 -m http.server --bind fd00:7::1 8080 --directory "$WORK" 2> "$WORK/k.log"
retry 50 in_ns curl -s -o /dev/null "http://[fd00:7::1]:8080/" || fail "kernel server did not start"
shimmed timeout 20 curl -6 -sS -o "$WORK/a.bin" "http://[fd00:7::1]:8080/f.bin" || fail "curl -6 under the shim: exit $?"
[ "$(sha "$WORK/a.bin")" = "$want" ] || fail "curl -6 under the shim: sha256 differs"
grep -q "fd00:7::2" "$WORK/k.log" || fail "the kernel server did not see fd00:7::2: $(cat "$WORK/k.log")"
pass "curl -6 under the shim from a kernel server on [fd00:7::1]"
stop_last

bg shimmed python3 -m http.server --bind :: 9000 --directory "$WORK" 2> "$WORK/s.log"
retry 100 in_ns curl -s -o /dev/null "http://[fd00:7::2]:9000/" || fail "shimmed server on [::] did not start: $(cat "$WORK/s.log")"
in_ns timeout 20 curl -sS -o "$WORK/b.bin" "http://[fd00:7::2]:9000/f.bin" || fail "kernel curl over IPv6: exit $?"
[ "$(sha "$WORK/b.bin")" = "$want" ] || fail "IPv6 fetch: sha256 differs"
in_ns timeout 20 curl -sS -o "$WORK/c.bin" "http://10.7.0.2:9000/f.bin" || fail "kernel curl over IPv4 to [::]: exit $?"
[ "$(sha "$WORK/c.bin")" = "$want" ] || fail "IPv4 fetch: sha256 differs"
grep -q "::ffff:10.7.0.1" "$WORK/s.log" || fail "IPv4 client not logged v4-mapped: $(cat "$WORK/s.log")"
grep -q "fd00:7::1" "$WORK/s.log" || fail "IPv6 client not logged: $(cat "$WORK/s.log")"
pass "python http.server --bind :: under the shim, fetched over IPv6 and IPv4"
stop_last

cat > "$WORK/udp.py" <<'PY'
import socket, sys
role = sys.argv[1]
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.settimeout(5)
if role == "server":
    s.bind(("::", 5353))
    print("ready", flush=True)
    data, peer = s.recvfrom(100)
    s.sendto(data.upper(), peer)
else:
    s.sendto(b"hello six", (sys.argv[2], 5353))
    data, peer = s.recvfrom(100)
    print(data.decode(), peer[0])
PY
bg in_ns python3 "$WORK/udp.py" server > "$WORK/u1.log"
wait_file "$WORK/u1.log" || fail "kernel UDP server"
out=$(shimmed timeout 10 python3 "$WORK/udp.py" client fd00:7::1) || fail "shim UDP client over IPv6: exit $?"
[ "$out" = "HELLO SIX fd00:7::1" ] || fail "shim UDP client got: $out"
stop_last
bg shimmed python3 "$WORK/udp.py" server > "$WORK/u2.log"
wait_file "$WORK/u2.log" || fail "shim UDP server"
out=$(in_ns timeout 10 python3 "$WORK/udp.py" client fd00:7::2) || fail "kernel UDP client over IPv6: exit $?"
[ "$out" = "HELLO SIX fd00:7::2" ] || fail "kernel UDP client got: $out"
pass "UDP over IPv6 both ways"
stop_last

cat > "$WORK/big.py" <<'PY'
import socket, sys
role, addr, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
s.settimeout(5)
if role == "server":
    s.bind((addr, 5354))
    print("ready", flush=True)
    data, peer = s.recvfrom(70000)
    s.sendto(data[::-1], peer)
else:
    payload = bytes((i * 7 + i // 251) % 256 for i in range(n))
    s.sendto(payload, (addr, 5354))
    data, _ = s.recvfrom(70000)
    print("ok" if data == payload[::-1] else "differs %d" % len(data))
PY
for srv in 10.7.0.1 fd00:7::1; do
  for n in 4000 30000; do
    rm -f "$WORK/big.log"
    bg in_ns python3 "$WORK/big.py" server "$srv" "$n" > "$WORK/big.log"
    wait_file "$WORK/big.log" || fail "kernel UDP server on $srv"
    out=$(shimmed timeout 10 python3 "$WORK/big.py" client "$srv" "$n") || fail "UDP $n bytes to $srv: exit $?"
    [ "$out" = ok ] || fail "UDP $n bytes to $srv and back: $out"
    stop_last
  done
done
pass "UDP datagrams of 4000 and 30000 bytes each way, IPv4 and IPv6 (fragmented and reassembled)"

# The stack answers ICMPv6 echo for its address while a shimmed process
# holds the device.
bg shimmed python3 -c 'import socket,time; s=socket.socket(socket.AF_INET6); s.bind(("::",7)); s.listen(); time.sleep(30)'
retry 100 in_ns bash -c "exec 3<>/dev/tcp/fd00:7::2/7" 2>/dev/null || fail "shimmed AF_INET6 listener"
# (No ping here: a raw ICMPv6 socket on the kernel side; the kernel fills
# in the checksum.)
in_ns timeout 10 python3 -c '
import socket, struct
s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
s.settimeout(3)
s.sendto(struct.pack("!BBHHH", 128, 0, 0, 0x1234, 1) + b"ping", ("fd00:7::2", 0))
while True:
    m, peer = s.recvfrom(200)
    if m[0] == 129:
        assert m[4:8] == struct.pack("!HH", 0x1234, 1) and m[8:] == b"ping", m
        break
' || fail "no ICMPv6 echo reply from fd00:7::2"
pass "ICMPv6 echo answered by the shim's stack"
