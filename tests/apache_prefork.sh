#!/usr/bin/env bash
# Issue 10 in service mode: Apache httpd with the prefork MPM under the shim
# (the parent listens, then forks children that accept on the inherited
# listener, switch to nobody and serve one connection at a time; more are
# forked under load). Kernel-side ab: 2,000 requests on fresh connections
# and 2,000 on 8 keep-alive ones, all 200 with the 17-byte body, served by
# several children; curl fetches 100 KB with the right sha256.
source "$(dirname "$0")/lib.sh"
command -v apache2 >/dev/null || fail "apache2 not installed"
command -v ab >/dev/null || fail "ab not installed"
[ -x "$ROOT/target/release/sockshimd" ] || fail "missing sockshimd (cargo build --release -p service)"
MODS=/usr/lib/apache2/modules
[ -f "$MODS/mod_mpm_prefork.so" ] || fail "no $MODS/mod_mpm_prefork.so"

mkdir -p "$WORK/html" "$WORK/logs"
head -c 100000 /dev/urandom > "$WORK/html/100k.bin"
echo "served by apache" > "$WORK/html/index.html"
chmod -R a+rX "$WORK"
cat > "$WORK/httpd.conf" <<CONF
ServerRoot $WORK
LoadModule mpm_prefork_module $MODS/mod_mpm_prefork.so
LoadModule authz_core_module $MODS/mod_authz_core.so
LoadModule mime_module $MODS/mod_mime.so
TypesConfig /etc/mime.types
ServerName localhost
Listen 10.7.0.2:8080
PidFile $WORK/httpd.pid
Mutex file:$WORK default
User nobody
Group nogroup
ErrorLog $WORK/logs/error.log
LogLevel warn
LogFormat "%P %>s %B %k" p
CustomLog $WORK/logs/access.log p
DocumentRoot $WORK/html
StartServers 3
MinSpareServers 3
MaxSpareServers 6
MaxRequestWorkers 16
KeepAlive On
MaxKeepAliveRequests 0
<Directory $WORK/html>
  Require all granted
</Directory>
CONF
# Its own session: prefork's parent stops by signalling its whole process
# group (ap_unixd_killpg), which would otherwise be this script's.
bg setsid ip netns exec "$NS" env LD_PRELOAD="$SHIM" SOCKSHIM_MODE=service SOCKSHIM_IDLE_MS=1000 \
  apache2 -f "$WORK/httpd.conf" -DFOREGROUND
wait_tcp 10.7.0.2 8080 || fail "apache2 under the shim did not start: $(cat "$WORK/logs/error.log")"

# ab_ok LABEL ARGS...: ab from the kernel side completes 2000 requests, no failures.
ab_ok() {
  local label=$1; shift
  in_ns timeout 50 ab -q "$@" http://10.7.0.2:8080/index.html > "$WORK/ab-$label.txt" 2>&1 ||
    fail "ab $label exit $?: $(tail -5 "$WORK/ab-$label.txt")"
  grep -q "^Complete requests: *2000" "$WORK/ab-$label.txt" || fail "ab $label: $(grep -E 'Complete|Failed' "$WORK/ab-$label.txt")"
  grep -q "^Failed requests: *0" "$WORK/ab-$label.txt" || fail "ab $label failures: $(grep -A3 Failed "$WORK/ab-$label.txt")"
  grep -q "^Non-2xx" "$WORK/ab-$label.txt" && fail "ab $label: $(grep "^Non-2xx" "$WORK/ab-$label.txt"); $(tail -3 "$WORK/logs/error.log")"
  return 0
}
# served: the access log's lines (apache writes one per request, as it ends).
served() { awk '$2 == 200 && $3 == 17' "$WORK/logs/access.log" | wc -l; }
ab_ok close -n 2000 -c 8
for _ in $(seq 40); do [ "$(served)" -ge 2000 ] && break; sleep 0.05; done
[ "$(served)" -ge 2000 ] || fail "access log: $(served) of 2000 requests answered 200 with the 17-byte body"
children=$(awk '{print $1}' "$WORK/logs/access.log" | sort -u | wc -l)
[ "$children" -ge 2 ] || fail "requests were served by $children child(ren), want several"
pass "apache2 prefork under the shim: 2000 requests on fresh connections, all 200 with the body, $children children served ($(awk '{print $1}' "$WORK/logs/access.log" | sort | uniq -c | awk '{printf "%s ", $1}')) $(awk '/Requests per second/ {print $4}' "$WORK/ab-close.txt") req/s"

ab_ok keepalive -k -n 2000 -c 8
for _ in $(seq 40); do [ "$(served)" -ge 4000 ] && break; sleep 0.05; done
[ "$(served)" -ge 4000 ] || fail "access log: $(served) of 4000 requests answered 200 with the 17-byte body"
reused=$(awk '$4 > 0' "$WORK/logs/access.log" | wc -l)
[ "$reused" -ge 1900 ] || fail "only $reused requests came on a kept-alive connection"
pass "ab -k: 2000 requests on 8 keep-alive connections, all 200 with the body ($reused on a reused connection) $(awk '/Requests per second/ {print $4}' "$WORK/ab-keepalive.txt") req/s"

in_ns timeout 20 curl -sS -o "$WORK/got" http://10.7.0.2:8080/100k.bin || fail "curl exit $?"
[ "$(sha "$WORK/got")" = "$(sha "$WORK/html/100k.bin")" ] || fail "curl: the 100 KB body differs"
pass "curl fetched 100 KB from apache2 under the shim, sha256 matches"
