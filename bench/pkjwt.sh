#!/usr/bin/env bash
# bench/pkjwt.sh: client_credentials authenticated by private_key_jwt (an ES256 client assertion, each with
# its own jti, so every request also records one single-use value) beside the same grant with
# client_secret_basic, on one server (SQLite on disk, opaque tokens, so each request writes its token row).
# Env: DURATION (s, default 10), CONNS (default 32), THREADS (wrk, default 2), N (assertions, default
# 200000), OSTIARY_BIN. Needs wrk and node (tests/integration's node_modules for jose). Bounded: the server
# runs under timeout and is stopped by PID.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"; ROOT="$(cd "$HERE/.." && pwd)"
BIN="${OSTIARY_BIN:-$ROOT/build/release/ostiary}"
DURATION="${DURATION:-10}"; CONNS="${CONNS:-32}"; THREADS="${THREADS:-2}"; N="${N:-200000}"
PORT="${PORT:-4311}"; BASE="http://127.0.0.1:$PORT"
TMP="$(mktemp -d "${TMPDIR:-/var/tmp}/ostiary-pkjwt.XXXXXX")"
SPID=""
cleanup() { [ -z "$SPID" ] || kill -TERM "$SPID" 2> /dev/null || true; wait 2> /dev/null || true; rm -rf "$TMP"; }
trap cleanup EXIT
echo "pkjwt: generating $N ES256 assertions" >&2
node "$HERE/pkjwt_assertions.mjs" "$N" "$BASE" "$TMP"
SECRET="$(head -c 512 /dev/urandom | tr -dc 'A-Za-z0-9' | head -c 40)"
cat > "$TMP/ostiary.yaml" << YAML
issuer: $BASE
listen: 127.0.0.1:$PORT
storage: sqlite:$TMP/ostiary.db
log_level: warn
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
timeout $((DURATION * 2 + 120)) "$BIN" serve --config "$TMP/ostiary.yaml" 2> "$TMP/server.log" &
SPID=$!
for _ in $(seq 100); do curl -fs "$BASE/healthz" > /dev/null 2>&1 && break; sleep 0.1; done
AUTH="Basic $(printf 'bench:bench-secret' | base64)"
echo "client_secret_basic:"
BENCH_METHOD=POST BENCH_PATH=/token BENCH_BODY="grant_type=client_credentials&scope=api%3Aread" BENCH_AUTH="$AUTH" \
  BENCH_EXPECT=access_token wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --latency -s "$HERE/scenario.lua" "$BASE" | grep RESULT
echo "private_key_jwt (ES256 assertion, jti recorded):"
BENCH_BODIES="$TMP/bodies.txt" BENCH_THREADS="$THREADS" BENCH_PATH=/token \
  wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --latency -s "$HERE/lines.lua" "$BASE" | grep RESULT
