#!/usr/bin/env bash
# bench/peers.sh: Ostiary side by side with two other OpenID Providers, through a peer benchmark harness
# that is not part of this repository: an external tool (run-peers.sh, targets/*.env, peers/) whose
# directory PEER_BENCH names. Without PEER_BENCH the script looks for it at the default below.
#
#   bench/peers.sh                                  # node-oidc-provider, glewlwyd, ostiary
#   bench/peers.sh ostiary                          # only some targets (names of targets/*.env)
#   DURATION=2 REPEAT=1 bench/peers.sh              # a quick smoke run
#
# What it does: copies the harness into a temp dir (it writes runs/ and peer state next to itself), adds
# targets/ostiary.env for our server on 127.0.0.1:4250 (config generated from bench/ostiary-bench.yaml:
# SQLite on disk, RS256/ES256/EdDSA keys, the same client and resources as bench/run.sh), installs what
# the peers need if it is missing (apt: wrk nginx-light glewlwyd sqlite3; npm install in
# peers/node-oidc-provider), then runs ./run-peers.sh there. The results (results.jsonl and per-target
# outputs) are copied to bench/runs/peers-<timestamp>/ (git-ignored).
#
# Ostiary in the harness's scenarios:
#   cc_default  an opaque token (resource urn:bench:opaque), like oidc-provider's default format
#   cc_jwt      an RS256 JWT (resource urn:bench:rs256)
#   introspect  an opaque token
#   authcode    the harness's own code + PKCE flow with login (its `ostiary` flavor): client bench-harness
#               (client_secret_basic, redirect URI http://localhost:4199/cb) and the user bench with the
#               harness's password, bench; a new browser per flow, so every flow verifies one argon2id
#               hash (node-oidc-provider's development login verifies none)
#
# Env: DURATION (10) CONNS ("8 64") REPEAT (3) THREADS (2) SCENARIOS: passed to the harness.
#      OSTIARY_BIN (build/release/ostiary) WORKERS (--workers N) LOG_LEVEL (info) NGINX=1 (nginx floor)
#      BENCH_DB_DIR (directory of the SQLite file; default the temp dir, on disk) KEEP_TMP=1.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
PEER_BENCH="${PEER_BENCH:-$ROOT/../shared/peer-bench}"
BIN="${OSTIARY_BIN:-$ROOT/build/release/ostiary}"
PORT=4250
HOST=127.0.0.1
BASE="http://$HOST:$PORT"
LOG_LEVEL="${LOG_LEVEL:-info}"
WORKERS="${WORKERS:-}"
export DURATION="${DURATION:-10}" CONNS="${CONNS:-8 64}" REPEAT="${REPEAT:-3}" THREADS="${THREADS:-2}"
TARGETS=("$@")
[ "${#TARGETS[@]}" -gt 0 ] || TARGETS=(node-oidc-provider glewlwyd ostiary)

die() { echo "peers.sh: $*" >&2; exit 1; }
log() { echo "== $*" >&2; }

[ -d "$PEER_BENCH" ] && [ -x "$PEER_BENCH/run-peers.sh" ] || die "no peer harness at $PEER_BENCH (set PEER_BENCH to the harness's directory)"
PEER_BENCH="$(cd "$PEER_BENCH" && pwd)"
[ -x "$BIN" ] || die "no server binary at $BIN (build it with 'make -j2' or set OSTIARY_BIN)"
BIN="$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")"
[[ "$DURATION" =~ ^[0-9]+$ ]] && [[ "$REPEAT" =~ ^[0-9]+$ ]] || die "DURATION and REPEAT must be integers"
[ -z "$WORKERS" ] || [[ "$WORKERS" =~ ^[0-9]+$ ]] || die "WORKERS must be a number"

wants() { local t; for t in "${TARGETS[@]}"; do case "$t" in "$1"*) return 0 ;; esac; done; return 1; }

# ---- prerequisites (only what is missing) ----------------------------------------------------------------
pkgs=()
command -v wrk > /dev/null || pkgs+=(wrk)
command -v sqlite3 > /dev/null || pkgs+=(sqlite3)
command -v node > /dev/null || die "node not found (the harness drives its tables and the code flow with it)"
{ [ -n "${NGINX:-}" ] && ! command -v nginx > /dev/null && [ ! -x /usr/sbin/nginx ]; } && pkgs+=(nginx-light)
{ wants glewlwyd && [ ! -f /usr/share/doc/glewlwyd/database/init.sqlite3.sql.gz ]; } && pkgs+=(glewlwyd)
if [ "${#pkgs[@]}" -gt 0 ]; then
  [ "$(id -u)" -eq 0 ] || die "missing packages (${pkgs[*]}): run as root or apt-get install -y ${pkgs[*]}"
  log "apt-get install -y ${pkgs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  if ! timeout 900 apt-get install -y -q "${pkgs[@]}" > /dev/null; then
    timeout 300 apt-get update -q > /dev/null
    timeout 900 apt-get install -y -q "${pkgs[@]}" > /dev/null
  fi
fi

for p in 4100 4200 $PORT; do
  if ss -ltn 2> /dev/null | grep -q "[:.]$p "; then log "warning: port $p is already in use (that target will be skipped)"; fi
done

# ---- the harness copy ------------------------------------------------------------------------------------
WORK="$(mktemp -d "${TMPDIR:-/var/tmp}/ostiary-peers.XXXXXX")"
cp -a "$PEER_BENCH/." "$WORK/"
rm -rf "$WORK/runs"

# Any process still running from the copy (its command line or working directory is under $WORK) once the
# harness is done, e.g. after a timeout, is ours: stop it by PID.
stop_leftovers() {
  local d pid cmd cwd
  for d in /proc/[0-9]*; do
    pid="${d#/proc/}"
    [ "$pid" != $$ ] || continue
    cmd="$(tr '\0' ' ' < "$d/cmdline" 2> /dev/null || true)"
    cwd="$(readlink "$d/cwd" 2> /dev/null || true)"
    case "$cmd $cwd" in
      *"$WORK"*)
        case "$cmd" in *run-peers.sh* | *load.sh* | *peers.sh*) continue ;; esac
        log "stopping leftover pid $pid: $cmd"
        kill -TERM "$pid" 2> /dev/null || true ;;
    esac
  done
}
cleanup() {
  local rc=$?
  stop_leftovers
  [ -z "${DB_DIR_OWN:-}" ] || rm -rf "$DB_DIR_OWN"
  if [ "$rc" -ne 0 ] || [ -n "${KEEP_TMP:-}" ]; then echo "temp dir kept: $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if wants node-oidc-provider; then
  NOP="$WORK/peers/node-oidc-provider"
  if [ ! -d "$NOP/node_modules/oidc-provider" ]; then
    log "npm install in peers/node-oidc-provider"
    (cd "$NOP" && timeout 600 npm install --no-audit --no-fund --loglevel=error > /dev/null)
  fi
fi

# ---- Ostiary as a target ---------------------------------------------------------------------------------
if [ -n "${BENCH_DB_DIR:-}" ]; then
  mkdir -p "$BENCH_DB_DIR"
  DB_DIR_OWN="$(mktemp -d "$BENCH_DB_DIR/ostiary-peers-db.XXXXXX")"
  DB_DIR="$DB_DIR_OWN"
else
  DB_DIR="$WORK/ostiary-state"
  mkdir -p "$DB_DIR"
fi
mkdir -p "$WORK/ostiary-state"
SECRET="$(head -c 512 /dev/urandom | tr -dc 'A-Za-z0-9' | head -c 40)"
[ "${#SECRET}" -eq 40 ] || die "could not generate a key secret"
CONFIG="$WORK/ostiary-state/ostiary.yaml"
sed -e "s|@ISSUER@|$BASE|" -e "s|@LISTEN@|$HOST:$PORT|" -e "s|@STORAGE@|$DB_DIR/ostiary.db|" \
    -e "s|@SECRET@|$SECRET|" -e "s|@LOG_LEVEL@|$LOG_LEVEL|" "$HERE/ostiary-bench.yaml" > "$CONFIG"
chmod 600 "$CONFIG"
if grep -q '@[A-Z_]*@' "$CONFIG"; then die "unreplaced placeholder in $CONFIG"; fi
# The harness's code flow: its redirect URI and its user's password (bench / bench).
sed -i -e 's|^    password: bench-password$|    password: bench|' -e '/^clients:$/r /dev/stdin' "$CONFIG" << 'EOF'
  - client_id: bench-harness
    client_secret: bench-secret
    grant_types: [authorization_code]
    redirect_uris: [http://localhost:4199/cb]
    token_endpoint_auth_method: client_secret_basic
    scope: openid
EOF
grep -q '^    password: bench$' "$CONFIG" && grep -q 'client_id: bench-harness' "$CONFIG" \
  || die "could not add the harness's client and password to $CONFIG"
# The harness runs CONNS flows at once, each posting a login. Ostiary's login queue (limits.login_queue, 32
# by default) answers the logins beyond it with 503 and Retry-After rather than let them wait, which the
# harness counts as failed flows; the peers let every login wait. For the comparison the queue holds them.
printf 'limits: { login_queue: 1024 }\n' >> "$CONFIG"

# run-peers.sh runs START with `bash -c ... &` and stops $! with SIGTERM: `exec` makes $! the server.
cat > "$WORK/targets/ostiary.env" << EOF
# Ostiary (C, SQLite on disk), generated by bench/peers.sh from bench/ostiary-bench.yaml.
# cc_default = opaque token (resource urn:bench:opaque), cc_jwt = RS256 JWT (resource urn:bench:rs256).
# authcode: the harness's ostiary flavor, with the client bench-harness and the user bench / bench.
NAME=ostiary
BASE=$BASE
START="exec env -u OSTIARY_BIN '$BIN' serve --config '$CONFIG'${WORKERS:+ --workers $WORKERS}"
READY_PATH=/healthz
DISCOVERY_PATH=/.well-known/openid-configuration
JWKS_PATH=/jwks
TOKEN_PATH=/token
INTROSPECT_PATH=/token/introspection
CLIENT_ID=bench
CLIENT_SECRET=bench-secret
CC_DEFAULT_PARAMS="resource=urn%3Abench%3Aopaque&scope=api%3Aread"
CC_JWT_PARAMS="resource=urn%3Abench%3Ars256&scope=api%3Aread"
INTROSPECT_TOKEN_PARAMS="resource=urn%3Abench%3Aopaque&scope=api%3Aread"
AUTHCODE_FLAVOR=ostiary
AUTHCODE_ARGS="--client bench-harness --secret bench-secret"
EOF

# ---- run -------------------------------------------------------------------------------------------------
n_sc=$(echo "${SCENARIOS:-discovery jwks cc_default cc_jwt introspect authcode}" | wc -w)
n_c=$(echo "$CONNS" | wc -w)
BUDGET=$(( ${#TARGETS[@]} * (n_sc * n_c * REPEAT * (DURATION + 30) + 120) + 300 ))
log "harness copy: $WORK; targets: ${TARGETS[*]}; DURATION=$DURATION CONNS='$CONNS' REPEAT=$REPEAT (bound ${BUDGET}s)"
rc=0
(cd "$WORK" && timeout -k 30 "$BUDGET" ./run-peers.sh "${TARGETS[@]}") || rc=$?

# ---- keep the results ------------------------------------------------------------------------------------
for d in "$WORK"/runs/peers-*; do
  [ -d "$d" ] || continue
  dest="$HERE/runs/$(basename "$d")"
  mkdir -p "$dest"
  cp -a "$d/." "$dest/"
  echo "results: ${dest#"$ROOT"/}/results.jsonl"
done
[ "$rc" -eq 0 ] || die "run-peers.sh exited with status $rc"
