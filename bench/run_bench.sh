#!/usr/bin/env bash
# Runtime benchmark: `bloom run` on the shared workloads against a hand-written C++ baseline
# (bench/README.md, "bloom run on the shared workloads"). On demand only, never in CI.
# Usage: bench/run_bench.sh [--quick] [--runs N] [--baseline-only] [WORKLOAD...]
#   WORKLOAD: tc-chain2000 tc-chain4000 tc-rand sg-tree11 negagg-rand (default: all five;
#             short forms chain2000 chain4000 rand tree11 negagg are accepted).
#   --quick          1 run of each program instead of 3.
#   --runs N         N runs of each program (median CPU and wall time, largest peak RSS).
#   --baseline-only  measure only the baseline (no bloom binary needed).
# Environment: BLOOM (bloom binary, default build/tools/bloom/bloom under the repository root),
#   BENCH_TIMEOUT (seconds per program run, default 300), BENCH_SHARED (default ../shared/bench
#   next to the repository).
# Builds the baseline into bench/out/, generates facts into bench/facts/NAME (once), runs
# `bloom run PROG -F DIR --sizes --quiet` and the baseline, checks that the sizes agree, and
# prints a table. Times are CPU seconds (user + sys, the figure the targets are judged on: it is
# far less disturbed by other processes on a 2-core machine than wall time); the median wall
# time is shown beside it. Progress goes to stderr, the table to stdout.
# Exit status: 0 (failures, timeouts and mismatches are reported in the table); 2 on a usage or
# setup problem (no bloom binary, no shared inputs, baseline does not build, ...).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
cd "$root"

runs=3
baseline_only=0
timeout_s=${BENCH_TIMEOUT:-300}
shared=${BENCH_SHARED:-$root/../shared/bench}
bloom=${BLOOM:-build/tools/bloom/bloom}
case "$bloom" in /*) ;; *) bloom="$root/$bloom" ;; esac

die() { echo "run_bench: $*" >&2; exit 2; }
progress() { echo "run_bench: $*" >&2; }

# Workloads: name program facts-dir target-seconds target-MB ("-" = none) expected --sizes
# lines ("name=count" separated by commas; from ../shared/bench/README.md).
all_workloads=(tc-chain2000 tc-chain4000 tc-rand sg-tree11 negagg-rand)
declare -A w_prog w_facts w_tsec w_tmb w_expect
def() { w_prog[$1]=$2 w_facts[$1]=$3 w_tsec[$1]=$4 w_tmb[$1]=$5 w_expect[$1]=$6; }
def tc-chain2000 tc chain2000 0.9 - "path=1999000"
def tc-chain4000 tc chain4000 4 - "path=7998000"
def tc-rand tc rand 43 1200 "path=62988691"
def sg-tree11 sg tree11 0.85 - "sg=5588310"
def negagg-rand negagg rand 0.38 - "unreach=2017,reach=606733,cnt=81,total=1"

selected=()
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) runs=1; shift ;;
    --runs) runs=${2:?--runs needs a value}; shift 2 ;;
    --baseline-only) baseline_only=1; shift ;;
    -h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) die "unknown option $1 (see --help)" ;;
    chain2000|chain4000) selected+=("tc-$1"); shift ;;
    rand|tc) selected+=(tc-rand); shift ;;
    tree11|sg) selected+=(sg-tree11); shift ;;
    negagg) selected+=(negagg-rand); shift ;;
    *)
      [ -n "${w_prog[$1]:-}" ] || die "unknown workload $1 (one of: ${all_workloads[*]})"
      selected+=("$1"); shift ;;
  esac
done
[ ${#selected[@]} -gt 0 ] || selected=("${all_workloads[@]}")
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || die "--runs needs a positive integer, not '$runs'"
[[ "$timeout_s" =~ ^[1-9][0-9]*$ ]] || die "BENCH_TIMEOUT must be a positive integer (seconds)"

# ---- Setup -------------------------------------------------------------------------------
if [ $baseline_only -eq 0 ] && [ ! -x "$bloom" ]; then
  die "no bloom binary at $bloom (build it: cmake --build build --target bloom; or set BLOOM=...;
  or pass --baseline-only to measure only the baseline)"
fi
[ -x /usr/bin/time ] || die "/usr/bin/time is missing (apt-get install time)"
command -v timeout >/dev/null || die "timeout (coreutils) is missing"
python=$(command -v python3 || true)
[ -n "$python" ] || die "python3 is needed for gen.py"
[ -f "$shared/gen.py" ] || die "no shared benchmark inputs at $shared (gen.py missing; set BENCH_SHARED)"
shared=$(cd "$shared" && pwd)
for p in tc sg negagg; do
  [ -f "$shared/$p.bloom" ] || die "missing $shared/$p.bloom"
done

out="$here/out"
facts="$here/facts"
mkdir -p "$out" "$facts"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Baseline: rebuilt when missing or older than its source.
baseline="$out/baseline"
src="$here/baseline/baseline.cpp"
if [ ! -x "$baseline" ] || [ "$src" -nt "$baseline" ]; then
  command -v g++ >/dev/null || die "g++ is missing"
  command -v pkg-config >/dev/null || die "pkg-config is missing"
  absl=$(pkg-config --cflags --libs absl_flat_hash_set absl_flat_hash_map absl_hash) ||
    die "pkg-config finds no abseil (apt-get install libabsl-dev)"
  progress "building the baseline: $baseline"
  # shellcheck disable=SC2086  # $absl is a list of flags
  g++ -O2 -std=c++20 -DNDEBUG -o "$baseline.tmp" "$src" $absl ||
    die "the baseline does not build"
  mv "$baseline.tmp" "$baseline"
fi

# Facts, generated once into bench/facts/NAME (into a temporary directory first, so an
# interrupted generation is not mistaken for a complete one).
gen_facts() {  # name
  local name=$1 dir="$facts/$1" files=() args=()
  case "$name" in
    chain2000) files=(edge.facts) args=(chain 2000) ;;
    chain4000) files=(edge.facts) args=(chain 4000) ;;
    rand) files=(edge.facts node.facts) args=(random 10000 20000 42) ;;
    tree11) files=(par.facts) args=(tree 11) ;;
    *) die "internal: no generator for $name" ;;
  esac
  local f ok=1
  for f in "${files[@]}"; do [ -s "$dir/$f" ] || ok=0; done
  [ $ok -eq 0 ] || return 0
  progress "generating facts: gen.py ${args[*]} $dir"
  rm -rf "$dir.tmp"
  "$python" "$shared/gen.py" "${args[@]}" "$dir.tmp" || die "gen.py ${args[*]} failed"
  rm -rf "$dir"
  mv "$dir.tmp" "$dir"
}
for w in "${selected[@]}"; do gen_facts "${w_facts[$w]}"; done

# ---- Measurement -------------------------------------------------------------------------
# Normalised --sizes output: no CR, no trailing blanks, no empty lines.
normalise() { tr -d '\r' <"$1" | sed 's/[[:space:]]*$//' | sed '/^$/d'; }

# measure LABEL OUTFILE CMD...: runs CMD $runs times; sets m_status (ok | "FAILED (...)" |
# TIMEOUT), m_time (median CPU s = user + sys), m_wall (median wall s), m_rss (largest peak
# RSS, KB); OUTFILE = stdout of run 1.
median() { sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
measure() {
  local label=$1 outfile=$2; shift 2
  local i code cpus=() walls=() rss=() u s e k c
  m_status=ok m_time="" m_wall="" m_rss=""
  for ((i = 1; i <= runs; i++)); do
    rm -f "$tmp/time"
    set +e
    timeout -k 10 "$timeout_s" /usr/bin/time -o "$tmp/time" -f '%U %S %e %M' "$@" \
      >"$tmp/stdout" 2>"$tmp/stderr"
    code=$?
    set -e
    if { [ $code -eq 124 ] || [ $code -eq 137 ]; } && ! grep -q '^[0-9.]* [0-9.]* [0-9.]* [0-9]*$' "$tmp/time" 2>/dev/null; then
      m_status="TIMEOUT (> ${timeout_s} s)"
      progress "$label run $i/$runs: timed out after $timeout_s s"
      return 0
    fi
    if [ $code -ne 0 ]; then
      m_status="FAILED (exit $code)"
      [ $code -gt 128 ] && m_status="FAILED (signal $((code - 128)))"
      grep -q 'signal' "$tmp/time" 2>/dev/null &&
        m_status="FAILED (signal $(grep -o 'signal [0-9]*' "$tmp/time" | head -n 1 | cut -d' ' -f2))"
      progress "$label run $i/$runs: $m_status; its first lines of output:"
      head -n 20 "$tmp/stderr" | sed 's/^/    /' >&2
      head -n 5 "$tmp/stdout" | sed 's/^/    /' >&2
      return 0
    fi
    read -r u s e k < <(tail -n 1 "$tmp/time")
    c=$(awk -v u="$u" -v s="$s" 'BEGIN { printf "%.2f", u + s }')
    cpus+=("$c") walls+=("$e") rss+=("$k")
    [ "$i" -gt 1 ] || cp "$tmp/stdout" "$outfile"
    if [ "$i" -gt 1 ] && ! cmp -s "$tmp/stdout" "$outfile"; then
      progress "$label run $i/$runs: output differs from run 1"
      m_status="FAILED (nondeterministic output)"
    fi
    progress "$label run $i/$runs: $c s CPU (user $u + sys $s), $e s wall, $(awk -v k="$k" 'BEGIN { printf "%.1f", k / 1024 }') MB"
  done
  m_time=$(printf '%s\n' "${cpus[@]}" | median)
  m_wall=$(printf '%s\n' "${walls[@]}" | median)
  m_rss=$(printf '%s\n' "${rss[@]}" | sort -g | tail -n 1)
}

echo "run_bench: bloom = $([ $baseline_only -eq 1 ] && echo '(not run: --baseline-only)' || echo "$bloom")" >&2
echo "run_bench: $(nproc) cores, $(uname -sr), $(date -u '+%Y-%m-%d %H:%M UTC'), median of $runs, timeout $timeout_s s" >&2

mb() {  # KB -> MB with one decimal, "-" when empty
  if [ -n "$1" ]; then awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; else echo "-"; fi
}

rows=()   # one formatted table row per workload
notes=()
for w in "${selected[@]}"; do
  prog="$shared/${w_prog[$w]}.bloom"
  dir="$facts/${w_facts[$w]}"
  expect="$tmp/$w.expected"
  tr ',' '\n' <<<"${w_expect[$w]}" | tr '=' '\t' >"$expect"

  b_status="not run" b_time="" b_wall="" b_rss=""
  if [ $baseline_only -eq 0 ]; then
    progress "$w: bloom run ${w_prog[$w]}.bloom -F bench/facts/${w_facts[$w]} --sizes --quiet"
    measure "$w: bloom" "$tmp/$w.bloom.out" "$bloom" run "$prog" -F "$dir" --sizes --quiet
    b_status=$m_status b_time=$m_time b_wall=$m_wall b_rss=$m_rss
  fi
  progress "$w: baseline ${w_prog[$w]} bench/facts/${w_facts[$w]}"
  measure "$w: baseline" "$tmp/$w.base.out" "$baseline" "${w_prog[$w]}" "$dir"
  c_status=$m_status c_time=$m_time c_wall=$m_wall c_rss=$m_rss

  # The baseline against the shared README's figures.
  if [ "$c_status" = ok ] && ! diff -q <(normalise "$tmp/$w.base.out") "$expect" >/dev/null; then
    notes+=("$w: the baseline's sizes differ from the expected ones (README): $(normalise "$tmp/$w.base.out" | tr '\t\n' '= ') vs $(tr '\t\n' '= ' <"$expect")")
    c_status="WRONG SIZES"
  fi

  # bloom against the baseline (or, if the baseline failed, against the expected sizes).
  verdict=""
  if [ $baseline_only -eq 1 ]; then
    verdict="-"
  elif [ "$b_status" != ok ]; then
    verdict=$b_status
  else
    ref="$tmp/$w.base.out"
    [ "$c_status" = ok ] || ref=$expect
    if ! diff -q <(normalise "$tmp/$w.bloom.out") <(normalise "$ref") >/dev/null; then
      verdict=MISMATCH
      notes+=("$w: MISMATCH: bloom printed [$(normalise "$tmp/$w.bloom.out" | head -n 10 | tr '\t\n' '= ')] expected [$(normalise "$ref" | tr '\t\n' '= ')]")
    else
      verdict=$(awk -v t="$b_time" -v k="$b_rss" -v ts="${w_tsec[$w]}" -v tm="${w_tmb[$w]}" 'BEGIN {
        slow = !(t < ts); big = (tm != "-" && !(k / 1024 < tm));
        if (!slow && !big) print "PASS";
        else if (slow && big) print "FAIL (time, memory)";
        else if (slow) print "FAIL (time)";
        else print "FAIL (memory)";
      }')
    fi
  fi

  bs=${b_time:--} bw=${b_wall:--}; [ "$b_status" = ok ] || bs="-" bw="-"  # the verdict says why
  cs=${c_time:--} cw=${c_wall:--}; [ "$c_status" = ok ] || cs=$c_status cw="-"
  ratio=$(awk -v b="$b_time" -v c="$c_time" 'BEGIN {
    if (b != "" && c != "" && c > 0) printf "%.2f", b / c; else print "-" }')
  [ "$b_status" = ok ] && [ "$c_status" = ok ] || ratio="-"
  tsec="< ${w_tsec[$w]}"
  tmb="-"; [ "${w_tmb[$w]}" = "-" ] || tmb="< ${w_tmb[$w]}"
  rows+=("| $w | $bs | $bw | $(mb "$b_rss") | $cs | $cw | $(mb "$c_rss") | $ratio | $tsec | $tmb | $verdict |")
done

echo
echo "bloom run vs hand-written baseline, single thread, $(nproc) cores, median of $runs run(s): CPU s (user + sys), wall s; largest peak RSS (MB)"
echo
echo "| workload | bloom CPU s | bloom wall s | bloom MB | baseline CPU s | baseline wall s | baseline MB | bloom/baseline (CPU) | target s | target MB | verdict |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
if [ ${#notes[@]} -gt 0 ]; then
  echo
  printf '%s\n' "${notes[@]}"
fi
exit 0
