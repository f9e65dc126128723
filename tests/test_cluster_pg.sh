#!/usr/bin/env bash
# test_cluster_pg.sh - three `mien serve` nodes on one PostgreSQL store (docs/cluster.md), on a
# throwaway cluster (tests/pg.sh): tests/server/cluster.py indexes through one node and searches
# through the others (the change feed; the lag p50/p99 is printed and p99 must be at most 1 s),
# deletes through one and checks the others, and reads GET /health; then `mien audit verify`
# against the database proves one unbroken chain from the three writers. Skipped when
# PostgreSQL is not installed. Binary: $MIEN_BUILD/mien (default build/mien). Photos: tests/data.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=tests/lib.sh
source "$ROOT/tests/lib.sh"
# shellcheck source=tests/pg.sh
source "$ROOT/tests/pg.sh"
require_mien
pg_require

for n in 0 1 2; do
  if pg_node_start $n; then ok "node $n started"; else bad "node $n" "did not start: $(tail -c 300 "$TMP/node$n.log")"; fi
done
if PYTHONPATH=$ROOT/tests/server python3 "$ROOT/tests/server/cluster.py" "$PHOTOS" "${NODE_URLS[@]}" >"$TMP/py.out" 2>&1; then
  :
fi
grep -E '^(ok|FAIL) ' "$TMP/py.out" | while read -r line; do echo "$line"; done
grep '^  ' "$TMP/py.out"
pass=$((pass + $(grep -c '^ok ' "$TMP/py.out")))
fail=$((fail + $(grep -c '^FAIL ' "$TMP/py.out")))
grep -q '^Traceback' "$TMP/py.out" && bad "cluster.py" "$(tail -5 "$TMP/py.out")"
pg_nodes_stop
run "audit verify against the database" 0 "$MIEN" --store "$PG_URL" audit verify &&
  check "audit verify: one chain from three nodes" 'r["Valid"] is True and r["Records"] > 20'

finish
