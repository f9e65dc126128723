"""test_mien.py - the Python package against the C program it wraps: the same numbers as
`mien detect`, `mien embed` and `mien compare` on the photos of tests/data; Service.call with
Rekognition's errors; and mien.client() answering with the shapes boto3 gets from `mien serve`
(compared with a real server through Debian's boto3 when it is installed).
Run by tests/test_python.sh (ctest) with MIEN_BUILD set; photos from tests/data."""

import base64
import datetime
import json
import os
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

import mien

ROOT = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("MIEN_BUILD", ROOT / "build"))
MIEN = BUILD / "mien"
PHOTOS = sorted((ROOT / "tests" / "data").glob("*.jpg"))


def cli(*args, data=None):
    cmd = [str(MIEN)] + (["--data", str(data)] if data else []) + list(args)
    r = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return [json.loads(line) for line in r.stdout.splitlines()]


@pytest.fixture(scope="module")
def engine():
    with mien.Engine() as e:
        yield e


def test_photos_present():
    assert len(PHOTOS) >= 5


@pytest.mark.parametrize("photo", PHOTOS, ids=lambda p: p.name)
def test_detect_same_as_cli(engine, photo):
    want = cli("detect", str(photo))[0]["FaceDetails"]
    assert engine.detect(photo.read_bytes()) == want


def test_detect_rgb_shape_and_refusals(engine):
    # The typed RGB call's numbers against DetectFaces are checked in C (tests/test_service.c);
    # here what Python adds: the array's shape and the errors.
    faces = engine.detect_rgb(np.zeros((120, 160, 3), dtype=np.uint8))
    assert faces == []
    with pytest.raises(mien.ClientError) as e:
        engine.detect_rgb(np.zeros((20, 20, 3), dtype=np.uint8))
    assert e.value.response["Error"]["Code"] == "InvalidParameterException"
    with pytest.raises(ValueError):
        engine.detect_rgb(np.zeros((100, 100), dtype=np.uint8))


def test_embed_same_as_cli(engine):
    photo = ROOT / "tests" / "data" / "group.jpg"
    want = cli("embed", str(photo))[0]["Faces"]
    got = engine.embed(photo.read_bytes())
    assert got.dtype == np.float32 and got.shape == (len(want), mien.EMBEDDING_DIM)
    for row, face in zip(got, want):
        np.testing.assert_allclose(row, np.array(face["Embedding"], dtype=np.float32), atol=1e-6)
        assert abs(float(np.linalg.norm(row)) - 1.0) < 1e-3


def test_compare_same_as_cli(engine):
    a, b = ROOT / "tests/data/collins.jpg", ROOT / "tests/data/collins-2.jpg"
    want = cli("compare", str(a), str(b))[0]
    got = engine.compare(a.read_bytes(), b.read_bytes())
    assert got == want
    assert got["FaceMatches"][0]["Similarity"] >= 80
    va, vb = engine.embed(a.read_bytes())[0], engine.embed(b.read_bytes())[0]
    assert mien.similarity(va, vb) == pytest.approx(got["FaceMatches"][0]["Similarity"], abs=1e-3)


def test_engine_has_no_store(engine):
    with pytest.raises(mien.ClientError) as e:
        engine.call("ListCollections", {})
    assert e.value.response["Error"]["Code"] == "InvalidParameterException"


def test_refusals(engine):
    with pytest.raises(mien.ClientError) as e:
        engine.detect(b"not an image")
    assert e.value.response["Error"]["Code"] == "InvalidImageFormatException"
    with pytest.raises(mien.ClientError) as e:
        engine.detect((ROOT / "tests/data/collins.jpg").read_bytes(), attributes=["GENDER"])
    assert "never infers gender" in e.value.response["Error"]["Message"]


def test_service_collections(tmp_path):
    photo = (ROOT / "tests/data/collins.jpg").read_bytes()
    with mien.Service(store=str(tmp_path / "data")) as svc:
        svc.call("CreateCollection", {"CollectionId": "py"})
        r = svc.call("IndexFaces", {"CollectionId": "py", "ExternalImageId": "collins",
                                    "Image": {"Bytes": base64.b64encode(photo).decode()}})
        assert len(r["FaceRecords"]) == 1
        with pytest.raises(mien.ClientError) as e:
            svc.call("CreateCollection", {"CollectionId": "py"})
        assert e.value.response["Error"]["Code"] == "ResourceAlreadyExistsException"
        assert svc.model_version
    # What the Python service stored, the CLI reads from the same directory.
    faces = cli("faces", "list", "py", data=tmp_path / "data")[0]["Faces"]
    assert [f["ExternalImageId"] for f in faces] == ["collins"]


def test_client_local(tmp_path):
    rek = mien.client(store=str(tmp_path / "data"))
    photo = (ROOT / "tests/data/group.jpg").read_bytes()
    r = rek.detect_faces(Image={"Bytes": photo})
    assert r["FaceDetails"] == cli("detect", str(ROOT / "tests/data/group.jpg"))[0]["FaceDetails"]
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 200
    rek.create_collection(CollectionId="c1")
    d = rek.describe_collection(CollectionId="c1")
    assert isinstance(d["CreationTimestamp"], datetime.datetime) and d["FaceCount"] == 0
    with pytest.raises(rek.exceptions.ResourceNotFoundException):
        rek.describe_collection(CollectionId="nope")
    with pytest.raises(rek.exceptions.ClientError):
        rek.delete_collection(CollectionId="nope")
    with pytest.raises(AttributeError):
        rek.detect_gender
    rek.close()


def _shape(v):
    """The type skeleton of a response: what boto3 callers index into."""
    if isinstance(v, dict):
        return {k: _shape(x) for k, x in v.items() if k != "ResponseMetadata"}
    if isinstance(v, list):
        return [_shape(v[0])] if v else []
    return type(v).__name__


@pytest.fixture()
def server(tmp_path):
    data = tmp_path / "serve"
    key = cli("keys", "add", "pytest", data=data)[0]
    proc = subprocess.Popen([str(MIEN), "--data", str(data), "serve", "--listen", "127.0.0.1:0"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = proc.stdout.readline()
    url = json.loads(line)["listening"]
    try:
        yield url, key
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_client_shapes_match_boto3_against_serve(server, tmp_path):
    boto3 = pytest.importorskip("boto3")
    url, key = server
    aws = boto3.client("rekognition", endpoint_url=url, region_name="us-east-1",
                       aws_access_key_id=key["AccessKeyId"],
                       aws_secret_access_key=key["SecretAccessKey"])
    local = mien.client(store=str(tmp_path / "local"))
    photo = (ROOT / "tests/data/group.jpg").read_bytes()
    for c in (aws, local):
        c.create_collection(CollectionId="shapes")
    pairs = [(c.detect_faces(Image={"Bytes": photo}),
              c.describe_collection(CollectionId="shapes"),
              c.list_collections(),
              c.index_faces(CollectionId="shapes", Image={"Bytes": photo}, MaxFaces=1))
             for c in (aws, local)]
    for remote, here in zip(*pairs):
        assert _shape(here) == _shape(remote)
    assert pairs[0][0]["FaceDetails"] == pairs[1][0]["FaceDetails"]
    codes = []
    for c in (aws, local):
        try:
            c.describe_collection(CollectionId="missing")
        except Exception as e:
            codes.append(e.response["Error"]["Code"])
    assert codes == ["ResourceNotFoundException"] * 2
