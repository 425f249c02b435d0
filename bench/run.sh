#!/usr/bin/env bash
# bench/run.sh: load benchmark of a running Ostiary with wrk and bench/flowbench.c (see bench/README.md).
#
#   bench/run.sh                               # all scenarios, CONNS="8 64", FLOW_VUS=32, DURATION=10
#   DURATION=3 SCENARIOS="cc_rs256 introspect" bench/run.sh
#   DURATION=5 SCENARIOS="flow_login flow_sso refresh" bench/run.sh
#
# Builds nothing: runs $OSTIARY_BIN (default build/release/ostiary; `make -j2` builds it). Starts it on
# 127.0.0.1:4310 with a config generated from bench/ostiary-bench.yaml into a temp dir (SQLite on disk),
# runs each scenario with wrk (-t2 --timeout 5s --latency, bench/scenario.lua), stops the server with
# SIGTERM and checks it exited 0. Prints crypto ceilings (openssl speed -multi 2), RSS and a markdown table;
# raw results are appended to bench/runs/<timestamp>.jsonl (git-ignored).
# The browser-flow scenarios (flow_*, refresh*) run bench/flowbench.c instead of wrk, compiled into the temp
# dir with `cc -O2`: authorization code + PKCE through the login and consent pages, and refresh_token
# rotation, with client bench-rp and user bench; bench/argon2_cost.c (cc ... -lsodium) measures what one
# password verification costs, the bound of flow_login.
# device_poll polls pending device codes (RFC 8628) made with /device/auth first; its bound, http_floor, is
# nginx on 127.0.0.1:4311 answering the same requests with the same 400 body, measured just before it.
#
# Env:
#   DURATION=10        seconds per wrk run
#   CONNS="8 64"       connection counts, each scenario runs once per value
#   SCENARIOS="discovery jwks cc_rs256 cc_es256 cc_eddsa cc_opaque introspect introspect_jwt device_poll
#              flow_login flow_consent flow_sso flow_hybrid refresh"   (also: flow_consent_eddsa
#              flow_sso_eddsa flow_hybrid_eddsa refresh_eddsa, the same flows with client bench-rp-eddsa,
#              whose ID tokens are EdDSA-signed; cc_es256_dpop, cc_es256 with a DPoP proof per request, see
#              bench/dpop_proofs.c)
#   DEVICE_CODES=2000  device codes device_poll polls in turn (created with /device/auth before it runs)
#   FLOW_VUS="32"      virtual users of the flow scenarios (each its own connection and cookie jar);
#                      each flow scenario runs once per value (CONNS does not apply to them)
#   LOGIN_VUS="4"      the same for flow_login: only one login per worker runs at a time (argon2id, ~50-300
#                      ms each), so 32 VUs would only queue (the first flows would end after 32 logins' time)
#   WORKERS=           passed as --workers N (default: the server's own, one per core)
#   OSTIARY_BIN=       server binary (default build/release/ostiary)
#   BENCH_DB_DIR=      directory for the SQLite file (default the temp dir, on disk; avoid tmpfs)
#   SPEED_SECONDS=3    seconds per openssl speed measurement; SKIP_SPEED=1 skips the ceilings
#   KEEP_TMP=1         keep the temp dir (config, server log, wrk outputs); it is always kept on failure
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
PORT="${PORT:-4310}"
FLOOR_PORT="${FLOOR_PORT:-4311}"
HOST=127.0.0.1
BASE="http://$HOST:$PORT"
BIN="${OSTIARY_BIN:-$ROOT/build/release/ostiary}"
DURATION="${DURATION:-10}"
CONNS="${CONNS:-8 64}"
THREADS=2
SCENARIOS="${SCENARIOS:-discovery jwks cc_rs256 cc_es256 cc_eddsa cc_opaque introspect introspect_jwt device_poll flow_login flow_consent flow_sso flow_hybrid refresh}"
DEVICE_CODES="${DEVICE_CODES:-2000}"
FLOW_VUS="${FLOW_VUS:-32}"
LOGIN_VUS="${LOGIN_VUS:-4}"
WORKERS="${WORKERS:-}"
SPEED_SECONDS="${SPEED_SECONDS:-3}"
CLIENT_ID=bench
CLIENT_SECRET=bench-secret
BASIC="Basic $(printf '%s:%s' "$CLIENT_ID" "$CLIENT_SECRET" | base64 -w0)"

die() { echo "run.sh: $*" >&2; exit 1; }
log() { echo "== $*" >&2; }

# ---- preconditions --------------------------------------------------------------------------------------
[ -x "$BIN" ] || die "no server binary at $BIN (build it with 'make -j2' or set OSTIARY_BIN)"
command -v wrk > /dev/null || die "wrk not found (apt-get install -y wrk)"
command -v curl > /dev/null || die "curl not found"
[[ "$DURATION" =~ ^[0-9]+$ ]] && [ "$DURATION" -ge 1 ] || die "DURATION must be a positive integer"
for c in $CONNS; do [[ "$c" =~ ^[0-9]+$ ]] && [ "$c" -ge 1 ] || die "CONNS: '$c' is not a positive integer"; done
for c in $FLOW_VUS $LOGIN_VUS; do
  [[ "$c" =~ ^[0-9]+$ ]] && [ "$c" -ge 1 ] || die "FLOW_VUS/LOGIN_VUS: '$c' is not a positive integer"
done
vus_of() { if [ "$1" = flow_login ]; then echo "$LOGIN_VUS"; else echo "$FLOW_VUS"; fi; }
[ -z "$WORKERS" ] || [[ "$WORKERS" =~ ^[0-9]+$ ]] || die "WORKERS must be a number"
for sc in $SCENARIOS; do
  case "$sc" in
    discovery | jwks | cc_rs256 | cc_es256 | cc_eddsa | cc_opaque | introspect | introspect_jwt | device_poll | cc_es256_dpop) ;;
    flow_login | flow_consent | flow_sso | flow_hybrid | refresh) ;;
    flow_consent_eddsa | flow_sso_eddsa | flow_hybrid_eddsa | refresh_eddsa) ;;
    *) die "unknown scenario '$sc'" ;;
  esac
done
is_flow() { case "$1" in flow_* | refresh*) return 0 ;; *) return 1 ;; esac; }
N_FLOW=0; N_WRK=0; HAS_LOGIN=0
for sc in $SCENARIOS; do
  if is_flow "$sc"; then N_FLOW=$((N_FLOW + 1)); else N_WRK=$((N_WRK + 1)); fi
  [ "$sc" != flow_login ] || HAS_LOGIN=1
  [ "$sc" != device_poll ] || N_WRK=$((N_WRK + 1)) # its HTTP floor runs beside it
done
[ "$N_FLOW" -eq 0 ] || command -v cc > /dev/null || die "cc not found (the flow scenarios compile bench/flowbench.c)"
if ss -ltn 2> /dev/null | grep -q "[:.]$PORT "; then die "port $PORT is already in use"; fi
[[ "$DEVICE_CODES" =~ ^[0-9]+$ ]] && [ "$DEVICE_CODES" -ge 1 ] || die "DEVICE_CODES must be a positive integer"
NGINX=""
case " $SCENARIOS " in *" device_poll "*)
  NGINX="$(command -v nginx || { [ -x /usr/sbin/nginx ] && echo /usr/sbin/nginx; } || true)"
  [ -n "$NGINX" ] || echo "== device_poll: nginx not found (apt-get install -y nginx-light): no HTTP floor" >&2
  if [ -n "$NGINX" ] && ss -ltn 2> /dev/null | grep -q "[:.]$FLOOR_PORT "; then die "port $FLOOR_PORT is already in use"; fi
  ;;
esac

# ---- temp dir, config ------------------------------------------------------------------------------------
TMP="$(mktemp -d "${TMPDIR:-/var/tmp}/ostiary-bench.XXXXXX")"
if [ -n "${BENCH_DB_DIR:-}" ]; then
  mkdir -p "$BENCH_DB_DIR"
  DB_DIR="$(mktemp -d "$BENCH_DB_DIR/ostiary-bench-db.XXXXXX")"
else
  DB_DIR="$TMP"
fi
DB_FS="$(stat -f -c %T "$DB_DIR" 2> /dev/null || echo '?')"
case "$DB_FS" in tmpfs | ramfs) log "warning: $DB_DIR is on $DB_FS: SQLite fsync costs are not measured" ;; esac

SECRET="$(head -c 512 /dev/urandom | tr -dc 'A-Za-z0-9' | head -c 40)"
[ "${#SECRET}" -eq 40 ] || die "could not generate a key secret"
CONFIG="$TMP/ostiary.yaml"
sed -e "s|@ISSUER@|$BASE|" -e "s|@LISTEN@|$HOST:$PORT|" -e "s|@STORAGE@|$DB_DIR/ostiary.db|" \
    -e "s|@SECRET@|$SECRET|" -e "s|@LOG_LEVEL@|info|" "$HERE/ostiary-bench.yaml" > "$CONFIG"
chmod 600 "$CONFIG"
if grep -q '@[A-Z_]*@' "$CONFIG"; then die "unreplaced placeholder in $CONFIG"; fi

# The flow driver, and the argon2id cost probe (only for flow_login; skipped without libsodium's headers).
FLOWBENCH=""; ARGON2_COST=""
if [ "$N_FLOW" -gt 0 ]; then
  FLOWBENCH="$TMP/flowbench"
  cc -O2 -o "$FLOWBENCH" "$HERE/flowbench.c" || die "could not compile bench/flowbench.c"
  if [ "$HAS_LOGIN" -eq 1 ] && [ -z "${SKIP_SPEED:-}" ]; then
    if cc -O2 -o "$TMP/argon2_cost" "$HERE/argon2_cost.c" -lsodium -lpthread 2> "$TMP/argon2_cost.cc.txt"; then
      ARGON2_COST="$TMP/argon2_cost"
    else
      log "warning: could not compile bench/argon2_cost.c (libsodium-dev?): no argon2id ceiling"
    fi
  fi
fi

mkdir -p "$HERE/runs"
STAMP="$(date +%Y%m%d-%H%M%S)"
OUT="$HERE/runs/$STAMP.jsonl"
GIT_REV="$(git -C "$ROOT" rev-parse --short HEAD 2> /dev/null || echo unknown)"
if [ -n "$(git -C "$ROOT" status --porcelain --untracked-files=no 2> /dev/null)" ]; then GIT_REV="$GIT_REV-dirty"; fi

# ---- server lifecycle ------------------------------------------------------------------------------------
# The server runs under `timeout` (a bound if this script is killed without running its trap); we signal
# the server itself by its PID, and timeout exits with the server's own status.
TPID=""   # the timeout wrapper
SPID=""   # ostiary itself
SERVER_STATUS=""
FAILED=0

server_alive() { [ -n "$SPID" ] && kill -0 "$SPID" 2> /dev/null; }

stop_server() {
  [ -n "$TPID" ] || return 0
  if server_alive; then
    kill -TERM "$SPID" 2> /dev/null || true
    for _ in $(seq 100); do server_alive || break; sleep 0.1; done
    if server_alive; then
      log "server did not stop within 10 s of SIGTERM: kill -9 $SPID"
      kill -KILL "$SPID" 2> /dev/null || true
    fi
  fi
  local st=0
  wait "$TPID" 2> /dev/null || st=$?
  SERVER_STATUS=$st
  TPID=""
}

NGINX_PID=""
stop_nginx() {
  [ -n "$NGINX_PID" ] || return 0
  kill -TERM "$NGINX_PID" 2> /dev/null || true
  for _ in $(seq 50); do kill -0 "$NGINX_PID" 2> /dev/null || break; sleep 0.1; done
  kill -KILL "$NGINX_PID" 2> /dev/null || true
  wait "$NGINX_PID" 2> /dev/null || true
  NGINX_PID=""
}

cleanup() {
  local rc=$?
  stop_nginx
  stop_server
  [ -z "${BENCH_DB_DIR:-}" ] || [ "$FAILED" -ne 0 ] || rm -rf "$DB_DIR"
  if [ "$rc" -ne 0 ] || [ "$FAILED" -ne 0 ] || [ -n "${KEEP_TMP:-}" ]; then
    echo "temp dir kept: $TMP (config, server log ostiary.log, wrk outputs)" >&2
  else
    rm -rf "$TMP"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

n_conns=$(echo "$CONNS" | wc -w)
n_vus=$(echo "$FLOW_VUS $LOGIN_VUS" | wc -w)
BUDGET=$((N_WRK * n_conns * (DURATION + 20) + N_FLOW * n_vus * (DURATION + 200) + 6 * SPEED_SECONDS * 3 + 240 + 300))

log "starting $BIN on $BASE (db: $DB_DIR/ostiary.db on $DB_FS${WORKERS:+, --workers $WORKERS})"
# OSTIARY_BIN selects the binary here; the server itself takes every OSTIARY_* variable for a key.
env -u OSTIARY_BIN timeout -k 5 "$BUDGET" "$BIN" serve --config "$CONFIG" ${WORKERS:+--workers "$WORKERS"} \
  > "$TMP/ostiary.out" 2> "$TMP/ostiary.log" &
TPID=$!
for _ in $(seq 50); do
  SPID="$(awk '{print $1}' "/proc/$TPID/task/$TPID/children" 2> /dev/null)" || true
  [ -n "$SPID" ] && break
  kill -0 "$TPID" 2> /dev/null || break
  sleep 0.05
done
[ -n "$SPID" ] || { FAILED=1; tail -n 20 "$TMP/ostiary.log" >&2; die "server did not start"; }

ready=0
for _ in $(seq 150); do
  code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$BASE/healthz" || true)"
  [ "$code" = 200 ] && { ready=1; break; }
  server_alive || break
  sleep 0.1
done
if [ "$ready" -ne 1 ]; then
  FAILED=1
  tail -n 20 "$TMP/ostiary.log" >&2
  server_alive || { stop_server; die "server exited during startup (status $SERVER_STATUS)"; }
  die "server not ready on $BASE/healthz within 15 s"
fi

rss_kb() { awk -v k="$1:" '$1 == k {print $2}' "/proc/$SPID/status" 2> /dev/null || echo 0; }
mb() { awk -v kb="$1" 'BEGIN{printf "%.1f", kb / 1024}'; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$SPID/stat" 2> /dev/null || echo 0; }
HZ="$(getconf CLK_TCK)"

sleep 0.5
RSS_IDLE_KB="$(rss_kb VmRSS)"
log "server pid $SPID ready, idle RSS $(mb "$RSS_IDLE_KB") MB"

# ---- crypto ceilings (server idle) -----------------------------------------------------------------------
speed_sign() { # openssl speed algorithm, line regexp -> aggregate sign/s with -multi 2
  local out="$TMP/speed-$1.txt"
  timeout $((SPEED_SECONDS * 4 + 30)) openssl speed -seconds "$SPEED_SECONDS" -multi 2 "$1" > "$out" 2>&1 || true
  grep -E "$2" "$out" | tail -1 | awk '{print $(NF-1)}'
}
RSA_SIGN=""; EC_SIGN=""; ED_SIGN=""
if [ -z "${SKIP_SPEED:-}" ]; then
  log "openssl speed -seconds $SPEED_SECONDS -multi 2 (rsa2048, ecdsap256, ed25519)"
  RSA_SIGN="$(speed_sign rsa2048 '^ *rsa 2048 bits ')"
  EC_SIGN="$(speed_sign ecdsap256 '^ *256 bits ecdsa ')"
  ED_SIGN="$(speed_sign ed25519 '^ *253 bits EdDSA ')"
fi
# argon2id: every login verifies one hash (libsodium interactive limits: 2 passes over 64 MiB).
ARGON2_MS=""; ARGON2_1=""; ARGON2_2=""
if [ -n "$ARGON2_COST" ]; then
  log "argon2id verify cost (bench/argon2_cost.c: 1 thread, then 2)"
  timeout 120 "$ARGON2_COST" 5 > "$TMP/argon2.txt" 2>&1 || true
  ARGON2_MS="$(sed -n 's/^ARGON2 {"threads":1,.*"ms_per_verify":\([0-9.]*\).*/\1/p' "$TMP/argon2.txt")"
  ARGON2_1="$(sed -n 's/^ARGON2 {"threads":1,.*"verify_per_s":\([0-9.]*\).*/\1/p' "$TMP/argon2.txt")"
  ARGON2_2="$(sed -n 's/^ARGON2 {"threads":2,.*"verify_per_s":\([0-9.]*\).*/\1/p' "$TMP/argon2.txt")"
fi
num_or_null() { [[ "${1:-}" =~ ^[0-9]+(\.[0-9]+)?$ ]] && echo "$1" || echo null; }
TARGET_RS256="null"
[ "$(num_or_null "$RSA_SIGN")" = null ] || TARGET_RS256="$(awk -v s="$RSA_SIGN" 'BEGIN{printf "%.0f", s * 0.7}')"

# ---- scenarios -------------------------------------------------------------------------------------------
get_token() { # resource -> access_token (empty on failure)
  curl -s --max-time 5 -H "Authorization: $BASIC" \
    --data "grant_type=client_credentials&resource=$1&scope=api%3Aread" "$BASE/token" \
    | sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p'
}

ROWS=()
declare -A OK_RPS=()

run_wrk() { # scenario conns [base URL: the server's by default]; BENCH_* exported by the caller
  local sc="$1" c="$2" base="${3:-$BASE}" t out line t0 t1 cpu load
  t=$((THREADS < c ? THREADS : c))
  out="$TMP/wrk-$sc-c$c.txt"
  load="$(cut -d' ' -f1 /proc/loadavg)"
  t0="$(cpu_ticks)"
  timeout -k 5 $((DURATION + 30)) wrk -t"$t" -c"$c" -d"${DURATION}s" --timeout 5s --latency \
    -s "$HERE/scenario.lua" "$base" > "$out" 2>&1 || true
  t1="$(cpu_ticks)"
  line="$(sed -n 's/^RESULT //p' "$out" | tail -1)"
  if [ -z "$line" ]; then
    FAILED=1
    echo "   $sc c=$c: no RESULT from wrk (see $out)" >&2
    ROWS+=("| $sc | $c | - | - | - | no result |")
    return
  fi
  cpu="$(awk -v a="$t0" -v b="$t1" -v hz="$HZ" 'BEGIN{printf "%.2f", (b - a) / hz}')"
  printf '{"ts":"%s","kind":"wrk","scenario":"%s","conns":%d,"threads":%d,"duration":%d,"workers":%s,"rev":"%s","load":%s,"srv_cpu_s":%s,"r":%s}\n' \
    "$(date -u +%FT%TZ)" "$sc" "$c" "$t" "$DURATION" "${WORKERS:-null}" "$GIT_REV" "$load" "$cpu" "$line" >> "$OUT"
  local ok_rps p50 p99 errs sample
  ok_rps="$(echo "$line" | sed -n 's/.*"ok_rps":\([0-9.]*\).*/\1/p')"
  p50="$(echo "$line" | sed -n 's/.*"p50_ms":\([0-9.]*\).*/\1/p')"
  p99="$(echo "$line" | sed -n 's/.*"p99_ms":\([0-9.]*\).*/\1/p')"
  errs="$(echo "$line" | sed -n 's/.*"errors":\([0-9]*\).*/\1/p')"
  sample="$(echo "$line" | sed -n 's/.*"sample":"\(.*\)"}$/\1/p')"
  OK_RPS["$sc/$c"]="$ok_rps"
  ROWS+=("$(printf '| %s | %s | %.0f | %.2f | %.2f | %s |' "$sc" "$c" "$ok_rps" "$p50" "$p99" "$errs")")
  printf '   %-15s c=%-4s %8.0f req/s  p50 %7.2f ms  p99 %7.2f ms  errors %s  (server CPU %s s)\n' \
    "$sc" "$c" "$ok_rps" "$p50" "$p99" "$errs" "$cpu" >&2
  if [ "${errs:-0}" != 0 ] && [ -n "$sample" ]; then echo "     first failure: $sample" >&2; fi
  server_alive || { FAILED=1; die "server died during $sc c=$c (see $TMP/ostiary.log)"; }
}

# ---- device_poll: device codes to poll, and the HTTP floor -------------------------------------------------
# DEVICE_CODES device authorizations of the public client bench-tv (one curl process, keep-alive), their
# poll bodies in $TMP/device-bodies.txt. Nobody approves them: every poll takes the pending path (one read of
# the code's row, the in-memory pace; authorization_pending, or slow_down as wrk polls each code far more
# often than `interval`: the same work, another message).
make_device_codes() {
  local args=() i
  for i in $(seq "$DEVICE_CODES"); do
    [ "$i" -eq 1 ] || args+=(--next)
    args+=(-s --max-time 10 -d client_id=bench-tv -d scope=openid -w '\n' "$BASE/device/auth")
  done
  timeout 300 curl "${args[@]}" \
    | sed -n 's/.*"device_code":"\([^"]*\)".*/grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code\&client_id=bench-tv\&device_code=\1/p' \
    > "$TMP/device-bodies.txt" || true
  [ "$(wc -l < "$TMP/device-bodies.txt")" -eq "$DEVICE_CODES" ]
}

# The HTTP floor of the same request on the same cores: nginx (2 workers, no access log) answering POST
# /token with a pending poll's 400 body, reading nothing. Started once, stopped by its PID.
start_nginx() {
  [ -n "$NGINX" ] && [ -z "$NGINX_PID" ] || return 0
  mkdir -p "$TMP/nginx/logs" "$TMP/nginx/tmp"
  {
    echo "worker_processes 2;"
    echo "pid $TMP/nginx/nginx.pid;"
    echo "error_log $TMP/nginx/logs/error.log warn;"
    echo "events { worker_connections 4096; }"
    echo "http {"
    echo "  access_log off;"
    echo "  client_body_temp_path $TMP/nginx/tmp/body; proxy_temp_path $TMP/nginx/tmp/proxy;"
    echo "  fastcgi_temp_path $TMP/nginx/tmp/fcgi; uwsgi_temp_path $TMP/nginx/tmp/uwsgi;"
    echo "  scgi_temp_path $TMP/nginx/tmp/scgi;"
    echo "  keepalive_requests 1000000;"
    echo "  server {"
    echo "    listen $HOST:$FLOOR_PORT;"
    echo "    location = /token {"
    echo "      default_type application/json;"
    echo "      return 400 '{\"error\":\"authorization_pending\",\"error_description\":\"the user has not yet approved or denied the request\"}';"
    echo "    }"
    echo "  }"
    echo "}"
  } > "$TMP/nginx/nginx.conf"
  timeout -k 5 "$BUDGET" "$NGINX" -c "$TMP/nginx/nginx.conf" -p "$TMP/nginx" -g 'daemon off;' \
    > "$TMP/nginx/out.log" 2>&1 &
  NGINX_PID=$!
  for _ in $(seq 50); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 -d x=1 "http://$HOST:$FLOOR_PORT/token")" = 400 ] && return 0
    sleep 0.1
  done
  echo "   nginx did not start (see $TMP/nginx/out.log): no floor" >&2
  stop_nginx
  NGINX=""
}

FLOW_ROWS=()
declare -A FLOW_OK=()

run_flow() { # scenario vus: bench/flowbench.c, one RESULT line like scenario.lua's (per flow)
  local sc="$1" c="$2" mode client out line t0 t1 cpu load st=0
  mode="${sc%_eddsa}"
  client=bench-rp
  [ "$mode" = "$sc" ] || client=bench-rp-eddsa
  out="$TMP/flow-$sc-c$c.txt"
  load="$(cut -d' ' -f1 /proc/loadavg)"
  t0="$(cpu_ticks)"
  timeout -k 5 $((DURATION + 180)) "$FLOWBENCH" -s "$mode" -u "$BASE" -c "$c" -d "$DURATION" -C "$client" \
    -S "$CLIENT_SECRET" -U bench -P bench-password -p "$SPID" > "$out" 2> "$out.err" || st=$?
  t1="$(cpu_ticks)"
  line="$(sed -n 's/^RESULT //p' "$out" | tail -1)"
  if [ "$st" -ne 0 ] || [ -z "$line" ]; then
    FAILED=1
    echo "   $sc vus=$c: flowbench failed (status $st): $(grep -v '^flowbench: *[0-9]* s ' "$out.err" | tail -n 3)" >&2
    FLOW_ROWS+=("| $sc | $c | - | - | - | - | - | - | - | - | - |")
    server_alive || { FAILED=1; die "server died during $sc (see $TMP/ostiary.log)"; }
    return
  fi
  cpu="$(awk -v a="$t0" -v b="$t1" -v hz="$HZ" 'BEGIN{printf "%.2f", (b - a) / hz}')"
  printf '{"ts":"%s","kind":"flow","scenario":"%s","client":"%s","vus":%d,"duration":%d,"workers":%s,"rev":"%s","load":%s,"srv_cpu_s_incl_setup":%s,"r":%s}\n' \
    "$(date -u +%FT%TZ)" "$sc" "$client" "$c" "$DURATION" "${WORKERS:-null}" "$GIT_REV" "$load" "$cpu" "$line" >> "$OUT"
  local ok_rps http_rps p50 p99 errs sample scpu dcpu mcpu
  field() { echo "$line" | sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p"; }
  ok_rps="$(field ok_rps)"; http_rps="$(field http_rps)"; p50="$(field p50_ms)"; p99="$(field p99_ms)"
  errs="$(field errors)"; scpu="$(field server_cpu_s)"; dcpu="$(field driver_cpu_s)"; mcpu="$(field machine_cpu_s)"
  sample="$(echo "$line" | sed -n 's/.*"sample":"\(.*\)"}$/\1/p')"
  FLOW_OK["$sc/$c"]="$ok_rps"
  local scores dcores ocores per_cpu
  scores="$(awk -v s="${scpu:-}" -v d="$DURATION" 'BEGIN{if (s == "") print "-"; else printf "%.2f", s / d}')"
  dcores="$(awk -v s="${dcpu:-0}" -v d="$DURATION" 'BEGIN{printf "%.2f", s / d}')"
  # Other processes of the machine (other jobs sharing the cores): everything busy minus server and driver.
  ocores="$(awk -v m="${mcpu:-}" -v s="${scpu:-0}" -v dr="${dcpu:-0}" -v d="$DURATION" \
    'BEGIN{if (m == "") print "-"; else { o = (m - s - dr) / d; printf "%.2f", (o < 0 ? 0 : o) } }')"
  # Flows per CPU-second of the server: what the server can do per core, whoever else uses the machine.
  per_cpu="$(awk -v r="$ok_rps" -v s="${scpu:-}" -v d="$DURATION" \
    'BEGIN{if (s == "" || s <= 0) print "-"; else printf "%.0f", r * d / s}')"
  FLOW_ROWS+=("$(printf '| %s | %s | %.0f | %.0f | %.2f | %.2f | %s | %s | %s | %s | %s |' "$sc" "$c" "$ok_rps" \
    "$http_rps" "$p50" "$p99" "$errs" "$scores" "$dcores" "$ocores" "$per_cpu")")
  printf '   %-18s vus=%-3s %7.0f flows/s (%5.0f HTTP req/s)  p50 %7.2f ms  p99 %7.2f ms  failures %s  (cores: server %s, driver %s, others %s; %s flows per server CPU-s)\n' \
    "$sc" "$c" "$ok_rps" "$http_rps" "$p50" "$p99" "$errs" "$scores" "$dcores" "$ocores" "$per_cpu" >&2
  grep -E '^(flowbench: setup|   [a-z_]+ +n )' "$out.err" | sed 's/^/     /' >&2 || true
  if [ "${errs:-0}" != 0 ] && [ -n "$sample" ]; then echo "     first failure: $sample" >&2; fi
  server_alive || { FAILED=1; die "server died during $sc vus=$c (see $TMP/ostiary.log)"; }
}

log "scenarios: $SCENARIOS; CONNS=\"$CONNS\" FLOW_VUS=\"$FLOW_VUS\" LOGIN_VUS=\"$LOGIN_VUS\" DURATION=${DURATION}s wrk -t$THREADS --timeout 5s"
for sc in $SCENARIOS; do
  if is_flow "$sc"; then
    for c in $(vus_of "$sc"); do run_flow "$sc" "$c"; done
    continue
  fi
  for c in $CONNS; do
    export BENCH_METHOD BENCH_PATH BENCH_BODY="" BENCH_AUTH="" BENCH_EXPECT
    case "$sc" in
      discovery)
        BENCH_METHOD=GET BENCH_PATH=/.well-known/openid-configuration BENCH_EXPECT='"issuer"' ;;
      jwks)
        BENCH_METHOD=GET BENCH_PATH=/jwks BENCH_EXPECT='"keys"' ;;
      cc_rs256 | cc_es256 | cc_eddsa | cc_opaque)
        BENCH_METHOD=POST BENCH_PATH=/token BENCH_AUTH="$BASIC" BENCH_EXPECT='"access_token"'
        BENCH_BODY="grant_type=client_credentials&resource=urn%3Abench%3A${sc#cc_}&scope=api%3Aread" ;;
      cc_es256_dpop)
        # A fresh proof per request, made before the run (bench/dpop_proofs.c): DPOP_RATE per second of
        # DURATION, more than the server can take on this machine, so that no thread runs out.
        cc -O2 -o "$TMP/dpop_proofs" "$HERE/dpop_proofs.c" -lcrypto || die "cannot build bench/dpop_proofs.c"
        "$TMP/dpop_proofs" "$BASE/token" $((DURATION * ${DPOP_RATE:-20000})) > "$TMP/dpop-proofs.txt" \
          || die "dpop_proofs failed"
        export BENCH_DPOP_FILE="$TMP/dpop-proofs.txt" BENCH_THREADS=$((THREADS < c ? THREADS : c))
        BENCH_METHOD=POST BENCH_PATH=/token BENCH_AUTH="$BASIC" BENCH_EXPECT='"token_type":"DPoP"'
        BENCH_BODY="grant_type=client_credentials&resource=urn%3Abench%3Aes256&scope=api%3Aread" ;;
      introspect | introspect_jwt)
        res=urn%3Abench%3Aopaque
        [ "$sc" = introspect ] || res=urn%3Abench%3Ars256
        tok="$(get_token "$res")"
        if [ -z "$tok" ]; then
          FAILED=1
          echo "   $sc c=$c: could not obtain a token to introspect" >&2
          ROWS+=("| $sc | $c | - | - | - | no token |")
          continue
        fi
        BENCH_METHOD=POST BENCH_PATH=/token/introspection BENCH_AUTH="$BASIC" BENCH_EXPECT='"active":true'
        BENCH_BODY="token=$tok" ;;
      device_poll)
        if [ ! -s "$TMP/device-bodies.txt" ] && ! make_device_codes; then
          FAILED=1
          echo "   $sc: could not create $DEVICE_CODES device codes" >&2
          ROWS+=("| $sc | $c | - | - | - | no device codes |")
          continue
        fi
        export BENCH_STATUS=400 BENCH_BODIES="$TMP/device-bodies.txt"
        BENCH_METHOD=POST BENCH_PATH=/token BENCH_EXPECT='"authorization_pending"|"slow_down"'
        start_nginx
        [ -z "$NGINX" ] || run_wrk http_floor "$c" "http://$HOST:$FLOOR_PORT" ;;
    esac
    run_wrk "$sc" "$c"
    unset BENCH_STATUS BENCH_BODIES BENCH_DPOP_FILE
  done
done
stop_nginx

RSS_LOAD_KB="$(rss_kb VmRSS)"
RSS_PEAK_KB="$(rss_kb VmHWM)"
stop_server
[ "$SERVER_STATUS" = 0 ] || FAILED=1

printf '{"ts":"%s","kind":"summary","rev":"%s","duration":%d,"conns":"%s","flow_vus":"%s","login_vus":"%s","workers":%s,"db_fs":"%s","rss_idle_kb":%s,"rss_after_kb":%s,"rss_peak_kb":%s,"speed_multi2_sign_s":{"rsa2048":%s,"ecdsap256":%s,"ed25519":%s},"argon2id_verify":{"ms":%s,"per_s_1thread":%s,"per_s_2threads":%s},"target_cc_rs256":%s,"server_exit":%s}\n' \
  "$(date -u +%FT%TZ)" "$GIT_REV" "$DURATION" "$CONNS" "$FLOW_VUS" "$LOGIN_VUS" "${WORKERS:-null}" "$DB_FS" "${RSS_IDLE_KB:-0}" \
  "${RSS_LOAD_KB:-0}" "${RSS_PEAK_KB:-0}" "$(num_or_null "$RSA_SIGN")" "$(num_or_null "$EC_SIGN")" \
  "$(num_or_null "$ED_SIGN")" "$(num_or_null "$ARGON2_MS")" "$(num_or_null "$ARGON2_1")" "$(num_or_null "$ARGON2_2")" \
  "$TARGET_RS256" "${SERVER_STATUS:-null}" >> "$OUT"

# ---- report ----------------------------------------------------------------------------------------------
echo
echo "Ostiary $GIT_REV, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), DURATION=${DURATION}s," \
  "wrk -t$THREADS --timeout 5s, workers ${WORKERS:-default}, SQLite on $DB_FS"
echo
if [ "${#ROWS[@]}" -gt 0 ]; then
  echo "| scenario | conns | req/s | p50 ms | p99 ms | errors |"
  echo "|---|---:|---:|---:|---:|---:|"
  printf '%s\n' "${ROWS[@]}"
  echo
  echo "req/s counts only 2xx responses with the expected body (device_poll and http_floor: 400 with a pending"
  echo "answer); errors = unexpected status + bad body + socket errors + timeouts."
  for c in $CONNS; do
    dp="${OK_RPS[device_poll/$c]:-}"; fl="${OK_RPS[http_floor/$c]:-}"
    [ -n "$dp" ] || continue
    echo "device_poll c=$c: $(awk -v a="$dp" -v f="${fl:-0}" 'BEGIN{printf "%.0f polls/s = %.0f%% of the 40,000 target (%s)", a, 100 * a / 40000, (a >= 40000 ? "met" : "NOT met"); if (f > 0) printf "; %.0f%% of the HTTP floor (nginx, the same requests, this run: %.0f/s)", 100 * a / f, f}')"
  done
  echo
fi
if [ "${#FLOW_ROWS[@]}" -gt 0 ]; then
  echo "| scenario | VUs | flows/s | HTTP req/s | p50 ms | p99 ms | failures | server cores | driver cores | other cores | flows per server CPU-s |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  printf '%s\n' "${FLOW_ROWS[@]}"
  echo
  echo "flows/s counts complete, fully checked flows (refresh: refresh grants); latencies are per whole flow;"
  echo "failures = flows where any step deviated; cores = CPU seconds / DURATION over the measured window"
  echo "(other = every other process of the machine, from /proc/stat: jobs sharing the cores); flows per server"
  echo "CPU-s = flows/s / server cores, the server's efficiency, less sensitive to other jobs than flows/s."
  echo "Requests per flow: flow_login 7, flow_consent 4, flow_sso 2, flow_hybrid 2, refresh 1 (bench/flowbench.c)."
  best_flow() { # scenario -> best flows/s over FLOW_VUS, or empty
    local b="" v
    for c in $(vus_of "$1"); do
      v="${FLOW_OK[$1/$c]:-}"
      [ -n "$v" ] || continue
      if [ -z "$b" ] || awk -v a="$v" -v b="$b" 'BEGIN{exit !(a > b)}'; then b="$v"; fi
    done
    echo "$b"
  }
  for pair in flow_sso:3000 flow_sso_eddsa:3000 refresh:4000 refresh_eddsa:4000; do
    sc="${pair%%:*}"; tgt="${pair#*:}"
    b="$(best_flow "$sc")"
    [ -n "$b" ] || continue
    echo "target $sc >= $tgt/s: best $(awk -v a="$b" -v t="$tgt" 'BEGIN{printf "%.0f/s = %.0f%%: %s", a, 100 * a / t, (a >= t ? "met" : "NOT met")}')"
  done
  # The hybrid flow beside the code flow it extends, measured in the same run: the ratio is what to compare.
  for pair in flow_hybrid:flow_sso flow_hybrid_eddsa:flow_sso_eddsa; do
    h="$(best_flow "${pair%%:*}")"; s="$(best_flow "${pair#*:}")"
    [ -n "$h" ] && [ -n "$s" ] || continue
    echo "${pair%%:*} beside ${pair#*:} (this run): $(awk -v h="$h" -v s="$s" 'BEGIN{printf "%.0f vs %.0f flows/s = %.2f", h, s, h / s}')"
  done
  if [ -n "$RSA_SIGN" ]; then
    echo "bound: flow_sso, flow_consent and refresh sign one RS256 ID token each (RSA-2048: ${RSA_SIGN} sign/s above)," \
      "flow_hybrid two (the authorization response's and the token response's); the *_eddsa variants as many" \
      "Ed25519 signatures"
  fi
  if [ -n "$ARGON2_MS" ]; then
    echo "bound: flow_login verifies one argon2id hash per flow: ${ARGON2_MS} ms on one thread here," \
      "${ARGON2_1:-?}/s on 1 thread, ${ARGON2_2:-?}/s on 2 (bench/argon2_cost.c)"
    b="$(best_flow flow_login)"
    [ -z "$b" ] || echo "flow_login: best $(awk -v a="$b" -v t="${ARGON2_2:-0}" 'BEGIN{printf "%.1f flows/s", a; if (t > 0) printf " = %.0f%% of the argon2id ceiling", 100 * a / t}')"
  fi
  echo
fi
if [ -n "${SKIP_SPEED:-}" ]; then
  echo "ceilings: skipped (SKIP_SPEED)"
else
  echo "ceilings (openssl speed -seconds $SPEED_SECONDS -multi 2, sign/s): RSA-2048 ${RSA_SIGN:-?}," \
    "ECDSA P-256 ${EC_SIGN:-?}, Ed25519 ${ED_SIGN:-?}"
  if [ "$TARGET_RS256" != null ]; then
    best=""
    for c in $CONNS; do
      v="${OK_RPS[cc_rs256/$c]:-}"
      [ -n "$v" ] || continue
      if [ -z "$best" ] || awk -v a="$v" -v b="$best" 'BEGIN{exit !(a > b)}'; then best="$v"; fi
    done
    if [ -n "$best" ]; then
      verdict="$(awk -v a="$best" -v t="$TARGET_RS256" 'BEGIN{printf "%.0f req/s = %.0f%% of the target: %s", a, 100 * a / t, (a >= t ? "met" : "NOT met")}')"
      echo "target cc_rs256 = 70% of RSA-2048 sign/s = $TARGET_RS256 req/s; best cc_rs256 $verdict"
    else
      echo "target cc_rs256 = 70% of RSA-2048 sign/s = $TARGET_RS256 req/s (cc_rs256 not run)"
    fi
  fi
fi
echo "RSS: idle $(mb "${RSS_IDLE_KB:-0}") MB, after load $(mb "${RSS_LOAD_KB:-0}") MB (peak $(mb "${RSS_PEAK_KB:-0}") MB)"
echo "server: SIGTERM -> exit status ${SERVER_STATUS:-?}$([ "$SERVER_STATUS" = 0 ] && echo ' (ok)' || echo ' (FAILED)')"
echo "raw: ${OUT#"$ROOT"/}"
[ "$FAILED" -eq 0 ] || exit 1
