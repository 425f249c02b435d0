#!/usr/bin/env bash
# check-style.sh: what the compiler cannot check (STYLE.md §3.11): every source file opens with a
# comment and includes core/banned.h, and nothing prints to stdout outside the CLI.
set -uo pipefail
cd "$(dirname "$0")/.."
bad=0
for f in $(find src -name '*.c' | sort); do
    if ! head -1 "$f" | grep -q '^/\*'; then echo "$f: no header comment on line 1"; bad=1; fi
    if ! grep -q '#include "core/banned.h"' "$f"; then echo "$f: does not include core/banned.h"; bad=1; fi
done
for f in $(find src -name '*.h' | sort); do
    if ! head -1 "$f" | grep -q '^/\*'; then echo "$f: no header comment on line 1"; bad=1; fi
done
hits=$(grep -nE '(^|[^a-z_])(printf|puts)\(|fputs\([^,]*, *stdout' $(find src -name '*.c' ! -path 'src/cli/*' ! -name log.c) | grep -v 'snprintf\|vsnprintf\|arena_printf\|strbuf_addf\|arena_vprintf' || true)
if [ -n "$hits" ]; then echo "printing outside src/cli and core/log.c:"; echo "$hits"; bad=1; fi
[ "$bad" -eq 0 ] && echo "check-style: ok"
exit "$bad"
