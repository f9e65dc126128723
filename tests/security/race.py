#!/usr/bin/env python3
"""race.py - races a swapper against `mien serve` (issue 19, point 1), for test_security_races.sh.

usage: race.py URL BUCKET_DIR WEB_DIR OUTSIDE_DIR REQUESTS

A swapper thread flips BUCKET_DIR/swap.jpg and WEB_DIR/swap.txt, as fast as it can, between a
regular file inside, a symbolic link to OUTSIDE_DIR (relative and absolute), a FIFO nobody
writes, and a link to /dev/zero, while REQUESTS S3Object DetectFaces and REQUESTS GETs ask for
them. OUTSIDE_DIR/big.jpg is larger than the image limit and OUTSIDE_DIR/keys.txt holds a
marker, so an escape shows as ImageTooLargeException or as the marker in a GET's body. Every
request has a 10 s socket timeout (a FIFO that pins a worker is a hang). Prints one line per
kind of answer and then `escapes N`, `hangs N`, `slowest S`.
"""
import collections
import http.client
import json
import os
import sys
import threading
import time
import urllib.parse

url, bucket, web, outside, n = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
MARKER = b"OUTSIDE-SECRET-KEYS"


def swapper(stop):
    kinds = [
        ("file", None),
        ("link", os.path.relpath(os.path.join(outside, "TARGET"), bucket)),
        ("file", None),
        ("link", os.path.join(outside, "TARGET")),
        ("fifo", None),
        ("link", "/dev/zero"),
    ]
    i = 0
    while not stop.is_set():
        kind, target = kinds[i % len(kinds)]
        i += 1
        for d, name, inside, out in ((bucket, "swap.jpg", b"not an image, inside", "big.jpg"),
                                     (web, "swap.txt", b"inside", "keys.txt")):
            tmp = os.path.join(d, ".swap.tmp")
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
            if kind == "file":
                with open(tmp, "wb") as f:
                    f.write(inside)
            elif kind == "fifo":
                os.mkfifo(tmp)
            else:
                os.symlink(target.replace("TARGET", out), tmp)
            os.rename(tmp, os.path.join(d, name))  # atomic: the name is always something


def request(method, path, body=None, headers=None):
    u = urllib.parse.urlsplit(url)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    t0 = time.monotonic()
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        data = r.read()
        return r.status, data, time.monotonic() - t0
    except (TimeoutError, OSError) as e:
        return None, repr(e).encode(), time.monotonic() - t0
    finally:
        c.close()


def main():
    stop = threading.Event()
    sw = threading.Thread(target=swapper, args=(stop,))
    sw.start()
    answers = collections.Counter()
    escapes = hangs = 0
    slowest = 0.0
    body = json.dumps({"Image": {"S3Object": {"Bucket": "photos", "Name": "swap.jpg"}}})
    headers = {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "RekognitionService.DetectFaces"}
    lock = threading.Lock()

    def client(count):
        nonlocal escapes, hangs, slowest
        for _ in range(count):
            for kind in ("s3", "get"):
                if kind == "s3":
                    status, data, dt = request("POST", "/", body, headers)
                    try:
                        what = json.loads(data).get("__type", "ok")
                    except ValueError:
                        what = "malformed"
                    escaped = what == "ImageTooLargeException"
                else:
                    status, data, dt = request("GET", "/swap.txt")
                    what = "%s" % status
                    escaped = MARKER in data
                with lock:
                    answers["%s %s %s" % (kind, status, what)] += 1
                    escapes += escaped
                    hangs += status is None
                    slowest = max(slowest, dt)

    clients = [threading.Thread(target=client, args=(n // 4,)) for _ in range(4)]
    for c in clients:
        c.start()
    for c in clients:
        c.join()
    stop.set()
    sw.join()
    for k, v in sorted(answers.items()):
        print("answer %s: %d" % (k, v))
    print("escapes %d" % escapes)
    print("hangs %d" % hangs)
    print("slowest %.2f" % slowest)


main()
