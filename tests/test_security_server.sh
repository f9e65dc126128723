#!/usr/bin/env bash
# test_security_server.sh - issue 19 against a running `mien serve` (points 2, 6 and 7; the
# file races are test_security_races.sh, the store and parser cases test_security.c):
#   - work budgets: an 8192x6144 progressive JPEG of 400 one-coefficient scans (written by
#     tests/security/progressive.py) is refused early, a 10-scan one still decodes; six
#     concurrent 7 MiB bodies of tiny JSON values against --workers 1 (1.3 GB of parse trees
#     before) leave the server's peak memory under 400 MB more;
#     unauthenticated bodies are refused on their headers (the answer still arrives after a
#     6 MiB upload) and --max-connections-per-client bounds one client's connections;
#   - fail closed: a key deleted while the server runs is refused at its next request, and
#     unsigned requests stay refused; a keyless server whose first key is added by another
#     process refuses unsigned requests at once;
#   - protocol hygiene: two different Content-Lengths and Content-Length with chunked get 400,
#     the web page is sent with X-Frame-Options DENY and frame-ancestors 'none', a failed
#     authentication is logged with the client's address and the access key id tried, and a
#     body over --max-body sent without Expect: 100-continue gets its JSON error, not a reset.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=tests/lib.sh
source "$ROOT/tests/lib.sh"
CLIENT="$ROOT/tests/security/client.py"

require_mien
if ! /usr/bin/python3 -c 'import botocore' 2>/dev/null; then
  echo "SKIP: /usr/bin/python3 has no botocore (python3-boto3), which signs the requests"
  exit 77
fi

# expect_answer NAME WANT GOT: GOT ("STATUS TYPE") starts with WANT.
expect_answer() {
  if [[ $3 == "$2"* ]]; then ok "$1: $3"; else bad "$1" "answered '$3', wanted '$2'"; fi
}
peak_kb() { awk '/^VmHWM/ {print $2}' "/proc/$SERVER_PID/status"; }

# ---- work budgets (a keyless server on loopback, one worker) ----
mkdir -p "$TMP/web"
echo '<!doctype html><title>t</title>' >"$TMP/web/index.html"
start_server --workers 1 --web "$TMP/web" || { echo "0 passed, 1 failed"; exit 1; }
before=$(peak_kb)
"$PY" "$CLIENT" concurrent "$URL" 6 7 >"$TMP/many.out" 2>&1
after=$(peak_kb)
if ((after - before < 400 * 1024)) && ! grep -qv '^400 \(SerializationException\|ThrottlingException\)$' "$TMP/many.out"; then
  ok "6 concurrent 7 MiB bodies, --workers 1: peak memory $before -> $after kB"
else
  bad "6 concurrent 7 MiB bodies" "peak $before -> $after kB; answers: $(sort "$TMP/many.out" | uniq -c | tr '\n' ' ')"
fi

for spec in "slow 8192 6144 400" "normal 640 480 10"; do
  read -r name w h scans <<<"$spec"
  "$PY" "$ROOT/tests/security/progressive.py" "$TMP/$name.jpg" "$w" "$h" "$scans"
  printf '{"Image":{"Bytes":"%s"}}' "$(base64 -w0 "$TMP/$name.jpg")" >"$TMP/$name.json"
done
t0=$(date +%s%N)
api DetectFaces "@$TMP/slow.json"
ms=$((($(date +%s%N) - t0) / 1000000))
if [[ $HTTP == 400 ]] && grep -q '"InvalidImageFormatException".*would cost more' "$TMP/out"; then
  ok "progressive JPEG of 400 scans refused by the scan budget in $ms ms ($(stat -c %s "$TMP/slow.jpg") bytes)"
else
  bad "progressive JPEG of 400 scans" "HTTP $HTTP in $ms ms: $(head -c 300 "$TMP/out")"
fi
api DetectFaces "@$TMP/normal.json"
[[ $HTTP == 200 ]] && ok "progressive JPEG of 10 scans decoded" || bad "10-scan JPEG" "HTTP $HTTP: $(head -c 300 "$TMP/out")"

# ---- protocol hygiene ----
port=${URL##*:}
expect_answer "two different Content-Lengths" "400 SerializationException" "$("$PY" "$CLIENT" raw "$port" two-lengths)"
expect_answer "Content-Length with chunked" "400 SerializationException" "$("$PY" "$CLIENT" raw "$port" length-and-chunked)"
expect_answer "the same Content-Length twice" "200 ok" "$("$PY" "$CLIENT" raw "$port" same-length)"
curl -s -D "$TMP/headers" -o /dev/null "$URL/"
grep -qi '^X-Frame-Options: DENY' "$TMP/headers" && ok "X-Frame-Options: DENY" || bad "X-Frame-Options" "$(cat "$TMP/headers")"
grep -qi "^Content-Security-Policy: frame-ancestors 'none'" "$TMP/headers" && ok "frame-ancestors 'none'" || bad "frame-ancestors" "$(cat "$TMP/headers")"
expect_answer "body over --max-body, no Expect: the JSON error arrives after the upload" \
  "400 ImageTooLargeException" "$("$PY" "$CLIENT" raw "$port" over-limit)"
stop_server || bad "exit after SIGTERM" "exit $?"

# One client's connections: --max-connections-per-client 2 of 8.
start_server --max-connections 8 --max-connections-per-client 2 || { echo "$pass passed, $((fail + 1)) failed"; exit 1; }
"$PY" - "${URL##*:}" >"$TMP/py.out" 2>&1 <<'PYEOF'
import socket, sys
port = int(sys.argv[1])
def alive(s):
    try:
        s.sendall(b"GET /x HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        return s.recv(65536) != b""
    except OSError:
        return False
held = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(3)]
print("answered:", [alive(s) for s in held])
PYEOF
grep -q '^answered: \[True, True, False\]' "$TMP/py.out" && ok "--max-connections-per-client 2: the third connection is closed" ||
  bad "--max-connections-per-client" "$(cat "$TMP/py.out")"

# ---- fail closed, and who tried ----
"$MIEN" --data "$TMP/serve" keys add alice >"$TMP/key.json" || bad "keys add" "failed"
secret=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["SecretAccessKey"])' "$TMP/key.json")
id=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["AccessKeyId"])' "$TMP/key.json")
signed() { /usr/bin/python3 "$CLIENT" signed "$URL" "$1" "$2" ListCollections '{}'; }
expect_answer "signed by alice" "200 ok" "$(signed "$id" "$secret")"
expect_answer "big body, unknown key: refused on the headers, answer after the upload" \
  "403 UnrecognizedClientException" "$("$PY" "$CLIENT" raw "${URL##*:}" big-unsigned)"
if grep -q '"client":"127.0.0.1","tried_access_key_id":"AKIABOGUSBOGUSBOGUS0"' "$TMP/server.log"; then
  ok "failed authentication logged with the client and the key id tried"
else
  bad "failed authentication log" "$(grep -i unrecognized "$TMP/server.log" | tail -1)"
fi
# A revocation counts at once, for a running server: alice refused, and unsigned requests too
# (bob's key stays: with none left the server would be keyless, serving loopback requests).
"$MIEN" --data "$TMP/serve" keys add bob >/dev/null || bad "keys add" "bob"
"$MIEN" --data "$TMP/serve" keys delete "$id" || bad "keys delete" "$id"
expect_answer "alice's key deleted: alice refused" "403 UnrecognizedClientException" "$(signed "$id" "$secret")"
api ListCollections '{}'
[[ $HTTP == 403 ]] && ok "deleted key: unsigned still refused" || bad "unsigned after alice's key went" "HTTP $HTTP: $(cat "$TMP/out")"
stop_server || bad "exit after SIGTERM" "exit $?"

# A keyless server whose first key is added by another process refuses unsigned requests at once.
store_reset
SERVER_DATA=$TMP/keyless start_server || { echo "$pass passed, $((fail + 1)) failed"; exit 1; }
api ListCollections '{}'
[[ $HTTP == 200 ]] && ok "keyless: unsigned served" || bad "keyless" "HTTP $HTTP"
"$MIEN" --data "$TMP/keyless" keys add bob >"$TMP/key.json" || bad "keys add" "failed"
api ListCollections '{}'
[[ $HTTP == 403 ]] && grep -q MissingAuthenticationTokenException "$TMP/out" && ok "keyless, a key added: unsigned refused" ||
  bad "keyless after a key was added" "HTTP $HTTP: $(cat "$TMP/out")"
stop_server || bad "exit after SIGTERM" "exit $?"

echo "$pass passed, $fail failed"
[[ $fail == 0 ]]
