#!/usr/bin/env bash
# fuzz.sh [TARGET...]: builds every fuzz/fuzz_<name>.c with clang and libFuzzer
# (-fsanitize=fuzzer,address,undefined) and runs each for FUZZ_SECONDS (default 20) on a working copy of
# its seed corpus fuzz/corpus/<name>/ (plus fuzz/dict/<name>.dict when present); why and how:
# docs/internals/conventions.md, "Tests and fuzzing".
#
# The library objects (src/**/*.c except src/cli/) are compiled with clang and
# -fsanitize=fuzzer-no-link,address,undefined into build/fuzz/obj (rebuilt when a source or a header it
# includes changed). Crashes go to build/fuzz/artifacts/; new corpus entries stay in build/fuzz/corpus/
# (minimize with `-merge=1` before adding any to fuzz/corpus/). Prints "N passed, N failed" (targets).
#
#   FUZZ_SECONDS=300 scripts/fuzz.sh form     # fuzz one target longer
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 2

SECS=${FUZZ_SECONDS:-20}
CLANG=${FUZZ_CC:-clang}
OUT=build/fuzz
JOBS=$(nproc 2>/dev/null || echo 2)
PKGS=(libh2o-evloop jansson openssl sqlite3 libsodium yaml-0.1 libpq libcurl)

if ! command -v "$CLANG" >/dev/null 2>&1; then
    echo "fuzz: $CLANG not found (scripts/install-deps.sh installs clang)" >&2
    echo "0 passed, 1 failed"
    exit 1
fi

PKG_CFLAGS=$(pkg-config --cflags "${PKGS[@]}" 2>/dev/null)
PKG_LIBS=$(pkg-config --libs "${PKGS[@]}" 2>/dev/null)
SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
CFLAGS="-std=c11 -D_GNU_SOURCE -DH2O_USE_LIBUV=0 -Isrc $PKG_CFLAGS -O1 -g $SAN -Wall -Wextra -Wno-unused-parameter"
export CLANG CFLAGS OUT

# ---- library objects (incremental: an object is rebuilt when its source or any header in its .d is newer)
mkdir -p "$OUT/obj" "$OUT/artifacts" "$OUT/corpus"
compile_one() {
    local src=$1 obj="$OUT/obj/${1%.c}.o" dep="$OUT/obj/${1%.c}.d"
    if [ -f "$obj" ] && [ -f "$dep" ]; then
        local stale=0 f
        for f in $(sed -e 's/\\$//' -e 's/^[^:]*://' "$dep"); do
            if [ "$f" -nt "$obj" ] || [ ! -e "$f" ]; then
                stale=1
                break
            fi
        done
        [ "$stale" -eq 0 ] && return 0
    fi
    mkdir -p "$(dirname "$obj")"
    echo "  CC $src"
    # shellcheck disable=SC2086
    "$CLANG" $CFLAGS -fsanitize=fuzzer-no-link -MMD -MF "$dep" -c "$src" -o "$obj"
}
export -f compile_one

mapfile -t LIB_SRC < <(find src -name '*.c' -not -path 'src/cli/*' | sort)
echo "fuzz: compiling ${#LIB_SRC[@]} library sources with $CLANG"
if ! printf '%s\n' "${LIB_SRC[@]}" | xargs -P "$JOBS" -I{} bash -c 'compile_one "$@"' _ {}; then
    echo "fuzz: library build failed" >&2
    echo "0 passed, 1 failed"
    exit 1
fi
LIB_OBJ=()
for s in "${LIB_SRC[@]}"; do LIB_OBJ+=("$OUT/obj/${s%.c}.o"); done
# The built-in copies of web/ (src/ui/tmpl.c), generated as the Makefile does.
if [ -x scripts/embed-web.sh ]; then
    mkdir -p "$OUT/gen"
    if ! scripts/embed-web.sh web "$OUT/gen/web_assets.c" || ! compile_one "$OUT/gen/web_assets.c"; then
        echo "fuzz: generating web assets failed" >&2
        echo "0 passed, 1 failed"
        exit 1
    fi
    LIB_OBJ+=("$OUT/obj/$OUT/gen/web_assets.o")
fi
LIB="$OUT/libostiary-fuzz.a"
rm -f "$LIB"
ar rcs "$LIB" "${LIB_OBJ[@]}"

# ---- targets
TARGETS=()
if [ $# -gt 0 ]; then
    for t in "$@"; do TARGETS+=("fuzz/fuzz_${t#fuzz_}.c"); done
else
    mapfile -t TARGETS < <(find fuzz -maxdepth 1 -name 'fuzz_*.c' | sort)
fi
if [ "${#TARGETS[@]}" -eq 0 ]; then
    echo "fuzz: no targets (fuzz/fuzz_*.c)"
    echo "0 passed, 0 failed"
    exit 0
fi

PASSED=0
FAILED=0
FAILED_NAMES=()
for src in "${TARGETS[@]}"; do
    name=$(basename "$src" .c)
    name=${name#fuzz_}
    bin="$OUT/fuzz_$name"
    printf '\n==== fuzz %s (%ss)\n' "$name" "$SECS"
    # shellcheck disable=SC2086
    if ! "$CLANG" $CFLAGS -fsanitize=fuzzer -o "$bin" "$src" "$LIB" $PKG_LIBS -lpthread -lm; then
        echo "fuzz: $name: build failed"
        FAILED=$((FAILED + 1))
        FAILED_NAMES+=("$name (build)")
        continue
    fi
    work="$OUT/corpus/$name"
    mkdir -p "$work"
    seeds=()
    [ -d "fuzz/corpus/$name" ] && seeds+=("fuzz/corpus/$name")
    args=(-max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1
          -artifact_prefix="$OUT/artifacts/$name-")
    [ -f "fuzz/dict/$name.dict" ] && args+=(-dict="fuzz/dict/$name.dict")
    log="$OUT/fuzz_$name.log"
    ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1} \
    UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
        "$bin" "${args[@]}" "$work" "${seeds[@]}" >"$log" 2>&1
    rc=$?
    grep -E '^(#[0-9]+\s+(INITED|DONE)|stat::number_of_executed_units|stat::peak_rss_mb|Done [0-9]+ runs)' "$log" | tail -4
    if [ "$rc" -eq 0 ]; then
        PASSED=$((PASSED + 1))
    else
        echo "fuzz: $name FAILED (status $rc); log: $log"
        grep -E -A30 'ERROR: |runtime error:|deadly signal|SUMMARY:' "$log" | head -60
        find "$OUT/artifacts" -name "$name-*" -newer "$bin" | sed 's/^/  artifact: /'
        FAILED=$((FAILED + 1))
        FAILED_NAMES+=("$name")
    fi
done

echo
[ "${#FAILED_NAMES[@]}" -gt 0 ] && echo "fuzz: failed targets: ${FAILED_NAMES[*]}"
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
