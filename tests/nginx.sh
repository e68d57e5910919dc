#!/usr/bin/env bash
# nginx (single process, epoll) under the shim at 10.7.0.2 serves a 1 MB and
# a 100 MB file (sha256 match) and survives wrk -t2 -c50 -d10s with no socket
# errors and no non-2xx responses; requests/s are printed. Then wrk and ab
# run under the shim against a kernel-side nginx at 10.7.0.1.
source "$(dirname "$0")/lib.sh"
command -v nginx >/dev/null || fail "nginx not installed"
mkdir -p "$WORK/html" "$WORK/tmp" "$WORK/logs"
head -c 1000000 /dev/urandom > "$WORK/html/1m.bin"
head -c 100000000 /dev/urandom > "$WORK/html/100m.bin"
echo ok > "$WORK/html/index.html"
conf() {
cat > "$WORK/nginx-$1.conf" <<CONF
daemon off; master_process off; worker_processes 1;
error_log $WORK/logs/error-$1.log warn; pid $WORK/nginx-$1.pid;
events { worker_connections 1024; }
http {
  access_log off; sendfile on; tcp_nodelay on; keepalive_requests 100000;
  client_body_temp_path $WORK/tmp; proxy_temp_path $WORK/tmp; fastcgi_temp_path $WORK/tmp;
  uwsgi_temp_path $WORK/tmp; scgi_temp_path $WORK/tmp;
  server { listen $1:8080; root $WORK/html; }
}
CONF
}
conf 10.7.0.2
bg shimmed nginx -c "$WORK/nginx-10.7.0.2.conf" -p "$WORK"
wait_tcp 10.7.0.2 8080 || fail "nginx under the shim did not start: $(cat "$WORK/logs/error-10.7.0.2.log")"
for f in 1m.bin 100m.bin; do
  in_ns timeout 60 curl -sS -o "$WORK/got" "http://10.7.0.2:8080/$f" || fail "GET $f exit $?"
  [ "$(sha "$WORK/got")" = "$(sha "$WORK/html/$f")" ] || fail "GET $f: sha256 differs"
done
pass "nginx under the shim: 1 MB and 100 MB files"
in_ns timeout 30 wrk -t2 -c50 -d10s --latency http://10.7.0.2:8080/index.html > "$WORK/wrk.txt" 2>&1 || fail "wrk exit $?"
grep -q "Socket errors" "$WORK/wrk.txt" && fail "wrk reported socket errors: $(grep 'Socket errors' "$WORK/wrk.txt")"
grep -q "Non-2xx" "$WORK/wrk.txt" && fail "wrk reported non-2xx responses"
rps=$(awk '/Requests\/sec/ {print $2}' "$WORK/wrk.txt")
[ -n "$rps" ] || fail "no wrk result: $(cat "$WORK/wrk.txt")"
pass "wrk -t2 -c50 -d10s against nginx under the shim: $rps requests/s, no errors"
stop_last

conf 10.7.0.1
bg in_ns nginx -c "$WORK/nginx-10.7.0.1.conf" -p "$WORK"
wait_tcp 10.7.0.1 8080 || fail "kernel nginx did not start"
shimmed timeout 30 wrk -t2 -c50 -d5s http://10.7.0.1:8080/index.html > "$WORK/wrk2.txt" 2>&1 || fail "wrk under the shim exit $?"
grep -q "Socket errors\|Non-2xx" "$WORK/wrk2.txt" && fail "wrk under the shim: errors: $(cat "$WORK/wrk2.txt")"
pass "wrk under the shim against kernel nginx: $(awk '/Requests\/sec/ {print $2}' "$WORK/wrk2.txt") requests/s"
shimmed timeout 60 ab -q -n 5000 -c 20 http://10.7.0.1:8080/index.html > "$WORK/ab.txt" 2>&1 || fail "ab under the shim exit $?: $(tail -3 "$WORK/ab.txt")"
grep -q "^Failed requests: *0" "$WORK/ab.txt" || fail "ab failures: $(grep Failed "$WORK/ab.txt")"
pass "ab under the shim against kernel nginx: $(awk '/Requests per second/ {print $4}' "$WORK/ab.txt") requests/s"
