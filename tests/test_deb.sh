#!/usr/bin/env bash
# test_deb.sh - the Debian package and its service, as an administrator meets them: build the
# .deb from the build directory (packaging/build-deb, what `make deb` runs), `apt-get install`
# it (dependencies resolved by apt, from what is installed or from Debian), then run the unit's
# ExecStart as systemd would: as the user mien, with the unit's Environment= (the address set
# to port 0, as /etc/default/mien may), its working directory, umask, no new privileges and an
# empty capability bounding set (setpriv; systemd is not PID 1 in CI). aws-cli (v1, from PATH)
# lists and creates collections; `mien keys add` as mien, then the unit's ExecReload (SIGHUP)
# must make the running server demand signatures; SIGTERM stops it. `apt-get purge` must then
# leave nothing but /var/lib/mien (handed to root) and remove the user and group.
#
# Needs root and changes the system, so it runs only where no mien package, user or
# /var/lib/mien exists, one run at a time (a lock), and undoes everything on exit, failure
# included (purge, the data directory it created, the user). Normal build only: an ASan build
# would be packaged with its sanitizer.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=tests/lib.sh
source "$ROOT/tests/lib.sh"
require_mien
BUILD=$(dirname "$MIEN")
UNIT=/lib/systemd/system/mien.service

skip_all() {
  echo "SKIP test_deb: $1"
  exit 77
}
((EUID == 0)) || skip_all "needs root (apt-get install, a system user)"
sanitized_build && skip_all "an ASan+UBSan build: the normal build packages and runs it"
for tool in dpkg-deb dpkg-shlibdeps apt-get setpriv help2man; do
  command -v $tool >/dev/null || skip_all "$tool missing (scripts/install-deps)"
done
# installed: whether dpkg knows the package mien in any state but purged (installed, half
# installed, removed with its configuration left).
installed() {
  local status
  status=$(dpkg-query -W -f='${Status}' mien 2>/dev/null)
  [[ -n $status && $status != *not-installed ]]
}
exec 9>/run/lock/mien-test-deb.lock
flock -n 9 || skip_all "another test_deb runs"
if installed || getent passwd mien >/dev/null ||
  getent group mien >/dev/null || [[ -e /var/lib/mien ]]; then
  skip_all "a mien package, user or /var/lib/mien exists here: not touching it"
fi
AWS=$(command -v aws) || skip_all "no aws on PATH"
APT=(apt-get -y -q -o DPkg::Lock::Timeout=120)
SERVICE_PID=

cleanup() {
  [[ -n $SERVICE_PID ]] && kill -KILL "$SERVICE_PID" 2>/dev/null
  if installed; then
    DEBIAN_FRONTEND=noninteractive "${APT[@]}" purge mien >/dev/null 2>&1
  fi
  getent passwd mien >/dev/null && userdel mien
  getent group mien >/dev/null && groupdel mien
  rm -rf /var/lib/mien "$TMP"
}
trap cleanup EXIT

# ---- build and install ----
DEB=$(MIEN_DEB_COMPRESS=none "$ROOT/packaging/build-deb" "$BUILD" "$TMP" 2>"$TMP/err") && ok "build-deb: $(basename "$DEB")" ||
  { bad "build-deb" "$(cat "$TMP/err")"; finish; }
depends=$(dpkg-deb -f "$DEB" Depends)
[[ $depends == *libc6* && $depends == *libsqlite3-0* && $depends == *adduser* ]] && ok "Depends: $depends" ||
  bad "Depends" "$depends"
run "apt-get install" 0 env DEBIAN_FRONTEND=noninteractive "${APT[@]}" install --no-install-recommends "$DEB" &&
  ok "apt-get install"
run "installed mien" 0 /usr/bin/mien --version && check "installed mien --version" 'r["version"] == "0.1.0"'
[[ $(pkg-config --modversion mien 2>/dev/null) == 0.1.0 ]] && ok "pkg-config mien" || bad "pkg-config" "no mien.pc"
[[ -f /usr/share/man/man1/mien-serve.1.gz && -f /usr/share/man/man1/mien.1.gz ]] && ok "man pages" || bad "man pages" "missing"
[[ $(getent passwd mien | cut -d: -f6,7) == /var/lib/mien:/usr/sbin/nologin ]] && ok "user mien" ||
  bad "user mien" "$(getent passwd mien)"
[[ $(stat -c %U:%a /var/lib/mien 2>&1) == mien:700 ]] && ok "/var/lib/mien mien 0700" || bad "/var/lib/mien" "$(stat -c %U:%a /var/lib/mien 2>&1)"
for line in User=mien ProtectSystem=strict NoNewPrivileges=yes StateDirectory=mien; do
  grep -qx "$line" "$UNIT" && ok "unit: $line" || bad "unit" "no $line"
done
if command -v systemd-analyze >/dev/null; then
  run "systemd-analyze verify" 0 systemd-analyze verify "$UNIT" && ok "systemd-analyze verify"
fi

# ---- the unit's ExecStart, as systemd runs it ----
declare -A ENV
while IFS='=' read -r name value; do ENV[$name]=$value; done < <(sed -n 's/^Environment=//p' "$UNIT")
ENV[MIEN_LISTEN]=127.0.0.1:0
# unit_command KEY: the unit's KEY= command line with systemd's expansion: ${VAR} one word,
# $VAR split into words (none when empty); into CMD.
unit_command() {
  local w
  CMD=()
  set -f
  for w in $(sed -n "s/^$1=//p" "$UNIT"); do
    if [[ $w =~ ^\$\{([A-Z_]+)\}$ ]]; then CMD+=("${ENV[${BASH_REMATCH[1]}]}")
    elif [[ $w =~ ^\$([A-Z_]+)$ ]]; then CMD+=(${ENV[${BASH_REMATCH[1]}]})
    else CMD+=("$w"); fi
  done
  set +f
}
unit_command ExecStart
user=$(sed -n 's/^User=//p' "$UNIT")
workdir=$(sed -n 's/^WorkingDirectory=//p' "$UNIT")
envs=()
for name in "${!ENV[@]}"; do envs+=("$name=${ENV[$name]}"); done
(
  umask "$(sed -n 's/^UMask=//p' "$UNIT")"
  cd "$workdir" && exec env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin "${envs[@]}" \
    setpriv --reuid="$user" --regid="$user" --init-groups --no-new-privs --bounding-set=-all --inh-caps=-all \
    "${CMD[@]}"
) >"$TMP/service.out" 2>"$TMP/service.log" &
SERVICE_PID=$!
for ((i = 0; i < 300; i++)); do
  URL=$(sed -n 's/^{"listening":"\([^"]*\)".*/\1/p' "$TMP/service.out")
  [[ -n $URL ]] && break
  kill -0 "$SERVICE_PID" 2>/dev/null || break
  sleep 0.1
done
if [[ -z $URL ]]; then
  bad "ExecStart" "${CMD[*]} did not start: $(tail -c 600 "$TMP/service.log")"
  finish
fi
ok "ExecStart as $user: $URL"
[[ $(stat -c %U /proc/$SERVICE_PID) == mien ]] && ok "runs as mien" || bad "user" "$(stat -c %U /proc/$SERVICE_PID)"

export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_EC2_METADATA_DISABLED=true \
  AWS_PAGER="" AWS_DEFAULT_REGION=us-east-1 AWS_MAX_ATTEMPTS=1
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_DATA_PATH
rk() { "$AWS" --endpoint-url "$URL" --output json rekognition "$@"; }
run "aws list-collections" 0 rk list-collections --no-sign-request &&
  check "aws list-collections ($("$AWS" --version 2>&1 | cut -d' ' -f1))" 'r["CollectionIds"] == []'
run "aws create-collection" 0 rk create-collection --collection-id album --no-sign-request &&
  check "aws create-collection" 'r["StatusCode"] == 200'
owners=$(find /var/lib/mien -mindepth 1 -printf '%u\n' | sort -u | paste -sd,)
[[ $owners == mien ]] && ok "data written as mien" || bad "data owners" "'$owners'"

# A key, then the unit's reload: the running server must demand signatures.
run "keys add as mien" 0 runuser -u mien -- /usr/bin/mien --data /var/lib/mien keys add test
AWS_ACCESS_KEY_ID=$(json_get 'r["AccessKeyId"]') AWS_SECRET_ACCESS_KEY=$(json_get 'r["SecretAccessKey"]')
export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
ENV[MAINPID]=$SERVICE_PID
unit_command ExecReload
run "ExecReload" 0 "${CMD[@]}" && sleep 0.5
grep -q '^{"reloaded":"access keys","keys":1}$' "$TMP/service.log" && kill -0 "$SERVICE_PID" 2>/dev/null &&
  ok "ExecReload (SIGHUP) logs the store's key count" || bad "ExecReload" "$(tail -c 400 "$TMP/service.log")"
expect "unsigned after reload" 255 MissingAuthenticationTokenException rk list-collections --no-sign-request
run "signed list-collections" 0 rk list-collections && check "signed list-collections" 'r["CollectionIds"] == ["album"]'
kill -TERM "$SERVICE_PID"
wait "$SERVICE_PID" && ok "SIGTERM: clean stop" || bad "SIGTERM" "exit $?"
SERVICE_PID=

# ---- purge ----
dpkg-query -L mien | sort >"$TMP/files"
run "apt-get purge" 0 env DEBIAN_FRONTEND=noninteractive "${APT[@]}" purge mien && ok "apt-get purge"
left=$(while read -r f; do [[ -e $f && ! -d $f ]] && echo "$f"; done <"$TMP/files")
[[ -z $left && ! -e /usr/share/mien && ! -e /etc/default/mien ]] && ok "purge removed the files" || bad "purge left" "$left"
getent passwd mien >/dev/null || getent group mien >/dev/null && bad "purge" "user or group mien left" || ok "purge removed user and group"
[[ -d /var/lib/mien && $(stat -c %U:%a /var/lib/mien) == root:700 && -n $(ls -A /var/lib/mien) ]] &&
  ok "purge kept /var/lib/mien (root, 0700)" || bad "data after purge" "$(ls -la /var/lib/mien 2>&1 | head -5)"
finish
