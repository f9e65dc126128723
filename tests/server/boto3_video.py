"""boto3_video.py - Rekognition Video's face operations through Debian's boto3, polled the way
AWS's own example code polls (start, then get until JobStatus leaves IN_PROGRESS, then page
through the results with MaxResults and NextToken, starting from NextToken '').

    /usr/bin/python3 tests/server/boto3_video.py MODE URL KEY_ID SECRET BUCKET EXPECT.json

MODE search: EXPECT.json is {"clip": NAME, "collection": C, "step_ms": 200, "segments":
[{"start": ms, "end": ms, "person": EXTERNAL_ID or null}, ...]}: every enrolled person must be
matched (FaceMatchThreshold 80) in their own segments, at their times (within one sampling
step), nowhere else, and an unenrolled face never. Prints ok/FAIL lines like boto3_ops.py.
MODE detect: EXPECT.json is {"clip": NAME, "faces_from_ms": [[start, end], ...]}.
"""
import json
import sys
import time

import boto3
from botocore.config import Config

import checks
from checks import check, finish

mode, url, key_id, secret, bucket, expect_file = sys.argv[1:7]
expect = json.load(open(expect_file))
rek = boto3.client("rekognition", endpoint_url=url, region_name="us-east-1",
                   aws_access_key_id=key_id, aws_secret_access_key=secret,
                   config=Config(retries={"max_attempts": 10}))


def wait(get, job_id, timeout=600):
    """AWS's example loop: poll until the job is no longer IN_PROGRESS."""
    deadline = time.time() + timeout
    while True:
        status = get(JobId=job_id, MaxResults=1)["JobStatus"]
        if status != "IN_PROGRESS" or time.time() > deadline:
            return status
        time.sleep(1)


def pages(get, job_id, field, **kw):
    """Every result, 100 per call, following NextToken from ''."""
    token, out, calls = "", [], 0
    while True:
        r = get(JobId=job_id, MaxResults=100, NextToken=token, **kw)
        out += r[field]
        calls += 1
        token = r.get("NextToken")
        if not token:
            return r, out, calls


video = {"S3Object": {"Bucket": bucket, "Name": expect["clip"]}}
step = expect.get("step_ms", 200)

if mode == "search":
    job = rek.start_face_search(Video=video, CollectionId=expect["collection"],
                                FaceMatchThreshold=80, JobTag="boto3-search")["JobId"]
    status = wait(rek.get_face_search, job)
    check("start_face_search: SUCCEEDED", status == "SUCCEEDED", status)
    last, persons, calls = pages(rek.get_face_search, job, "Persons", SortBy="TIMESTAMP")
    meta = last["VideoMetadata"]
    check("VideoMetadata: H.264, 1280x720, about 2 minutes",
          meta["Codec"] == "h264" and meta["FrameWidth"] == 1280 and meta["FrameHeight"] == 720
          and abs(meta["DurationMillis"] - expect["segments"][-1]["end"]) < 1000, meta)
    check("paged 100 at a time", calls == (len(persons) + 99) // 100 or calls == 1 + len(persons) // 100,
          (calls, len(persons)))
    ts = [p["Timestamp"] for p in persons]
    check("SortBy TIMESTAMP is in time order", ts == sorted(ts))

    def segment_of(t):
        return next((s for s in expect["segments"] if s["start"] <= t < s["end"]), None)

    def on_screen(t):
        """Who is on screen at t, give or take one sampling step."""
        return {s["person"] for s in expect["segments"] if s["start"] - step <= t < s["end"] + step} - {None}

    wrong, matched = [], {}
    for p in persons:
        names = {m["Face"].get("ExternalImageId") for m in p.get("FaceMatches", [])}
        for m in p.get("FaceMatches", []):
            if m["Similarity"] < 80:
                wrong.append(("below 80", p["Timestamp"], m["Similarity"]))
        if names - on_screen(p["Timestamp"]):
            wrong.append((p["Timestamp"], sorted(names), sorted(on_screen(p["Timestamp"]))))
        for n in names:
            matched.setdefault(n, []).append(p["Timestamp"])
    check("no false match at 80 (each match is the person on screen then)", not wrong, wrong[:5])
    for s in expect["segments"]:
        if not s["person"]:
            continue
        times = [t for t in matched.get(s["person"], []) if s["start"] - step <= t <= s["end"] + step]
        want = (s["end"] - s["start"]) // step
        check("%s found at %d-%d ms (%d of %d samples)" % (s["person"], s["start"], s["end"], len(times), want),
              len(times) >= 0.8 * want and min(times) <= s["start"] + step and max(times) >= s["end"] - 2 * step,
              times[:3] + times[-3:])
    # A person keeps one Index for as long as they stay on screen.
    by_seg = {}
    for p in persons:
        seg = segment_of(p["Timestamp"])
        if seg:
            by_seg.setdefault((seg["start"], seg["person"]), set()).add(p["Person"]["Index"])
    check("one Person.Index per appearance", all(len(v) == 1 for v in by_seg.values()), by_seg)
    idx = pages(rek.get_face_search, job, "Persons", SortBy="INDEX")[1]
    keys = [(p["Person"]["Index"], p["Timestamp"]) for p in idx]
    check("SortBy INDEX groups each person, in time", keys == sorted(keys) and len(idx) == len(persons))
    check("Person has BoundingBox and Face", all("BoundingBox" in p["Person"] and "Face" in p["Person"] for p in persons))

elif mode == "detect":
    token = "boto3-detect-1"
    job = rek.start_face_detection(Video=video, ClientRequestToken=token, FaceAttributes="ALL")["JobId"]
    again = rek.start_face_detection(Video=video, ClientRequestToken=token, FaceAttributes="ALL")["JobId"]
    check("same ClientRequestToken, same request: same JobId", job == again, (job, again))
    try:
        rek.start_face_detection(Video=video, ClientRequestToken=token, FaceAttributes="DEFAULT")
        check("same token, other request: IdempotentParameterMismatchException", False, "accepted")
    except rek.exceptions.IdempotentParameterMismatchException:
        check("same token, other request: IdempotentParameterMismatchException", True)
    status = wait(rek.get_face_detection, job)
    check("start_face_detection: SUCCEEDED", status == "SUCCEEDED", status)
    faces = pages(rek.get_face_detection, job, "Faces")[1]
    ts = sorted({f["Timestamp"] for f in faces})
    for a, b in expect["faces_from_ms"]:
        n = len([t for t in ts if a <= t <= b])
        check("faces every sample from %d to %d ms (%d)" % (a, b, n), n >= (b - a) // step - 1, ts[:10])
    check("FaceDetail has no demographic attributes with ALL",
          all(not set(f["Face"]) & {"AgeRange", "Gender", "Emotions", "Smile"} for f in faces))
    try:
        rek.get_face_search(JobId=job)
        check("a FaceDetection JobId is no FaceSearch job", False, "answered")
    except rek.exceptions.ResourceNotFoundException:
        check("a FaceDetection JobId is no FaceSearch job", True)

print("boto3 video: %d failed" % checks.failed)
finish()
