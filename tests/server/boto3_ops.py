"""boto3_ops.py - the Rekognition face API of `mien serve` through Debian's boto3, as a Python
user calls it: every collection, face and user operation, list_faces paged by hand with
MaxResults/NextToken and by boto3's paginator, the error codes botocore parses
(e.response['Error']['Code'] and the HTTP status), and SigV4 refusals the aws-cli test cannot
make (a signature 20 minutes old, another region's scope). tests/test_server_boto3.sh starts the
servers and runs this with /usr/bin/python3 (the interpreter that has python3-boto3):

    boto3_ops.py ops URL KEY_ID SECRET PHOTOS_DIR      (PHOTOS_DIR: tests/data)
    boto3_ops.py throttle URL KEY_ID SECRET PHOTOS_DIR (a server with --workers 1
                                                        --queue-timeout 1)

Prints "ok NAME" or "FAIL NAME: why" per check and exits 1 when any failed. Retries are off
(total_max_attempts 1): botocore would otherwise retry throttling and hide what the server said.
AWS_DATA_PATH must name the model from tests/server/aws_model.py (the user operations).
"""
import concurrent.futures
import datetime
import os
import re
import sys
import types
from unittest import mock

import boto3
import botocore
import botocore.auth
from botocore.config import Config
from botocore.exceptions import ClientError

from checks import check, finish

mode, url, key_id, secret, photos = sys.argv[1:6]
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def client(key=key_id, sec=secret, region="us-east-1", **config):
    return boto3.client(
        "rekognition", endpoint_url=url, region_name=region, aws_access_key_id=key,
        aws_secret_access_key=sec,
        config=Config(retries={"mode": "standard", "total_max_attempts": 1}, **config))


def error(call, **kw):
    """(Error.Code, HTTP status) of a call that must fail; (None, result) when it did not."""
    try:
        return None, call(**kw)
    except ClientError as e:
        return e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]


def expect(name, code, status, call, **kw):
    got = error(call, **kw)
    check(name, got == (code, status), f"wanted {code} {status}, got {got}")


def photo(name):
    with open(os.path.join(photos, name + ".jpg"), "rb") as f:
        return f.read()


def signed_at(offset):
    """Makes the SigV4 signer's clock run offset from now: a stand-in for the datetime module of
    the signer botocore uses for "v4" (botocore.crt.auth's when awscrt is installed)."""

    class Clock(datetime.datetime):
        @classmethod
        def utcnow(cls):
            return datetime.datetime.utcnow() + offset

    module = sys.modules[botocore.auth.AUTH_TYPE_MAPS["v4"].__module__]
    return mock.patch.object(module, "datetime",
                             types.SimpleNamespace(datetime=Clock, timezone=datetime.timezone))


def ops():
    rk = client()
    # ---- collections ----
    r = rk.create_collection(CollectionId="album", Tags={"team": "a"})
    meta = r["ResponseMetadata"]
    check("create_collection", r["StatusCode"] == 200 and r["CollectionArn"].endswith("collection/album"), r)
    check("x-amzn-RequestId is a UUID", UUID.match(meta["RequestId"]) and meta["HTTPStatusCode"] == 200, meta)
    check("Content-Type", meta["HTTPHeaders"].get("content-type", "").startswith("application/x-amz-json-1.1"),
          meta["HTTPHeaders"])
    rk.create_collection(CollectionId="second")
    expect("create_collection twice", "ResourceAlreadyExistsException", 400, rk.create_collection,
           CollectionId="album")
    expect("CollectionId pattern", "InvalidParameterException", 400, rk.create_collection, CollectionId="a/b")
    r = rk.describe_collection(CollectionId="album")
    check("describe_collection", r["FaceCount"] == 0 and r["FaceModelVersion"] == "1.0"
          and isinstance(r["CreationTimestamp"], datetime.datetime), r)
    expect("describe_collection missing", "ResourceNotFoundException", 400, rk.describe_collection,
           CollectionId="nope")
    page1 = rk.list_collections(MaxResults=1)
    page2 = rk.list_collections(MaxResults=1, NextToken=page1["NextToken"])
    check("list_collections pages", page1["CollectionIds"] == ["album"] and page2["CollectionIds"] == ["second"]
          and "NextToken" not in page2, (page1, page2))
    check("delete_collection", rk.delete_collection(CollectionId="second")["StatusCode"] == 200)

    # ---- signatures ----
    expect("wrong secret", "InvalidSignatureException", 403, client(sec=secret[:-1] + ("y" if secret.endswith("x") else "x")).list_collections)
    expect("unknown key", "UnrecognizedClientException", 403,
           client(key="AKIA" + "B" * 16).list_collections)
    expect("unsigned", "MissingAuthenticationTokenException", 403,
           client(signature_version=botocore.UNSIGNED).list_collections)
    expect("another region's scope", "InvalidSignatureException", 403, client(region="eu-west-1").list_collections)
    for minutes in (-20, 20):
        with signed_at(datetime.timedelta(minutes=minutes)):
            expect(f"signed {minutes:+d} min away", "InvalidSignatureException", 403, rk.list_collections)
    with signed_at(datetime.timedelta(minutes=-10)):
        check("signed 10 min ago: accepted", error(rk.list_collections)[0] is None)

    # ---- faces ----
    ids = {}
    # tests/data/README.md: the second photo of a person is the first transformed; the group holds
    # Hopper (the largest face), Collins and the cameraman.
    for name in ("hopper", "hopper-2", "collins", "collins-2", "camera", "group"):
        r = rk.index_faces(CollectionId="album", Image={"Bytes": photo(name)}, ExternalImageId=name,
                           DetectionAttributes=["DEFAULT"], QualityFilter="NONE")
        ids[name] = [f["Face"]["FaceId"] for f in r["FaceRecords"]]
        check(f"index_faces {name}", len(ids[name]) == (3 if name == "group" else 1)
              and all(f["Face"]["ExternalImageId"] == name and UUID.match(f["Face"]["FaceId"])
                      for f in r["FaceRecords"]), r)
    every = sorted(i for v in ids.values() for i in v)
    r = rk.index_faces(CollectionId="album", Image={"Bytes": photo("group")}, MaxFaces=1)
    check("index_faces MaxFaces", len(r["FaceRecords"]) == 1 and len(r["UnindexedFaces"]) == 2
          and r["UnindexedFaces"][0]["Reasons"] == ["EXCEEDS_MAX_FACES"], r)
    rk.delete_faces(CollectionId="album", FaceIds=[r["FaceRecords"][0]["Face"]["FaceId"]])

    seen, token, pages = [], None, 0
    while True:
        kw = {"NextToken": token} if token else {}
        r = rk.list_faces(CollectionId="album", MaxResults=3, **kw)
        pages += 1
        seen += [f["FaceId"] for f in r["Faces"]]
        token = r.get("NextToken")
        if not token or pages > 10:
            break
    check("list_faces MaxResults/NextToken", sorted(seen) == every and pages == 3, (pages, seen))
    seen = [f["FaceId"] for p in rk.get_paginator("list_faces").paginate(
        CollectionId="album", PaginationConfig={"PageSize": 2}) for f in p["Faces"]]
    check("list_faces paginator", sorted(seen) == every, seen)
    expect("list_faces bad NextToken", "InvalidPaginationTokenException", 400, rk.list_faces,
           CollectionId="album", NextToken="garbage")

    r = rk.search_faces(CollectionId="album", FaceId=ids["collins"][0], FaceMatchThreshold=80, MaxFaces=5)
    check("search_faces", sorted(m["Face"]["ExternalImageId"] for m in r["FaceMatches"]) == ["collins-2", "group"]
          and ids["collins-2"][0] in [m["Face"]["FaceId"] for m in r["FaceMatches"]], r)
    r = rk.search_faces_by_image(CollectionId="album", Image={"Bytes": photo("hopper-2")}, MaxFaces=1)
    check("search_faces_by_image", [m["Face"]["FaceId"] for m in r["FaceMatches"]] == ids["hopper-2"]
          and r["SearchedFaceConfidence"] > 90, r)
    r = rk.search_faces_by_image(CollectionId="album", Image={"Bytes": photo("hopper-2")}, FaceMatchThreshold=0)
    check("search_faces_by_image threshold 0", len(r["FaceMatches"]) == len(every), len(r["FaceMatches"]))
    r = rk.detect_faces(Image={"Bytes": photo("group")}, Attributes=["ALL"])
    check("detect_faces", len(r["FaceDetails"]) == 3 and all(
        0 < d["BoundingBox"]["Width"] < 1 and len(d["Landmarks"]) > 5 and "Quality" in d for d in r["FaceDetails"]), r)
    r = rk.compare_faces(SourceImage={"Bytes": photo("collins")}, TargetImage={"Bytes": photo("collins-2")})
    check("compare_faces", len(r["FaceMatches"]) == 1 and r["FaceMatches"][0]["Similarity"] > 80
          and "BoundingBox" in r["SourceImageFace"], r)
    expect("compare_faces target not an image", "InvalidImageFormatException", 400, rk.compare_faces,
           SourceImage={"Bytes": photo("collins")}, TargetImage={"Bytes": b"not an image"})
    expect("detect_faces not an image", "InvalidImageFormatException", 400, rk.detect_faces,
           Image={"Bytes": b"GIF89a not supported"})
    big = photo("collins") + bytes(5_500_000)  # a valid JPEG, then padding past 5 MB
    expect("Image.Bytes over 5 MB", "ImageTooLargeException", 400, rk.detect_faces, Image={"Bytes": big})

    # ---- users ----
    collins = ids["collins"] + ids["collins-2"]
    check("create_user", rk.create_user(CollectionId="album", UserId="john")["ResponseMetadata"]["HTTPStatusCode"] == 200)
    expect("create_user twice", "ConflictException", 400, rk.create_user, CollectionId="album", UserId="john")
    r = rk.associate_faces(CollectionId="album", UserId="john", FaceIds=collins)
    check("associate_faces", sorted(f["FaceId"] for f in r["AssociatedFaces"]) == sorted(collins)
          and r["UserStatus"] == "ACTIVE", r)
    rk.create_user(CollectionId="album", UserId="eric")
    r = rk.associate_faces(CollectionId="album", UserId="eric", FaceIds=ids["collins"] + ids["camera"])
    check("associate_faces of another user's face", [f["FaceId"] for f in r["AssociatedFaces"]] == ids["camera"]
          and r["UnsuccessfulFaceAssociations"][0]["Reasons"] == ["ASSOCIATED_TO_A_DIFFERENT_USER"], r)
    r = rk.list_users(CollectionId="album", MaxResults=1)
    r2 = rk.list_users(CollectionId="album", NextToken=r["NextToken"])
    check("list_users pages", [u["UserId"] for u in r["Users"] + r2["Users"]] == ["eric", "john"], (r, r2))
    r = rk.list_faces(CollectionId="album", UserId="john")
    check("list_faces UserId", sorted(f["FaceId"] for f in r["Faces"]) == sorted(collins), r)
    r = rk.search_users(CollectionId="album", FaceId=ids["collins-2"][0])
    check("search_users FaceId", [m["User"]["UserId"] for m in r["UserMatches"]] == ["john"], r)
    r = rk.search_users_by_image(CollectionId="album", Image={"Bytes": photo("group")})  # Hopper: nobody's
    check("search_users_by_image, nobody", r["UserMatches"] == [] and len(r["UnsearchedFaces"]) == 2
          and r["UnsearchedFaces"][0]["Reasons"] == ["FACE_NOT_LARGEST"], r)
    r = rk.search_users_by_image(CollectionId="album", Image={"Bytes": photo("collins-2")}, MaxUsers=1)
    check("search_users_by_image", r["UserMatches"][0]["User"]["UserId"] == "john", r)
    r = rk.disassociate_faces(CollectionId="album", UserId="john", FaceIds=ids["collins-2"] + ids["hopper-2"])
    check("disassociate_faces", r["DisassociatedFaces"] == [{"FaceId": ids["collins-2"][0]}]
          and len(r["UnsuccessfulFaceDisassociations"]) == 1, r)
    r = rk.delete_faces(CollectionId="album", FaceIds=ids["collins"] + ids["collins-2"])
    check("delete_faces keeps a user's face", r["DeletedFaces"] == ids["collins-2"]
          and r["UnsuccessfulFaceDeletions"][0]["FaceId"] == ids["collins"][0], r)
    rk.delete_user(CollectionId="album", UserId="john")
    expect("delete_user twice", "ResourceNotFoundException", 400, rk.delete_user, CollectionId="album", UserId="john")
    r = rk.describe_collection(CollectionId="album")
    check("describe_collection counts", r["FaceCount"] == len(every) - 1 and r["UserCount"] == 1, r)
    check("delete_collection", rk.delete_collection(CollectionId="album")["StatusCode"] == 200)


def throttle():
    """--workers 1 --queue-timeout 1: of 16 simultaneous DetectFaces, one computes at a time
    and those that cannot start within 1 ms are turned away, with no retry."""
    rk = client()
    image = {"Bytes": photo("collins")}
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        got = list(pool.map(lambda _: error(rk.detect_faces, Image=image), range(16)))
    codes = [c for c, _ in got]
    check("throttled: some served", codes.count(None) >= 1, codes)
    check("throttled: the rest ThrottlingException 500",
          codes.count(None) < 16 and all(g == ("ThrottlingException", 500) for g in got if g[0]), got)
    check("served after the burst", error(rk.detect_faces, Image=image)[0] is None)


{"ops": ops, "throttle": throttle}[mode]()
finish()
