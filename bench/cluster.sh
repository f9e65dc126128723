#!/usr/bin/env bash
# cluster.sh: `mien serve` nodes on one PostgreSQL store (docs/cluster.md) under wrk, one JSON
# line per measurement, on a throwaway cluster (tests/pg.sh):
#   - DetectFaces and SearchFacesByImage (tests/data/collins.jpg) requests/s through 1, 2 and 3
#     nodes of WORKERS workers each, one wrk per node with CONNECTIONS connections, summed: the
#     scaling curve, and where the machine's cores run out;
#   - IndexFaces/s into PostgreSQL and into SQLite (one node, the same load): what a durable
#     commit with its audit record costs on each.
# wrk runs on the same machine, so on 2 cores it takes CPU from the nodes.
#   make bench-cluster          (DURATION=10 s per measurement, WORKERS=1, CONNECTIONS=2)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

WORKERS=${WORKERS:-1}
CONNECTIONS=${CONNECTIONS:-2}
DURATION=${DURATION:-10}
BUILD=$(dirname "$MIEN")

need_mien
need_models fr_detect fr_landmark fr_feature
command -v wrk >/dev/null || die "wrk not found: run scripts/install-deps"
MIEN_BUILD=$BUILD source "$ROOT/tests/lib.sh"
source "$ROOT/tests/pg.sh"
pg_start || die "cannot start PostgreSQL (scripts/install-deps installs it)"
trap 'pg_nodes_stop; stop_server >/dev/null; pg_stop; rm -rf "$TMP"' EXIT
cd "$ROOT"

IMAGE=$(base64 -w0 tests/data/collins.jpg)
printf '{"Image":{"Bytes":"%s"}}' "$IMAGE" >"$TMP/detect.json"
printf '{"CollectionId":"bench","Image":{"Bytes":"%s"},"FaceMatchThreshold":80}' "$IMAGE" >"$TMP/search.json"
printf '{"CollectionId":"bench","Image":{"Bytes":"%s"},"MaxFaces":1}' "$IMAGE" >"$TMP/index.json"

# wrk_at URL OP BODY: one wrk run; prints its rps.
wrk_at() {
  MIEN_OP=$2 MIEN_BODY=$3 wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --timeout 10s \
    -s bench/detect_faces.lua "$1/" | grep '^{' | python3 -c 'import json,sys; print(json.load(sys.stdin)["rps"])'
}

# through_nodes OP BODY N: one wrk per node, at once; prints a JSON line with the summed rps.
through_nodes() {
  local n pids=() total
  for ((n = 0; n < $3; n++)); do
    wrk_at "${NODE_URLS[$n]}" "$1" "$2" >"$TMP/rps$n" &
    pids+=($!)
  done
  wait "${pids[@]}"
  total=$(cat "$TMP"/rps[0-9] | python3 -c 'import sys; print(round(sum(map(float, sys.stdin)), 1))')
  echo "{\"op\":\"$1\",\"nodes\":$3,\"workers_per_node\":$WORKERS,\"connections_per_node\":$CONNECTIONS,\"rps\":$total}"
}

echo "{\"cpu\":\"$(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)\",\"cores\":$(nproc),\"loadavg\":\"$(cut -d' ' -f1-3 /proc/loadavg)\"}"
for n in 0 1 2; do pg_node_start $n || die "node $n did not start"; done
URL=${NODE_URLS[0]}
api CreateCollection '{"CollectionId":"bench"}'
api IndexFaces "@$TMP/index.json"
[[ $HTTP == 200 ]] || die "IndexFaces: $HTTP $(head -c 300 "$TMP/out")"
for op in DetectFaces SearchFacesByImage; do
  body=$TMP/detect.json
  [[ $op == SearchFacesByImage ]] && body=$TMP/search.json
  for nodes in 1 2 3; do
    rm -f "$TMP"/rps[0-9]
    through_nodes $op "$body" $nodes
  done
done
pg_nodes_stop

# ---- IndexFaces/s: PostgreSQL against SQLite, one node ----
pg_node_start 0 || die "node 0 did not restart"
echo "{\"op\":\"IndexFaces\",\"store\":\"postgresql\",\"rps\":$(wrk_at "${NODE_URLS[0]}" IndexFaces "$TMP/index.json")}"
pg_nodes_stop
SERVER_DATA=$TMP/sqlite start_server --workers "$WORKERS" || die "mien serve (SQLite) did not start"
api CreateCollection '{"CollectionId":"bench"}'
echo "{\"op\":\"IndexFaces\",\"store\":\"sqlite\",\"rps\":$(wrk_at "$URL" IndexFaces "$TMP/index.json")}"
