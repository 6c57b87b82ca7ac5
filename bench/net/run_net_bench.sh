#!/usr/bin/env bash
# Builds and runs the runtime/net benchmark (bench/net/net_bench.cpp) in its own Release tree
# (build-net-bench/, only the targets it needs). Arguments go to net_bench:
#   bench/net/run_net_bench.sh [--messages 20000] [--node-messages 5000] [--iters 20000] [--runs 3] [--only-node]
# Run on an otherwise idle machine: both sides and their ZeroMQ I/O threads share the cores.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${BLOOM_NET_BENCH_BUILD:-$root/build-net-bench}
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DBLOOM_BENCH=ON -DBLOOM_TESTS=OFF >/dev/null
cmake --build "$build" --target net_bench >/dev/null
exec "$build/bench/net/net_bench" "$@"
