#!/usr/bin/env bash
# pg-test-cluster.sh: a throwaway PostgreSQL cluster for the tests and benchmarks (Debian's postgresql
# package): initdb into a new temporary directory, a server on a free loopback port, run as an unprivileged
# user (the `postgres` system user when we are root), removed afterwards.
#   scripts/pg-test-cluster.sh run [--durable] -- CMD ARGS...
#       starts a cluster, runs CMD with OSTIARY_TEST_PG_URL (postgres://postgres@127.0.0.1:PORT, no
#       database: append /NAME) and OSTIARY_TEST_PG_DIR in its environment, then stops the cluster and
#       removes its directory on every exit path (CMD failing, ^C, SIGTERM). Exits with CMD's status.
#       A cluster whose run was killed with SIGKILL is stopped and removed by the next run.
#       Tests run with fsync off (a crash of the machine is not what they test; a crash of Ostiary is);
#       --durable keeps PostgreSQL's defaults (fsync, synchronous_commit), as benchmarks need.
#   scripts/pg-test-cluster.sh stop-server DIR | start-server DIR
#       stops (fast shutdown: every connection is closed) or starts again the server of a running
#       cluster, for the tests of a database outage. DIR is $OSTIARY_TEST_PG_DIR.
set -euo pipefail

log() { printf 'pg-test-cluster: %s\n' "$*" >&2; }

bindir() {
    local d
    d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
    if [ -z "$d" ] || [ ! -x "$d/initdb" ]; then
        log "error: no PostgreSQL server found (apt-get install postgresql; scripts/install-deps.sh does)"
        exit 2
    fi
    echo "$d"
}

# Runs a PostgreSQL program as the cluster's owner: `postgres` when we are root (initdb refuses root).
as_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

port_free() {
    ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

start_server() {
    local dir=$1 bin
    bin=$(bindir)
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null
}

stop_server() {
    local dir=$1 bin
    bin=$(bindir)
    as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null
}

cmd=${1:-}
case "$cmd" in
stop-server)
    stop_server "${2:?usage: $0 stop-server DIR}"
    exit 0
    ;;
start-server)
    start_server "${2:?usage: $0 start-server DIR}"
    exit 0
    ;;
run) shift ;;
*)
    sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac

durable=0
if [ "${1:-}" = "--durable" ]; then
    durable=1
    shift
fi
[ "${1:-}" = "--" ] && shift
[ $# -gt 0 ] || { log "error: no command to run"; exit 2; }

# A run killed with SIGKILL cannot run its cleanup: its server keeps running and its directory stays.
# Each cluster's directory names the run that owns it (`owner`: this script's PID and the start time of
# that process, so that a PID used again by another process is not taken for it); a run sweeps away,
# before it starts its own, every cluster whose owner is gone. The start time of a process, empty if
# there is none or it has exited (a zombie not yet reaped):
proc_start() {
    sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | awk '$1 != "Z" {print $20}'
}

# Stops a cluster's server at once if it runs, and removes its directory.
remove_cluster() {
    if [ -f "$1/data/postmaster.pid" ]; then
        as_owner "$BIN/pg_ctl" -D "$1/data" -m immediate -w -t 30 stop >/dev/null 2>&1 || true
    fi
    rm -rf "$1"
}

sweep_stale() {
    local d pid start
    for d in "${TMPDIR:-/tmp}"/ostiary-pg-*; do
        [ -f "$d/owner" ] || continue
        read -r pid start <"$d/owner" || continue
        [ -n "$pid" ] && [ -n "$start" ] || continue
        [ "$(proc_start "$pid")" != "$start" ] || continue
        log "removing $d: the run that made it is gone"
        remove_cluster "$d" 2>/dev/null || true
    done
}

BIN=$(bindir)
sweep_stale
DIR=$(mktemp -d "${TMPDIR:-/tmp}/ostiary-pg-XXXXXX")
echo "$$ $(proc_start $$)" >"$DIR/owner"
chmod 755 "$DIR"
if [ "$(id -u)" -eq 0 ]; then
    if ! id postgres >/dev/null 2>&1; then
        log "error: running as root and there is no 'postgres' user to run the server as"
        rm -rf "$DIR"
        exit 2
    fi
    chown postgres: "$DIR"
fi

cleanup() {
    local rc=$?
    trap - EXIT INT TERM HUP
    remove_cluster "$DIR"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

as_owner "$BIN/initdb" -D "$DIR/data" -U postgres -A trust -E UTF8 --locale=C --no-sync >"$DIR/initdb.log" 2>&1 || {
    cat "$DIR/initdb.log" >&2
    exit 2
}

SETTINGS=(
    "listen_addresses = '127.0.0.1'"
    "unix_socket_directories = '$DIR'"
    "max_connections = 200"
    "shared_buffers = 128MB"
    "log_min_messages = warning"
    "log_min_error_statement = panic"
)
if [ "$durable" -eq 0 ]; then
    SETTINGS+=("fsync = off" "synchronous_commit = off" "full_page_writes = off")
fi

started=0
for _ in $(seq 1 20); do
    PORT=$((20000 + RANDOM % 40000))
    port_free "$PORT" || continue
    echo "$PORT" >"$DIR/port"
    { printf '%s\n' "${SETTINGS[@]}"; echo "port = $PORT"; } | as_owner tee -a "$DIR/data/postgresql.conf" >/dev/null
    if start_server "$DIR" 2>>"$DIR/start.log"; then
        started=1
        break
    fi
    # The port was taken between the check and the bind: try another one.
    as_owner sed -i '/^port = /d' "$DIR/data/postgresql.conf"
done
if [ "$started" -ne 1 ]; then
    log "error: the server did not start; its log:"
    cat "$DIR/server.log" "$DIR/start.log" >&2 2>/dev/null || true
    exit 2
fi

export OSTIARY_TEST_PG_URL="postgres://postgres@127.0.0.1:$PORT"
export OSTIARY_TEST_PG_DIR="$DIR"
log "PostgreSQL $("$BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PORT ($DIR)"
set +e
"$@"
rc=$?
set -e
exit "$rc"
