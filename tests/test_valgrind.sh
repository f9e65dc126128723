#!/usr/bin/env bash
# test_valgrind.sh - the CLI under valgrind's memcheck, on the paths a user hits first: detect on
# a photo and on broken files, compare, and a collection's life through `mien call`
# (CreateCollection, IndexFaces, SearchFacesByImage, ListFaces, DeleteCollection) in a scratch
# --data directory. Each run must give its usual exit code and no memcheck error: no invalid
# read or write, no use of uninitialised memory, no leak (definite or possible) at exit.
# Complements the ASan+UBSan build: memcheck runs the optimised binary as shipped, with the
# system's libjpeg, libspng and SQLite uninstrumented, and sees uninitialised reads ASan cannot.
# The photo of 3 faces runs the SIMD kernels this CPU offers under valgrind (AVX2: valgrind hides
# AVX-512); the other runs use the generic kernels (MIEN_ISA=generic), which memcheck emulates
# three times faster, as the ASan+UBSan pass runs the SIMD ones on every case.
#
# Skipped (exit 77) in sanitizer and fuzz builds, whose runtimes valgrind cannot host, and when
# valgrind is not installed. Photos: tests/data. About a minute of CPU.
# Env: MIEN_BUILD (build directory, default build/).
set -u

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=tests/lib.sh
source "$ROOT/tests/lib.sh"
cd "$ROOT" || exit 1
BUILD=${MIEN_BUILD:-$ROOT/build}

if grep -qs '^MIEN_SANITIZE:BOOL=ON\|^MIEN_FUZZ:BOOL=ON' "$BUILD/CMakeCache.txt"; then
  echo "skipped: $BUILD is a sanitizer build (valgrind runs the normal build)"
  exit 77
fi
if ! command -v valgrind >/dev/null; then
  echo "skipped: valgrind is not installed (scripts/install-deps installs it)"
  exit 77
fi
require_mien

# A memcheck finding exits 97, which mien itself never does; the log says what it was.
VG=(valgrind --error-exitcode=97 --leak-check=full --errors-for-leak-kinds=definite,possible
  -q --log-file="$TMP/vg.log")

# check NAME WANT_EXIT MIEN_ARGS...: runs mien under memcheck (MIEN_ISA from the environment,
# generic unless the caller says otherwise).
check() {
  local name=$1 want=$2
  shift 2
  MIEN_ISA=${MIEN_ISA:-generic} "${VG[@]}" "$MIEN" "$@" >"$TMP/out" 2>"$TMP/err"
  local rc=$?
  if [[ $rc -eq 97 ]]; then
    bad "$name" "memcheck: $(grep -v '^==[0-9]*== *$' "$TMP/vg.log" | head -12)"
  elif [[ $rc -ne $want ]]; then
    bad "$name" "exit $rc, wanted $want: $(head -c 300 "$TMP/err")"
  else
    ok "$name"
  fi
}

printf 'not an image\n' >"$TMP/text.jpg"
check "detect: a text file" 3 detect "$TMP/text.jpg"
printf '\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR\x00\x01\x86\xa0\x00\x01\x86\xa0\x08\x02\x00\x00\x00' \
  >"$TMP/bomb.png"
check "detect: a PNG declaring 100000x100000" 3 detect "$TMP/bomb.png"

PHOTO=$PHOTOS/group.jpg
A1=$PHOTOS/collins-2.jpg # the smaller photos: memcheck runs some 50 times slower
A2=$PHOTOS/collins-3.jpg
if [[ ! -f $PHOTO || ! -f $A1 || ! -f $A2 ]]; then
  bad "photos" "$PHOTOS incomplete"
else
  head -c 6000 "$PHOTO" >"$TMP/truncated.jpg"
  check "detect: a truncated JPEG" 3 detect "$TMP/truncated.jpg"
  MIEN_ISA=avx512 check "detect: a photo of 3 faces, 2 threads, SIMD kernels" 0 detect "$PHOTO" --threads 2
  [[ $(grep -o '"BoundingBox"' "$TMP/out" | wc -l) -eq 3 ]] || bad "detect output" "$(<"$TMP/out")"
  check "compare: same person" 0 compare "$A1" "$A2"
  [[ $(<"$TMP/out") == *'"FaceMatches":[{'* ]] || bad "compare output" "$(<"$TMP/out")"

  D=(--data "$TMP/data")
  check "call CreateCollection" 0 "${D[@]}" call CreateCollection '{"CollectionId":"vg"}'
  check "call IndexFaces" 0 "${D[@]}" call IndexFaces '{"CollectionId":"vg"}' --image "$A1"
  face=$(grep -o '"FaceId":"[0-9a-f-]*"' "$TMP/out" | head -1)
  check "call SearchFacesByImage" 0 "${D[@]}" call SearchFacesByImage '{"CollectionId":"vg"}' \
    --image "$A2"
  [[ -n $face && $(<"$TMP/out") == *"$face"* ]] || bad "search finds the indexed face" "$face"
  check "call ListFaces" 0 "${D[@]}" call ListFaces '{"CollectionId":"vg"}'
  check "call SearchFacesByImage, no such collection" 3 "${D[@]}" call SearchFacesByImage \
    '{"CollectionId":"none"}' --image "$A2"
  check "call DeleteCollection" 0 "${D[@]}" call DeleteCollection '{"CollectionId":"vg"}'
fi

finish
