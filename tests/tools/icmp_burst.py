#!/usr/bin/env python3
"""icmp_burst.py HOST PORT N PAUSE: send N UDP datagrams at once from a
connected socket to a closed port, wait PAUSE seconds, send N more, and
print how many ICMP port unreachables each burst drew (each lands on the
socket's error queue with IP_RECVERR / IPV6_RECVERR)."""
import socket, sys, time

host, port, n, pause = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
fam = socket.AF_INET6 if ":" in host else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
if fam == socket.AF_INET6:
    s.setsockopt(socket.IPPROTO_IPV6, 25, 1)  # IPV6_RECVERR
else:
    s.setsockopt(socket.IPPROTO_IP, 11, 1)  # IP_RECVERR
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
s.connect((host, port))


def burst():
    for _ in range(n):
        try:
            s.send(b"x" * 8)
        except ConnectionRefusedError:
            pass


def errors_within(secs):
    count, deadline = 0, time.monotonic() + secs
    while time.monotonic() < deadline:
        try:
            s.recvmsg(64, 512, socket.MSG_ERRQUEUE | socket.MSG_DONTWAIT)
            count += 1
        except BlockingIOError:
            time.sleep(0.01)
    return count


burst()
first = errors_within(pause)
burst()
print(first, errors_within(0.5))
