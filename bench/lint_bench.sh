#!/usr/bin/env bash
# Benchmark of `bloom check` and `bloom lint` (text and JSON) on generated programs (bench/README.md).
# Usage: bench/lint_bench.sh [BLOOM_BINARY] [--runs N] [--sizes "10000 50000"] [--chain N]
#   BLOOM_BINARY defaults to build/tools/bloom/bloom under the repository root. Builds nothing.
# Prints, per program and command: median wall seconds and median CPU seconds (user + system)
# of N runs (default 3), peak RSS, output size, and PASS/FAIL against the target "lint of
# 50,000 rules (text and JSON) in under 5 s and 1 GB". The programs are gen_rules.py N for each
# size and, with --chain N (default 2000, 0 for none), a chain of N tables with a negation at
# each step, whose findings' paths share their prefixes.
# Exit status: 0 when every run exited as expected (0 for check, 0 or 4 for lint), whether or
# not the target is met; 1 when a run failed; 2 on a usage or setup problem.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
bloom="$root/build/tools/bloom/bloom"
runs=3
sizes="10000 50000"
chain=2000
target_rules=50000
target_seconds=5.0
target_mb=1024

while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs=${2:?--runs needs a value}; shift 2 ;;
    --sizes) sizes=${2:?--sizes needs a value}; shift 2 ;;
    --chain) chain=${2:?--chain needs a value}; shift 2 ;;
    -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "lint_bench: unknown option $1" >&2; exit 2 ;;
    *) bloom=$1; shift ;;
  esac
done

[ -x "$bloom" ] || { echo "lint_bench: no bloom binary at $bloom (build it first: cmake --build build)" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "lint_bench: /usr/bin/time is missing (apt-get install time)" >&2; exit 2; }
python=$(command -v python3 || true)
[ -n "$python" ] || { echo "lint_bench: python3 is needed for gen_rules.py" >&2; exit 2; }

out="$here/out"
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

programs=()
for n in $sizes; do
  f="$out/rules_$n.bloom"
  if [ ! -s "$f" ] || [ "$here/gen_rules.py" -nt "$f" ]; then "$python" "$here/gen_rules.py" "$n" "$f"; fi
  programs+=("$n:$f")
done
if [ "$chain" -gt 0 ]; then
  f="$out/chain_$chain.bloom"
  "$python" - "$chain" "$f" <<'EOF'
import sys
n, path = int(sys.argv[1]), sys.argv[2]
lines = ["channel inbox(@dst: addr, x: int);", "table z(x: int);", "z(1);", "table c0(x: int);", "c0(x) <= inbox(_, x);"]
for i in range(1, n):
    lines += [f"table c{i}(x: int);", f"c{i}(x) <= c{i-1}(x);", f"output d{i}(x: int);", f"d{i}(x) <= z(x), not c{i}(x);"]
open(path, "w").write("\n".join(lines) + "\n")
EOF
  programs+=("chain$chain:$f")
fi

echo "bloom check/lint benchmark: $bloom"
echo "machine: $(nproc) cores, $(uname -sr), load $(cut -d' ' -f1-3 /proc/loadavg); $(date -u '+%Y-%m-%d %H:%M UTC'); median of $runs runs"
printf '\n%-11s  %-10s  %8s  %8s  %12s  %10s  %s\n' program command "wall s" "cpu s" "peak RSS MB" "output MB" target
failed=0
verdict="not measured"
for entry in "${programs[@]}"; do
  name=${entry%%:*} f=${entry#*:}
  for cmd in check lint-text lint-json; do
    case $cmd in
      check) args=(check "$f") ok="0" ;;
      lint-text) args=(lint "$f") ok="0 4" ;;
      lint-json) args=(lint --format json "$f") ok="0 4" ;;
    esac
    walls=() cpus=() rss=() bytes=0
    for ((i = 1; i <= runs; i++)); do
      set +e
      /usr/bin/time -o "$tmp/time" -f '%e %U %S %M' "$bloom" "${args[@]}" >"$tmp/stdout" 2>"$tmp/stderr"
      code=$?
      set -e
      if ! [[ " $ok " == *" $code "* ]]; then
        echo "lint_bench: FAILED: bloom ${args[*]} exited with $code:" >&2
        head -n 20 "$tmp/stderr" >&2
        failed=1
        break
      fi
      # The last line: before it, time says "Command exited with non-zero status 4" for lint.
      read -r e u s m < <(tail -n 1 "$tmp/time")
      walls+=("$e") cpus+=("$(awk -v u="$u" -v s="$s" 'BEGIN { printf "%.2f", u + s }')") rss+=("$m")
      bytes=$(stat -c %s "$tmp/stdout")
    done
    [ ${#walls[@]} -eq "$runs" ] || continue
    wall=$(printf '%s\n' "${walls[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
    cpu=$(printf '%s\n' "${cpus[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
    peak=$(printf '%s\n' "${rss[@]}" | sort -g | tail -n 1)
    tgt=""
    if [ "$name" = "$target_rules" ] && [ "$cmd" != check ]; then
      tgt=$(awk -v t="$wall" -v m="$peak" -v ts="$target_seconds" -v tm="$target_mb" \
        'BEGIN { print (t < ts && m / 1024 < tm) ? "PASS" : "FAIL" }')
      [ "$verdict" = FAIL ] || verdict=$tgt
    fi
    awk -v p="$name" -v c="$cmd" -v w="$wall" -v u="$cpu" -v m="$peak" -v b="$bytes" -v t="$tgt" \
      'BEGIN { printf "%-11s  %-10s  %8.2f  %8.2f  %12.1f  %10.1f  %s\n", p, c, w, u, m / 1024, b / 1048576, t }'
  done
done
echo
echo "target: lint of $target_rules rules (text and JSON) in under $target_seconds s wall and $target_mb MB: $verdict"
echo "cpu s is user + system time: on a shared machine it moves less with the load than wall time does"
if [ $failed -ne 0 ]; then
  echo "lint_bench: at least one run failed" >&2
  exit 1
fi
exit 0
