#!/usr/bin/env bash
# test_install.sh - a relocatable install: `cmake --install` (what `make install PREFIX=...
# DESTDIR=...` runs) into a temporary DESTDIR, so the files land under a prefix that is not the
# one the build was configured for, then from an unrelated working directory the installed mien
# must find its models and web page beside itself (bin/../share/mien): detect on the group photo
# (three faces), serve the web page. The library gets its soname, the headers, mien.pc (with
# paths relative to itself) and the manual pages. `build/mien` must work from another directory
# too (the build tree's share/mien links to the sources). Neither may lean on ./models,
# $MIEN_MODELS or the configured prefix: the install is moved, the directory is empty.
# Env: MIEN_BUILD (tests/lib.sh). Photos: tests/data.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=tests/lib.sh
source "$ROOT/tests/lib.sh"
require_mien
unset MIEN_MODELS
install_stage && ok "install" || bad "install" "see above"
# A second move: DESTDIR already differs from the prefix; moving the tree once more shows no
# absolute path was written into anything at install time.
mv "$STAGE" "$TMP/moved" && STAGE=$TMP/moved
mkdir "$TMP/elsewhere" && cd "$TMP/elsewhere" || exit 1

for f in bin/mien include/mien.h lib*/libmien.so lib*/pkgconfig/mien.pc share/mien/models/fr_detect.onnx \
  share/mien/web/index.html share/man/man1/mien.1 share/man/man1/mien-serve.1; do
  compgen -G "$STAGE/$f" >/dev/null && ok "installed $f" || bad "installed $f" "missing"
done
soname=$(readelf -d "$STAGE"/lib*/libmien.so | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[[ $soname == libmien.so.0 ]] && ok "soname $soname" || bad "soname" "'$soname'"
pc=$(PKG_CONFIG_PATH=$(echo "$STAGE"/lib*/pkgconfig) pkg-config --cflags --libs mien)
[[ $pc == *"-I$STAGE/"* && $pc == *-lmien* ]] && ok "pkg-config follows the moved tree" || bad "pkg-config" "$pc"

# faces N MIEN: `MIEN detect` on the group photo finds N faces (the photo's README: three).
faces() {
  run "$2 detect" 0 "$2" detect "$PHOTOS/group.jpg" && check "$2 detect: $1 faces" "len(r['FaceDetails']) == $1"
}
faces 3 "$STAGE/bin/mien"
faces 3 "$MIEN"

# web MIEN: `MIEN serve` (no --web) answers GET / with web/index.html.
web() {
  MIEN=$1 start_server || { bad "$1 serve" "did not start"; return; }
  curl -sS "$URL/" -o "$TMP/index.html" && cmp -s "$TMP/index.html" "$ROOT/web/index.html" &&
    ok "$1 serve: the web page" || bad "$1 serve" "GET / is not web/index.html"
  stop_server
}
SERVER_DATA=$TMP/data web "$STAGE/bin/mien"
SERVER_DATA=$TMP/data web "$MIEN"

# Without its models beside it the installed program says where it looked.
mv "$STAGE/share/mien/models" "$TMP/models"
expect "models moved away" 4 ModelException "$STAGE/bin/mien" detect "$PHOTOS/group.jpg"
grep -q "$STAGE/bin/../share/mien" "$TMP/err" && ok "the message names the places" || bad "message" "$(cat "$TMP/err")"
finish
