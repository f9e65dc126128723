#!/usr/bin/env bash
# test_eval_detect.sh - `mien-eval detect`: on the dlib-faces part of bench/data/wild-labels.tsv
# every face is found and the dogs are no false positive; a transform keeps the labels on the
# faces (a 10-degree rotation still finds them); a box shifted off its face is a miss and a false
# positive; bad label files and transforms are refused; on the wild photos (when present) every
# profile of ultralight/24 is found with |Yaw| >= 45 and no frontal face of ultralight/19 has it.
# Needs $MIEN_SHARED/data/dlib-faces (else exit 77). Env: MIEN_BUILD, MIEN_SHARED (tests/lib.sh).
set -u

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=tests/lib.sh
source "$ROOT/tests/lib.sh"
cd "$ROOT" || exit 1

require_mien "$MIEN_EVAL"
if [[ ! -f $DATA/dlib-faces/training.xml ]]; then
  echo "skipped: $DATA/dlib-faces is absent"
  exit 77
fi

grep -P '^(image|face|neg|ignore)\tdlib-faces/' bench/data/wild-labels.tsv >"$TMP/dlib.tsv"

# field JSON_PATH < OUT: one value of the report.
field() { jq -r "$1" <"$TMP/out"; }

if run "dlib" 0 "$MIEN_EVAL" detect --labels "$TMP/dlib.tsv" --root "$DATA" --threads 1; then
  [[ $(field .faces) == 18 && $(field .true_positives) == 18 && $(field .false_positives) == 0 &&
    $(field .conditions.dlib.recall) == 1 && $(field .ap) != 0 ]] && ok "dlib: 18 of 18, no FP" ||
    bad "dlib" "$(cat "$TMP/out")"
fi

if run "rotate" 0 "$MIEN_EVAL" detect --labels "$TMP/dlib.tsv" --root "$DATA" --threads 1 \
  --transform rotate:10; then
  [[ $(field .transform) == rotate:10 && $(field .recall) == 1 ]] && ok "rotate:10 keeps labels on faces" ||
    bad "rotate" "$(cat "$TMP/out")"
fi

# Every face box moved right by its own width: nothing matches, each detection is a false
# positive and each face a miss.
awk -F'\t' 'BEGIN { OFS = "\t" } $1 == "face" { w = $5 - $3; $3 += w; $5 += w } { print }' \
  "$TMP/dlib.tsv" >"$TMP/shifted.tsv"
if run "shifted" 0 "$MIEN_EVAL" detect --labels "$TMP/shifted.tsv" --root "$DATA" --threads 1; then
  [[ $(field .true_positives) == 0 && $(field .false_positives) == 18 ]] &&
    ok "shifted boxes: 0 found, 18 false positives" || bad "shifted" "$(cat "$TMP/out")"
fi

# Turned faces (when the wild photos are there): ultralight/24 (seven profiles, people facing
# left) and ultralight/19 (five frontal faces). Every profile is found and its Pose says it is
# turned (|Yaw| >= 45); no frontal face says so.
if [[ -f $DATA/wild/ultralight/24.jpg && -f $DATA/wild/ultralight/19.jpg ]]; then
  grep -P '^(image|face|neg|ignore)\twild/ultralight/(24|19)\.jpg\t' bench/data/wild-labels.tsv \
    >"$TMP/turned.tsv"
  if run "turned" 0 "$MIEN_EVAL" detect --labels "$TMP/turned.tsv" --root "$DATA" --threads 1; then
    [[ $(field .conditions.profile.faces) == 7 && $(field .conditions.profile.recall) == 1 &&
      $(field .conditions.profile.min_abs_yaw) -ge 45 && $(field .conditions.frontal.found) == 5 &&
      $(field .conditions.frontal.max_abs_yaw) -lt 45 ]] &&
      ok "profiles found and |Yaw| >= 45; frontal |Yaw| < 45" || bad "turned" "$(cat "$TMP/out")"
  fi
else
  echo "note: $DATA/wild absent, turned-face check not run"
fi

printf 'face\tnowhere.jpg\t1\t2\t3\n' >"$TMP/bad.tsv"
# refused NAME PATTERN: the last run's stderr says PATTERN.
refused() { grep -q "$2" "$TMP/err" && ok "$1" || bad "$1" "$(cat "$TMP/err")"; }
run "bad labels" 3 "$MIEN_EVAL" detect --labels "$TMP/bad.tsv" --root "$DATA" &&
  refused "bad label line refused" 'line 1 is not a label line'
run "missing labels" 4 "$MIEN_EVAL" detect --labels "$TMP/none.tsv" --root "$DATA" &&
  refused "missing labels file: IOException, exit 4" IOException
run "bad transform" 3 "$MIEN_EVAL" detect --labels "$TMP/dlib.tsv" --transform spin:3 &&
  refused "bad transform: InvalidParameterException" InvalidParameterException

echo "passed $pass, failed $fail"
[[ $fail -eq 0 ]]
