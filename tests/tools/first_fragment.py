#!/usr/bin/env python3
"""first_fragment.py DST: send the first fragment of a UDP datagram to DST
(IPv4, raw socket) and no more; print the ICMP type/code and the quoted
IP identification that come back within 4 s ("none" if nothing does)."""
import socket, struct, sys, time

dst = sys.argv[1]
raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
icmp = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
icmp.settimeout(0.2)
probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
probe.connect((dst, 9))
src = probe.getsockname()[0]
ident = 0x5A17
data = struct.pack("!HHHH", 40000, 9, 8 + 64, 0) + b"f" * 56  # UDP header + 56 of 64 bytes
hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(data), ident, 0x2000, 64, 17, 0,
                  socket.inet_aton(src), socket.inet_aton(dst))
raw.sendto(hdr + data, (dst, 0))
deadline = time.time() + 4
while time.time() < deadline:
    try:
        pkt = icmp.recv(2048)
    except socket.timeout:
        continue
    hl = (pkt[0] & 15) * 4
    t, c = pkt[hl], pkt[hl + 1]
    quoted = pkt[hl + 8:]
    if len(quoted) >= 20 and struct.unpack("!H", quoted[4:6])[0] == ident:
        print(f"type {t} code {c} quotes ident {ident:#x} mf {quoted[6] >> 5 & 1} len {len(quoted)}")
        sys.exit(0)
print("none")
