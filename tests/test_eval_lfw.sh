#!/usr/bin/env bash
# test_eval_lfw.sh - `mien-eval lfw` on a small slice of LFW's View-2 pairs (two folds of 10
# same- and 10 different-person pairs each, from $MIEN_SHARED/data/lfw): upright every face is
# detected and the pairs are told apart; --rotate 45 rotates each pair's second photo (reported,
# and the pairs still told apart); --rotate 90 visibly rotates (faces on their side are not
# detected, so failures > 0); turned_pairs is reported; bad --rotate values and calibrate
# --rotate are refused. Needs $MIEN_SHARED/data/lfw (else exit 77). Env: MIEN_BUILD, MIEN_SHARED.
set -u

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=tests/lib.sh
source "$ROOT/tests/lib.sh"
cd "$ROOT" || exit 1

require_mien "$MIEN_EVAL"
if [[ ! -f $DATA/lfw/pairs.txt ]]; then
  echo "skipped: $DATA/lfw is absent"
  exit 77
fi

# Two folds (the protocol needs another fold to pick each fold's threshold): the first 10 same-
# and 10 different-person pairs of LFW's folds 1 and 2.
{
  printf '2\t10\n'
  sed -n '2,11p;302,311p;602,611p;902,911p' "$DATA/lfw/pairs.txt"
} >"$TMP/pairs.txt"
lfw=(lfw --images "$DATA/lfw/images" --pairs "$TMP/pairs.txt" --threads 2)
field() { jq -r "$1" <"$TMP/out"; }
at_least() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a >= b) }'; }

if run "upright" 0 "$MIEN_EVAL" "${lfw[@]}"; then
  [[ $(field .pairs) == 40 && $(field .failures) == 0 && $(field .rotate) == null &&
    $(field .turned_pairs.min_abs_yaw) == 30 ]] && at_least "$(field .accuracy_mean)" 95 &&
    ok "upright: 40 pairs, all detected, accuracy $(field .accuracy_mean)" ||
    bad "upright" "$(cat "$TMP/out")"
fi
if run "rotate 45" 0 "$MIEN_EVAL" "${lfw[@]}" --rotate 45; then
  [[ $(field .rotate) == 45 ]] && at_least "$(field .accuracy_mean)" 90 &&
    ok "rotate 45: accuracy $(field .accuracy_mean)" || bad "rotate 45" "$(cat "$TMP/out")"
fi
if run "rotate 90" 0 "$MIEN_EVAL" "${lfw[@]}" --rotate 90; then
  [[ $(field .failures) -gt 0 ]] && ok "rotate 90: $(field .failures) faces on their side undetected" ||
    bad "rotate 90" "$(cat "$TMP/out")"
fi
run "bad rotate" 2 "$MIEN_EVAL" "${lfw[@]}" --rotate 400 && ok "--rotate 400 refused"
run "bad rotate text" 2 "$MIEN_EVAL" "${lfw[@]}" --rotate 4x && ok "--rotate 4x refused"
run "calibrate rotate" 2 "$MIEN_EVAL" calibrate --images "$DATA/lfw/images" --rotate 10 &&
  ok "calibrate --rotate refused"

finish
