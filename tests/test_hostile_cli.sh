#!/usr/bin/env bash
# test_hostile_cli.sh - hostile inputs through the command line: truncated and corrupt JPEGs,
# CMYK, 1x1 and 12000x12000 images, a PNG declaring 100000x100000, empty files, text, bad
# base64, wrong JSON types, missing fields, unknown operations and invalid JSON, each through
# `mien detect`, `mien compare` (as source and as target) and `mien call`. Every one must end
# with the answer tests/hostile/gen.py lists for it: exit 0 with JSON on stdout, or exit 3 (input
# refused) with exactly one Rekognition error object on stderr, or exit 2 for an unknown
# operation; a crash or a sanitizer report is any other exit. The inputs are generated into the
# temp folder, so nothing binary is committed. tests/test_hostile_server.sh sends the same
# inputs to `mien serve`.
# Binary: $MIEN_BUILD/mien (default build/mien). Photo: tests/data/collins.jpg.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=tests/lib.sh
source "$ROOT/tests/lib.sh"
PHOTO=$PHOTOS/collins.jpg
H=$TMP/hostile

require_mien
mkdir -p "$H" && "$PY" "$ROOT/tests/hostile/gen.py" "$H" "$PHOTO" || { echo "0 passed, 1 failed"; exit 1; }

# cli NAME EXPECTED CMD...: runs CMD and checks its answer: "ok" (exit 0, a JSON object on
# stdout), "usage" (exit 2) or the __type of a refusal (exit 3, one error object on stderr and
# nothing on stdout).
cli() {
  local name=$1 want=$2 answer rc
  shift 2
  "$@" >"$TMP/out" 2>"$TMP/err"
  rc=$?
  case $rc in
  0) read -r answer _ < <(answer_of "$TMP/out") ;;
  2) answer=usage ;;
  3) answer=$(answer_of "$TMP/err") ;;
  *) answer="exit $rc" ;;
  esac
  [[ $rc == 3 && $answer == ok ]] && answer="exit 3 without an error object"
  [[ $rc == 3 && -s $TMP/out ]] && answer="exit 3 with output on stdout"
  if one_of "$answer" "$want"; then ok "$name: $answer"; else
    bad "$name" "answered $answer, wanted $want; stderr: $(head -c 400 "$TMP/err")"
  fi
}

D=$TMP/data
run "create the collection hostile" 0 "$MIEN" call CreateCollection '{"CollectionId":"hostile"}' --data "$D" &&
  ok "create the collection hostile"

while IFS=$'\t' read -r name file detect compare; do
  cli "detect $name" "$detect" "$MIEN" detect "$H/$file"
  cli "compare $name (source)" "$compare" "$MIEN" compare "$H/$file" "$PHOTO"
  cli "compare $name (target)" "$detect" "$MIEN" compare "$PHOTO" "$H/$file"
  cli "call DetectFaces $name" "$detect" "$MIEN" call DetectFaces "@$H/$name.detect.json" --data "$D"
done <"$H/images.tsv"

while IFS=$'\t' read -r name op body _ want; do
  cli "call $op $name" "$want" "$MIEN" call "$op" "@$H/$body" --data "$D"
done <"$H/requests.tsv"

# None of the refused requests wrote anything: the store holds the one collection, no face.
run "list collections" 0 "$MIEN" call ListCollections '{}' --data "$D" &&
  check "refused requests created no collection" 'r["CollectionIds"] == ["hostile"]'
run "describe hostile" 0 "$MIEN" call DescribeCollection '{"CollectionId":"hostile"}' --data "$D" &&
  check "refused requests indexed no face" 'r["FaceCount"] == 0'

finish
