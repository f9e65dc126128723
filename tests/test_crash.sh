#!/usr/bin/env bash
# test_crash.sh - crash safety of `mien serve`: 4 clients send IndexFaces concurrently while
# the server is killed with SIGKILL at a random moment, ROUNDS times (default 5). After each kill
# the store must pass SQLite's integrity_check (Python's stdlib sqlite3 on the data folder's
# mien.db, the server down); after the last restart every FaceId of an IndexFaces answered 200
# must be listed by ListFaces, and DescribeCollection's FaceCount must equal the faces listed.
# Faces indexed but not acknowledged (the kill came between commit and answer) may be present;
# an acknowledged one may never be missing: the store acknowledges only durable writes.
# Binary: $MIEN_BUILD/mien (default build/mien). Photos: the one-face photos of tests/data.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=tests/lib.sh
source "$ROOT/tests/lib.sh"
ROUNDS=${ROUNDS:-5}
CLIENTS=4

require_mien
# The six one-face photos as IndexFaces bodies.
mkdir -p "$TMP/bodies" "$TMP/acks" "$TMP/refused"
BODIES=6
"$PY" - "$TMP/bodies" "$PHOTOS"/{collins,collins-2,collins-3,hopper,hopper-2,camera}.jpg <<'EOF' || exit 1
import base64, json, os, sys
out, photos = sys.argv[1], sys.argv[2:]
for i, photo in enumerate(photos):
    body = {"CollectionId": "crash", "MaxFaces": 1, "ExternalImageId": os.path.basename(photo),
            "Image": {"Bytes": base64.b64encode(open(photo, "rb").read()).decode()}}
    json.dump(body, open(os.path.join(out, "%d.json" % i), "w"))
EOF

# client ID ROUND: IndexFaces in a loop until the server is gone (connection refused). The body
# of each 200 answer is kept in acks/, of each other answer in refused/; the first 200 of a
# round creates answered.ROUND.
client() {
  local id=$1 round=$2 i=0 code rc f
  while :; do
    f=$round.$id.$i
    code=$(curl -s -o "$TMP/acks/$f" -w '%{http_code}' --max-time 60 -X POST "$URL/" \
      -H 'Content-Type: application/x-amz-json-1.1' -H 'X-Amz-Target: RekognitionService.IndexFaces' \
      --data-binary "@$TMP/bodies/$(((id + i) % BODIES)).json")
    rc=$?
    if ((rc != 0)); then
      rm -f "$TMP/acks/$f"
      ((rc == 7)) && return 0
    elif [[ $code != 200 ]]; then
      mv "$TMP/acks/$f" "$TMP/refused/$f"
    else
      touch "$TMP/answered.$round"
    fi
    i=$((i + 1))
  done
}

integrity() { # the store's database, with the server down
  "$PY" -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("PRAGMA integrity_check").fetchone()[0])' \
    "$SERVER_DATA/mien.db" 2>&1
}

SERVER_DATA=$TMP/serve
start_server || { echo "0 passed, 1 failed"; exit 1; }
api CreateCollection '{"CollectionId":"crash"}'
[[ $HTTP == 200 ]] && ok "create the collection" || { bad "create the collection" "$HTTP $(cat "$TMP/out")"; exit 1; }

kills=0
for ((r = 1; r <= ROUNDS; r++)); do
  ((r == 1)) || start_server || { bad "restart $r" "the server did not start after a kill"; break; }
  pids=()
  for ((c = 0; c < CLIENTS; c++)); do
    client "$c" "$r" &
    pids+=($!)
  done
  # The kill comes at a random moment once writes are being answered (slow under sanitizers).
  for ((i = 0; i < 600; i++)); do
    [[ -e $TMP/answered.$r ]] && break
    sleep 0.1
  done
  sleep "$(awk -v r="$RANDOM" 'BEGIN { printf "%.2f", 1.5 * r / 32767 }')"
  kill -KILL "$SERVER_PID"
  wait "$SERVER_PID" 2>/dev/null
  SERVER_PID=
  kills=$((kills + 1))
  wait "${pids[@]}"
  res=$(integrity)
  [[ $res == ok ]] && ok "integrity_check after kill $r" || bad "integrity_check after kill $r" "$res"
done

start_server || { bad "restart" "the server did not start after the last kill"; echo "$pass passed, $fail failed"; exit 1; }
# Every FaceId listed (paged), DescribeCollection's count, the acknowledged ones.
"$PY" - "$URL" "$TMP/acks" "$TMP/refused" >"$TMP/figures" <<'EOF'
import json, os, sys, urllib.request
url, acks, refused = sys.argv[1:]

def call(op, body):
    rq = urllib.request.Request(url + "/", json.dumps(body).encode(), {
        "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "RekognitionService." + op})
    return json.load(urllib.request.urlopen(rq))

listed, token = [], None
while True:
    r = call("ListFaces", dict({"CollectionId": "crash", "MaxResults": 4096}, **({"NextToken": token} if token else {})))
    listed += [f["FaceId"] for f in r["Faces"]]
    token = r.get("NextToken")
    if not token:
        break
acked = [f["Face"]["FaceId"] for n in os.listdir(acks) for f in json.load(open(os.path.join(acks, n)))["FaceRecords"]]
refusals = [json.load(open(os.path.join(refused, n))).get("__type") for n in os.listdir(refused)]
print(json.dumps({"acknowledged": len(acked), "present": len(listed), "distinct_present": len(set(listed)),
                  "face_count": call("DescribeCollection", {"CollectionId": "crash"})["FaceCount"],
                  "missing": sorted(set(acked) - set(listed)), "refusals": refusals}))
EOF
figures=$(cat "$TMP/figures")
echo "kills: $kills, figures: $figures"
check_figures() { # NAME EXPR on the figures (as r)
  if "$PY" -c 'import json,sys; r = json.loads(sys.argv[1]); sys.exit(0 if eval(sys.argv[2]) else 1)' "$figures" "$2"; then
    ok "$1"
  else
    bad "$1" "$2 is false for $figures"
  fi
}
rounds=$(find "$TMP" -maxdepth 1 -name 'answered.*' | wc -l)
((rounds == ROUNDS)) && ok "faces acknowledged in each of the $ROUNDS rounds" ||
  bad "faces acknowledged in each round" "only in $rounds of $ROUNDS rounds"
check_figures "every acknowledged face is listed" 'r["missing"] == []'
check_figures "FaceCount equals the faces listed, no FaceId twice" \
  'r["face_count"] == r["present"] == r["distinct_present"]'
check_figures "only ThrottlingException refused, if anything" \
  'all(t == "ThrottlingException" for t in r["refusals"])'
stop_server || bad "clean stop" "$(tail -c 1000 "$TMP/server.log")"
res=$(integrity)
[[ $res == ok ]] && ok "integrity_check after a clean stop" || bad "integrity_check after a clean stop" "$res"

finish
