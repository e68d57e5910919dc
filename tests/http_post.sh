#!/usr/bin/env bash
# curl POST and PUT of a 10 MB body under the shim to a kernel-side server
# that answers with the sha256 of what it received.
source "$(dirname "$0")/lib.sh"
head -c 10000000 /dev/urandom > "$WORK/body.bin"
cat > "$WORK/srv.py" <<'PY'
import hashlib, sys
from http.server import BaseHTTPRequestHandler, HTTPServer
class H(BaseHTTPRequestHandler):
    def do_POST(self):
        left = int(self.headers['Content-Length']); h = hashlib.sha256()
        while left:
            b = self.rfile.read(min(65536, left))
            if not b: break
            h.update(b); left -= len(b)
        body = (h.hexdigest() + "\n").encode()
        self.send_response(200); self.send_header('Content-Length', str(len(body))); self.end_headers()
        self.wfile.write(body)
    do_PUT = do_POST
HTTPServer(('10.7.0.1', 8081), H).serve_forever()
PY
bg in_ns python3 "$WORK/srv.py" 2>/dev/null
wait_tcp 10.7.0.1 8081 || fail "server did not start"
want=$(sha "$WORK/body.bin")
got=$(shimmed timeout 60 curl -sS --data-binary @"$WORK/body.bin" http://10.7.0.1:8081/) || fail "POST exit $?"
[ "$got" = "$want" ] || fail "POST: server got $got, want $want"
pass "curl POST 10 MB"
got=$(shimmed timeout 60 curl -sS -T "$WORK/body.bin" http://10.7.0.1:8081/up) || fail "PUT exit $?"
[ "$got" = "$want" ] || fail "PUT: server got $got"
pass "curl PUT 10 MB"
