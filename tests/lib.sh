# lib.sh - sourced by the shell tests after they set ROOT (the repository): MIEN (the binary,
# $MIEN_BUILD/mien, default build/mien), DATA ($MIEN_SHARED/data, default ../shared/data), a TMP
# folder removed on exit, the pass/fail counters with ok and bad, and run.

MIEN=${MIEN_BUILD:-$ROOT/build}/mien
DATA=${MIEN_SHARED:-$ROOT/../shared}/data
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
pass=0 fail=0

ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1: $2"; }

# run NAME WANT_EXIT CMD...: runs CMD, keeps stdout/stderr in $TMP/out, $TMP/err.
run() {
  local name=$1 want=$2
  shift 2
  "$@" >"$TMP/out" 2>"$TMP/err"
  local rc=$?
  if [[ $rc != "$want" ]]; then
    bad "$name" "exit $rc, wanted $want: $(head -c 300 "$TMP/err")"
    return 1
  fi
}
