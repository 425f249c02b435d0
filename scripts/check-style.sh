#!/usr/bin/env bash
# check-style.sh: what the compiler cannot check (docs/internals/conventions.md). Every source file opens
# with a comment and includes core/banned.h; nothing prints to stdout outside the CLI; and the layering
# holds: no file includes or calls into a layer above its own, only http/server.c touches libh2o, only
# src/jose/ sees jose_internal.h, and no files include or call each other in a circle. Includes are read
# from the sources; calls from the symbols of the dev build's objects (nm), so the script first brings
# that build up to date (`make VARIANT=dev`: nothing to do after `make dev`).
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

# ---- Layers: the directories of src/ a file of each directory may include or call. app.h and app.c
# (struct app, struct worker, what endpoints ask of them) sit above core and store and below what builds on
# the process state; router.c, which hands each request to the OAuth endpoints or to the admin API, above
# both. Within a directory any file may use any other, as long as no circle forms (checked below).
declare -A LAYERS=(
    [core]=""
    [http]="core"
    [store]="core"
    [ui]="core"
    [jose]="core store"
    [app]="core store"
    [session]="core http store ui jose app"
    [oauth]="core http store ui jose session app"
    [admin]="core http store ui jose session oauth app"
    [router]="core http store ui jose session oauth admin app"
    [cli]="core http store ui jose session oauth admin router app"
)
layer_of() {
    case $1 in
    src/app.[ch]) echo app ;;
    src/router.c) echo router ;;
    src/*/*) local d=${1#src/}; echo "${d%%/*}" ;;
    *) echo "?" ;;
    esac
}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Edges "from to label" -> one line per edge that goes to a layer `from` may not use.
check_layers() { # $1: edges file, $2: verb
    local from to label lf lt
    while read -r from to label; do
        lf=$(layer_of "$from")
        lt=$(layer_of "$to")
        [ "$lf" = "$lt" ] && continue
        if [ -z "${LAYERS[$lf]+x}" ]; then
            echo "$from: no layer declared for src/$lf: add it to LAYERS in scripts/check-style.sh"
            bad=1
            continue
        fi
        case " ${LAYERS[$lf]} " in
        *" $lt "*) ;;
        *) echo "layering: $from ($lf) $2 $to ($lt)${label:+: $label}"; bad=1 ;;
        esac
    done <"$1"
}

# The circles of a graph given as "from to [label]" lines: every strongly connected component of two or
# more files (Tarjan), printed edge by edge.
cycles() {
    awk '
    function visit(v,   i, w) {
        idx[v] = low[v] = ++counter; stack[++sp] = v; on[v] = 1
        for (i = 1; i <= nout[v]; i++) {
            w = out[v, i]
            if (!(w in idx)) { visit(w); if (low[w] < low[v]) low[v] = low[w] }
            else if (on[w] && idx[w] < low[v]) low[v] = idx[w]
        }
        if (low[v] == idx[v]) {
            ncomp++; n = 0
            do { w = stack[sp--]; on[w] = 0; comp[w] = ncomp; n++ } while (w != v)
            size[ncomp] = n
        }
    }
    $1 != $2 {
        if (!(($1, $2) in seen)) { seen[$1, $2] = 1; out[$1, ++nout[$1]] = $2; node[$1]; node[$2] }
        lab = $0; sub(/^[^ ]+ [^ ]+ ?/, "", lab)
        if (lab != "" && !(($1, $2) in label)) label[$1, $2] = lab
    }
    END {
        for (v in node) if (!(v in idx)) visit(v)
        for (v in node) for (i = 1; i <= nout[v]; i++) {
            w = out[v, i]
            if (comp[v] == comp[w] && size[comp[v]] > 1)
                printf "  circle %d: %s -> %s%s\n", comp[v], v, w, (((v, w) in label) ? " (" label[v, w] ")" : "")
        }
    }' "$1" | sort
}

# Include edges, from the #include "..." lines (project headers are named from src/).
for f in $(find src -name '*.[ch]' | sort); do
    sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f" | while read -r inc; do
        if [ -e "src/$inc" ]; then echo "$f src/$inc"; else echo "$f: includes \"$inc\", not found under src/" >&2; fi
    done
done >"$tmp/includes" 2>"$tmp/include-errors"
if [ -s "$tmp/include-errors" ]; then cat "$tmp/include-errors"; bad=1; fi
check_layers "$tmp/includes" includes
circ=$(cycles "$tmp/includes")
if [ -n "$circ" ]; then echo "include circles:"; echo "$circ"; bad=1; fi
hits=$(grep -lE '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]h2o' $(find src -name '*.[ch]') | grep -v '^src/http/server\.c$' || true)
if [ -n "$hits" ]; then echo "only src/http/server.c may include libh2o:"; echo "$hits"; bad=1; fi
hits=$(awk '$2 == "src/jose/jose_internal.h" && $1 !~ /^src\/jose\// {print $1}' "$tmp/includes")
if [ -n "$hits" ]; then echo "jose/jose_internal.h is for src/jose/ only:"; echo "$hits"; bad=1; fi

# Call edges, from the objects: file A calls (or reads) file B when A's object needs a symbol B's defines.
if ! make --no-print-directory -s VARIANT=dev all >"$tmp/build.log" 2>&1; then
    cat "$tmp/build.log"
    echo "check-style: the dev build failed; calls between files not checked"
    exit 1
fi
# From the sources to their objects, so that the object of a file since removed is not read.
for src in $(find src -name '*.c' | sort); do
    o=build/dev/obj/${src%.c}.o
    nm -g --defined-only "$o" | awk -v f="$src" 'NF == 3 {print "D", $3, f}'
    nm -u "$o" | awk -v f="$src" '{print "U", $NF, f}'
done >"$tmp/symbols"
awk '$1 == "D" {def[$2] = $3} $1 == "U" {use[++n] = $2; user[n] = $3}
     END {for (i = 1; i <= n; i++) if ((use[i] in def) && def[use[i]] != user[i]) print user[i], def[use[i]], use[i]}' \
    "$tmp/symbols" | sort -u >"$tmp/calls"
check_layers "$tmp/calls" calls
circ=$(cycles "$tmp/calls")
if [ -n "$circ" ]; then echo "call circles:"; echo "$circ"; bad=1; fi
hits=$(awk '$1 == "U" && $2 ~ /^h2o_/ && $3 != "src/http/server.c" {print $3 ": " $2}' "$tmp/symbols" | sort -u)
if [ -n "$hits" ]; then echo "only src/http/server.c may call libh2o:"; echo "$hits"; bad=1; fi

[ "$bad" -eq 0 ] && echo "check-style: ok"
exit "$bad"
