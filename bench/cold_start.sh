#!/usr/bin/env bash
# bench/cold_start.sh: cold start with many clients and users in the file (see bench/README.md).
#
#   bench/cold_start.sh                       # 1,000 clients, 1,000 users, 10 timed restarts
#   CLIENTS=100 USERS=100 RUNS=5 bench/cold_start.sh
#   KEEP_TMP=1 bench/cold_start.sh; REUSE=/var/tmp/ostiary-coldstart.XXXX bench/cold_start.sh
#                                             # time restarts again on a store filled before
#
# Generates a configuration into a temp dir (SQLite on disk), starts $OSTIARY_BIN once to fill the store
# (the first start hashes every user's password with argon2id: timed and printed, it is not the figure),
# stops it, then runs bench/coldstart.c: RUNS starts from exec to the first answered request (`GET
# /healthz` = 200), each stopped with SIGTERM. Prints the first start's duration, the min / median / max
# of the restarts, and the medians of the phases the server reports in its `listening` line (config,
# store, keys, records; start = all of them, up to the listening sockets). Everything is bounded by
# `timeout`; the temp dir is removed unless KEEP_TMP=1 (or REUSE names it).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
BIN="${OSTIARY_BIN:-$ROOT/build/release/ostiary}"
CLIENTS="${CLIENTS:-1000}"
USERS="${USERS:-1000}"
RUNS="${RUNS:-10}"
PORT="${PORT:-4311}"
WORKERS="${WORKERS:-2}"

die() { echo "cold_start.sh: $*" >&2; exit 1; }
[ -x "$BIN" ] || die "no server binary at $BIN (make -j2, or set OSTIARY_BIN)"
command -v cc >/dev/null || die "cc not found"
for v in "$CLIENTS" "$USERS" "$RUNS"; do [[ "$v" =~ ^[0-9]+$ ]] || die "CLIENTS, USERS, RUNS: numbers"; done

if [ -n "${REUSE:-}" ]; then
  TMP=$REUSE
  KEEP_TMP=1
  [ -f "$TMP/ostiary.yaml" ] || die "REUSE=$REUSE: no ostiary.yaml there"
else
  TMP=$(mktemp -d "${TMPDIR:-/var/tmp}/ostiary-coldstart.XXXXXX")
fi
cleanup() { [ "${KEEP_TMP:-0}" = 1 ] && echo "kept $TMP" >&2 || rm -rf "$TMP"; }
trap cleanup EXIT

cc -O2 -o "$TMP/coldstart" "$HERE/coldstart.c"
# The server refuses OSTIARY_* variables it does not know (OSTIARY_BIN is this script's).
for v in $(env | sed -n 's/^\(OSTIARY_[A-Za-z0-9_]*\)=.*/\1/p'); do unset "$v"; done
FIRST_MS=reused
if [ -z "${REUSE:-}" ]; then
SECRET=$(head -c 30 /dev/urandom | base64 | tr -d '/+=' | head -c 40)
{
  echo "issuer: http://127.0.0.1:$PORT"
  echo "listen: 127.0.0.1:$PORT"
  echo "storage: sqlite:$TMP/ostiary.db"
  echo "workers: $WORKERS"
  echo "log_level: info"
  echo "keys:"
  echo "  secret: \"$SECRET\""
  echo "resources:"
  echo "  - identifier: urn:bench:api"
  echo "    scopes: [read, write]"
  echo "clients:"
  for i in $(seq 1 "$CLIENTS"); do
    echo "  - client_id: client-$i"
    echo "    client_secret: secret-$i-$SECRET"
    echo "    grant_types: [authorization_code, refresh_token, client_credentials]"
    echo "    redirect_uris: [\"https://app$i.example.com/callback\"]"
    echo "    scope: openid profile read"
  done
  echo "users:"
  for i in $(seq 1 "$USERS"); do
    echo "  - username: user$i"
    echo "    password: \"password-$i-$SECRET\""
    echo "    name: User $i"
    echo "    email: user$i@example.com"
  done
} >"$TMP/ostiary.yaml"
echo "== config: $CLIENTS clients, $USERS users ($(wc -c <"$TMP/ostiary.yaml") bytes)" >&2

echo "== first start (fills the store; hashes $USERS passwords)" >&2
T0=$(date +%s%N)
COLDSTART_LIMIT_S=1800 timeout 1800 "$TMP/coldstart" "$PORT" 1 "$TMP" -- "$BIN" serve --config "$TMP/ostiary.yaml" >"$TMP/first.txt" ||
  die "first start failed: $(tail -5 "$TMP"/coldstart-1.log)"
FIRST_MS=$(sed -n 's/.*"first_response_ms":\([0-9.]*\).*/\1/p' "$TMP/first.txt")
mv "$TMP/coldstart-1.log" "$TMP/first-start.log"
fi

echo "== $RUNS restarts" >&2
timeout 900 "$TMP/coldstart" "$PORT" "$RUNS" "$TMP" -- "$BIN" serve --config "$TMP/ostiary.yaml" | tee "$TMP/runs.txt" >&2
SUMMARY=$(grep '^SUMMARY' "$TMP/runs.txt" | sed 's/^SUMMARY //')
# The phases, from each restart's `listening` line (microseconds), as medians in ms.
phase() {
  grep -h '"event":"listening"' "$TMP"/coldstart-*.log | sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p" | sort -n |
    awk '{v[NR]=$1} END {if (NR) printf "%.1f", (NR % 2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2) / 1000; else printf "-"}'
}
CLIENTS=$(grep -c '^  - client_id:' "$TMP/ostiary.yaml")
USERS=$(grep -c '^  - username:' "$TMP/ostiary.yaml")
echo
echo "| clients | users | first start (ms) | restart: min / median / max (ms) | runs |"
echo "|---:|---:|---:|---|---:|"
MIN=$(sed 's/.*"min_ms":\([0-9.]*\).*/\1/' <<<"$SUMMARY")
MED=$(sed 's/.*"median_ms":\([0-9.]*\).*/\1/' <<<"$SUMMARY")
MAX=$(sed 's/.*"max_ms":\([0-9.]*\).*/\1/' <<<"$SUMMARY")
echo "| $CLIENTS | $USERS | $FIRST_MS | $MIN / $MED / $MAX | $RUNS |"
echo
echo "| median of restarts (ms) | config | store | keys | records | start (to listening) |"
echo "|---|---:|---:|---:|---:|---:|"
echo "| | $(phase config_us) | $(phase store_us) | $(phase keys_us) | $(phase records_us) | $(phase start_us) |"
