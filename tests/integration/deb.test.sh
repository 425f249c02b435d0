#!/usr/bin/env bash
# deb.test.sh: the Debian package (scripts/build-deb.sh, what `make deb` runs), built from the binary under
# test, installed into a clean temporary root with dpkg -x (no maintainer scripts, nothing outside the temp
# dir), then checked: its files, its control data, the man pages render, `ostiary --version`, the unit passes
# `systemd-analyze verify` and `systemd-analyze security` (exposure at most 2.0), and the binary starts
# the way the unit starts it: ExecStartPre (config check), ExecStart, an ExecReload (check, then SIGHUP),
# SIGTERM, as an unprivileged user without new privileges (setpriv, when run as root), in its state
# directory, with the packaged example configuration whose paths point into the temp dir. Removes
# everything it made.
# Usage: tests/integration/deb.test.sh [path/to/ostiary]   (default build/release/ostiary)
# Prints one line per check and ends with "N passed, N failed"; exits non-zero if any check failed.
set -euo pipefail

BIN=${1:-build/release/ostiary}
case $BIN in /*) ;; *) BIN=$PWD/$BIN ;; esac
ROOT_DIR=$(cd "$(dirname "$0")/../.." && pwd)

PASS=0
FAIL=0
TMP=$(mktemp -d)
SERVER_PID=
cleanup() {
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then kill -KILL "$SERVER_PID" 2>/dev/null || true; fi
    rm -rf "$TMP"
}
trap cleanup EXIT

pass() { PASS=$((PASS + 1)); echo "ok   - $1"; }
fail() { FAIL=$((FAIL + 1)); echo "FAIL - $1${2:+ ($2)}"; }
check() {
    local desc=$1
    shift
    if "$@"; then pass "$desc"; else fail "$desc" "${DETAIL:-}"; fi
    DETAIL=
}
finish() {
    echo "$PASS passed, $FAIL failed"
    [ "$FAIL" -eq 0 ]
    exit $?
}

for tool in dpkg-deb dpkg-shlibdeps lowdown systemd-analyze curl; do
    command -v "$tool" >/dev/null || { fail "$tool is installed (scripts/install-deps.sh)"; finish; }
done

# ---- build ----
DEB=$("$ROOT_DIR/scripts/build-deb.sh" "$BIN" "$TMP/out" 2>"$TMP/build.err") || {
    DETAIL=$(cat "$TMP/build.err")
    check "the package builds" false
    finish
}
pass "the package builds: $(basename "$DEB")"
VERSION=$(cat "$ROOT_DIR/VERSION")
check "dpkg-deb --info: package, version, dependencies" \
    eval 'dpkg-deb -f "$DEB" Package Version Depends >"$TMP/fields" &&
          grep -qx "Package: ostiary" "$TMP/fields" && grep -qx "Version: $VERSION" "$TMP/fields" &&
          grep -q "^Depends: .*libh2o-evloop.*libssl3" "$TMP/fields"'
check "the example configuration is a conffile" eval '[ "$(dpkg-deb -I "$DEB" conffiles)" = /etc/ostiary/ostiary.yaml ]'

# ---- install into a clean root ----
R=$TMP/root
mkdir -p "$R"
dpkg -x "$DEB" "$R"
for f in usr/bin/ostiary etc/ostiary/ostiary.yaml lib/systemd/system/ostiary.service \
    usr/share/man/man1/ostiary.1.gz usr/share/man/man5/ostiary.yaml.5.gz usr/share/man/man7/ostiary-users.7.gz \
    usr/share/man/man7/ostiary-keys.7.gz usr/share/doc/ostiary/copyright; do
    check "installed: /$f" [ -s "$R/$f" ]
done
check "ostiary --version prints the package version" eval '[ "$("$R/usr/bin/ostiary" --version)" = "ostiary $VERSION" ]'
check "ostiary version (the command) too" eval '[ "$("$R/usr/bin/ostiary" version)" = "ostiary $VERSION" ]'
if command -v man >/dev/null; then
    check "man ostiary renders, with a NAME section and the commands" \
        eval 'MANWIDTH=100 man -l "$R/usr/share/man/man1/ostiary.1.gz" 2>/dev/null >"$TMP/man1" &&
              grep -q "^NAME" "$TMP/man1" && grep -q "ostiary config check" "$TMP/man1"'
    check "man ostiary.yaml renders the key table" \
        eval 'MANWIDTH=200 man -l "$R/usr/share/man/man5/ostiary.yaml.5.gz" 2>/dev/null | grep -q "tls.cert_file"'
fi

# ---- the unit ----
UNIT=$R/lib/systemd/system/ostiary.service
# verify resolves the unit's dependencies (sysinit.target, ...) inside --root: give it the host's targets.
cp -n /lib/systemd/system/*.target /lib/systemd/system/*.slice "$R/lib/systemd/system/" 2>/dev/null || true
DETAIL=$(systemd-analyze verify --man=no --root="$R" "$UNIT" 2>&1) && VOUT=$DETAIL || VOUT="failed: $DETAIL"
check "systemd-analyze verify: no error, no warning" [ -z "$VOUT" ]
DETAIL=$(systemd-analyze security --offline=yes --root="$R" --threshold=20 "$UNIT" 2>&1 | tail -3) && SOK=1 || SOK=0
check "systemd-analyze security: exposure at most 2.0 ($(grep -o 'exposure level[^:]*: [0-9.]*' <<<"$DETAIL" | grep -o '[0-9.]*$'))" [ "$SOK" = 1 ]
unit_has() { grep -qx "$1" "$UNIT" || { DETAIL="missing: $1"; return 1; }; }
for line in DynamicUser=yes StateDirectory=ostiary ProtectSystem=strict NoNewPrivileges=yes \
    'SystemCallFilter=@system-service' 'CapabilityBoundingSet=' 'LoadCredential=key-secret:/etc/ostiary/key-secret'; do
    check "the unit sets $line" unit_has "$line"
done

# ---- start it as the unit does ----
# The unit's commands, with the package's paths moved into the temp root and dirs.
STATE=$TMP/state          # StateDirectory=ostiary (/var/lib/ostiary)
CRED=$TMP/credentials     # /run/credentials/ostiary.service
mkdir -p "$STATE" "$CRED"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null ||
    echo $((20000 + RANDOM % 20000)))
head -c 32 /dev/urandom | base64 >"$CRED/key-secret" # what postinst makes
CONF=$TMP/etc/ostiary.yaml
mkdir -p "$TMP/etc"
sed -e "s#^issuer: .*#issuer: http://127.0.0.1:$PORT#" -e "s#^listen: .*#listen: 127.0.0.1:$PORT#" \
    -e "s#/var/lib/ostiary#$STATE#g" -e "s#/run/credentials/ostiary.service#$CRED#g" \
    "$R/etc/ostiary/ostiary.yaml" >"$CONF"
check "only issuer, listen, storage and keys.secret_file of the example were changed" \
    eval '[ "$(diff <(grep -v "^ *#" "$R/etc/ostiary/ostiary.yaml") <(grep -v "^ *#" "$CONF") | grep -c "^>")" -eq 4 ]'
unit_cmd() { # KEY [N]: the Nth KEY= command line of the unit, paths moved
    grep "^$1=" "$UNIT" | sed -n "${2:-1}p" | sed -e "s#^$1=##" -e "s#/usr/bin/ostiary#$R/usr/bin/ostiary#g" \
        -e "s#/etc/ostiary/ostiary.yaml#$CONF#g"
}
# Unprivileged and without new privileges, as DynamicUser= and NoNewPrivileges= make it, when we can.
AS=()
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null; then
    chown -R 65534:65534 "$STATE" "$CRED" "$TMP/etc"
    chmod 0755 "$TMP"
    AS=(setpriv --reuid=65534 --regid=65534 --clear-groups --no-new-privs)
fi
# systemd starts the unit with a clean environment; the sanitizers' options of a sanitizer build go along.
CLEAN_ENV=(env -i PATH=/usr/bin:/bin)
for v in ASAN_OPTIONS LSAN_OPTIONS UBSAN_OPTIONS; do
    if [ -n "${!v:-}" ]; then CLEAN_ENV+=("$v=${!v}"); fi
done
read -r -a PRE <<<"$(unit_cmd ExecStartPre)"
read -r -a START <<<"$(unit_cmd ExecStart)"
read -r -a RELOAD_CHECK <<<"$(unit_cmd ExecReload 1)"
check "ExecStartPre (config check) accepts the example configuration" \
    eval '(cd "$STATE" && umask 077 && "${CLEAN_ENV[@]}" "${AS[@]}" "${PRE[@]}" >"$TMP/pre.out" 2>&1)'
(cd "$STATE" && umask 077 && exec "${CLEAN_ENV[@]}" "${AS[@]}" "${START[@]}" >"$TMP/serve.log" 2>&1) &
SERVER_PID=$!
up=0
for _ in $(seq 1 200); do
    if curl -s -m 2 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/healthz" 2>/dev/null | grep -q 200; then
        up=1
        break
    fi
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.05
done
DETAIL=$(tail -5 "$TMP/serve.log")
check "ExecStart serves: /healthz 200" [ "$up" = 1 ]
check "discovery names the issuer" \
    eval 'curl -s -m 5 "http://127.0.0.1:$PORT/.well-known/openid-configuration" | grep -q "\"issuer\": *\"http://127.0.0.1:$PORT\""'
check "the database is in the state directory, private to its user" \
    eval '[ -f "$STATE/ostiary.db" ] && [ "$(stat -c %a "$STATE/ostiary.db")" = 600 ]'
SRV=$(pgrep -n -f "$R/usr/bin/ostiary serve" || true)
if [ ${#AS[@]} -gt 0 ]; then
    check "the server runs as the unprivileged user, without new privileges" \
        eval '[ -n "$SRV" ] && awk "/^Uid:/ {print \$2} /^NoNewPrivs:/ {print \$2}" /proc/$SRV/status | tr "\n" " " |
              grep -qx "65534 1 "'
fi
# ExecReload: the check, then SIGHUP to the main process.
check "ExecReload: the check passes" eval '(cd "$STATE" && "${CLEAN_ENV[@]}" "${AS[@]}" "${RELOAD_CHECK[@]}" >/dev/null 2>&1)'
if [ -n "$SRV" ]; then kill -HUP "$SRV"; fi
ok=0
for _ in $(seq 1 100); do
    grep -q '"event":"config_reloaded"' "$TMP/serve.log" && { ok=1; break; }
    sleep 0.05
done
DETAIL=$(tail -3 "$TMP/serve.log")
check "ExecReload: SIGHUP reloads the configuration" [ "$ok" = 1 ]
if [ -n "$SRV" ]; then kill -TERM "$SRV"; fi
rc=0
wait "$SERVER_PID" || rc=$?
SERVER_PID=
DETAIL=$(tail -3 "$TMP/serve.log")
check "SIGTERM (KillSignal): exit 0" [ "$rc" -eq 0 ]
check "no sanitizer report" eval '! grep -qE "ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:" "$TMP/serve.log"'

finish
