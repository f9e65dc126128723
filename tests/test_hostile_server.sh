#!/usr/bin/env bash
# test_hostile_server.sh - hostile inputs against `mien serve`: the images and JSON requests of
# tests/hostile/gen.py (truncated and corrupt JPEGs, CMYK, 1x1, 12000x12000, a PNG declaring
# 100000x100000, empty bytes, text, bad base64, wrong JSON types, missing fields, invalid JSON,
# unknown operations) as unsigned AWS JSON 1.1 POSTs, each image through DetectFaces,
# CompareFaces and IndexFaces; then abuse of HTTP itself (tests/hostile/raw.py): a body over
# --max-body, a body claiming 1 GB, a short body, a huge header, garbage, a bad chunk, path
# traversal, idle and slow-loris connections. Each must get the answer gen.py lists (200, or the
# Rekognition __type with status 400 and an x-amzn-RequestId) or a closed connection, and after
# each one the server must still answer a valid DetectFaces. At the end the collection holds
# just the faces IndexFaces reported, and the server stops cleanly on SIGTERM with no sanitizer
# report in its log.
# Binary: $MIEN_BUILD/mien (default build/mien). Photo: tests/data/collins.jpg.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=tests/lib.sh
source "$ROOT/tests/lib.sh"
PHOTO=$PHOTOS/collins.jpg
H=$TMP/hostile
TIMEOUT=2 # --timeout: idle and slow connections must be gone soon after it

require_mien
mkdir -p "$H" && "$PY" "$ROOT/tests/hostile/gen.py" "$H" "$PHOTO" || { echo "0 passed, 1 failed"; exit 1; }
start_server --timeout "$TIMEOUT" || { echo "0 passed, 1 failed"; exit 1; }

# post TARGET BODY_FILE [CURL_ARGS...]: POSTs the file with X-Amz-Target TARGET (no target
# header when empty) and sets ANSWER: "ok" (200 and a JSON object; FACES: its FaceDetails
# count), the __type of a refusal with status 400, "closed" when no answer came, else what was
# wrong. Every answer must carry an x-amzn-RequestId.
post() {
  local target=$1 body=$2 code rc
  shift 2
  code=$(curl -s -o "$TMP/out" -D "$TMP/headers" -w '%{http_code}' -X POST "$URL/" \
    -H 'Content-Type: application/x-amz-json-1.1' ${target:+-H "X-Amz-Target: $target"} \
    --data-binary "@$body" "$@")
  rc=$?
  FACES=-
  if ((rc != 0)) && [[ $code == 000 ]]; then
    ANSWER=closed
    return
  fi
  read -r ANSWER FACES < <(answer_of "$TMP/out")
  if ! grep -Eqi '^x-amzn-RequestId: [0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}' "$TMP/headers"; then
    ANSWER="status $code without x-amzn-RequestId"
  elif [[ $code == 200 && $ANSWER != ok ]] || [[ $code != 200 && ($ANSWER == ok || $code != 400) ]]; then
    ANSWER="$ANSWER with status $code"
  fi
}

# alive AFTER: a valid DetectFaces must still find the face; a dead server is restarted so the
# remaining cases still run.
alive() {
  post RekognitionService.DetectFaces "$H/valid.detect.json"
  if [[ $ANSWER == ok && $FACES == 1 ]]; then
    ok "serves after $1"
  elif kill -0 "$SERVER_PID" 2>/dev/null; then
    bad "serves after $1" "DetectFaces answered $ANSWER: $(head -c 300 "$TMP/out")"
  else
    bad "serves after $1" "the server died: $(tail -c 2000 "$TMP/server.log")"
    SERVER_PID=
    start_server --timeout "$TIMEOUT" || exit 1
  fi
}

# expect_answer NAME EXPECTED: ANSWER is one of EXPECTED, then the server is still alive.
expect_answer() {
  if one_of "$ANSWER" "$2"; then ok "$1: $ANSWER"; else
    bad "$1" "answered $ANSWER, wanted $2: $(head -c 300 "$TMP/out")"
  fi
  alive "$1"
}

echo '{"CollectionId":"hostile"}' >"$TMP/create.json"
post RekognitionService.CreateCollection "$TMP/create.json"
[[ $ANSWER == ok ]] && ok "create the collection hostile" || bad "create the collection hostile" "$ANSWER"

# ---- the inputs gen.py lists ----
indexed=0 # faces IndexFaces said it indexed
while IFS=$'\t' read -r name _ detect compare; do
  post RekognitionService.DetectFaces "$H/$name.detect.json"
  expect_answer "DetectFaces $name" "$detect"
  # The body of over-5-mib's CompareFaces (two images) is beyond --max-body, refused as such.
  post RekognitionService.CompareFaces "$H/$name.compare.json"
  expect_answer "CompareFaces $name" "$compare"
  post RekognitionService.IndexFaces "$H/$name.index.json"
  [[ $ANSWER == ok ]] && indexed=$((indexed + FACES))
  expect_answer "IndexFaces $name" "$detect"
done <"$H/images.tsv"
while IFS=$'\t' read -r name op body want _; do
  post "RekognitionService.$op" "$H/$body"
  expect_answer "$op $name" "$want"
done <"$H/requests.tsv"

# ---- the operation header ----
post "" "$H/valid.detect.json"
expect_answer "no X-Amz-Target" UnknownOperationException
post "DynamoDB_20120810.DetectFaces" "$H/valid.detect.json"
expect_answer "another service's target" UnknownOperationException
post "RekognitionService." "$H/valid.detect.json"
expect_answer "empty operation name" UnknownOperationException

# ---- bodies over --max-body (default 8 MiB): refused unread, or the connection closed ----
{ printf '{"Image":{"Bytes":"'; head -c $((9 << 20)) /dev/zero | tr '\0' A; printf '"}}'; } >"$TMP/9mib.json"
post RekognitionService.DetectFaces "$TMP/9mib.json"
expect_answer "9 MiB body" "ImageTooLargeException|closed"
RAW=$("$PY" "$ROOT/tests/hostile/raw.py" "$URL" big-claim)
if "$PY" -c 'import json,sys; r = json.loads(sys.argv[1]); sys.exit(not (r["status"] is None or
    (r["status"] == 400 and r["type"] == "ImageTooLargeException")) or r["seconds"] > 5)' "$RAW"; then
  ok "1 GB Content-Length refused without reading it: $RAW"
else
  bad "1 GB Content-Length" "$RAW"
fi
alive "1 GB Content-Length"

# ---- broken HTTP: any refusal or a closed connection, and the server lives on ----
for c in short-body huge-header garbage bad-chunk; do
  RAW=$("$PY" "$ROOT/tests/hostile/raw.py" "$URL" "$c")
  if "$PY" -c 'import json,sys; s = json.loads(sys.argv[1])["status"]; sys.exit(not (s is None or 400 <= s < 500))' "$RAW"; then
    ok "$c: $RAW"
  else
    bad "$c" "$RAW"
  fi
  alive "$c"
done

# ---- static files: no way out of the web folder ----
for p in /../../../../etc/passwd /%2e%2e/%2e%2e/%2e%2e/etc/passwd /..%2f..%2f..%2fetc%2fpasswd; do
  code=$(curl -s --path-as-is -o "$TMP/out" -w '%{http_code}' "$URL$p")
  if [[ $code != 200 ]] && ! grep -q 'root:' "$TMP/out"; then ok "GET $p: $code"; else
    bad "GET $p" "status $code: $(head -c 200 "$TMP/out")"
  fi
done
alive "path traversal"

# ---- idle and slow-loris connections: closed soon after --timeout while others are served ----
"$PY" "$ROOT/tests/hostile/raw.py" "$URL" slowloris 8 $((TIMEOUT + 4)) >"$TMP/slow" &
slow=$!
"$PY" "$ROOT/tests/hostile/raw.py" "$URL" idle $((TIMEOUT + 4)) >"$TMP/idle" &
idle=$!
sleep 1
alive "8 slow-loris connections opened"
wait $slow $idle
if "$PY" -c 'import json,sys; r = json.load(open(sys.argv[1])); sys.exit(not (r["open"] == 0 and max(r["closed"]) <= float(sys.argv[2])))' \
  "$TMP/slow" $((TIMEOUT + 3)); then ok "slow-loris closed: $(cat "$TMP/slow")"; else
  bad "slow-loris" "sending one header byte a second, still open $((TIMEOUT + 3)) s after --timeout $TIMEOUT: $(cat "$TMP/slow")"
fi
if "$PY" -c 'import json,sys; c = json.load(open(sys.argv[1]))["closed"]; sys.exit(c is None or c > float(sys.argv[2]))' \
  "$TMP/idle" $((TIMEOUT + 3)); then ok "idle connection closed: $(cat "$TMP/idle")"; else
  bad "idle connection" "not closed within $((TIMEOUT + 3)) s: $(cat "$TMP/idle")"
fi
alive "slow-loris"

# ---- the end: nothing refused was written, a clean stop, a clean log ----
echo '{}' >"$TMP/list.json"
post RekognitionService.ListCollections "$TMP/list.json"
[[ $ANSWER == ok ]] && check "refused requests created no collection" 'r["CollectionIds"] == ["hostile"]' ||
  bad "ListCollections" "$ANSWER"
echo '{"CollectionId":"hostile"}' >"$TMP/describe.json"
post RekognitionService.DescribeCollection "$TMP/describe.json"
[[ $ANSWER == ok ]] && check "the collection holds the $indexed faces indexed, no more" "r[\"FaceCount\"] == $indexed" ||
  bad "DescribeCollection" "$ANSWER"
stop_server
rc=$?
[[ $rc == 0 ]] && ok "clean stop on SIGTERM" || bad "clean stop on SIGTERM" "exit $rc: $(tail -c 1500 "$TMP/server.log")"
if grep -Eq 'AddressSanitizer|LeakSanitizer|runtime error:' "$TMP/server.log"; then
  bad "sanitizers" "$(grep -E -m1 -A12 'AddressSanitizer|LeakSanitizer|runtime error:' "$TMP/server.log")"
else
  ok "no sanitizer report in the server's log"
fi
photo_b64=$(base64 -w0 "$PHOTO" | cut -c 2000-2060)
grep -q -- "$photo_b64" "$TMP/server.log" && bad "log" "the request log holds image bytes" || ok "the log holds no image bytes"

finish
