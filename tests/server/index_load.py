"""index_load.py - concurrent IndexFaces through several nodes until a stop file appears, for the
fault tests (tests/test_faults_pg.sh).

Usage: index_load.py PHOTO STOPFILE OUT URL...: one thread per URL indexes PHOTO into collection
"load" again and again; OUT gets one line per request: "ok URL FACEID" when it was acknowledged
(200), else "err URL STATUS TYPE" (a refused connection, a node killed, is status 0). A request
that fails is not retried: the test checks which errors were returned, and that every
acknowledged face is in the store.
"""
import base64
import json
import os
import sys
import threading
import time
import urllib.error
import urllib.request

photo, stopfile, out, urls = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
with open(photo, "rb") as f:
    image = base64.b64encode(f.read()).decode()
lock = threading.Lock()
lines = []


def worker(url):
    n = 0
    while not os.path.exists(stopfile):
        n += 1
        body = json.dumps({"CollectionId": "load", "Image": {"Bytes": image}, "MaxFaces": 1,
                           "ExternalImageId": f"{url.rsplit(':', 1)[1]}-{n}"}).encode()
        req = urllib.request.Request(url + "/", data=body, method="POST", headers={
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": "RekognitionService.IndexFaces"})
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                face = json.load(r)["FaceRecords"][0]["Face"]["FaceId"]
                line = f"ok {url} {face}"
        except urllib.error.HTTPError as e:
            try:
                kind = json.load(e).get("__type", "?")
            except ValueError:
                kind = "?"
            line = f"err {url} {e.code} {kind}"
        except OSError:
            line = f"err {url} 0 connection"
            time.sleep(0.2)
        with lock:
            lines.append(line)


threads = [threading.Thread(target=worker, args=(u,)) for u in urls]
for t in threads:
    t.start()
for t in threads:
    t.join()
with open(out, "w") as f:
    f.write("\n".join(lines) + "\n")
