#!/usr/bin/env bash
# test_detect_cli.sh - `mien detect` as a user runs it: DetectFaces JSON per image (NDJSON for
# several), --annotate, --attributes, --help, and every kind of bad input refused with
# Rekognition's error type on stderr and exit code 3. Hostile inputs are made here with printf;
# the photos come from tests/data; YuNet (a bring-your-own model) from ../shared/data, whose case
# skips when it is absent.
# Env: MIEN_BUILD (build directory, default build/), MIEN_SHARED (default ../shared).
set -u

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=tests/lib.sh
source "$ROOT/tests/lib.sh"
cd "$ROOT" || exit 1

require_mien

# run NAME ARGS...: runs mien detect, leaving stdout, stderr and the exit code in OUT, ERR, RC.
run() {
  "$MIEN" detect "$@" >"$TMP/out" 2>"$TMP/err"
  RC=$?
  OUT=$(<"$TMP/out")
  ERR=$(<"$TMP/err")
}

# expect_error NAME TYPE FILE [ARGS...]: the file is refused with exit 3 and TYPE on stderr.
expect_error() {
  local name=$1 type=$2
  shift 2
  run "$@"
  if [[ $RC -eq 3 && $ERR == *"\"__type\":\"$type\""* && -z $OUT && $(wc -l <"$TMP/err") -eq 1 ]]; then
    ok "$name"
  else
    bad "$name" "rc=$RC stderr=$ERR stdout=$OUT"
  fi
}

count_faces() { grep -o '"BoundingBox"' <<<"$1" | wc -l; }

# ---- help and command line ----
help=$("$MIEN" detect --help)
if [[ $help == *"never infers"* && $help == *"gender, age, emotion or ethnicity"* &&
  $help == *"--min-face"* ]]; then
  ok "help says no demographic inference"
else
  bad "help says no demographic inference" "$help"
fi
run --bogus x.jpg
[[ $RC -eq 2 ]] && ok "unknown option is a usage error" || bad "unknown option" "rc=$RC"
run --min-face abc x.jpg
[[ $RC -eq 2 ]] && ok "bad --min-face is a usage error" || bad "bad --min-face" "rc=$RC"
run
[[ $RC -eq 2 ]] && ok "no image is a usage error" || bad "no image" "rc=$RC"

# ---- hostile inputs ----
: >"$TMP/empty.jpg"
expect_error "zero-byte file" InvalidImageFormatException "$TMP/empty.jpg"
echo "this is a text file, not an image" >"$TMP/text.jpg"
expect_error "text file" InvalidImageFormatException "$TMP/text.jpg"
# A JPEG start of image followed by garbage.
printf '\xff\xd8\xff\xe0garbage garbage garbage garbage' >"$TMP/corrupt.jpg"
expect_error "corrupt JPEG" InvalidImageFormatException "$TMP/corrupt.jpg"
printf '\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDRbroken' >"$TMP/corrupt.png"
expect_error "corrupt PNG" InvalidImageFormatException "$TMP/corrupt.png"
# Decompression bomb: a 40-byte JPEG whose frame header declares 65000 x 65000 pixels.
printf '\xff\xd8\xff\xc0\x00\x11\x08\xfd\xe8\xfd\xe8\x03\x01\x22\x00\x02\x11\x01\x03\x11\x01' >"$TMP/bomb.jpg"
printf '\xff\xda\x00\x0c\x03\x01\x00\x02\x11\x03\x11\x00\x3f\x00\xff\xd9' >>"$TMP/bomb.jpg"
expect_error "decompression bomb" ImageTooLargeException "$TMP/bomb.jpg"
# Oversized: more bytes than Rekognition's 5 MiB (never read whole).
head -c $((5 * 1024 * 1024 + 1)) /dev/zero >"$TMP/big.jpg"
expect_error "file over 5 MiB" ImageTooLargeException "$TMP/big.jpg"
run "$TMP/missing.jpg"
[[ $RC -eq 4 && $ERR == *"__type"* ]] && ok "missing file is an I/O error (exit 4)" ||
  bad "missing file" "rc=$RC $ERR"

# ---- photos ----
PHOTO=$PHOTOS/group.jpg # three faces
if [[ ! -f $PHOTO ]]; then
  bad "photos" "$PHOTO missing"
else
  head -c 6000 "$PHOTO" >"$TMP/truncated.jpg"
  expect_error "truncated JPEG" InvalidImageFormatException "$TMP/truncated.jpg"
  expect_error "--max-bytes below the file size" ImageTooLargeException "$PHOTO" --max-bytes 1000

  run "$PHOTO" --threads 1
  if [[ $RC -eq 0 && $(count_faces "$OUT") -eq 3 && $OUT == '{"FaceDetails":['* &&
    $OUT == *'"Landmarks":[{"Type":"eyeLeft"'* && $OUT == *'"Pose":{"Roll":'* &&
    $OUT == *'"Quality":{"Brightness":'* && $OUT == *'"Confidence":'* ]]; then
    ok "DetectFaces JSON, 3 faces"
  else
    bad "DetectFaces JSON" "rc=$RC $OUT $ERR"
  fi
  default=$OUT
  run "$PHOTO" --threads 1 --attributes ALL
  [[ $RC -eq 0 && $OUT == "$default" ]] && ok "--attributes ALL adds nothing" ||
    bad "--attributes ALL" "rc=$RC"
  for word in Gender AgeRange Emotions Smile; do
    if [[ $OUT == *"$word"* ]]; then bad "no $word field" "$OUT"; fi
  done

  run "$PHOTO" "$PHOTOS/coffee.jpg" "$TMP/text.jpg" "$PHOTOS/collins.jpg"
  lines=$(wc -l <"$TMP/out")
  if [[ $RC -eq 3 && $lines -eq 3 && $(sed -n 2p "$TMP/out") == '{"FaceDetails":[]}' &&
    $(wc -l <"$TMP/err") -eq 1 ]]; then
    ok "NDJSON for several images, errors on stderr, the rest still answered"
  else
    bad "NDJSON" "rc=$RC lines=$lines $ERR"
  fi

  run "$PHOTO" --annotate "$TMP/annotated.png"
  if [[ $RC -eq 0 && $(head -c 4 "$TMP/annotated.png" | od -An -tx1 | tr -d ' ') == 89504e47 ]]; then
    ok "--annotate writes a PNG"
  else
    bad "--annotate" "rc=$RC $ERR"
  fi

  YUNET=$DATA/yunet/face_detection_yunet_2023mar.onnx
  if [[ -f $YUNET ]]; then
    run "$PHOTO" --detector "yunet:$YUNET"
    [[ $RC -eq 0 && $(count_faces "$OUT") -eq 3 ]] && ok "--detector yunet" ||
      bad "--detector yunet" "rc=$RC $OUT $ERR"
  else
    skipped "--detector yunet" "$YUNET not found"
  fi
  run "$PHOTO" --detector "yunet:$TMP/text.jpg"
  [[ $RC -eq 4 && $ERR == *"__type"* ]] && ok "a detector that is not ONNX is a setup error" ||
    bad "bad --detector" "rc=$RC $ERR"
fi

finish
