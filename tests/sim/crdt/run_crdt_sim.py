#!/usr/bin/env python3
"""Simulation tests of the CRDT modules (stdlib/crdt): one ctest per module.

Usage: run_crdt_sim.py BLOOM MODULE

tests/sim/crdt/MODULE/ holds a deployment of three replicas (deploy.toml, node.bloom, their
operations in inputs/NODE/op.facts), an invariant (invariant.bloom: every replica ends with
the expected read, as a `final_violation`), expected/NODE/NAME.csv (the outputs every schedule
must end with) and expect.json (what `bloom lint node.bloom` must find). The case checks:
  * convergence under faults: `bloom sim --invariant` over RUNS seeds with drop=0.2,dup=0.2, and
    over RUNS seeds with a crash and a partition (the state is durable, so a restarted replica
    keeps it, and unacknowledged state is sent again until it arrives);
  * no divergence: `bloom sim --diverge` over 1,000 schedules when the lint calls node.bloom
    coordination-free, 300 otherwise (the scenarios are deterministic anyway), each ending
    with the outputs in expected/;
  * the lint: the unsuppressed findings (kind, operation, collection) and the exit status of
    expect.json, and the gossip's suppressed finding(s).
"""
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
# A fifth with BLOOM_TEST_QUICK (tools/test.sh sets it for the sanitizer build, ~15x slower).
QUICK = bool(os.environ.get("BLOOM_TEST_QUICK"))
RUNS = 20 if QUICK else 100


def run(bloom, args, cwd, expect=0):
    p = subprocess.run([bloom, *args], cwd=cwd, capture_output=True, text=True, timeout=600)
    if expect is not None and p.returncode != expect:
        raise SystemExit(f"FAIL bloom {' '.join(args)}: exit {p.returncode}, expected {expect}\n{p.stdout}\n{p.stderr}")
    return p


def csv_tree(root):
    got = {}
    for d, _, fs in os.walk(root):
        for f in fs:
            got[os.path.relpath(os.path.join(d, f), root)] = sorted(open(os.path.join(d, f)).read().splitlines())
    return got


def main():
    if len(sys.argv) != 3:
        print(f"usage: {sys.argv[0]} BLOOM MODULE", file=sys.stderr)
        return 2
    bloom, module = os.path.abspath(sys.argv[1]), sys.argv[2]
    d = os.path.join(HERE, module)
    expect = json.load(open(os.path.join(d, "expect.json")))
    diverge_runs = 1000 if expect["lint_exit"] == 0 else 300
    if QUICK:
        diverge_runs //= 5
    with tempfile.TemporaryDirectory(prefix="bloom-crdt-sim.") as tmp:
        trace = os.path.join(tmp, "trace.json")
        for faults in ("drop=0.2,dup=0.2", "crash=1,partition=1,rate=0.05"):
            p = run(bloom, ["sim", "deploy.toml", "--invariant", "invariant.bloom", "--faults", faults,
                            "--runs", str(RUNS), "--trace", trace], d)
            print(f"{module} {faults}: {p.stderr.strip().splitlines()[-1]}")
        out = os.path.join(tmp, "out")
        p = run(bloom, ["sim", "deploy.toml", "--diverge", "--runs", str(diverge_runs), "-D", out, "--trace", trace], d)
        print(f"{module} --diverge: {p.stderr.strip().splitlines()[-1]}")
        got, want = csv_tree(out), csv_tree(os.path.join(d, "expected"))
        if got != want:
            print(f"FAIL {module}: the outputs differ from expected/\n  got:      {got}\n  expected: {want}")
            return 1
    p = run(bloom, ["lint", "--format", "json", "node.bloom"], d, expect=expect["lint_exit"])
    report = json.loads(p.stdout)
    found = sorted([f["kind"], f["operation"], f["collection"]] for f in report["findings"] if not f["suppressed"])
    suppressed = sum(1 for f in report["findings"] if f["suppressed"])
    if found != sorted(expect["findings"]) or suppressed != expect["suppressed"]:
        print(f"FAIL {module}: bloom lint found {found} and {suppressed} suppressed, expected {expect['findings']} "
              f"and {expect['suppressed']}")
        return 1
    print(f"PASS {module}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
