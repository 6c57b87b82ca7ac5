#!/usr/bin/env bash
# The tiered JIT (docs/jit.md, "Tiering"): segments are interpreted until they have seen 4096
# frames and done enough work (frames x operators a frame >= 1 M; the default), or until they
# have seen --jit-threshold frames when it is given, then queued for the background compile thread while the engine goes on interpreting, and the
# compiled code is picked up at a later batch boundary. bench/jit/expr.bloom (long chains of
# arithmetic in filters, assignments and heads, about 30 operators a frame) over ROWS rows
# (default 120000, 256 frames a batch) runs with --engine interp, with the default engine and
# threshold (4096), and with --jit-threshold 16: the same outputs, and in both JIT runs segments
# crossed the threshold mid-run, so the JIT module was loaded on its loader thread and the
# compile thread started while the engine ran (--jit-stats says "N segments compiled", not
# "nothing compiled"). Whether the compiled code is published before the run ends depends on the
# machine's speed (a fast interpreter can finish first): N is printed, not checked. In the
# ThreadSanitizer tree (tools/test.sh), where the interpreter is instrumented and LLVM is not, it
# usually is. (The loader thread starts when the first segment has done enough work, after about
# a quarter of the rows at the default threshold: it has the rest of the run to take its lock and
# load the module.)
# Usage: jit_tiered.sh BLOOM [ROWS]
set -u
bloom=${1:?usage: jit_tiered.sh BLOOM [ROWS]}
rows=${2:-120000}
root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
export BLOOM_JIT_CACHE=off  # compiled in this run, not loaded from an earlier one
unset BLOOM_ENGINE BLOOM_JIT_THRESHOLD
mkdir -p "$tmp/facts"
# x, and a pseudo-random y (a linear congruence: the same rows on every machine).
awk -v n="$rows" 'BEGIN { y = 7; for (i = 0; i < n; i++) { y = (y * 1103515245 + 12345) % 2147483648; print i "\t" (y % 1000001) } }' \
  >"$tmp/facts/nums.facts"
fail=0
run() {  # run NAME ARGS...: bloom run expr.bloom into $tmp/NAME, its stderr in $tmp/NAME.err
  local name=$1; shift
  "$bloom" run "$root/bench/jit/expr.bloom" -F "$tmp/facts" -D "$tmp/$name" --color never "$@" 2>"$tmp/$name.err" >/dev/null
  local code=$?
  [ $code -eq 0 ] || { echo "FAIL: $name: exit $code:"; cat "$tmp/$name.err"; fail=1; }
}
run interp --engine interp
run jit_default --jit-stats
run jit_16 --engine jit --jit-threshold 16 --jit-stats
[ -s "$tmp/interp/stats.csv" ] && [ -s "$tmp/interp/picked.csv" ] || { echo "FAIL: the interpreter wrote no outputs"; fail=1; }
for name in jit_default jit_16; do
  for f in stats.csv picked.csv; do
    diff <(sort "$tmp/interp/$f") <(sort "$tmp/$name/$f") >/dev/null || { echo "FAIL: $name: $f differs from the interpreter's"; fail=1; }
  done
  grep -qE 'jit: [0-9]+ segments? compiled' "$tmp/$name.err" || { echo "FAIL: $name: the JIT module was not loaded by the end:"; cat "$tmp/$name.err"; fail=1; }
  echo "$name: $(grep -oE 'jit: [0-9]+ segments? compiled' "$tmp/$name.err") before the end"
done
[ $fail -eq 0 ] && echo "ok: $rows rows, the same outputs interpreted and tiered"
exit $fail
