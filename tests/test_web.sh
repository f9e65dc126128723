#!/usr/bin/env bash
# test_web.sh - the web page of `mien serve` (web/) in a real browser: Debian's headless
# Chromium driven by playwright-core (installed, pinned, by scripts/setup-web-test; the only
# step that needs the npm registry, once). tests/web/page.js does what a user does and checks
# what the page shows; this script runs the server around it, twice:
#   1. no access keys: web/ served as is, then detect (boxes on the canvas), a server error,
#      compare, and a collection's create/index/search/delete (page.js "open");
#   2. after `mien keys add`: unsigned requests refused, signed ones (WebCrypto and the
#      page's plain-JS fallback) accepted, a wrong secret refused (page.js "signed");
#   3. a new store: the People view (page.js "people").
# Screenshots go to $MIEN_BUILD/web-test/ (web-detect.png, web-page.png).
# Photos: tests/data. Skips loudly (exit 77) only when Chromium is missing or cannot start.
# Env: MIEN_BUILD (tests/lib.sh), MIEN_CHROMIUM (default /usr/bin/chromium).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=tests/lib.sh
source "$ROOT/tests/lib.sh"
SHOTS=${MIEN_BUILD:-$ROOT/build}/web-test
CHROMIUM=${MIEN_CHROMIUM:-/usr/bin/chromium}

skip_all() {
  echo "SKIP test_web: $1"
  echo "0 passed, 0 failed, 1 skipped"
  exit 77
}

require_mien
[[ -x $CHROMIUM ]] || skip_all "$CHROMIUM not found (scripts/install-deps installs chromium)"
if ! MODULES=$("$ROOT/scripts/setup-web-test"); then
  bad "setup-web-test" "playwright-core is not installed (see above)"
  echo "$pass passed, $fail failed"
  exit 1
fi
mkdir -p "$SHOTS"

# browser PHASE [KEY_ID SECRET]: page.js against $URL; its checks print themselves.
browser() {
  NODE_PATH=$MODULES MIEN_CHROMIUM=$CHROMIUM node "$ROOT/tests/web/page.js" "$1" "$URL" \
    "$PHOTOS" "$SHOTS" "${@:2}" | tee "$TMP/page.out"
  local rc=${PIPESTATUS[0]}
  ((rc == 77)) && { stop_server; skip_all "Chromium cannot start here (see the line above)"; }
  pass=$((pass + $(grep -c '^ok ' "$TMP/page.out")))
  fail=$((fail + $(grep -c '^FAIL ' "$TMP/page.out")))
  ((rc == 0)) || grep -q '^FAIL ' "$TMP/page.out" || bad "page.js $1" "exit $rc"
}

# ---- 1. a server without keys ----
if start_server --web "$ROOT/web"; then
  ok "server started"
  browser open
  if stop_server; then ok "server stopped cleanly"; else bad "server stop" "exit $?"; fi
else
  bad "server start" "see above"
fi

# ---- 2. the same data with an access key ----
if run "keys add" 0 "$MIEN" --data "$SERVER_DATA" keys add web; then
  read -r KEY_ID SECRET < <(python3 -c \
    'import json,sys; k = json.load(sys.stdin); print(k["AccessKeyId"], k["SecretAccessKey"])' <"$TMP/out")
  # start_server's background job truncates server.out only once it runs: until then the
  # first server's {"listening":...} line is still there to be read. Empty it first.
  : >"$TMP/server.out"
  if [[ -n ${SECRET:-} ]] && start_server --web "$ROOT/web"; then
    browser signed "$KEY_ID" "$SECRET"
    stop_server || bad "server stop (signed)" "exit $?"
  else
    bad "signed server" "no key in $(head -c 200 "$TMP/out") or the server did not start"
  fi
fi

# ---- 3. the People view (a fresh store) ----
SERVER_DATA=$TMP/people
: >"$TMP/server.out"
if start_server --web "$ROOT/web"; then
  browser people
  stop_server || bad "server stop (people)" "exit $?"
else
  bad "people server" "did not start"
fi

finish
