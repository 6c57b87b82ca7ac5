#!/usr/bin/env bash
# Incremental ticks (issue 13): a program that adds one row per tick, at 2,000 and 16,000 ticks,
# incremental (default) and in full (BLOOM_INCREMENTAL=0), measured in the same run: a table
# copied (grow), a kept scratch with a negation (grow_scratch), counts per bucket (grow_agg).
# Usage: bench/incremental/run.sh [BLOOM_BINARY]   (default build/tools/bloom/bloom; builds nothing)
# Prints seconds per run (median of 3) and the 16k/2k ratio (8 is linear; the target is at most
# 12 and under 0.5 s for grow.bloom).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bloom=${1:-$here/../../build/tools/bloom/bloom}
[ -x "$bloom" ] || { echo "no bloom binary at $bloom" >&2; exit 2; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
seconds() {  # program ticks mode
  for _ in 1 2 3; do
    local start end
    start=$(date +%s.%N)
    if [ "$3" = full ]; then BLOOM_INCREMENTAL=0 "$bloom" run "$here/$1" --param n="$2" -q >/dev/null
    else "$bloom" run "$here/$1" --param n="$2" -q >/dev/null; fi
    end=$(date +%s.%N)
    echo "$end - $start" | bc
  done | median
}
printf '%-18s %-12s %10s %10s %8s\n' program mode 2000 16000 ratio
for prog in grow.bloom grow_scratch.bloom grow_agg.bloom; do
  for mode in incremental full; do
    a=$(seconds "$prog" 2000 "$mode")
    b=$(seconds "$prog" 16000 "$mode")
    printf '%-18s %-12s %10.3f %10.3f %8.1f\n' "$prog" "$mode" "$a" "$b" "$(echo "$b / $a" | bc -l)"
  done
done
