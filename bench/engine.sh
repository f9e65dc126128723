#!/usr/bin/env bash
# engine.sh: benchmark mien against ONNX Runtime on the default models, with
# 1 thread and `nproc` threads, alternating mien and ORT runs for each case.
# Prints a table, then one JSON line per case with ratio = ort_ms / mien_ms
# (>1: mien faster).
#   bench/engine.sh [--ort-only]
# Env: MIEN_BIN (default build/mien), RUNS (50), WARMUP (10, ORT only),
#      MIEN_MODELS_DIR (models/), ORT_FLUSH_DENORMALS (0; 1 zeroes denormal
#      weights for ORT, see bench/ort-bench.js).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MIEN=${MIEN_BIN:-$ROOT/build/mien}
MODELS_DIR=${MIEN_MODELS_DIR:-$ROOT/models}
RUNS=${RUNS:-50}
WARMUP=${WARMUP:-10}
FLUSH=${ORT_FLUSH_DENORMALS:-0}
CASES=("fr_detect 1,3,240,320" "fr_landmark 1,1,64,64" "fr_feature 1,3,112,112")
THREADS=(1)
(($(nproc) > 1)) && THREADS+=("$(nproc)")

ort_only=0
case ${1:-} in
  --ort-only) ort_only=1 ;;
  "") ;;
  *) echo "usage: bench/engine.sh [--ort-only]" >&2; exit 2 ;;
esac
die() { echo "engine.sh: error: $*" >&2; exit 1; }
[[ $FLUSH == [01] ]] || die "ORT_FLUSH_DENORMALS must be 0 or 1"

if ((!ort_only)) && [[ ! -x $MIEN ]]; then
  die "$MIEN not found: build mien first (cmake --build build), set MIEN_BIN, or use --ort-only"
fi
for c in "${CASES[@]}"; do
  [[ -f $MODELS_DIR/${c%% *}.onnx ]] || die "$MODELS_DIR/${c%% *}.onnx missing: run scripts/fetch-models"
done
ORT_DIR=$("$ROOT/scripts/setup-ort") || die "scripts/setup-ort failed"
export MIEN_ORT_DIR=$ORT_DIR

# ms_median from the last JSON object line of the input.
median() {
  local line
  line=$(grep '^{' | tail -n 1) || true
  [[ -n $line ]] || return 1
  if command -v jq >/dev/null; then
    jq -er '.ms_median' <<<"$line"
  else
    node -e 'const v = JSON.parse(process.argv[1]).ms_median; if (typeof v !== "number") process.exit(1); console.log(v)' "$line"
  fi
}

json=()
printf '%-12s %-12s %7s %10s %10s %7s\n' model shape threads mien_ms ort_ms ratio
for c in "${CASES[@]}"; do
  read -r name shape <<<"$c"
  model=$MODELS_DIR/$name.onnx
  for t in "${THREADS[@]}"; do
    mien_ms=null
    if ((!ort_only)); then
      out=$("$MIEN" bench --json --model "$model" --shape "$shape" --threads "$t" --runs "$RUNS") ||
        die "mien bench failed for $name threads=$t"
      mien_ms=$(median <<<"$out") || die "no ms_median in mien output for $name: $out"
    fi
    out=$(node "$ROOT/bench/ort-bench.js" --model "$model" --shape "$shape" --threads "$t" \
      --runs "$RUNS" --warmup "$WARMUP" --flush-denormals "$FLUSH") || die "ort-bench failed for $name"
    ort_ms=$(median <<<"$out") || die "no ms_median in ort-bench output for $name: $out"
    ratio=null
    [[ $mien_ms == null ]] || ratio=$(awk -v o="$ort_ms" -v m="$mien_ms" 'BEGIN { printf "%.3f", (m > 0 ? o / m : 0) }')
    printf '%-12s %-12s %7s %10s %10s %7s\n' "$name" "$shape" "$t" "$mien_ms" "$ort_ms" "$ratio"
    json+=("{\"model\":\"$name\",\"shape\":[$shape],\"threads\":$t,\"runs\":$RUNS,\"mien_ms\":$mien_ms,\"ort_ms\":$ort_ms,\"ratio\":$ratio,\"ort_flush_denormals\":$FLUSH}")
  done
done
printf '%s\n' "${json[@]}"
