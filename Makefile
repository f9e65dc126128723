# mien - the commands a user types. CMake (CMakeLists.txt) knows the sources; this file knows
# the workflow: dependencies, models, build, tests, benchmarks.
#
#   make run     install what is missing, build, fetch the models, serve on 127.0.0.1:8080
#   make test    the whole suite: normal build, again under ASan+UBSan, then the fuzz smoke
#   make bench   mien against ONNX Runtime on the default models, ratios in one run
#   make bench-serve  the server under wrk: DetectFaces req/s and p50/p99, search at 100k faces
#   make fuzz    every libFuzzer target for SECONDS (default 60) each
#   make bench-cluster  nodes on one PostgreSQL store: req/s for 1-3 nodes, IndexFaces PG vs SQLite,
#                       cold restart and search at 1M faces (about 15 min)
#   make bench-search  search index: exact vs ANN vs FAISS on LFW-calibrated synthetic faces
#   make bench-people  people clustering: LFW quality vs baselines, update time at 1M faces
#   make test-wild  test_detect_paths also on the wild photos of ../shared (minutes)
#   make soak    10,000 mixed requests against the server: errors, RSS growth after warm-up
#   make install PREFIX=... [DESTDIR=...]  a relocatable install; make deb  the Debian package

BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc)
CMAKE_GEN  := $(shell command -v ninja >/dev/null 2>&1 && echo "-G Ninja")

.PHONY: all deps models build run test test-fast test-asan bench fixtures format install clean

all: build models

deps:
	@scripts/install-deps

$(BUILD)/CMakeCache.txt: | deps
	cmake -S . -B $(BUILD) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=Release

build: $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

models: | deps
	@scripts/fetch-models

# The server on 127.0.0.1 with the embedded store (the default data directory, or $MIEN_DATA):
# the web page at http://127.0.0.1:$(PORT)/, the API for aws-cli and boto3 at the same URL.
PORT ?= 8080
run: all
	$(BUILD)/mien serve --listen 127.0.0.1:$(PORT)

# The suite, as CI runs it. Each configuration ends with ctest's summary line.
test: test-fast test-asan test-fuzz

test-fast: all
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

$(ASAN_BUILD)/CMakeCache.txt: | deps
	cmake -S . -B $(ASAN_BUILD) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMIEN_SANITIZE=ON

# The same cases under ASan+UBSan, but for the API suites' reruns on PostgreSQL (label api_on_pg):
# their code is checked here through the SQLite runs, the PostgreSQL driver by test_*_pg.sh.
test-asan: $(ASAN_BUILD)/CMakeCache.txt models
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j $(JOBS) -LE api_on_pg

bench: all
	MIEN_BIN=$(BUILD)/mien bench/engine.sh

# libFuzzer targets (fuzz/README.md), built by clang in their own directory.
# `make fuzz SECONDS=N` runs each target N seconds, JOBS at a time; `make test-fuzz` is CI's smoke:
# every target 20 s, two at a time (six: about 60 s), failing on a crash, leak or timeout.
FUZZ_BUILD   ?= build-fuzz
SECONDS      ?= 60
FUZZ_TARGETS  = $(basename $(notdir $(wildcard fuzz/fuzz_*.c)))
.PHONY: fuzz fuzz-build test-fuzz

$(FUZZ_BUILD)/CMakeCache.txt: | deps
	CC=clang cmake -S . -B $(FUZZ_BUILD) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMIEN_FUZZ=ON

fuzz-build: $(FUZZ_BUILD)/CMakeCache.txt
	cmake --build $(FUZZ_BUILD) -j $(JOBS) --target $(FUZZ_TARGETS)

fuzz: fuzz-build models
	fuzz/run.sh -b $(FUZZ_BUILD) -j $(JOBS) $(SECONDS)

test-fuzz: fuzz-build models
	fuzz/run.sh -b $(FUZZ_BUILD) -j 2 20

# `mien serve` under wrk: DetectFaces req/s and latency on 640x480, SearchFacesByImage at 100k faces.
.PHONY: bench-serve
bench-serve: all
	MIEN_BIN=$(BUILD)/mien bench/serve.sh

# Nodes on one PostgreSQL store (docs/cluster.md): DetectFaces and SearchFacesByImage req/s
# through 1, 2 and 3 nodes, IndexFaces/s into PostgreSQL against SQLite; a throwaway cluster.
.PHONY: bench-cluster
bench-cluster: all
	MIEN_BIN=$(BUILD)/mien bench/cluster.sh
# The search index (docs/search.md): exact scan, mien's ANN and FAISS on LFW-calibrated synthetic
# faces (FACES=1000000 by default: ~2 GB in /tmp and ~3 GB of RAM for the exact index).
.PHONY: bench-search
bench-search: all
	BUILD=$(BUILD) bench/search.sh

# The people clustering (docs/people.md): LFW quality against Immich's rule and Chinese whispers,
# and an incremental update at 1M synthetic faces (FACES=...; about 2.6 GB of memory at 1M).
.PHONY: bench-people
bench-people: all
	MIEN_BIN=$(BUILD)/mien bench/people.sh

# tests/test_detect_paths.sh on the 37 wild photos as well (../shared/data; docs/detection.md).
.PHONY: test-wild
test-wild: all
	DETECT_PATHS_WILD=1 MIEN_BUILD=$(BUILD) tests/test_detect_paths.sh

# 10,000 mixed requests against `mien serve`: 0 errors, RSS growth under 5 % after warm-up.
.PHONY: soak
soak: all
	MIEN_BIN=$(BUILD)/mien bench/soak.sh

# Regenerates tests/fixtures/parity from ONNX Runtime (needs the npm registry once).
fixtures: all
	MIEN_BUILD=$(BUILD) scripts/gen-parity-fixtures

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

# `make install PREFIX=/opt/mien DESTDIR=/tmp/stage`: the install finds its models and web page
# beside itself, so it may also be moved afterwards (docs/install.md).
PREFIX ?= /usr/local
install: all
	DESTDIR=$(DESTDIR) cmake --install $(BUILD) --prefix $(PREFIX)

# The Debian package mien_<version>_<arch>.deb, written to $(BUILD)/: the program, the library,
# the models, the man pages and the service mien.service (packaging/build-deb, docs/install.md).
.PHONY: deb
deb: all
	packaging/build-deb $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
