#!/usr/bin/env bash
# run.sh - runs the libFuzzer targets of a MIEN_FUZZ build for a while each, some at a time, and
# says which passed: `make fuzz` (SECONDS each, as long as you like) and `make test-fuzz` (CI's
# smoke) both call it.
#
#   fuzz/run.sh [-b BUILD] [-j JOBS] SECONDS [TARGET...]     (default: every BUILD/fuzz_*)
#
# Each target fuzzes from its seeds (fuzz/corpus/T) and its past crashes (fuzz/regressions/T);
# what it learns goes to BUILD/fuzz-out/T/corpus, kept between runs so longer sessions build on
# each other. A target fails on a crash, a sanitizer report, a leak, an input slower than
# FUZZ_TIMEOUT seconds (default 20) or more than FUZZ_RSS_MB of memory (default 2048); the input
# is saved in BUILD/fuzz-out/T/ and the start of its report printed. BUILD/fuzz-out/T/seconds
# accumulates the CPU time and runs each target has had. The last line is "N passed, N failed".
set -u

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 1
BUILD=build-fuzz JOBS=1
while getopts b:j: opt; do
  case $opt in
  b) BUILD=$OPTARG ;;
  j) JOBS=$OPTARG ;;
  *) exit 2 ;;
  esac
done
shift $((OPTIND - 1))
if [[ $# -lt 1 || ! $1 =~ ^[0-9]+$ ]]; then
  echo "usage: $0 [-b BUILD] [-j JOBS] SECONDS [TARGET...]" >&2
  exit 2
fi
SECS=$1
shift
if [[ $# -gt 0 ]]; then
  targets=("$@")
else
  targets=()
  for f in "$BUILD"/fuzz_*; do [[ -x $f ]] && targets+=("${f##*/fuzz_}"); done
fi
if [[ ${#targets[@]} -eq 0 ]]; then
  echo "no fuzz targets in $BUILD: build with -DMIEN_FUZZ=ON first (make fuzz does)" >&2
  exit 2
fi

# Scratch space of the targets (fuzz_api's data directory), removed however they end.
TMPDIR=$(mktemp -d -p "$([[ -w /dev/shm ]] && echo /dev/shm || echo "${TMPDIR:-/tmp}")")
export TMPDIR
trap 'rm -rf "$TMPDIR"' EXIT
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

# run_one T: fuzzes target T for SECS seconds; writes its verdict line to OUT/result.
run_one() {
  local t=$1 out=$BUILD/fuzz-out/$1
  local dirs=("$out/corpus" "fuzz/corpus/$t")
  [[ -d fuzz/regressions/$t ]] && dirs+=("fuzz/regressions/$t")
  mkdir -p "$out/corpus"
  rm -f "$out"/crash-* "$out"/leak-* "$out"/timeout-* "$out"/oom-* "$out/result"
  "$BUILD/fuzz_$t" "${dirs[@]}" -max_total_time="$SECS" -timeout="${FUZZ_TIMEOUT:-20}" \
    -rss_limit_mb="${FUZZ_RSS_MB:-2048}" -artifact_prefix="$out/" -print_final_stats=1 \
    >"$out/log" 2>&1
  local rc=$? runs cpu
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/log")
  # CPU seconds of the fuzzer (this subshell's children): on a busy machine, less than SECS.
  # (times must write to a file: in a pipe or $(...) it would report a fresh subshell's.)
  times >"$out/times"
  cpu=$(awk 'NR == 2 {
    for (i = 1; i <= 2; i++) { split($i, p, /[ms]/); s += p[1] * 60 + p[2] } printf "%d", s }' \
    "$out/times")
  echo "$cpu ${runs:-0}" >>"$out/seconds"
  local total
  total=$(awk '{s += $1; r += $2} END {printf "%.2f CPU hours, %d runs", s / 3600, r}' \
    "$out/seconds")
  if [[ $rc -eq 0 ]] && grep -q '^Done [0-9]* runs' "$out/log"; then
    echo "ok   $t: ${runs:-?} runs in $SECS s ($cpu s CPU), $(find "$out/corpus" -type f | wc -l)" \
      "corpus inputs; fuzzed $total in all" >"$out/result"
    return
  fi
  local why artifact
  local pattern='invariant broken: .*\|runtime error: .*\|ERROR: [A-Za-z]*Sanitizer: [a-z-]*'
  why=$(grep -m1 -o "$pattern\\|ERROR: libFuzzer: [a-z-]*" "$out/log")
  artifact=$(find "$out" -maxdepth 1 \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' \
    -o -name 'oom-*' \) | head -1)
  {
    echo "FAIL $t: ${why:-exit $rc}; input: ${artifact:-none saved} (log: $out/log)"
    sed -n '/ERROR: \|runtime error\|invariant broken/,$p' "$out/log" | head -30 | sed 's/^/     /'
  } >"$out/result"
}

for t in "${targets[@]}"; do
  if [[ ! -x $BUILD/fuzz_$t ]]; then
    mkdir -p "$BUILD/fuzz-out/$t" && echo "FAIL $t: no $BUILD/fuzz_$t" >"$BUILD/fuzz-out/$t/result"
    continue
  fi
  while [[ $(jobs -rp | wc -l) -ge $JOBS ]]; do wait -n; done
  echo "fuzzing $t for $SECS s"
  run_one "$t" &
done
wait

pass=0 fail=0
for t in "${targets[@]}"; do
  cat "$BUILD/fuzz-out/$t/result"
  if grep -q '^ok' "$BUILD/fuzz-out/$t/result"; then pass=$((pass + 1)); else fail=$((fail + 1)); fi
done
echo "$pass passed, $fail failed"
((fail == 0))
