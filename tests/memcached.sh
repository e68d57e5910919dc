#!/usr/bin/env bash
# memcached under the shim: set and get 10,000 keys from the kernel side.
source "$(dirname "$0")/lib.sh"
command -v memcached >/dev/null || fail "memcached not installed"
bg shimmed memcached -u root -l 10.7.0.2 -p 11211 -U 0
wait_tcp 10.7.0.2 11211 || fail "memcached under the shim did not start"
out=$(in_ns timeout 120 python3 - <<'PY'
import socket
s = socket.create_connection(('10.7.0.2', 11211))
f = s.makefile('rwb')
N = 10000
for i in range(N):
    v = (b'value-%d-' % i) * 4
    f.write(b'set key%d 0 0 %d\r\n%s\r\n' % (i, len(v), v))
f.flush()
stored = sum(f.readline() == b'STORED\r\n' for _ in range(N))
bad = 0
for i in range(N):
    f.write(b'get key%d\r\n' % i)
f.flush()
for i in range(N):
    hdr = f.readline(); val = f.readline().rstrip(b'\r\n'); end = f.readline()
    bad += val != (b'value-%d-' % i) * 4 or end != b'END\r\n'
print(stored, bad)
PY
) || fail "client exit"
[ "$out" = "10000 0" ] || fail "memcached: stored/bad = $out"
pass "memcached under the shim: 10,000 keys set and read back"
