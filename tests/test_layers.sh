#!/usr/bin/env bash
# test_layers.sh - the layer walls hold (docs/architecture.md): each probe in tests/layers/ is
# built as its layer's target (CMakeLists.txt: probe_LAYER_WHAT, compiled against that layer's
# include tree only). A probe marked "expect: forbidden" must fail, and fail on its #include
# (No such file), not on something else; one marked "expect: allowed" must compile, so the
# forbidden ones fail because of the wall.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=tests/lib.sh
source "$ROOT/tests/lib.sh"
BUILD=${MIEN_BUILD:-$ROOT/build}
[[ -f $BUILD/CMakeCache.txt ]] || { echo "no build in $BUILD"; echo "0 passed, 1 failed"; exit 1; }

for src in "$ROOT"/tests/layers/*.c; do
  name=$(basename "$src" .c)
  expect=$(grep -o 'expect: [a-z]*' "$src" | cut -d' ' -f2)
  header=$(sed -n 's/^#include "\(.*\)"/\1/p' "$src" | head -1)
  # Always recompile: a probe object left from an earlier build proves nothing.
  rm -rf "$BUILD/CMakeFiles/probe_$name.dir"
  if cmake --build "$BUILD" --target "probe_$name" >"$TMP/out" 2>&1; then built=1; else built=0; fi
  case $expect in
  allowed)
    ((built)) && ok "$name: ${name%%_*} may include $header" ||
      bad "$name" "should compile: $(grep -m1 error "$TMP/out")" ;;
  forbidden)
    if ((built)); then
      bad "$name" "${name%%_*} included $header: the wall is open"
    elif grep -q "$header: No such file" "$TMP/out"; then
      ok "$name: ${name%%_*} cannot include $header"
    else
      bad "$name" "failed, but not on the wall: $(grep -m1 error "$TMP/out")"
    fi ;;
  *) bad "$name" "no 'expect: allowed|forbidden' line" ;;
  esac
done
finish
