#!/usr/bin/env bash
# test_examples.sh - examples/ as a user builds them: against the INSTALLED library (an install
# into a temporary DESTDIR, tests/lib.sh install_stage) with only `pkg-config --cflags --libs
# mien` (PKG_CONFIG_PATH into that prefix) and -Wall -Wextra -Werror, then run from an unrelated
# directory, so libmien.so must find its models beside itself (dladdr; no $MIEN_MODELS):
#   detect  the three faces of tests/data/group.jpg;
#   compare Hopper's portrait against the group: one face of the three matches (>= 99), the
#           others do not (< 80);
#   search  Hopper, Collins and the cameraman indexed into a store, searched with Hopper's
#           second photo: one match, hopper.jpg.
# Env: MIEN_BUILD (tests/lib.sh). Photos: tests/data.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=tests/lib.sh
source "$ROOT/tests/lib.sh"
require_mien
unset MIEN_MODELS MIEN_DATA
install_stage || { echo "0 passed, 1 failed"; exit 1; }
export PKG_CONFIG_PATH=$STAGE/lib/pkgconfig LD_LIBRARY_PATH=$STAGE/lib
mkdir "$TMP/elsewhere" && cd "$TMP/elsewhere" || exit 1

# A sanitized library needs sanitized programs: the runtime must come first.
sanitize=()
sanitized_build && sanitize=(-fsanitize=address,undefined)
for ex in detect compare search; do
  # shellcheck disable=SC2046 # pkg-config's flags are words
  run "build $ex" 0 cc -std=c11 -Wall -Wextra -Werror "${sanitize[@]}" "$ROOT/examples/$ex.c" \
    $(pkg-config --cflags --libs mien) -o "$TMP/$ex" && ok "build $ex"
done
libs=$(ldd "$TMP/detect")
[[ $libs == *"$STAGE/lib/libmien.so.0"* ]] && ok "linked with the installed libmien.so" ||
  bad "libmien.so" "$(grep mien <<<"$libs")"

if run "detect" 0 "$TMP/detect" "$PHOTOS/group.jpg"; then
  [[ $(tail -1 "$TMP/out") == "3 faces" && $(grep -c '^face ' "$TMP/out") == 3 ]] &&
    ok "detect: three faces in group.jpg" || bad "detect" "$(cat "$TMP/out")"
fi
if run "compare" 0 "$TMP/compare" "$PHOTOS/hopper.jpg" "$PHOTOS/group.jpg"; then
  awk '/^target face/ { n++; if ($9 >= 99) same++; else if ($9 < 80) other++ }
       END { exit !(n == 3 && same == 1 && other == 2) }' "$TMP/out" &&
    ok "compare: Hopper is one face of the group" || bad "compare" "$(cat "$TMP/out")"
fi
if run "search" 0 "$TMP/search" "$TMP/store" "$PHOTOS/hopper-2.jpg" \
  "$PHOTOS/hopper.jpg" "$PHOTOS/collins.jpg" "$PHOTOS/camera.jpg"; then
  check "search: hopper-2 finds hopper.jpg only" \
    '[m["Face"]["ExternalImageId"] for m in r["FaceMatches"]] == ["hopper.jpg"] and r["FaceMatches"][0]["Similarity"] > 90'
fi
expect "detect: not a photo" 1 InvalidImageFormatException "$TMP/detect" "$ROOT/README.md"
finish
