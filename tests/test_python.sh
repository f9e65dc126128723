#!/usr/bin/env bash
# test_python.sh - the Python package (python/, issue 14): python/tests with Debian's pytest
# against this build's libmien.so (the same numbers as the mien program on tests/data, Service
# and mien.client() against boto3 and `mien serve`), then `pip install --no-index
# --no-build-isolation` of a copy of python/ into a temporary venv, offline, and a detection
# through the installed package from another directory. pytest and numpy come from
# scripts/install-deps: missing, the test fails rather than skips.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=tests/lib.sh
source "$ROOT/tests/lib.sh"
PY=/usr/bin/python3
BUILD=${MIEN_BUILD:-$ROOT/build}
require_mien
for m in pytest numpy; do
  if ! $PY -c "import $m" 2>/dev/null; then
    echo "$PY has no $m: run scripts/install-deps (python3-$m)"
    echo "0 passed, 1 failed"
    exit 1
  fi
done

export MIEN_BUILD=$BUILD
# A sanitized library (make test-asan): Python is not built with the sanitizers, so their
# runtimes are preloaded, and leak checking is off (the interpreter's own allocations).
if ldd "$BUILD/libmien.so" | grep -q libasan; then
  export LD_PRELOAD="$(cc -print-file-name=libasan.so) $(cc -print-file-name=libubsan.so)"
  export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
fi
if PYTHONPATH=$ROOT/python $PY -m pytest -q -p no:cacheprovider "$ROOT/python/tests" >"$TMP/pytest.out" 2>&1; then
  ok "python/tests: $(tail -1 "$TMP/pytest.out")"
else
  bad "python/tests" "$(tail -30 "$TMP/pytest.out")"
fi

# pip, offline, from a copy (pip builds in the source directory).
cp -r "$ROOT/python" "$TMP/src"
rm -rf "$TMP/src/tests"
if $PY -m venv --system-site-packages "$TMP/venv" >"$TMP/venv.out" 2>&1 &&
  "$TMP/venv/bin/pip" install -q --no-index --no-build-isolation "$TMP/src" >"$TMP/pip.out" 2>&1; then
  ok "pip install --no-index --no-build-isolation ./python"
  n=$(cd "$TMP" && MIEN_LIBRARY=$BUILD/libmien.so MIEN_MODELS=$ROOT/models "$TMP/venv/bin/python" -c \
    'import mien, sys; print(len(mien.Engine().detect(open(sys.argv[1], "rb").read())))' \
    "$PHOTOS/group.jpg" 2>"$TMP/err")
  [[ $n == 3 ]] && ok "the installed package finds 3 faces in group.jpg" ||
    bad "installed package" "got '$n': $(head -c 300 "$TMP/err")"
else
  bad "pip install" "$(tail -5 "$TMP/venv.out" "$TMP/pip.out")"
fi
finish
