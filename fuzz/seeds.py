#!/usr/bin/python3
"""seeds.py - writes the seed corpora of the fuzz targets (fuzz/corpus/<target>/), so they can be
remade and reviewed instead of being opaque binaries. Seeds are tiny on purpose: libFuzzer mutates
small inputs much faster, and each one only has to open a path (a JPEG colour space, EXIF in
either byte order, a PNG colour type, an ONNX operator, an API operation, a signed request, a
static file) for mutation to explore.

Run from anywhere with Debian's python3 (Pillow, onnx, numpy): fuzz/seeds.py. Existing files
are overwritten; nothing else in the corpus directories is touched.
"""
import base64
import hashlib
import hmac
import io
import json
import os
import struct
import zlib

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def gradient(w, h, mode="RGB"):
    y, x = np.mgrid[0:h, 0:w]
    rgb = np.stack([x * 255 // max(w - 1, 1), y * 255 // max(h - 1, 1), (x + y) * 7 % 256], -1)
    return Image.fromarray(rgb.astype(np.uint8), "RGB").convert(mode)


def tiff_orientation(value, big):
    """A TIFF header with one IFD0 entry: Orientation (0x0112), SHORT, count 1."""
    e = ">" if big else "<"
    return (b"MM" if big else b"II") + struct.pack(e + "HIH", 42, 8, 1) + \
        struct.pack(e + "HHIHH", 0x0112, 3, 1, value, 0) + struct.pack(e + "I", 0)


def encode(img, fmt, **kw):
    out = io.BytesIO()
    img.save(out, fmt, **kw)
    return out.getvalue()


def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def interlaced_png(img):
    """Adam7-interlaced 8-bit RGB (Pillow writes no interlaced PNG)."""
    a = np.asarray(img.convert("RGB"))
    h, w = a.shape[:2]
    raw = b""
    for x0, y0, dx, dy in [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4),
                           (1, 0, 2, 2), (0, 1, 1, 2)]:
        sub = a[y0::dy, x0::dx]
        if sub.size:
            raw += b"".join(b"\0" + row.tobytes() for row in sub)
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 1)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + \
        png_chunk(b"IDAT", zlib.compress(raw)) + png_chunk(b"IEND", b"")


def images():
    img = gradient(12, 8)
    jpegs = {
        "rgb.jpg": encode(img, "JPEG", quality=60),
        "gray.jpg": encode(img.convert("L"), "JPEG"),
        "cmyk.jpg": encode(img.convert("CMYK"), "JPEG"),
        "progressive.jpg": encode(img, "JPEG", progressive=True),
        "subsampled.jpg": encode(gradient(17, 9), "JPEG", subsampling=2),
        "exif6-le.jpg": encode(img, "JPEG", exif=b"Exif\0\0" + tiff_orientation(6, False)),
        "exif8-be.jpg": encode(img, "JPEG", exif=b"Exif\0\0" + tiff_orientation(8, True)),
        # 24x24: decodes at 1/2 and 1/4 when asked for a smaller size.
        "scalable.jpg": encode(gradient(24, 24), "JPEG"),
    }
    for name, data in jpegs.items():
        write("image", name, data)
    pngs = {
        "rgb.png": encode(img, "PNG"),
        "rgba.png": encode(gradient(5, 4, "RGBA"), "PNG"),
        "palette.png": encode(img.convert("P"), "PNG"),
        "gray16.png": encode(Image.fromarray(np.arange(48, dtype=np.uint16).reshape(6, 8) * 1000),
                             "PNG"),
        "bilevel.png": encode(img.convert("1"), "PNG"),
        "exif3.png": encode(img, "PNG", exif=tiff_orientation(3, False)),
        "interlaced.png": interlaced_png(img),
    }
    for name, data in pngs.items():
        write("image", name, data)
    # A 40-byte PNG declaring 100000 x 100000: must be refused before anything is allocated.
    ihdr = struct.pack(">IIBBBBB", 100000, 100000, 8, 2, 0, 0, 0)
    write("image", "bomb.png", b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) +
          png_chunk(b"IEND", b""))


def model(nodes, inputs, outputs, inits=(), opset=13):
    g = helper.make_graph(nodes, "seed", inputs, outputs, list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 7
    return m.SerializeToString()


def f32(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def const(name, values, dtype=np.float32):
    return numpy_helper.from_array(np.asarray(values, dtype=dtype), name)


def models():
    rng = np.random.default_rng(1)
    w = lambda *s: rng.standard_normal(s).astype(np.float32) * 0.5  # noqa: E731
    n = helper.make_node
    seeds = {
        # Conv + BatchNormalization + Relu (folded and fused by rewrite.c), then MaxPool.
        "conv_bn_relu_pool.onnx": model(
            [n("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1], strides=[1, 1]),
             n("BatchNormalization", ["c", "s", "bb", "m", "v"], ["n"], epsilon=1e-5),
             n("Relu", ["n"], ["r"]),
             n("MaxPool", ["r"], ["y"], kernel_shape=[2, 2], strides=[2, 2])],
            [f32("x", [1, 3, "h", "w"])], [f32("y", None)],
            [const("w", w(4, 3, 3, 3)), const("b", w(4)), const("s", w(4)), const("bb", w(4)),
             const("m", w(4)), const("v", np.abs(w(4)) + 1)]),
        # Depthwise conv with PRelu, residual Add, Sigmoid.
        "dwconv_prelu_add.onnx": model(
            [n("Conv", ["x", "w"], ["c"], group=2, kernel_shape=[3, 3], auto_pad="SAME_UPPER"),
             n("PRelu", ["c", "slope"], ["p"]), n("Add", ["p", "x"], ["a"]),
             n("Sigmoid", ["a"], ["y"])],
            [f32("x", [1, 2, 5, 5])], [f32("y", None)],
            [const("w", w(2, 1, 3, 3)), const("slope", w(2, 1, 1))]),
        # Flatten + Gemm + Softmax: a classifier head.
        "gemm_softmax.onnx": model(
            [n("Flatten", ["x"], ["f"], axis=1),
             n("Gemm", ["f", "w", "b"], ["g"], transB=1, alpha=1.0, beta=1.0),
             n("Softmax", ["g"], ["y"], axis=1)],
            [f32("x", [1, 2, 2, 2])], [f32("y", None)], [const("w", w(3, 8)), const("b", w(3))]),
        # Shape arithmetic folded at plan time: Shape -> Gather -> Unsqueeze -> Concat -> Reshape.
        "shape_reshape.onnx": model(
            [n("Shape", ["x"], ["s"]), n("Gather", ["s", "i0"], ["n0"], axis=0),
             n("Unsqueeze", ["n0", "ax"], ["n1"]), n("Concat", ["n1", "m1"], ["shape"], axis=0),
             n("Reshape", ["x", "shape"], ["r"]), n("Transpose", ["r"], ["t"], perm=[1, 0]),
             n("Slice", ["t", "st", "en", "axs"], ["y"])],
            [f32("x", [1, 3, 4, "w"])], [f32("y", None)],
            [const("i0", 0, np.int64), const("ax", [0], np.int64), const("m1", [-1], np.int64),
             const("st", [1], np.int64), const("en", [100], np.int64),
             const("axs", [0], np.int64)]),
        # Resize (linear, scales), MatMul, Mul/Sub/Div/Exp, Squeeze, Identity.
        "resize_matmul.onnx": model(
            [n("Resize", ["x", "", "sc"], ["r"], mode="linear"),
             n("MatMul", ["r", "k"], ["mm"]), n("Mul", ["mm", "two"], ["a"]),
             n("Sub", ["a", "two"], ["b"]), n("Div", ["b", "two"], ["c"]), n("Exp", ["c"], ["e"]),
             n("Squeeze", ["e", "sq"], ["s"]), n("Identity", ["s"], ["y"])],
            [f32("x", [1, 1, 2, 3])], [f32("y", None)],
            [const("sc", [1, 1, 2, 2]), const("k", w(6, 4)), const("two", [2.0]),
             const("sq", [0, 1], np.int64)]),
        # Old opsets: Slice and Squeeze with attributes, Upsample-era Resize is absent, Softmax
        # with the legacy 2-D coercion.
        "opset9.onnx": model(
            [n("Slice", ["x"], ["s"], starts=[0, 1], ends=[1, 3], axes=[0, 1]),
             n("Squeeze", ["s"], ["q"], axes=[0]), n("Softmax", ["q"], ["y"], axis=0)],
            [f32("x", [2, 4])], [f32("y", None)], opset=9),
    }
    for name, data in seeds.items():
        write("onnx", name, data)


def api():
    """One byte naming the operation (its index in mien_ops[], src/api/ops.c), then the body.
    Images come inline (tiny, faceless) or from fuzz_api.c's bucket "b" (photos with a face)."""
    ops = ["DetectFaces", "CompareFaces", "CreateCollection", "DescribeCollection",
           "ListCollections", "DeleteCollection", "IndexFaces", "ListFaces", "DeleteFaces",
           "SearchFaces", "SearchFacesByImage", "CreateUser", "DeleteUser", "ListUsers",
           "AssociateFaces", "DisassociateFaces", "SearchUsers", "SearchUsersByImage"]
    png = {"Bytes": base64.b64encode(encode(gradient(80, 80), "PNG", optimize=True)).decode()}
    jpg = {"Bytes": base64.b64encode(encode(gradient(96, 80), "JPEG", quality=30)).decode()}
    s3 = lambda name: {"S3Object": {"Bucket": "b", "Name": name}}  # noqa: E731
    face = "$face"  # fuzz_api.c puts the last indexed FaceId there
    coll = {"CollectionId": "c1"}
    bodies = {
        "DetectFaces": [{"Image": jpg, "Attributes": ["ALL"]}, {"Image": s3("face.jpg")},
                        {"Image": s3("up/outside.jpg")}],
        "CompareFaces": [{"SourceImage": png, "TargetImage": jpg, "SimilarityThreshold": 50,
                          "QualityFilter": "NONE"},
                         {"SourceImage": s3("face.jpg"), "TargetImage": s3("face2.jpg")}],
        "CreateCollection": [coll, {"CollectionId": "c2", "Tags": {"team": "a"}}],
        "DescribeCollection": [coll],
        "ListCollections": [{"MaxResults": 2, "NextToken": "c0"}, {}],
        "DeleteCollection": [{"CollectionId": "c2"}],
        "IndexFaces": [{"CollectionId": "c1", "Image": s3("face.jpg"), "ExternalImageId": "x:1",
                        "MaxFaces": 2, "QualityFilter": "AUTO",
                        "DetectionAttributes": ["DEFAULT"]},
                       {"CollectionId": "c1", "Image": jpg}],
        "ListFaces": [{"CollectionId": "c1", "MaxResults": 10, "UserId": "u1"},
                      {"CollectionId": "c1", "FaceIds": [face]}],
        "DeleteFaces": [{"CollectionId": "c1", "FaceIds": [face]}],
        "SearchFaces": [{"CollectionId": "c1", "FaceId": face, "MaxFaces": 3,
                         "FaceMatchThreshold": 70.5}],
        "SearchFacesByImage": [{"CollectionId": "c1", "Image": s3("face2.jpg"),
                                "QualityFilter": "LOW"},
                               {"CollectionId": "c1", "Image": png}],
        "CreateUser": [{"CollectionId": "c1", "UserId": "u1", "ClientRequestToken": "t-1"}],
        "DeleteUser": [{"CollectionId": "c1", "UserId": "u1"}],
        "ListUsers": [{"CollectionId": "c1", "MaxResults": 5}],
        "AssociateFaces": [{"CollectionId": "c1", "UserId": "u1", "FaceIds": [face],
                            "UserMatchThreshold": 75}],
        "DisassociateFaces": [{"CollectionId": "c1", "UserId": "u1", "FaceIds": [face]}],
        "SearchUsers": [{"CollectionId": "c1", "UserId": "u1", "MaxUsers": 2},
                        {"CollectionId": "c1", "FaceId": face}],
        "SearchUsersByImage": [{"CollectionId": "c1", "Image": s3("face.jpg")},
                               {"CollectionId": "c1", "Image": s3("escape.jpg")}],
    }
    for i, op in enumerate(ops):
        for k, body in enumerate(bodies[op]):
            write("api", "%s-%d.json" % (op, k), bytes([i]) + json.dumps(body).encode())
    # Bodies at the parser's edge (mien_op_parse_request): a key twice at any depth, invalid
    # UTF-8, bytes after the object, and valid multi-byte UTF-8 beside them.
    parser = {
        "dup-top": ("CreateCollection", b'{"CollectionId":"c1","CollectionId":"c2"}'),
        "dup-tags": ("CreateCollection",
                     b'{"CollectionId":"c3","Tags":{"mien:consent":"none","mien:consent":"required"}}'),
        "dup-nested": ("ListFaces", b'{"CollectionId":"c1","FaceIds":[{"a":1,"b":[{"x":1,"x":2}]}]}'),
        "utf8-overlong": ("DescribeCollection", b'{"CollectionId":"c\xc0\xaf1"}'),
        "utf8-surrogate": ("DescribeCollection", b'{"CollectionId":"c\xed\xa0\x801"}'),
        "utf8-cut": ("DescribeCollection", b'{"CollectionId":"c1\xe2\x82"}'),
        "utf8-valid": ("CreateCollection",
                       '{"CollectionId":"c4","Tags":{"purpose":"caf\u00e9 \u20ac \U0001f600"}}'.encode()),
        "trailing": ("ListCollections", b'{"MaxResults":2} {"MaxResults":3}'),
    }
    for name, (op, body) in parser.items():
        write("api", "parser-%s.json" % name, bytes([ops.index(op)]) + body)


def sigv4():
    """Requests as fuzz_sigv4.c reads them: request line, headers, empty line, body. Signed ones
    use its key and are dated at its clock (2024-01-01T00:00:00Z)."""
    key_id, secret = "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
    amz_date, date = "20240101T000000Z", "20240101"
    body = b'{"CollectionId":"album","MaxResults":10}'

    def sign(method, path, query, headers, body, signed):
        values = {}
        for k, v in headers:  # repeated headers join with commas, in order
            values.setdefault(k.lower(), []).append(" ".join(v.split()))
        canon = "".join("%s:%s\n" % (n, ",".join(values[n])) for n in sorted(signed))
        creq = "\n".join([method, path, query, canon, ";".join(signed),
                          hashlib.sha256(body).hexdigest()])
        scope = "%s/us-east-1/rekognition/aws4_request" % date
        sts = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                         hashlib.sha256(creq.encode()).hexdigest()])
        k = ("AWS4" + secret).encode()
        for part in (date, "us-east-1", "rekognition", "aws4_request"):
            k = hmac.new(k, part.encode(), hashlib.sha256).digest()
        sig = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
        return "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s" % (
            key_id, scope, ";".join(signed), sig)

    def request(method, target, headers, body):
        head = "%s %s\n" % (method, target) + "".join("%s: %s\n" % h for h in headers)
        return head.encode() + b"\n" + body

    base = [("Host", "127.0.0.1:8080"), ("Content-Type", "application/x-amz-json-1.1"),
            ("X-Amz-Target", "RekognitionService.ListFaces"), ("X-Amz-Date", amz_date)]
    signed = ["content-type", "host", "x-amz-date", "x-amz-target"]
    auth = sign("POST", "/", "", base, body, signed)
    write("sigv4", "signed.txt", request("POST", "/", base + [("Authorization", auth)], body))
    # The same signature over another body: a mismatch.
    write("sigv4", "tampered.txt",
          request("POST", "/", base + [("Authorization", auth)], body.replace(b"10", b"11")))
    # Repeated and padded headers, a query string, a path needing encoding.
    odd = base + [("X-Amz-Meta", "  a   b  "), ("x-amz-meta", "c")]
    auth = sign("GET", "/a%20b/c", "Action=List&Version=1", odd, b"",
                ["host", "x-amz-date", "x-amz-meta", "x-amz-target"])
    write("sigv4", "query.txt",
          request("GET", "/a b/c?Version=1&Action=List", odd + [("Authorization", auth)], b""))
    write("sigv4", "unsigned.txt", request("POST", "/", base, body))
    write("sigv4", "malformed.txt", request("POST", "/", base + [
        ("Authorization", "AWS4-HMAC-SHA256 Credential=%s/%s/us-east-1, Signature=zz" %
         (key_id, date))], body))
    write("sigv4", "unknown-key.txt", request("POST", "/", base + [
        ("Authorization", "AWS4-HMAC-SHA256 Credential=AKIANOTOURS/%s/us-east-1/rekognition/"
         "aws4_request, SignedHeaders=host;x-amz-date, Signature=%s" % (date, "0" * 64))], body))


def server():
    """Requests as fuzz_server.c reads them, to a server on loopback without keys."""
    def request(method, target, headers=(), body=b""):
        head = "%s %s\n" % (method, target) + "".join("%s: %s\n" % h for h in headers)
        return head.encode() + b"\n" + body

    def call(op, body, host="127.0.0.1:8080", ctype="application/x-amz-json-1.1"):
        return request("POST", "/", [("Host", host), ("Content-Type", ctype),
                                     ("X-Amz-Target", "RekognitionService." + op)],
                       json.dumps(body).encode())

    seeds = {
        "create.txt": call("CreateCollection", {"CollectionId": "c1"}),
        "list.txt": call("ListCollections", {"MaxResults": 3}, host="localhost"),
        "index.txt": call("IndexFaces", {"CollectionId": "c1", "Image": {"Bytes": "AAAA"}},
                          host="[::1]:8080"),
        "detect.txt": call("DetectFaces", {"Image": {"Bytes": "/9j/4AAQ"}},
                           ctype="application/json; charset=utf-8"),
        "remote-host.txt": call("ListCollections", {}, host="mien.example.com"),
        "unknown-op.txt": call("DescribeAlbums", {}),
        "bad-json.txt": request("POST", "/", [("Host", "localhost"),
                                              ("Content-Type", "application/x-amz-json-1.1"),
                                              ("X-Amz-Target",
                                               "RekognitionService.ListFaces")], b'{"Col'),
        "text-body.txt": call("ListFaces", {"CollectionId": "c1"}, ctype="text/plain"),
        "index-page.txt": request("GET", "/", [("Host", "localhost")]),
        "file.txt": request("GET", "/app.js"),
        "space.txt": request("GET", "/sub/a b.txt"),
        "head.txt": request("HEAD", "/index.html"),
        "dotdot.txt": request("GET", "/../secret.txt"),
        "link-out.txt": request("GET", "/escape.txt"),
        "dir-link-out.txt": request("GET", "/up/secret.txt"),
        "delete.txt": request("DELETE", "/"),
        "post-path.txt": call("ListCollections", {}).replace(b"POST /", b"POST /api", 1),
    }
    for name, data in seeds.items():
        write("server", name, data)


if __name__ == "__main__":
    images()
    models()
    api()
    sigv4()
    server()
