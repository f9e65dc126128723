#!/usr/bin/env bash
# embed.sh: per-face cost of recognition after detection (68 landmarks, five-
# point alignment, 512-d embedding), mien against ONNX Runtime, in one run.
#   bench/embed.sh [IMAGE]
# mien: `mien-bench-engine --embed IMAGE --runs RUNS --threads 1`, the whole per-face path
# (crop resample + fr_landmark, similarity fit + warp + fr_feature + normalise).
# ONNX Runtime: bench/ort-bench.js on fr_landmark 1x1x64x64 plus fr_feature
# 1x3x112x112, one intra-op thread, model runs only: its crop and warp are not
# counted, so ratio = ort_ms / mien_ms (>1: mien faster) favours ORT.
# Env: MIEN_BIN (default build/mien; mien-bench-engine beside it is run), RUNS (50), WARMUP (10, ORT only),
#      MIEN_MODELS_DIR (models/), MIEN_SHARED (../shared, for the default photo),
#      ORT_FLUSH_DENORMALS (0; 1 zeroes denormal weights for ORT, see bench/ort-bench.js:
#      fr_feature has thousands, and they slow ORT's convolutions several times).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RUNS=${RUNS:-50}
IMAGE=${1:-${MIEN_SHARED:-$ROOT/../shared}/data/openface/images/examples/lennon-1.jpg}

ort_settings
need_mien "" "$MIEN_BENCH_ENGINE"
[[ -f $IMAGE ]] || die "$IMAGE not found: give a photo with a face"
need_models fr_landmark fr_feature
use_ort

mien_out=$(MIEN_MODELS=$MODELS_DIR "$MIEN_BENCH_ENGINE" --embed "$IMAGE" --runs "$RUNS" --threads 1) ||
  die "mien-bench-engine --embed failed"
mien_lm=$(json_number landmarks_ms <<<"$mien_out") || die "no landmarks_ms in: $mien_out"
mien_em=$(json_number align_embed_ms <<<"$mien_out") || die "no align_embed_ms in: $mien_out"

ort() { # MODEL SHAPE -> median ms
  node "$ROOT/bench/ort-bench.js" --model "$MODELS_DIR/$1.onnx" --shape "$2" --threads 1 \
    --runs "$RUNS" --warmup "$WARMUP" --flush-denormals "$FLUSH" | json_number ms_median
}
ort_lm=$(ort fr_landmark 1,1,64,64) || die "ort-bench failed for fr_landmark"
ort_em=$(ort fr_feature 1,3,112,112) || die "ort-bench failed for fr_feature"

awk -v ml="$mien_lm" -v me="$mien_em" -v ol="$ort_lm" -v oe="$ort_em" -v runs="$RUNS" -v flush="$FLUSH" 'BEGIN {
  printf "%-22s %10s %10s %7s\n", "stage (ms per face)", "mien", "ort", "ratio"
  printf "%-22s %10.3f %10.3f %7.3f\n", "landmarks", ml, ol, ol / ml
  printf "%-22s %10.3f %10.3f %7.3f\n", "align + embed", me, oe, oe / me
  printf "%-22s %10.3f %10.3f %7.3f\n", "per face", ml + me, ol + oe, (ol + oe) / (ml + me)
  printf "{\"bench\":\"embed\",\"threads\":1,\"runs\":%d,\"mien_ms\":%.4f,\"ort_ms\":%.4f,\"ratio\":%.3f," \
    "\"mien_landmarks_ms\":%.4f,\"mien_align_embed_ms\":%.4f,\"ort_landmark_ms\":%.4f,\"ort_feature_ms\":%.4f," \
    "\"ort_flush_denormals\":%d}\n", runs, ml + me, ol + oe, (ol + oe) / (ml + me), ml, me, ol, oe, flush
}'
