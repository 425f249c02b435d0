#!/usr/bin/env bash
# check.sh: the full tier (`make check`, CI): every build and every test, on 2 cores in well under an hour.
#   1. scripts/install-deps.sh (system packages, npm packages for the integration tests)
#   2. dev build with -Werror: the server, the unit tests and the fuzz replay binaries
#   3. release build: unit tests, fuzz corpus replays, integration tests (make test) on SQLite; then the
#      store contract test and the integration tests again on PostgreSQL, in a throwaway cluster
#      (scripts/pg-test-cluster.sh: initdb in a temporary directory, a loopback port, removed at the end)
#   4. ASan+UBSan build: the same suite on both backends, with the servers' stderr checked for sanitizer
#      reports
#   5. libFuzzer: each fuzz/fuzz_*.c for FUZZ_SECONDS (default 20) seconds (scripts/fuzz.sh)
# Every step runs even when an earlier one failed, so one run shows everything that is broken. Ends with
# one line "N passed, N failed" (tests of steps 3-5 plus one per build step); exits non-zero on failure.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 2

JOBS=${JOBS:-2}
LOGDIR=build/check
PASSED=0
FAILED=0
SUMMARY=()
START=$(date +%s)

step() { printf '\n######## %s  (%ds)\n' "$*" $(($(date +%s) - START)); }

# Runs a step, logging to $LOGDIR/<name>.log. With count=1 the step's last "N passed, N failed" line is
# added to the totals; otherwise the step counts as one check. A step that exits non-zero without
# reporting a failure still counts as one failure.
run_step() {
    local name=$1 count=$2
    shift 2
    local log="$LOGDIR/$name.log"
    "$@" 2>&1 | tee "$log"
    local rc=${PIPESTATUS[0]}
    local p=0 f=0
    if [ "$count" = 1 ]; then
        local line
        line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -1)
        if [ -n "$line" ]; then
            p=$(awk '{print $1}' <<<"$line")
            f=$(awk '{print $3}' <<<"$line")
        fi
    elif [ "$rc" -eq 0 ]; then
        p=1
    fi
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        f=1
    fi
    PASSED=$((PASSED + p))
    FAILED=$((FAILED + f))
    SUMMARY+=("$(printf '%-8s %-28s %4d passed, %3d failed  (%s)' "$([ "$rc" -eq 0 ] && echo ok || echo FAIL)" "$name" "$p" "$f" "$log")")
    return "$rc"
}

mkdir -p "$LOGDIR"

step "1/5 dependencies"
if ! scripts/install-deps.sh 2>&1 | tee "$LOGDIR/deps.log"; then
    echo "check: installing dependencies failed; see $LOGDIR/deps.log"
    echo "0 passed, 1 failed"
    exit 1
fi

step "2/5 dev build (-Werror): server, unit tests, fuzz replays"
DEV_FUZZ=()
for f in fuzz/fuzz_*.c; do
    [ -e "$f" ] && DEV_FUZZ+=("build/dev/fuzz/$(basename "$f" .c)")
done
run_step dev-build 0 make -j"$JOBS" VARIANT=dev all unit-bins "${DEV_FUZZ[@]}"

run_step style 0 scripts/check-style.sh

step "3/5 release build: unit + integration tests"
run_step release-test 1 make -j"$JOBS" VARIANT=release test
run_step release-test-pg 1 scripts/pg-test-cluster.sh run -- scripts/run-tests.sh build/release

step "4/5 ASan+UBSan build: unit + integration tests"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
LSAN_OPTIONS="suppressions=$ROOT/tests/lsan.supp:print_suppressions=0" \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    run_step asan-test 1 make -j"$JOBS" VARIANT=asan test
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
LSAN_OPTIONS="suppressions=$ROOT/tests/lsan.supp:print_suppressions=0" \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    run_step asan-test-pg 1 scripts/pg-test-cluster.sh run -- scripts/run-tests.sh build/asan

step "5/5 libFuzzer (${FUZZ_SECONDS:-20}s per target)"
run_step fuzz 1 scripts/fuzz.sh

printf '\n######## summary (%ds)\n' $(($(date +%s) - START))
# The failure details of the failed steps once more, next to the summary (a CI log shows its tail).
for log in "$LOGDIR"/release-test.log "$LOGDIR"/release-test-pg.log "$LOGDIR"/asan-test.log "$LOGDIR"/asan-test-pg.log; do
    if [ -f "$log" ] && grep -q '^==== failed tests (details)' "$log"; then
        printf '\n==== %s: failed tests\n' "$log"
        sed -n '/^==== failed tests (details)/,/^[0-9]* passed, [0-9]* failed$/p' "$log" | sed '1d;$d' | head -80
    fi
done
printf '%s\n' "${SUMMARY[@]}"
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
