#!/usr/bin/env bash
# test_fuzz_regressions.sh - every seed (fuzz/corpus/T) and every input that once crashed a fuzz
# target (fuzz/regressions/T) runs again through that target's LLVMFuzzerTestOneInput, here built
# by the compiler of this build as $MIEN_BUILD/replay_T (fuzz/replay.c): so a bug found by
# fuzzing stays fixed in the normal and the ASan+UBSan configurations, without clang. A replay
# fails when the target crashes, breaks one of its invariants, trips a sanitizer or leaks (the
# ASan build runs with detect_leaks=1); the input it was on is named.
# Env: MIEN_BUILD (build directory, default build/).
set -u

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=tests/lib.sh
source "$ROOT/tests/lib.sh"
cd "$ROOT" || exit 1
BUILD=${MIEN_BUILD:-$ROOT/build}

# Scratch directories of fuzz_api and fuzz_server go in TMP, removed even when a replay crashes.
export TMPDIR=$TMP
# fuzz_api and fuzz_server make face pipelines, which need the models (`make models`).
models=${MIEN_MODELS:-models}/fr_detect.onnx

for src in fuzz/fuzz_*.c; do
  t=${src#fuzz/fuzz_}
  t=${t%.c}
  if [[ ($t == api || $t == server) && ! -f $models ]]; then
    skipped "$t" "$models not found (make models)"
    continue
  fi
  bin=$BUILD/replay_$t
  if [[ ! -x $bin ]]; then
    bad "$t" "$bin not built"
    continue
  fi
  inputs=()
  for f in fuzz/corpus/"$t"/* fuzz/regressions/"$t"/*; do [[ -f $f ]] && inputs+=("$f"); done
  if [[ ${#inputs[@]} -eq 0 ]]; then
    bad "$t" "no inputs in fuzz/corpus/$t"
    continue
  fi
  timeout 600 "$bin" "${inputs[@]}" >"$TMP/out" 2>"$TMP/err"
  rc=$?
  if [[ $rc -eq 0 && $(tail -1 "$TMP/out") == "${#inputs[@]} inputs replayed" ]]; then
    ok "$t: ${#inputs[@]} inputs"
  else
    bad "$t" "exit $rc on $(sed -n 's/^run  //p' "$TMP/out" | tail -1)"
    grep -m1 -A12 'ERROR: \|runtime error\|invariant broken' "$TMP/err" | sed 's/^/     /'
  fi
done

finish
