#!/usr/bin/env bash
# First message on a fresh link (issue 15, point 8): two `bloom node` processes started by
# `bloom run DEPLOY.toml`; node a sends one message in its tick 0 stamped with now(), node b
# notes now() in its own tick 0 (when it is up) and when the message arrives. The latency is the
# arrival less the later of the two (milliseconds; both read the same machine clock): the time
# the message took once both nodes were up.
# Usage: bench/net/first_message.sh [BLOOM_BINARY] [--runs N]   (default build/tools/bloom/bloom, 20)
# Prints every latency, the median and the maximum; the target is at most 2 ms (the issue saw
# 185-210 ms in 13 of 20 runs: ZeroMQ connected on the first send and retried a peer that was
# not listening yet only after 100 ms). Ports are chosen free at run time. On demand, never in CI.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$here/../..
bloom=$root/build/tools/bloom/bloom
runs=20
while [ $# -gt 0 ]; do
  case $1 in
    --runs) runs=$2; shift 2 ;;
    *) bloom=$1; shift ;;
  esac
done
[ -x "$bloom" ] || { echo "no bloom binary at $bloom" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat >"$work/a.bloom" <<'EOF'
channel ping(@dst: addr, sent: int);
ping(@"b", now()) <~ tick() == 0;
EOF
cat >"$work/b.bloom" <<'EOF'
channel ping(@dst: addr, sent: int);
table up(at: int);
output lat(ms: int);
up(t) <= tick() == 0, t = now();
lat(d) <= ping(_, sent), up(u), d = now() - greatest(sent, u);
EOF
read -r pa pb < <(cd "$root/tools" && python3 -c 'from free_ports import free_ports; print(*free_ports(2))')
cat >"$work/d.toml" <<EOF
[node.a]
program = "a.bloom"
endpoint = "tcp://127.0.0.1:$pa"

[node.b]
program = "b.bloom"
endpoint = "tcp://127.0.0.1:$pb"
EOF
lat=()
for ((i = 0; i < runs; i++)); do
  rm -rf "$work/out"
  "$bloom" run "$work/d.toml" -D "$work/out" -q
  lat+=("$(cat "$work/out/b/lat.csv")")
done
echo "first-message latency, ms: ${lat[*]}"
printf '%s\n' "${lat[@]}" | sort -n | awk -v n="$runs" '{a[NR]=$1} END {
  med = a[int((n + 1) / 2)]; printf "median %d ms, max %d ms: %s (target: at most 2 ms)\n", med, a[n], med <= 2 ? "PASS" : "FAIL" }'
