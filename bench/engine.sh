#!/usr/bin/env bash
# engine.sh: benchmark mien against ONNX Runtime on the default models, with
# 1 thread and `nproc` threads, alternating mien and ORT runs for each case.
# Prints a table, then one JSON line per case with ratio = ort_ms / mien_ms
# (>1: mien faster).
#   bench/engine.sh [--ort-only]
# Env: MIEN_BIN (default build/mien; mien-bench-engine beside it is run), RUNS (50), WARMUP (10, ORT only),
#      MIEN_MODELS_DIR (models/), ORT_FLUSH_DENORMALS (0; 1 zeroes denormal
#      weights for ORT, see bench/ort-bench.js).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RUNS=${RUNS:-50}
CASES=("fr_detect 1,3,240,320" "fr_landmark 1,1,64,64" "fr_feature 1,3,112,112")
THREADS=(1)
(($(nproc) > 1)) && THREADS+=("$(nproc)")

flag_arg --ort-only ort_only "$@"
ort_settings
((ort_only)) || need_mien ", set MIEN_BIN, or use --ort-only" "$MIEN_BENCH_ENGINE"
need_models "${CASES[@]%% *}"
use_ort

json=()
printf '%-12s %-12s %7s %10s %10s %7s\n' model shape threads mien_ms ort_ms ratio
for c in "${CASES[@]}"; do
  read -r name shape <<<"$c"
  model=$MODELS_DIR/$name.onnx
  for t in "${THREADS[@]}"; do
    mien_ms=null
    if ((!ort_only)); then
      out=$("$MIEN_BENCH_ENGINE" --json --model "$model" --shape "$shape" --threads "$t" --runs "$RUNS") ||
        die "mien-bench-engine failed for $name threads=$t"
      mien_ms=$(json_number ms_median <<<"$out") || die "no ms_median in mien output for $name: $out"
    fi
    out=$(node "$ROOT/bench/ort-bench.js" --model "$model" --shape "$shape" --threads "$t" \
      --runs "$RUNS" --warmup "$WARMUP" --flush-denormals "$FLUSH") || die "ort-bench failed for $name"
    ort_ms=$(json_number ms_median <<<"$out") || die "no ms_median in ort-bench output for $name: $out"
    ratio=null
    [[ $mien_ms == null ]] || ratio=$(awk -v o="$ort_ms" -v m="$mien_ms" 'BEGIN { printf "%.3f", (m > 0 ? o / m : 0) }')
    printf '%-12s %-12s %7s %10s %10s %7s\n' "$name" "$shape" "$t" "$mien_ms" "$ort_ms" "$ratio"
    json+=("{\"model\":\"$name\",\"shape\":[$shape],\"threads\":$t,\"runs\":$RUNS,\"mien_ms\":$mien_ms,\"ort_ms\":$ort_ms,\"ratio\":$ratio,\"ort_flush_denormals\":$FLUSH}")
  done
done
printf '%s\n' "${json[@]}"
