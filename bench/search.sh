#!/usr/bin/env bash
# search.sh - `make bench-search`: the exact index, mien's ANN and FAISS (IVF-PQ, HNSW) on the
# same LFW-calibrated synthetic faces in one run (bench/search.c, bench/search_faiss.cpp;
# docs/search.md). FACES (default 1000000), QUERIES (500), NPROBE (the ANN's lists probed: by
# default an eighth, a sixth (mien's default) and a quarter of them), RERANK (0,2000: the int8
# scan of those lists, then mien's PQ tier, old and new in one run) and INDEX (exact,ann; exact
# needs ~2.6 KB of RAM per face) are read from the environment. FAISS comes
# from Debian's libfaiss-dev, installed here when missing (as root; bench only, so not in
# scripts/install-deps); its C++ program is built here, never linked into mien. The data (~2 KB per face) goes to a directory under /tmp, removed at the end.
set -euo pipefail
BUILD=${BUILD:-build}
FACES=${FACES:-1000000}
QUERIES=${QUERIES:-500}
LISTS=$(awk -v n="$FACES" 'BEGIN { printf "%d", 4 * sqrt(n) }') # the ANN's (ann.c) and FAISS's
NPROBE=${NPROBE:-$((LISTS / 8)),$((LISTS / 6)),$((LISTS / 4))}
RERANK=${RERANK:-0,2000}
INDEX=${INDEX:-exact,ann}
DIR=$(mktemp -d /tmp/mien-bench-search.XXXXXX)
trap 'rm -rf "$DIR"' EXIT

nice -n 10 "$BUILD/mien-bench-search" run --faces "$FACES" --queries "$QUERIES" --index "$INDEX" \
  --nprobe "$NPROBE" --rerank "$RERANK" --dir "$DIR" --keep

if [ ! -f /usr/include/faiss/IndexHNSW.h ] && [ "$(id -u)" = 0 ]; then
  apt-get install -y --no-install-recommends libfaiss-dev libopenblas0-pthread >&2 || true
fi
if [ -f /usr/include/faiss/IndexHNSW.h ]; then
  FAISS=$BUILD/mien-bench-search-faiss
  g++ -std=c++17 -O2 -fopenmp bench/search_faiss.cpp -o "$FAISS" -lfaiss -lblas -llapack
  export OMP_WAIT_POLICY=PASSIVE OPENBLAS_NUM_THREADS=1 # no spinning on a shared machine
  # HNSW first: Debian's FAISS (scalar kernels) trains PQ64 very slowly (docs/search.md)
  nice -n 10 "$FAISS" "$DIR" 2 "$(nproc)" HNSW32 efSearch 64,128,256
  nice -n 10 "$FAISS" "$DIR" 2 "$(nproc)" "IVF$LISTS,PQ32x4fs" nprobe "$NPROBE" # fast scan
  nice -n 10 "$FAISS" "$DIR" 2 "$(nproc)" "IVF$LISTS,PQ64" nprobe "$NPROBE"
else
  echo "search.sh: no libfaiss-dev; FAISS not measured" >&2
fi
