#!/usr/bin/env bash
# Issue 10 in service mode: the PostgreSQL server under the shim, run as an
# unprivileged user (nobody; it refuses root) against a sockshimd that root
# started with `--user nobody` (/dev/net/tun may be root's alone). The
# postmaster listens and forks one backend per connection. From the kernel
# side: psql runs queries, pgbench -i loads a database and pgbench -c4
# -t200 runs 800 transactions with none failed; a client under the shim
# (psql, in the same stack) reads what pgbench wrote.
source "$(dirname "$0")/lib.sh"
D=$ROOT/target/release/sockshimd
[ -x "$D" ] || fail "missing $D (cargo build --release -p service)"
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$pgbin/initdb" ] || fail "PostgreSQL server not installed (no /usr/lib/postgresql/*/bin/initdb)"
command -v psql >/dev/null || fail "psql not installed"
command -v pgbench >/dev/null || fail "pgbench not installed"
id nobody >/dev/null 2>&1 || fail "no user nobody"

chmod 755 "$WORK"; mkdir -p "$WORK/pg" "$WORK/sock"
chown nobody "$WORK/pg" "$WORK/sock"
runuser -u nobody -- "$pgbin/initdb" -D "$WORK/pg" -U postgres --auth=trust -E UTF8 --locale=C \
  > "$WORK/initdb.log" 2>&1 || fail "initdb as nobody: $(tail -3 "$WORK/initdb.log")"
echo "host all all 10.7.0.0/24 trust" >> "$WORK/pg/pg_hba.conf"

ip netns exec "$NS" env SOCKSHIM_IDLE_MS=1000 "$D" --user nobody || fail "sockshimd --user nobody: exit $?"
owner=$(ps -o user= -p "$(ip netns pids "$NS" | head -1)")
[ "$owner" = nobody ] || fail "sockshimd runs as '$owner', want nobody"
bg ip netns exec "$NS" runuser -u nobody -- env LD_PRELOAD="$SHIM" SOCKSHIM_MODE=service \
  "$pgbin/postgres" -D "$WORK/pg" -c listen_addresses=10.7.0.2 -c port=5432 \
  -c unix_socket_directories="$WORK/sock" -c fsync=off -c max_connections=20 > "$WORK/pg.log" 2>&1
wait_tcp 10.7.0.2 5432 || fail "postgres under the shim did not start: $(tail -5 "$WORK/pg.log")"
grep -q 'listening on IPv4 address "10.7.0.2"' "$WORK/pg.log" || fail "postgres: $(tail -5 "$WORK/pg.log")"

q() { in_ns timeout 20 psql -h 10.7.0.2 -U postgres -Atc "$1" postgres; }
got=$(q "select 6 * 7") || fail "psql exit $?"
[ "$got" = 42 ] || fail "psql: select 6 * 7 gave '$got'"
q "create table t (k int primary key, v text); insert into t select g, md5(g::text) from generate_series(1, 5000) g" >/dev/null ||
  fail "psql: create and insert"
got=$(q "select count(*), md5(string_agg(v, ',' order by k)) from t")
want="5000|$(python3 -c 'import hashlib as h; m = lambda s: h.md5(s.encode()).hexdigest()
print(m(",".join(m(str(i)) for i in range(1, 5001))))')"
[ "$got" = "$want" ] || fail "psql: 5000 rows read back as '$got', want '$want'"
pass "psql from the kernel side: queries, 5000 rows written and read back (backend forked per connection)"

in_ns timeout 50 pgbench -h 10.7.0.2 -U postgres -i -s 1 postgres > "$WORK/init.txt" 2>&1 ||
  fail "pgbench -i exit $?: $(tail -3 "$WORK/init.txt")"
in_ns timeout 50 pgbench -h 10.7.0.2 -U postgres -c 4 -t 200 postgres > "$WORK/bench.txt" 2>&1 ||
  fail "pgbench exit $?: $(tail -5 "$WORK/bench.txt")"
grep -q "actually processed: 800/800" "$WORK/bench.txt" || fail "pgbench: $(grep -E 'processed|failed' "$WORK/bench.txt")"
grep -q "failed transactions: 0 " "$WORK/bench.txt" || fail "pgbench: $(grep failed "$WORK/bench.txt")"
pass "pgbench -c4 -t200 from the kernel side: 800/800 transactions, none failed, $(awk '/^tps/ {print $3}' "$WORK/bench.txt") tps"

got=$(ip netns exec "$NS" runuser -u nobody -- env LD_PRELOAD="$SHIM" SOCKSHIM_MODE=service \
  timeout 20 psql -h 10.7.0.2 -U postgres -Atc "select count(*) from pgbench_history" postgres) ||
  fail "psql under the shim exit $?"
[ "$got" = 800 ] || fail "psql under the shim: pgbench_history has '$got' rows, want 800"
pass "psql under the shim (one stack with the server) reads pgbench's 800 history rows"
