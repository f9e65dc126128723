#!/usr/bin/env bash
# test_extreme_pose_cli.sh - IndexFaces' EXTREME_POSE on real photos (`mien index`): under LOW,
# MEDIUM, AUTO and HIGH a face is listed in UnindexedFaces with EXTREME_POSE exactly when the
# Pose it reports has |Yaw| >= 58 or |Pitch| >= 45, and never under NONE. tests/data's cameraman
# (camera.jpg, also in group.jpg; turned away, |Yaw| about 54.5) stays indexed under AUTO; the
# turned faces of the wild set's ultralight/24.jpg (|Yaw| 60-62, read from $MIEN_SHARED/data, that
# part skipped when absent) are refused under AUTO. The rule itself: tests/test_extreme_pose.c.
# Env: MIEN_BUILD, MIEN_SHARED (tests/lib.sh).
set -u

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=tests/lib.sh
source "$ROOT/tests/lib.sh"
cd "$ROOT" || exit 1

require_mien

# verdicts [FILE_SUFFIX]: every detected face of the responses (of the file ending so) as
# "extreme<TAB>has-EXTREME_POSE", one line each.
verdicts() {
  jq -r --arg f "${1:-}" 'select(.File | endswith($f))
    | (.FaceRecords[] | {d: .FaceDetail, r: []}), (.UnindexedFaces[] | {d: .FaceDetail, r: .Reasons})
    | [((.d.Pose.Yaw | fabs) >= 58 or (.d.Pose.Pitch | fabs) >= 45),
       (.r | index("EXTREME_POSE") != null)] | @tsv' <"$TMP/out"
}

images=("$PHOTOS/camera.jpg" "$PHOTOS/group.jpg")
wild=$DATA/wild/ultralight/24.jpg
[[ -f $wild ]] && images+=("$wild") || skipped "wild profiles" "$wild is absent"
for level in NONE LOW MEDIUM AUTO HIGH; do
  "$MIEN" --data "$TMP/d" collection create "$level" >/dev/null 2>&1 &&
    run "index $level" 0 "$MIEN" --data "$TMP/d" index "$level" "${images[@]}" \
      --quality-filter "$level" --max-faces 100 || continue
  v=$(verdicts)
  if [[ $level == NONE ]]; then
    grep -q $'\ttrue$' <<<"$v" && bad "NONE" "EXTREME_POSE under NONE: $v" ||
      ok "NONE: no EXTREME_POSE ($(wc -l <<<"$v") faces)"
    continue
  fi
  mismatch=$(awk -F'\t' '$1 != $2' <<<"$v")
  [[ -z $mismatch ]] && ok "$level: EXTREME_POSE exactly where |Yaw| >= 58 or |Pitch| >= 45" ||
    bad "$level" "pose and reason disagree: $mismatch"
  [[ $level == AUTO ]] || continue
  for img in camera.jpg group.jpg; do
    ! verdicts "/$img" | grep -q $'\ttrue$' &&
      [[ $(jq --arg f "/$img" 'select(.File | endswith($f)) | .FaceRecords | length' <"$TMP/out") -ge 1 ]] &&
      ok "AUTO: $img's cameraman is indexed" || bad "AUTO $img" "$(verdicts "/$img")"
  done
  if [[ -f $wild ]]; then
    refused=$(verdicts /24.jpg | grep -c $'\ttrue$')
    ((refused >= 5)) && ok "AUTO: 24.jpg, $refused profiles refused with EXTREME_POSE" ||
      bad "AUTO 24.jpg" "only $refused EXTREME_POSE: $(verdicts /24.jpg)"
  fi
done
finish
