#!/usr/bin/env bash
# test_video.sh - faces in stored video (docs/video.md), on clips Debian's ffmpeg makes here from
# still photos: known people on screen at known times.
#   CLI      `mien video detect|search` on short clips in every container and codec mien reads
#            (H.264/MOV, HEVC/MKV, VP8 and VP9/WebM, AV1/MKV, MPEG-4 and MJPEG/AVI): a face at
#            every sample, two tracks with their own Person.Index and the right matches; a
#            phone clip stored sideways with rotation metadata is read upright;
#   bad input  zero-length, truncated, corrupt, unsupported codec, 16384x16384 frames and a
#            10-hour duration claim each end FAILED with a clear message (never a crash or hang);
#   server   boto3 polls start_face_search/get_face_search as AWS's examples do over a 2-minute
#            720p clip: each enrolled person matched at their times, no false match at 80;
#            face detection with ClientRequestToken idempotency, aws-cli for the refusals
#            (streaming operations, bad requests), a job surviving kill -9 of the server, and
#            results deleted after their retention.
# Photos: tests/data. Exit 77 (skipped) without ffmpeg.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=tests/lib.sh
source "$ROOT/tests/lib.sh"

# ---- the photos: the one place that chooses them ----
# Two enrolled people, each enrolled from a photo that is not in the video (tests/data/README.md:
# Collins from collins-3.jpg, Hopper from her face in group.jpg, the largest there), and one
# never enrolled (the cameraman, near profile).
A=Collins B=Hopper
A_ENROL=$PHOTOS/collins-3.jpg A1=$PHOTOS/collins.jpg A2=$PHOTOS/collins-2.jpg
B_ENROL=$PHOTOS/group.jpg B1=$PHOTOS/hopper.jpg B2=$PHOTOS/hopper-2.jpg
U1=$PHOTOS/camera.jpg U2=$PHOTOS/camera.jpg

command -v ffmpeg >/dev/null || { echo "SKIP: no ffmpeg (scripts/install-deps installs it)"; exit 77; }
require_mien
VIDS=$TMP/vids
mkdir -p "$VIDS"
: >"$VIDS/empty.mp4" # a zero-length "video", which the CLI and the server jobs refuse

# clip OUT W H FPS "ENCODER ARGS" SEGMENT...: a video of still photos, SEGMENT = PHOTO:SECONDS
# (or blank:SECONDS), each photo scaled to 6/10 of the shorter side and centred.
clip() {
  local out=$1 w=$2 h=$3 fps=$4 enc=$5
  shift 5
  local inputs=() filters="" labels="" i=0 seg
  for seg in "$@"; do
    local photo=${seg%:*} secs=${seg##*:}
    if [[ $photo == blank ]]; then
      inputs+=(-f lavfi -t "$secs" -i "color=gray:s=${w}x${h}:r=$fps")
    else
      inputs+=(-loop 1 -t "$secs" -framerate "$fps" -i "$photo")
    fi
    filters+="[$i]scale=-2:$(((w < h ? w : h) * 6 / 10)),pad=$w:$h:(ow-iw)/2:(oh-ih)/2,setsar=1,fps=$fps,format=yuv420p[v$i];"
    labels+="[v$i]"
    i=$((i + 1))
  done
  # shellcheck disable=SC2086
  nice -n 10 ffmpeg -hide_banner -loglevel error -y "${inputs[@]}" \
    -filter_complex "${filters}${labels}concat=n=$i:v=1[out]" -map "[out]" $enc "$out" 2>"$TMP/ffmpeg.err" ||
    { cat "$TMP/ffmpeg.err"; return 1; }
}

# ---- CLI: containers and codecs ----
export MIEN_DATA=$TMP/cli
run "collection create" 0 "$MIEN" collection create people && ok "collection create"
run "index A" 0 "$MIEN" index people "$A_ENROL" --external-id "$A" && ok "index $A"
run "index B" 0 "$MIEN" index people "$B_ENROL" --external-id "$B" --max-faces 1 && ok "index $B"

# search_clip NAME FILE: 2 s of A then 2 s of B in FILE; one track each, matched.
search_clip() {
  run "search $1" 0 "$MIEN" video search people "$2" || return
  check "$1: two tracks, A then B, each matched, timestamps 200 ms apart" '
    [p["Person"]["Index"] for p in r["Persons"]] == [0] * 10 + [1] * 10 and
    [p["Timestamp"] for p in r["Persons"]] == list(range(0, 4000, 200)) and
    all(p["FaceMatches"][0]["Face"]["ExternalImageId"] == ("'"$A"'" if p["Timestamp"] < 2000 else "'"$B"'")
        for p in r["Persons"])'
}
for spec in "h264.mov|-c:v libx264 -preset veryfast|h264" "hevc.mkv|-c:v libx265 -preset ultrafast -x265-params log-level=none|hevc" \
  "vp8.webm|-c:v libvpx -deadline realtime -b:v 1M|vp8" "vp9.webm|-c:v libvpx-vp9 -deadline realtime -cpu-used 8 -b:v 1M|vp9" \
  "av1.mkv|-c:v libsvtav1 -preset 12|libdav1d" "mpeg4.avi|-c:v mpeg4 -q:v 3|mpeg4" "mjpeg.avi|-c:v mjpeg -q:v 3|mjpeg"; do
  IFS='|' read -r name enc codec <<<"$spec"
  [[ $name == h264.mov ]] || store_once "$name: the clip searched" || continue
  clip "$VIDS/$name" 640 360 25 "$enc" "$A1:2" "$B1:2" || { bad "ffmpeg $name" "could not encode"; continue; }
  search_clip "$name" "$VIDS/$name"
  grep -q "\"Codec\":\"$codec\"" "$TMP/out" && ok "$name: Codec $codec" || bad "$name codec" "$(head -c 300 "$TMP/out")"
done

# On PostgreSQL the rest of the CLI part (rotation, --stream, bad input: `mien video detect`,
# which opens no store) is the SQLite run's.
store_free "CLI: rotation, --stream, bad input" && {
# The phone clip: portrait frames stored sideways (turned 90 degrees counter-clockwise), with the
# display matrix that turns them back (ffmpeg 5.1 writes it for the tag rotate=270 and shows the
# result upright itself).
clip "$VIDS/upright.mp4" 720 1280 25 "-c:v libx264 -preset veryfast" "$A1:2" "$B1:2"
nice -n 10 ffmpeg -hide_banner -loglevel error -y -i "$VIDS/upright.mp4" -vf transpose=2 -c:v libx264 \
  -preset veryfast "$VIDS/sideways.mp4"
nice -n 10 ffmpeg -hide_banner -loglevel error -y -i "$VIDS/sideways.mp4" -c copy -metadata:s:v:0 rotate=270 \
  "$VIDS/phone.mp4"
search_clip "phone clip (display matrix)" "$VIDS/phone.mp4"
check "phone clip: VideoMetadata is upright 720x1280" 'r["VideoMetadata"]["FrameWidth"] == 720 and r["VideoMetadata"]["FrameHeight"] == 1280'
run "detect sideways" 0 "$MIEN" video detect "$VIDS/sideways.mp4"
check "the same frames without the rotation find no upright faces (the test can fail)" 'len(r["Faces"]) < 10'

run "detect --stream" 0 "$MIEN" video detect "$VIDS/h264.mov" --stream --stats
"$PY" -c 'import json,sys
lines = [json.loads(l) for l in open(sys.argv[1])]
assert [l["Timestamp"] for l in lines[:-1]] == list(range(0, 4000, 200)), lines[:3]
assert lines[-1]["JobStatus"] == "SUCCEEDED" and "Faces" not in lines[-1]' "$TMP/out" &&
  ok "--stream: one line per face as found, the status last" || bad "--stream" "$(head -c 300 "$TMP/out")"
grep -q '"demux_decode_ms"' "$TMP/err" && ok "--stats on stderr" || bad "--stats" "$(cat "$TMP/err")"

# ---- bad input: each a clear FAILED, exit 3 ----
failed_with() { # NAME FILE WORDS: FAILED, exit 3, StatusMessage containing WORDS
  run "$1" 3 "$MIEN" video detect "$2" --budget 60 || return
  check "$1: FAILED, saying '$3'" 'r["JobStatus"] == "FAILED" and "'"$3"'" in r["StatusMessage"]'
}
failed_with "zero-length" "$VIDS/empty.mp4" "not a video"
nice -n 10 ffmpeg -hide_banner -loglevel error -y -i "$VIDS/h264.mov" -c copy "$VIDS/moov-last.mp4"
head -c $(($(stat -c %s "$VIDS/moov-last.mp4") / 2)) "$VIDS/moov-last.mp4" >"$VIDS/truncated.mp4"
failed_with "truncated (no index)" "$VIDS/truncated.mp4" "video"
nice -n 10 ffmpeg -hide_banner -loglevel error -y -f lavfi -i color=gray:s=320x240:d=1 -c:v ffv1 "$VIDS/ffv1.mkv"
failed_with "unsupported codec (FFV1)" "$VIDS/ffv1.mkv" "unsupported codec ffv1"
# 16384x16384 frames: an MJPEG AVI whose headers and JPEG frame headers are rewritten (encoding a
# real one would take minutes and gigabytes).
"$PY" - "$VIDS/mjpeg.avi" "$VIDS/huge.avi" <<'EOF'
import struct, sys
b = bytearray(open(sys.argv[1], "rb").read())
avih = b.find(b"avih") + 8
struct.pack_into("<II", b, avih + 32, 16384, 16384)       # dwWidth, dwHeight
strf = b.find(b"strf") + 8
struct.pack_into("<ii", b, strf + 4, 16384, 16384)        # biWidth, biHeight
i = -1
while (i := b.find(b"\xff\xc0", i + 1)) >= 0:               # each frame's SOF0: length, precision
    struct.pack_into(">HH", b, i + 5, 16384, 16384)        # height, width
open(sys.argv[2], "wb").write(b)
EOF
failed_with "16384x16384 frames" "$VIDS/huge.avi" "16384x16384"
# A 10-hour duration claim: the movie header's duration rewritten.
"$PY" - "$VIDS/moov-last.mp4" "$VIDS/tenhours.mp4" <<'EOF'
import struct, sys
b = bytearray(open(sys.argv[1], "rb").read())
for box in (b"mvhd", b"mdhd", b"tkhd"):
    i = -1
    while (i := b.find(box, i + 1)) >= 0:
        v = b[i + 4]
        if box == b"tkhd":   # version, flags, created, modified, track id, reserved, duration
            struct.pack_into(">I", b, i + 4 + 20, 3600 * 10 * 1000)
        else:                # version, flags, created, modified, timescale, duration
            ts = struct.unpack_from(">I", b, i + 4 + 12)[0]
            struct.pack_into(">I", b, i + 4 + 16, ts * 36000)
open(sys.argv[2], "wb").write(b)
EOF
failed_with "10-hour duration claim" "$VIDS/tenhours.mp4" "10.0 hours"
"$PY" -c 'import sys, random
b = bytearray(open(sys.argv[1], "rb").read()); random.seed(7)
for i in range(len(b) // 3, len(b), 97): b[i] = random.randrange(256)
open(sys.argv[2], "wb").write(b)' "$VIDS/h264.mov" "$VIDS/corrupt.mov"
timeout 120 "$MIEN" video detect "$VIDS/corrupt.mov" --budget 60 >"$TMP/out" 2>"$TMP/err"
rc=$?
[[ $rc == 0 || $rc == 3 ]] && ok "corrupt container: ends (exit $rc), no crash or hang" || bad "corrupt" "exit $rc: $(head -c 300 "$TMP/err")"
}

# ---- the server: boto3 and aws-cli ----
PY=/usr/bin/python3
if ! $PY -c 'import boto3' 2>/dev/null; then
  echo "$pass passed, $fail failed (server cases skipped: no boto3)"
  [[ $fail == 0 ]]
  exit
fi
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_EC2_METADATA_DISABLED=true
SERVER_DATA=$TMP/serve
store_reset
run "keys add" 0 "$MIEN" --data "$SERVER_DATA" keys add video && ok "keys add"
KEY_ID=$(json_get 'r["AccessKeyId"]')
SECRET=$(json_get 'r["SecretAccessKey"]')
export AWS_ACCESS_KEY_ID=$KEY_ID AWS_SECRET_ACCESS_KEY=$SECRET AWS_DEFAULT_REGION=us-east-1
MIEN_DATA=$SERVER_DATA "$MIEN" collection create people >/dev/null
MIEN_DATA=$SERVER_DATA "$MIEN" index people "$A_ENROL" --external-id "$A" >/dev/null 2>&1
MIEN_DATA=$SERVER_DATA "$MIEN" index people "$B_ENROL" --external-id "$B" --max-faces 1 >/dev/null 2>&1

# The 2-minute 720p clip: A, nobody, B, an unenrolled face, A and B again (other photos). Under
# the sanitizers (several times slower) it is a quarter as long.
SEGMENTS=("$A1:20:$A" "blank:10:" "$B1:20:$B" "$U1:15:" "$A2:20:$A" "$U2:10:" "$B2:25:$B")
sanitized_build && SEGMENTS=("$A1:5:$A" "blank:3:" "$B1:5:$B" "$U1:4:" "$A2:5:$A" "$U2:3:" "$B2:5:$B")
specs=() json="" at=0
for seg in "${SEGMENTS[@]}"; do
  IFS=: read -r photo secs who <<<"$seg"
  specs+=("$photo:$secs")
  person=null
  [[ -n $who ]] && person="\"$who\""
  json+="${json:+, }{\"start\": $at, \"end\": $((at + secs * 1000)), \"person\": $person}"
  at=$((at + secs * 1000))
done
clip "$VIDS/two-minutes.mp4" 1280 720 25 "-c:v libx264 -preset veryfast" "${specs[@]}"
echo "{\"clip\": \"two-minutes.mp4\", \"collection\": \"people\", \"segments\": [$json]}" >"$TMP/expect-search.json"
cat >"$TMP/expect-detect.json" <<EOF
{"clip": "h264.mov", "faces_from_ms": [[0, 3800]]}
EOF

boto3_video() {
  $PY "$ROOT/tests/server/boto3_video.py" "$1" "$URL" "$KEY_ID" "$SECRET" vids "$2" >"$TMP/py.out" 2>&1
  local rc=$?
  cat "$TMP/py.out"
  pass=$((pass + $(grep -c '^ok' "$TMP/py.out")))
  fail=$((fail + $(grep -c '^FAIL' "$TMP/py.out")))
  [[ $rc == 0 ]] || grep -q '^FAIL' "$TMP/py.out" || bad "boto3_video.py $1" "exit $rc"
}
# Debian's aws-cli v2, its calls in one Python process (tests/server/aws_batch.py).
aws_batch_start /usr/bin/python3 || { echo "$pass passed, $((fail + 1)) failed"; exit 1; }
aws_() { aws_batch rekognition --endpoint-url "$URL" "$@"; }

start_server --bucket "vids=$VIDS" --purge-interval 1 || { echo "$pass passed, $((fail + 1)) failed"; exit 1; }
t0=$(date +%s)
boto3_video search "$TMP/expect-search.json"
echo "   (2-minute search job: $(($(date +%s) - t0)) s on this machine)"
boto3_video detect "$TMP/expect-detect.json"

expect_aws() { # NAME ERROR ARGS...
  local name=$1 want=$2
  shift 2
  aws_ "$@" >"$TMP/out" 2>"$TMP/err" && { bad "$name" "succeeded"; return; }
  grep -q "$want" "$TMP/err" && ok "$name" || bad "$name" "no $want in $(head -c 300 "$TMP/err")"
}
store_free "aws-cli refusals before any store call" && {
expect_aws "streaming: list-stream-processors refused, saying why" "no live camera" list-stream-processors
expect_aws "streaming: describe-stream-processor refused" "AccessDeniedException" describe-stream-processor \
  --name cam
expect_aws "no such object: InvalidS3ObjectException" InvalidS3ObjectException start-face-detection \
  --video "S3Object={Bucket=vids,Name=missing.mp4}"
expect_aws "a name leaving the bucket: InvalidS3ObjectException" InvalidS3ObjectException start-face-detection \
  --video "S3Object={Bucket=vids,Name=../serve/mien.db}"
}
expect_aws "no such collection: ResourceNotFoundException" ResourceNotFoundException start-face-search \
  --video "S3Object={Bucket=vids,Name=h264.mov}" --collection-id nobody
expect_aws "unknown JobId: ResourceNotFoundException" ResourceNotFoundException get-face-detection --job-id nosuchjob

# aws-cli: a job per bad input, each FAILED with its message; NotificationChannel accepted.
job_status() { # FILE -> prints the final GetFaceDetection JSON in $TMP/out
  local id
  id=$(aws_ start-face-detection --video "S3Object={Bucket=vids,Name=$1}" \
    --notification-channel SNSTopicArn=arn:aws:sns:us-east-1:123456789012:t,RoleArn=arn:aws:iam::123456789012:role/r \
    --query JobId --output text) || return 1
  for _ in $(seq 1 120); do
    aws_ get-face-detection --job-id "$id" >"$TMP/out" 2>"$TMP/err"
    grep -q '"IN_PROGRESS"' "$TMP/out" || return 0
    sleep 1
  done
}
for spec in "empty.mp4:not a video" "ffv1.mkv:unsupported codec" "huge.avi:16384x16384" "tenhours.mp4:10.0 hours" \
  "truncated.mp4:video"; do
  [[ $spec == empty.mp4:* ]] || store_once "job on ${spec%%:*}" || continue
  job_status "${spec%%:*}" && check "job on ${spec%%:*}: FAILED (${spec#*:})" \
    'r["JobStatus"] == "FAILED" and "'"${spec#*:}"'" in r["StatusMessage"]' || bad "job ${spec%%:*}" "$(cat "$TMP/err")"
done

# A job survives kill -9: queued again at start and run to the end. The kill lands once the job
# thread has claimed the job (RUNNING in the store), however fast this machine runs the clip.
id=$(aws_ start-face-detection --video "S3Object={Bucket=vids,Name=two-minutes.mp4}" --query JobId --output text)
job_running() { [[ $(store_rows "$SERVER_DATA" "SELECT state FROM video_jobs WHERE job_id = '$1'" 2>/dev/null) == RUNNING ]]; }
for _ in $(seq 1 300); do
  job_running "$id" && break
  sleep 0.1
done
kill -9 "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null; SERVER_PID=
start_server --bucket "vids=$VIDS" --purge-interval 1
grep -q '"requeued":1' "$TMP/server.log" && ok "kill -9 mid-job: requeued at start" || bad "requeue" "$(tail -c 400 "$TMP/server.log")"
for _ in $(seq 1 300); do
  aws_ get-face-detection --job-id "$id" --max-results 5 >"$TMP/out" 2>&1
  grep -q '"IN_PROGRESS"' "$TMP/out" || break
  sleep 1
done
check "the requeued job SUCCEEDED, paged (MaxResults 5, NextToken)" 'r["JobStatus"] == "SUCCEEDED" and len(r["Faces"]) == 5 and r["NextToken"] == "5"'
expect_aws "bad NextToken: InvalidPaginationTokenException" InvalidPaginationTokenException get-face-detection \
  --job-id "$id" --next-token x

# Results go after their retention: 8 days later (server and client alike: libfaketime), the
# next purge deletes the jobs.
stop_server
clock_export "+8d"
start_server --bucket "vids=$VIDS" --purge-interval 1
sleep 3
expect_aws "after 8 days the job and its results are gone" ResourceNotFoundException get-face-detection --job-id "$id"
stop_server
clock_unexport
"$MIEN" --data "$SERVER_DATA" audit export >"$TMP/audit"
grep -q '"op":"StartFaceSearch".*"matches"' "$TMP/audit" && ok "the video search is audited (counts, no FaceIds)" ||
  bad "audit" "$(grep StartFaceSearch "$TMP/audit" | head -3)"
grep -q '"op":"VideoJobPurge"' "$TMP/audit" && ok "the purge is audited" || bad "purge audit" "$(tail -3 "$TMP/audit")"
"$MIEN" --data "$SERVER_DATA" audit verify >/dev/null && ok "audit chain verifies" || bad "audit verify" "$(cat "$TMP/out")"

echo "$pass passed, $fail failed"
[[ $fail == 0 ]]
