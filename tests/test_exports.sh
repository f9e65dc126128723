#!/usr/bin/env bash
# test_exports.sh - the walls of libmien.so (issue 14, docs/architecture.md): its dynamic symbol
# table holds only what include/mien.h exports (MIEN_API, names starting mien_), nothing of the
# store, the engine's internals or the generated ONNX bindings; and a program that includes only
# mien.h builds against it and runs the service's status table.
ROOT=$(cd "$(dirname "$0")/.." && pwd)
source "$ROOT/tests/lib.sh"
LIB=${MIEN_BUILD:-$ROOT/build}/libmien.so
if [[ ! -f $LIB ]]; then
  echo "$LIB not built"
  echo "0 passed, 1 failed"
  exit 1
fi

syms=$(nm -D --defined-only "$LIB" | awk '{print $3}')
stray=$(grep -v '^mien_' <<<"$syms" | head -20)
if [[ -z $stray ]]; then ok "only mien_ symbols ($(wc -l <<<"$syms") exported)"; else
  bad "only mien_ symbols" "also exported: $(tr '\n' ' ' <<<"$stray")"; fi

# Every function mien.h declares is marked MIEN_API and exported, and only those.
HEADER=$ROOT/include/mien.h
declared=$(grep -oE '^MIEN_API [^(]*[ *]mien_[a-z0-9_]+\(' "$HEADER" | grep -oE 'mien_[a-z0-9_]+\($' | tr -d '(')
unmarked=$(grep -E '^(const |unsigned )?[a-z_0-9]+ \*?mien_[a-z0-9_]+\(' "$HEADER")
[[ -z $unmarked ]] && ok "every function of mien.h is marked MIEN_API" ||
  bad "MIEN_API" "declared without it: $unmarked"
missing=$(comm -23 <(sort <<<"$declared") <(sort <<<"$syms") | tr '\n' ' ')
extra=$(comm -13 <(sort <<<"$declared") <(sort <<<"$syms") | tr '\n' ' ')
if [[ -n $declared && -z $missing && -z $extra ]]; then
  ok "libmien.so exports exactly mien.h's $(wc -l <<<"$declared") functions"
else
  bad "exports = mien.h" "declared, not exported: ${missing:-none}; exported, not declared: ${extra:-none}"
fi

# A program of mien.h alone: the header compiles on its own and the library links and runs.
cat >"$TMP/front.c" <<'C'
#include <mien.h>
#include <stdio.h>
#include <string.h>
int main(void) {
  mien_service_config cfg;
  mien_service_config_init(&cfg);
  return strcmp(mien_status_name(MIEN_ERR_THROTTLED), "ThrottlingException") != 0 ||
         cfg.workers != 0;
}
C
# A sanitized library (make test-asan) needs its runtime first: the program is built likewise.
SAN=()
[[ $(ldd "$LIB") == *libasan* ]] && SAN=(-fsanitize=address,undefined)
if cc -std=c11 -Wall -Werror "${SAN[@]}" -I"$ROOT/include" "$TMP/front.c" -L"$(dirname "$LIB")" -lmien \
  -o "$TMP/front" 2>"$TMP/err" && LD_LIBRARY_PATH=$(dirname "$LIB") "$TMP/front"; then
  ok "a program of mien.h alone builds and runs"
else
  bad "a program of mien.h alone builds and runs" "$(head -c 300 "$TMP/err")"
fi
finish
