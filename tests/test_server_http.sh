#!/usr/bin/env bash
# test_server_http.sh - `mien serve` at the HTTP level, with curl and raw sockets (no models or
# photos needed): the ready line; AWS JSON 1.1 routing and its errors (unknown target, bad JSON,
# wrong Content-Type, wrong path or method), x-amzn-RequestId on every answer; static files and
# paths that try to leave the web directory; keyless mode answering loopback names only (DNS
# rebinding); `mien keys` and keys taking effect on a running server, checked with requests
# signed by botocore's SigV4 signer; refusing to listen beyond loopback without keys; the limits
# (a body over --max-body refused on its headers, before it is sent; idle connections closed
# after --timeout; --max-connections); and a graceful stop where a request half-sent at SIGTERM
# still gets its answer while new connections are refused.
# The aws-cli, boto3, load and browser tests are test_server_aws.sh, test_server_boto3.sh,
# test_server_load.sh and test_web.sh. Binary: $MIEN_BUILD/mien.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=tests/lib.sh
source "$ROOT/tests/lib.sh"
PY=/usr/bin/python3

require_mien
command -v curl >/dev/null || { echo "SKIP: curl absent"; exit 77; }

# post TARGET BODY [CURL ARGS...]: a POST with TARGET as X-Amz-Target (none when empty) and
# Content-Type $CT (default AWS JSON 1.1); body to $TMP/out, status to HTTP, response headers to
# $TMP/headers.
post() {
  local target=$1 body=$2
  shift 2
  HTTP=$(curl -sS -D "$TMP/headers" -o "$TMP/out" -w '%{http_code}' -X POST "$URL/" \
    -H "Content-Type: ${CT:-application/x-amz-json-1.1}" ${target:+-H "X-Amz-Target: $target"} \
    --data-binary "$body" "$@")
}

# err_type: the __type of the Rekognition error in $TMP/out (a JSON object holding exactly a
# string __type and a non-empty Message), else "malformed".
err_type() {
  python3 -c 'import json,sys
try:
    e = json.load(open(sys.argv[1]))
    ok = set(e) == {"__type", "Message"} and all(isinstance(v, str) and v for v in e.values())
except ValueError:
    ok = False
print(e["__type"] if ok else "malformed")' "$TMP/out"
}

# refused NAME STATUS TYPE: the last answer was HTTP STATUS with __type TYPE and a request id.
refused() {
  if [[ $HTTP == "$2" ]] && [[ $(err_type) == "$3" ]] &&
    grep -qiE '^x-amzn-RequestId: [0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}' "$TMP/headers"; then
    ok "$1"
  else
    bad "$1" "HTTP $HTTP, wanted $2 $3: $(head -c 300 "$TMP/out")"
  fi
}

# signed SECRET_OR_EMPTY TARGET BODY: POST signed by botocore with key $KEY_ID and SECRET
# (botocore's SigV4Auth, region us-east-1), through urllib; body to $TMP/out, status to HTTP.
signed() {
  HTTP=$($PY - "$URL" "$KEY_ID" "$1" "$2" "$3" "$TMP/out" <<'EOF'
import sys, urllib.request, urllib.error
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
url, kid, secret, target, body, out = sys.argv[1:]
req = AWSRequest(method="POST", url=url + "/", data=body.encode(),
                 headers={"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": target})
SigV4Auth(Credentials(kid, secret), "rekognition", "us-east-1").add_auth(req)
r = urllib.request.Request(url + "/", data=body.encode(), headers=dict(req.headers), method="POST")
try:
    resp = urllib.request.urlopen(r, timeout=30)
    code, data = resp.status, resp.read()
except urllib.error.HTTPError as e:
    code, data = e.code, e.read()
open(out, "wb").write(data)
print(code)
EOF
)
}

# ---- the command line ----
run "keys list, none" 0 "$MIEN" --data "$TMP/serve" keys list && check "keys list, none" 'r == {"AccessKeyMetadata": []}'
expect "keys add, bad name" 3 InvalidParameterException "$MIEN" --data "$TMP/serve" keys add "two words"
expect "keys delete, unknown" 3 ResourceNotFoundException "$MIEN" --data "$TMP/serve" keys delete AKIAAAAAAAAAAAAAAAAA
run "serve --workers 0" 2 "$MIEN" --data "$TMP/serve" serve --workers 0 && ok "serve --workers 0"
expect "serve --listen garbage" 3 InvalidParameterException "$MIEN" --data "$TMP/serve" serve --listen nowhere
expect "serve beyond loopback without keys" 3 AccessDeniedException "$MIEN" --data "$TMP/serve" serve --listen 0.0.0.0:0

# ---- a keyless server on loopback ----
mkdir -p "$TMP/web/sub" "$TMP/outside"
echo '<!doctype html><title>t</title>' >"$TMP/web/index.html"
echo 'console.log(1)' >"$TMP/web/sub/app.js"
echo secret >"$TMP/web/.hidden"
echo secret >"$TMP/outside/file.txt"
ln -s "$TMP/outside/file.txt" "$TMP/web/link.txt"
start_server --workers 2 --web "$TMP/web" || { echo "0 passed, 1 failed"; exit 1; }
if grep -qE '^\{"listening":"http://127\.0\.0\.1:[0-9]+","workers":2,"keys":0\}$' "$TMP/server.out"; then
  ok "ready line"
else
  bad "ready line" "$(cat "$TMP/server.out")"
fi

post RekognitionService.ListCollections '{}'
[[ $HTTP == 200 ]] && check "ListCollections" 'r["CollectionIds"] == []' || bad "ListCollections" "HTTP $HTTP"
grep -qi '^Content-Type: application/x-amz-json-1.1' "$TMP/headers" && ok "Content-Type" || bad "Content-Type" "$(cat "$TMP/headers")"
grep -qiE '^x-amzn-RequestId: [0-9a-f-]{36}' "$TMP/headers" && ok "x-amzn-RequestId" || bad "x-amzn-RequestId" "$(cat "$TMP/headers")"
post RekognitionService.DescribeCollection '{"CollectionId":"nope"}'
refused "ResourceNotFoundException" 400 ResourceNotFoundException
post RekognitionService.DescribeCollection '{"CollectionId":"bad id!"}'
refused "InvalidParameterException" 400 InvalidParameterException
post RekognitionService.NoSuchOperation '{}'
refused "unknown operation" 400 UnknownOperationException
post OtherService.ListCollections '{}'
refused "another service's target" 400 UnknownOperationException
post "" '{}'
refused "no X-Amz-Target" 400 UnknownOperationException
post RekognitionService.ListCollections '{"MaxResults":'
refused "truncated JSON" 400 SerializationException
post RekognitionService.ListCollections '[1,2]'
refused "JSON that is not an object" 400 SerializationException
CT=text/plain post RekognitionService.ListCollections '{}'
refused "wrong Content-Type" 400 SerializationException
HTTP=$(curl -sS -D "$TMP/headers" -o "$TMP/out" -w '%{http_code}' -X POST "$URL/v1" \
  -H 'Content-Type: application/x-amz-json-1.1' -H 'X-Amz-Target: RekognitionService.ListCollections' -d '{}')
refused "POST to another path" 404 UnknownOperationException
HTTP=$(curl -sS -D "$TMP/headers" -o "$TMP/out" -w '%{http_code}' -X DELETE "$URL/")
refused "DELETE" 405 UnknownOperationException
# DNS rebinding: a page of another site whose name resolves to 127.0.0.1 must not reach the API.
post RekognitionService.ListCollections '{}' -H 'Host: attacker.example:8080'
refused "keyless: Host not loopback" 400 AccessDeniedException
post RekognitionService.ListCollections '{}' -H "Host: localhost:${URL##*:}"
[[ $HTTP == 200 ]] && ok "keyless: Host localhost" || bad "keyless: Host localhost" "HTTP $HTTP"

# ---- static files ----
HTTP=$(curl -sS -D "$TMP/headers" -o "$TMP/out" -w '%{http_code}' "$URL/")
[[ $HTTP == 200 ]] && cmp -s "$TMP/out" "$TMP/web/index.html" && grep -qi '^Content-Type: text/html' "$TMP/headers" &&
  ok "GET /" || bad "GET /" "HTTP $HTTP"
HTTP=$(curl -sS -D "$TMP/headers" -o "$TMP/out" -w '%{http_code}' "$URL/sub/app.js")
[[ $HTTP == 200 ]] && grep -qi '^Content-Type: text/javascript' "$TMP/headers" && ok "GET /sub/app.js" || bad "GET /sub/app.js" "HTTP $HTTP"
HTTP=$(curl -sS -o /dev/null -w '%{http_code}' -I "$URL/")
[[ $HTTP == 200 ]] && ok "HEAD /" || bad "HEAD /" "HTTP $HTTP"
for p in /../outside/file.txt /%2e%2e/outside/file.txt /sub/../../outside/file.txt /.hidden /link.txt /nope.js /sub; do
  HTTP=$(curl -sS --path-as-is -o "$TMP/out" -w '%{http_code}' "$URL$p")
  if [[ $HTTP == 404 ]] && ! grep -q secret "$TMP/out"; then ok "GET $p refused"; else bad "GET $p" "HTTP $HTTP: $(head -c 100 "$TMP/out")"; fi
done

# ---- limits ----
stop_server
start_server --max-body 1000 --timeout 2 --max-connections 4 || { echo "$pass passed, $((fail + 1)) failed"; exit 1; }
post RekognitionService.ListCollections "{\"NextToken\":\"$(head -c 3000 /dev/zero | tr '\0' a)\"}"
refused "body over --max-body" 400 ImageTooLargeException
# A huge Content-Length is answered on the headers alone: nothing of the body is ever sent.
$PY - "${URL##*:}" >"$TMP/py.out" 2>&1 <<'EOF'
import socket, sys, time
port = int(sys.argv[1])
s = socket.create_connection(("127.0.0.1", port), timeout=5)
s.sendall(b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-amz-json-1.1\r\n"
          b"X-Amz-Target: RekognitionService.DetectFaces\r\nExpect: 100-continue\r\n"
          b"Content-Length: 1000000000\r\n\r\n")
data = s.recv(65536).decode(errors="replace")
print("early:", "400" in data.split("\r\n")[0] and "ImageTooLargeException" in data and "100 Continue" not in data)
# Idle: headers begun but never finished; the server closes it after --timeout.
s2 = socket.create_connection(("127.0.0.1", port), timeout=10)
s2.sendall(b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
t0 = time.time()
try:
    got = s2.recv(100)
except OSError:
    got = b""
print("idle closed:", 1.5 < time.time() - t0 < 8)
EOF
grep -q '^early: True' "$TMP/py.out" && ok "Content-Length over the limit refused before the body" || bad "early refusal" "$(cat "$TMP/py.out")"
grep -q '^idle closed: True' "$TMP/py.out" && ok "idle connection closed after --timeout" || bad "--timeout" "$(cat "$TMP/py.out")"
$PY - "${URL##*:}" >"$TMP/py.out" 2>&1 <<'EOF'
import socket, sys
port = int(sys.argv[1])
held = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(4)]
for s in held:
    s.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    s.recv(65536)
extra = socket.create_connection(("127.0.0.1", port), timeout=5)
try:
    extra.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    got = extra.recv(65536)
except OSError:
    got = b""
print("fifth refused:", got == b"")
EOF
grep -q '^fifth refused: True' "$TMP/py.out" && ok "--max-connections" || bad "--max-connections" "$(cat "$TMP/py.out")"
# A chunked body has no length to judge up front: cut off where it crosses the limit.
head -c 5000 /dev/zero | tr '\0' ' ' >"$TMP/big.json"
post RekognitionService.ListCollections "@$TMP/big.json" -H 'Transfer-Encoding: chunked' 2>/dev/null
if [[ $HTTP == 400 && $(err_type) == ImageTooLargeException ]] || [[ $HTTP == 000 ]]; then
  ok "chunked body over --max-body cut off"
else
  bad "chunked body over --max-body" "HTTP $HTTP: $(head -c 200 "$TMP/out")"
fi
post RekognitionService.ListCollections '{}'
[[ $HTTP == 200 ]] && ok "still serving after the limits" || bad "after the limits" "HTTP $HTTP"

# ---- keys on a running server ----
run "keys add" 0 "$MIEN" --data "$SERVER_DATA" keys add alice || true
KEY_ID=$(json_get 'r["AccessKeyId"]')
SECRET=$(json_get 'r["SecretAccessKey"]')
run "keys list" 0 "$MIEN" --data "$SERVER_DATA" keys list &&
  check "keys list" "[(k['UserName'], k['AccessKeyId']) for k in r['AccessKeyMetadata']] == [('alice', '$KEY_ID')] and 'SecretAccessKey' not in r['AccessKeyMetadata'][0]"
post RekognitionService.ListCollections '{}'
refused "unsigned, once a key exists" 403 MissingAuthenticationTokenException
if $PY -c 'import botocore' 2>/dev/null; then
  signed "$SECRET" RekognitionService.ListCollections '{}'
  [[ $HTTP == 200 ]] && check "signed by botocore" 'r["CollectionIds"] == []' || bad "signed by botocore" "HTTP $HTTP: $(cat "$TMP/out")"
  # Another last character (a secret ending in x must not get x again).
  [[ $SECRET == *x ]] && WRONG=${SECRET%?}y || WRONG=${SECRET%?}x
  signed "$WRONG" RekognitionService.ListCollections '{}'
  refused_nohdr() { [[ $HTTP == "$2" && $(err_type) == "$3" ]] && ok "$1" || bad "$1" "HTTP $HTTP: $(cat "$TMP/out")"; }
  refused_nohdr "wrong secret" 403 InvalidSignatureException
  KEY_ID=AKIAAAAAAAAAAAAAAAAA signed "$SECRET" RekognitionService.ListCollections '{}'
  refused_nohdr "unknown key" 403 UnrecognizedClientException
  grep -q "\"access_key_id\":\"$KEY_ID\"" "$TMP/server.log" && ok "log names the key" || bad "log" "no $KEY_ID"
  grep -q "$SECRET" "$TMP/server.log" && bad "log" "has the secret" || ok "log has no secret"
else
  echo "SKIP signed cases: $PY has no botocore"
fi
run "keys delete" 0 "$MIEN" --data "$SERVER_DATA" keys delete "$KEY_ID" && ok "keys delete"
post RekognitionService.ListCollections '{}'
[[ $HTTP == 200 ]] && ok "unsigned again once the key is deleted" || bad "after keys delete" "HTTP $HTTP"
if python3 -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1])]' "$TMP/server.log" 2>/dev/null; then
  ok "log: one JSON object a line"
else
  bad "log" "$(head -c 300 "$TMP/server.log")"
fi
stop_server

# ---- with a key, beyond loopback ----
BOB=$("$MIEN" --data "$SERVER_DATA" keys add bob | sed -n 's/.*"AccessKeyId": *"\([A-Z0-9]*\)".*/\1/p')
rm -f "$TMP/server.out" # else the wait below may read the previous server's line
"$MIEN" --data "$SERVER_DATA" serve --listen 0.0.0.0:0 >"$TMP/server.out" 2>"$TMP/server.log" &
SERVER_PID=$!
for ((i = 0; i < 300; i++)); do grep -q listening "$TMP/server.out" && break; sleep 0.1; done
grep -qE '"listening":"http://0\.0\.0\.0:[0-9]+".*"keys":1' "$TMP/server.out" && ok "beyond loopback with a key" ||
  bad "beyond loopback with a key" "$(cat "$TMP/server.out" "$TMP/server.log")"
stop_server || bad "SIGTERM" "exit $?"

# ---- graceful stop: a request in flight at SIGTERM is answered ----
"$MIEN" --data "$SERVER_DATA" keys delete "$BOB" || bad "keys delete" "bob's key $BOB"
start_server || { echo "$pass passed, $((fail + 1)) failed"; exit 1; }
$PY - "${URL##*:}" "$SERVER_PID" >"$TMP/py.out" 2>&1 <<'EOF'
import os, signal, socket, sys, time
port, pid = int(sys.argv[1]), int(sys.argv[2])
body = b'{"MaxResults": 10}'
s = socket.create_connection(("127.0.0.1", port), timeout=20)
s.sendall(b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-amz-json-1.1\r\n"
          b"X-Amz-Target: RekognitionService.ListCollections\r\nContent-Length: %d\r\n\r\n" % len(body)
          + body[:5])
time.sleep(0.5)
os.kill(pid, signal.SIGTERM)
time.sleep(0.5)
try:
    socket.create_connection(("127.0.0.1", port), timeout=2).close()
    print("new connection refused: False")
except OSError:
    print("new connection refused: True")
s.sendall(body[5:])
data = b""
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    data += chunk
head = data.split(b"\r\n")[0]
print("in-flight answered:", head == b"HTTP/1.1 200 OK" and b'"CollectionIds":[]' in data
      and b"Connection: close" in data)
EOF
grep -q '^new connection refused: True' "$TMP/py.out" && ok "stopping: no new connections" || bad "stopping" "$(cat "$TMP/py.out")"
grep -q '^in-flight answered: True' "$TMP/py.out" && ok "stopping: the request in flight is answered" || bad "in flight" "$(cat "$TMP/py.out")"
stop_server && ok "exit 0 after SIGTERM" || bad "exit after SIGTERM" "exit $?"
grep -q '"stopped":"SIGTERM"' "$TMP/server.log" && ok "stop logged" || bad "stop logged" "$(tail -c 300 "$TMP/server.log")"

finish
