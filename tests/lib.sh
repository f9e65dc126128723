# lib.sh - sourced by the shell tests after they set ROOT (the repository): MIEN (the binary,
# $MIEN_BUILD/mien, default build/mien), MIEN_EVAL (the accuracy tool beside it), PHOTOS (the photos shipped in tests/data, README.md
# there), DATA (the evaluation data, $MIEN_SHARED/data, default ../shared/data: LFW and the
# like, for evaluations only), a TMP folder removed on exit, MIEN_STORE (the database of
# tests/pg.sh run, else unset) with on_pg, sqlite_only, store_free, store_reset and store_rows,
# the pass/fail/skip counters with ok, bad and skipped, require_mien, run, and finish (the
# summary line and exit code).

MIEN=${MIEN_BUILD:-$ROOT/build}/mien
MIEN_EVAL=${MIEN_BUILD:-$ROOT/build}/mien-eval
PHOTOS=$ROOT/tests/data
DATA=${MIEN_SHARED:-$ROOT/../shared}/data
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
# The store every mien command of a test uses, whatever --data it names: the test database of
# tests/pg.sh run (the *_pg cases), never one the environment happens to name.
if [[ -n ${MIEN_TEST_STORE:-} ]]; then export MIEN_STORE=$MIEN_TEST_STORE; else unset MIEN_STORE; fi
# on_pg: whether that store is PostgreSQL's (a *_pg case), not the SQLite of each --data DIR.
on_pg() { [[ -n ${MIEN_STORE:-} ]]; }
# sqlite_only NAME COVERED_BY: true on SQLite; on PostgreSQL it counts the check NAME as skipped,
# being one of SQLite's own file, and names the PostgreSQL test COVERED_BY that checks the same
# guarantee there. `sqlite_only NAME TEST && CHECK` runs CHECK on SQLite only.
sqlite_only() {
  on_pg || return 0
  skipped "$1" "reads SQLite's own file (SQLite only); on PostgreSQL $2 covers it"
  return 1
}
# store_free NAME: true on SQLite; on PostgreSQL it skips NAME, a part of a test that opens no
# store (the SQLite run checks it), where that part costs much time for nothing (aws-cli calls).
store_free() {
  on_pg || return 0
  skipped "$1" "opens no store: the SQLite run checks it"
  return 1
}
# store_once NAME: true on SQLite; on PostgreSQL it skips NAME, a check whose store calls another
# check of the test already made there (the same search of another codec's clip, another bad file
# refused the same way): what differs between them opens no store, and the SQLite run checks it.
store_once() {
  on_pg || return 0
  skipped "$1" "makes the store calls of a check already run here: the SQLite run checks the rest"
  return 1
}
# store_reset: the test's next store starts empty. A new --data DIR does that on SQLite; on
# PostgreSQL, one database for every DIR, the schema is dropped (mien makes it again at open).
store_reset() {
  on_pg || return 0
  psql -X -q -v ON_ERROR_STOP=1 -d "$MIEN_STORE" >/dev/null \
    -c "SET client_min_messages = warning; DROP SCHEMA public CASCADE; CREATE SCHEMA public"
}
pass=0 fail=0 skip=0

ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1: $2"; }
skipped() { skip=$((skip + 1)); echo "SKIP $1: $2"; }

# require_mien [PROGRAM]: a test of the mien program (or of PROGRAM, a tool built beside it) fails
# (not skips) when it was not built.
require_mien() {
  local prog=${1:-$MIEN}
  [[ -x $prog ]] && return 0
  echo "$prog not built (build first, or set MIEN_BUILD)"
  echo "0 passed, 1 failed"
  exit 1
}

# finish: prints the summary and exits 1 on any failure, 77 (ctest: Skipped) when nothing
# passed, else 0: a test that only skipped never reads as Passed.
finish() {
  echo "$pass passed, $fail failed, $skip skipped"
  ((fail == 0)) || exit 1
  ((pass > 0)) || exit 77
  exit 0
}

# run NAME WANT_EXIT CMD...: runs CMD, keeps stdout/stderr in $TMP/out, $TMP/err.
run() {
  local name=$1 want=$2
  shift 2
  "$@" >"$TMP/out" 2>"$TMP/err"
  local rc=$?
  if [[ $rc != "$want" ]]; then
    bad "$name" "exit $rc, wanted $want: $(head -c 300 "$TMP/err")"
    return 1
  fi
}

# store_rows DIR SQL: the rows of SQL (columns joined by |) on the test's store: DIR's mien.db on
# SQLite, the database on PostgreSQL (the tables and columns are the same on both).
store_rows() {
  if on_pg; then
    psql -X -q -t -A -v ON_ERROR_STOP=1 -d "$MIEN_STORE" -c "$2"
  else
    python3 -c 'import sqlite3, sys
for row in sqlite3.connect(sys.argv[1] + "/mien.db").execute(sys.argv[2]): print("|".join(map(str, row)))' "$1" "$2"
  fi
}

# ---- mien serve (tests of the HTTP server) ----

# start_server ARGS...: runs `$MIEN --data $SERVER_DATA serve --listen 127.0.0.1:0 ARGS` in the
# background (SERVER_DATA defaults to $TMP/serve; its stdout goes to $TMP/server.out, its request
# log to $TMP/server.log), waits up to 60 s for the {"listening":URL} line, sets URL and
# SERVER_PID. Returns 1, saying why, when the server exits or stays silent. One server at a time:
# starting another stops the first; the EXIT trap stops the last.
start_server() {
  stop_server
  SERVER_DATA=${SERVER_DATA:-$TMP/serve}
  URL=
  : >"$TMP/server.out" # before the background job's own redirection, which may come later
  "$MIEN" --data "$SERVER_DATA" serve --listen 127.0.0.1:0 "$@" >"$TMP/server.out" 2>"$TMP/server.log" &
  SERVER_PID=$!
  local i
  for ((i = 0; i < 600; i++)); do
    URL=$(sed -n 's/^{"listening":"\([^"]*\)".*/\1/p' "$TMP/server.out")
    [[ -n $URL ]] && return 0
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "mien serve did not start: $(tail -c 600 "$TMP/server.log")"
  stop_server
  return 1
}

# stop_server: SIGTERM to the server of start_server; waits up to 30 s, then SIGKILL. Returns
# the server's exit status (0: a clean shutdown), 0 when none runs.
stop_server() {
  [[ -n ${SERVER_PID:-} ]] || return 0
  local pid=$SERVER_PID i rc
  SERVER_PID=
  kill -TERM "$pid" 2>/dev/null
  for ((i = 0; i < 300; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 "$pid" 2>/dev/null && { echo "mien serve ignored SIGTERM for 30 s: killed"; kill -KILL "$pid"; }
  wait "$pid"
  rc=$?
  return $rc
}
trap 'stop_server >/dev/null; rm -rf "$TMP"' EXIT

# api OPERATION JSON: an unsigned POST of JSON to $URL as RekognitionService.OPERATION (curl).
# The response body goes to $TMP/out, its HTTP status to HTTP; fails only when curl does.
api() {
  HTTP=$(curl -sS -o "$TMP/out" -w '%{http_code}' -X POST "$URL/" \
    -H 'Content-Type: application/x-amz-json-1.1' -H "X-Amz-Target: RekognitionService.$1" \
    --data-binary "$2")
}

# aws_batch_start PYTHON: starts tests/server/aws_batch.py under PYTHON (the interpreter of the
# aws-cli under test), after which `aws_batch ARGS...` is `aws ARGS...` with the environment's
# AWS_* variables of the moment, its output, errors and exit status, without a Python start per
# call (about a second of CPU each); with a moved clock (clock_export), a new process per call.
# Only in the test's own shell and its $(...) subshells, one call at a time.
aws_batch_start() {
  mkfifo "$TMP/aws-batch.in" "$TMP/aws-batch.out" || return 1
  AWS_BATCH_PYTHON=$1
  "$1" "$ROOT/tests/server/aws_batch.py" <"$TMP/aws-batch.in" >"$TMP/aws-batch.out" &
  exec {AWS_BATCH_IN}>"$TMP/aws-batch.in" {AWS_BATCH_OUT}<"$TMP/aws-batch.out"
}
aws_batch() {
  local kv rc envs=()
  while IFS= read -r -d '' kv; do [[ $kv == AWS_* ]] && envs+=("$kv"); done < <(env -0)
  local call=("$TMP/aws-batch.stdout" "$TMP/aws-batch.stderr" "${#envs[@]}" "${envs[@]}" "$@")
  if [[ -n ${LD_PRELOAD:-} ]]; then # a moved clock (clock_export) reaches new processes only
    rc=$(printf '%s\0' "${#call[@]}" "${call[@]}" | "$AWS_BATCH_PYTHON" "$ROOT/tests/server/aws_batch.py")
  else
    printf '%s\0' "${#call[@]}" "${call[@]}" >&"$AWS_BATCH_IN"
    read -r rc <&"$AWS_BATCH_OUT" || { echo "aws_batch.py ended" >&2; return 255; }
  fi
  cat "$TMP/aws-batch.stdout"
  cat "$TMP/aws-batch.stderr" >&2
  return "$rc"
}

# sanitized_build: whether $MIEN comes from an ASan+UBSan build (slow: shorten load tests).
sanitized_build() {
  grep -qs '^MIEN_SANITIZE:BOOL=ON' "$(dirname "$MIEN")/CMakeCache.txt"
}

# check NAME EXPR: a Python expression on the JSON in $TMP/out (as `r`); it may span lines.
check() {
  if "${PY:-python3}" -c 'import json,sys; r = json.load(open(sys.argv[1])); sys.exit(0 if eval("(" + sys.argv[2] + ")") else 1)' \
    "$TMP/out" "$2" 2>/dev/null; then ok "$1"; else bad "$1" "$2 is false for $(head -c 400 "$TMP/out")"; fi
}

# expect NAME WANT_EXIT ERROR_NAME CMD...: fails with that exit code and Rekognition error.
expect() {
  local name=$1 want=$2 err=$3
  shift 3
  run "$name" "$want" "$@" || return
  if grep -q "$err" "$TMP/err"; then ok "$name"; else bad "$name" "no $err in: $(cat "$TMP/err")"; fi
}

# json_get EXPR: prints a Python expression on the JSON in $TMP/out (as `r`), e.g. a FaceId.
json_get() {
  "${PY:-python3}" -c 'import json,sys; r = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$TMP/out" "$1"
}

# ---- a moved clock (libfaketime: Debian's faketime, scripts/install-deps) ----
# mien reads only the system's wall clock; retention and expiry tests move it for the processes
# they start with libfaketime (preloaded), the monotonic clock (timeouts, waits) left real.
#   at_time T CMD...     CMD with the wall clock at Unix time T, running on from there
#   clock_export SPEC    every command from here on with libfaketime's SPEC ("+8d": 8 days
#                        ahead, clients and server alike, so signatures still match)
#   clock_file_export F  the same with the SPEC in file F, reread at each call: write "+0" into
#                        F, start a server, clock_unexport, later write "+2d": its clock moves
#   clock_unexport       the real clock again (for commands started from here on)
# have_faketime says whether libfaketime is installed.
FAKETIME_LIB=$(ls /usr/lib/*/faketime/libfaketimeMT.so.1 2>/dev/null | head -1)
have_faketime() { [[ -n $FAKETIME_LIB ]]; }
clock_vars() { # the variables every use sets (ASan must not insist on coming first)
  have_faketime || echo "lib.sh: no libfaketime, the clock cannot move (scripts/install-deps)" >&2
  echo "LD_PRELOAD=$FAKETIME_LIB" TZ=UTC FAKETIME_DONT_FAKE_MONOTONIC=1 \
    "ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
}
at_time() {
  local t=$1
  shift
  # shellcheck disable=SC2046 # clock_vars's words are NAME=VALUE without spaces
  env $(clock_vars) FAKETIME="$(TZ=UTC date -d "@$t" '+@%Y-%m-%d %H:%M:%S')" "$@"
}
clock_export() {
  local v
  CLOCK_SAVED=$(declare -p ASAN_OPTIONS TZ 2>/dev/null)
  for v in $(clock_vars); do export "${v?}"; done
  export FAKETIME=$1
}
clock_file_export() {
  clock_export ""
  unset FAKETIME
  export FAKETIME_TIMESTAMP_FILE=$1 FAKETIME_NO_CACHE=1
}
clock_unexport() {
  unset LD_PRELOAD FAKETIME FAKETIME_TIMESTAMP_FILE FAKETIME_NO_CACHE FAKETIME_DONT_FAKE_MONOTONIC \
    TZ ASAN_OPTIONS
  eval "${CLOCK_SAVED:-}"
}

# ---- hostile inputs (tests/hostile/gen.py writes them and their expected answers) ----

# PY: the system's Python when there is one; a version manager's shim (pyenv) costs 0.2 s a
# start, and the hostile tests start Python hundreds of times.
PY=/usr/bin/python3
[[ -x $PY ]] || PY=python3

# answer_of FILE: what the Rekognition JSON in FILE is: the __type of an error (one object of
# string __type and Message, nothing else), "ok N" for any other object (N: the length of its
# FaceDetails or FaceRecords, or -), else "malformed".
answer_of() {
  "$PY" -c 'import json,sys
try:
    r = json.loads(open(sys.argv[1], "rb").read())
except ValueError:
    r = None
if isinstance(r, dict) and set(r) == {"__type", "Message"}:
    ok = all(isinstance(v, str) and v for v in r.values())
    print(r["__type"] if ok else "malformed")
elif isinstance(r, dict):
    faces = r.get("FaceDetails", r.get("FaceRecords"))
    print("ok", len(faces) if isinstance(faces, list) else "-")
else:
    print("malformed")' "$1"
}

# one_of ANSWER EXPECTED: whether ANSWER is one of the |-separated answers in EXPECTED.
one_of() { [[ "|$2|" == *"|$1|"* ]]; }

# ---- installs (test_install, test_examples) ----

# install_stage: `cmake --install` of $MIEN's build directory (what `make install` runs) with a
# DESTDIR under $TMP, so the files land under a prefix the build was not configured for; sets
# STAGE to the installed prefix. Returns 1, saying why, when the install fails.
install_stage() {
  local prefix=/opt/mien-test-$$
  STAGE=$TMP/dest$prefix
  if ! DESTDIR=$TMP/dest cmake --install "$(dirname "$MIEN")" --prefix "$prefix" >"$TMP/install.log" 2>&1; then
    echo "cmake --install failed: $(tail -c 600 "$TMP/install.log")"
    return 1
  fi
}
