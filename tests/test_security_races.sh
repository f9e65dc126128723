#!/usr/bin/env bash
# test_security_races.sh - issue 19, point 1: Image.S3Object and the web page's files are opened
# once beneath their directory, so a local user who can write there cannot race a check. A
# swapper flips a bucket object and a web file between a regular file, symbolic links out of the
# directory (relative and absolute), a FIFO and /dev/zero while 400 S3Object DetectFaces and 400
# GETs run against `mien serve` (tests/security/race.py). Proven: zero escapes (no byte of the
# outside files is read or served), no request hangs (a FIFO never blocks a worker), the
# server's peak memory stays bounded (/dev/zero is never read to exhaustion), and SIGTERM
# completes promptly afterwards.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=tests/lib.sh
source "$ROOT/tests/lib.sh"
REQUESTS=${MIEN_RACE_REQUESTS:-400}

require_mien
mkdir -p "$TMP/bucket" "$TMP/web" "$TMP/outside"
echo '<!doctype html><title>t</title>' >"$TMP/web/index.html"
head -c $((6 << 20)) /dev/zero >"$TMP/outside/big.jpg" # over the 5 MiB image limit
echo OUTSIDE-SECRET-KEYS >"$TMP/outside/keys.txt"
start_server --workers 2 --bucket "photos=$TMP/bucket" --web "$TMP/web" || { echo "0 passed, 1 failed"; exit 1; }

timeout 300 "$PY" "$ROOT/tests/security/race.py" "$URL" "$TMP/bucket" "$TMP/web" "$TMP/outside" "$REQUESTS" >"$TMP/race.out" 2>&1
cat "$TMP/race.out"
grep -q '^escapes 0$' "$TMP/race.out" && ok "zero escapes in $REQUESTS S3Object and $REQUESTS GET requests" ||
  bad "escapes" "$(grep escapes "$TMP/race.out")"
grep -q '^hangs 0$' "$TMP/race.out" && ok "no request hung" || bad "hangs" "$(grep hangs "$TMP/race.out")"
# Both outcomes must have happened, or the race proved nothing: the inside file was read
# (InvalidImageFormatException, 200) and the swapped-in things refused.
for want in "s3 400 InvalidImageFormatException" "s3 400 InvalidS3ObjectException" "get 200" "get 404"; do
  grep -q "^answer $want" "$TMP/race.out" && ok "answered: $want" || bad "answered: $want" "never"
done
hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$SERVER_PID/status" 2>/dev/null)
if [[ -n $hwm ]] && ((hwm < 1500 * 1024)); then ok "peak memory ${hwm} kB"; else bad "peak memory" "${hwm:-unknown} kB"; fi

# A FIFO asked for directly, then SIGTERM: it must not pin a worker.
rm -f "$TMP/bucket/fifo.jpg" "$TMP/web/fifo.txt"
mkfifo "$TMP/bucket/fifo.jpg" "$TMP/web/fifo.txt"
api DetectFaces '{"Image":{"S3Object":{"Bucket":"photos","Name":"fifo.jpg"}}}'
grep -q InvalidS3ObjectException "$TMP/out" && ok "FIFO object: InvalidS3ObjectException" || bad "FIFO object" "$(cat "$TMP/out")"
code=$(curl -s -m 10 -o /dev/null -w '%{http_code}' "$URL/fifo.txt")
[[ $code == 404 ]] && ok "FIFO web file: 404" || bad "FIFO web file" "HTTP $code"
pid=$SERVER_PID
t0=$(date +%s)
stop_server && ok "exit 0 after SIGTERM" || bad "exit after SIGTERM" "exit $?"
(($(date +%s) - t0 <= 10)) && ok "SIGTERM completed in $(($(date +%s) - t0)) s" || bad "SIGTERM" "took $(($(date +%s) - t0)) s (pid $pid)"

echo "$pass passed, $fail failed"
[[ $fail == 0 ]]
