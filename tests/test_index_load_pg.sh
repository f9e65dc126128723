#!/usr/bin/env bash
# test_index_load_pg.sh - a node's cold index load from PostgreSQL, which streams (sql_pg.c:
# single-row mode, binary results; docs/cluster.md), on a throwaway cluster (tests/pg.sh):
# every face loaded exactly once (FILL random templates through the store's functions, copied
# COPIES times in SQL: SearchFaces of the last face and of the first finds exactly its
# COPIES - 1 copies); a load abandoned part-way (a corrupt template in the middle of the
# stream) answers its error, and the load retried once the template is repaired finds every face;
# PostgreSQL stopped while a node loads: a retryable error or the answer, never a crash, and
# once PostgreSQL is back the full answer. Skipped when PostgreSQL is not installed.
# Binaries: $MIEN_BUILD/mien and mien-bench-fixture (default build/).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=tests/lib.sh
source "$ROOT/tests/lib.sh"
# shellcheck source=tests/pg.sh
source "$ROOT/tests/pg.sh"
require_mien
FIXTURE=$(dirname "$MIEN")/mien-bench-fixture
[[ -x $FIXTURE ]] || {
  echo "SKIP: $FIXTURE not built"
  exit 77
}
pg_require
FILL=2000
COPIES=20
sql() { pg_sql "$1" mien; }

# search_copies FACE_ID: SearchFaces of that face at threshold 99 (only its copies: random
# templates score ~0 against each other), on $URL.
search_copies() {
  api SearchFaces "{\"CollectionId\":\"big\",\"FaceId\":\"$1\",\"MaxFaces\":100,\"FaceMatchThreshold\":99}"
}
matches() { python3 -c 'import json, sys; print(len(json.load(open(sys.argv[1]))["FaceMatches"]))' "$TMP/out"; }

if "$FIXTURE" fill "$PG_URL" big "$FILL" 2>"$TMP/fill.err"; then ok "fill $FILL faces"; else bad "fill" "$(tail -3 "$TMP/fill.err")"; fi
sql "ALTER TABLE faces DISABLE TRIGGER faces_change;
INSERT INTO faces (collection, face_id, image, \"left\", top, width, height, confidence, embedding, created)
  SELECT f.collection, gen_random_uuid()::text, f.image, f.\"left\", f.top, f.width, f.height,
         f.confidence, f.embedding, f.created
  FROM faces f, generate_series(2, $COPIES) g;
ALTER TABLE faces ENABLE TRIGGER faces_change" >/dev/null
[[ $(sql "SELECT count(*) FROM faces") == $((FILL * COPIES)) ]] && ok "$((FILL * COPIES)) faces" || bad "copies" "$(sql "SELECT count(*) FROM faces") faces"
last=$(sql "SELECT face_id FROM faces ORDER BY id DESC LIMIT 1")
first=$(sql "SELECT face_id FROM faces ORDER BY id LIMIT 1")

# ---- a load abandoned part-way: the connection serves on ----
good=$(sql "SELECT encode(embedding, 'hex') FROM faces ORDER BY id LIMIT 1 OFFSET $((FILL * COPIES / 2))")
sql "UPDATE faces SET embedding = '\\x0102' WHERE id = (SELECT id FROM faces ORDER BY id LIMIT 1 OFFSET $((FILL * COPIES / 2)))" >/dev/null
pg_node_start 0 || bad "node 0" "did not start: $(tail -c 300 "$TMP/node0.log")"
URL=${NODE_URLS[0]}
search_copies "$last"
if [[ $HTTP == 500 ]]; then check "corrupt template mid-load: its error" '"corrupt template" in r["Message"]'; else bad "corrupt template mid-load" "$HTTP"; fi
sql "UPDATE faces SET embedding = '\\x$good' WHERE id = (SELECT id FROM faces ORDER BY id LIMIT 1 OFFSET $((FILL * COPIES / 2)))" >/dev/null

# ---- every face once (the load retried first: a stream right after the abandoned one) ----
search_copies "$last"
[[ $HTTP == 200 && $(matches) == $((COPIES - 1)) ]] && ok "the last face finds its $((COPIES - 1)) copies" || bad "last face" "$HTTP $(head -c 300 "$TMP/out")"
search_copies "$first"
[[ $HTTP == 200 && $(matches) == $((COPIES - 1)) ]] && ok "the first face finds its $((COPIES - 1)) copies" || bad "first face" "$HTTP $(head -c 300 "$TMP/out")"
api DescribeCollection '{"CollectionId":"big"}'
if [[ $HTTP == 200 ]]; then check "describe" "r['FaceCount'] == $((FILL * COPIES))"; else bad "describe" "$HTTP $(head -c 300 "$TMP/out")"; fi
pg_nodes_stop

# ---- PostgreSQL stopped while a node loads ----
pg_node_start 0 || bad "node 0" "did not restart"
URL=${NODE_URLS[0]}
(
  search_copies "$last"
  echo "$HTTP" >"$TMP/code"
) &
searching=$!
sleep 0.3
pg_ctl_stop
wait $searching
HTTP=$(cat "$TMP/code")
# (retryable: AWS's InternalServerError or ServiceUnavailableException, as test_faults_pg.sh)
if [[ $HTTP == 200 ]] || grep -Eq '"(InternalServerError|ServiceUnavailableException)"' "$TMP/out"; then
  ok "outage during the load: $HTTP"
else
  bad "outage during the load" "$HTTP $(head -c 300 "$TMP/out")"
fi
kill -0 "${NODE_PIDS[0]}" 2>/dev/null && ok "node alive" || bad "node" "exited"
pg_ctl_start || bad "PostgreSQL" "did not restart"
for ((i = 0; i < 20; i++)); do
  search_copies "$last"
  [[ $HTTP == 200 ]] && break
  sleep 0.5
done
[[ $HTTP == 200 && $(matches) == $((COPIES - 1)) ]] && ok "after the outage: every face once" || bad "after the outage" "$HTTP $(head -c 300 "$TMP/out")"
finish
