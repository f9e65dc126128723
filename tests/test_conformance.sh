#!/usr/bin/env bash
# test_conformance.sh - what a migrating Rekognition user trips over first, against a signed
# `mien serve`, through Debian's boto3 (tests/server/conformance.py) and Debian's aws-cli v2, both
# given Rekognition's user operations by the model mien ships (share/aws-model on AWS_DATA_PATH,
# as the README tells users of older clients to do): ClientRequestToken retried after a lost
# response, replayed across a server restart and forgotten after its window; the identifiers'
# formats; garbage NextTokens; refused attribute names; HTTP statuses.
# Binary: $MIEN_BUILD/mien. Photos: tests/data (the AssociateFaces and attribute cases).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=tests/lib.sh
source "$ROOT/tests/lib.sh"
AWS=/usr/bin/aws

require_mien
if ! $PY -c 'import boto3' 2>/dev/null; then
  echo "SKIP: $PY has no boto3 (scripts/install-deps installs python3-boto3)"
  exit 77
fi
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_EC2_METADATA_DISABLED=true \
  AWS_PAGER="" AWS_DEFAULT_REGION=us-east-1 AWS_MAX_ATTEMPTS=1 AWS_DATA_PATH=$ROOT/share/aws-model
unset AWS_PROFILE AWS_SESSION_TOKEN

run "keys add" 0 "$MIEN" --data "$TMP/serve" keys add conf && ok "keys add"
KEY_ID=$(json_get 'r["AccessKeyId"]')
SECRET=$(json_get 'r["SecretAccessKey"]')

# A short clip in a bucket for the video operations' ClientRequestToken (skipped without ffmpeg).
BUCKET=()
mkdir -p "$TMP/clips"
if command -v ffmpeg >/dev/null && ffmpeg -hide_banner -loglevel error -y -loop 1 -t 2 \
  -i "$ROOT/tests/data/collins.jpg" -vf "scale=320:-2,format=yuv420p" -r 5 "$TMP/clips/clip.mp4"; then
  BUCKET=(--bucket "clips=$TMP/clips")
  export CONF_VIDEO_BUCKET=clips
else
  skipped "video tokens" "no ffmpeg to make a clip"
fi

# conformance PHASE: runs conformance.py PHASE against $URL and adds its ok/FAIL lines.
conformance() {
  $PY "$ROOT/tests/server/conformance.py" "$1" "$URL" "$KEY_ID" "$SECRET" "$PHOTOS" "$TMP/state.json" \
    >"$TMP/py.out" 2>&1
  local rc=$?
  cat "$TMP/py.out"
  pass=$((pass + $(grep -c '^ok' "$TMP/py.out")))
  fail=$((fail + $(grep -c '^FAIL' "$TMP/py.out")))
  [[ $rc == 0 ]] || grep -q '^FAIL' "$TMP/py.out" || bad "conformance.py $1" "exit $rc"
}

start_server "${BUCKET[@]}" || { echo "0 passed, 1 failed"; exit 1; }
conformance first

# ---- aws-cli v2 (2.9.19 predates the user operations: the shipped model teaches it) ----
if [[ -x $AWS ]] && ! sanitized_build; then
  aws_batch_start /usr/bin/python3 || bad "aws_batch.py" "did not start"
  rk() { AWS_ACCESS_KEY_ID=$KEY_ID AWS_SECRET_ACCESS_KEY=$SECRET aws_batch --endpoint-url "$URL" --output json rekognition "$@"; }
  run "aws create-user with a token" 0 rk create-user --collection-id conf --user-id cli --client-request-token cli-tok &&
    ok "aws create-user with a token"
  run "aws create-user, same token again" 0 rk create-user --collection-id conf --user-id cli --client-request-token cli-tok &&
    ok "aws create-user, same token again"
  expect "aws create-user, same token, other user" 254 IdempotentParameterMismatchException \
    rk create-user --collection-id conf --user-id cli2 --client-request-token cli-tok
  expect "aws list-users garbage --next-token" 254 InvalidPaginationTokenException \
    rk list-users --collection-id conf --next-token garbage
  expect "aws list-faces garbage --next-token" 254 InvalidPaginationTokenException \
    rk list-faces --collection-id conf --no-paginate --next-token garbage
  expect "aws list-collections garbage --next-token" 254 InvalidPaginationTokenException \
    rk list-collections --no-paginate --next-token garbage
  run "aws describe-collection" 0 rk describe-collection --collection-id conf &&
    check "aws describe-collection: ARN and FaceModelVersion" \
      'r["CollectionARN"] == "arn:aws:rekognition:us-east-1:000000000000:collection/conf" and r["FaceModelVersion"] == "1.0"'
  expect "aws detect-faces --attributes GENDER" 254 InvalidParameterException \
    rk detect-faces --image-bytes fileb://"$ROOT/README.md" --attributes GENDER
else
  echo "SKIP the aws-cli cases: no Debian aws-cli v2 at $AWS, or an ASan build (test_server_aws runs aws-cli)"
fi

# ---- across a restart, and past the window ----
stop_server || bad "SIGTERM" "exit $?"
run "FaceModelSha256 (mien's own field) names the models' hash" 0 "$MIEN" --data "$TMP/serve" call DescribeCollection '{"CollectionId":"conf"}' &&
  check "FaceModelSha256 (mien's own field) names the models' hash" \
    'len(r["FaceModelSha256"]) == 64 and set(r["FaceModelSha256"]) <= set("0123456789abcdef")'
start_server "${BUCKET[@]}" || { echo "$pass passed, $((fail + 1)) failed"; exit 1; }
conformance restarted
stop_server
clock_export "+25h" # server and clients alike (libfaketime): tokens past their 24 hours
start_server "${BUCKET[@]}" || { echo "$pass passed, $((fail + 1)) failed"; exit 1; }
conformance expired
stop_server || bad "SIGTERM" "exit $?"
clock_unexport
echo "$pass passed, $fail failed"
[[ $fail == 0 ]]
