#!/usr/bin/env bash
# bench/pg.sh: Ostiary on PostgreSQL, with 1 and then 2 instances on one database, beside PostgreSQL's own
# ceiling measured in the same run with pgbench (see bench/README.md, "PostgreSQL").
#
#   bench/pg.sh                                 # DURATION=10, CONNS=64, INSTANCES="1 2"
#   DURATION=5 SCENARIOS="cc_opaque introspect" bench/pg.sh
#
# Runs in a throwaway cluster (scripts/pg-test-cluster.sh run --durable: PostgreSQL's default durability,
# fsync and synchronous_commit on) unless OSTIARY_TEST_PG_URL names a server already. For each instance
# count: a new database; the instances on 127.0.0.1:4320.. with one configuration (bench/ostiary-bench.yaml,
# storage on that database, one issuer), started one after the other (the first makes the keys); each
# scenario with the load split evenly over the instances (one wrk or flowbench per instance, run together;
# rates summed, the worst p99 kept); the database round trips per request from the instances' /healthz
# counters (store_round_trips) before and after; then the pgbench ceiling with as many connections as the
# instances' event-loop threads (those are the connections that carry requests), for the same DURATION:
# an INSERT of a row of the tokens table's shape (the insert ceiling, for cc_opaque) and a SELECT of one by
# its hash (the read ceiling, for introspect), with prepared statements, on a copy of the tokens table.
# Raw results: bench/runs/pg-<timestamp>.jsonl.
#
# Env: DURATION (10), CONNS (64, split over the instances), INSTANCES ("1 2"), WORKERS (event-loop
# threads per instance; default one per core), SCENARIOS ("cc_opaque introspect refresh flow_sso"),
# FLOW_VUS (32, split), SYNC_COMMIT (on; "off" sets synchronous_commit = off on the bench database, for
# Ostiary and pgbench alike: a commit then survives a crash of Ostiary or of PostgreSQL but not of the
# machine, the durability of the SQLite backend's synchronous=NORMAL), OSTIARY_BIN, KEEP_TMP=1.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
if [ -z "${OSTIARY_TEST_PG_URL:-}" ]; then
  exec "$ROOT/scripts/pg-test-cluster.sh" run --durable -- "$0" "$@"
fi

BIN="${OSTIARY_BIN:-$ROOT/build/release/ostiary}"
DURATION="${DURATION:-10}"
CONNS="${CONNS:-64}"
INSTANCES="${INSTANCES:-1 2}"
WORKERS="${WORKERS:-$(nproc)}"
SCENARIOS="${SCENARIOS:-cc_opaque introspect refresh flow_sso}"
FLOW_VUS="${FLOW_VUS:-32}"
SYNC_COMMIT="${SYNC_COMMIT:-on}"
HOST=127.0.0.1
BASE_PORT=4320
BASIC="Basic $(printf '%s:%s' bench bench-secret | base64 -w0)"

die() { echo "pg.sh: $*" >&2; exit 1; }
log() { echo "== $*" >&2; }

[ -x "$BIN" ] || die "no server binary at $BIN (make -j2)"
for t in wrk curl psql pgbench cc; do command -v "$t" > /dev/null || die "$t not found (scripts/install-deps.sh)"; done
for sc in $SCENARIOS; do
  case "$sc" in cc_opaque | introspect | refresh | flow_sso) ;; *) die "unknown scenario '$sc'" ;; esac
done
case "$SYNC_COMMIT" in on | off) ;; *) die "SYNC_COMMIT must be on or off" ;; esac

TMP="$(mktemp -d "${TMPDIR:-/var/tmp}/ostiary-pgbench.XXXXXX")"
mkdir -p "$HERE/runs"
OUT="$HERE/runs/pg-$(date +%Y%m%d-%H%M%S).jsonl"
GIT_REV="$(git -C "$ROOT" rev-parse --short HEAD 2> /dev/null || echo unknown)"
PIDS=()

stop_servers() {
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2> /dev/null || true; done
  for p in "${PIDS[@]}"; do
    for _ in $(seq 100); do kill -0 "$p" 2> /dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2> /dev/null || true
    wait "$p" 2> /dev/null || true
  done
  PIDS=()
}
cleanup() {
  local rc=$?
  stop_servers
  if [ "$rc" -ne 0 ] || [ -n "${KEEP_TMP:-}" ]; then echo "temp dir kept: $TMP" >&2; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

cc -O2 -o "$TMP/flowbench" "$HERE/flowbench.c" || die "could not compile bench/flowbench.c"
SECRET="$(head -c 512 /dev/urandom | tr -dc 'A-Za-z0-9' | head -c 40)"
psql_db() { psql "$OSTIARY_TEST_PG_URL/$1" -v ON_ERROR_STOP=1 -qAt "${@:2}"; }

round_trips() { # instance count -> sum of store_round_trips over the instances
  local sum=0 n
  for i in $(seq 0 $(($1 - 1))); do
    n="$(curl -s --max-time 5 "http://$HOST:$((BASE_PORT + i))/healthz" | sed -n 's/.*"store_round_trips":\([0-9]*\).*/\1/p')"
    sum=$((sum + ${n:-0}))
  done
  echo "$sum"
}

start_instances() { # count db
  local n=$1 db=$2 issuer="http://$HOST:$BASE_PORT"
  for i in $(seq 0 $((n - 1))); do
    local port=$((BASE_PORT + i)) cfg="$TMP/ostiary-$n-$i.yaml"
    sed -e "s|@ISSUER@|$issuer|" -e "s|@LISTEN@|$HOST:$port|" -e "s|^storage: .*|storage: $OSTIARY_TEST_PG_URL/$db|" \
        -e "s|@SECRET@|$SECRET|" -e "s|@LOG_LEVEL@|info|" "$HERE/ostiary-bench.yaml" > "$cfg"
    env -u OSTIARY_BIN -u OSTIARY_TEST_PG_URL -u OSTIARY_TEST_PG_DIR \
      timeout -k 5 3600 "$BIN" serve --config "$cfg" --workers "$WORKERS" > "$TMP/ostiary-$n-$i.out" 2> "$TMP/ostiary-$n-$i.log" &
    PIDS+=($!)
    local ok=0
    for _ in $(seq 150); do
      [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://$HOST:$port/healthz" || true)" = 200 ] && { ok=1; break; }
      sleep 0.1
    done
    [ "$ok" -eq 1 ] || { tail -20 "$TMP/ostiary-$n-$i.log" >&2; die "instance $i did not start"; }
  done
}

field() { sed -n "s/.*\"$2\":\([0-9.]*\).*/\1/p" <<< "$1"; }

ROWS=()
CEIL_ROWS=()
declare -A RPS=()

# One scenario over n instances: the load split evenly, every driver started together.
run_scenario() { # sc n
  local sc=$1 n=$2 i c per rt0 rt1 ok_sum=0 p50_max=0 p99_max=0 err_sum=0 reqs_per=1 pids=()
  rt0="$(round_trips "$n")"
  for i in $(seq 0 $((n - 1))); do
    local url="http://$HOST:$((BASE_PORT + i))" out="$TMP/$sc-$n-$i.txt"
    case "$sc" in
      cc_opaque | introspect)
        per=$((CONNS / n))
        export BENCH_METHOD=POST BENCH_AUTH="$BASIC"
        if [ "$sc" = cc_opaque ]; then
          export BENCH_PATH=/token BENCH_EXPECT='"access_token"'
          export BENCH_BODY="grant_type=client_credentials&resource=urn%3Abench%3Aopaque&scope=api%3Aread"
        else
          local tok
          tok="$(curl -s --max-time 5 -H "Authorization: $BASIC" \
            --data "grant_type=client_credentials&resource=urn%3Abench%3Aopaque&scope=api%3Aread" "$url/token" \
            | sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p')"
          [ -n "$tok" ] || die "no token to introspect"
          export BENCH_PATH=/token/introspection BENCH_EXPECT='"active":true' BENCH_BODY="token=$tok"
        fi
        timeout -k 5 $((DURATION + 30)) wrk -t1 -c"$per" -d"${DURATION}s" --timeout 5s --latency \
          -s "$HERE/scenario.lua" "$url" > "$out" 2>&1 &
        ;;
      refresh | flow_sso)
        per=$((FLOW_VUS / n))
        [ "$sc" = flow_sso ] && reqs_per=2
        timeout -k 5 $((DURATION + 240)) "$TMP/flowbench" -s "$sc" -u "$url" -i "http://$HOST:$BASE_PORT" \
          -c "$per" -d "$DURATION" -C bench-rp -S bench-secret -U bench -P bench-password > "$out" 2> "$out.err" &
        ;;
    esac
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || true; done
  rt1="$(round_trips "$n")"
  for i in $(seq 0 $((n - 1))); do
    local line
    line="$(sed -n 's/^RESULT //p' "$TMP/$sc-$n-$i.txt" | tail -1)"
    [ -n "$line" ] || die "$sc: no result from driver $i (see $TMP/$sc-$n-$i.txt*)"
    printf '{"ts":"%s","kind":"pg","scenario":"%s","instances":%d,"driver":%d,"workers":%d,"rev":"%s","r":%s}\n' \
      "$(date -u +%FT%TZ)" "$sc" "$n" "$i" "$WORKERS" "$GIT_REV" "$line" >> "$OUT"
    ok_sum="$(awk -v a="$ok_sum" -v b="$(field "$line" ok_rps)" 'BEGIN{print a + b}')"
    err_sum=$((err_sum + $(field "$line" errors)))
    p50_max="$(awk -v a="$p50_max" -v b="$(field "$line" p50_ms)" 'BEGIN{print (b > a ? b : a)}')"
    p99_max="$(awk -v a="$p99_max" -v b="$(field "$line" p99_ms)" 'BEGIN{print (b > a ? b : a)}')"
  done
  # Round trips per HTTP request of the measured load. The flow drivers' setup (one login per VU) and the
  # second /healthz reading (one ping per instance) are in the difference too: a slight overestimate.
  local rtpr
  rtpr="$(awk -v d="$((rt1 - rt0 - n))" -v r="$ok_sum" -v k="$reqs_per" -v t="$DURATION" \
    'BEGIN{ if (r > 0) printf "%.2f", d / (r * k * t); else print "-" }')"
  RPS["$sc/$n"]="$ok_sum"
  ROWS+=("$(printf '| %s | %d | %.0f | %.2f | %.2f | %d | %s |' "$sc" "$n" "$ok_sum" "$p50_max" "$p99_max" "$err_sum" "$rtpr")")
  printf '   %-10s instances=%d %8.0f /s  p50 %6.2f ms  p99 %6.2f ms  errors %d  DB round trips/request %s\n' \
    "$sc" "$n" "$ok_sum" "$p50_max" "$p99_max" "$err_sum" "$rtpr" >&2
}

# pgbench with the connections that carry requests (event-loop threads of the instances).
ceilings() { # n db
  local n=$1 db=$2 c=$(($1 * WORKERS)) ins rd
  psql_db "$db" -c "DROP TABLE IF EXISTS bench_tokens; CREATE TABLE bench_tokens (LIKE tokens INCLUDING ALL);
    INSERT INTO bench_tokens (hash, kind, client_id, scope, aud, jti, iat, exp)
    SELECT decode(lpad(to_hex(i), 64, '0'), 'hex'), 1, 'bench', 'api:read', 'urn:bench:opaque', md5(i::text), 1, 4102444800
    FROM generate_series(1, 100000) i; ANALYZE bench_tokens;"
  # pgbench takes any :name, even inside a string literal, for a variable: the literals have no colon
  # (same lengths as the server's 'api:read' and 'urn:bench:opaque').
  cat > "$TMP/insert.sql" << 'EOF'
\set a random(1, 9223372036854775806)
\set b random(1, 9223372036854775806)
INSERT INTO bench_tokens (hash, kind, client_id, sub, scope, aud, jti, grant_id, data, iat, exp, revoked_at, consumed_at) VALUES (decode(lpad(to_hex(CAST(:a AS bigint)), 32, '0') || lpad(to_hex(CAST(:b AS bigint)), 32, '0'), 'hex'), 1, 'bench', NULL, 'api-read', 'urn-bench-opaque', to_hex(CAST(:b AS bigint)), NULL, NULL, 1700000000, 4102444800, 0, 0);
EOF
  cat > "$TMP/read.sql" << 'EOF'
\set i random(1, 100000)
SELECT hash, kind, client_id, sub, scope, aud, jti, grant_id, data, iat, exp, revoked_at, consumed_at FROM bench_tokens WHERE hash = decode(lpad(to_hex(CAST(:i AS bigint)), 64, '0'), 'hex');
EOF
  for kind in insert read; do
    timeout -k 5 $((DURATION + 60)) pgbench -n -M prepared -c "$c" -j 2 -T "$DURATION" -f "$TMP/$kind.sql" \
      "$OSTIARY_TEST_PG_URL/$db" > "$TMP/pgbench-$kind-$n.txt" 2>&1 || true
    local tps
    tps="$(sed -n 's/^tps = \([0-9.]*\) .*without initial connection time.*/\1/p' "$TMP/pgbench-$kind-$n.txt")"
    [ -n "$tps" ] || tps="$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$TMP/pgbench-$kind-$n.txt" | tail -1)"
    [ -n "$tps" ] || die "pgbench $kind: no tps (see $TMP/pgbench-$kind-$n.txt)"
    printf '{"ts":"%s","kind":"pgbench","script":"%s","instances":%d,"clients":%d,"tps":%s}\n' \
      "$(date -u +%FT%TZ)" "$kind" "$n" "$c" "$tps" >> "$OUT"
    [ "$kind" = insert ] && ins="$tps" || rd="$tps"
  done
  printf '   pgbench (%d connections): insert %.0f/s, read %.0f/s\n' "$c" "$ins" "$rd" >&2
  local r1 r2
  r1="$(awk -v a="${RPS[cc_opaque/$n]:-0}" -v c="$ins" 'BEGIN{ if (a > 0) printf "%.0f%% (%s)", 100 * a / c, (a >= 0.7 * c ? "met" : "NOT met"); else print "-" }')"
  r2="$(awk -v a="${RPS[introspect/$n]:-0}" -v c="$rd" 'BEGIN{ if (a > 0) printf "%.0f%% (%s)", 100 * a / c, (a >= 0.7 * c ? "met" : "NOT met"); else print "-" }')"
  CEIL_ROWS+=("$(printf '| %d | %d | %.0f | %.0f | %s | %.0f | %.0f | %s |' "$n" "$c" "$ins" "${RPS[cc_opaque/$n]:-0}" "$r1" "$rd" "${RPS[introspect/$n]:-0}" "$r2")")
}

log "PostgreSQL at $OSTIARY_TEST_PG_URL; instances \"$INSTANCES\", $WORKERS workers each, CONNS=$CONNS FLOW_VUS=$FLOW_VUS DURATION=${DURATION}s synchronous_commit=$SYNC_COMMIT"
for n in $INSTANCES; do
  db="bench_${n}_$$"
  psql_db postgres -c "CREATE DATABASE $db"
  psql_db postgres -c "ALTER DATABASE $db SET synchronous_commit = $SYNC_COMMIT"
  start_instances "$n" "$db"
  for sc in $SCENARIOS; do run_scenario "$sc" "$n"; done
  stop_servers
  ceilings "$n" "$db"
done

echo
echo "Ostiary $GIT_REV on PostgreSQL $(psql_db postgres -c 'SHOW server_version' | awk '{print $1}'), $(nproc) cores," \
  "load $(cut -d' ' -f1-3 /proc/loadavg), DURATION=${DURATION}s, $WORKERS workers per instance," \
  "synchronous_commit=$SYNC_COMMIT"
echo
echo "| scenario | instances | req/s (flows/s) | p50 ms | p99 ms | errors | DB round trips per HTTP request |"
echo "|---|---:|---:|---:|---:|---:|---:|"
printf '%s\n' "${ROWS[@]}"
echo
echo "| instances | pgbench connections | insert ceiling/s | cc_opaque/s | ratio (target 70 %) | read ceiling/s | introspect/s | ratio (target 70 %) |"
echo "|---:|---:|---:|---:|---|---:|---:|---|"
printf '%s\n' "${CEIL_ROWS[@]}"
echo
echo "raw: ${OUT#"$ROOT"/}"
