#!/usr/bin/env bash
# bench/median.sh: bench/run.sh several times in a row, then one table of the medians (see bench/README.md,
# "Repeated runs").
#
#   RUNS=3 DURATION=5 CONNS=64 SCENARIOS="cc_es256 introspect flow_sso refresh" bench/median.sh
#
# A shared virtual machine drifts: even with each scenario's bounds measured on both sides of it (run.sh,
# BRACKET=1), one run is one sample. Each run here measures its own bounds and ratios, as run.sh always does;
# the table gives, per scenario, the median of the runs' rates, p99s, CPU per request, bounds and ratios,
# every run's ratio beside it, and the target's verdict on the median ratio (the median rate for targets in
# requests per second, the median p99 for a p99 target).
# Every other variable is passed to run.sh. Each run's whole output is kept in the temp dir named at the end.
#
# Env: RUNS=3 (odd, so that the median is one of the runs). Exits non-zero if any run failed.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
RUNS="${RUNS:-3}"
case "$RUNS" in '' | *[!0-9]*) echo "median.sh: RUNS must be a number" >&2; exit 2 ;; esac
[ "$RUNS" -ge 1 ] || { echo "median.sh: RUNS must be at least 1" >&2; exit 2; }
OUT="$(mktemp -d "${TMPDIR:-/var/tmp}/ostiary-median.XXXXXX")"

failed=0
for i in $(seq 1 "$RUNS"); do
  echo "== run $i of $RUNS" >&2
  if ! "$HERE/run.sh" > "$OUT/run-$i.md" 2> "$OUT/run-$i.err"; then
    echo "== run $i failed (see $OUT/run-$i.err)" >&2
    failed=1
  fi
done

echo
head -3 "$OUT/run-1.md" | sed -n 2p
echo "(the first of $RUNS runs; the table gives the medians of the $RUNS runs, each with its own bounds)"
echo
echo "| scenario | conns | req/s (flows/s) | p99 ms | errors (all runs) | server CPU µs per request (flow); (kernel) | bound | bound /s | ratio (each run) | target, on the median |"
echo "|---|---:|---:|---:|---:|---:|---|---:|---:|---|"
# The rows of run.sh's main table: "| scenario | conns | rate | p99 | errors | cpu | bound | bound/s | ratio | target |",
# where cpu is "12.3 (4.5)" for a request scenario (the kernel's part in parentheses), "512" for a flow.
for i in $(seq 1 "$RUNS"); do
  awk -F' [|] ' -v run="$i" '/^\| scenario \| conns/ { main = 1; next } main && /^$/ { main = 0 }
    main && /^\| [a-z_0-9]+ \| [0-9]+ \| / && NF >= 10 {
      sub(/^\| /, "", $1); sub(/ \|$/, "", $10); sub(/ %$/, "", $9);
      print run "\t" $1 "\t" $2 "\t" $3 "\t" $4 "\t" $5 "\t" $6 "\t" $7 "\t" $8 "\t" $9 "\t" $10 }' "$OUT/run-$i.md"
done | awk -F'\t' '
  function median(list,    n, v, i, j, t) {
    n = split(list, v, " ")
    if (n == 0) return ""
    for (i = 2; i <= n; i++) { t = v[i] + 0; for (j = i - 1; j >= 1 && v[j] + 0 > t; j--) v[j + 1] = v[j]; v[j + 1] = t }
    return (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
  }
  function add(k, f, x) { if (x != "-" && x != "") L[k, f] = L[k, f] " " x }
  {
    k = $2 SUBSEP $3
    if (!(k in seen)) { seen[k] = 1; order[++n] = k; label[k] = $8; target[k] = $11 }
    cpu = $7; kern = ""
    if (match(cpu, / \([0-9.]+\)$/)) { kern = substr(cpu, RSTART + 2, RLENGTH - 3); cpu = substr(cpu, 1, RSTART - 1) }
    add(k, "rate", $4); add(k, "p99", $5); add(k, "cpu", cpu); add(k, "kern", kern); add(k, "bound", $9)
    add(k, "ratio", $10)
    errs[k] += ($6 == "-" ? 0 : $6)
    each[k] = each[k] (each[k] == "" ? "" : ", ") ($10 == "-" ? "-" : $10)
  }
  END {
    for (r = 1; r <= n; r++) {
      k = order[r]; split(k, sc, SUBSEP)
      rate = median(L[k, "rate"]); p99 = median(L[k, "p99"]); ratio = median(L[k, "ratio"])
      # The verdict again, on the medians: "≥ N %" on the ratio, "≥ N/s" on the rate, "p99 < N ms" on the p99.
      t = target[k]; v = ""
      if (match(t, /≥ [0-9.]+ %/)) {
        th = substr(t, RSTART + 4, RLENGTH - 6) + 0
        v = sprintf("≥ %s %%: %s", th, ratio == "" ? "no bound" : (ratio >= th ? "met" : "NOT met"))
      } else if (match(t, /≥ [0-9.]+\/s/)) {
        th = substr(t, RSTART + 4, RLENGTH - 6) + 0
        v = sprintf("≥ %s/s: %s", th, rate >= th ? "met" : "NOT met")
      }
      if (match(t, /p99 < [0-9.]+ ms/)) {
        th = substr(t, RSTART + 6, RLENGTH - 9) + 0
        v = v sprintf("; p99 < %s ms: %s", th, p99 < th ? "met" : "NOT met")
      }
      printf "| %s | %s | %.0f | %.2f | %d | %s | %s | %s | %s | %s |\n", sc[1], sc[2], rate, p99, errs[k],
        median(L[k, "cpu"]) (L[k, "kern"] == "" ? "" : " (" median(L[k, "kern"]) ")"), label[k],
        (L[k, "bound"] == "" ? "-" : sprintf("%.0f", median(L[k, "bound"]))),
        (ratio == "" ? "-" : sprintf("%.0f %% (%s)", ratio, each[k])), v
    }
  }'
echo
echo "Each run's output: $OUT/run-*.md"
exit "$failed"
