#!/usr/bin/env bash
# The kvs example scaled up (issue 13): each client runs a script of S steps (puts and gets,
# alternating, over 50 keys), S = 1,000 and 8,000, in one process (`bloom run --in-process`),
# incremental (default) and in full (BLOOM_INCREMENTAL=0), measured in the same run.
# Usage: bench/incremental/kvs.sh [BLOOM_BINARY] [--runs N]   (default build/tools/bloom/bloom, 3 runs)
# Prints seconds (median of N; the full 8,000-step run once, it takes half a minute) and the
# 8k/1k ratio: 8 is linear, the target is at most 10. Both modes' outputs must be identical.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$here/../..
bloom=$root/build/tools/bloom/bloom
runs=3
while [ $# -gt 0 ]; do
  case $1 in
    --runs) runs=$2; shift 2 ;;
    *) bloom=$1; shift ;;
  esac
done
[ -x "$bloom" ] || { echo "no bloom binary at $bloom" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$root"/examples/kvs/{client,replica}.bloom "$work"/
mkdir -p "$work/stdlib"
cp "$root/stdlib/quorum.bloom" "$work/stdlib/"
sed -i 's#"../../stdlib/#"stdlib/#' "$work/client.bloom"
for steps in 1000 8000; do
  for c in c1 c2; do
    mkdir -p "$work/in$steps/$c"
    awk -v n="$steps" 'BEGIN { for (i = 1; i <= n; i++) {
      if (i % 2) printf "%d\tput\tk%d\tv%d\n", i, i % 50, i; else printf "%d\tget\tk%d\t\n", i, i % 50 } }' \
      >"$work/in$steps/$c/step.facts"
  done
  sed "s#inputs/#in$steps/#" "$root/examples/kvs/deploy.toml" >"$work/d$steps.toml"
done
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
seconds() {  # steps mode runs
  for ((i = 0; i < $3; i++)); do
    local start end
    rm -rf "$work/out-$2-$1"
    start=$(date +%s.%N)
    if [ "$2" = full ]; then BLOOM_INCREMENTAL=0 "$bloom" run "$work/d$1.toml" --in-process --timeout 600 -D "$work/out-$2-$1" -q
    else "$bloom" run "$work/d$1.toml" --in-process --timeout 600 -D "$work/out-$2-$1" -q; fi
    end=$(date +%s.%N)
    echo "$end - $start" | bc
  done | median
}
inc1=$(seconds 1000 incremental "$runs")
inc8=$(seconds 8000 incremental "$runs")
full1=$(seconds 1000 full "$runs")
full8=$(seconds 8000 full 1)
for s in 1000 8000; do
  diff -r "$work/out-incremental-$s" "$work/out-full-$s" >/dev/null || { echo "FAIL: outputs differ at $s steps" >&2; exit 1; }
done
printf '%-12s %10s %10s %8s\n' mode 1000 8000 ratio
printf '%-12s %10.3f %10.3f %8.1f\n' incremental "$inc1" "$inc8" "$(echo "$inc8 / $inc1" | bc -l)"
printf '%-12s %10.3f %10.3f %8.1f\n' full "$full1" "$full8" "$(echo "$full8 / $full1" | bc -l)"
ratio=$(echo "$inc8 / $inc1" | bc -l)
if (($(echo "$ratio <= 10" | bc -l))); then echo "PASS: 8,000 steps take ${ratio:0:4}x the time of 1,000 (target <= 10x)"
else echo "FAIL: 8,000 steps take ${ratio:0:4}x the time of 1,000 (target <= 10x)"; fi
