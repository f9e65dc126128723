#!/usr/bin/env python3
"""gen.py - writes the hostile inputs of tests/test_hostile_{cli,server}.sh into a folder.

usage: gen.py OUT_DIR PHOTO   (PHOTO: a real JPEG with one face, e.g. tests/data/collins.jpg)

The inputs are made at test time, not committed: corrupt files are cut from PHOTO, and the
synthetic images (CMYK, 1x1, 12000x12000, a PNG declaring 100000x100000) come from the two
small encoders below, which need only the standard library (no PIL or ImageMagick in the
dependencies). A flat-colour JPEG is easy to encode by hand: with every AC coefficient zero
and one Huffman code of one bit for "DC unchanged" and for "end of block", each block after
the first costs two zero bits, so a 12000x12000 image is 1.7 MB of mostly zero bytes.

It writes two tables the tests read, tab-separated, and one request body per entry:
  images.tsv    NAME FILE DETECT COMPARE   what DetectFaces answers for FILE, and CompareFaces
                                           with FILE as the source and PHOTO as the target
  requests.tsv  NAME OPERATION BODY SERVER CLI   JSON requests, as `mien serve` and `mien call`
                                                 answer them
An answer is "ok" or a Rekognition __type; "a|b" accepts either; "usage" is the CLI's exit 2
(bad command line). Every image also gets NAME.detect.json, NAME.compare.json and
NAME.index.json (IndexFaces into the collection "hostile", answered as DetectFaces) bodies.
"""
import base64
import json
import os
import random
import struct
import sys
import zlib

IIFE = "InvalidImageFormatException"
TOO_LARGE = "ImageTooLargeException"
IPE = "InvalidParameterException"
SERIAL = "SerializationException"


# ---- a flat-colour baseline JPEG ----


def _bits_of(v):
    """JPEG's (category, bits) of a DC difference."""
    cat = abs(v).bit_length()
    return cat, format(v if v >= 0 else v + (1 << cat) - 1, "0%db" % cat) if cat else ""


def _segment(marker, payload):
    return struct.pack(">BBH", 0xFF, marker, len(payload) + 2) + payload


def flat_jpeg(w, h, samples, adobe=False):
    """A w x h JPEG whose every pixel has these component samples (1: grey, 3: YCbCr, 4: CMYK
    with an Adobe APP14 marker when adobe)."""
    nc = len(samples)
    # All quantisers 1: a flat block's DC coefficient is 8 * (sample - 128), AC all zero.
    dcs = [8 * (s - 128) for s in samples]
    cats = sorted({_bits_of(d)[0] for d in dcs} - {0})
    # DC codes: category 0 is "0"; the others share the shortest length that keeps them off the
    # all-ones code JPEG forbids. AC: end-of-block alone, "0".
    length = 2
    while (1 << (length - 1)) - 1 < len(cats):
        length += 1
    dc_code = {0: "0"}
    for i, c in enumerate(cats):
        dc_code[c] = format((1 << (length - 1)) + i, "0%db" % length)
    counts = [0] * 16
    counts[0] = 1
    counts[length - 1] += len(cats)
    dht = bytes([0x00]) + bytes(counts) + bytes([0] + cats)
    dht += bytes([0x10]) + bytes([1] + [0] * 15) + bytes([0])

    out = bytearray(b"\xff\xd8")
    if adobe:  # version 100, flags 0, transform 0: the components are CMYK as stored
        out += _segment(0xEE, b"Adobe" + struct.pack(">HHHB", 100, 0, 0, 0))
    out += _segment(0xDB, bytes([0]) + bytes([1] * 64))
    comps = b"".join(bytes([i + 1, 0x11, 0]) for i in range(nc))
    out += _segment(0xC0, struct.pack(">BHHB", 8, h, w, nc) + comps)
    out += _segment(0xC4, dht)
    out += _segment(0xDA, bytes([nc]) + b"".join(bytes([i + 1, 0x00]) for i in range(nc)) + b"\x00\x3f\x00")

    head = ""
    for d in dcs:
        cat, bits = _bits_of(d)
        head += dc_code[cat] + bits + "0"
    zeros = 2 * (((w + 7) // 8) * ((h + 7) // 8) - 1) * nc  # "00" for every later block
    fill = min((-len(head)) % 8, zeros)
    head += "0" * fill
    zeros -= fill
    head += "1" * ((-len(head)) % 8)  # only when the zeros ran out: pad with ones
    for i in range(0, len(head), 8):
        b = int(head[i : i + 8], 2)
        out += bytes([b, 0]) if b == 0xFF else bytes([b])
    out += bytes(zeros // 8)
    if zeros % 8:
        out += bytes([(1 << (8 - zeros % 8)) - 1])
    out += b"\xff\xd9"
    return bytes(out)


# ---- PNG ----


def png(w, h, rows):
    """An 8-bit RGB PNG declaring w x h, whose IDAT holds `rows` (already filtered) rows."""

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


# ---- cuts of a real photo ----


def segments(jpeg):
    """{marker: offset of its 0xFF} for the segments before the scan, and where the scan starts."""
    at, i = {}, 2
    while i + 4 <= len(jpeg) and jpeg[i] == 0xFF:
        marker, n = jpeg[i + 1], struct.unpack(">H", jpeg[i + 2 : i + 4])[0]
        at.setdefault(marker, i)
        i += 2 + n
        if marker == 0xDA:
            return at, i
    raise SystemExit("gen.py: cannot find the scan of the photo")


def patched(jpeg, fixes):
    b = bytearray(jpeg)
    for off, val in fixes:
        b[off] = val
    return bytes(b)


def main():
    out, photo_path = sys.argv[1], sys.argv[2]
    photo = open(photo_path, "rb").read()
    at, scan = segments(photo)
    sof = at.get(0xC0, at.get(0xC2))  # precision at +4, height +5, width +7, count +9, comps +10
    if sof is None or 0xC4 not in at:
        raise SystemExit("gen.py: the photo needs a baseline or progressive frame and a DHT")
    any_of = "ok|%s|%s|%s" % (IIFE, TOO_LARGE, IPE)
    images = [
        # name, bytes, DetectFaces, CompareFaces (as the source)
        ("truncated-half", photo[: len(photo) // 2], IIFE, IIFE),
        ("truncated-in-headers", photo[: scan - 40], IIFE, IIFE),
        ("truncated-after-soi", photo[:3], IIFE, IIFE),
        # libjpeg decodes past corrupt entropy data (viewers show such files): answered or refused.
        ("corrupt-scan", patched(photo, [(o, photo[o] ^ 0x55) for o in range(scan + 100, len(photo) - 2, 997)]),
         "ok|" + IIFE, "ok|%s|%s" % (IIFE, IPE)),
        ("corrupt-sof-precision", patched(photo, [(sof + 4, 13)]), IIFE, IIFE),
        ("corrupt-sof-sampling", patched(photo, [(sof + 11, 0)]), IIFE, IIFE),
        ("corrupt-sof-components", patched(photo, [(sof + 9, 0)]), IIFE, IIFE),
        ("corrupt-sof-zero-height", patched(photo, [(sof + 5, 0), (sof + 6, 0)]), IIFE, IIFE),
        ("corrupt-sof-65000", patched(photo, [(sof + 5, 0xFD), (sof + 6, 0xE8), (sof + 7, 0xFD), (sof + 8, 0xE8)]),
         TOO_LARGE, TOO_LARGE),
        ("corrupt-dht-counts", patched(photo, [(at[0xC4] + 5 + k, 0xFF) for k in range(16)]), IIFE, IIFE),
        ("cmyk-320x240", flat_jpeg(320, 240, [30, 200, 90, 10], adobe=True), "ok", IPE),
        ("grey-320x240", flat_jpeg(320, 240, [77]), "ok", IPE),
        ("ycbcr-320x240", flat_jpeg(320, 240, [180, 90, 160]), "ok", IPE),
        ("one-pixel-jpeg", flat_jpeg(1, 1, [128, 128, 128]), IPE, IPE),
        ("one-pixel-png", png(1, 1, b"\x00\x10\x20\x30"), IPE, IPE),
        ("jpeg-12000x12000", flat_jpeg(12000, 12000, [120, 128, 128]), TOO_LARGE, TOO_LARGE),
        ("png-100000x100000", png(100000, 100000, bytes(1 + 3 * 100)), TOO_LARGE, TOO_LARGE),
        ("zero-bytes", b"", IIFE, IIFE),
        ("plain-text", b"This is not an image, it is a sentence.\n" * 20, IIFE, IIFE),
        ("over-5-mib", photo + bytes((5 << 20) + 1000 - len(photo)), TOO_LARGE, TOO_LARGE),
    ]
    # Random bytes flipped in the headers: whatever they become, an answer and no crash.
    for seed in range(1, 7):
        rng = random.Random(seed)
        fixes = [(o, photo[o] ^ rng.randrange(1, 256)) for o in rng.sample(range(2, scan), 8)]
        images.append(("fuzz-headers-%d" % seed, patched(photo, fixes), any_of, any_of))

    def image_json(data):
        return {"Bytes": base64.b64encode(data).decode()}

    def write(name, data):
        with open(os.path.join(out, name), "wb" if isinstance(data, bytes) else "w") as f:
            f.write(data)

    target = image_json(photo)
    with open(os.path.join(out, "images.tsv"), "w") as tsv:
        for name, data, detect, compare in images:
            write(name + ".img", data)
            write(name + ".detect.json", json.dumps({"Image": image_json(data)}))
            write(name + ".compare.json", json.dumps({"SourceImage": image_json(data), "TargetImage": target}))
            write(name + ".index.json", json.dumps({"CollectionId": "hostile", "Image": image_json(data)}))
            tsv.write("%s\t%s.img\t%s\t%s\n" % (name, name, detect, compare))
    write("valid.detect.json", json.dumps({"Image": target}))

    # Requests whose JSON is wrong. The collection "hostile" exists when they run.
    c = {"CollectionId": "hostile"}
    requests = [
        # name, operation, body (str: sent as is), server answer, CLI answer
        ("bad-base64", "DetectFaces", {"Image": {"Bytes": "@@not base64!!"}}, IPE, IPE),
        ("base64-with-spaces", "DetectFaces", {"Image": {"Bytes": "QUJD REVG"}}, IPE, IPE),
        ("bytes-and-s3", "DetectFaces", {"Image": dict(target, S3Object={"Bucket": "b", "Name": "n"})}, IPE, IPE),
        ("collection-id-number", "ListFaces", {"CollectionId": 5}, IPE, IPE),
        ("collection-id-object", "DescribeCollection", {"CollectionId": {"a": 1}}, IPE, IPE),
        ("collection-id-300-chars", "CreateCollection", {"CollectionId": "a" * 300}, IPE, IPE),
        ("collection-id-nul", "CreateCollection", {"CollectionId": "a\u0000b"}, IPE, IPE),
        ("collection-id-pattern", "CreateCollection", {"CollectionId": "../../etc"}, IPE, IPE),
        ("max-faces-string", "IndexFaces", dict(c, Image=target, MaxFaces="3"), IPE, IPE),
        ("max-faces-zero", "IndexFaces", dict(c, Image=target, MaxFaces=0), IPE, IPE),
        ("max-results-huge", "ListFaces", dict(c, MaxResults=1e308), IPE, IPE),
        ("max-results-fraction", "ListFaces", dict(c, MaxResults=2.5), IPE, IPE),
        ("image-array", "DetectFaces", {"Image": [1, 2]}, IPE, IPE),
        ("image-string", "DetectFaces", {"Image": "lennon.jpg"}, IPE, IPE),
        ("image-bytes-number", "DetectFaces", {"Image": {"Bytes": 12}}, IPE, IPE),
        ("attributes-string", "DetectFaces", {"Image": target, "Attributes": "ALL"}, IPE, IPE),
        ("attributes-unknown", "DetectFaces", {"Image": target, "Attributes": ["AGE"]}, IPE, IPE),
        ("threshold-string", "SearchFacesByImage", dict(c, Image=target, FaceMatchThreshold="high"), IPE, IPE),
        ("threshold-negative", "SearchFacesByImage", dict(c, Image=target, FaceMatchThreshold=-1), IPE, IPE),
        ("face-ids-string", "DeleteFaces", dict(c, FaceIds="abc"), IPE, IPE),
        ("face-ids-not-uuid", "DeleteFaces", dict(c, FaceIds=["abc"]), IPE, IPE),
        ("face-ids-empty", "DeleteFaces", dict(c, FaceIds=[]), IPE, IPE),
        ("tags-array", "CreateCollection", {"CollectionId": "tagged", "Tags": [1, 2]}, IPE, IPE),
        ("missing-image", "DetectFaces", {}, IPE, IPE),
        ("missing-collection-id", "ListFaces", {}, IPE, IPE),
        ("missing-face-ids", "DeleteFaces", c, IPE, IPE),
        ("missing-target-image", "CompareFaces", {"SourceImage": target}, IPE, IPE),
        ("body-array", "DetectFaces", "[1, 2, 3]", SERIAL, SERIAL),
        ("body-null", "ListCollections", "null", SERIAL, SERIAL),
        ("invalid-json", "DetectFaces", '{"Image": {"Bytes": ', SERIAL, SERIAL),
        ("nested-100000", "ListCollections", "[" * 100000, SERIAL, SERIAL),
        ("unknown-operation", "DetectLabels", {"Image": target}, "UnknownOperationException", "usage"),
    ]
    with open(os.path.join(out, "requests.tsv"), "w") as tsv:
        for name, op, body, server, cli in requests:
            write(name + ".json", body if isinstance(body, str) else json.dumps(body))
            tsv.write("%s\t%s\t%s.json\t%s\t%s\n" % (name, op, name, server, cli))


if __name__ == "__main__":
    main()
