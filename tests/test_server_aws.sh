#!/usr/bin/env bash
# test_server_aws.sh - `mien serve` driven by Debian's aws-cli v2, as a Rekognition user would
# after changing only --endpoint-url: every face operation (collections, index/list/search/
# delete faces, detect, compare, users), requests signed with a key from `mien keys add`, the
# signature failures AWS answers (wrong secret, unknown key, no signature), and Image.S3Object
# read from a `--bucket NAME=DIR` directory that no Name may leave.
#
# The calls run in one Python process (tests/server/aws_batch.py: aws-cli's own driver, made anew
# for each call from its arguments and environment; only the interpreter start is shared). On
# PostgreSQL (the test_server_aws_pg rerun) the parts that open no store are left out.
# /usr/bin/aws is named explicitly: an older aws-cli v1 may come first on PATH. Debian's aws-cli
# predates Rekognition's user operations; tests/server/aws_model.py gives it the model that has
# them (AWS_DATA_PATH), so users go through aws-cli's own argument parsing and signing too.
# Binary: $MIEN_BUILD/mien. Photos: tests/data (Hopper twice, Collins, and the group photo that
# holds both and a third person).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=tests/lib.sh
source "$ROOT/tests/lib.sh"
AWS=/usr/bin/aws

require_mien
if [[ ! -x $AWS ]] || ! "$AWS" --version 2>/dev/null | grep -q '^aws-cli/2'; then
  echo "SKIP: Debian's aws-cli v2 is not at $AWS (scripts/install-deps installs awscli)"
  exit 77
fi
# aws-cli takes a second a call; under ASan+UBSan the server code it reaches is the code
# test_server_boto3 runs there, so this test runs in the normal build only.
if sanitized_build; then
  echo "SKIP under ASan+UBSan: the normal build runs it (test_server_boto3 covers these paths here)"
  exit 77
fi
/usr/bin/python3 "$ROOT/tests/server/aws_model.py" "$TMP/model" awscli || { echo "0 passed, 1 failed"; exit 1; }

# Nothing from the user's own AWS setup: no config, no stored credentials, no instance metadata,
# no pager, one attempt per call (a retried failure would hide what the server answered).
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_EC2_METADATA_DISABLED=true \
  AWS_PAGER="" AWS_DEFAULT_REGION=us-east-1 AWS_MAX_ATTEMPTS=1 AWS_DATA_PATH=$TMP/model
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY

aws_batch_start /usr/bin/python3 || { echo "0 passed, 1 failed"; exit 1; }
# rk ARGS...: `aws rekognition ARGS` against the server.
rk() { aws_batch --endpoint-url "$URL" --output json rekognition "$@"; }
# empty NAME: aws-cli printed nothing, as it does for an empty response ({}).
empty() { [[ ! -s $TMP/out ]] && ok "$1" || bad "$1" "printed $(head -c 300 "$TMP/out")"; }

# ---- no key yet: unsigned requests are served (loopback only) ----
start_server || { echo "0 passed, 1 failed"; exit 1; }
run "unsigned without keys" 0 rk list-collections --no-sign-request && check "unsigned without keys" 'r["CollectionIds"] == []'

# ---- a key: every request must be signed with it ----
stop_server
run "keys add" 0 "$MIEN" --data "$SERVER_DATA" keys add test &&
  check "keys add" 'len(r["AccessKeyId"]) == 20 and r["AccessKeyId"].startswith("AKIA") and len(r["SecretAccessKey"]) == 40'
AWS_ACCESS_KEY_ID=$(json_get 'r["AccessKeyId"]')
AWS_SECRET_ACCESS_KEY=$(json_get 'r["SecretAccessKey"]')
export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
sqlite_only "mien.db mode 0600" "test_keys_pg (the secret absent from the cluster's files)" && {
  [[ $(stat -c %a "$SERVER_DATA/mien.db") == 600 ]] && ok "the store holding the key is mode 0600" || bad "mien.db mode" "$(stat -c %a "$SERVER_DATA/mien.db")"
}
mkdir -p "$TMP/bucket/sub"
start_server --bucket "photos=$TMP/bucket" || { echo "$pass passed, $((fail + 1)) failed"; exit 1; }

run "create-collection" 0 rk create-collection --collection-id album &&
  check "create-collection" 'r["StatusCode"] == 200 and r["CollectionArn"].endswith("collection/album")'
expect "create-collection twice" 254 ResourceAlreadyExistsException rk create-collection --collection-id album
run "describe-collection" 0 rk describe-collection --collection-id album &&
  check "describe-collection" 'r["FaceCount"] == 0 and r["FaceModelVersion"] == "1.0"'
run "list-collections" 0 rk list-collections && check "list-collections" 'r["CollectionIds"] == ["album"]'
expect "describe missing collection" 254 ResourceNotFoundException rk describe-collection --collection-id nope

# ---- signatures ----
[[ $AWS_SECRET_ACCESS_KEY == *x ]] && WRONG=${AWS_SECRET_ACCESS_KEY%?}y || WRONG=${AWS_SECRET_ACCESS_KEY%?}x
expect "wrong secret" 254 InvalidSignatureException \
  env AWS_SECRET_ACCESS_KEY="$WRONG" "$AWS" --endpoint-url "$URL" rekognition list-collections
expect "unknown access key" 254 UnrecognizedClientException \
  env AWS_ACCESS_KEY_ID=AKIAAAAAAAAAAAAAAAAA "$AWS" --endpoint-url "$URL" rekognition list-collections
expect "no signature" 254 MissingAuthenticationTokenException rk list-collections --no-sign-request
expect "signed for another region" 254 InvalidSignatureException rk list-collections --region eu-west-1
if grep -q "$AWS_SECRET_ACCESS_KEY" "$TMP/server.log"; then bad "log" "the secret key is in the request log"; else ok "log has no secret"; fi

# ---- faces ----
# index NAME EXTERNAL_ID: index-faces of PHOTOS/NAME.jpg; prints the FaceIds, one a line.
index() {
  run "index-faces $1" 0 rk index-faces --collection-id album --image-bytes "fileb://$PHOTOS/$1.jpg" \
    --external-image-id "$2" || return
  check "index-faces $1" "all(f['Face']['ExternalImageId'] == '$2' for f in r['FaceRecords'])"
  json_get '"\n".join(f["Face"]["FaceId"] for f in r["FaceRecords"])' >"$TMP/ids"
}
index hopper hopper1 && F1=$(cat "$TMP/ids")
index hopper-2 hopper2 && F2=$(cat "$TMP/ids")
index collins collins && F3=$(cat "$TMP/ids")
index group group && mapfile -t GROUP <"$TMP/ids"
[[ ${#GROUP[@]} == 3 ]] && ok "index-faces finds 3 faces in the group photo" || bad "group photo" "${#GROUP[@]} faces"
run "describe-collection" 0 rk describe-collection --collection-id album && check "describe-collection FaceCount" 'r["FaceCount"] == 6'
# --page-size 2: aws-cli follows NextToken itself, three requests for six faces.
run "list-faces paginated" 0 rk list-faces --collection-id album --page-size 2 &&
  check "list-faces paginated" "len(r['Faces']) == 6 and len({f['FaceId'] for f in r['Faces']}) == 6 and '$F1' in [f['FaceId'] for f in r['Faces']]"
run "list-faces --max-items" 0 rk list-faces --collection-id album --max-items 3 &&
  check "list-faces --max-items" 'len(r["Faces"]) == 3 and "NextToken" in r'
run "search-faces" 0 rk search-faces --collection-id album --face-id "$F1" &&
  check "search-faces" "r['SearchedFaceId'] == '$F1' and sorted(m['Face']['ExternalImageId'] for m in r['FaceMatches']) == ['group', 'hopper2'] and '$F2' in [m['Face']['FaceId'] for m in r['FaceMatches']] and min(m['Similarity'] for m in r['FaceMatches']) > 80"
run "search-faces-by-image" 0 rk search-faces-by-image --collection-id album --image-bytes "fileb://$PHOTOS/hopper-2.jpg" &&
  check "search-faces-by-image" "r['FaceMatches'][0]['Face']['FaceId'] == '$F2' and r['FaceMatches'][0]['Similarity'] > 99 and sorted(m['Face']['ExternalImageId'] for m in r['FaceMatches']) == ['group', 'hopper1', 'hopper2'] and 0 < r['SearchedFaceBoundingBox']['Width'] <= 1"
expect "search-faces unknown face" 254 InvalidParameterException \
  rk search-faces --collection-id album --face-id 00000000-0000-4000-8000-000000000000

# ---- detect, compare ----
if store_free "detect-faces, compare-faces"; then
  run "detect-faces" 0 rk detect-faces --image-bytes "fileb://$PHOTOS/group.jpg" &&
    check "detect-faces" 'len(r["FaceDetails"]) == 3 and all(len(d["Landmarks"]) > 5 and d["Confidence"] > 90 and "Pose" in d for d in r["FaceDetails"])'
  run "detect-faces --attributes ALL" 0 rk detect-faces --image-bytes "fileb://$PHOTOS/hopper.jpg" --attributes ALL &&
    check "detect-faces --attributes ALL" 'len(r["FaceDetails"]) == 1'
  expect "detect-faces not an image" 254 InvalidImageFormatException rk detect-faces --image-bytes "fileb://$ROOT/README.md"
  run "compare-faces same person" 0 rk compare-faces --source-image-bytes "fileb://$PHOTOS/hopper.jpg" \
    --target-image-bytes "fileb://$PHOTOS/hopper-2.jpg" &&
    check "compare-faces same person" 'len(r["FaceMatches"]) == 1 and r["FaceMatches"][0]["Similarity"] > 80 and r["UnmatchedFaces"] == []'
  run "compare-faces different people" 0 rk compare-faces --source-image-bytes "fileb://$PHOTOS/hopper.jpg" \
    --target-image-bytes "fileb://$PHOTOS/collins.jpg" --similarity-threshold 50 &&
    check "compare-faces different people" 'r["FaceMatches"] == [] and len(r["UnmatchedFaces"]) == 1'
  run "compare-faces in a group" 0 rk compare-faces --source-image-bytes "fileb://$PHOTOS/collins-2.jpg" \
    --target-image-bytes "fileb://$PHOTOS/group.jpg" --similarity-threshold 50 &&
    check "compare-faces in a group" 'len(r["FaceMatches"]) == 1 and len(r["UnmatchedFaces"]) == 2'
fi

# ---- users ----
run "create-user" 0 rk create-user --collection-id album --user-id eric && empty "create-user"
expect "create-user twice" 254 ConflictException rk create-user --collection-id album --user-id eric
run "associate-faces" 0 rk associate-faces --collection-id album --user-id eric --face-ids "$F1" "$F2" &&
  check "associate-faces" "sorted(f['FaceId'] for f in r['AssociatedFaces']) == sorted(['$F1', '$F2']) and r['UserStatus'] == 'ACTIVE'"
run "associate-faces of another person" 0 rk associate-faces --collection-id album --user-id eric --face-ids "$F3" &&
  check "associate-faces of another person" "r['AssociatedFaces'] == [] and r['UnsuccessfulFaceAssociations'][0]['Reasons'] == ['LOW_MATCH_CONFIDENCE']"
run "list-users" 0 rk list-users --collection-id album &&
  check "list-users" 'r["Users"] == [{"UserId": "eric", "UserStatus": "ACTIVE"}]'
run "list-faces --user-id" 0 rk list-faces --collection-id album --user-id eric &&
  check "list-faces --user-id" "sorted(f['FaceId'] for f in r['Faces']) == sorted(['$F1', '$F2']) and all(f['UserId'] == 'eric' for f in r['Faces'])"
run "search-users --face-id" 0 rk search-users --collection-id album --face-id "$F3" &&
  check "search-users --face-id" "r['UserMatches'] == [] and r['SearchedFace'] == {'FaceId': '$F3'}"
run "search-users --user-id" 0 rk search-users --collection-id album --user-id eric &&
  check "search-users --user-id" 'r["UserMatches"][0]["User"]["UserId"] == "eric" and r["SearchedUser"] == {"UserId": "eric"}'
run "search-users-by-image" 0 rk search-users-by-image --collection-id album --image-bytes "fileb://$PHOTOS/hopper-2.jpg" &&
  check "search-users-by-image" 'r["UserMatches"][0]["User"]["UserId"] == "eric" and r["UserMatches"][0]["Similarity"] > 80 and "BoundingBox" in r["SearchedFace"]["FaceDetail"]'
run "search-users-by-image, no match" 0 rk search-users-by-image --collection-id album --image-bytes "fileb://$PHOTOS/collins.jpg" &&
  check "search-users-by-image, no match" 'r["UserMatches"] == []'
run "delete-faces of a user" 0 rk delete-faces --collection-id album --face-ids "$F1" &&
  check "delete-faces of a user" "r['DeletedFaces'] == [] and r['UnsuccessfulFaceDeletions'][0]['Reasons'] == ['ASSOCIATED_TO_AN_EXISTING_USER']"
run "disassociate-faces" 0 rk disassociate-faces --collection-id album --user-id eric --face-ids "$F2" &&
  check "disassociate-faces" "r['DisassociatedFaces'] == [{'FaceId': '$F2'}] and r['UserStatus'] == 'ACTIVE'"
run "delete-user" 0 rk delete-user --collection-id album --user-id eric && empty "delete-user"
expect "delete-user twice" 254 ResourceNotFoundException rk delete-user --collection-id album --user-id eric
run "delete-faces" 0 rk delete-faces --collection-id album --face-ids "$F1" "$F3" &&
  check "delete-faces" "sorted(r['DeletedFaces']) == sorted(['$F1', '$F3'])"
run "describe-collection after deletes" 0 rk describe-collection --collection-id album &&
  check "describe-collection after deletes" 'r["FaceCount"] == 4 and r["UserCount"] == 0'

# ---- Image.S3Object from --bucket b=DIR ----
cp "$PHOTOS/hopper-2.jpg" "$TMP/bucket/sub/x.jpg"
cp "$PHOTOS/hopper-2.jpg" "$TMP/outside.jpg" # exists, but outside the bucket
run "S3Object" 0 rk detect-faces --image '{"S3Object":{"Bucket":"photos","Name":"sub/x.jpg"}}' &&
  check "S3Object" 'len(r["FaceDetails"]) == 1'
run "S3Object search" 0 rk search-faces-by-image --collection-id album --image '{"S3Object":{"Bucket":"photos","Name":"sub/x.jpg"}}' &&
  check "S3Object search" "r['FaceMatches'][0]['Face']['ExternalImageId'] == 'hopper2'"
if store_free "S3Object names leaving the bucket"; then
  expect "S3Object ../ refused" 254 InvalidS3ObjectException rk detect-faces --image '{"S3Object":{"Bucket":"photos","Name":"../outside.jpg"}}'
  expect "S3Object sub/../../ refused" 254 InvalidS3ObjectException rk detect-faces --image '{"S3Object":{"Bucket":"photos","Name":"sub/../../outside.jpg"}}'
  expect "S3Object absolute refused" 254 InvalidS3ObjectException rk detect-faces --image "{\"S3Object\":{\"Bucket\":\"photos\",\"Name\":\"$TMP/outside.jpg\"}}"
  ln -s "$TMP/outside.jpg" "$TMP/bucket/link.jpg"
  expect "S3Object symlink out refused" 254 InvalidS3ObjectException rk detect-faces --image '{"S3Object":{"Bucket":"photos","Name":"link.jpg"}}'
  expect "S3Object unknown bucket" 254 InvalidS3ObjectException rk detect-faces --image '{"S3Object":{"Bucket":"other","Name":"sub/x.jpg"}}'
  expect "S3Object missing object" 254 InvalidS3ObjectException rk detect-faces --image '{"S3Object":{"Bucket":"photos","Name":"none.jpg"}}'
fi

run "delete-collection" 0 rk delete-collection --collection-id album && check "delete-collection" 'r["StatusCode"] == 200'
expect "describe deleted collection" 254 ResourceNotFoundException rk describe-collection --collection-id album
stop_server && ok "SIGTERM: exit 0" || bad "SIGTERM" "exit $?: $(tail -c 800 "$TMP/server.log")"
finish
