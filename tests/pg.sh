# pg.sh - a throwaway PostgreSQL cluster for the tests, so that nothing needs to run beforehand
# (docs/cluster.md). Sourced: pg_start makes one (initdb into a temporary directory, the server
# listening only on a unix socket there, fsync off: it dies with the test) and sets PG_CONN, a
# libpq connection string without a database, and PG_URL, a postgresql:// URL of the database
# "mien"; pg_require does the same for a test script (or skips it); pg_stop stops it (and any
# `mien serve` nodes on it) and removes the directory (pg_start arranges for it on exit); pg_sql
# runs SQL as the cluster's superuser. PostgreSQL refuses to run as root: as root, the cluster
# belongs to `nobody`.
#
# Run as a program, `bash tests/pg.sh run CMD...` runs CMD with $MIEN_TEST_STORE set to the
# postgresql:// URL of the cluster's database: tests/lib.sh gives it to every mien command as
# $MIEN_STORE (which wins over --data), and the in-process tests' fixtures open it, emptied
# (tests/test_store.h). That is how ctest's *_pg cases run the API tests against the second
# backend. Exit 77 (skipped) when PostgreSQL is not installed.

PG_BIN=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}

# as_owner CMD...: runs CMD as the cluster's owner.
pg_as_owner() {
  if ((EUID == 0)); then
    setpriv --reuid=nobody --regid=nogroup --clear-groups -- "$@"
  else
    "$@"
  fi
}

# pg_initdb DIR: initdb into DIR (in $PG_DIR, which the owner may write).
pg_initdb() {
  pg_as_owner "$PG_BIN/initdb" -D "$1" -U mien --auth=trust -E UTF8 --locale=C -N \
    >"$PG_DIR/initdb.log" 2>&1 && return 0
  echo "pg.sh: initdb failed: $(tail -3 "$PG_DIR/initdb.log")" >&2
  return 1
}

# pg_new_cluster: a new cluster in $PG_DIR/data. initdb makes the same files every time and
# takes seconds, so in a build ($MIEN_BUILD: ctest) the first test keeps them as
# $MIEN_BUILD/pg-template-VERSION and the others copy that (owner and modes kept).
pg_new_cluster() {
  [[ -n ${MIEN_BUILD:-} && -d $MIEN_BUILD ]] || {
    pg_initdb "$PG_DIR/data"
    return
  }
  local tpl
  tpl=$MIEN_BUILD/pg-template-$(basename "$(dirname "$PG_BIN")")
  {
    flock 9
    [[ -d $tpl ]] || { pg_initdb "$PG_DIR/template" && mv "$PG_DIR/template" "$tpl"; }
  } 9>"$tpl.lock"
  [[ -d $tpl ]] && cp -a "$tpl" "$PG_DIR/data"
}

pg_start() {
  [[ -x $PG_BIN/initdb ]] || return 77
  PG_DIR=$(mktemp -d /tmp/mien-pg.XXXXXX)
  chmod 755 "$PG_DIR"
  ((EUID == 0)) && chown nobody:nogroup "$PG_DIR"
  pg_new_cluster || return 1
  pg_ctl_start || return 1
  PG_CONN="host=$PG_DIR port=5432 user=mien"
  PG_URL="postgresql://mien@/mien?host=$PG_DIR"
  pg_sql "CREATE DATABASE mien" >/dev/null || return 1
  # shellcheck disable=SC2064 # PG_DIR now, not at exit
  trap "pg_stop; $(trap -p EXIT | sed -E "s/^trap -- '(.*)' EXIT$/\1/")" EXIT
}

# pg_require: pg_start for a test script: exits 77 (skipped) when PostgreSQL is not installed,
# 1 (failed) when the cluster does not start.
pg_require() {
  pg_start
  case $? in
  0) ;;
  77)
    echo "PostgreSQL is not installed (scripts/install-deps): skipped"
    exit 77
    ;;
  *)
    echo "0 passed, 1 failed"
    exit 1
    ;;
  esac
}

# pg_ctl_start: (re)starts the cluster's server, waiting until it accepts connections.
pg_ctl_start() {
  pg_as_owner "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 \
    -o "-k $PG_DIR -c listen_addresses= -c fsync=off -c max_connections=200" start >/dev/null ||
    {
      echo "pg.sh: the server did not start: $(tail -3 "$PG_DIR/server.log")" >&2
      return 1
    }
}

# pg_ctl_stop: stops the server (fast: open sessions are ended), keeping the cluster.
pg_ctl_stop() {
  pg_as_owner "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w stop >/dev/null 2>&1
}

# pg_stop: stops the nodes still running (pg_node_start), then the cluster, and removes it.
pg_stop() {
  pg_nodes_stop
  [[ -n ${PG_DIR:-} && -d $PG_DIR ]] || return 0
  pg_ctl_stop
  rm -rf "$PG_DIR"
  PG_DIR=
}

# pg_sql SQL [DB]: runs SQL (as the superuser mien, in DB, default postgres); rows on stdout.
pg_sql() {
  "$PG_BIN/psql" -X -q -t -A -v ON_ERROR_STOP=1 -d "$PG_CONN dbname=${2:-postgres}" -c "$1"
}

# pg_files_hold HEX: whether the bytes HEX occur in any file of the cluster's databases (base/:
# tables, indexes and their free space), after a checkpoint has written every page there; how the
# tests prove an erasure left no bytes (pg_wal keeps a log of changes until it is recycled, which
# docs/cluster.md says).
pg_files_hold() {
  pg_sql "CHECKPOINT" >/dev/null
  python3 - "$PG_DIR/data/base" "$1" <<'EOF'
import os, sys
needle = bytes.fromhex(sys.argv[2])
for root, _, files in os.walk(sys.argv[1]):
    for f in files:
        with open(os.path.join(root, f), "rb") as fh:
            if needle in fh.read():
                sys.exit(0)
sys.exit(1)
EOF
}

# ---- `mien serve` nodes on the cluster (needs lib.sh's MIEN and TMP) ----
NODE_PIDS=()
NODE_URLS=()
PG_NODE_ARGS=() # more `mien serve` options for every node
# pg_node_start N [ADDR:PORT]: starts node N (`mien serve` on $PG_URL, one worker, listening on
# ADDR:PORT, default a free loopback port; its output in $TMP/nodeN.out and .log, the log
# appended to) and waits until it listens: NODE_URLS[N], NODE_PIDS[N]. Fails when it exits first.
pg_node_start() {
  local out=$TMP/node$1.out i url=
  : >"$out"
  "$MIEN" --store "$PG_URL" serve --listen "${2:-127.0.0.1:0}" --workers 1 "${PG_NODE_ARGS[@]}" \
    >"$out" 2>>"$TMP/node$1.log" &
  NODE_PIDS[$1]=$!
  for ((i = 0; i < 600; i++)); do
    url=$(sed -n 's/^{"listening":"\([^"]*\)".*/\1/p' "$out")
    [[ -n $url ]] && break
    kill -0 "${NODE_PIDS[$1]}" 2>/dev/null || break
    sleep 0.1
  done
  NODE_URLS[$1]=$url
  [[ -n $url ]]
}

# pg_nodes_stop: SIGTERM to every node still running, and waits for them.
pg_nodes_stop() {
  local p
  for p in "${NODE_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
  for p in "${NODE_PIDS[@]}"; do wait "$p" 2>/dev/null; done
  NODE_PIDS=()
}

if [[ ${BASH_SOURCE[0]} == "$0" && ${1:-} == run ]]; then
  shift
  pg_require
  MIEN_TEST_STORE=$PG_URL "$@"
  exit $?
fi
