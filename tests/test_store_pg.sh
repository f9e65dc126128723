#!/usr/bin/env bash
# test_store_pg.sh - the privacy guarantees with the store in PostgreSQL (docs/cluster.md), named
# by URL as an operator does (`--store postgresql://...`), on a throwaway cluster (tests/pg.sh):
# consent and retention; templates sealed with the template key in the database; erasure that
# leaves no bytes (a deleted face's template is found in the cluster's data files before the
# deletion and nowhere after it); the audit log append-only (the trigger refuses an UPDATE), and
# `mien audit verify` against the database catching a record edited behind the trigger's back;
# one unbroken audit chain after concurrent writers (four processes indexing at once: the
# appends take turns under the write lock). Skipped when PostgreSQL is not installed.
# Binary: $MIEN_BUILD/mien (default build/mien). Photos: tests/data.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=tests/lib.sh
source "$ROOT/tests/lib.sh"
# shellcheck source=tests/pg.sh
source "$ROOT/tests/pg.sh"
require_mien
pg_require
S=$PG_URL
PHOTO=$PHOTOS/collins.jpg
T0=1700000000
m() { "$MIEN" --store "$S" "$@"; }
sql() { pg_sql "$1" mien; }

# ---- consent and retention ----
run "create with a policy" 0 m collection create door --consent required --retention-days 30 &&
  ok "create with a policy"
expect "index without consent refused" 3 AccessDeniedException m index door "$PHOTO"
run "index with consent" 0 at_time "$T0" "$MIEN" --store "$S" index door "$PHOTO" --consent F-17 &&
  check "index with consent" 'r["FaceRecords"][0]["Face"]["ExternalImageId"] == "consent-F-17"'
run "purge before the retention" 0 at_time $((T0 + 29 * 86400)) "$MIEN" --store "$S" purge &&
  check "purge before the retention" 'r == {"PurgedFaces": 0}'
run "purge past the retention" 0 at_time $((T0 + 31 * 86400)) "$MIEN" --store "$S" purge &&
  check "purge past the retention" 'r == {"PurgedFaces": 1}'
[[ $(sql "SELECT count(*) FROM faces") == 0 ]] && ok "purged rows gone" || bad "purged rows gone" "faces left"

# ---- erasure: a deleted template's bytes leave the data files ----
# Other faces first, the probed one last: it is then the lowest tuple of its page, whose bytes a
# plain VACUUM frees but leaves in place (only VACUUM FULL's rewrite removes them).
run "collection plain" 0 m collection create plain && ok "collection plain"
run "index others" 0 m index plain "$PHOTOS/hopper.jpg" "$PHOTOS/collins-2.jpg" && ok "index others"
run "index plain" 0 m index plain "$PHOTO" && ok "index plain"
face=$(json_get 'r["FaceRecords"][0]["Face"]["FaceId"]')
# 32 bytes from the middle of the template: no other row holds them.
probe=$(sql "SELECT encode(substring(embedding from 1001 for 32), 'hex') FROM faces WHERE face_id = '$face'")
if [[ ${#probe} == 64 ]] && pg_files_hold "$probe"; then ok "template in the data files before"; else bad "template in the data files before" "probe '$probe' not found"; fi
run "delete the face" 0 m faces delete plain "$face" && ok "delete the face"
if pg_files_hold "$probe"; then bad "erasure" "the deleted template's bytes are still in $PG_DIR/data/base"; else ok "erasure: no bytes left in the data files"; fi

# ---- templates sealed with the template key ----
KEY=$TMP/template.key
run "new template key" 0 "$MIEN" keys new-template-key "$KEY" && ok "new template key"
run "rotate-template-key seals the stored templates" 0 m keys rotate-template-key --new-key "$KEY" &&
  ok "rotate-template-key seals the stored templates"
run "index sealed" 0 env MIEN_TEMPLATE_KEY="$KEY" "$MIEN" --store "$S" index plain "$PHOTO" && ok "index sealed"
lens=$(sql "SELECT min(length(embedding)) || ' ' || max(length(embedding)) FROM faces")
[[ $lens == "2077 2077" ]] && ok "templates sealed in the database (2077 bytes)" || bad "templates sealed" "lengths $lens"
expect "no key, no store" 4 IOException m collection list
run "read with the key" 0 env MIEN_TEMPLATE_KEY="$KEY" "$MIEN" --store "$S" faces list plain &&
  check "read with the key" 'len(r["Faces"]) == 3'

# ---- one audit chain, many writers ----
export MIEN_TEMPLATE_KEY=$KEY
run "collection for writers" 0 m collection create crowd && ok "collection for writers"
pids=()
for w in 1 2 3 4; do
  "$MIEN" --store "$S" index crowd "$PHOTOS"/*.jpg >"$TMP/w$w.out" 2>&1 &
  pids+=($!)
done
rc=0
for p in "${pids[@]}"; do wait "$p" || rc=1; done
((rc == 0)) && ok "four concurrent writers" || bad "four concurrent writers" "$(tail -q -n 2 "$TMP"/w*.out)"
run "audit verify" 0 m audit verify && check "audit verify after concurrent writers" 'r["Valid"] is True and r["Records"] > 10'
gaps=$(sql "SELECT count(*) FROM (SELECT seq - lag(seq) OVER (ORDER BY seq) AS d FROM audit) x WHERE d <> 1")
[[ $gaps == 0 ]] && ok "audit sequence without gaps" || bad "audit sequence" "$gaps gaps"

# ---- the audit log is append-only ----
if sql "UPDATE audit SET record = record WHERE seq = 2" >/dev/null 2>&1; then
  bad "audit append-only" "an UPDATE went through"
else
  ok "audit append-only: UPDATE refused"
fi
sql "ALTER TABLE audit DISABLE TRIGGER audit_append_only;
     UPDATE audit SET record = replace(record, 'IndexFaces', 'IndexFacez') WHERE seq = 3" >/dev/null
run "audit verify catches an edit" 1 m audit verify &&
  check "audit verify catches an edit" 'r["Valid"] is False and r["FirstBadRecord"] == 3'

# ---- mien store copy: a data directory into PostgreSQL and back ----
unset MIEN_TEMPLATE_KEY
D=$TMP/sqlite
pg_sql "CREATE DATABASE copied" >/dev/null
TO="postgresql://mien@/copied?host=$PG_DIR"
run "source store" 0 "$MIEN" --data "$D" collection create src --purpose "copy test" &&
  run "source faces" 0 "$MIEN" --data "$D" index src "$PHOTOS/hopper.jpg" "$PHOTOS/collins.jpg" &&
  run "source user" 0 "$MIEN" --data "$D" call CreateUser '{"CollectionId":"src","UserId":"u1"}' &&
  ok "source store"
run "store copy DIR -> PostgreSQL" 0 "$MIEN" store copy --from "$D" --to "$TO" &&
  check "store copy DIR -> PostgreSQL" 'r["CountsMatch"] and r["AuditValid"] and r["Tables"]["faces"]["Target"] == 2 and r["Tables"]["users"]["Target"] == 1'
run "store copy again (a rerun)" 0 "$MIEN" store copy --from "$D" --to "$TO" &&
  check "store copy again (a rerun)" 'r["CountsMatch"] and r["AuditValid"]'
run "search the copy" 0 "$MIEN" --store "$TO" search src "$PHOTOS/collins-2.jpg" &&
  check "search the copy" 'len(r["FaceMatches"]) == 1'
run "store copy PostgreSQL -> DIR" 0 "$MIEN" store copy --from "$TO" --to "sqlite:$TMP/back" &&
  check "store copy PostgreSQL -> DIR" 'r["CountsMatch"] and r["AuditValid"] and r["Tables"]["audit"]["Target"] >= 4'
run "index into the copy" 0 "$MIEN" --store "$TO" index src "$PHOTOS/hopper-2.jpg" &&
  check "index into the copy (its ids go on)" 'len(r["FaceRecords"]) == 1'

finish
