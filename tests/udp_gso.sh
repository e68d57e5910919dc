#!/usr/bin/env bash
# UDP_SEGMENT and UDP_GRO over the TUN device against the kernel (issue 13),
# in both modes: a shimmed sender's sends cut into 1200-byte datagrams
# reach a kernel receiver intact (its checksums checked by the kernel),
# leaving as UDP super-frames (udp_gso_out) that the kernel cuts (USO);
# a kernel sender's UDP_SEGMENT sends reach a shimmed receiver as their
# datagrams, and a shimmed UDP_GRO receiver whole with the piece size in a
# UDP_GRO control message, the kernel handing them over as super-frames
# (gso_frames_in). With SOCKSHIM_OFFLOAD=0 the stack cuts them itself.
source "$(dirname "$0")/lib.sh"
export SOCKSHIM_SERVICE_LOG=$WORK/svc.log SOCKSHIM_IDLE_MS=300
SENDS=20 SIZE=12000 PIECE=1200

cat > "$WORK/udp.py" <<'EOF'
import socket, struct, sys, time
SOL_UDP, UDP_SEGMENT, UDP_GRO = 17, 103, 104
SENDS, SIZE, PIECE = 20, 12000, 1200

def piece(i, k):
    # Piece k of send i: its numbers, then bytes only they give.
    head = struct.pack("!II", i, k)
    return head + bytes((i * 31 + k * 7 + j) % 251 for j in range(PIECE - 8))

def send(dst):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(SOL_UDP, UDP_SEGMENT, PIECE)
    for i in range(SENDS):
        buf = b"".join(piece(i, k) for k in range(SIZE // PIECE))
        assert s.sendto(buf, (dst, 9100)) == SIZE
        time.sleep(0.005)

def recv(bind, gro, ready):
    r = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    r.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    if gro:
        r.setsockopt(SOL_UDP, UDP_GRO, 1)
    r.bind((bind, 9100))
    open(ready, "w").write("ready")
    # The first datagram may take a while: the sender is a fresh process
    # (a loaded machine starts one in seconds); later ones come 5 ms apart.
    r.settimeout(60)
    want = SENDS * SIZE // PIECE
    seen, dgrams, sizes, bad = set(), 0, set(), 0
    try:
        while len(seen) < want:
            data, anc, _, _ = r.recvmsg(65536, 64)
            r.settimeout(5)
            dgrams += 1
            gso = [struct.unpack("i", d[:4])[0] for (l, t, d) in anc if (l, t) == (SOL_UDP, UDP_GRO)]
            sizes.add((len(data), tuple(gso)))
            for off in range(0, len(data), PIECE):
                p = data[off:off + PIECE]
                i, k = struct.unpack("!II", p[:8])
                if p != piece(i, k):
                    bad += 1
                seen.add((i, k))
    except socket.timeout:
        pass
    print(f"pieces {len(seen)}/{want} datagrams {dgrams} bad {bad} sizes {sorted(sizes)}")

if sys.argv[1] == "send":
    send(sys.argv[2])
else:
    recv(sys.argv[2], sys.argv[3] == "gro", sys.argv[4])
EOF

ctr() { grep -o "$1: [0-9]*" "$2" 2>/dev/null | tail -1 | grep -o '[0-9]*$'; }
want_pieces=$((SENDS * SIZE / PIECE))

# shim_to_kernel LABEL ENV...: a shimmed sender, a kernel receiver.
shim_to_kernel() {
  local label=$1 out
  shift
  rm -f "$WORK/ready"
  bg in_ns python3 "$WORK/udp.py" recv 10.7.0.1 plain "$WORK/ready" > "$WORK/recv.out"
  wait_file "$WORK/ready" || fail "$label: kernel receiver"
  shimmed env SOCKSHIM_LOG=debug "$@" python3 "$WORK/udp.py" send 10.7.0.1 2> "$WORK/tx.log" ||
    fail "$label: shimmed sender: $(tail -3 "$WORK/tx.log")"
  wait "${PIDS[-1]}"
  out=$(cat "$WORK/recv.out")
  [[ $out == "pieces $want_pieces/$want_pieces datagrams $want_pieces bad 0 sizes [(1200, ())]" ]] ||
    fail "$label: kernel receiver saw: $out"
}

# kernel_to_shim LABEL plain|gro ENV...: a kernel sender, a shimmed receiver.
kernel_to_shim() {
  local label=$1 how=$2
  shift 2
  rm -f "$WORK/ready"
  bg shimmed env SOCKSHIM_LOG=debug "$@" python3 "$WORK/udp.py" recv 10.7.0.2 "$how" "$WORK/ready" > "$WORK/recv.out" 2> "$WORK/rx.log"
  wait_file "$WORK/ready" || fail "$label: shimmed receiver: $(tail -3 "$WORK/rx.log")"
  in_ns python3 "$WORK/udp.py" send 10.7.0.2 || fail "$label: kernel sender"
  wait "${PIDS[-1]}" || fail "$label: shimmed receiver failed: $(tail -3 "$WORK/rx.log")"
  cat "$WORK/recv.out"
}

for mode in process service; do
  export SOCKSHIM_MODE=$mode
  : > "$WORK/svc.log"
  shim_to_kernel "$mode shim->kernel"
  [ "$mode" = service ] && { sleep 0.5; cp "$WORK/svc.log" "$WORK/tx.log"; }
  n=$(ctr udp_gso_out "$WORK/tx.log")
  [ "${n:-0}" -eq "$SENDS" ] || fail "$mode shim->kernel: udp_gso_out=${n:-none}, want $SENDS super-frames"
  pass "$mode shim->kernel: $want_pieces datagrams of $PIECE intact, $n super-frames cut by the kernel"

  out=$(kernel_to_shim "$mode kernel->shim" plain)
  [[ $out == "pieces $want_pieces/$want_pieces datagrams $want_pieces bad 0 sizes [(1200, ())]" ]] ||
    fail "$mode kernel->shim: shimmed receiver saw: $out"
  pass "$mode kernel->shim: $want_pieces datagrams of $PIECE, no UDP_GRO message"

  : > "$WORK/svc.log"
  out=$(kernel_to_shim "$mode kernel->shim GRO" gro)
  [ "$mode" = service ] && { sleep 0.5; cp "$WORK/svc.log" "$WORK/rx.log"; }
  [[ $out == "pieces $want_pieces/$want_pieces datagrams $SENDS bad 0 sizes [($SIZE, ($PIECE,))]" ]] ||
    fail "$mode kernel->shim GRO: shimmed receiver saw: $out"
  n=$(ctr gso_frames_in "$WORK/rx.log")
  [ "${n:-0}" -ge "$SENDS" ] || fail "$mode kernel->shim GRO: gso_frames_in=${n:-none}"
  pass "$mode kernel->shim UDP_GRO: $SENDS datagrams of $SIZE with UDP_GRO $PIECE ($n super-frames in)"
done
for p in $(ip netns pids "$NS" 2>/dev/null); do kill "$p" 2>/dev/null; done
for _ in $(seq 50); do ip netns pids "$NS" 2>/dev/null | grep -q . || break; sleep 0.1; done

export SOCKSHIM_MODE=process
shim_to_kernel "SOCKSHIM_OFFLOAD=0 shim->kernel" SOCKSHIM_OFFLOAD=0
n=$(ctr udp_gso_out "$WORK/tx.log")
[ "${n:-x}" = 0 ] || fail "SOCKSHIM_OFFLOAD=0: udp_gso_out=${n:-none}, want 0"
out=$(kernel_to_shim "SOCKSHIM_OFFLOAD=0 kernel->shim GRO" gro SOCKSHIM_OFFLOAD=0)
[[ $out == "pieces $want_pieces/$want_pieces datagrams $want_pieces bad 0 sizes [(1200, ())]" ]] ||
  fail "SOCKSHIM_OFFLOAD=0 kernel->shim GRO: the kernel cuts before the device: $out"
pass "SOCKSHIM_OFFLOAD=0: the stack cuts the sends itself; without USO the kernel hands over datagrams"
