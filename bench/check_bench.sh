#!/usr/bin/env bash
# Benchmark of `bloom check` on generated programs of 1k, 10k and 50k rules (bench/README.md).
# Usage: bench/check_bench.sh [BLOOM_BINARY] [--runs N] [--sizes "1000 10000 50000"]
#   BLOOM_BINARY defaults to build/tools/bloom/bloom under the repository root. Builds nothing.
# Prints, per size: median wall seconds and peak RSS of N runs (default 3), rules per second,
# per-rule time relative to the smallest size of this same run (1.00 = linear), and PASS/FAIL
# against the target "10k rules checked in under 1 s".
# Exit status: 0 when every check succeeded (whether or not the target is met); 1 when a
# `bloom check` run failed or reported errors; 2 on a usage or setup problem.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
bloom="$root/build/tools/bloom/bloom"
runs=3
sizes="1000 10000 50000"
target_rules=10000
target_seconds=1.0

while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs=${2:?--runs needs a value}; shift 2 ;;
    --sizes) sizes=${2:?--sizes needs a value}; shift 2 ;;
    -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "check_bench: unknown option $1" >&2; exit 2 ;;
    *) bloom=$1; shift ;;
  esac
done

if [ ! -x "$bloom" ]; then
  echo "check_bench: no bloom binary at $bloom (build it first: cmake --build build)" >&2
  exit 2
fi
if [ ! -x /usr/bin/time ]; then
  echo "check_bench: /usr/bin/time is missing (apt-get install time)" >&2
  exit 2
fi
python=$(command -v python3 || true)
[ -n "$python" ] || { echo "check_bench: python3 is needed for gen_rules.py" >&2; exit 2; }

out="$here/out"
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "bloom check benchmark: $bloom"
echo "machine: $(nproc) cores, $(uname -sr); $(date -u '+%Y-%m-%d %H:%M UTC'); median of $runs runs"

# Generate (again only when the generator changed).
for n in $sizes; do
  f="$out/rules_$n.bloom"
  if [ ! -s "$f" ] || [ "$here/gen_rules.py" -nt "$f" ]; then
    "$python" "$here/gen_rules.py" "$n" "$f"
  fi
done

failed=0
results=()   # "n median_s rss_mb"
for n in $sizes; do
  f="$out/rules_$n.bloom"
  times=() rss=()
  for ((i = 1; i <= runs; i++)); do
    set +e
    /usr/bin/time -o "$tmp/time" -f '%e %M' "$bloom" check "$f" >"$tmp/stdout" 2>"$tmp/stderr"
    code=$?
    set -e
    if [ $code -ne 0 ]; then
      echo "check_bench: FAILED: bloom check $f exited with $code; its first diagnostics:" >&2
      head -n 30 "$tmp/stderr" >&2
      head -n 10 "$tmp/stdout" >&2
      failed=1
      break
    fi
    if grep -qE '^[^ ]+:[0-9]+:[0-9]+: error' "$tmp/stderr" "$tmp/stdout"; then
      echo "check_bench: FAILED: bloom check $f exited 0 but printed errors:" >&2
      head -n 30 "$tmp/stderr" >&2
      failed=1
      break
    fi
    warnings=$(cat "$tmp/stderr" "$tmp/stdout" | grep -cE '^[^ ]+:[0-9]+:[0-9]+: warning' || true)
    read -r t m <"$tmp/time"
    times+=("$t") rss+=("$m")
  done
  [ ${#times[@]} -eq "$runs" ] || continue
  [ "${warnings:-0}" -eq 0 ] || echo "note: $n rules: bloom check printed $warnings warnings" >&2
  med=$(printf '%s\n' "${times[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  peak=$(printf '%s\n' "${rss[@]}" | sort -g | tail -n 1)
  results+=("$n $med $peak")
done

echo
printf '%8s  %10s  %12s  %10s  %14s  %s\n' rules "median s" "peak RSS MB" "rules/s" "per-rule ratio" target
base_n="" base_t=""
verdict="not measured"
for r in "${results[@]}"; do
  read -r n t m <<<"$r"
  if [ -z "$base_n" ]; then base_n=$n base_t=$t; fi
  awk -v n="$n" -v t="$t" -v m="$m" -v bn="$base_n" -v bt="$base_t" \
      -v tn="$target_rules" -v ts="$target_seconds" 'BEGIN {
    rate = (t > 0) ? sprintf("%.0f", n / t) : "inf";
    # /usr/bin/time reports 10 ms steps: a 0.00 s baseline makes the ratio meaningless.
    ratio = (bt > 0 && t > 0) ? sprintf("%.2f", (t / n) / (bt / bn)) : "n/a";
    tgt = "";
    if (n == tn) tgt = (t < ts) ? "PASS (< " ts " s)" : "FAIL (>= " ts " s)";
    printf "%8d  %10.2f  %12.1f  %10s  %14s  %s\n", n, t, m / 1024, rate, ratio, tgt;
  }'
  if [ "$n" = "$target_rules" ]; then
    verdict=$(awk -v t="$t" -v ts="$target_seconds" 'BEGIN { print (t < ts) ? "PASS" : "FAIL" }')
  fi
done
echo
echo "target: $target_rules rules checked in under $target_seconds s: $verdict"
echo "per-rule ratio: time per rule relative to the ${base_n:-first}-rule run of this invocation (1.0 = linear)"
if [ $failed -ne 0 ]; then
  echo "check_bench: at least one bloom check failed" >&2
  exit 1
fi
exit 0
