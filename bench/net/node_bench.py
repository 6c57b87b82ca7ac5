#!/usr/bin/env python3
"""Node-level benchmark of the distributed runtime (on demand, never in CI): two `bloom node`
processes started by `bloom run DEPLOYMENT.toml`, over tcp://127.0.0.1 with ports chosen free at
run time.

  bench/net/node_bench.py [BLOOM] [--runs 3] [--rounds 2000] [--side 1000]

1. round trip through the tick loop: node/pingpong.bloom bounces a ball `rounds` times (one
   message a tick) and reads now() when the ball reaches n = 20 and n = rounds; the round trip is
   2 * (t_end - t_20) / (rounds - 20), so process start, connecting and quiescence detection stay
   out of it (subtracting the wall times of a 20-round run, done before, swung by 0.1-0.2 s).
2. throughput: node/stream_tx.bloom sends side x side (int, int) tuples in one tick to
   node/stream_rx.bloom, which stores them; tuples/s = (side^2 - 100) / (T(side) - T(10)), beside
   node/stream_local.bloom deriving and storing the same tuples on one node (no network).
Wall times are medians of `runs`.
3. the raw ZeroMQ baselines of the same moment: runs bench/net/net_bench (built by
   run_net_bench.sh into build-net-bench/, or --net-bench PATH) once between the node measures,
   and prints the node figures against its raw REQ/REP round trip and raw PUSH/PULL throughput
   (targets: at most 2x the raw round trip, at least 40% of the raw throughput). Without
   net_bench the node figures are printed alone. On a shared VM the raw figures themselves move
   by 2-3x from hour to hour, so only ratios of the same run mean anything.
"""
import re
import os, statistics, subprocess, sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tools"))
from free_ports import free_ports  # noqa: E402


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def timed(cmd):
    t = time.monotonic()
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    dt = time.monotonic() - t
    if p.returncode != 0:
        sys.exit("failed (%d): %s\n%s%s" % (p.returncode, " ".join(cmd), p.stdout[-2000:], p.stderr[-2000:]))
    return dt, p


def median_time(cmd, runs):
    return statistics.median(timed(cmd)[0] for _ in range(runs))


def main():
    args = sys.argv[1:]
    bloom = os.path.join(ROOT, "build", "tools", "bloom", "bloom")
    if args and not args[0].startswith("--"):
        bloom = args.pop(0)
    opts = {"--runs": 3, "--rounds": 2000, "--side": 1000}
    net_bench = os.path.join(ROOT, "build-net-bench", "bench", "net", "net_bench")
    while args:
        k = args.pop(0)
        if k == "--net-bench" and args:
            net_bench = args.pop(0)
            continue
        if k not in opts or not args:
            sys.exit(__doc__)
        opts[k] = int(args.pop(0))
    runs, rounds, side = opts["--runs"], opts["--rounds"], opts["--side"]
    node = os.path.join(HERE, "node")
    tmp = tempfile.mkdtemp(prefix="bloom-node-bench-")

    def pingpong(r):
        pa, pb = free_ports(2)
        os.makedirs(os.path.join(tmp, "start"), exist_ok=True)
        write(os.path.join(tmp, "start", "start.facts"), "0\n")
        d = os.path.join(tmp, "pp%d.toml" % r)
        write(d, """[node.a]
program = "%s/pingpong.bloom"
endpoint = "tcp://127.0.0.1:%d"
params = { peer = "b", rounds = %d }
facts = "start"

[node.b]
program = "%s/pingpong.bloom"
endpoint = "tcp://127.0.0.1:%d"
params = { peer = "a", rounds = %d }
""" % (node, pa, r, node, pb, r))
        return [bloom, "run", d, "-q", "-D", os.path.join(tmp, "out")]

    def facts(n):
        dd = os.path.join(tmp, "d%d" % n)
        os.makedirs(dd, exist_ok=True)
        write(os.path.join(dd, "d.facts"), "".join("%d\n" % i for i in range(n)))
        return dd

    def stream(n):
        pt, pr = free_ports(2)
        d = os.path.join(tmp, "st%d.toml" % n)
        write(d, """[node.tx]
program = "%s/stream_tx.bloom"
endpoint = "tcp://127.0.0.1:%d"
params = { peer = "rx" }
facts = "%s"

[node.rx]
program = "%s/stream_rx.bloom"
endpoint = "tcp://127.0.0.1:%d"
""" % (node, pt, facts(n), node, pr))
        return [bloom, "run", d, "-q", "-D", os.path.join(tmp, "out")]

    def local(n):
        return [bloom, "run", os.path.join(node, "stream_local.bloom"), "-F", facts(n), "-D", os.path.join(tmp, "out_local")]

    def reading(name):  # the one value of an output, on whichever node derived it
        vals = [open(os.path.join(tmp, "out", n, name + ".csv")).read().split() for n in ("a", "b")]
        vals = [v for v in vals if v]
        if len(vals) != 1 or len(vals[0]) != 1:
            sys.exit("pingpong: expected one row of %s, got %r" % (name, vals))
        return int(vals[0][0])

    print("bloom: %s; %d runs each (median)" % (bloom, runs))
    if rounds <= 20:
        sys.exit("--rounds must be more than 20")
    rtts = []
    for _ in range(runs):
        timed(pingpong(rounds))
        rtts.append(2 * (reading("end_ms") - reading("warm_ms")) * 1e-3 / (rounds - 20))
    rtt = statistics.median(rtts)
    print("round trip through the tick loop: %.1f us (runs: %s; %d rounds, now() readings at n = 20 and %d)"
          % (rtt * 1e6, ", ".join("%.0f" % (r * 1e6) for r in rtts), rounds, rounds))
    print("  (last ball: %d)" % reading("last"))

    t_small, t_big = median_time(stream(10), runs), median_time(stream(side), runs)
    got = open(os.path.join(tmp, "out", "rx", "total.csv")).read().strip()
    tput = (side * side - 100) / (t_big - t_small)
    l_small, l_big = median_time(local(10), runs), median_time(local(side), runs)
    ltput = (side * side - 100) / (l_big - l_small)
    print("throughput, %d tuples in one tick tx -> rx: T(10x10) %.3f s, T(%dx%d) %.3f s -> %.2f M tuples/s (rx total %s)"
          % (side * side, t_small, side, side, t_big, tput / 1e6, got))
    print("  same tuples on one node, no network: T %.3f s vs %.3f s -> %.2f M tuples/s" % (l_small, l_big, ltput / 1e6))

    if not os.access(net_bench, os.X_OK):
        print("raw ZeroMQ baselines: %s not built (bench/net/run_net_bench.sh builds it); no ratios" % net_bench)
        return
    _, p = timed([net_bench, "--runs", str(runs), "--messages", "5000", "--iters", "5000"])
    raw_tput = re.search(r"median: raw ([0-9.]+) M tuples/s", p.stdout)
    raw_rtt = re.search(r"median: raw ([0-9.]+) us", p.stdout)
    if not raw_tput or not raw_rtt:
        sys.exit("net_bench printed no medians:\n" + p.stdout)
    raw_tput, raw_rtt = float(raw_tput.group(1)) * 1e6, float(raw_rtt.group(1)) * 1e-6
    between = re.search(r"median: raw between processes ([0-9.]+) us", p.stdout)
    print("raw ZeroMQ in the same run (net_bench, median of %d): REQ/REP round trip %.1f us (%s between two processes), "
          "PUSH/PULL %.2f M tuples/s" % (runs, raw_rtt * 1e6, between.group(1) + " us" if between else "not measured", raw_tput / 1e6))
    r = rtt / raw_rtt
    print("  node round trip / raw round trip: %.2fx (target <= 2x): %s" % (r, "PASS" if r <= 2 else "FAIL"))
    t = tput / raw_tput
    print("  node throughput / raw throughput: %.1f%% (target >= 40%%): %s" % (100 * t, "PASS" if t >= 0.4 else "FAIL"))


if __name__ == "__main__":
    main()
