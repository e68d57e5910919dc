#!/usr/bin/env bash
# The install step of the README's two commands (scripts/deps), run from a
# clean clone with a PATH that hides socat: it names socat as missing, calls
# apt-get update then apt-get install -y socat, and goes on once socat is
# there; when apt-get fails it prints one clear error line and exits 1. The
# demo's set names a hidden curl and does not need socat.
# apt-get is a stub here (first on the hidden PATH), so the test never
# changes the machine's packages and needs no network; the real apt-get path
# runs on every fresh machine where scripts/test installs what is missing.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
pass() { echo "PASS: $*"; }

# A clean clone of the committed tree (no build outputs); a copy of the
# scripts where the tree is not a git repository.
if git -C "$ROOT" rev-parse --git-dir >/dev/null 2>&1; then
  git clone -q "$ROOT" "$WORK/clone" || fail "git clone"
else
  mkdir "$WORK/clone" && cp -r "$ROOT/scripts" "$WORK/clone/" || fail "copy scripts"
fi
[ -x "$WORK/clone/scripts/deps" ] || fail "scripts/deps is not committed"

# bin/: every command on PATH except socat, curl and apt-get (first wins).
mkdir "$WORK/bin"
IFS=: read -ra dirs <<<"$PATH"
for d in "${dirs[@]}"; do
  [ -d "$d" ] || continue
  for f in "$d"/*; do
    n=$(basename "$f")
    case $n in socat | curl | apt-get) continue ;; esac
    [ -e "$WORK/bin/$n" ] || ln -s "$f" "$WORK/bin/$n"
  done
done
hidden=$WORK/bin
PATH=$hidden command -v socat >/dev/null && fail "socat still visible on the hidden PATH"
# curl is hidden for the demo's case (4) only; cases 1-3 (the test set)
# add it back through its own directory.
mkdir "$WORK/curl-dir" && ln -s "$(command -v curl)" "$WORK/curl-dir/curl" || fail "no curl"
tpath=$hidden:$WORK/curl-dir

# Stub apt-get: logs its arguments; "install" succeeds and puts a socat on
# the PATH when APT_STUB=ok, fails like a missing mirror otherwise.
cat >"$hidden/apt-get" <<EOF
#!/bin/bash
echo "\$*" >> "$WORK/apt.log"
[ "\$1" = install ] || exit 0
if [ "\$APT_STUB" = ok ]; then printf '#!/bin/sh\nexit 0\n' > "$hidden/socat"; chmod +x "$hidden/socat"; exit 0; fi
echo "E: Unable to locate package socat"; exit 100
EOF
chmod +x "$hidden/apt-get"

# 1. dry run: socat (and only socat) is named.
out=$(PATH=$tpath SOCKSHIM_DEPS_DRY_RUN=1 "$WORK/clone/scripts/deps" test 2>&1) || fail "dry run exit $?"
[ "$out" = "scripts/deps: would install: socat (missing: socat)" ] || fail "dry run said: $out"
pass "a hidden socat is named as missing, nothing else"

# 2. apt-get succeeds: update, then install -y socat; then socat is found.
: >"$WORK/apt.log"
out=$(PATH=$tpath APT_STUB=ok "$WORK/clone/scripts/deps" test 2>&1) || fail "install exit $?: $out"
[ "$(sed -n 1p "$WORK/apt.log")" = update ] || fail "apt-get calls: $(cat "$WORK/apt.log")"
grep -qx -- 'install -y --no-install-recommends socat' "$WORK/apt.log" || fail "apt-get calls: $(cat "$WORK/apt.log")"
grep -q 'installing missing packages: socat' <<<"$out" || fail "did not say what it installs: $out"
grep -q 'installed socat' <<<"$out" || fail "did not say it installed: $out"
[ -x "$hidden/socat" ] || fail "stub install did not run"
out=$(PATH=$tpath "$WORK/clone/scripts/deps" test 2>&1) || fail "second run exit $?"
[ -z "$out" ] || fail "nothing missing, yet it said: $out"
pass "missing socat installed with apt-get (update + install -y), silent when nothing is missing"

# 3. apt-get fails: exit 1, and after the notice exactly one error line.
rm -f "$hidden/socat"
out=$(PATH=$tpath APT_STUB=fail "$WORK/clone/scripts/deps" test 2>&1) && fail "failed install exited 0"
[ "$(wc -l <<<"$out")" -eq 2 ] || fail "expected notice + one error line, got: $out"
err=$(sed -n 2p <<<"$out")
[[ $err == "scripts/deps: apt-get install socat failed (log: "*")" ]] || fail "error line: $err"
log=${err##*log: }; log=${log%)}
grep -q 'Unable to locate package socat' "$log" || fail "log $log lacks apt-get's message"
rm -f "$log"
pass "failed install: one clear error line naming the package and the log"

# 4. The demo's set: socat does not matter to it, a hidden curl does.
rm -f "$hidden/socat"
out=$(PATH=$hidden SOCKSHIM_DEPS_DRY_RUN=1 "$WORK/clone/scripts/deps" demo 2>&1) || fail "demo dry run"
[ "$out" = "scripts/deps: would install: curl (missing: curl)" ] || fail "demo dry run said: $out"
pass "demo set: a hidden curl is named, socat is not needed"
