#!/usr/bin/env python3
"""Simulation tests of the CRDT modules (stdlib/crdt): one ctest per module.

Usage: run_crdt_sim.py BLOOM MODULE
       run_crdt_sim.py BLOOM cart_synced_mutant

tests/sim/crdt/MODULE/ holds a deployment of three replicas (deploy.toml, node.bloom, their
operations in inputs/NODE/op.facts), an invariant (invariant.bloom: every replica ends with
the expected read, as a `final_violation`), expected/NODE/NAME.csv (the outputs every schedule
must end with) and expect.json (what `bloom lint node.bloom` must find). The case checks:
  * convergence under faults: `bloom sim --invariant` over RUNS seeds with drop=0.2,dup=0.2, and
    over RUNS seeds with a crash and a partition (the state is durable, so a restarted replica
    keeps it, and unacknowledged state is sent again until it arrives). Every run must end
    quiescent by itself (the resends are one-shot delays, stdlib/crdt/antientropy.bloom; a run
    that does not is exit 3), and the invariant also requires that it ended with every peer
    having acknowledged every replica's state (node.bloom's `waiting` empty);
  * that the invariant catches a broken anti-entropy: with a mutant antientropy.bloom whose
    resend is not re-armed (one resend, then nothing), the drop=0.2,dup=0.2 runs must find a
    violation (exit 5);
  * no divergence: `bloom sim --diverge` over 1,000 schedules when the lint calls node.bloom
    coordination-free, 300 otherwise (the scenarios are deterministic anyway), each ending
    with the outputs in expected/;
  * the lint: the unsuppressed findings (kind, operation, collection) and the exit status of
    expect.json, and the number of suppressed findings (the anti-entropy's).

`cart_synced_mutant`: examples/crdt_cart shows its cart once stdlib/crdt/synced.bloom says every
peer held exactly this device's cart. A mutant synced.bloom that only asks that every peer
acknowledged our rows (not that the peers hold no more) lets a device show a cart before it has
everything; the example's invariant must catch it under partitions and drops (exit 5).
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
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


def mutant(tmp, module):
    """A copy of stdlib/crdt whose antientropy.bloom resends once and is then never re-armed, and
    of the module's test directory at the same relative place. Returns the copied test directory."""
    root = os.path.join(tmp, "mutant")
    shutil.copytree(os.path.join(ROOT, "stdlib", "crdt"), os.path.join(root, "stdlib", "crdt"))
    d = os.path.join(root, "tests", "sim", "crdt", module)
    shutil.copytree(os.path.join(HERE, module), d)
    ae = os.path.join(root, "stdlib", "crdt", "antientropy.bloom")
    src = open(ae).read()
    rearm = "retry(p, least(w * 2, max_retry_ms)) <~ retry(p, w), pending(p);"
    if rearm not in src:
        raise SystemExit("FAIL: the mutant's rule is not in antientropy.bloom any more: update mutant()")
    open(ae, "w").write(src.replace(rearm, ""))
    return d


def cart_synced_mutant(bloom):
    with tempfile.TemporaryDirectory(prefix="bloom-crdt-cart.") as tmp:
        shutil.copytree(os.path.join(ROOT, "stdlib"), os.path.join(tmp, "stdlib"))
        d = os.path.join(tmp, "examples", "crdt_cart")
        shutil.copytree(os.path.join(ROOT, "examples", "crdt_cart"), d)
        path = os.path.join(tmp, "stdlib", "crdt", "synced.bloom")
        src = open(path).read()
        rule = "lag(p) <= peer(p), not same(p);\n"
        if rule not in src:
            raise SystemExit("FAIL: the mutant's rule is not in synced.bloom any more: update cart_synced_mutant()")
        open(path, "w").write(src.replace(rule, ""))
        trace = os.path.join(tmp, "trace.json")
        p = run(bloom, ["sim", "deploy.toml", "--invariant", "invariant.bloom", "--faults",
                        "partition=1,rate=0.2,drop=0.1", "--runs", "100", "--trace", trace, "--no-minimize"], d, expect=5)
        print("crdt_cart with synced.bloom not comparing sizes: caught,", " ".join(p.stderr.strip().splitlines()[:2]))
    print("PASS cart_synced_mutant")
    return 0


def main():
    if len(sys.argv) == 3 and sys.argv[2] == "cart_synced_mutant":
        return cart_synced_mutant(os.path.abspath(sys.argv[1]))
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
        md = mutant(tmp, module)
        p = run(bloom, ["sim", "deploy.toml", "--invariant", "invariant.bloom", "--faults", "drop=0.2,dup=0.2",
                        "--runs", str(RUNS), "--trace", trace, "--no-minimize"], md, expect=5)
        print(f"{module} mutant (resend not re-armed): caught, {p.stderr.strip().splitlines()[0]}")
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
