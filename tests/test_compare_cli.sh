#!/usr/bin/env bash
# test_compare_cli.sh - `mien compare` and `mien embed` as a user runs them: the
# CompareFacesResponse shape, matches on the photos of tests/data, the embedding's
# size and norm, and the errors (exit codes and Rekognition error names).
# Binary: $MIEN_BUILD/mien (default build/mien).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=tests/lib.sh
source "$ROOT/tests/lib.sh"

require_mien

# ---- errors that need no model or photo ----
run "compare without arguments is a usage error" 2 "$MIEN" compare && ok "compare without arguments is a usage error"
run "compare --threshold out of range" 2 "$MIEN" compare a.jpg b.jpg --threshold 101 &&
  ok "compare --threshold out of range"
run "embed without an image" 2 "$MIEN" embed && ok "embed without an image"
run "compare --help" 0 "$MIEN" compare --help && grep -q "usage: mien compare" "$TMP/out" &&
  ok "compare --help"

printf 'not an image' >"$TMP/bad.jpg"
if ! "$MIEN" embed "$PHOTOS/collins.jpg" >/dev/null 2>"$TMP/err"; then
  bad "models" "mien embed failed: $(cat "$TMP/err") (run make models)"
else
  # ---- compare ----
  # Each second photo is the first one transformed (tests/data/README.md).
  for p in collins:collins-2 collins-3:collins hopper:hopper-2 hopper-2:hopper; do
    s=$PHOTOS/${p%%:*}.jpg t=$PHOTOS/${p##*:}.jpg
    run "compare $p" 0 "$MIEN" compare "$s" "$t" &&
      check "compare $p matches" 'len(r["FaceMatches"]) == 1 and r["FaceMatches"][0]["Similarity"] >= 80'
  done
  for p in collins:hopper hopper-2:collins-2 camera:hopper collins-3:camera; do
    s=$PHOTOS/${p%%:*}.jpg t=$PHOTOS/${p##*:}.jpg
    run "compare $p" 0 "$MIEN" compare "$s" "$t" &&
      check "compare $p does not match" 'r["FaceMatches"] == [] and len(r["UnmatchedFaces"]) >= 1'
  done
  run "compare response shape" 0 "$MIEN" compare "$PHOTOS/collins.jpg" "$PHOTOS/collins-2.jpg" &&
    check "compare response shape" 'set(r) == {"SourceImageFace", "FaceMatches", "UnmatchedFaces"}
      and set(r["SourceImageFace"]) == {"BoundingBox", "Confidence"}
      and all(k in r["FaceMatches"][0]["Face"] for k in ("BoundingBox", "Confidence", "Landmarks", "Pose", "Quality"))
      and 0 <= r["FaceMatches"][0]["Similarity"] <= 100'
  run "compare three target faces" 0 "$MIEN" compare "$PHOTOS/hopper-2.jpg" "$PHOTOS/group.jpg" --threshold 0 &&
    check "compare three target faces" 'len(r["FaceMatches"]) + len(r["UnmatchedFaces"]) == 3
      and r["FaceMatches"] == sorted(r["FaceMatches"], key=lambda m: -m["Similarity"])
      and r["FaceMatches"][0]["Similarity"] >= 80 and r["FaceMatches"][1]["Similarity"] < 80'
  run "compare --threshold 0 matches all" 0 "$MIEN" compare "$PHOTOS/collins.jpg" "$PHOTOS/hopper.jpg" --threshold 0 &&
    check "compare --threshold 0 matches all" 'len(r["FaceMatches"]) == 1 and r["UnmatchedFaces"] == []'

  # ---- errors ----
  run "no face in source" 3 "$MIEN" compare "$PHOTOS/coffee.jpg" "$PHOTOS/collins.jpg" &&
    if grep -q InvalidParameterException "$TMP/err"; then ok "no face in source"; else
      bad "no face in source" "stderr: $(cat "$TMP/err")"; fi
  run "bad source image" 3 "$MIEN" compare "$TMP/bad.jpg" "$PHOTOS/collins.jpg" &&
    if grep -q InvalidImageFormatException "$TMP/err"; then ok "bad source image"; else
      bad "bad source image" "stderr: $(cat "$TMP/err")"; fi
  run "missing target file" 4 "$MIEN" compare "$PHOTOS/collins.jpg" "$TMP/none.jpg" && ok "missing target file"

  # ---- embed ----
  run "embed three faces" 0 "$MIEN" embed "$PHOTOS/group.jpg" &&
    check "embed three faces" 'len(r["Faces"]) == 3 and all(len(f["Embedding"]) == 512
      and abs(sum(x * x for x in f["Embedding"]) - 1) < 1e-4 and "BoundingBox" in f for f in r["Faces"])'
  run "embed bad image" 3 "$MIEN" embed "$TMP/bad.jpg" && ok "embed bad image"
fi

finish
