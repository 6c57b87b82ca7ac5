#!/usr/bin/env python3
"""Node-level benchmark of the distributed runtime (on demand, never in CI): two `bloom node`
processes started by `bloom run DEPLOYMENT.toml`, over tcp://127.0.0.1 with ports chosen free at
run time.

  bench/net/node_bench.py [BLOOM] [--runs 3] [--rounds 2000] [--side 1000]

1. round trip through the tick loop: node/pingpong.bloom bounces a ball `rounds` times (one
   message a tick); the round trip is 2 * (T(rounds) - T(20)) / (rounds - 20), so process start,
   compilation and quiescence detection cancel out.
2. throughput: node/stream_tx.bloom sends side x side (int, int) tuples in one tick to
   node/stream_rx.bloom, which stores them; tuples/s = (side^2 - 100) / (T(side) - T(10)), beside
   node/stream_local.bloom deriving and storing the same tuples on one node (no network).
Wall times are medians of `runs`.
"""
import os, socket, statistics, subprocess, sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def free_ports(n):
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


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
    while args:
        k = args.pop(0)
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

    print("bloom: %s; %d runs each (median wall time)" % (bloom, runs))
    t_small, t_big = median_time(pingpong(20), runs), median_time(pingpong(rounds), runs)
    rtt = 2 * (t_big - t_small) / (rounds - 20)
    print("round trip through the tick loop: T(20 rounds) %.3f s, T(%d rounds) %.3f s -> %.1f us a round trip"
          % (t_small, rounds, t_big, rtt * 1e6))
    total = open(os.path.join(tmp, "out", "a", "last.csv")).read().strip() or open(os.path.join(tmp, "out", "b", "last.csv")).read().strip()
    print("  (last ball: %s)" % total)

    t_small, t_big = median_time(stream(10), runs), median_time(stream(side), runs)
    got = open(os.path.join(tmp, "out", "rx", "total.csv")).read().strip()
    tput = (side * side - 100) / (t_big - t_small)
    l_small, l_big = median_time(local(10), runs), median_time(local(side), runs)
    ltput = (side * side - 100) / (l_big - l_small)
    print("throughput, %d tuples in one tick tx -> rx: T(10x10) %.3f s, T(%dx%d) %.3f s -> %.2f M tuples/s (rx total %s)"
          % (side * side, t_small, side, side, t_big, tput / 1e6, got))
    print("  same tuples on one node, no network: T %.3f s vs %.3f s -> %.2f M tuples/s" % (l_small, l_big, ltput / 1e6))


if __name__ == "__main__":
    main()
