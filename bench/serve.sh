#!/usr/bin/env bash
# serve.sh: `mien serve` under load from wrk (bench/detect_faces.lua), one JSON line per
# measurement: requests/s and latency p50/p90/p99/max as the client sees them (HTTP, JSON and
# base64 included), for
#   - DetectFaces of a 640x480 JPEG (lennon-1.jpg of ../shared resampled) with WORKERS workers,
#     at each of CONNECTIONS concurrent connections;
#   - SearchFacesByImage of that JPEG against a collection of FACES faces: FACES - 1 synthetic
#     templates (bench/serve_fixture.c) plus the face of lennon-2.jpg, which must come first.
# Then the acceptance line of issue 6: DetectFaces >= 100 requests/s with p99 < 50 ms at some
# concurrency on this machine, with the server's median CPU time per DetectFaces (detect_cpu_ms)
# and the rate WORKERS cores would sustain at that cost (detect_cpu_bound_rps), which holds even
# when other processes load the machine. No ONNX Runtime here: the server is measured against
# that bar.
# wrk runs on the same machine with one thread, so on 2 cores it takes some CPU from the server.
#   bench/serve.sh
# Env: MIEN_BIN (default build/mien; its build dir must hold libmien.so), MIEN_SHARED (../shared),
# WORKERS (2), CONNECTIONS ("1 2 4 8 16"), DURATION (10 s per measurement), FACES (100000).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

WORKERS=${WORKERS:-2}
CONNECTIONS=${CONNECTIONS:-1 2 4 8 16}
DURATION=${DURATION:-10}
FACES=${FACES:-100000}
PHOTOS=${MIEN_SHARED:-$ROOT/../shared}/data/openface/images/examples
BUILD=$(dirname "$MIEN")

need_mien
need_models fr_detect fr_landmark fr_feature
command -v wrk >/dev/null || die "wrk not found: run scripts/install-deps"
[[ -f $PHOTOS/lennon-1.jpg ]] || die "$PHOTOS/lennon-1.jpg not found: set MIEN_SHARED"
[[ -f $BUILD/libmien.so ]] || die "$BUILD/libmien.so not found: build mien first"
# The server helpers of the tests: TMP (removed on exit), start_server, stop_server, api, json_get.
MIEN_BUILD=$BUILD source "$ROOT/tests/lib.sh"
cd "$ROOT" # where mien finds models/ when run from a build dir

FIXTURE=$BUILD/mien-bench-fixture
[[ -x $FIXTURE ]] || die "$FIXTURE not found: build mien first"
"$FIXTURE" jpeg "$PHOTOS/lennon-1.jpg" "$TMP/640x480.jpg" 640 480 || die "serve_fixture jpeg failed"
printf '{"Image":{"Bytes":"%s"}}' "$(base64 -w0 "$TMP/640x480.jpg")" >"$TMP/detect.json"

# cpu_ticks: user + system CPU time the server has used, in clock ticks.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$SERVER_PID/stat"; }

# load OP BODY LABEL: wrk for DURATION s at each of CONNECTIONS; appends its lines to results,
# with the server's CPU time per request (cpu_ms): 2 cores / cpu_ms is what the server could
# serve on an otherwise idle machine, a figure that survives a busy one.
load() {
  local c line t0
  for c in $CONNECTIONS; do
    t0=$(cpu_ticks)
    line=$(MIEN_OP=$1 MIEN_BODY=$2 MIEN_LABEL="$3,\"workers\":$WORKERS,\"connections\":$c" \
      wrk -t1 -c"$c" -d"${DURATION}s" --timeout 10s -s bench/detect_faces.lua "$URL/" | grep '^{')
    line=$(python3 -c 'import json, sys; r = json.loads(sys.argv[1])
r["cpu_ms"] = round(1000 * int(sys.argv[2]) / int(sys.argv[3]) / max(r["requests"], 1), 2)
print(json.dumps(r, separators=(",", ":")))' "$line" "$(($(cpu_ticks) - t0))" "$(getconf CLK_TCK)")
    echo "$line" | tee -a "$TMP/results"
  done
}

# The machine, and how busy it was: other processes' load skews every latency below.
echo "{\"cpu\":\"$(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)\",\"cores\":$(nproc),\"loadavg\":\"$(cut -d' ' -f1-3 /proc/loadavg)\"}"

# ---- DetectFaces, 640x480 ----
start_server --workers "$WORKERS" || die "mien serve did not start"
api DetectFaces "@$TMP/detect.json" && [[ $HTTP == 200 ]] && [[ $(json_get 'len(r["FaceDetails"])') == 1 ]] ||
  die "DetectFaces of the 640x480 JPEG: HTTP ${HTTP:-?} $(head -c 300 "$TMP/out")"
CONNECTIONS=2 DURATION=2 load DetectFaces "$TMP/detect.json" '"warmup":true' >/dev/null
: >"$TMP/results"
load DetectFaces "$TMP/detect.json" '"op":"DetectFaces","image":"640x480"'
stop_server || die "mien serve did not stop cleanly"

# ---- SearchFacesByImage, FACES faces ----
"$FIXTURE" fill "$SERVER_DATA" big "$((FACES - 1))" || die "serve_fixture fill failed"
start_server --workers "$WORKERS" || die "mien serve did not start"
printf '{"CollectionId":"big","ExternalImageId":"lennon","Image":{"Bytes":"%s"}}' \
  "$(base64 -w0 "$PHOTOS/lennon-2.jpg")" >"$TMP/index.json"
t0=$(date +%s%N)
api IndexFaces "@$TMP/index.json" && [[ $HTTP == 200 ]] || die "IndexFaces: HTTP ${HTTP:-?} $(head -c 300 "$TMP/out")"
echo "{\"op\":\"IndexFaces\",\"faces\":$FACES,\"first_request_ms\":$((($(date +%s%N) - t0) / 1000000))}"
printf '{"CollectionId":"big","MaxFaces":10,"Image":{"Bytes":"%s"}}' "$(base64 -w0 "$TMP/640x480.jpg")" >"$TMP/search.json"
api SearchFacesByImage "@$TMP/search.json" && [[ $HTTP == 200 ]] &&
  [[ $(json_get 'r["FaceMatches"][0]["Face"]["ExternalImageId"]') == lennon ]] ||
  die "SearchFacesByImage did not find lennon-2.jpg's face first: $(head -c 300 "$TMP/out")"
load SearchFacesByImage "$TMP/search.json" "\"op\":\"SearchFacesByImage\",\"image\":\"640x480\",\"faces\":$FACES"
stop_server || die "mien serve did not stop cleanly"

# ---- acceptance ----
python3 - "$TMP/results" "$WORKERS" <<'EOF'
import json, sys
runs = [json.loads(l) for l in open(sys.argv[1])]
detect = [r for r in runs if r["op"] == "DetectFaces"]
cpu_ms = sorted(r["cpu_ms"] for r in detect)[len(detect) // 2]
ok = [r for r in detect if r["non2xx"] == 0 and r["socket_errors"] == 0 and r["rps"] >= 100
      and r["p99_ms"] < 50]
best = max(ok, key=lambda r: r["rps"], default=None)
bad = [r for r in runs if r["non2xx"] or r["socket_errors"]]
print(json.dumps({"acceptance": "DetectFaces 640x480: >= 100 req/s with p99 < 50 ms",
                  "pass": best is not None and not bad,
                  "best": best and {k: best[k] for k in ("connections", "rps", "p50_ms", "p99_ms")},
                  "runs_with_errors": len(bad), "detect_cpu_ms": cpu_ms,
                  "detect_cpu_bound_rps": round(1000 * int(sys.argv[2]) / cpu_ms)}))
EOF
