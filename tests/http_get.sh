#!/usr/bin/env bash
# curl, wget and python urllib under the shim GET a 10 MB file from a
# kernel-side python http.server at 10.7.0.1: bytes match, and the server
# logged client 10.7.0.2 (the stack, not the kernel, carried it).
source "$(dirname "$0")/lib.sh"
head -c 10000000 /dev/urandom > "$WORK/big.bin"
bg in_ns python3 -m http.server --bind 10.7.0.1 8080 --directory "$WORK" 2> "$WORK/server.log"
wait_tcp 10.7.0.1 8080 || fail "server did not start"
want=$(sha "$WORK/big.bin")

shimmed timeout 60 curl -sS -o "$WORK/curl.out" http://10.7.0.1:8080/big.bin || fail "curl exit $?"
[ "$(sha "$WORK/curl.out")" = "$want" ] || fail "curl: sha256 differs"
grep -q '^10.7.0.2 .*GET /big.bin' "$WORK/server.log" || fail "server did not see client 10.7.0.2"
pass "curl GET 10 MB"

shimmed timeout 60 wget -q -O "$WORK/wget.out" http://10.7.0.1:8080/big.bin || fail "wget exit $?"
[ "$(sha "$WORK/wget.out")" = "$want" ] || fail "wget: sha256 differs"
pass "wget GET 10 MB"

got=$(shimmed timeout 60 python3 -c "
import urllib.request, hashlib
print(hashlib.sha256(urllib.request.urlopen('http://10.7.0.1:8080/big.bin').read()).hexdigest())") || fail "urllib"
[ "$got" = "$want" ] || fail "urllib: sha256 differs"
pass "python urllib GET 10 MB"
