#!/usr/bin/env bash
# bench/pkjwt.sh: client_credentials authenticated by private_key_jwt (an ES256 client assertion, each with
# its own jti, so every request also records one single-use value) beside the same grant with
# client_secret_basic, on one server (SQLite on disk, opaque tokens, so each request writes its token row).
# Beside them, measured in the same run: the bound, i.e. ECDSA P-256 verifications per second on both cores
# (`openssl speed -multi 2 ecdsap256`: one per assertion) and the HTTP floor (nginx, 2 workers, answering
# the same POSTs with a token-sized 200 body, reading nothing); and the store operations per request of
# the private_key_jwt run (the admin listener's /metrics before and after: begin, commit, single_use_put,
# token_put), which say how many write transactions a request costs.
# Env: DURATION (s, default 10), CONNS (default 32), THREADS (wrk, default 2), N (assertions, default
# 200000), PORT (default 4311; PORT+1 admin, PORT+2 nginx), SPEED_SECONDS (default 3), OSTIARY_BIN. Needs
# wrk, node (tests/integration's node_modules for jose) and, for the floor, nginx. Bounded: the server and
# nginx run under timeout and are stopped by PID.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"; ROOT="$(cd "$HERE/.." && pwd)"
BIN="${OSTIARY_BIN:-$ROOT/build/release/ostiary}"
DURATION="${DURATION:-10}"; CONNS="${CONNS:-32}"; THREADS="${THREADS:-2}"; N="${N:-200000}"
PORT="${PORT:-4311}"; BASE="http://127.0.0.1:$PORT"; ADMIN="127.0.0.1:$((PORT + 1))"; FLOOR="127.0.0.1:$((PORT + 2))"
SPEED_SECONDS="${SPEED_SECONDS:-3}"
TMP="$(mktemp -d "${TMPDIR:-/var/tmp}/ostiary-pkjwt.XXXXXX")"
SPID=""; NPID=""
cleanup() {
  [ -z "$SPID" ] || kill -TERM "$SPID" 2> /dev/null || true
  [ -z "$NPID" ] || kill -TERM "$NPID" 2> /dev/null || true
  wait 2> /dev/null || true; rm -rf "$TMP"
}
trap cleanup EXIT
echo "pkjwt: generating $N ES256 assertions" >&2
node "$HERE/pkjwt_assertions.mjs" "$N" "$BASE" "$TMP"
SECRET="$(head -c 512 /dev/urandom | tr -dc 'A-Za-z0-9' | head -c 40)"
cat > "$TMP/ostiary.yaml" << YAML
issuer: $BASE
listen: 127.0.0.1:$PORT
storage: sqlite:$TMP/ostiary.db
log_level: warn
admin:
  listen: $ADMIN
  metrics_public: true
keys:
  secret: $SECRET
  algorithms: [ES256]
clients:
  - client_id: bench
    client_secret: bench-secret
    grant_types: [client_credentials]
    scope: api:read
  - client_id: bench-pkjwt
    token_endpoint_auth_method: private_key_jwt
    token_endpoint_auth_signing_alg: ES256
    jwks: '$(cat "$TMP/jwks.json")'
    grant_types: [client_credentials]
    scope: api:read
YAML
env -u OSTIARY_BIN timeout $((DURATION * 2 + 120)) "$BIN" serve --config "$TMP/ostiary.yaml" 2> "$TMP/server.log" &
SPID=$!
for _ in $(seq 300); do curl -fs "$BASE/healthz" > /dev/null 2>&1 && break; sleep 0.1; done
curl -fs "$BASE/healthz" > /dev/null 2>&1 || { echo "the server did not start:" >&2; cat "$TMP/server.log" >&2; exit 1; }
AUTH="Basic $(printf 'bench:bench-secret' | base64)"
echo "client_secret_basic:"
BENCH_METHOD=POST BENCH_PATH=/token BENCH_BODY="grant_type=client_credentials&scope=api%3Aread" BENCH_AUTH="$AUTH" \
  BENCH_EXPECT=access_token wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --latency -s "$HERE/scenario.lua" "$BASE" | grep RESULT
# The store's calls so far, by operation (the admin listener's Prometheus counts).
store_ops() {
  curl -fs "http://$ADMIN/metrics" | sed -n 's/^ostiary_store_operation_duration_seconds_count{op="\([a-z_]*\)"} \([0-9]*\)$/\1 \2/p'
}
store_ops > "$TMP/ops-before.txt"
echo "private_key_jwt (ES256 assertion, jti recorded):"
BENCH_BODIES="$TMP/bodies.txt" BENCH_THREADS="$THREADS" BENCH_PATH=/token \
  wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --latency -s "$HERE/lines.lua" "$BASE" | grep RESULT | tee "$TMP/pk.txt"
store_ops > "$TMP/ops-after.txt"
REQS="$(sed -n 's/.*"requests":\([0-9]*\).*/\1/p' "$TMP/pk.txt")"
echo "store operations per private_key_jwt request ($REQS requests):"
awk -v n="$REQS" 'NR == FNR { b[$1] = $2; next } { d = $2 - b[$1]; if (d > 0 && ($1 == "begin" || $1 == "commit" || $1 == "single_use_put" || $1 == "token_put")) printf "  %s %.2f\n", $1, d / n }' \
  "$TMP/ops-before.txt" "$TMP/ops-after.txt"
kill -TERM "$SPID" 2> /dev/null || true; wait "$SPID" 2> /dev/null || true; SPID=""

# The bound, on the same cores with the server stopped.
VERIFY="$(timeout $((SPEED_SECONDS * 4 + 30)) openssl speed -seconds "$SPEED_SECONDS" -multi 2 ecdsap256 2> /dev/null |
  grep -E '^ *256 bits ecdsa ' | tail -1 | awk '{print $NF}')"
echo "bound: ECDSA P-256 verify/s (openssl speed -multi 2): ${VERIFY:-?}"
NGINX="$(command -v nginx || { [ -x /usr/sbin/nginx ] && echo /usr/sbin/nginx; } || true)"
if [ -n "$NGINX" ]; then
  mkdir -p "$TMP/nginx/logs" "$TMP/nginx/tmp"
  cat > "$TMP/nginx/nginx.conf" << NGINXCONF
worker_processes 2;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $TMP/nginx/tmp/body; proxy_temp_path $TMP/nginx/tmp/proxy;
  fastcgi_temp_path $TMP/nginx/tmp/fcgi; uwsgi_temp_path $TMP/nginx/tmp/uwsgi; scgi_temp_path $TMP/nginx/tmp/scgi;
  keepalive_requests 1000000;
  server {
    listen $FLOOR;
    location = /token {
      default_type application/json;
      return 200 '{"access_token":"KX0pTRk4hZ0mH8yJ3p1M5d4ZQeVb7nA2cW6sLtG9uIo","token_type":"Bearer","expires_in":3600,"scope":"api:read"}';
    }
  }
}
NGINXCONF
  timeout $((DURATION * 2 + 60)) "$NGINX" -c "$TMP/nginx/nginx.conf" -p "$TMP/nginx" -g 'daemon off;' > "$TMP/nginx/out.log" 2>&1 &
  NPID=$!
  for _ in $(seq 50); do curl -fs -o /dev/null -d x=1 "http://$FLOOR/token" && break; sleep 0.1; done
  echo "HTTP floor (nginx, the same private_key_jwt requests):"
  BENCH_BODIES="$TMP/bodies.txt" BENCH_THREADS="$THREADS" BENCH_PATH=/token \
    wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --latency -s "$HERE/lines.lua" "http://$FLOOR" | grep RESULT
else
  echo "HTTP floor: nginx not found (apt-get install -y nginx-light)"
fi
