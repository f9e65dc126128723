#!/usr/bin/env bash
# people.sh: the people clustering (docs/people.md) measured by bench/people.c:
#   - LFW: all images of $MIEN_SHARED/data/lfw/images indexed once as one unlabelled collection
#     into a scratch store ($PEOPLE_CACHE, default /tmp/mien-people: `mien index` takes a few
#     minutes on 2 cores; its templates are cached there, delete it to redo), then mien's
#     clustering at several FaceMatchThresholds against Immich's rule and Chinese whispers:
#     pairwise precision/recall/F1, BCubed F, groups, singletons, photo violations, seconds,
#     and incremental (8 updates) against full passes;
#   - synthetic: FACES (default 1,000,000) templates in one index (about 2.6 KB each: 2.6 GB at
#     1M), BATCH (1000) of them added to a clustering that knows the rest: the incremental update.
# Skips LFW when the data is absent. Env: MIEN_BIN, MIEN_SHARED, PEOPLE_CACHE, FACES, BATCH.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

FACES=${FACES:-1000000}
BATCH=${BATCH:-1000}
CACHE=${PEOPLE_CACHE:-/tmp/mien-people}
LFW=${MIEN_SHARED:-$ROOT/../shared}/data/lfw/images
BUILD=$(dirname "$MIEN")

need_mien
[[ -f $BUILD/libmien.so ]] || die "$BUILD/libmien.so not found: build mien first"
cd "$ROOT" # where mien finds models/ when run from a build dir
mkdir -p "$CACHE"
PEOPLE=$CACHE/people
cc -std=c11 -O2 -D_GNU_SOURCE -Iinclude -Isrc -Itests -isystem /usr/include/cjson bench/people.c \
  -L"$BUILD" -lmien -lcjson -lm -Wl,-rpath,"$BUILD" -o "$PEOPLE" || die "cannot build bench/people.c"

if [[ -f $CACHE/lfw.cache ]] || [[ -d $LFW ]]; then
  if [[ ! -f $CACHE/lfw.cache ]]; then
    need_models fr_detect fr_landmark fr_feature
    rm -rf "$CACHE/store"
    "$MIEN" --data "$CACHE/store" collection create lfw >/dev/null
    "$MIEN" --data "$CACHE/store" index lfw "$LFW" >"$CACHE/index.jsonl"
  fi
  "$PEOPLE" lfw "$CACHE/store" lfw "$CACHE/index.jsonl" "$CACHE/lfw.cache"
else
  echo "LFW: skipped ($LFW not found)"
fi
echo
"$PEOPLE" synth "$FACES" 10 "$BATCH"
