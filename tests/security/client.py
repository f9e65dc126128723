#!/usr/bin/env python3
"""client.py - the HTTP clients of test_security_server.sh (issue 19, points 2, 6 and 7).

  client.py signed URL KEY_ID SECRET OPERATION BODY   a SigV4-signed POST (botocore's signer);
                                                      prints "STATUS TYPE" (TYPE "ok" on 200)
  client.py raw PORT CASE        a hand-made request over a socket; prints "STATUS TYPE" or
                                 "closed". CASE: two-lengths (Content-Length 2 and 3), same-length
                                 (Content-Length 2 twice), length-and-chunked, big-unsigned (a
                                 6 MiB body with a bogus access key, no Expect: 100-continue),
                                 over-limit (a 12 MiB body, over the default --max-body)
  client.py concurrent URL N MIB N DetectFaces bodies of MIB MiB at once, mostly a list of
                                 zeros (a JSON tree costs some 30 times such a body); prints one
                                 "STATUS TYPE" line per answer
"""
import concurrent.futures
import http.client
import json
import socket
import sys
import urllib.parse


def answer(status, data):
    try:
        t = json.loads(data).get("__type", "ok") if data else "empty"
    except ValueError:
        t = "malformed"
    return "%s %s" % (status, "ok" if status == 200 else t)


def raw(port, case):
    head = ("POST / HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-amz-json-1.1\r\n"
            "X-Amz-Target: RekognitionService.ListCollections\r\n")
    if case == "two-lengths":
        req = head + "Content-Length: 2\r\nContent-Length: 3\r\n\r\n{} "
    elif case == "same-length":
        req = head + "Content-Length: 2\r\nContent-Length: 2\r\n\r\n{}"
    elif case == "length-and-chunked":
        req = head + "Content-Length: 7\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n"
    elif case == "big-unsigned":
        body = b'{"Image":{"Bytes":"' + b"A" * (6 << 20) + b'"}}'
        req = (head.replace("ListCollections", "DetectFaces") +
               "Authorization: AWS4-HMAC-SHA256 Credential=AKIABOGUSBOGUSBOGUS0/20240101/us-east-1/"
               "rekognition/aws4_request, SignedHeaders=host;x-amz-date;x-amz-target, Signature=00\r\n"
               "X-Amz-Date: 20240101T000000Z\r\nContent-Length: %d\r\n\r\n" % len(body))
    elif case == "over-limit":
        body = b" " * (12 << 20)
        req = head + "Content-Length: %d\r\n\r\n" % len(body)
    s = socket.create_connection(("127.0.0.1", int(port)), timeout=20)
    try:
        s.sendall(req.encode())
        if case in ("big-unsigned", "over-limit"):
            s.sendall(body)  # all of it: the answer must come after, not a reset connection
        r = http.client.HTTPResponse(s)
        r.begin()
        print(answer(r.status, r.read()))
    except (OSError, http.client.HTTPException) as e:
        print("closed", repr(e))
    finally:
        s.close()


def signed(url, key_id, secret, op, body):
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    req = AWSRequest("POST", url + "/", data=body.encode(),
                     headers={"Content-Type": "application/x-amz-json-1.1",
                              "X-Amz-Target": "RekognitionService." + op})
    SigV4Auth(Credentials(key_id, secret), "rekognition", "us-east-1").add_auth(req)
    u = urllib.parse.urlsplit(url)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=20)
    c.request("POST", "/", body=body.encode(), headers=dict(req.headers.items()))
    r = c.getresponse()
    print(answer(r.status, r.read()))


def many(url, n, mib):
    u = urllib.parse.urlsplit(url)
    body = b'{"Image":{"Bytes":"QUJD"},"Pad":[' + b"0," * (mib << 19) + b'0]}'

    def one(_):
        c = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
        try:
            c.request("POST", "/", body=body, headers={
                "Content-Type": "application/x-amz-json-1.1",
                "X-Amz-Target": "RekognitionService.DetectFaces"})
            r = c.getresponse()
            return answer(r.status, r.read())
        except OSError as e:
            return "closed " + repr(e)

    with concurrent.futures.ThreadPoolExecutor(n) as ex:
        for a in ex.map(one, range(n)):
            print(a)


mode = sys.argv[1]
if mode == "raw":
    raw(*sys.argv[2:4])
elif mode == "signed":
    signed(*sys.argv[2:7])
else:
    many(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
