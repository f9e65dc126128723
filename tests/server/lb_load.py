"""lb_load.py - continuous Rekognition traffic through a load balancer, and the check that nothing
acknowledged was lost, for tests/test_haproxy_pg.sh (docs/cluster.md).

    lb_load.py load URL PHOTO STOPFILE OUT   three boto3 clients at once, until STOPFILE exists:
                                             DetectFaces, IndexFaces (collection "lb") and
                                             SearchFacesByImage of PHOTO; OUT gets one line per
                                             request: "ok OP [FACEID]" or "FAIL OP why"
    lb_load.py verify OUT URL...             every FaceId that OUT acknowledged is found by
                                             SearchFaces on every node URL (waiting up to 5 s for
                                             the change feed); prints "ok"/"FAIL" lines

Unsigned requests (loopback, no keys) through Debian's boto3, as a Python user sends them, with
retries off (total_max_attempts 1): a request the deployment drops must show up here, not be
hidden by botocore's retry.
"""
import os
import sys
import threading
import time

import boto3
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from checks import check, finish

COLLECTION = "lb"


def client(url):
    return boto3.client(
        "rekognition", endpoint_url=url, region_name="us-east-1",
        config=Config(signature_version=UNSIGNED, connect_timeout=5, read_timeout=60,
                      retries={"mode": "standard", "total_max_attempts": 1}))


def load(url, photo, stopfile, out):
    with open(photo, "rb") as f:
        image = {"Bytes": f.read()}
    lock = threading.Lock()
    lines = []

    def loop(op, call, face_of, c):
        while not os.path.exists(stopfile):
            try:
                line = f"ok {op} {face_of(call(c))}"
            except (ClientError, BotoCoreError) as e:
                line = f"FAIL {op} {e}".replace("\n", " ")
            with lock:
                lines.append(line)

    ops = [
        ("DetectFaces", lambda c: c.detect_faces(Image=image), lambda r: "-"),
        ("IndexFaces", lambda c: c.index_faces(CollectionId=COLLECTION, Image=image, MaxFaces=1),
         lambda r: r["FaceRecords"][0]["Face"]["FaceId"]),
        ("SearchFacesByImage",
         lambda c: c.search_faces_by_image(CollectionId=COLLECTION, Image=image, MaxFaces=1),
         lambda r: "-"),
    ]
    # Made here: creating clients is not thread-safe.
    threads = [threading.Thread(target=loop, args=(*op, client(url))) for op in ops]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with open(out, "w") as f:
        f.write("".join(line + "\n" for line in lines))


def verify(out, urls):
    with open(out) as f:
        acked = [line.split()[2] for line in f if line.startswith("ok IndexFaces ")]
    check("IndexFaces acknowledged through the balancer", len(acked) > 0)
    if not acked:
        return
    for url in urls:
        c, missing = client(url), None
        for _ in range(50):
            r = c.search_faces(CollectionId=COLLECTION, FaceId=acked[0], MaxFaces=4096,
                               FaceMatchThreshold=0)
            found = {m["Face"]["FaceId"] for m in r["FaceMatches"]} | {acked[0]}
            missing = [f for f in acked if f not in found]
            if not missing:
                break
            time.sleep(0.1)
        check(f"all {len(acked)} acknowledged faces searchable on {url}", not missing,
              f"{len(missing)} missing, e.g. {missing[:3]}")


if __name__ == "__main__":
    if sys.argv[1] == "load":
        load(*sys.argv[2:6])
    else:
        verify(sys.argv[2], sys.argv[3:])
        finish()
