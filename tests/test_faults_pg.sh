#!/usr/bin/env bash
# test_faults_pg.sh - faults of a three-node PostgreSQL deployment (docs/cluster.md), on a
# throwaway cluster (tests/pg.sh), under concurrent IndexFaces through every node
# (tests/server/index_load.py):
#  - kill -9 of one node: the others go on; every acknowledged face is stored, none half-written
#    (a face without its image or an image without faces), the audit chain verifies;
#  - PostgreSQL stopped for 10 s: requests meanwhile get a retryable error (InternalServerError
#    or ServiceUnavailableException, status 5xx), no node dies, all recover by themselves
#    (requests succeed again, GET /health is 200 again, each node's index again holds every face
#    of the database), nothing acknowledged is lost, the audit chain verifies.
# Skipped when PostgreSQL is not installed. Binary: $MIEN_BUILD/mien. Photo: tests/data.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=tests/lib.sh
source "$ROOT/tests/lib.sh"
# shellcheck source=tests/pg.sh
source "$ROOT/tests/pg.sh"
require_mien
pg_require
PHOTO=$PHOTOS/collins.jpg
sql() { pg_sql "$1" mien; }

for n in 0 1 2; do
  pg_node_start $n || bad "node $n" "did not start: $(tail -c 300 "$TMP/node$n.log")"
done
URL=${NODE_URLS[0]}
api CreateCollection '{"CollectionId":"load"}'
[[ $HTTP == 200 ]] && ok "collection" || bad "collection" "$HTTP $(cat "$TMP/out")"

# load SECONDS_BEFORE ACTION...: runs the load through every node, ACTION after that many
# seconds, then 3 s more; the outcome lines in $TMP/load.out.
load() {
  local before=$1
  shift
  rm -f "$TMP/stop"
  python3 "$ROOT/tests/server/index_load.py" "$PHOTO" "$TMP/stop" "$TMP/load.out" "${NODE_URLS[@]}" &
  local loader=$!
  sleep "$before"
  "$@"
  sleep 3
  touch "$TMP/stop"
  wait $loader
}

# acked_stored: every acknowledged FaceId of $TMP/load.out is in the database, and no face or
# image is half-written.
acked_stored() {
  local acked stored half
  acked=$(awk '$1 == "ok" {print $3}' "$TMP/load.out" | sort -u)
  stored=$(sql "SELECT face_id FROM faces" | sort -u)
  half=$(sql "SELECT (SELECT count(*) FROM faces f LEFT JOIN images i ON i.id = f.image WHERE i.id IS NULL)
                   + (SELECT count(*) FROM images i WHERE NOT EXISTS (SELECT 1 FROM faces f WHERE f.image = i.id))")
  if [[ -z $acked ]]; then
    bad "$1" "nothing was acknowledged"
  elif [[ -n $(comm -23 <(echo "$acked") <(echo "$stored")) ]]; then
    bad "$1" "$(comm -23 <(echo "$acked") <(echo "$stored") | wc -l) acknowledged faces lost"
  elif [[ $half != 0 ]]; then
    bad "$1" "$half half-written faces or images"
  else
    ok "$1 ($(echo "$acked" | wc -l) acknowledged faces stored, none half-written)"
  fi
}

audit_ok() {
  run "$1" 0 "$MIEN" --store "$PG_URL" audit verify && check "$1" 'r["Valid"] is True'
}

# ---- kill -9 of a node under load ----
load 4 kill -KILL "${NODE_PIDS[2]}"
# (bash reports the kill of its background job: expected)
wait "${NODE_PIDS[2]}" 2>/dev/null
kill -0 "${NODE_PIDS[0]}" && kill -0 "${NODE_PIDS[1]}" && ok "kill -9: the other nodes run on" ||
  bad "kill -9" "another node died"
later=$(awk -v u="${NODE_URLS[0]}" '$2 == u' "$TMP/load.out" | tail -3 | grep -c '^ok')
[[ $later == 3 ]] && ok "kill -9: the other nodes answer" || bad "kill -9" "node 0's last requests failed"
acked_stored "kill -9: acknowledged faces"
audit_ok "kill -9: audit verify"

# ---- PostgreSQL stopped for 10 s under load; the killed node back (cold: index from the
# database) ----
pg_node_start 2 && ok "node 2 restarted cold" || bad "node 2" "did not restart"
outage() {
  pg_ctl_stop
  sleep 10
  pg_ctl_start
}
load 3 outage
for n in 0 1 2; do kill -0 "${NODE_PIDS[$n]}" || bad "outage" "node $n died"; done
odd=$(awk '$1 == "err" && !(($3 == 500 && $4 == "InternalServerError") || ($3 == 503 && $4 == "ServiceUnavailableException") || ($3 >= 500 && $4 == "ThrottlingException"))' "$TMP/load.out")
errors=$(grep -c '^err' "$TMP/load.out")
((errors > 0)) && [[ -z $odd ]] && ok "outage: $errors requests got a retryable error" ||
  bad "outage errors" "${errors} errors, unexpected: $(echo "$odd" | head -3)"
recovered=1
for n in 0 1 2; do
  [[ $(awk -v u="${NODE_URLS[$n]}" '$2 == u' "$TMP/load.out" | tail -1 | cut -d' ' -f1) == ok ]] || recovered=0
done
((recovered)) && ok "outage: every node serves again" || bad "outage" "a node still fails: $(tail -3 "$TMP/load.out")"
acked_stored "outage: acknowledged faces"
total=$(sql "SELECT count(*) FROM faces")
anchor=$(sql "SELECT face_id FROM faces ORDER BY id LIMIT 1")
for n in 0 1 2; do
  URL=${NODE_URLS[$n]}
  for ((i = 0; i < 50; i++)); do
    api SearchFaces "{\"CollectionId\":\"load\",\"FaceId\":\"$anchor\",\"MaxFaces\":4096,\"FaceMatchThreshold\":0}"
    found=$(json_get 'len(r.get("FaceMatches", [])) + 1' 2>/dev/null)
    [[ $found == "$total" ]] && break
    sleep 0.1
  done
  [[ $found == "$total" ]] && ok "outage: node $n's index holds all $total faces" ||
    bad "outage: node $n's index" "$found of $total faces"
  health=$(curl -s -o /dev/null -w '%{http_code}' "$URL/health")
  [[ $health == 200 ]] && ok "outage: node $n healthy again" || bad "outage: node $n health" "$health"
done
audit_ok "outage: audit verify"

finish
