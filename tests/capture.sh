#!/usr/bin/env bash
# `sockshim capture -w FILE` (issue 14): while curl under the shim (service
# mode) downloads 100 KB from a kernel server, capture writes a pcap that
# tcpdump -r reads, holding the handshake (SYN, SYN-ACK, ACK), the data
# and the FIN of each side.
source "$(dirname "$0")/lib.sh"
command -v tcpdump >/dev/null || fail "tcpdump not installed"
SOCKSHIM=${SOCKSHIM_BIN_DIR:-$ROOT/target/release}/sockshim
D=${SOCKSHIM_BIN_DIR:-$ROOT/target/release}/sockshimd
[ -x "$SOCKSHIM" ] || fail "missing $SOCKSHIM (cargo build --release -p cli)"
[ -x "$D" ] || fail "missing $D (cargo build --release -p service)"
head -c 100000 /dev/urandom > "$WORK/100k.bin"
bg in_ns python3 -m http.server --bind 10.7.0.1 --directory "$WORK" 8000
wait_tcp 10.7.0.1 8000 || fail "kernel http server"

# The service, started ahead (programs start it on demand; capture asks
# one that runs). It detaches; the capture's connection keeps it alive.
in_ns env SOCKSHIM_IDLE_MS=5000 "$D" || fail "sockshimd did not start"
bg in_ns "$SOCKSHIM" capture -w "$WORK/c.pcap" 2> "$WORK/cap.err"
for _ in $(seq 100); do grep -q "writing" "$WORK/cap.err" && break; sleep 0.05; done
grep -q "writing" "$WORK/cap.err" || fail "capture did not start: $(cat "$WORK/cap.err")"

shimmed env SOCKSHIM_MODE=service timeout 20 curl -sS -o "$WORK/got" http://10.7.0.1:8000/100k.bin ||
  fail "curl under the shim"
cmp -s "$WORK/got" "$WORK/100k.bin" || fail "curl: body differs"
sleep 0.5
stop_last
grep -q "frames written" "$WORK/cap.err" || fail "capture did not finish: $(cat "$WORK/cap.err")"

tcpdump -nr "$WORK/c.pcap" 'tcp port 8000' > "$WORK/dump.txt" 2> "$WORK/dump.err" || fail "tcpdump -r: $(cat "$WORK/dump.err")"
c2s="IP 10.7.0.2.[0-9]+ > 10.7.0.1.8000: Flags"
s2c="IP 10.7.0.1.8000 > 10.7.0.2.[0-9]+: Flags"
for want in "$c2s \[S\]," "$s2c \[S\.\]," "$c2s \[\.\]," "$c2s \[P\.\]," "$c2s \[FP?\.\]," "$s2c \[FP?\.\],"; do
  grep -Eq "$want" "$WORK/dump.txt" || fail "no line like '$want' in: $(cat "$WORK/dump.txt")"
done
bytes=$(grep -E "$s2c" "$WORK/dump.txt" | grep -oE 'length [0-9]+' | awk '{s += $2} END {print s + 0}')
[ "$bytes" -ge 100000 ] || fail "only $bytes bytes from the server in the capture"
pass "capture: $(wc -l < "$WORK/dump.txt") frames on port 8000 (SYN, SYN-ACK, request, $bytes bytes of response, both FINs); $(cat "$WORK/cap.err" | tail -1)"
head -3 "$WORK/dump.txt"; grep -E "F\.?\]|FP" "$WORK/dump.txt" | head -2
