#!/usr/bin/env bash
# A/B comparison of bloom binaries on one shared workload (bench/README.md, "Comparing two
# builds"). On demand only, never in CI.
# Usage: bench/ab_bench.sh [--runs N] WORKLOAD BLOOM_A BLOOM_B [BLOOM_C...]
#   WORKLOAD: tc-chain2000 tc-chain4000 tc-rand sg-tree11 negagg-rand (or chain2000 chain4000
#             rand tree11 negagg).
# Runs the binaries in turn, N rounds (default 5), so that a change in the machine's load hits
# them alike, and prints per binary the median CPU time (user + sys), every run's CPU time, the
# largest peak RSS and the --sizes output (which must be the same for all). Facts come from
# bench/facts/ (bench/run_bench.sh generates them; this script does too when they are missing).
# Exit status: 0; 1 if the binaries print different sizes or one fails; 2 on a usage problem.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
shared=${BENCH_SHARED:-$here/../../shared/bench}
runs=5
die() { echo "ab_bench: $*" >&2; exit 2; }

[ "${1:-}" = --runs ] && { runs=${2:?--runs needs a value}; shift 2; }
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || die "--runs needs a positive integer"
[ $# -ge 3 ] || die "usage: ab_bench.sh [--runs N] WORKLOAD BLOOM_A BLOOM_B [BLOOM_C...]"
case "$1" in
  tc-chain2000|chain2000) prog=tc facts=chain2000 gen=(chain 2000) ;;
  tc-chain4000|chain4000) prog=tc facts=chain4000 gen=(chain 4000) ;;
  tc-rand|rand|tc) prog=tc facts=rand gen=(random 10000 20000 42) ;;
  sg-tree11|tree11|sg) prog=sg facts=tree11 gen=(tree 11) ;;
  negagg-rand|negagg) prog=negagg facts=rand gen=(random 10000 20000 42) ;;
  *) die "unknown workload $1" ;;
esac
shift
[ -f "$shared/$prog.bloom" ] || die "no $shared/$prog.bloom (set BENCH_SHARED)"
for b in "$@"; do [ -x "$b" ] || die "not an executable: $b"; done
dir="$here/facts/$facts"
if ! ls "$dir"/*.facts >/dev/null 2>&1; then
  echo "ab_bench: generating facts: gen.py ${gen[*]} $dir" >&2
  rm -rf "$dir.tmp"
  python3 "$shared/gen.py" "${gen[@]}" "$dir.tmp" || die "gen.py failed"
  rm -rf "$dir" && mv "$dir.tmp" "$dir"
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
declare -A cpu rss
status=0
for ((i = 1; i <= runs; i++)); do
  for ((k = 1; k <= $#; k++)); do
    b=${!k}
    if ! /usr/bin/time -o "$tmp/time" -f '%U %S %M' "$b" run "$shared/$prog.bloom" -F "$dir" --sizes --quiet \
        >"$tmp/out.$k" 2>"$tmp/err.$k"; then
      echo "ab_bench: $b failed:" >&2
      head -n 5 "$tmp/err.$k" >&2
      exit 1
    fi
    read -r u s m < <(tail -n 1 "$tmp/time")
    cpu[$k]+="$(awk -v u="$u" -v s="$s" 'BEGIN { printf "%.2f", u + s }') "
    [ "${rss[$k]:-0}" -ge "$m" ] || rss[$k]=$m
  done
done
for ((k = 1; k <= $#; k++)); do
  b=${!k}
  med=$(printf '%s\n' ${cpu[$k]} | sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}')
  printf '%s: median %s s CPU [%s] peak %.1f MB; %s\n' "$b" "$med" "${cpu[$k]% }" \
    "$(awk -v k="${rss[$k]}" 'BEGIN { print k / 1024 }')" "$(tr '\t\n' '= ' <"$tmp/out.$k")"
  if ! cmp -s "$tmp/out.1" "$tmp/out.$k"; then
    echo "ab_bench: $b printed other sizes than $1" >&2
    status=1
  fi
done
exit $status
