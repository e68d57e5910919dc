#!/usr/bin/env bash
# lighttpd -D under the shim serves a 1 MB and a 100 MB file (sha256 match).
source "$(dirname "$0")/lib.sh"
command -v lighttpd >/dev/null || fail "lighttpd not installed"
mkdir -p "$WORK/html"
head -c 1000000 /dev/urandom > "$WORK/html/1m.bin"
head -c 100000000 /dev/urandom > "$WORK/html/100m.bin"
cat > "$WORK/lighttpd.conf" <<CONF
server.document-root = "$WORK/html"
server.bind = "10.7.0.2"
server.port = 8081
server.errorlog = "$WORK/error.log"
server.modules = ()
CONF
bg shimmed lighttpd -D -f "$WORK/lighttpd.conf"
wait_tcp 10.7.0.2 8081 || fail "lighttpd did not start: $(cat "$WORK/error.log" 2>/dev/null)"
for f in 1m.bin 100m.bin; do
  in_ns timeout 60 curl -sS -o "$WORK/got" "http://10.7.0.2:8081/$f" || fail "GET $f exit $?"
  [ "$(sha "$WORK/got")" = "$(sha "$WORK/html/$f")" ] || fail "GET $f: sha256 differs"
done
pass "lighttpd under the shim: 1 MB and 100 MB files"
