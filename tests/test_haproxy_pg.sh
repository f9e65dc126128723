#!/usr/bin/env bash
# test_haproxy_pg.sh - the load-balancing recipe of docs/cluster.md, as written there: three `mien
# serve` nodes on one PostgreSQL store (a throwaway cluster, tests/pg.sh) behind Debian's haproxy
# on loopback, health-checked on GET /health. While boto3 clients send DetectFaces, IndexFaces and
# SearchFacesByImage through haproxy without pause and without retries (tests/server/lb_load.py),
# each node in turn is sent SIGHUP, then restarted the way the recipe says: disabled on haproxy's
# admin socket, its last requests drained, stopped (SIGTERM), started again on its port and
# enabled once GET /health answers. No request may fail, every restarted node must take requests
# again, and every face an IndexFaces acknowledged must be found by SearchFaces on every node.
# Skipped when PostgreSQL or haproxy is not installed (scripts/install-deps installs both).
# The check that this test can fail: HAPROXY_DRAIN=0 STOP_SIGNAL=KILL restarts without the drain
# and with a hard stop, and requests fail (a few per run: the ones the killed node was serving).
# With the drain, even kill -9 fails none; without it, SIGTERM alone fails none either: the node
# stops listening, finishes what it runs, and haproxy retries the refused connections elsewhere.
# Binary: $MIEN_BUILD/mien. Photo: tests/data/collins.jpg.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=tests/lib.sh
source "$ROOT/tests/lib.sh"
# shellcheck source=tests/pg.sh
source "$ROOT/tests/pg.sh"
require_mien
HAPROXY=$(command -v haproxy || echo /usr/sbin/haproxy)
if [[ ! -x $HAPROXY ]]; then
  echo "haproxy is not installed (scripts/install-deps): skipped"
  exit 77
fi
pg_require

# The test counts the requests a restart fails, not those an overloaded node throttles: a slow
# (sanitized, shared) machine may keep one worker busy past the default 2 s queue timeout.
PG_NODE_ARGS=(--queue-timeout 60000)
for n in 0 1 2; do
  pg_node_start $n || { bad "node $n" "did not start: $(tail -c 300 "$TMP/node$n.log")"; finish; }
done
URL=${NODE_URLS[0]}
api CreateCollection '{"CollectionId":"lb"}'
[[ $HTTP == 200 ]] && ok "CreateCollection" || bad "CreateCollection" "$HTTP $(cat "$TMP/out")"

# ---- haproxy, configured as docs/cluster.md's recipe (addresses filled in) ----
SOCK=$TMP/haproxy.sock
LB_PORT=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
{
  cat <<EOF
global
    stats socket $SOCK mode 600 level admin
defaults
    mode http
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    retries 3
    option redispatch
frontend rekognition
    bind 127.0.0.1:$LB_PORT
    default_backend mien
backend mien
    balance leastconn
    option httpchk
    http-check send meth GET uri /health ver HTTP/1.1 hdr Host localhost
    http-check expect status 200
    default-server check inter 500ms fall 2 rise 2
EOF
  for n in 0 1 2; do echo "    server node$n ${NODE_URLS[$n]#http://}"; done
} >"$TMP/haproxy.cfg"
"$HAPROXY" -db -f "$TMP/haproxy.cfg" >"$TMP/haproxy.log" 2>&1 &
HAPROXY_PID=$!
LB=http://127.0.0.1:$LB_PORT
trap 'kill "$HAPROXY_PID" 2>/dev/null; pg_stop; rm -rf "$TMP"' EXIT

# hap COMMAND: one command on haproxy's admin socket; its answer on stdout.
hap() {
  "$PY" -c 'import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode() + b"\n")
print(s.makefile().read(), end="")' "$SOCK" "$1"
}
# stat NODE FIELD: a field of `show stat` (status, scur, stot, ...) for backend server NODE.
stat() {
  hap "show stat" | awk -F, -v sv="$1" -v want="$2" '
    NR == 1 { sub(/^# /, ""); for (i = 1; i <= NF; i++) col[$i] = i; next }
    $1 == "mien" && $2 == sv { print $col[want] }'
}
# wait_stat NODE FIELD VALUE: waits up to 30 s for FIELD to read VALUE.
wait_stat() {
  local i
  for ((i = 0; i < 300; i++)); do
    [[ $(stat "$1" "$2" 2>/dev/null) == "$3" ]] && return 0
    sleep 0.1
  done
  return 1
}

for n in 0 1 2; do
  wait_stat node$n status UP || { bad "haproxy" "node$n not UP: $(tail -5 "$TMP/haproxy.log")"; finish; }
done
ok "haproxy: three nodes UP on GET /health"

# restart N: the rolling restart of node N, as docs/cluster.md says (HAPROXY_DRAIN=0: without
# taking it out of haproxy first; STOP_SIGNAL: how it is stopped, default TERM).
restart() {
  local node=node$1 addr=${NODE_URLS[$1]#http://}
  if [[ ${HAPROXY_DRAIN:-1} != 0 ]]; then
    hap "disable server mien/$node" >/dev/null
    wait_stat "$node" scur 0 || bad "drain $node" "requests still running after 30 s"
  fi
  kill -"${STOP_SIGNAL:-TERM}" "${NODE_PIDS[$1]}"
  wait "${NODE_PIDS[$1]}" 2>/dev/null || [[ ${STOP_SIGNAL:-TERM} != TERM ]] || bad "stop $node" "exit $?"
  pg_node_start "$1" "$addr" || bad "restart $node" "$(tail -c 300 "$TMP/node$1.log")"
  [[ ${HAPROXY_DRAIN:-1} != 0 ]] && hap "enable server mien/$node" >/dev/null
  wait_stat "$node" status UP || bad "restart $node" "not UP again in 30 s"
  served[$1]=$(stat "$node" stot)
}

# ---- the load, and the operations under it ----
rm -f "$TMP/stop"
PYTHONPATH=$ROOT/tests/server "$PY" "$ROOT/tests/server/lb_load.py" load "$LB" "$PHOTOS/collins.jpg" \
  "$TMP/stop" "$TMP/load.out" &
loader=$!
sleep 2
for n in 0 1 2; do
  kill -HUP "${NODE_PIDS[$n]}"
  sleep 0.5
done
sleep 1
for n in 0 1 2; do kill -0 "${NODE_PIDS[$n]}" || bad "SIGHUP" "node $n exited"; done
served=()
for n in 0 1 2; do restart $n; done
sleep 3
touch "$TMP/stop"
wait $loader

# ---- what the clients saw ----
for op in DetectFaces IndexFaces SearchFacesByImage; do
  n_ok=$(grep -c "^ok $op " "$TMP/load.out")
  n_fail=$(grep -c "^FAIL $op " "$TMP/load.out")
  if ((n_ok > 0 && n_fail == 0)); then
    ok "$op through haproxy: $n_ok requests, none failed"
  else
    bad "$op through haproxy" "$n_ok ok, $n_fail failed: $(grep -m2 "^FAIL $op " "$TMP/load.out")"
  fi
done
for n in 0 1 2; do
  if (($(stat node$n stot) > ${served[$n]:-0})); then
    ok "node $n took requests after its restart"
  else
    bad "node $n" "no request after its restart"
  fi
done
PYTHONPATH=$ROOT/tests/server "$PY" "$ROOT/tests/server/lb_load.py" verify "$TMP/load.out" \
  "${NODE_URLS[@]}" >"$TMP/py.out" 2>&1
cat "$TMP/py.out"
pass=$((pass + $(grep -c '^ok ' "$TMP/py.out")))
fail=$((fail + $(grep -c '^FAIL ' "$TMP/py.out")))
grep -q '^Traceback' "$TMP/py.out" && bad "lb_load.py verify" "$(tail -3 "$TMP/py.out")"
finish
