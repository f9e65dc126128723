#!/usr/bin/env bash
# test_server_boto3.sh - `mien serve` through Debian's boto3 (tests/server/boto3_ops.py): the
# face, collection and user operations, pagination, error codes and SigV4 refusals against a
# signed server; then overload: a server with one worker and a 1 ms queue answers a burst of
# DetectFaces with ThrottlingException rather than queueing it.
# /usr/bin/python3 is named explicitly: it is the interpreter with python3-boto3.
# Binary: $MIEN_BUILD/mien. Photos: tests/data.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=tests/lib.sh
source "$ROOT/tests/lib.sh"
PY=/usr/bin/python3

require_mien
if ! $PY -c 'import boto3' 2>/dev/null; then
  echo "SKIP: $PY has no boto3 (scripts/install-deps installs python3-boto3)"
  exit 77
fi
$PY "$ROOT/tests/server/aws_model.py" "$TMP/model" botocore || { echo "0 passed, 1 failed"; exit 1; }
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_EC2_METADATA_DISABLED=true \
  AWS_DATA_PATH=$TMP/model

# boto3 MODE: runs boto3_ops.py MODE against $URL and adds its ok/FAIL lines to the counts.
boto3() {
  $PY "$ROOT/tests/server/boto3_ops.py" "$1" "$URL" "$KEY_ID" "$SECRET" "$PHOTOS" >"$TMP/py.out" 2>&1
  local rc=$?
  cat "$TMP/py.out"
  pass=$((pass + $(grep -c '^ok' "$TMP/py.out")))
  fail=$((fail + $(grep -c '^FAIL' "$TMP/py.out")))
  [[ $rc == 0 ]] || grep -q '^FAIL' "$TMP/py.out" || bad "boto3_ops.py $1" "exit $rc"
}

run "keys add" 0 "$MIEN" --data "$TMP/serve" keys add boto && ok "keys add"
KEY_ID=$(json_get 'r["AccessKeyId"]')
SECRET=$(json_get 'r["SecretAccessKey"]')
start_server && boto3 ops
stop_server && ok "SIGTERM: exit 0" || bad "SIGTERM" "exit $?: $(tail -c 800 "$TMP/server.log")"

start_server --workers 1 --queue-timeout 1 && boto3 throttle
grep -q '"workers":1' "$TMP/server.out" && ok "listening line says workers 1" || bad "workers" "$(cat "$TMP/server.out")"
stop_server || bad "SIGTERM" "exit $?: $(tail -c 800 "$TMP/server.log")"
finish
