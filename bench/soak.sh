#!/usr/bin/env bash
# soak.sh: a long run of `mien serve` under steady mixed load, to find leaks, slow growth and
# rare errors that the tests are too short to see (issue 8). REQUESTS (10000) requests from
# CONCURRENCY (4) clients on keep-alive connections, each drawn at random: DetectFaces 30 %,
# IndexFaces 20 %, SearchFacesByImage 20 %, ListFaces 10 %, DeleteFaces 20 % (of a face the mix
# indexed, so the collection keeps its size and memory that grows is a leak, not data).
# The server's RSS is sampled after WARMUP (1000) requests and at the end. Before the mix, PRELOAD
# (1000) faces are indexed, untimed: a store of a few MB, beyond SQLite's 2 MB page cache, so
# that the cache is full before the baseline. Without it the cache's filling is what a 10,000
# request run measures (RSS grew 3.6 MB over the first 10,000 requests, then stayed flat to
# 20,000).
# Prints one JSON object (requests, errors, RSS, duration, database size) and fails on any
# error, an RSS growth of 5 % or more, an unclean stop or a sanitizer report in the server's log
# (MIEN_BIN may be an ASan build).
#   make soak      or      bench/soak.sh
# Env: MIEN_BIN (default build/mien), REQUESTS, CONCURRENCY, WARMUP, PRELOAD, MIEN_SHARED
# (../shared: the photos come from its data/lfw/images).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

need_mien
LFW=${MIEN_SHARED:-$ROOT/../shared}/data/lfw/images
[[ -d $LFW ]] || die "$LFW absent: the soak needs the LFW photos (set MIEN_SHARED)"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

python3 - "$MIEN" "$LFW" "$TMP" "${REQUESTS:-10000}" "${CONCURRENCY:-4}" "${WARMUP:-1000}" "${PRELOAD:-1000}" <<'EOF'
import base64, collections, http.client, json, os, random, signal, subprocess, sys, threading, time

mien, lfw, tmp, total, concurrency, warmup, preload_faces = sys.argv[1], sys.argv[2], sys.argv[3], *map(int, sys.argv[4:])
server = subprocess.Popen([mien, "--data", tmp + "/data", "serve", "--listen", "127.0.0.1:0"],
                          stdout=subprocess.PIPE, stderr=open(tmp + "/server.log", "w"))
ready = json.loads(server.stdout.readline() or '{"listening": null}')
if not ready["listening"]:
    sys.exit("soak: mien serve did not start: " + open(tmp + "/server.log").read()[-2000:])
host, port = ready["listening"].split("//")[1].split(":")


class Client:
    """One keep-alive connection; reconnects when the server closes it."""

    def __init__(self):
        self.conn = None

    def call(self, op, body):
        for attempt in (0, 1):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection(host, int(port), timeout=120)
                self.conn.request("POST", "/", json.dumps(body), {
                    "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "RekognitionService." + op})
                r = self.conn.getresponse()
                data = r.read()
                if r.getheader("Connection", "").lower() == "close":
                    self.conn.close()
                    self.conn = None
                return r.status, json.loads(data)
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.conn = None  # a keep-alive connection closed while idle: one retry
                if attempt:
                    raise


def rss_kb():
    for line in open("/proc/%d/status" % server.pid):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])


# Photos with a face (checked once, not counted): every request below then has one right answer.
setup = Client()
status, r = setup.call("CreateCollection", {"CollectionId": "soak"})
assert status == 200, r
images = []
for person in sorted(os.listdir(lfw))[:400]:
    d = os.path.join(lfw, person)
    image = {"Bytes": base64.b64encode(open(os.path.join(d, sorted(os.listdir(d))[0]), "rb").read()).decode()}
    status, r = setup.call("DetectFaces", {"Image": image})
    if status == 200 and r["FaceDetails"]:
        images.append(image)
    if len(images) == 200:
        break

lock = threading.Lock()
pool = []  # FaceIds indexed by the mix and not yet deleted
ops = collections.Counter()
errors = collections.Counter()
samples = {}  # requests done -> RSS (kB)
rng = random.Random(8)


def parallel(count, fn):
    """fn(client, n) for n = 1..count, on `concurrency` threads with a connection each."""
    counter = iter(range(1, count + 1))

    def worker():
        client = Client()
        while True:
            with lock:
                n = next(counter, None)
            if n is None:
                return
            fn(client, n)

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def preload(client, n):
    status, r = client.call("IndexFaces", {"CollectionId": "soak", "Image": images[n % len(images)], "MaxFaces": 1})
    if status != 200:
        with lock:
            errors["preload IndexFaces %s %s" % (status, r.get("__type"))] += 1


def one(client, n):
    with lock:
        x, image = rng.random(), rng.choice(images)
        op = ("DetectFaces" if x < 0.3 else "IndexFaces" if x < 0.5 else "SearchFacesByImage" if x < 0.7
              else "ListFaces" if x < 0.8 else "DeleteFaces")
        face = pool.pop(rng.randrange(len(pool))) if op == "DeleteFaces" and pool else None
        if op == "DeleteFaces" and face is None:
            op = "IndexFaces"
    body = {"DetectFaces": {"Image": image},
            "IndexFaces": {"CollectionId": "soak", "Image": image, "MaxFaces": 1},
            "SearchFacesByImage": {"CollectionId": "soak", "Image": image},
            "ListFaces": {"CollectionId": "soak", "MaxResults": 100},
            "DeleteFaces": {"CollectionId": "soak", "FaceIds": [face]}}[op]
    try:
        status, r = client.call(op, body)
    except (OSError, http.client.HTTPException, ValueError) as e:
        status, r = 0, {"__type": type(e).__name__}
    # Right answers: 200, and for DeleteFaces the face deleted.
    good = status == 200 and (op != "DeleteFaces" or r.get("DeletedFaces") == [face])
    with lock:
        ops[op] += 1
        if not good:
            errors["%s %s %s" % (op, status, r.get("__type"))] += 1
        if op == "IndexFaces" and status == 200:
            pool.extend(f["Face"]["FaceId"] for f in r["FaceRecords"])
        if n == warmup or n % 1000 == 0 or n == total:
            samples[n] = rss_kb()


parallel(preload_faces, preload)
t0 = time.time()
parallel(total, one)
duration = time.time() - t0
server.send_signal(signal.SIGTERM)
exit_code = server.wait(timeout=60)
warm, end = samples[warmup], samples[total]
growth = 100.0 * (end - warm) / warm
log = open(tmp + "/server.log").read()
sanitizer = [m for m in ("AddressSanitizer", "LeakSanitizer", "runtime error:") if m in log]
if sanitizer:
    sys.stderr.write(log[log.index(sanitizer[0]) - 200:][:6000])
print(json.dumps({
    "requests": sum(ops.values()), "concurrency": concurrency, "preloaded_faces": preload_faces,
    "by_operation": dict(ops),
    "errors": sum(errors.values()), "errors_by_kind": dict(errors), "photos": len(images),
    "faces_left": len(pool), "duration_s": round(duration, 1), "requests_per_s": round(total / duration, 1),
    "rss_kb_after_warmup": warm, "rss_kb_end": end, "rss_growth_pct": round(growth, 2),
    "rss_kb_every_1000": [samples[k] for k in sorted(samples) if k % 1000 == 0],
    "db_bytes": sum(os.path.getsize(tmp + "/data/" + f) for f in os.listdir(tmp + "/data") if f.startswith("mien.db")),
    "server_exit": exit_code, "sanitizer_reports": sanitizer}))
sys.exit(0 if not errors and growth < 5.0 and exit_code == 0 and not sanitizer else 1)
EOF
