#!/usr/bin/env bash
# test_keys_pg.sh - access keys in a PostgreSQL store shared by two `mien serve` nodes
# (docs/privacy.md, docs/cluster.md), on a throwaway cluster (tests/pg.sh), with a template key:
# keyless nodes answer loopback requests; a key added with `mien keys add --store postgresql://…`
# signs a boto3 request the other node accepts, and once deleted it is refused, both measured as
# the time from the command's return to the first such answer (the lag, printed; at most 1 s);
# the secret's bytes are nowhere in the cluster's data files (sealed), a deleted key's sealed
# row is erased from them, and `mien store copy` carries keys to a data directory and back.
# Skipped when PostgreSQL is not installed. Binary: $MIEN_BUILD/mien (default build/mien).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=tests/lib.sh
source "$ROOT/tests/lib.sh"
# shellcheck source=tests/pg.sh
source "$ROOT/tests/pg.sh"
require_mien
if ! /usr/bin/python3 -c 'import boto3' 2>/dev/null; then
  echo "SKIP: /usr/bin/python3 has no boto3 (python3-boto3)"
  exit 77
fi
pg_require
m() { "$MIEN" --store "$PG_URL" "$@"; }

run "template key" 0 "$MIEN" keys new-template-key "$TMP/template.key" && ok "template key"
export MIEN_TEMPLATE_KEY=$TMP/template.key
for n in 0 1; do
  if pg_node_start $n; then ok "node $n started"; else bad "node $n" "did not start: $(tail -c 300 "$TMP/node$n.log")"; fi
done
api_at() { URL=$1 api ListCollections '{}'; }
api_at "${NODE_URLS[1]}"
[[ $HTTP == 200 ]] && ok "keyless node: unsigned loopback request served" || bad "keyless" "HTTP $HTTP: $(cat "$TMP/out")"

# keys.py: adds a key through the store, then signs ListCollections to node B until accepted;
# deletes it, then signs until refused; five rounds, the lags printed. alice's key, added first,
# stays: with no key at all, a node is keyless and takes any loopback request, signed or not.
cat >"$TMP/keys.py" <<'EOF'
import json, subprocess, sys, time
import boto3, botocore.config, botocore.exceptions
mien, store, urls = sys.argv[1], sys.argv[2], sys.argv[3:]

def cli(*args):
    return subprocess.run([mien, "--store", store, "keys", *args], check=True,
                          capture_output=True, text=True).stdout

def client(url, kid, secret):
    return boto3.client("rekognition", endpoint_url=url, region_name="us-east-1",
                        aws_access_key_id=kid, aws_secret_access_key=secret,
                        config=botocore.config.Config(retries={"max_attempts": 1}))

def accepted(c):
    try:
        c.list_collections()
        return True
    except botocore.exceptions.ClientError as e:
        if e.response["Error"]["Code"] != "UnrecognizedClientException":
            raise
        return False

# The time from t0 (just after the command returned and the client was made: botocore's setup is
# not the store's lag) to the first answer of c that is `want`.
def until(want, c, t0):
    while accepted(c) != want:
        if time.monotonic() - t0 > 5:
            return None
        time.sleep(0.005)
    return time.monotonic() - t0

k = json.loads(cli("add", "alice"))
print("ok  " if accepted(client(urls[1], k["AccessKeyId"], k["SecretAccessKey"])) else "FAIL",
      "alice's key signs for node 1")
print("KEY", k["AccessKeyId"], k["SecretAccessKey"].encode().hex())
lags = {"added": [], "deleted": []}
for i in range(5):
    k = json.loads(cli("add", f"user{i}"))
    c = client(urls[i % 2], k["AccessKeyId"], k["SecretAccessKey"])
    lags["added"].append(until(True, c, time.monotonic()))
    c = client(urls[(i + 1) % 2], k["AccessKeyId"], k["SecretAccessKey"])
    cli("delete", k["AccessKeyId"])
    lags["deleted"].append(until(False, c, time.monotonic()))
for what, v in lags.items():
    ok = all(x is not None and x <= 1.0 for x in v)
    print(("ok  " if ok else "FAIL"), f"key {what} through the store, seen by the nodes within 1 s")
    s = sorted(x for x in v if x is not None)
    if s:
        print(f"  lag, key {what}: median {s[len(s) // 2] * 1000:.1f} ms, max {s[-1] * 1000:.1f} ms"
              f" ({len(v)} rounds)")
EOF
/usr/bin/python3 "$TMP/keys.py" "$MIEN" "$PG_URL" "${NODE_URLS[@]}" >"$TMP/py.out" 2>&1
grep -E '^(ok|FAIL) |^  ' "$TMP/py.out"
pass=$((pass + $(grep -c '^ok ' "$TMP/py.out")))
fail=$((fail + $(grep -c '^FAIL ' "$TMP/py.out")))
grep -q '^Traceback' "$TMP/py.out" && bad "keys.py" "$(tail -5 "$TMP/py.out")"
read -r _ id secret_hex < <(grep '^KEY ' "$TMP/py.out")

api_at "${NODE_URLS[0]}"
[[ $HTTP == 403 ]] && ok "a key exists: unsigned refused by node 0" || bad "unsigned with a key" "HTTP $HTTP"
run "keys list" 0 m keys list &&
  check "keys list: alice, no secret" "[k['UserName'] for k in r['AccessKeyMetadata']] == ['alice'] and 'SecretAccessKey' not in str(r)"
[[ -n ${secret_hex:-} ]] && ! pg_files_hold "$secret_hex" && ok "the secret is sealed: its bytes are not in the data files" ||
  bad "sealed secret" "the secret of $id is in $PG_DIR/data/base"
[[ $(pg_sql "SELECT count(*) FROM audit WHERE record LIKE '%CreateAccessKey%$id%'" mien) == 1 ]] &&
  ok "adding the key is audited" || bad "audit" "no CreateAccessKey record for $id"

# `mien store copy` carries keys, both ways.
run "copy to a data directory" 0 "$MIEN" store copy --from "$PG_URL" --to "$TMP/dir" && ok "copy to a data directory"
run "keys in the copy" 0 "$MIEN" --data "$TMP/dir" keys list &&
  check "the copy holds alice's key" "[k['AccessKeyId'] for k in r['AccessKeyMetadata']] == ['$id']"
pg_sql "CREATE DATABASE back" >/dev/null
run "copy back" 0 "$MIEN" store copy --from "$TMP/dir" --to "postgresql://mien@/back?host=$PG_DIR" && ok "copy back"
run "keys copied back" 0 "$MIEN" --store "postgresql://mien@/back?host=$PG_DIR" keys list &&
  check "copied back: alice's key" "[k['AccessKeyId'] for k in r['AccessKeyMetadata']] == ['$id']"
pg_sql "DROP DATABASE back" >/dev/null # its copy of the sealed row would be found below

# Deletion erases: the sealed row's bytes leave the data files.
sealed=$(pg_sql "SELECT encode(secret, 'hex') FROM access_keys WHERE id = '$id'" mien)
[[ -n $sealed ]] && pg_files_hold "$sealed" && ok "the sealed row is in the data files" || bad "sealed row" "not found before the deletion"
run "keys delete" 0 m keys delete "$id" && ok "keys delete"
! pg_files_hold "$sealed" && ok "deleted key erased from the data files" || bad "erasure" "the deleted key's row is still in $PG_DIR/data/base"
expect "delete again" 3 ResourceNotFoundException m keys delete "$id"

pg_nodes_stop
run "audit verify" 0 m audit verify && check "audit verify" 'r["Valid"] is True'
finish
