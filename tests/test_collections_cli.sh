#!/usr/bin/env bash
# test_collections_cli.sh - the store's commands as a user runs them: `mien collection`, `mien
# index` (bulk, resumable), `mien search`, `mien faces`, `mien users` and `mien call`, their JSON
# and exit codes; and durability: `mien index` killed with SIGKILL in the middle of a bulk run
# loses no face it printed, the database passes integrity_check (SQLite), and a rerun completes the job
# without indexing any image twice.
# Binary: $MIEN_BUILD/mien (default build/mien). Photos: tests/data.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=tests/lib.sh
source "$ROOT/tests/lib.sh"
D=$TMP/data
# A folder of two photos of Collins (tests/data/README.md) for indexing a directory.
mkdir -p "$TMP/collins" && cp "$PHOTOS/collins.jpg" "$PHOTOS/collins-2.jpg" "$TMP/collins/"

require_mien

# ---- collections (no photos needed) ----
run "collection create" 0 "$MIEN" collection create album --data "$D" &&
  check "collection create" 'r["StatusCode"] == 200 and r["CollectionArn"].endswith("collection/album")'
expect "collection create twice" 3 ResourceAlreadyExistsException "$MIEN" collection create album --data "$D"
expect "collection id pattern" 3 InvalidParameterException "$MIEN" collection create 'a/b' --data "$D"
run "MIEN_DATA" 0 env MIEN_DATA="$D" "$MIEN" collection describe album &&
  check "collection describe" 'r["FaceCount"] == 0 and r["UserCount"] == 0 and r["FaceModelVersion"] == "1.0"'
run "collection create with tags" 0 "$MIEN" collection create second --tags '{"team":"a"}' --data "$D" && ok "collection create with tags"
run "collection list" 0 "$MIEN" collection list --max-results 1 --data "$D" &&
  check "collection list pages" 'r["CollectionIds"] == ["album"] and "NextToken" in r'
run "collection list page 2" 0 "$MIEN" collection list --max-results 1 --next-token "$(json_get 'r["NextToken"]')" --data "$D" &&
  check "collection list page 2" 'r["CollectionIds"] == ["second"] and "NextToken" not in r'
run "collection delete" 0 "$MIEN" collection delete second --data "$D" && check "collection delete" 'r["StatusCode"] == 200'
expect "collection describe deleted" 3 ResourceNotFoundException "$MIEN" collection describe second --data "$D"
run "collection without subcommand" 2 "$MIEN" collection --data "$D" && ok "collection without subcommand"
run "collection --help" 0 "$MIEN" collection --help && grep -q "mien index" "$TMP/out" && ok "collection --help"
run "unknown option" 2 "$MIEN" faces list album --bogus 1 --data "$D" && ok "unknown option"

# ---- mien call ----
run "call CreateCollection" 0 "$MIEN" call CreateCollection '{"CollectionId":"viacall"}' --data "$D" &&
  check "call CreateCollection" 'r["StatusCode"] == 200'
echo '{"CollectionId":"viacall"}' >"$TMP/req.json"
run "call @file" 0 "$MIEN" call DescribeCollection "@$TMP/req.json" --data "$D" && check "call @file" 'r["FaceCount"] == 0'
run "call stdin" 0 "$MIEN" call ListCollections - --data "$D" <<<'{"MaxResults":10}' &&
  check "call stdin" 'sorted(r["CollectionIds"]) == ["album", "viacall"]'
run "call unknown operation" 2 "$MIEN" call DetectLabels '{}' --data "$D" && ok "call unknown operation"
expect "call bad JSON" 3 SerializationException "$MIEN" call ListCollections '{' --data "$D"
expect "call NUL in a field" 3 InvalidParameterException "$MIEN" call CreateCollection '{"CollectionId":"a\u0000b"}' --data "$D"
expect "call missing collection" 3 ResourceNotFoundException "$MIEN" call ListFaces '{"CollectionId":"none"}' --data "$D"

# ---- index, search, faces, users ----
run "index two people" 0 "$MIEN" index album "$TMP/collins" "$PHOTOS/hopper.jpg" \
  --external-id photos --max-faces 1 --data "$D"
if python3 - "$TMP/out" <<'EOF'; then ok "index prints one IndexFaces response per image"; else bad "index output" "$(head -c 300 "$TMP/out")"; fi
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
assert len(lines) == 3, len(lines)
for r in lines:
    assert r["File"].endswith(".jpg") and len(r["FaceRecords"]) == 1
    assert r["FaceRecords"][0]["Face"]["ExternalImageId"] == "photos"
    assert r["FaceModelVersion"] == "1.0"
EOF
grep -q "3 images indexed" "$TMP/err" && ok "index summary" || bad "index summary" "$(cat "$TMP/err")"
run "index again: resumed, nothing new" 0 "$MIEN" index album "$TMP/collins" --data "$D" &&
  grep -c '"AlreadyIndexed":true' "$TMP/out" | grep -qx 2 && ok "index again: resumed, nothing new"
expect "index into a missing collection" 3 ResourceNotFoundException "$MIEN" index nope "$TMP/collins" --data "$D"
printf 'not an image' >"$TMP/bad.jpg"
expect "index a bad image" 3 InvalidImageFormatException "$MIEN" index album "$TMP/bad.jpg" --data "$D"
run "index without files" 2 "$MIEN" index album --data "$D" && ok "index without files"

run "search" 0 "$MIEN" search album "$PHOTOS/collins-3.jpg" --max-faces 1 --data "$D" &&
  check "search finds the same photo" 'len(r["FaceMatches"]) == 1 and r["FaceMatches"][0]["Similarity"] > 99 and r["SearchedFaceConfidence"] > 90'
run "search threshold" 0 "$MIEN" search album "$PHOTOS/collins-3.jpg" --threshold 0 --data "$D" &&
  check "search threshold 0 returns every face" 'len(r["FaceMatches"]) == 3'
expect "search a bad image" 3 InvalidImageFormatException "$MIEN" search album "$TMP/bad.jpg" --data "$D"

run "faces list" 0 "$MIEN" faces list album --data "$D" && check "faces list" 'len(r["Faces"]) == 3'
python3 -c 'import json,sys; print("\n".join(f["FaceId"] for f in json.load(open(sys.argv[1]))["Faces"]))' "$TMP/out" >"$TMP/ids"
mapfile -t IDS <"$TMP/ids"
run "faces list by id" 0 "$MIEN" faces list album "${IDS[0]}" --data "$D" && check "faces list by id" "len(r['Faces']) == 1 and r['Faces'][0]['FaceId'] == '${IDS[0]}'"
run "faces list pages" 0 "$MIEN" faces list album --max-results 2 --data "$D" && check "faces list pages" 'len(r["Faces"]) == 2 and "NextToken" in r'

run "users create" 0 "$MIEN" users create album collins --data "$D" && check "users create" 'r == {}'
expect "users create twice" 3 ConflictException "$MIEN" users create album collins --data "$D"
run "users associate" 0 "$MIEN" users associate album collins "${IDS[0]}" "${IDS[1]}" --data "$D" &&
  check "users associate" 'len(r["AssociatedFaces"]) == 2 and r["UserStatus"] == "ACTIVE"'
run "users list" 0 "$MIEN" users list album --data "$D" && check "users list" 'r["Users"] == [{"UserId": "collins", "UserStatus": "ACTIVE"}]'
run "users search by image" 0 "$MIEN" users search album --image "$PHOTOS/collins.jpg" --data "$D" &&
  check "users search by image" 'r["UserMatches"][0]["User"]["UserId"] == "collins"'
run "users search by face" 0 "$MIEN" users search album --face-id "${IDS[1]}" --data "$D" &&
  check "users search by face" 'r["UserMatches"][0]["User"]["UserId"] == "collins" and r["SearchedFace"]["FaceId"] == "'"${IDS[1]}"'"'
run "users search needs one query" 2 "$MIEN" users search album --data "$D" && ok "users search needs one query"
run "faces delete of a user's face" 0 "$MIEN" faces delete album "${IDS[0]}" --data "$D" &&
  check "faces delete of a user's face" 'r["UnsuccessfulFaceDeletions"][0]["Reasons"] == ["ASSOCIATED_TO_AN_EXISTING_USER"]'
run "users disassociate" 0 "$MIEN" users disassociate album collins "${IDS[0]}" --data "$D" &&
  check "users disassociate" 'r["DisassociatedFaces"] == [{"FaceId": "'"${IDS[0]}"'"}]'
run "users delete" 0 "$MIEN" users delete album collins --data "$D" && ok "users delete"
expect "users delete twice" 3 ResourceNotFoundException "$MIEN" users delete album collins --data "$D"
run "faces delete" 0 "$MIEN" faces delete album "${IDS[0]}" --data "$D" && check "faces delete" "r['DeletedFaces'] == ['${IDS[0]}']"
expect "faces delete bad id" 3 InvalidParameterException "$MIEN" faces delete album not-a-face --data "$D"

# ---- durability: SIGKILL during a bulk index ----
# 300 distinct files (a counter appended after the JPEG's end changes its bytes, not its pixels).
mkdir -p "$TMP/bulk"
mapfile -t FACES < <(ls "$PHOTOS"/collins*.jpg "$PHOTOS"/hopper*.jpg "$PHOTOS"/camera.jpg)
for i in $(seq -w 1 300); do
  { cat "${FACES[10#$i % ${#FACES[@]}]}"; echo "$i"; } >"$TMP/bulk/$i.jpg"
done
IMGS=("$TMP"/bulk/*.jpg)
"$MIEN" collection create bulk --data "$D" >/dev/null
"$MIEN" index bulk "${IMGS[@]}" --data "$D" >"$TMP/bulk.out" 2>"$TMP/bulk.err" &
pid=$!
for _ in $(seq 1 400); do
  [[ $(wc -l <"$TMP/bulk.out") -ge 40 ]] && break
  kill -0 $pid 2>/dev/null || break
  sleep 0.02
done
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
printed=$(wc -l <"$TMP/bulk.out")
python3 -c 'import json, sys
for line in open(sys.argv[1]):
    try:
        r = json.loads(line)
    except ValueError:
        continue  # the line the kill cut short was not acknowledged
    for f in r.get("FaceRecords", []):
        print(f["Face"]["FaceId"])' "$TMP/bulk.out" | sort >"$TMP/acked"
store_rows "$D" "SELECT face_id FROM faces" | sort >"$TMP/stored"
lost=$(comm -23 "$TMP/acked" "$TMP/stored" | wc -l)
if [[ -s $TMP/acked ]] && ((lost == 0)); then ok "kill -9: every face printed ($printed images) is stored"
else bad "kill -9" "$(wc -l <"$TMP/acked") faces acknowledged, $lost of them lost"; fi
sqlite_only "kill -9: integrity_check" "test_faults_pg (kill -9 of a node: no half-written face)" && {
  if python3 -c 'import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
assert db.execute("PRAGMA foreign_key_check").fetchall() == []' "$D/mien.db"; then ok "kill -9: integrity ok"
  else bad "kill -9" "integrity_check or foreign_key_check failed"; fi
}
run "rerun after the kill completes the job" 0 "$MIEN" index bulk "${IMGS[@]}" --data "$D"
counts=$(store_rows "$D" "SELECT count(*), count(DISTINCT sha256) FROM images
  WHERE collection = (SELECT id FROM collections WHERE name = 'bulk')")
[[ $counts == "${#IMGS[@]}|${#IMGS[@]}" ]] && ok "rerun: every image indexed once" ||
  bad "rerun" "images|distinct $counts, wanted ${#IMGS[@]} each"
grep -o '[0-9.]* images/s with [0-9]* workers' "$TMP/err" | sed 's/^/  indexing throughput: /'

finish
