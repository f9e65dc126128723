#!/usr/bin/env bash
# test_compare_cli.sh - `mien compare` and `mien embed` as a user runs them: the
# CompareFacesResponse shape, matches on the openface photos, the embedding's
# size and norm, and the errors (exit codes and Rekognition error names).
# Binary: $MIEN_BUILD/mien (default build/mien). Photos: $MIEN_SHARED/data
# (default ../shared/data); the cases that need them are skipped without them.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=tests/lib.sh
source "$ROOT/tests/lib.sh"
PHOTOS=$DATA/openface/images/examples

[[ -x $MIEN ]] || { echo "$MIEN not built"; echo "0 passed, 1 failed"; exit 1; }

# ---- errors that need no model or photo ----
run "compare without arguments is a usage error" 2 "$MIEN" compare && ok "compare without arguments is a usage error"
run "compare --threshold out of range" 2 "$MIEN" compare a.jpg b.jpg --threshold 101 &&
  ok "compare --threshold out of range"
run "embed without an image" 2 "$MIEN" embed && ok "embed without an image"
run "compare --help" 0 "$MIEN" compare --help && grep -q "usage: mien compare" "$TMP/out" &&
  ok "compare --help"

printf 'not an image' >"$TMP/bad.jpg"
if [[ ! -f $PHOTOS/lennon-1.jpg ]]; then
  echo "SKIP photo cases: $PHOTOS absent (set MIEN_SHARED)"
elif ! "$MIEN" embed "$PHOTOS/lennon-1.jpg" >/dev/null 2>"$TMP/err"; then
  bad "models" "mien embed failed: $(cat "$TMP/err") (run make models)"
else
  # ---- compare ----
  for p in lennon-1:lennon-2 lennon-2:lennon-1 clapton-1:clapton-2 clapton-2:clapton-1; do
    s=$PHOTOS/${p%%:*}.jpg t=$PHOTOS/${p##*:}.jpg
    run "compare $p" 0 "$MIEN" compare "$s" "$t" &&
      check "compare $p matches" 'len(r["FaceMatches"]) == 1 and r["FaceMatches"][0]["Similarity"] >= 80'
  done
  for p in lennon-1:clapton-1 clapton-2:lennon-2 lennon-1:longoria-cooper; do
    s=$PHOTOS/${p%%:*}.jpg t=$PHOTOS/${p##*:}.jpg
    run "compare $p" 0 "$MIEN" compare "$s" "$t" &&
      check "compare $p does not match" 'r["FaceMatches"] == [] and len(r["UnmatchedFaces"]) >= 1'
  done
  run "compare response shape" 0 "$MIEN" compare "$PHOTOS/lennon-1.jpg" "$PHOTOS/lennon-2.jpg" &&
    check "compare response shape" 'set(r) == {"SourceImageFace", "FaceMatches", "UnmatchedFaces"}
      and set(r["SourceImageFace"]) == {"BoundingBox", "Confidence"}
      and all(k in r["FaceMatches"][0]["Face"] for k in ("BoundingBox", "Confidence", "Landmarks", "Pose", "Quality"))
      and 0 <= r["FaceMatches"][0]["Similarity"] <= 100'
  run "compare two target faces" 0 "$MIEN" compare "$PHOTOS/clapton-2.jpg" "$PHOTOS/longoria-cooper.jpg" --threshold 0 &&
    check "compare two target faces" 'len(r["FaceMatches"]) + len(r["UnmatchedFaces"]) == 2
      and r["FaceMatches"] == sorted(r["FaceMatches"], key=lambda m: -m["Similarity"])'
  run "compare --threshold 0 matches all" 0 "$MIEN" compare "$PHOTOS/lennon-1.jpg" "$PHOTOS/clapton-1.jpg" --threshold 0 &&
    check "compare --threshold 0 matches all" 'len(r["FaceMatches"]) == 1 and r["UnmatchedFaces"] == []'

  # ---- errors ----
  run "no face in source" 3 "$MIEN" compare "$DATA/dlib-faces/dogs.jpg" "$PHOTOS/lennon-1.jpg" &&
    if grep -q InvalidParameterException "$TMP/err"; then ok "no face in source"; else
      bad "no face in source" "stderr: $(cat "$TMP/err")"; fi
  run "bad source image" 3 "$MIEN" compare "$TMP/bad.jpg" "$PHOTOS/lennon-1.jpg" &&
    if grep -q InvalidImageFormatException "$TMP/err"; then ok "bad source image"; else
      bad "bad source image" "stderr: $(cat "$TMP/err")"; fi
  run "missing target file" 4 "$MIEN" compare "$PHOTOS/lennon-1.jpg" "$TMP/none.jpg" && ok "missing target file"

  # ---- embed ----
  run "embed two faces" 0 "$MIEN" embed "$PHOTOS/longoria-cooper.jpg" &&
    check "embed two faces" 'len(r["Faces"]) == 2 and all(len(f["Embedding"]) == 512
      and abs(sum(x * x for x in f["Embedding"]) - 1) < 1e-4 and "BoundingBox" in f for f in r["Faces"])'
  run "embed bad image" 3 "$MIEN" embed "$TMP/bad.jpg" && ok "embed bad image"
fi

echo "$pass passed, $fail failed"
((fail == 0))
