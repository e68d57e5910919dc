#!/usr/bin/env bash
# Issue 10 in service mode (SOCKSHIM_MODE=service, the stack in sockshimd
# shared by every shimmed process): nginx with master_process on and two
# workers under the shim serves 2,000 requests from kernel-side clients,
# all 200 with the right body, and both workers serve some; curl under the
# shim fetches from that nginx (a shimmed client and a shimmed server in
# one namespace, one stack).
source "$(dirname "$0")/lib.sh"
command -v nginx >/dev/null || fail "nginx not installed"
command -v ab >/dev/null || fail "ab not installed"
[ -x "$ROOT/target/release/sockshimd" ] || fail "missing sockshimd (cargo build --release -p service)"
svc() { ip netns exec "$NS" env LD_PRELOAD="$SHIM" SOCKSHIM_MODE=service SOCKSHIM_IDLE_MS=1000 "$@"; }

mkdir -p "$WORK/html" "$WORK/tmp" "$WORK/logs"
head -c 100000 /dev/urandom > "$WORK/html/100k.bin"
echo "served by nginx" > "$WORK/html/index.html"
# The workers run as nobody (they reach the stack through the sockets the
# master passed them: see docs/architecture.md).
chmod -R a+rX "$WORK"
cat > "$WORK/nginx.conf" <<CONF
daemon off; master_process on; worker_processes 2;
error_log $WORK/logs/error.log warn; pid $WORK/nginx.pid;
events { worker_connections 1024; }
http {
  log_format p '\$pid \$status \$body_bytes_sent';
  access_log $WORK/logs/access.log p; sendfile on;
  client_body_temp_path $WORK/tmp; proxy_temp_path $WORK/tmp; fastcgi_temp_path $WORK/tmp;
  uwsgi_temp_path $WORK/tmp; scgi_temp_path $WORK/tmp;
  server { listen 10.7.0.2:8080; root $WORK/html; }
}
CONF
bg svc nginx -c "$WORK/nginx.conf" -p "$WORK"
wait_tcp 10.7.0.2 8080 || fail "nginx under the shim did not start: $(cat "$WORK/logs/error.log")"
in_ns timeout 120 ab -q -n 2000 -c 8 http://10.7.0.2:8080/index.html > "$WORK/ab.txt" 2>&1 ||
  fail "ab exit $?: $(tail -5 "$WORK/ab.txt")"
grep -q "^Complete requests: *2000" "$WORK/ab.txt" || fail "ab: $(grep -E 'Complete|Failed' "$WORK/ab.txt")"
grep -q "^Failed requests: *0" "$WORK/ab.txt" || fail "ab failures: $(grep -A3 Failed "$WORK/ab.txt")"
grep -q "^Non-2xx" "$WORK/ab.txt" && fail "ab: $(grep "^Non-2xx" "$WORK/ab.txt"); statuses: $(awk '{print $2}' "$WORK/logs/access.log" | sort | uniq -c | tr "\n" " "); $(tail -3 "$WORK/logs/error.log")"
# A send the service refused (posts_refused) is a response cut short.
refused=$(in_ns "$ROOT/target/release/sockshim" stat 2>&1 | awk '$1 == "posts_refused" {print $2}')
[ -z "$refused" ] || fail "sockshimd refused $refused posted sends"
ok=$(awk '$2 == 200 && $3 == 16' "$WORK/logs/access.log" | wc -l)
[ "$ok" -ge 2000 ] || fail "access log: $ok of 2000 requests answered 200 with the 16-byte body"
workers=$(awk '{print $1}' "$WORK/logs/access.log" | sort -u | wc -l)
[ "$workers" = 2 ] || fail "requests were served by $workers worker(s), want both"
pass "nginx master_process on, 2 workers: 2000 requests, all 200 with the body, both workers served ($(awk '{print $1}' "$WORK/logs/access.log" | sort | uniq -c | awk '{printf "%s ", $1}'))"

svc timeout 20 curl -sS -o "$WORK/got" http://10.7.0.2:8080/100k.bin || fail "curl under the shim: exit $?"
[ "$(sha "$WORK/got")" = "$(sha "$WORK/html/100k.bin")" ] || fail "curl under the shim: body differs"
pass "curl under the shim fetched 100 KB from nginx under the shim (one stack, one namespace)"
