#!/usr/bin/env bash
# wild.sh: detection on faces as people photograph them (bench/data/wild-labels.tsv, photos in
# $MIEN_SHARED/data): `mien-eval detect` for each detector, on the photos as they are and under
# each synthetic transform, one line per run (precision, recall, AP, the acceptance rows, false
# positives by negative region). docs/detection.md quotes its output.
#   bench/wild.sh [DETECTOR...]   (default: default and yunet:$MIEN_SHARED/data/yunet/...)
# Env: MIEN_BIN (default build/mien; mien-eval beside it is run), MIEN_SHARED (../shared), TRANSFORMS (space-separated).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_mien "" "$MIEN_EVAL"
SHARED=${MIEN_SHARED:-$ROOT/../shared}
[[ -d $SHARED/data/wild ]] || die "no photos: $SHARED/data/wild is absent"
dets=("$@")
((${#dets[@]})) || dets=(default "yunet:$SHARED/data/yunet/face_detection_yunet_2023mar.onnx")
TRANSFORMS=${TRANSFORMS:-none rotate:20 rotate:-45 scale:20 scale:40 occlude:0.4 blur:3 gamma:2.5}
printf '%-10s %-12s %6s %6s %6s %6s %6s %7s %7s %s\n' detector transform prec recall AP p40 r40 profile tilted false_positives
for d in "${dets[@]}"; do
  for t in $TRANSFORMS; do
    args=(detect --labels "$ROOT/bench/data/wild-labels.tsv" --root "$SHARED/data" --threads 1 --detector "$d")
    [[ $t == none ]] || args+=(--transform "$t")
    "$MIEN_EVAL" "${args[@]}" | jq -r --arg d "${d%%:*}" --arg t "$t" \
      '[$d, $t, .precision, .recall, .ap, .precision_40px, .recall_40px_frontal_three_quarter,
        (.conditions.profile.recall // "-"), (.conditions.tilted.recall // "-"),
        (.false_positives_by_region | to_entries | map("\(.key)=\(.value)") | join(","))]
       | @tsv' | awk -F'\t' '{ printf "%-10s %-12s %6s %6s %6s %6s %6s %7s %7s %s\n", $1, $2, $3, $4, $5, $6, $7, $8, $9, $10 }'
  done
done
