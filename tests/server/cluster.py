"""cluster.py - many `mien serve` nodes on one PostgreSQL store (tests/test_cluster_pg.sh).

Usage: cluster.py PHOTOS URL_A URL_B [URL_C...]. Unsigned requests (loopback, no keys). Checks
that a face indexed through one node is found by a search on every other node (the change
feed), measuring the lag from IndexFaces' response on one node to the face's first appearance in
SearchFaces on another (p50/p99 printed; p99 must be at most 1 s), that a deletion and a deleted
collection reach the other nodes too, and that GET /health reports the feed.
"""
import base64
import json
import statistics
import sys
import time
import urllib.error
import urllib.request

from checks import check, finish

photos, urls = sys.argv[1], sys.argv[2:]
ROUNDS = 20


def call(url, op, body):
    req = urllib.request.Request(
        url + "/", data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/x-amz-json-1.1",
                 "X-Amz-Target": "RekognitionService." + op})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)


def image(name):
    with open(f"{photos}/{name}", "rb") as f:
        return {"Bytes": base64.b64encode(f.read()).decode()}


def matches(url, face_id):
    st, r = call(url, "SearchFaces", {"CollectionId": "crowd", "FaceId": face_id,
                                      "MaxFaces": 4096, "FaceMatchThreshold": 0})
    return {m["Face"]["FaceId"] for m in r.get("FaceMatches", [])} if st == 200 else None


a = urls[0]
st, _ = call(a, "CreateCollection", {"CollectionId": "crowd"})
check("CreateCollection on the first node", st == 200)
st, r = call(a, "IndexFaces", {"CollectionId": "crowd", "Image": image("collins.jpg"),
                               "MaxFaces": 1})
anchor = r["FaceRecords"][0]["Face"]["FaceId"] if st == 200 else None
check("IndexFaces on the first node", anchor is not None, str(r)[:300])
# Each node's first search loads its index and starts its follower.
for u in urls:
    check(f"SearchFaces on {u} (index loaded)", matches(u, anchor) is not None)

lags = []
for i in range(ROUNDS):
    src, dst = urls[i % len(urls)], urls[(i + 1) % len(urls)]
    st, r = call(src, "IndexFaces", {"CollectionId": "crowd", "Image": image("collins-2.jpg"),
                                     "MaxFaces": 1, "ExternalImageId": f"round-{i}"})
    acked = time.monotonic()
    if st != 200:
        check(f"IndexFaces round {i}", False, str(r)[:300])
        continue
    new = r["FaceRecords"][0]["Face"]["FaceId"]
    while new not in (matches(dst, anchor) or ()):
        if time.monotonic() - acked > 10:
            break
        time.sleep(0.005)
    lags.append(time.monotonic() - acked)
lags.sort()
p50 = statistics.median(lags)
p99 = lags[min(len(lags) - 1, int(0.99 * len(lags)))]
print(f"  change lag IndexFaces on one node -> SearchFaces on another: p50 {p50 * 1000:.0f} ms,"
      f" p99 {p99 * 1000:.0f} ms, max {lags[-1] * 1000:.0f} ms ({len(lags)} rounds)")
check("every indexed face found on the other node", len(lags) == ROUNDS and lags[-1] < 10)
check("change lag p99 <= 1 s", p99 <= 1.0, f"p99 {p99:.3f} s")

# A deletion through the second node leaves every node's index.
st, r = call(a, "ListFaces", {"CollectionId": "crowd", "MaxResults": 4096})
victim = next(f["FaceId"] for f in r["Faces"] if f["FaceId"] != anchor)
st, r = call(urls[1], "DeleteFaces", {"CollectionId": "crowd", "FaceIds": [victim]})
check("DeleteFaces on the second node", st == 200 and r["DeletedFaces"] == [victim])
deadline = time.monotonic() + 10
while any(victim in (matches(u, anchor) or ()) for u in urls) and time.monotonic() < deadline:
    time.sleep(0.01)
check("the deleted face left every node's index",
      all(victim not in (matches(u, anchor) or ()) for u in urls))

for u in urls:
    with urllib.request.urlopen(u + "/health", timeout=10) as r:
        h = json.load(r)
        check(f"GET /health on {u}", r.status == 200 and h["Status"] == "OK" and
              h["Store"] == "postgresql" and h.get("ChangeFeedConnected") is True and
              h.get("IndexLagSeconds", 99) < 5, str(h))

# A collection deleted through the last node is gone on every node.
st, _ = call(urls[-1], "DeleteCollection", {"CollectionId": "crowd"})
check("DeleteCollection on the last node", st == 200)
st, r = call(a, "SearchFaces", {"CollectionId": "crowd", "FaceId": anchor})
check("the first node no longer searches it",
      st == 400 and r.get("__type") == "ResourceNotFoundException", str(r)[:200])
finish()
