#!/usr/bin/env bash
# test_detect_paths.sh - one detection path: DetectFaces (`mien detect`), --annotate, IndexFaces
# (`mien index`, QualityFilter NONE: FaceRecords plus UnindexedFaces), CompareFaces (`mien
# compare`, the image against itself: FaceMatches plus UnmatchedFaces, and SourceImageFace) and
# SearchFacesByImage (`mien search`: SearchedFaceBoundingBox) must report the same faces with the
# same boxes, to the printed precision, for the same bytes. The web page calls DetectFaces.
#
# Images: $DETECT_PATHS_IMAGES (space-separated files) when set; else every JPEG and PNG under
# tests/data/ and the six group photos bench/detect.sh fetches into build/npm/ when there, plus,
# with DETECT_PATHS_WILD=1 (`make test-wild`), every photo bench/data/wild-labels.tsv names under
# $MIEN_SHARED/data: 37 large photos that take minutes, too long for every `make test`.
# Exit 77 when there is none.
# Env: MIEN_BUILD, MIEN_SHARED (tests/lib.sh), DETECT_PATHS_IMAGES, DETECT_PATHS_WILD.
set -u

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=tests/lib.sh
source "$ROOT/tests/lib.sh"
cd "$ROOT" || exit 1

require_mien

images=()
if [[ -n ${DETECT_PATHS_IMAGES:-} ]]; then
  read -r -a images <<<"$DETECT_PATHS_IMAGES"
else
  while IFS= read -r f; do images+=("$f"); done < <(find tests/data -maxdepth 2 -type f \
    \( -iname '*.jpg' -o -iname '*.jpeg' -o -iname '*.png' \) 2>/dev/null | sort)
  for f in build/npm/face-api/package/demo/sample{1,2,3,4,5,6}.jpg; do
    [[ -f $f ]] && images+=("$f")
  done
  if [[ ${DETECT_PATHS_WILD:-0} == 1 ]]; then
    while IFS= read -r p; do
      [[ -f $DATA/$p ]] && images+=("$DATA/$p")
    done < <(awk -F'\t' '$1 == "image" { print $2 }' bench/data/wild-labels.tsv)
  fi
fi
if [[ ${#images[@]} -eq 0 ]]; then
  echo "skipped: no images (tests/data/ holds none and $DATA is absent)"
  exit 77
fi

# boxes JQ_PATH < JSON: the boxes at that path, one "Left Top Width Height" line each, sorted.
boxes() {
  jq -r "$1 | .BoundingBox | \"\(.Left) \(.Top) \(.Width) \(.Height)\"" | sort
}

"$MIEN" --data "$TMP/d" collection create paths >/dev/null || {
  bad "collection create" "$(cat "$TMP/err" 2>/dev/null)"
  exit 1
}
for img in "${images[@]}"; do
  name=${img#"$DATA/"}
  run "$name detect" 0 "$MIEN" detect "$img" || continue
  want=$(boxes '.FaceDetails[]' <"$TMP/out")
  n=$(printf '%s' "$want" | grep -c .)
  largest=$(jq -r '.FaceDetails[0].BoundingBox | "\(.Left) \(.Top) \(.Width) \(.Height)"' \
    <"$TMP/out")

  if run "$name annotate" 0 "$MIEN" detect "$img" --annotate "$TMP/a.png"; then
    got=$(boxes '.FaceDetails[]' <"$TMP/out")
    [[ $got == "$want" ]] && ok "$name: --annotate ($n faces)" || bad "$name: --annotate" \
      "$(diff <(echo "$want") <(echo "$got") | head -5)"
  fi

  if run "$name index" 0 "$MIEN" --data "$TMP/d" index paths "$img" --quality-filter NONE \
    --max-faces 100; then
    got=$(boxes '(.FaceRecords[].FaceDetail), (.UnindexedFaces[].FaceDetail)' <"$TMP/out")
    [[ $got == "$want" ]] && ok "$name: IndexFaces" || bad "$name: IndexFaces" \
      "$(diff <(echo "$want") <(echo "$got") | head -5)"
  fi

  [[ $n -eq 0 ]] && continue # CompareFaces and SearchFacesByImage need a face
  if run "$name compare" 0 "$MIEN" compare "$img" "$img"; then
    got=$(boxes '(.FaceMatches[].Face), (.UnmatchedFaces[])' <"$TMP/out")
    src=$(boxes '.SourceImageFace' <"$TMP/out")
    [[ $got == "$want" && $src == "$largest" ]] && ok "$name: CompareFaces" ||
      bad "$name: CompareFaces" "source $src vs $largest; $(diff <(echo "$want") <(echo "$got") | head -5)"
  fi
  if run "$name search" 0 "$MIEN" --data "$TMP/d" search paths "$img"; then
    got=$(jq -r '.SearchedFaceBoundingBox | "\(.Left) \(.Top) \(.Width) \(.Height)"' <"$TMP/out")
    [[ $got == "$largest" ]] && ok "$name: SearchFacesByImage" ||
      bad "$name: SearchFacesByImage" "$got vs $largest"
  fi
done

echo "passed $pass, failed $fail"
[[ $fail -eq 0 ]]
