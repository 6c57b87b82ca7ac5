#!/usr/bin/env bash
# Benchmarks of `bloom sim` (docs/sim.md), on demand only, never in CI. Build bloom first (a
# release-type build: cmake -S . -B build -G Ninja && cmake --build build --target bloom).
#
# 1. kvs: examples/kvs under 3,000 seeds (every run starts the five nodes afresh, as a search
#    over schedules does), in messages delivered per second of the whole command. Baseline of
#    the same run: the same deployment under the real runtime, `bloom run --in-process` (threads
#    over ZeroMQ inproc://), 10 times. Target: at least 200,000 messages per second.
# 2. gossip: a G-Counter gossiped by 1,000 nodes in one process (gen_gossip.py, gossip.bloom),
#    to quiescence, every node's total checked. Baseline of the same run: 100 nodes. Target:
#    under 60 s for the whole command (compiling the 1,000 node programs included).
#
# Usage: bench/sim/run_sim_bench.sh [BLOOM]   (default build/tools/bloom/bloom)
# Exit status: 1 if a run fails or gives a wrong result; missing a target is reported, not fatal.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bloom=$(realpath "${1:-$root/build/tools/bloom/bloom}")
[ -x "$bloom" ] || { echo "run_sim_bench: no bloom binary at $bloom" >&2; exit 2; }
work=$(mktemp -d "${TMPDIR:-/tmp}/bloom-sim-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
now() { date +%s.%N; }

echo "== kvs: 3000 seeded runs"
t0=$(now)
line=$("$bloom" sim "$root/examples/kvs/deploy.toml" --runs 3000 2>&1 >/dev/null | tail -n 1)
t1=$(now)
echo "  $line"
delivered=$(sed -E 's/.* ([0-9]+) messages delivered.*/\1/' <<<"$line")
sim_rate=$(python3 -c "print(f'{$delivered / ($t1 - $t0):.0f}')")
per_run=$(python3 -c "print($delivered / 3000)")
t0=$(now)
for _ in $(seq 10); do "$bloom" run "$root/examples/kvs/deploy.toml" --in-process -q -D "$work/kvs" >/dev/null; done
t1=$(now)
real_rate=$(python3 -c "print(f'{$per_run * 10 / ($t1 - $t0):.0f}')")
python3 - "$sim_rate" "$real_rate" <<'PY'
import sys
sim, real = float(sys.argv[1]), float(sys.argv[2])
print(f"  bloom sim: {sim:,.0f} messages/s; bloom run --in-process (baseline, same machine, now): {real:,.0f} messages/s; ratio {sim / real:.1f}x")
print(f"  target >= 200,000 messages/s: {'PASS' if sim >= 200000 else 'FAIL'}")
PY

gossip() {  # N: generate, simulate to quiescence, check every total; prints the seconds taken
  local n=$1 dir=$work/gossip$1
  python3 "$here/gen_gossip.py" "$n" "$dir"
  local t0 t1
  t0=$(now)
  "$bloom" sim "$dir/deploy.toml" -D "$dir/out" >"$dir/log" 2>&1 || { cat "$dir/log" >&2; exit 1; }
  t1=$(now)
  local want
  want=$(sed -nE '1s/.*Expected total: ([0-9]+).*/\1/p' "$dir/deploy.toml")
  local wrong
  wrong=$(for f in "$dir"/out/*/total.csv; do [ "$(cat "$f")" = "$want" ] || echo "$f"; done | wc -l)
  [ "$wrong" -eq 0 ] || { echo "gossip $n: $wrong nodes have a wrong or no total (expected $want)" >&2; exit 1; }
  echo "  $n nodes: $(tail -n 1 "$dir/log" | sed 's/^bloom: //')" >&2
  python3 -c "print(f'{$t1 - $t0:.2f}')"
}
echo "== gossip: G-Counter to quiescence"
small=$(gossip 100)
big=$(gossip 1000)
python3 - "$small" "$big" <<'PY'
import sys
small, big = float(sys.argv[1]), float(sys.argv[2])
print(f"  100 nodes (baseline): {small:.2f} s; 1000 nodes: {big:.2f} s; ratio {big / small:.1f}x for 10x the nodes")
print(f"  target 1000 nodes < 60 s: {'PASS' if big < 60 else 'FAIL'}")
PY
