#!/usr/bin/env bash
# detect.sh: decode + detect of 1920 px JPEGs at default settings, one thread: the six group
# photos of the npm package @vladmandic/face-api@1.7.15 (demo/sample1..6.jpg, fetched into
# build/npm/, never committed). For each photo: faces found, mien's median time from the JPEG
# bytes to DetectFaces faces (decode, pyramid, NMS, landmarks, pose, quality), mien's detector
# passes alone, and fr_detect in ONNX Runtime on the same pass sizes (bench/ort-detect.js), run
# alternately in one run. ratio = ort_ms / mien passes_ms (>1: mien faster); e2e_ratio =
# ort_ms / mien's whole decode + detect. Then one JSON line per photo and the acceptance check
# (faces 3,3,3,4,5,4; median decode + detect <= 30 ms).
#   bench/detect.sh [--mien-only]
# Env: MIEN_BIN (default build/mien), RUNS (30), MIEN_MODELS_DIR (models/).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RUNS=${RUNS:-30}
PKG=@vladmandic/face-api@1.7.15
NPM_DIR=$ROOT/build/npm
PHOTOS=$NPM_DIR/face-api/package/demo
WANT_FACES=(3 3 3 4 5 4)
BUDGET_MS=30

flag_arg --mien-only mien_only "$@"
need_mien
need_models fr_detect

if [[ ! -f $PHOTOS/sample6.jpg ]]; then
  mkdir -p "$NPM_DIR/face-api"
  tgz=$NPM_DIR/vladmandic-face-api-1.7.15.tgz
  if [[ ! -f $tgz ]]; then
    echo "detect.sh: npm pack $PKG into $NPM_DIR" >&2
    (cd "$NPM_DIR" && npm pack "$PKG" --silent >/dev/null) || die "npm pack $PKG failed"
  fi
  tar -xzf "$tgz" -C "$NPM_DIR/face-api" $(printf 'package/demo/sample%d.jpg ' 1 2 3 4 5 6) ||
    die "$tgz has no demo/sample1..6.jpg"
fi
((mien_only)) || use_ort

# field NAME: the value of a top-level field of the JSON line on stdin.
field() {
  node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const v=JSON.parse(s)[process.argv[1]];console.log(Array.isArray(v)?v.map(p=>Array.isArray(p)?p.join("x"):p).join(","):v)})' "$1"
}
r2() { awk -v x="$1" 'BEGIN { printf "%.2f", x }'; }

json=() faces=() times=()
printf '%-12s %5s %10s %10s %10s %7s %9s  %s\n' photo faces mien_ms passes_ms ort_ms ratio e2e_ratio passes
for i in 1 2 3 4 5 6; do
  photo=$PHOTOS/sample$i.jpg
  out=$("$MIEN" detect --threads 1 --runs "$RUNS" "$photo") || die "mien detect failed on $photo"
  n=$(field faces <<<"$out")
  ms=$(r2 "$(field ms_median <<<"$out")")
  pms=$(r2 "$(field passes_ms_median <<<"$out")")
  passes=$(field passes <<<"$out")
  ort_ms=null ratio=null e2e=null
  if ((!mien_only)); then
    o=$(node "$ROOT/bench/ort-detect.js" --model "$MODELS_DIR/fr_detect.onnx" --passes "$passes" \
      --threads 1 --runs "$RUNS") || die "ort-detect failed on $photo"
    ort_ms=$(r2 "$(field ms_median <<<"$o")")
    ratio=$(awk -v o="$ort_ms" -v m="$pms" 'BEGIN { printf "%.3f", o / m }')
    e2e=$(awk -v o="$ort_ms" -v m="$ms" 'BEGIN { printf "%.3f", o / m }')
  fi
  printf '%-12s %5s %10s %10s %10s %7s %9s  %s\n' "sample$i.jpg" "$n" "$ms" "$pms" "$ort_ms" "$ratio" "$e2e" "$passes"
  faces+=("$n") times+=("$ms")
  json+=("{\"photo\":\"sample$i.jpg\",\"faces\":$n,\"mien_ms\":$ms,\"mien_passes_ms\":$pms,\"ort_ms\":$ort_ms,\"ratio\":$ratio,\"e2e_ratio\":$e2e,\"passes\":\"$passes\",\"threads\":1,\"runs\":$RUNS}")
done
printf '%s\n' "${json[@]}"

median=$(printf '%s\n' "${times[@]}" | sort -g | awk '{ v[NR] = $1 } END { printf "%.2f", (v[3] + v[4]) / 2 }')
got=$(IFS=,; echo "${faces[*]}") want=$(IFS=,; echo "${WANT_FACES[*]}")
verdict=ok
[[ $got == "$want" ]] || verdict=FAIL
echo "faces per photo: $got (want $want): $verdict"
awk -v m="$median" -v b="$BUDGET_MS" 'BEGIN { printf "median decode + detect: %s ms, 1 thread (budget %d ms): %s\n", m, b, (m <= b ? "ok" : "FAIL") }'
