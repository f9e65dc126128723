# lib.sh: what the bench scripts share. Source it after `set -euo pipefail`:
#   source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# Sets ROOT (the repo), MIEN (MIEN_BIN, default build/mien), MIEN_EVAL and MIEN_BENCH_ENGINE (the
# research tools built beside it) and MODELS_DIR (MIEN_MODELS_DIR, default models/); defines die,
# flag_arg, need_mien, need_models, ort_settings, use_ort and json_number.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MIEN=${MIEN_BIN:-$ROOT/build/mien}
MIEN_EVAL=$(dirname "$MIEN")/mien-eval
MIEN_BENCH_ENGINE=$(dirname "$MIEN")/mien-bench-engine
MODELS_DIR=${MIEN_MODELS_DIR:-$ROOT/models}

# die MESSAGE: "SCRIPT: error: MESSAGE" on stderr, exit 1.
die() { echo "$(basename "$0"): error: $*" >&2; exit 1; }

# flag_arg FLAG VAR "$@": VAR=1 when the first argument is FLAG, 0 when there is none; anything
# else prints the usage `bench/SCRIPT [FLAG]` and exits 2.
flag_arg() {
  case ${3:-} in
    "$1") printf -v "$2" 1 ;;
    "") printf -v "$2" 0 ;;
    *) echo "usage: bench/$(basename "$0") [$1]" >&2; exit 2 ;;
  esac
}

# need_mien [HINT [PROGRAM]]: dies unless PROGRAM (default $MIEN) is an executable; HINT ends the
# sentence (default " or set MIEN_BIN").
need_mien() {
  local prog=${2:-$MIEN}
  [[ -x $prog ]] || die "$prog not found: build mien first (cmake --build build)${1:- or set MIEN_BIN}"
}

# need_models NAME...: dies unless each $MODELS_DIR/NAME.onnx exists.
need_models() {
  local m
  for m; do
    [[ -f $MODELS_DIR/$m.onnx ]] || die "$MODELS_DIR/$m.onnx missing: run scripts/fetch-models"
  done
}

# ort_settings: WARMUP (10) and FLUSH (ORT_FLUSH_DENORMALS, 0 or 1) for bench/ort-bench.js.
ort_settings() {
  WARMUP=${WARMUP:-10}
  FLUSH=${ORT_FLUSH_DENORMALS:-0}
  [[ $FLUSH == [01] ]] || die "ORT_FLUSH_DENORMALS must be 0 or 1"
}

# use_ort: installs ONNX Runtime if needed (scripts/setup-ort) and exports MIEN_ORT_DIR.
use_ort() {
  MIEN_ORT_DIR=$("$ROOT/scripts/setup-ort") || die "scripts/setup-ort failed"
  export MIEN_ORT_DIR
}

# json_number NAME: the number NAME from the last JSON object line of stdin; fails without one.
json_number() {
  node -e 'let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
    const line = s.split("\n").filter((l) => l.startsWith("{")).pop();
    const v = line && JSON.parse(line)[process.argv[1]];
    if (typeof v !== "number") process.exit(1);
    console.log(v); })' "$1"
}
