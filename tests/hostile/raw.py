#!/usr/bin/env python3
"""raw.py - HTTP abuse that curl cannot do, against `mien serve` (tests/test_hostile_server.sh).

usage: raw.py URL CASE [N] [LIMIT]
  slowloris N LIMIT  N connections each send a request's headers one byte per second; prints
                {"closed": [seconds until the server closed each], "open": count still open
                after LIMIT s}
  idle LIMIT    connects and sends nothing; prints {"closed": seconds} (or null after LIMIT s)
  big-claim     headers declare a 1 GB body, then 64 KiB of it; prints {"status": N, "type":
                __type, "seconds": S} of the answer, or {"status": null} when the connection
                just closed
  short-body    declares 100000 bytes, sends 10 and closes its side; prints {"status": ...} too
  huge-header   a 256 KiB header line; prints {"status": ...}
  garbage       a request line that is not HTTP; prints {"status": ...}
  bad-chunk     chunked body whose first chunk claims 2^60 bytes; prints {"status": ...}
Only the standard library: sockets, so each byte's timing is ours.
"""
import json
import socket
import sys
import threading
import time

LIMIT_S = 20  # how long a case waits for the server's answer; slowloris and idle take theirs


def connect(url):
    host, port = url.split("//", 1)[1].rstrip("/").rsplit(":", 1)
    return socket.create_connection((host, int(port)), timeout=LIMIT_S)


def closed_by_peer(s):
    """Whether the server has closed (or reset) the connection, without blocking."""
    s.setblocking(False)
    try:
        return s.recv(65536) == b""  # data (an error answer) means it is still talking
    except BlockingIOError:
        return False
    except OSError:
        return True
    finally:
        s.setblocking(True)


def headers(length=None, extra=""):
    """A DetectFaces request's headers, without the blank line that ends them."""
    h = "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-amz-json-1.1\r\n"
    h += "X-Amz-Target: RekognitionService.DetectFaces\r\n"
    if length is not None:
        h += "Content-Length: %d\r\n" % length
    return h + extra


def answer(s, t0):
    """The status and __type of the server's answer on s (None when it closed without one)."""
    data = b""
    s.settimeout(LIMIT_S)
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
            head, sep, body = data.partition(b"\r\n\r\n")
            if sep:
                length = [l for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")]
                if length and len(body) >= int(length[0].split(b":")[1]):
                    break
    except OSError:
        pass
    out = {"status": None, "seconds": round(time.time() - t0, 2)}
    if data.startswith(b"HTTP/1."):
        head, _, body = data.partition(b"\r\n\r\n")
        out["status"] = int(head.split()[1])
        try:
            out["type"] = json.loads(body)["__type"]
        except (ValueError, KeyError, TypeError):
            out["type"] = None
    return out


def send_all(s, data):
    try:
        s.sendall(data)
    except OSError:  # the server may answer and close before taking it all
        pass


def slowloris(url, n):
    text = headers(extra="X-Padding: " + "a" * 60 + "\r\n").encode()
    closed, lock = [], threading.Lock()

    def one():
        s = connect(url)
        t0 = time.time()
        for b in text:
            if time.time() - t0 > LIMIT_S:
                return
            try:
                s.send(bytes([b]))
            except OSError:
                break
            time.sleep(1)
            if closed_by_peer(s):
                break
        with lock:
            closed.append(round(time.time() - t0, 1))
        s.close()

    threads = [threading.Thread(target=one) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"closed": sorted(closed), "open": n - len(closed)}


def idle(url):
    s = connect(url)
    t0 = time.time()
    while time.time() - t0 < LIMIT_S:
        time.sleep(0.2)
        if closed_by_peer(s):
            return {"closed": round(time.time() - t0, 1)}
    return {"closed": None}


def main():
    url, case = sys.argv[1], sys.argv[2]
    global LIMIT_S
    if case == "slowloris":
        LIMIT_S = float(sys.argv[4])
        out = slowloris(url, int(sys.argv[3]))
    elif case == "idle":
        LIMIT_S = float(sys.argv[3])
        out = idle(url)
    else:
        s = connect(url)
        t0 = time.time()
        if case == "big-claim":
            send_all(s, (headers(length=1 << 30) + "\r\n").encode() + b'{"Image":{"Bytes":"' + b"A" * 65536)
        elif case == "short-body":
            send_all(s, (headers(length=100000) + "\r\n").encode() + b'{"Image":{')
            s.shutdown(socket.SHUT_WR)
        elif case == "huge-header":
            send_all(s, (headers(length=2, extra="X-Huge: " + "h" * (256 << 10) + "\r\n") + "\r\n{}").encode())
        elif case == "garbage":
            send_all(s, b"\x16\x03\x01 GARBAGE / NOT-HTTP\r\n\r\n")
        elif case == "bad-chunk":
            send_all(s, (headers(extra="Transfer-Encoding: chunked\r\n") + "\r\n1000000000000000\r\n").encode() + b"A" * 4096)
        else:
            sys.exit("raw.py: unknown case " + case)
        out = answer(s, t0)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
