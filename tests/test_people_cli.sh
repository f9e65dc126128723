#!/usr/bin/env bash
# test_people_cli.sh - proposed users from real photos (docs/people.md): `mien users propose` and
# `mien users accept` on public LFW images of three people, then ProposeUsers and AcceptProposal
# over HTTP from `mien serve` (curl, unsigned on loopback: the server has no keys). Checks that
# each proposal is one person, that accepting creates the user with its faces (audited), and that
# new photos of that person are proposed to join the user. Skipped without $MIEN_SHARED/data/lfw.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/tests/lib.sh"
LFW=$DATA/lfw/images
[[ -d $LFW ]] || { echo "SKIP: no $LFW"; exit 77; }
command -v curl >/dev/null || { echo "SKIP: curl absent"; exit 77; }

D=$TMP/data
PEOPLE=(Hugo_Chavez Jacques_Chirac Jennifer_Capriati)
first=() later=()
for p in "${PEOPLE[@]}"; do
  mapfile -t files < <(ls "$LFW/$p"/*.jpg | sort | head -7)
  first+=("${files[@]:0:5}")
  [[ $p == Hugo_Chavez ]] && later+=("${files[@]:5:2}")
done

run "collection create" 0 "$MIEN" --data "$D" collection create album && ok "collection create"
run "index" 0 "$MIEN" --data "$D" index album "${first[@]}" && ok "index 15 photos"
cp "$TMP/out" "$TMP/index.jsonl"

# person_of: the person of each proposal's faces (from the ImageIds of the index output), as a
# Python expression over r (a ProposeUsers response): a list of sets of names.
PERSON='[set(person[f["ImageId"]] for f in p["Faces"]) for p in r["ProposedUsers"]]'
person_py() {
  python3 -c 'import json,sys,os
person = {}
for line in open(sys.argv[1]):
    j = json.loads(line)
    for f in j["FaceRecords"]:
        person[f["Face"]["ImageId"]] = os.path.basename(os.path.dirname(j["File"]))
r = json.load(open(sys.argv[2]))
print(eval(sys.argv[3]))' "$TMP/index.jsonl" "$TMP/out" "$1"
}

run "users propose" 0 "$MIEN" --data "$D" users propose album && ok "users propose"
check "three proposals of five faces" 'len(r["ProposedUsers"]) == 3 and all(len(p["FaceIds"]) == 5 for p in r["ProposedUsers"])'
check "proposal fields" 'all(len(p["ProposalId"]) == 32 and p["RepresentativeFaceId"] in p["FaceIds"] and 0 < p["Cohesion"] <= 100 and "UserId" not in p for p in r["ProposedUsers"])'
got=$(person_py "sorted(len(s) for s in $PERSON)")
[[ $got == "[1, 1, 1]" ]] && ok "each proposal is one person" || bad "each proposal is one person" "$got"
hugo=$(person_py "[p['ProposalId'] for p, s in zip(r['ProposedUsers'], $PERSON) if s == {'Hugo_Chavez'}][0]")
run "users propose --min-faces 6" 0 "$MIEN" --data "$D" users propose album --min-faces 6 &&
  check "users propose --min-faces 6" 'r["ProposedUsers"] == []'
run "users propose --max-results 1" 0 "$MIEN" --data "$D" users propose album --max-results 1 &&
  check "users propose --max-results 1" 'len(r["ProposedUsers"]) == 1 and r["NextToken"] == "1"'
expect "users propose --min-faces 0" 3 InvalidParameterException "$MIEN" --data "$D" users propose album --min-faces 0

run "users accept" 0 "$MIEN" --data "$D" users accept album "$hugo" hugo && ok "users accept"
check "user created, five faces" 'r["UserCreated"] is True and len(r["AssociatedFaces"]) == 5 and r["UserStatus"] == "ACTIVE"'
expect "users accept again" 3 ResourceNotFoundException "$MIEN" --data "$D" users accept album "$hugo" hugo
run "faces of hugo" 0 "$MIEN" --data "$D" faces list album --user-id hugo &&
  check "faces of hugo" 'len(r["Faces"]) == 5'
run "audit export" 0 "$MIEN" --data "$D" audit export &&
  { grep -q '"op":"AcceptProposal".*"faces":5,"users_created":1' "$TMP/out" && ok "AcceptProposal audited" ||
    bad "AcceptProposal audited" "$(grep AcceptProposal "$TMP/out")"; }

run "index later photos" 0 "$MIEN" --data "$D" index album "${later[@]}" && ok "index two more of Hugo Chavez"
cat "$TMP/out" >>"$TMP/index.jsonl"
run "users propose after" 0 "$MIEN" --data "$D" users propose album --min-faces 1 &&
  check "new faces proposed to hugo" '[len(p["FaceIds"]) for p in r["ProposedUsers"] if p.get("UserId") == "hugo"] == [2] and len(r["ProposedUsers"]) == 3'

# The same operations over HTTP.
SERVER_DATA=$D
if start_server; then
  api ProposeUsers '{"CollectionId":"album","MinFaces":1}'
  [[ $HTTP == 200 ]] && check "ProposeUsers over HTTP" '[p.get("UserId") for p in r["ProposedUsers"]].count("hugo") == 1' ||
    bad "ProposeUsers over HTTP" "HTTP $HTTP $(head -c 300 "$TMP/out")"
  p=$(json_get '[p["ProposalId"] for p in r["ProposedUsers"] if p.get("UserId") == "hugo"][0]')
  api AcceptProposal "{\"CollectionId\":\"album\",\"ProposalId\":\"$p\",\"UserId\":\"hugo\"}"
  [[ $HTTP == 200 ]] && check "AcceptProposal over HTTP" 'r["UserCreated"] is False and len(r["AssociatedFaces"]) == 2' ||
    bad "AcceptProposal over HTTP" "HTTP $HTTP $(head -c 300 "$TMP/out")"
  api ProposeUsers '{"CollectionId":"album","FaceMatchThreshold":200}'
  [[ $HTTP == 400 ]] && check "ProposeUsers refuses a bad threshold" 'r["__type"] == "InvalidParameterException"' ||
    bad "ProposeUsers refuses a bad threshold" "HTTP $HTTP"
  stop_server
else
  bad "mien serve" "did not start"
fi

echo "$pass passed, $fail failed"
[[ $fail == 0 ]]
