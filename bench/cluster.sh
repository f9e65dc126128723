#!/usr/bin/env bash
# cluster.sh: `mien serve` nodes on one PostgreSQL store (docs/cluster.md) under wrk, one JSON
# line per measurement, on a throwaway cluster (tests/pg.sh):
#   - DetectFaces and SearchFacesByImage (tests/data/collins.jpg) requests/s through 1, 2 and 3
#     nodes of WORKERS workers each, one wrk per node with CONNECTIONS connections, summed, with
#     the CPU the nodes used (cores: CPU seconds per second; cpu_ms: per request): the scaling
#     curve, and where the machine's cores run out;
#   - IndexFaces/s into PostgreSQL and into SQLite (one node, the same load): what a durable
#     commit with its audit record costs on each;
#   - FACES (1,000,000) synthetic faces in PostgreSQL: the time a node takes from its start to
#     the answer of its first search (the cold restart: the index rebuilt from the database),
#     the node's memory (RSS) and the database's size per face, and SearchFacesByImage req/s
#     against them. Loading them: FILL (10,000) faces of random unit vectors go in through the
#     store's own functions (mien-bench-fixture, bench/serve_fixture.c), then SQL copies those
#     rows with fresh FaceIds until there are FACES (the change trigger off meanwhile: no node
#     runs). The templates repeat every FILL faces, which changes nothing for the exact index:
#     it scores every face.
# wrk runs on the same machine, so on 2 cores it takes CPU from the nodes.
#   make bench-cluster   (DURATION=10 s per measurement, WORKERS=1, CONNECTIONS=2, FACES, FILL;
#                         COLD_ONLY=1: only the FACES load and the cold restart)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

WORKERS=${WORKERS:-1}
CONNECTIONS=${CONNECTIONS:-2}
DURATION=${DURATION:-10}
FACES=${FACES:-1000000}
FILL=${FILL:-10000}
COLD_ONLY=${COLD_ONLY:-0}
BUILD=$(dirname "$MIEN")
FIXTURE=$BUILD/mien-bench-fixture

need_mien
need_models fr_detect fr_landmark fr_feature
command -v wrk >/dev/null || die "wrk not found: run scripts/install-deps"
[[ -x $FIXTURE ]] || die "$FIXTURE not found: build mien first"
((FACES >= FILL && FACES % FILL == 0)) || die "FACES must be a multiple of FILL"
MIEN_BUILD=$BUILD source "$ROOT/tests/lib.sh"
source "$ROOT/tests/pg.sh"
pg_start || die "cannot start PostgreSQL (scripts/install-deps installs it)"
trap 'pg_nodes_stop; stop_server >/dev/null; pg_stop; rm -rf "$TMP"' EXIT
cd "$ROOT"

IMAGE=$(base64 -w0 tests/data/collins.jpg)
printf '{"Image":{"Bytes":"%s"}}' "$IMAGE" >"$TMP/detect.json"
printf '{"CollectionId":"bench","Image":{"Bytes":"%s"},"FaceMatchThreshold":80}' "$IMAGE" >"$TMP/search.json"
printf '{"CollectionId":"bench","Image":{"Bytes":"%s"},"MaxFaces":1}' "$IMAGE" >"$TMP/index.json"
printf '{"SourceImage":{"Bytes":"%s"},"TargetImage":{"Bytes":"%s"}}' "$IMAGE" "$IMAGE" >"$TMP/compare.json"
printf '{"CollectionId":"big","Image":{"Bytes":"%s"},"FaceMatchThreshold":80}' "$IMAGE" >"$TMP/search_big.json"

# wrk_at URL OP BODY: one wrk run; prints its JSON line (rps, p50_ms, p99_ms, ...).
wrk_at() {
  MIEN_OP=$2 MIEN_BODY=$3 wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --timeout 10s \
    -s bench/detect_faces.lua "$1/" | grep '^{'
}

# cpu_ticks PID...: user + system CPU time of those processes, in clock ticks.
cpu_ticks() {
  local p sum=0
  for p; do sum=$((sum + $(awk '{ print $14 + $15 }' "/proc/$p/stat"))); done
  echo $sum
}

# rss_mb PID: the process's resident memory, MB.
rss_mb() { awk '/^VmRSS:/ { printf "%.0f", $2 / 1024 }' "/proc/$1/status"; }

# through_nodes OP BODY N: one wrk per node, at once; prints a JSON line with the summed rps, the
# worst p99 and the CPU the nodes used.
through_nodes() {
  local n pids=() t0 ticks
  t0=$(cpu_ticks "${NODE_PIDS[@]:0:$3}")
  for ((n = 0; n < $3; n++)); do
    wrk_at "${NODE_URLS[$n]}" "$1" "$2" >"$TMP/wrk$n" &
    pids+=($!)
  done
  wait "${pids[@]}"
  ticks=$(($(cpu_ticks "${NODE_PIDS[@]:0:$3}") - t0))
  cat "$TMP"/wrk[0-9] | python3 -c 'import json, sys
rs = [json.loads(l) for l in sys.stdin]
op, nodes, workers, conns, ticks, hz, dur, load = sys.argv[1:]
req = sum(r["requests"] for r in rs)
print(json.dumps({"op": op, "nodes": int(nodes), "workers_per_node": int(workers),
                  "connections_per_node": int(conns), "rps": round(sum(r["rps"] for r in rs), 1),
                  "p99_ms": max(r["p99_ms"] for r in rs),
                  "errors": sum(r["non2xx"] + r["socket_errors"] for r in rs),
                  "cores": round(int(ticks) / int(hz) / float(dur), 2),
                  "cpu_ms": round(1000 * int(ticks) / int(hz) / max(req, 1), 1),
                  "loadavg": load}, separators=(",", ":")))' \
    "$1" "$3" "$WORKERS" "$CONNECTIONS" "$ticks" "$(getconf CLK_TCK)" "$DURATION" "$(cut -d' ' -f1 /proc/loadavg)"
  rm -f "$TMP"/wrk[0-9]
}

# labelled JSON_LINE KEY=VALUE...: the line with those members put first.
labelled() {
  python3 -c 'import json, sys
r = json.loads(sys.argv[1])
out = {k: json.loads(v) for k, v in (a.split("=", 1) for a in sys.argv[2:])}
out.update({k: r[k] for k in ("rps", "p50_ms", "p99_ms", "non2xx", "socket_errors")})
print(json.dumps(out, separators=(",", ":")))' "$@"
}

echo "{\"cpu\":\"$(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)\",\"cores\":$(nproc),\"loadavg\":\"$(cut -d' ' -f1-3 /proc/loadavg)\"}"

if ((!COLD_ONLY)); then
# ---- DetectFaces and SearchFacesByImage through 1, 2, 3 nodes ----
for n in 0 1 2; do pg_node_start $n || die "node $n did not start"; done
URL=${NODE_URLS[0]}
api CreateCollection '{"CollectionId":"bench"}'
api IndexFaces "@$TMP/index.json"
[[ $HTTP == 200 ]] || die "IndexFaces: $HTTP $(head -c 300 "$TMP/out")"
for op in DetectFaces SearchFacesByImage; do
  body=$TMP/detect.json
  [[ $op == SearchFacesByImage ]] && body=$TMP/search.json
  for nodes in 1 2 3; do through_nodes $op "$body" $nodes; done
done
pg_nodes_stop

# ---- IndexFaces/s: PostgreSQL against SQLite, one node ----
pg_node_start 0 || die "node 0 did not restart"
labelled "$(wrk_at "${NODE_URLS[0]}" IndexFaces "$TMP/index.json")" op='"IndexFaces"' store='"postgresql"'
pg_nodes_stop
SERVER_DATA=$TMP/sqlite start_server --workers "$WORKERS" || die "mien serve (SQLite) did not start"
api CreateCollection '{"CollectionId":"bench"}'
labelled "$(wrk_at "$URL" IndexFaces "$TMP/index.json")" op='"IndexFaces"' store='"sqlite"'
stop_server >/dev/null
fi

# ---- FACES faces in PostgreSQL: load, cold restart, search ----
# ms_since T0_NS: milliseconds since T0 (date +%s%N).
ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }

t0=$(date +%s%N)
"$FIXTURE" fill "$PG_URL" big "$FILL" 2>/dev/null || die "mien-bench-fixture fill failed"
fill_ms=$(ms_since "$t0")
t0=$(date +%s%N)
pg_sql "ALTER TABLE faces DISABLE TRIGGER faces_change;
INSERT INTO faces (collection, face_id, image, \"left\", top, width, height, confidence, embedding, created)
  SELECT f.collection, gen_random_uuid()::text, f.image, f.\"left\", f.top, f.width, f.height,
         f.confidence, f.embedding, f.created
  FROM faces f JOIN collections c ON c.id = f.collection, generate_series(2, $((FACES / FILL))) g
  WHERE c.name = 'big';
ALTER TABLE faces ENABLE TRIGGER faces_change" mien >/dev/null && pg_sql "VACUUM ANALYZE faces" mien ||
  die "copying the faces in SQL failed"
copy_ms=$(ms_since "$t0")
stored=$(pg_sql "SELECT count(*) FROM faces f JOIN collections c ON c.id = f.collection WHERE c.name = 'big'" mien)
((stored == FACES)) || die "$stored faces stored, not $FACES"
echo "{\"op\":\"load\",\"faces\":$FACES,\"store_functions_faces\":$FILL,\"store_functions_ms\":$fill_ms,\"sql_copy_ms\":$copy_ms,\"db_bytes_per_face\":$(($(pg_sql "SELECT pg_database_size('mien')") / FACES))}"

# The cold restart: start, listening, models loaded (first CompareFaces: detection and
# embedding), index rebuilt from PostgreSQL (first search; index_load_cpu_s: the node's CPU time
# for it, which a busy machine does not inflate); the RSS the first search added is the index
# plus what the load left in the heap. At MIEN_ANN_THRESHOLD (1M) faces a background thread then
# builds the ANN (docs/search.md); the search rate is measured once it is published.
t0=$(date +%s%N)
pg_node_start 0 || die "node 0 did not start on $FACES faces"
listening_ms=$(ms_since "$t0")
URL=${NODE_URLS[0]}
api CompareFaces "@$TMP/compare.json"
[[ $HTTP == 200 ]] || die "CompareFaces: $HTTP $(head -c 300 "$TMP/out")"
models_ms=$(ms_since "$t0")
rss0=$(rss_mb "${NODE_PIDS[0]}")
ticks0=$(cpu_ticks "${NODE_PIDS[0]}")
api SearchFacesByImage "@$TMP/search_big.json"
[[ $HTTP == 200 ]] || die "SearchFacesByImage on $FACES faces: $HTTP $(head -c 300 "$TMP/out")"
searched_ms=$(ms_since "$t0")
load_cpu=$(($(cpu_ticks "${NODE_PIDS[0]}") - ticks0))
rss1=$(rss_mb "${NODE_PIDS[0]}")
echo "{\"op\":\"cold_restart\",\"faces\":$FACES,\"listening_ms\":$listening_ms,\"models_loaded_ms\":$models_ms,\"first_search_done_ms\":$searched_ms,\"index_load_ms\":$((searched_ms - models_ms)),\"index_load_cpu_s\":$(awk -v t="$load_cpu" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.1f", t / hz }'),\"rss_mb_models\":$rss0,\"rss_mb_index\":$rss1,\"rss_bytes_per_face\":$(((rss1 - rss0) * 1048576 / FACES)),\"loadavg\":\"$(cut -d' ' -f1 /proc/loadavg)\"}"
((COLD_ONLY)) && exit 0
kind=EXACT
t0=$(date +%s%N)
if ((FACES >= 1000000)); then
  for ((i = 0; i < 1800; i++)); do
    api DescribeCollection '{"CollectionId":"big"}'
    kind=$(json_get 'r.get("SearchIndexType", "?")')
    [[ $kind == ANN ]] && break
    sleep 1
  done
  echo "{\"op\":\"ann_build\",\"faces\":$FACES,\"search_index\":\"$kind\",\"ms\":$(ms_since "$t0"),\"rss_mb\":$(rss_mb "${NODE_PIDS[0]}")}"
fi
labelled "$(wrk_at "$URL" SearchFacesByImage "$TMP/search_big.json")" op='"SearchFacesByImage"' faces="$FACES" nodes=1 search_index="\"$kind\""
