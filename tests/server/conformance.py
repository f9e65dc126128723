"""conformance.py - what a migrating Rekognition user trips over first, through Debian's boto3
(1.26, with the model mien ships in share/aws-model on AWS_DATA_PATH): ClientRequestToken
retried after a lost response and across a restart, IdempotentParameterMismatchException,
identifiers in Rekognition's formats (CollectionArn, FaceModelVersion), garbage NextTokens,
attribute names, and the HTTP status of AccessDeniedException. tests/test_conformance.sh starts
and restarts the server and runs:

    conformance.py first|restarted|expired URL KEY_ID SECRET PHOTOS_DIR STATE_FILE

PHOTOS_DIR is tests/data (collins.jpg and collins-2.jpg: one person, eyes open).

A lost response is made by a proxy in front of the server (LossyProxy): it forwards a request,
reads mien's whole answer, and drops the connection instead of passing it on, once per
operation named; boto3 (standard retries) then sends the same request again, with the same
ClientRequestToken, as every AWS SDK does. STATE_FILE carries the tokens and first responses
from one phase to the next. Prints "ok NAME" / "FAIL NAME: why"; exits 1 when any failed.
"""
import json
import os
import re
import socket
import sys
import threading
import urllib.parse

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from checks import check, finish

phase, url, key_id, secret, photos, state_file = sys.argv[1:7]
ARN = re.compile(r"^arn:aws:rekognition:us-east-1:000000000000:collection/conf$")
VERSION = re.compile(r"^[0-9.]+$")
# Video.S3Object of a clip test_conformance.sh made, when it could.
VIDEO = ({"S3Object": {"Bucket": os.environ["CONF_VIDEO_BUCKET"], "Name": "clip.mp4"}}
         if os.environ.get("CONF_VIDEO_BUCKET") else None)
VIDEO_STARTS = (("start_face_detection", "tok-vdetect", {}),
                ("start_face_search", "tok-vsearch", {"CollectionId": "conf"}))
OPERATION = {"start_face_detection": "StartFaceDetection", "start_face_search": "StartFaceSearch"}


def client(endpoint=url, attempts=1):
    return boto3.client(
        "rekognition", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        config=Config(retries={"mode": "standard", "total_max_attempts": attempts}))


def error(call, **kw):
    """(Error.Code, HTTP status, message) of a failed call; (None, result, "") otherwise."""
    try:
        return None, call(**kw), ""
    except ClientError as e:
        return (e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"],
                e.response["Error"]["Message"])


def expect(name, code, status, call, **kw):
    got = error(call, **kw)
    check(name, got[:2] == (code, status), got)
    return got


def body(r):
    """A response without botocore's ResponseMetadata."""
    return {k: v for k, v in r.items() if k != "ResponseMetadata"}


class LossyProxy:
    """HTTP/1.1 proxy to the server that swallows the first response of each operation in
    `lose`, after the server has answered it; counts the requests per operation."""

    def __init__(self, target, lose):
        self.target = urllib.parse.urlsplit(target)
        self.lose, self.seen = set(lose), {}
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        threading.Thread(target=self.serve, daemon=True).start()

    @staticmethod
    def read_message(f):
        head = b""
        while not head.endswith(b"\r\n\r\n"):
            line = f.readline()
            if not line:
                return None, None
            head += line
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        return head, f.read(length)

    def serve(self):
        while True:
            conn, _ = self.sock.accept()
            threading.Thread(target=self.relay, args=(conn,), daemon=True).start()

    def relay(self, conn):
        up = socket.create_connection((self.target.hostname, self.target.port))
        cf, uf = conn.makefile("rb"), up.makefile("rb")
        try:
            while True:
                head, data = self.read_message(cf)
                if head is None:
                    return
                op = re.search(rb"(?im)^x-amz-target: RekognitionService\.(\w+)", head)
                op = op.group(1).decode() if op else ""
                self.seen[op] = self.seen.get(op, 0) + 1
                up.sendall(head + data)
                rhead, rdata = self.read_message(uf)
                if op in self.lose:
                    self.lose.discard(op)
                    return  # the server has answered; the client never hears it
                conn.sendall(rhead + rdata)
        finally:
            conn.close()
            up.close()


rk = client()
state = {}
if phase != "first":
    with open(state_file) as f:
        state = json.load(f)

if phase == "first":
    # ---- identifiers ----
    r = rk.create_collection(CollectionId="conf")
    check("CollectionArn: arn:aws:rekognition:REGION:ACCOUNT:collection/ID", ARN.match(r["CollectionArn"]), r)
    check("CreateCollection FaceModelVersion 1.0", r["FaceModelVersion"] == "1.0", r)
    r = rk.describe_collection(CollectionId="conf")
    check("DescribeCollection CollectionARN", ARN.match(r["CollectionARN"]), r)
    check("DescribeCollection FaceModelVersion [0-9.]+", VERSION.match(r["FaceModelVersion"]), r)
    r = rk.list_collections()
    check("ListCollections FaceModelVersions [0-9.]+",
          r["FaceModelVersions"] and all(VERSION.match(v) for v in r["FaceModelVersions"]), r)

    # ---- ClientRequestToken: a lost response, then the SDK's retry ----
    proxy = LossyProxy(url, {"CreateUser", "DeleteUser"})
    lossy = client(proxy.url, attempts=3)
    got = error(lossy.create_user, CollectionId="conf", UserId="ann", ClientRequestToken="tok-create")
    check("CreateUser retried after a lost response: the first response, not ConflictException",
          got[0] is None and body(got[1]) == {} and proxy.seen.get("CreateUser") == 2, (got, proxy.seen))
    rk.create_user(CollectionId="conf", UserId="bob")
    got = error(lossy.delete_user, CollectionId="conf", UserId="bob")  # boto3 makes the token
    check("DeleteUser retried after a lost response (SDK's own token): not ResourceNotFoundException",
          got[0] is None and proxy.seen.get("DeleteUser") == 2, (got, proxy.seen))
    r = rk.create_user(CollectionId="conf", UserId="ann", ClientRequestToken="tok-create")
    check("CreateUser same token again: 200", body(r) == {}, r)
    got = expect("CreateUser same token, other UserId: IdempotentParameterMismatchException 400",
                 "IdempotentParameterMismatchException", 400, rk.create_user, CollectionId="conf",
                 UserId="carol", ClientRequestToken="tok-create")
    check("mismatch message names the token", "tok-create" in got[2], got)
    expect("CreateUser new token, existing user: ConflictException", "ConflictException", 400,
           rk.create_user, CollectionId="conf", UserId="ann", ClientRequestToken="tok-other")
    expect("ClientRequestToken pattern ^[a-zA-Z0-9-_]+$", "InvalidParameterException", 400,
           rk.create_user, CollectionId="conf", UserId="dan", ClientRequestToken="a.b")
    rk.create_user(CollectionId="conf", UserId="erin")
    r = rk.delete_user(CollectionId="conf", UserId="erin", ClientRequestToken="tok-delete")
    state["delete"] = body(r)

    faces = []
    for name in ("collins", "collins-2"):
        with open(f"{photos}/{name}.jpg", "rb") as f:
            r = rk.index_faces(CollectionId="conf", Image={"Bytes": f.read()}, MaxFaces=1)
        faces.append(r["FaceRecords"][0]["Face"]["FaceId"])
    proxy = LossyProxy(url, {"AssociateFaces", "DisassociateFaces"})
    lossy = client(proxy.url, attempts=3)
    got = error(lossy.associate_faces, CollectionId="conf", UserId="ann", FaceIds=faces,
                ClientRequestToken="tok-assoc")
    check("AssociateFaces retried after a lost response: the first response",
          got[0] is None and [f["FaceId"] for f in got[1]["AssociatedFaces"]] == faces
          and proxy.seen.get("AssociateFaces") == 2, (got, proxy.seen))
    state["associate"] = body(got[1]) if got[0] is None else None
    got = error(lossy.disassociate_faces, CollectionId="conf", UserId="ann", FaceIds=faces[:1],
                ClientRequestToken="tok-dis")
    check("DisassociateFaces retried after a lost response: the first response",
          got[0] is None and [f["FaceId"] for f in got[1]["DisassociatedFaces"]] == faces[:1]
          and proxy.seen.get("DisassociateFaces") == 2, (got, proxy.seen))
    state["disassociate"] = body(got[1]) if got[0] is None else None
    state["faces"] = faces
    expect("AssociateFaces same token, other FaceIds: IdempotentParameterMismatchException",
           "IdempotentParameterMismatchException", 400, rk.associate_faces, CollectionId="conf",
           UserId="ann", FaceIds=faces[:1], ClientRequestToken="tok-assoc")

    # The video operations' tokens: a lost StartFaceDetection/StartFaceSearch retried is one job.
    if VIDEO:
        proxy = LossyProxy(url, {"StartFaceDetection", "StartFaceSearch"})
        lossy = client(proxy.url, attempts=3)
        for op, token, kw in VIDEO_STARTS:
            got = error(getattr(lossy, op), Video=VIDEO, ClientRequestToken=token, **kw)
            again = error(getattr(rk, op), Video=VIDEO, ClientRequestToken=token, **kw)
            check(f"{op} retried after a lost response: one job, the same JobId for the token",
                  got[0] is None and again[0] is None and got[1]["JobId"] == again[1]["JobId"]
                  and proxy.seen.get(OPERATION[op]) == 2, (got, again, proxy.seen))
            state[token] = got[1]["JobId"] if got[0] is None else None
            expect(f"{op} same token, other request: IdempotentParameterMismatchException",
                   "IdempotentParameterMismatchException", 400, getattr(rk, op), Video=VIDEO,
                   ClientRequestToken=token, JobTag="other", **kw)

    # ---- NextToken ----
    rk.create_user(CollectionId="conf", UserId="zed")
    rk.create_collection(CollectionId="conf2")
    rk.create_user(CollectionId="conf2", UserId="ann")
    rk.create_user(CollectionId="conf2", UserId="zed")
    for op, kw in (("list_collections", {}), ("list_faces", {"CollectionId": "conf"}),
                   ("list_users", {"CollectionId": "conf"})):
        expect(f"{op} garbage NextToken: InvalidPaginationTokenException 400",
               "InvalidPaginationTokenException", 400, getattr(rk, op), NextToken="garbage", **kw)
    page = rk.list_users(CollectionId="conf", MaxResults=1)
    r = rk.list_users(CollectionId="conf", MaxResults=1, NextToken=page["NextToken"])
    check("list_users: its own token pages on", r["Users"] and r["Users"][0]["UserId"] == "zed", (page, r))
    expect("list_users: another collection's token is InvalidPaginationTokenException",
           "InvalidPaginationTokenException", 400, rk.list_users, CollectionId="conf2",
           NextToken=page["NextToken"])
    forged = page["NextToken"][:-1] + ("b" if page["NextToken"][-1] != "b" else "c")
    expect("list_users: an edited token is InvalidPaginationTokenException",
           "InvalidPaginationTokenException", 400, rk.list_users, CollectionId="conf", NextToken=forged)
    page = rk.list_collections(MaxResults=1)
    r = rk.list_collections(MaxResults=1, NextToken=page["NextToken"])
    check("list_collections: its own token pages on", r["CollectionIds"] == ["conf2"], (page, r))

    # ---- attributes ----
    for name, words in (("GENDER", "gender"), ("AGE_RANGE", "age"), ("EMOTIONS", "emotion"),
                        ("SMILE", "smile"), ("BEARD", "facial hair"), ("MUSTACHE", "facial hair"),
                        ("EYEGLASSES", "not available"), ("SUNGLASSES", "not available"),
                        ("FACE_OCCLUDED", "not available"), ("EYE_DIRECTION", "not available")):
        got = expect(f"Attributes [{name}]: InvalidParameterException", "InvalidParameterException",
                     400, rk.detect_faces, Image={"Bytes": b"not an image"}, Attributes=[name])
        check(f"Attributes [{name}]: the reason", name in got[2] and words in got[2], got)
    expect("Attributes [ALL, DEFAULT] pass (the image is what is refused)", "InvalidImageFormatException",
           400, rk.detect_faces, Image={"Bytes": b"not an image"}, Attributes=["ALL", "DEFAULT"])
    with open(f"{photos}/collins.jpg", "rb") as f:
        image = {"Bytes": f.read()}
    details = {a: rk.detect_faces(Image=image, Attributes=[a])["FaceDetails"][0]
               for a in ("DEFAULT", "EYES_OPEN", "MOUTH_OPEN", "ALL")}
    got = {a: sorted(k for k in d if k in ("EyesOpen", "MouthOpen")) for a, d in details.items()}
    check("Attributes one by one: DEFAULT none, EYES_OPEN, MOUTH_OPEN, ALL both",
          got == {"DEFAULT": [], "EYES_OPEN": ["EyesOpen"], "MOUTH_OPEN": ["MouthOpen"],
                  "ALL": ["EyesOpen", "MouthOpen"]}, got)
    eyes = details["ALL"]["EyesOpen"]
    check("EyesOpen: open eyes, with a measured confidence (90 or 93)",
          eyes["Value"] is True and eyes["Confidence"] in (90, 93), eyes)
    expect("DetectionAttributes [GENDER] refused by IndexFaces", "InvalidParameterException", 400,
           rk.index_faces, CollectionId="conf", Image={"Bytes": b"x"}, DetectionAttributes=["GENDER"])

    # ---- statuses ----
    rk.create_collection(CollectionId="door", Tags={"mien:consent": "required"})
    expect("AccessDeniedException is HTTP 400 (Rekognition's error table)", "AccessDeniedException",
           400, rk.index_faces, CollectionId="door", Image={"Bytes": b"x"})

elif phase == "restarted":
    r = error(rk.create_user, CollectionId="conf", UserId="ann", ClientRequestToken="tok-create")
    check("after a restart: CreateUser same token answers 200 {}", r[0] is None and body(r[1]) == {}, r)
    expect("after a restart: same token, other UserId: mismatch", "IdempotentParameterMismatchException",
           400, rk.create_user, CollectionId="conf", UserId="carol", ClientRequestToken="tok-create")
    r = error(rk.delete_user, CollectionId="conf", UserId="erin", ClientRequestToken="tok-delete")
    check("after a restart: DeleteUser same token answers 200, not ResourceNotFoundException",
          r[0] is None and body(r[1]) == state["delete"], r)
    r = rk.associate_faces(CollectionId="conf", UserId="ann", FaceIds=state["faces"],
                           ClientRequestToken="tok-assoc")
    check("after a restart: AssociateFaces same token: the first response",
          body(r) == state["associate"], (r, state["associate"]))
    r = rk.disassociate_faces(CollectionId="conf", UserId="ann", FaceIds=state["faces"][:1],
                              ClientRequestToken="tok-dis")
    check("after a restart: DisassociateFaces same token: the first response",
          body(r) == state["disassociate"], (r, state["disassociate"]))

    for op, token, kw in VIDEO_STARTS if VIDEO else ():
        r = error(getattr(rk, op), Video=VIDEO, ClientRequestToken=token, **kw)
        check(f"after a restart: {op} same token: the same JobId",
              r[0] is None and r[1]["JobId"] == state[token], (r, state[token]))

elif phase == "expired":
    expect("past the 24 h window the token is forgotten: CreateUser runs again (ConflictException)",
           "ConflictException", 400, rk.create_user, CollectionId="conf", UserId="ann",
           ClientRequestToken="tok-create")

with open(state_file, "w") as f:
    json.dump(state, f)
finish()
