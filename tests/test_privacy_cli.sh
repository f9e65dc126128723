#!/usr/bin/env bash
# test_privacy_cli.sh - the privacy controls as an operator uses them (docs/privacy.md): `mien
# collection create/policy` with the mien: tags, consent refused and given with `mien index
# --consent`, `mien purge` past the retention with a clock the test sets (libfaketime), `mien audit
# verify` catching an edited, a deleted and a cut-off record (exit 1, saying where) and `mien
# audit export` lines chained by SHA-256, and the template key: --template-key/MIEN_TEMPLATE_KEY,
# a store refused without its key or with an exposed key file, and (once `mien keys` dispatches
# them) new-template-key and rotate-template-key.
# Binary: $MIEN_BUILD/mien (default build/mien). Photo: tests/data/collins.jpg.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=tests/lib.sh
source "$ROOT/tests/lib.sh"
D=$TMP/data
PHOTO=$PHOTOS/collins.jpg
T0=1700000000

require_mien

# tamper DIR SQL: runs SQL on DIR's database as someone with write access would (triggers
# dropped first).
tamper() {
  python3 -c 'import sqlite3,sys; c = sqlite3.connect(sys.argv[1] + "/mien.db")
c.executescript("DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete;" + sys.argv[2])' "$1" "$2"
}

# ---- policy ----
run "create with a policy" 0 "$MIEN" --data "$D" collection create door --purpose "door access" \
  --retention-days 30 --consent required && ok "create with a policy"
run "policy shown" 0 "$MIEN" --data "$D" collection policy door &&
  check "policy shown" 'r == {"CollectionId": "door", "Purpose": "door access", "RetentionDays": 30, "Consent": "required"}'
run "policy changed" 0 "$MIEN" collection policy door --retention-days 0 --purpose '' --data "$D" &&
  check "policy changed" 'r["RetentionDays"] is None and r["Purpose"] is None and r["Consent"] == "required"'
expect "policy refuses a bad value" 3 InvalidParameterException "$MIEN" --data "$D" collection policy door --consent maybe
expect "policy refuses a bad retention" 3 InvalidParameterException "$MIEN" --data "$D" collection policy door --retention-days 99999
expect "policy of a missing collection" 3 ResourceNotFoundException "$MIEN" --data "$D" collection policy nope
expect "unknown mien: tag" 3 InvalidParameterException "$MIEN" --data "$D" collection create x --tags '{"mien:retention":"3"}'
run "policy options only with create or policy" 2 "$MIEN" --data "$D" collection describe door --consent none &&
  ok "policy options only with create or policy"
run "tags through the API" 0 "$MIEN" --data "$D" call ListTagsForResource \
  '{"ResourceArn":"mien:rekognition:local:000000000000:collection/door"}' &&
  check "tags through the API" 'r["Tags"] == {"mien:consent": "required"}'

# ---- consent, retention and purge (photo needed) ----
if [[ -f $PHOTO ]]; then
  expect "index without consent refused" 3 AccessDeniedException "$MIEN" --data "$D" index door "$PHOTO"
  run "index with consent" 0 at_time "$T0" "$MIEN" --data "$D" index door "$PHOTO" --consent F-17 --external-id alice &&
    check "index with consent" 'r["FaceRecords"][0]["Face"]["ExternalImageId"] == "consent-F-17:alice"'
  run "policy: 30 days" 0 at_time "$T0" "$MIEN" --data "$D" collection policy door --retention-days 30 &&
    ok "policy: 30 days"
  run "purge before the retention" 0 at_time $((T0 + 29 * 86400)) "$MIEN" --data "$D" purge &&
    check "purge before the retention" 'r == {"PurgedFaces": 0}'
  run "purge past the retention" 0 at_time $((T0 + 31 * 86400)) "$MIEN" --data "$D" purge &&
    check "purge past the retention" 'r == {"PurgedFaces": 1}'
  run "faces after the purge" 0 "$MIEN" --data "$D" faces list door &&
    check "faces after the purge" 'r["Faces"] == []'
  run "audit export" 0 "$MIEN" --data "$D" audit export &&
    if grep -q '"op":"Purge","collection":"door","faces":1' "$TMP/out" &&
      grep -q '"consent":"F-17"' "$TMP/out" && ! grep -q alice "$TMP/out" &&
      grep -q '"refused_no_consent":1' "$TMP/out"; then ok "audit export"; else bad "audit export" "$(cat "$TMP/out")"; fi
else
  bad "consent and purge" "$PHOTO missing"
fi

# ---- the audit chain ----
"$MIEN" --data "$D" collection create second >/dev/null && "$MIEN" --data "$D" collection delete second >/dev/null
run "audit export lines" 0 "$MIEN" --data "$D" audit export &&
  if python3 -c 'import hashlib,json,sys
lines = open(sys.argv[1]).read().splitlines()
prev = "0" * 64
for i, l in enumerate(lines):
    r = json.loads(l)
    assert r["seq"] == i + 1 and r["prev"] == prev and r["principal"] in ("cli", "retention"), l
    prev = hashlib.sha256(l.encode()).hexdigest()
assert len(lines) >= 6' "$TMP/out"; then ok "audit export lines"; else bad "audit export lines" "$(head -c 600 "$TMP/out")"; fi
N=$(wc -l <"$TMP/out")
run "audit verify" 0 "$MIEN" --data "$D" audit verify &&
  check "audit verify" "r['Valid'] is True and r['Records'] == $N and len(r['Head']) == 64"
HEAD="$(json_get 'r["HeadSeq"]'):$(json_get 'r["Head"]')"
run "audit verify --head" 0 "$MIEN" --data "$D" audit verify --head "$HEAD" && ok "audit verify --head"
run "audit verify --head malformed" 2 "$MIEN" --data "$D" audit verify --head 3 && ok "audit verify --head malformed"
sqlite_only "audit verify of a tampered copy" "test_store_pg (audit verify catches an edit)" &&
for t in edit delete cut; do
  rm -rf "$TMP/t" && mkdir "$TMP/t" && cp "$D/mien.db" "$TMP/t/"
  case $t in
  edit) tamper "$TMP/t" "UPDATE audit SET record = replace(record, '\"cli\"', '\"someone\"') WHERE seq = 2" && at=2 ;;
  delete) tamper "$TMP/t" "DELETE FROM audit WHERE seq = 3" && at=3 ;;
  cut) tamper "$TMP/t" "DELETE FROM audit WHERE seq = $N" && at=$N ;;
  esac
  if [[ $t == cut ]]; then
    # A cut-off tail is a valid shorter chain: only a head kept elsewhere shows it.
    run "audit verify: $t" 0 "$MIEN" --data "$TMP/t" audit verify && ok "audit verify: $t (chain alone)"
    run "audit verify: $t" 1 "$MIEN" --data "$TMP/t" audit verify --head "$HEAD" || continue
  else
    run "audit verify: $t" 1 "$MIEN" --data "$TMP/t" audit verify || continue
  fi
  if grep -q "fails at record $at" "$TMP/err"; then check "audit verify: $t" "r['Valid'] is False and r['FirstBadRecord'] == $at"
  else bad "audit verify: $t" "stderr: $(cat "$TMP/err")"; fi
done
sqlite_only "audit verify without a store" "test_faults_pg (the store unreachable)" &&
  run "audit verify without a store" 4 "$MIEN" --data "$TMP/none" audit verify && ok "audit verify without a store"

# ---- the template key ----
E=$TMP/enc
store_reset
(umask 077 && openssl rand -hex 32 >"$TMP/k1")
run "encrypted store" 0 "$MIEN" --data "$E" --template-key "$TMP/k1" collection create c && ok "encrypted store"
expect "encrypted store without the key" 4 "encrypted" "$MIEN" --data "$E" collection list
run "key from MIEN_TEMPLATE_KEY" 0 env MIEN_TEMPLATE_KEY="$TMP/k1" "$MIEN" --data "$E" collection list &&
  check "key from MIEN_TEMPLATE_KEY" 'r["CollectionIds"] == ["c"]'
(umask 077 && openssl rand -hex 32 >"$TMP/k2")
expect "another key" 4 "not the key" "$MIEN" --data "$E" --template-key "$TMP/k2" collection list
cp "$TMP/k1" "$TMP/k1.open" && chmod 644 "$TMP/k1.open"
expect "key file readable by others" 4 "chmod 600" "$MIEN" --data "$E" --template-key "$TMP/k1.open" collection list
expect "missing key file" 4 "cannot read" "$MIEN" --data "$E" --template-key "$TMP/none" collection list
run "--template-key needs a value" 2 "$MIEN" --template-key && ok "--template-key needs a value"
if "$MIEN" keys new-template-key "$TMP/k3" >"$TMP/out" 2>"$TMP/err"; then
  [[ $(stat -c %a "$TMP/k3") == 600 ]] && ok "keys new-template-key: mode 600" || bad "keys new-template-key" "mode $(stat -c %a "$TMP/k3")"
  expect "keys new-template-key never overwrites" 4 "cannot create" "$MIEN" keys new-template-key "$TMP/k3"
  if [[ -f $PHOTO ]]; then
    "$MIEN" --data "$E" --template-key "$TMP/k1" index c "$PHOTO" >/dev/null 2>&1
    run "rotate-template-key" 0 "$MIEN" --data "$E" --template-key "$TMP/k1" keys rotate-template-key --new-key "$TMP/k3" &&
      check "rotate-template-key" 'r["Templates"] == 1'
    expect "old key after rotation" 4 "not the key" "$MIEN" --data "$E" --template-key "$TMP/k1" faces list c
    run "new key after rotation" 0 "$MIEN" --data "$E" --template-key "$TMP/k3" search c "$PHOTO" &&
      check "new key after rotation" 'r["FaceMatches"][0]["Similarity"] > 99'
  fi
else
  bad "keys new-template-key" "$(cat "$TMP/err")"
fi

# ---- through the server, with Debian's boto3 unmodified ----
if [[ -f $PHOTO ]] && /usr/bin/python3 -c 'import boto3' 2>/dev/null; then
  export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_EC2_METADATA_DISABLED=true
  SERVER_DATA=$TMP/served
  store_reset
  run "keys add" 0 "$MIEN" --data "$SERVER_DATA" keys add privacy && ok "keys add"
  KEY_ID=$(json_get 'r["AccessKeyId"]') SECRET=$(json_get 'r["SecretAccessKey"]')
  if start_server; then
    /usr/bin/python3 - "$URL" "$KEY_ID" "$SECRET" "$PHOTO" >"$TMP/py.out" 2>&1 <<'PY'
import sys, boto3, botocore
url, key, secret, photo = sys.argv[1:5]
rek = boto3.client("rekognition", endpoint_url=url, region_name="us-east-1",
                   aws_access_key_id=key, aws_secret_access_key=secret)
def check(name, cond):
    print(("ok   " if cond else "FAIL ") + name)
def error(call, **kw):
    try:
        call(**kw)
    except botocore.exceptions.ClientError as e:
        return e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]
    return None, 200
image = {"Bytes": open(photo, "rb").read()}
arn = rek.create_collection(CollectionId="door", Tags={"mien:purpose": "door access",
    "mien:consent": "required", "mien:retention-days": "30"})["CollectionArn"]
tags = rek.list_tags_for_resource(ResourceArn=arn)["Tags"]
check("boto3: policy tags", tags == {"mien:purpose": "door access", "mien:consent": "required",
                                     "mien:retention-days": "30"})
check("boto3: IndexFaces without consent is AccessDeniedException (400)",
      error(rek.index_faces, CollectionId="door", Image=image) == ("AccessDeniedException", 400))
r = rek.index_faces(CollectionId="door", Image=image, ExternalImageId="consent-F-9:badge-1")
check("boto3: IndexFaces with consent", len(r["FaceRecords"]) == 1)
r = rek.search_faces_by_image(CollectionId="door", Image=image)
check("boto3: search", len(r["FaceMatches"]) == 1)
check("boto3: unknown mien: tag", error(rek.tag_resource, ResourceArn=arn,
      Tags={"mien:retention": "3"})[0] == "InvalidParameterException")
rek.untag_resource(ResourceArn=arn, TagKeys=["mien:consent"])
check("boto3: consent no longer required", len(rek.index_faces(CollectionId="door",
      Image=image)["FaceRecords"]) == 1)
PY
    cat "$TMP/py.out"
    pass=$((pass + $(grep -c '^ok' "$TMP/py.out"))) fail=$((fail + $(grep -c '^FAIL' "$TMP/py.out")))
    grep -q '^ok' "$TMP/py.out" || bad "boto3" "$(tail -c 600 "$TMP/py.out")"
    stop_server
    run "server audit" 0 "$MIEN" --data "$SERVER_DATA" audit export && {
      n=0
      for op in CreateCollection IndexFaces SearchFacesByImage UntagResource; do
        grep -q "\"principal\":\"$KEY_ID\",\"op\":\"$op\"" "$TMP/out" && n=$((n + 1))
      done
      if ((n == 4)) && grep -q '"refused_no_consent":1' "$TMP/out" && ! grep -q badge "$TMP/out"; then
        ok "server audit: the access key id is the principal"
      else bad "server audit" "$(head -c 800 "$TMP/out")"; fi
    }
    run "server audit verify" 0 "$MIEN" --data "$SERVER_DATA" audit verify && ok "server audit verify"
  fi
else
  skipped "the server cases" "no photo or no boto3 for /usr/bin/python3"
fi

# ---- the server's periodic retention purge, its clock moved (libfaketime, a file it rereads) ----
if [[ -f $PHOTO ]]; then
  SERVER_DATA=$TMP/purged
  store_reset
  echo "+0" >"$TMP/now"
  clock_file_export "$TMP/now"
  start_server --purge-interval 1
  started=$?
  clock_unexport
  if ((started == 0)); then
    api CreateCollection '{"CollectionId":"p","Tags":{"mien:retention-days":"1"}}'
    printf '{"CollectionId":"p","Image":{"Bytes":"%s"}}' "$(base64 -w0 "$PHOTO")" >"$TMP/index.json"
    api IndexFaces "@$TMP/index.json"
    check "served index" 'len(r["FaceRecords"]) == 1'
    echo "+2d" >"$TMP/now"
    for ((i = 0; i < 50; i++)); do
      api ListFaces '{"CollectionId":"p"}'
      json_get 'len(r["Faces"])' | grep -qx 0 && break
      sleep 0.1
    done
    check "the server purges past the retention without a request asking" 'r["Faces"] == []'
    stop_server
    run "purge audited" 0 "$MIEN" --data "$SERVER_DATA" audit export &&
      if grep -q '"principal":"retention","op":"Purge"' "$TMP/out"; then ok "purge audited"
      else bad "purge audited" "$(head -c 800 "$TMP/out")"; fi
  fi
fi

finish
