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

missing=
for f in mien_status_name mien_free mien_service_config_init mien_service_open \
  mien_service_call mien_service_detect mien_service_embed mien_service_compare \
  mien_service_audit_verify mien_net_load mien_run; do
  grep -qx "$f" <<<"$syms" || missing+=" $f"
done
if [[ -z $missing ]]; then ok "the public API is exported"; else
  bad "the public API is exported" "missing:$missing"; fi

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
ldd "$LIB" | grep -q libasan && SAN=(-fsanitize=address,undefined)
if cc -std=c11 -Wall -Werror "${SAN[@]}" -I"$ROOT/include" "$TMP/front.c" -L"$(dirname "$LIB")" -lmien \
  -o "$TMP/front" 2>"$TMP/err" && LD_LIBRARY_PATH=$(dirname "$LIB") "$TMP/front"; then
  ok "a program of mien.h alone builds and runs"
else
  bad "a program of mien.h alone builds and runs" "$(head -c 300 "$TMP/err")"
fi
finish
