#!/usr/bin/env bash
# bench/tls.sh: native TLS beside plain HTTP, same server, same scenarios (see bench/README.md).
#
#   bench/tls.sh                         # CONNS=16, DURATION=5, ECDSA P-256 certificate
#   CERT=rsa DURATION=10 bench/tls.sh    # an RSA-2048 certificate instead
#
# Starts $OSTIARY_BIN (default build/release/ostiary) twice in turn with bench/ostiary-bench.yaml: plain
# HTTP, then TLS with a throwaway certificate (openssl, in the temp dir). Each time runs, with wrk -t2 -cCONNS
# and bench/scenario.lua:
#   healthz_new  GET /healthz with "Connection: close": a new connection per request, over TLS a full
#                handshake (TLS 1.3; wrk resumes no session): the handshakes per second
#   cc_*_ka      client_credentials at /token (client_secret_basic) on keep-alive connections
#   cc_*_new     the same with a new connection (and handshake) per request
# for the opaque and ES256 APIs. Prints one markdown table: req/s and p99 for plain and TLS side by side.
# Every run is bounded (timeout); the servers are stopped by PID; the temp dir is removed.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
BIN="${OSTIARY_BIN:-$ROOT/build/release/ostiary}"
DURATION="${DURATION:-5}"
CONNS="${CONNS:-16}"
CERT="${CERT:-ecdsa}"
PORT="${PORT:-4312}"
BASIC="Basic $(printf 'bench:bench-secret' | base64 -w0)"

die() { echo "tls.sh: $*" >&2; exit 1; }
log() { echo "== $*" >&2; }
[ -x "$BIN" ] || die "no server binary at $BIN"
for t in wrk curl openssl; do command -v "$t" >/dev/null || die "$t not found"; done
for v in $(env | sed -n 's/^\(OSTIARY_[A-Za-z0-9_]*\)=.*/\1/p'); do unset "$v"; done

TMP="$(mktemp -d "${TMPDIR:-/var/tmp}/ostiary-tls-bench.XXXXXX")"
SPID=""
cleanup() {
  if [ -n "$SPID" ] && kill -0 "$SPID" 2>/dev/null; then kill -TERM "$SPID"; wait "$SPID" 2>/dev/null || true; fi
  rm -rf "$TMP"
}
trap cleanup EXIT

case "$CERT" in
  ecdsa) openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$TMP/key.pem" \
           -out "$TMP/cert.pem" -days 1 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 2>/dev/null ;;
  rsa) openssl req -x509 -newkey rsa:2048 -nodes -keyout "$TMP/key.pem" -out "$TMP/cert.pem" -days 1 \
         -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 2>/dev/null ;;
  *) die "CERT must be ecdsa or rsa" ;;
esac
SECRET="$(head -c 512 /dev/urandom | tr -dc 'A-Za-z0-9' | head -c 40)"

# start MODE: plain or tls
start() {
  local mode=$1 scheme=http
  [ "$mode" = tls ] && scheme=https
  BASE="$scheme://127.0.0.1:$PORT"
  sed -e "s|@ISSUER@|$BASE|" -e "s|@LISTEN@|127.0.0.1:$PORT|" -e "s|@STORAGE@|$TMP/$mode.db|" \
      -e "s|@SECRET@|$SECRET|" -e "s|@LOG_LEVEL@|info|" "$HERE/ostiary-bench.yaml" >"$TMP/$mode.yaml"
  if [ "$mode" = tls ]; then
    printf 'tls:\n  cert_file: %s\n  key_file: %s\n' "$TMP/cert.pem" "$TMP/key.pem" >>"$TMP/$mode.yaml"
  fi
  timeout 600 "$BIN" serve --config "$TMP/$mode.yaml" >"$TMP/$mode.out" 2>"$TMP/$mode.log" &
  SPID=$!
  for _ in $(seq 100); do
    [ "$(curl -sk -o /dev/null -w '%{http_code}' --max-time 1 "$BASE/healthz" || true)" = 200 ] && return 0
    kill -0 "$SPID" 2>/dev/null || break
    sleep 0.1
  done
  tail -5 "$TMP/$mode.log" >&2
  die "the $mode server did not start"
}

stop() {
  kill -TERM "$SPID"
  wait "$SPID" || die "the server did not exit 0"
  SPID=""
}

# run NAME METHOD PATH BODY EXPECT CLOSE: one wrk run; prints "ok_rps p99_ms errors"
run() {
  local name=$1 method=$2 path=$3 body=$4 expect=$5 close=$6
  local out
  out=$(BENCH_METHOD=$method BENCH_PATH=$path BENCH_BODY=$body BENCH_AUTH=${7:-} BENCH_EXPECT=$expect \
    BENCH_CLOSE=$close timeout $((DURATION + 30)) wrk -t2 -c"$CONNS" -d"${DURATION}s" --timeout 5s \
    -s "$HERE/scenario.lua" "$BASE$path" 2>&1 | grep '^RESULT ' | sed 's/^RESULT //')
  [ -n "$out" ] || die "wrk gave no result for $name"
  local rps p99 errs
  rps=$(sed 's/.*"ok_rps":\([0-9.]*\).*/\1/' <<<"$out")
  p99=$(sed 's/.*"p99_ms":\([0-9.]*\).*/\1/' <<<"$out")
  errs=$(sed 's/.*"errors":\([0-9]*\).*/\1/' <<<"$out")
  echo "$rps $p99 $errs"
}

SCEN=(healthz_new cc_opaque_ka cc_opaque_new cc_es256_ka cc_es256_new)
declare -A R
for mode in plain tls; do
  log "$mode server"
  start "$mode"
  for sc in "${SCEN[@]}"; do
    close=0
    [[ $sc == *_new ]] && close=1
    case $sc in
      healthz_new) R[$mode,$sc]=$(run "$sc" GET /healthz "" '"status"' 1) ;;
      cc_opaque_*) R[$mode,$sc]=$(run "$sc" POST /token "grant_type=client_credentials&resource=urn:bench:opaque&scope=api:read" \
                       access_token $close "$BASIC") ;;
      cc_es256_*) R[$mode,$sc]=$(run "$sc" POST /token "grant_type=client_credentials&resource=urn:bench:es256&scope=api:read" \
                      access_token $close "$BASIC") ;;
    esac
    log "$mode $sc: ${R[$mode,$sc]} (ok/s p99_ms errors)"
  done
  stop
done

echo
echo "| scenario ($CONNS connections, ${DURATION} s, $CERT certificate) | plain req/s | TLS req/s | plain p99 ms | TLS p99 ms | errors |"
echo "|---|---:|---:|---:|---:|---:|"
for sc in "${SCEN[@]}"; do
  read -r prps pp99 perr <<<"${R[plain,$sc]}"
  read -r trps tp99 terr <<<"${R[tls,$sc]}"
  echo "| $sc | $prps | $trps | $pp99 | $tp99 | $((perr + terr)) |"
done
