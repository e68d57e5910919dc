#!/usr/bin/env bash
# python http.server runs under the shim at 10.7.0.2; the kernel-side curl
# fetches a 1 MB file 50 times in a row and 8 times in parallel.
source "$(dirname "$0")/lib.sh"
head -c 1000000 /dev/urandom > "$WORK/f.bin"
want=$(sha "$WORK/f.bin")
bg shimmed python3 -m http.server --bind 10.7.0.2 9000 --directory "$WORK" 2> "$WORK/server.log"
wait_tcp 10.7.0.2 9000 || fail "shimmed server did not start"
for i in $(seq 50); do
  in_ns timeout 20 curl -sS -o "$WORK/o.bin" http://10.7.0.2:9000/f.bin || fail "fetch $i exit $?"
  [ "$(sha "$WORK/o.bin")" = "$want" ] || fail "fetch $i: sha256 differs"
done
pass "50 sequential fetches"
pids=()
for i in $(seq 8); do
  in_ns timeout 30 curl -sS -o "$WORK/p$i.bin" http://10.7.0.2:9000/f.bin & pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || fail "parallel fetch exit"; done
for i in $(seq 8); do [ "$(sha "$WORK/p$i.bin")" = "$want" ] || fail "parallel $i differs"; done
pass "8 parallel fetches"
