#!/usr/bin/env bash
# test_people_cli.sh - proposed users from real photos (docs/people.md): `mien users propose` and
# `mien users accept` on the photos of tests/data (Collins three times, Hopper twice, the
# cameraman, and group.jpg with one face of each), then ProposeUsers and AcceptProposal over HTTP
# from `mien serve` (curl, unsigned on loopback: the server has no keys). Checks that each
# proposal is one person and never two faces of one image, that accepting creates the user with
# its faces (audited), and that a new photo of that person is proposed to join the user.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/tests/lib.sh"
command -v curl >/dev/null || { echo "SKIP: curl absent"; exit 77; }

D=$TMP/data
# Collins: collins, collins-2 and group.jpg's; Hopper: hopper, hopper-2 and group.jpg's; the
# cameraman (camera and group.jpg's, below MinFaces 3). collins-3.jpg comes later.
first=("$PHOTOS"/collins.jpg "$PHOTOS"/collins-2.jpg "$PHOTOS"/hopper.jpg "$PHOTOS"/hopper-2.jpg
  "$PHOTOS"/camera.jpg "$PHOTOS"/group.jpg)
later=("$PHOTOS"/collins-3.jpg)

run "collection create" 0 "$MIEN" --data "$D" collection create album && ok "collection create"
run "index" 0 "$MIEN" --data "$D" index album "${first[@]}" && ok "index six photos"
cp "$TMP/out" "$TMP/index.jsonl"

# PERSON: the person of each proposal's faces, as a Python expression over r (a ProposeUsers
# response) and person (FaceId -> name: the file's name up to its "-" or ".", group.jpg's faces
# from left to right Hopper, Collins, the cameraman): a list of sets of names.
PERSON='[set(person[f] for f in p["FaceIds"]) for p in r["ProposedUsers"]]'
person_py() {
  python3 -c 'import json,sys,os,re
person = {}
for line in open(sys.argv[1]):
    j = json.loads(line)
    faces = sorted((f["Face"] for f in j["FaceRecords"]), key=lambda f: f["BoundingBox"]["Left"])
    name = re.split(r"[-.]", os.path.basename(j["File"]))[0]
    for f, who in zip(faces, ["hopper", "collins", "camera"] if name == "group" else [name] * len(faces)):
        person[f["FaceId"]] = who
r = json.load(open(sys.argv[2]))
print(eval(sys.argv[3]))' "$TMP/index.jsonl" "$TMP/out" "$1"
}
# one_face_per_image NAME: no proposal in $TMP/out holds two faces of one image.
one_face_per_image() {
  check "$1" 'all(len(set(f["ImageId"] for f in p["Faces"])) == len(p["Faces"]) for p in r["ProposedUsers"])'
}

run "users propose" 0 "$MIEN" --data "$D" users propose album && ok "users propose"
check "two proposals of three faces" 'len(r["ProposedUsers"]) == 2 and all(len(p["FaceIds"]) == 3 for p in r["ProposedUsers"])'
check "proposal fields" 'all(len(p["ProposalId"]) == 32 and p["RepresentativeFaceId"] in p["FaceIds"] and 0 < p["Cohesion"] <= 100 and "UserId" not in p for p in r["ProposedUsers"])'
one_face_per_image "no proposal holds two faces of one image"
got=$(person_py "sorted(sorted(s) for s in $PERSON)")
[[ $got == "[['collins'], ['hopper']]" ]] && ok "each proposal is one person: Collins, Hopper" ||
  bad "each proposal is one person: Collins, Hopper" "$got"
collins=$(person_py "[p['ProposalId'] for p, s in zip(r['ProposedUsers'], $PERSON) if s == {'collins'}][0]")
run "users propose --min-faces 4" 0 "$MIEN" --data "$D" users propose album --min-faces 4 &&
  check "users propose --min-faces 4" 'r["ProposedUsers"] == []'
run "users propose --max-results 1" 0 "$MIEN" --data "$D" users propose album --max-results 1 &&
  check "users propose --max-results 1" 'len(r["ProposedUsers"]) == 1 and r["NextToken"] == "1"'
expect "users propose --min-faces 0" 3 InvalidParameterException "$MIEN" --data "$D" users propose album --min-faces 0

run "users accept" 0 "$MIEN" --data "$D" users accept album "$collins" collins && ok "users accept"
check "user created, three faces" 'r["UserCreated"] is True and len(r["AssociatedFaces"]) == 3 and r["UserStatus"] == "ACTIVE"'
expect "users accept again" 3 ResourceNotFoundException "$MIEN" --data "$D" users accept album "$collins" collins
run "faces of collins" 0 "$MIEN" --data "$D" faces list album --user-id collins &&
  check "faces of collins" 'len(r["Faces"]) == 3'
run "audit export" 0 "$MIEN" --data "$D" audit export &&
  { grep -q '"op":"AcceptProposal".*"faces":3,"users_created":1' "$TMP/out" && ok "AcceptProposal audited" ||
    bad "AcceptProposal audited" "$(grep AcceptProposal "$TMP/out")"; }

run "index later photos" 0 "$MIEN" --data "$D" index album "${later[@]}" && ok "index another photo of Collins"
cat "$TMP/out" >>"$TMP/index.jsonl"
run "users propose after" 0 "$MIEN" --data "$D" users propose album --min-faces 1 &&
  check "the new face proposed to collins; Hopper and the cameraman on their own" \
    '[len(p["FaceIds"]) for p in r["ProposedUsers"] if p.get("UserId") == "collins"] == [1] and len(r["ProposedUsers"]) == 3'
one_face_per_image "MinFaces 1: no proposal holds two faces of one image"
got=$(person_py "sorted(sorted(s) for s in $PERSON)")
[[ $got == "[['camera'], ['collins'], ['hopper']]" ]] && ok "MinFaces 1: each proposal is one person" ||
  bad "MinFaces 1: each proposal is one person" "$got"

# The same operations over HTTP.
SERVER_DATA=$D
if start_server; then
  api ProposeUsers '{"CollectionId":"album","MinFaces":1}'
  [[ $HTTP == 200 ]] && check "ProposeUsers over HTTP" '[p.get("UserId") for p in r["ProposedUsers"]].count("collins") == 1' ||
    bad "ProposeUsers over HTTP" "HTTP $HTTP $(head -c 300 "$TMP/out")"
  p=$(json_get '[p["ProposalId"] for p in r["ProposedUsers"] if p.get("UserId") == "collins"][0]')
  api AcceptProposal "{\"CollectionId\":\"album\",\"ProposalId\":\"$p\",\"UserId\":\"collins\"}"
  [[ $HTTP == 200 ]] && check "AcceptProposal over HTTP" 'r["UserCreated"] is False and len(r["AssociatedFaces"]) == 1' ||
    bad "AcceptProposal over HTTP" "HTTP $HTTP $(head -c 300 "$TMP/out")"
  api ProposeUsers '{"CollectionId":"album","FaceMatchThreshold":200}'
  [[ $HTTP == 400 ]] && check "ProposeUsers refuses a bad threshold" 'r["__type"] == "InvalidParameterException"' ||
    bad "ProposeUsers refuses a bad threshold" "HTTP $HTTP"
  stop_server
else
  bad "mien serve" "did not start"
fi

finish
