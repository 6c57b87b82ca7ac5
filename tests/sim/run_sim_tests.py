#!/usr/bin/env python3
"""End-to-end tests of `bloom sim` (docs/sim.md): one ctest per case.

Usage: run_sim_tests.py BLOOM CASE

Each case runs the real `bloom` binary in a fresh temporary directory and checks its exit
status, what it prints and the files it writes.
"""
import filecmp
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLES = os.path.join(ROOT, "examples")
SIM = os.path.join(ROOT, "tests", "sim")
BLOOM = ""


class Failure(Exception):
    pass


def run(*args, expect=0, cwd=None):
    p = subprocess.run([BLOOM, *args], capture_output=True, text=True, cwd=cwd, timeout=600)
    if expect is not None and p.returncode != expect:
        raise Failure(f"bloom {' '.join(args)}: exit {p.returncode}, expected {expect}\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}")
    return p


def check(cond, what):
    if not cond:
        raise Failure(what)


def dist_examples():
    return sorted(d for d in os.listdir(EXAMPLES) if os.path.isfile(os.path.join(EXAMPLES, d, "deploy.toml")))


def same_csv_tree(out, expected):
    """Every expected NODE/NAME.csv equals the written one (rows sorted), and nothing else was written."""
    problems = []
    want = {os.path.relpath(os.path.join(d, f), expected) for d, _, fs in os.walk(expected) for f in fs}
    got = {os.path.relpath(os.path.join(d, f), out) for d, _, fs in os.walk(out) for f in fs}
    for rel in sorted(want | got):
        if rel not in got:
            problems.append(f"{rel}: not written")
        elif rel not in want:
            problems.append(f"{rel}: written but not expected")
        else:
            a = sorted(open(os.path.join(out, rel)).read().splitlines())
            b = sorted(open(os.path.join(expected, rel)).read().splitlines())
            if a != b:
                problems.append(f"{rel}: differs\n  got:      {a}\n  expected: {b}")
    return problems


# ------------------------------------------------------------------------------------- cases

def case_examples(tmp):
    """Every distributed example, 100 seeds (5 with BLOOM_TEST_QUICK): the same outputs in every
    run, and the expected ones."""
    for ex in dist_examples():
        out = os.path.join(tmp, ex)
        run("sim", os.path.join(EXAMPLES, ex, "deploy.toml"), "--runs", runs(100), "--diverge", "-D", out, "-q")
        problems = same_csv_tree(out, os.path.join(EXAMPLES, ex, "expected"))
        check(not problems, f"{ex}: " + "\n".join(problems))


def programs_of(deploy):
    return sorted(set(re.findall(r'program\s*=\s*"([^"]+)"', open(deploy).read())))


def case_coordination_free(tmp):
    """Every example that `bloom lint` calls coordination-free never diverges: 1,000 schedules."""
    free = []
    for ex in dist_examples():
        deploy = os.path.join(EXAMPLES, ex, "deploy.toml")
        codes = [run("lint", os.path.join(EXAMPLES, ex, p), expect=None).returncode for p in programs_of(deploy)]
        check(all(c in (0, 4) for c in codes), f"{ex}: bloom lint failed: {codes}")
        if all(c == 0 for c in codes):
            free.append(ex)
            run("sim", deploy, "--diverge", "--runs", "1000", "-q")
    check(free, "no distributed example is coordination-free: this test checks nothing")
    print("coordination-free examples checked over 1000 seeds:", ", ".join(free))


def case_divergence(tmp):
    """A D-labelled program whose outputs depend on message order: --diverge finds it."""
    server = os.path.join(SIM, "race", "server.bloom")
    lint = run("lint", server, "--format", "json", expect=4)
    labels = json.loads(lint.stdout)
    check("winner" in json.dumps(labels), "the lint report does not mention `winner`")
    trace = os.path.join(tmp, "race.json")
    p = run("sim", os.path.join(SIM, "race", "deploy.toml"), "--diverge", "--runs", "200", "--trace", trace, expect=5)
    check("diverge between seeds" in p.stderr, p.stderr)
    check('winner("alpha")' in p.stderr and 'winner("beta")' in p.stderr, p.stderr)
    ref = os.path.join(tmp, "race.ref.json")
    winners = set()
    for t in (trace, ref):
        check(os.path.isfile(t), f"{t} not written")
        r = run("sim", "--replay", t)
        winners.add(r.stdout)
    check(len(winners) == 2, f"the two traces replay to the same outputs: {winners}")
    # A one-time query joined with a table another node fills: whether the answer has the price
    # depends on which message comes first. The lint calls it a race, and the simulator agrees.
    lint = run("lint", os.path.join(SIM, "late_join", "store.bloom"), "--format", "json", expect=4)
    check(any(f["kind"] == "race" for f in json.loads(lint.stdout)["findings"]), lint.stdout)
    p = run("sim", os.path.join(SIM, "late_join", "deploy.toml"), "--diverge", "--runs", "200", "--trace",
            os.path.join(tmp, "late.json"), expect=5)
    check('answer("apple", 30)' in p.stderr, p.stderr)


def case_planted_2pc(tmp):
    """2PC that commits on the first yes vote: found within 200 runs, shrunk, replayed."""
    d = os.path.join(SIM, "planted_2pc")
    trace = os.path.join(tmp, "2pc.json")
    p = run("sim", os.path.join(d, "deploy.toml"), "--invariant", os.path.join(d, "invariant.bloom"), "--runs", "200",
            "--trace", trace, expect=5)
    check("although p3 voted no" in p.stderr, p.stderr)
    m = re.search(r"minimized the schedule from (\d+) to (\d+) decisions", p.stderr)
    check(m, p.stderr)
    before, after = int(m.group(1)), int(m.group(2))
    check(after <= before and after <= 10, f"not a handful of decisions: {before} -> {after}")
    t = json.load(open(trace))
    check(t["end"] == "violation" and t["violations"], t["end"])
    r = run("sim", "--replay", trace, expect=5)
    check("although p3 voted no" in r.stderr, r.stderr)
    # Why did p3 commit transaction 2? Back through the messages to the single yes vote.
    r = run("sim", "--replay", trace, "--explain", "p3.committed(2)")
    for part in ["p3: committed(2)  derived in tick", "arrived in tick", "coordinator: decide(2, true)  derived in tick",
                 "by `decide(x, true) <= vote(_, _, x, true)", "a fact of the program"]:
        check(part in r.stdout, f"{part!r} not in the explanation:\n{r.stdout}")
    r = run("sim", "--replay", trace, "--explain", "p3.committed(7)", expect=2)
    check("never held" in r.stderr, r.stderr)
    # The correct coordinator passes the same invariant on the same 200 seeds.
    run("sim", os.path.join(EXAMPLES, "two_phase_commit", "deploy.toml"), "--invariant", os.path.join(d, "invariant.bloom"),
        "--runs", "200", "-q")


def case_reliable(tmp):
    """stdlib/reliable.bloom delivers everything under drop=0.3,dup=0.3; a crash loses state."""
    d = os.path.join(SIM, "reliable")
    deploy, inv = os.path.join(d, "deploy.toml"), os.path.join(d, "invariant.bloom")
    p = run("sim", deploy, "--invariant", inv, "--faults", "drop=0.3,dup=0.3", "--runs", "100")
    check("no violation" in p.stderr, p.stderr)
    # The invariant can fail: a receiver that crashes forgets what it delivered (no durable state).
    p = run("sim", deploy, "--invariant", inv, "--faults", "crash=1,rate=0.2", "--runs", "100", "--trace",
            os.path.join(tmp, "crash.json"), expect=5)
    check("never arrived" in p.stderr, p.stderr)


def case_failure_detector(tmp):
    """stdlib/failure_detector.bloom: a halted node comes to be suspected, under drops and
    duplicates too; the watcher never gives up (tests/sim/failure_detector/invariant.bloom)."""
    d = os.path.join(SIM, "failure_detector")
    deploy, inv = os.path.join(d, "deploy.toml"), os.path.join(d, "invariant.bloom")
    p = run("sim", deploy, "--invariant", inv, "--runs", runs(50))
    check("no violation" in p.stderr, p.stderr)
    p = run("sim", deploy, "--invariant", inv, "--faults", "drop=0.3,dup=0.3", "--runs", runs(100))
    check("no violation" in p.stderr, p.stderr)


def case_leader(tmp):
    """stdlib/leader.bloom: with the least-ranked member stopped, the two others agree on the
    next one, under drops and duplicates, and under a crash and a partition
    (tests/sim/leader/invariant.bloom)."""
    d = os.path.join(SIM, "leader")
    deploy, inv = os.path.join(d, "deploy.toml"), os.path.join(d, "invariant.bloom")
    for faults in ("drop=0.3,dup=0.3", "crash=1,partition=1,rate=0.05"):
        p = run("sim", deploy, "--invariant", inv, "--faults", faults, "--runs", runs(100))
        check("no violation" in p.stderr, p.stderr)


def case_twopc(tmp):
    """stdlib/twopc.bloom keeps atomicity and leaves nobody in doubt under drops and duplicates,
    a partition, and a crash (its tables are durable); a coordinator that commits on all but one
    yes vote is caught (tests/sim/twopc/invariant.bloom)."""
    d = os.path.join(SIM, "twopc")
    deploy, inv = os.path.join(d, "deploy.toml"), os.path.join(d, "invariant.bloom")
    for faults in ("drop=0.3,dup=0.3", "partition=1,rate=0.05", "crash=1,rate=0.05"):
        p = run("sim", deploy, "--invariant", inv, "--faults", faults, "--runs", runs(100))
        check("no violation" in p.stderr, p.stderr)
    if QUICK:
        return  # planted bugs test the module's Bloom, not the C++ the sanitizers watch: the release tree runs them
    bad = mutant(tmp, "twopc", "twopc.bloom", "s.size() >= n;", "s.size() >= n - 1;")
    p = run("sim", bad, "--invariant", inv, "--runs", "5", "--trace",
            os.path.join(tmp, "bad.json"), expect=5)
    check("voted no" in p.stderr, p.stderr)


QUICK = bool(os.environ.get("BLOOM_TEST_QUICK"))


def runs(n):
    """The number of schedules for a property check: n, or a twentieth of it (at least 3) with
    BLOOM_TEST_QUICK set (tools/test.sh sets it for the sanitizer build, where a run is about 15
    times slower and what is checked is the C++ under the sanitizers: the release build runs every
    schedule)."""
    return str(max(3, n // 20) if QUICK else n)


def mutant(tmp, case, module, old, new):
    """A copy of tests/sim/CASE whose programs import a copy of stdlib/ in which MODULE has `old`
    replaced by `new`; returns the copy's deploy.toml."""
    d = os.path.join(tmp, case)
    shutil.copytree(os.path.join(SIM, case), d)
    if not os.path.isdir(os.path.join(tmp, "stdlib")):
        shutil.copytree(os.path.join(ROOT, "stdlib"), os.path.join(tmp, "stdlib"))
    with open(os.path.join(ROOT, "stdlib", module)) as f:
        text = f.read()
    check(old in text, "the mutated text is in stdlib/" + module)
    with open(os.path.join(tmp, "stdlib", module), "w") as f:
        f.write(text.replace(old, new))
    for name in os.listdir(d):
        if name.endswith(".bloom"):
            path = os.path.join(d, name)
            with open(path) as f:
                text = f.read()
            with open(path, "w") as f:
                f.write(text.replace("../../../stdlib/", "../stdlib/"))
    return os.path.join(d, "deploy.toml")


def case_paxos(tmp):
    """stdlib/paxos.bloom: two members propose different values at once; agreement, validity and
    every member learning the outcome hold without faults, under drops and duplicates, a
    partition, and crashes (tests/sim/paxos/invariant.bloom). A proposer that ignores the values
    already accepted is caught."""
    d = os.path.join(SIM, "paxos")
    deploy, inv = os.path.join(d, "deploy.toml"), os.path.join(d, "invariant.bloom")
    p = run("sim", deploy, "--invariant", inv, "--runs", runs(200))
    check("no violation" in p.stderr, p.stderr)
    for faults in ("drop=0.3,dup=0.3", "partition=1,rate=0.05", "crash=2,drop=0.2,rate=0.05"):
        p = run("sim", deploy, "--invariant", inv, "--faults", faults, "--runs", runs(200))
        check("no violation" in p.stderr, p.stderr)
    if QUICK:
        return  # planted bugs test the module's Bloom, not the C++ the sanitizers watch: the release tree runs them
    bad = mutant(tmp, "paxos", "paxos.bloom", "proposal(b, v) <= prior(b, v), not proposed(b);",
                 "proposal(b, v) <= prior(b, v), not proposed(b), false;")
    with open(os.path.join(tmp, "stdlib", "paxos.bloom")) as f:
        text = f.read()
    with open(os.path.join(tmp, "stdlib", "paxos.bloom"), "w") as f:
        f.write(text.replace("own(v), not reports(b, _, _), not proposed(b);", "own(v), not proposed(b);"))
    p = run("sim", bad, "--invariant", inv, "--faults", "drop=0.3,dup=0.3", "--runs", "300", "--trace",
            os.path.join(tmp, "bad.json"), expect=5)
    check("but" in p.stderr and "learned" in p.stderr, p.stderr)


def case_replog(tmp):
    """stdlib/replog.bloom: three members submit ten commands while the leader hint moves from a
    to b; agreement, validity, and every member ending with every command in the same gap-free
    log hold without faults, under drops and duplicates, a partition, and crashes with restarts
    (tests/sim/replog/invariant.bloom). Planted bugs are caught: a new leader that fills the
    slots it has not learnt with no-ops, ignoring the values reported in phase 1 (agreement);
    one whose no-ops are a made-up command (validity); a member that forwards a command only
    once, never again after a loss (every command logged everywhere); one that tells the others
    a slot only once (every member has every slot); a leader that neither fills gaps nor starts
    a ballot for them (no gaps)."""
    d = os.path.join(SIM, "replog")
    deploy, inv = os.path.join(d, "deploy.toml"), os.path.join(d, "invariant.bloom")
    for faults in ("drop=0", "drop=0.3,dup=0.3", "partition=1,rate=0.05", "crash=2,drop=0.2,rate=0.05"):
        p = run("sim", deploy, "--invariant", inv, "--faults", faults, "--runs", runs(200))
        check("no violation" in p.stderr, p.stderr)
    if QUICK:
        return  # planted bugs test the module's Bloom, not the C++ the sanitizers watch: the release tree runs them
    # (what the bug is, [(text, replaced by)], faults, what the violation says)
    plants = [
        ("phase 2 fills reported slots with no-ops",
         [("fixed(b, s, argmax(vb, v)) <= active(b), reports(b, s, vb, v),",
           'fixed(b, s, "") <= active(b), reports(b, s, _, _),')], "drop=0.3,dup=0.3", "but"),
        ("no-ops are a made-up command",
         [('proposal(b, s, "") <= active(b)', 'proposal(b, s, "nop") <= active(b)')],
         "crash=2,drop=0.2,rate=0.05", "which nobody submitted"),
        ("a command is forwarded once",
         [('resend(c, retry_ms) <~ submit(c), c != "";', 'resend(c, retry_ms) <~ submit(c), c != "", false;')],
         "drop=0.3,dup=0.3", "never logged"),
        ("a slot is told once",
         [("tell(m, retry_ms) <~ committed(_, _), members(m, _), m != self();",
           "tell(m, retry_ms) <~ committed(_, _), members(m, _), m != self(), false;")],
         "drop=0.3,dup=0.3", "lacks slot"),
        ("gaps are neither filled nor retried",
         [("work() <= i_lead(), hole();", "work() <= i_lead(), hole(), false;"),
          ('proposal(b, s, "") <= active(b)', 'proposal(b, s, "") <= false, active(b)')],
         "drop=0.3,dup=0.3", "has a gap"),
    ]
    for i, (what, edits, faults, says) in enumerate(plants):
        sub = os.path.join(tmp, "m%d" % i)
        os.mkdir(sub)
        bad = mutant(sub, "replog", "replog.bloom", *edits[0])
        path = os.path.join(sub, "stdlib", "replog.bloom")
        for old, new in edits[1:]:
            with open(path) as f:
                text = f.read()
            check(old in text, "the mutated text is in stdlib/replog.bloom")
            with open(path, "w") as f:
                f.write(text.replace(old, new))
        p = run("sim", bad, "--invariant", inv, "--faults", faults, "--runs", "300", "--no-minimize",
                "--trace", os.path.join(sub, "bad.json"), expect=5)
        check(says in p.stderr, what + ": " + p.stderr)


def case_sharded_kvs(tmp):
    """examples/sharded_kvs (2 shards x 3 replicas on stdlib/replog.bloom and stdlib/leader.bloom,
    2 clients; b1, shard 1's first leader, stops at 1000 ms) under drops, duplicates, a crash and
    a partition: the replicas of a shard never disagree on a slot, every get returns the value of
    the last put of its key before it in the shard's log, and in the end every request was
    answered (examples/sharded_kvs/invariant.bloom). Planted bugs are caught: a replica that
    applies a command as soon as its slot is known instead of in slot order (a stale get); a
    client that retries on the same replica (requests to the stopped leader are never answered);
    a log whose new leader fills reported slots with no-ops (the replicas disagree)."""
    d = os.path.join(EXAMPLES, "sharded_kvs")
    deploy, inv = os.path.join(d, "deploy.toml"), os.path.join(d, "invariant.bloom")
    # Drops, duplicates, a crash and a partition in one run; then heavier loss alone (not in quick
    # mode: a run takes about 0.7 s of CPU here, 10 times more under the sanitizers).
    configs = [("drop=0.2,dup=0.2,crash=1,partition=1", runs(30))]
    if not os.environ.get("BLOOM_TEST_QUICK"):
        configs.append(("drop=0.3,dup=0.3", "20"))
    for faults, n in configs:
        p = run("sim", deploy, "--invariant", inv, "--faults", faults, "--runs", n)
        check("no violation" in p.stderr, p.stderr)
    if QUICK:
        return  # planted bugs test the module's Bloom, not the C++ the sanitizers watch: the release tree runs them
    # (what the bug is, [(file in the example's folder or stdlib/..., text, replaced by)], faults,
    # what the violation says)
    plants = [
        ("a get is applied before the slots below it are known",
         [("replica.bloom", "op(s, o, k, v, c) <= first(c, s), prefix(s),", "op(s, o, k, v, c) <= first(c, s),")],
         "drop=0.3,dup=0.3", "but the last put before slot"),
        # (and gives up after 3 retries rather than 20, for a shorter run)
        ("a client retries on the same replica",
         [("client.bloom", "topo.replica(s, a % topo.RF, r)", "topo.replica(s, 0, r)"),
          ("client.bloom", "param tries: int = 20;", "param tries: int = 3;")],
         "drop=0", "was never answered"),
        ("a new leader fills reported slots with no-ops",
         [("stdlib/replog.bloom", "fixed(b, s, argmax(vb, v)) <= active(b), reports(b, s, vb, v),",
           'fixed(b, s, "") <= active(b), reports(b, s, _, _),')],
         "drop=0.3,dup=0.3", "holds"),
    ]
    for i, (what, edits, faults, says) in enumerate(plants):
        sub = os.path.join(tmp, "m%d" % i)
        shutil.copytree(os.path.join(ROOT, "stdlib"), os.path.join(sub, "stdlib"))
        ex = os.path.join(sub, "examples", "sharded_kvs")
        shutil.copytree(d, ex)
        for name, old, new in edits:
            path = os.path.join(sub, name) if name.startswith("stdlib/") else os.path.join(ex, name)
            with open(path) as f:
                text = f.read()
            check(old in text, f"the mutated text is in {name}")
            with open(path, "w") as f:
                f.write(text.replace(old, new))
        p = run("sim", os.path.join(ex, "deploy.toml"), "--invariant", os.path.join(ex, "invariant.bloom"),
                "--faults", faults, "--runs", "50", "--no-minimize", "--trace", os.path.join(sub, "bad.json"), expect=5)
        check(says in p.stderr, what + ": " + p.stderr)


def case_fifo(tmp):
    """stdlib/fifo.bloom delivers 12 messages sent one per tick exactly once and in order, with
    and without drops and duplicates (lost messages come back by resends, out of order); a
    receiver that delivers as messages come is caught (tests/sim/fifo/invariant.bloom)."""
    d = os.path.join(SIM, "fifo")
    deploy, inv = os.path.join(d, "deploy.toml"), os.path.join(d, "invariant.bloom")
    for faults in ("drop=0", "drop=0.3,dup=0.3"):
        p = run("sim", deploy, "--invariant", inv, "--faults", faults, "--runs", runs(100))
        check("no violation" in p.stderr, p.stderr)
    if QUICK:
        return  # planted bugs test the module's Bloom, not the C++ the sanitizers watch: the release tree runs them
    bad = mutant(tmp, "fifo", "fifo.bloom", "deliver(s, n, p) <= next(s, n), early(s, n, p);",
                 "deliver(s, n, p) <= early(s, n, p);")
    p = run("sim", bad, "--invariant", inv, "--faults", "drop=0.3", "--runs", "100", "--trace",
            os.path.join(tmp, "bad.json"), expect=5)
    check("delivered before" in p.stderr, p.stderr)


def case_lamport(tmp):
    """stdlib/lamport.bloom: a token passed round a ring among greetings is stamped consistently
    with happened-before, with and without duplicates; a clock that ignores received stamps is
    caught (tests/sim/lamport/invariant.bloom)."""
    d = os.path.join(SIM, "lamport")
    deploy, inv = os.path.join(d, "deploy.toml"), os.path.join(d, "invariant.bloom")
    for faults in ("drop=0", "dup=0.3"):
        p = run("sim", deploy, "--invariant", inv, "--faults", faults, "--runs", runs(100))
        check("no violation" in p.stderr, p.stderr)
    if QUICK:
        return  # planted bugs test the module's Bloom, not the C++ the sanitizers watch: the release tree runs them
    bad = mutant(tmp, "lamport", "lamport.bloom", "now(greatest(c.value(), t) + 1) <= active(), clock(c), heard(t);",
                 "now(c.value() + 1) <= active(), clock(c), heard(_);")
    p = run("sim", bad, "--invariant", inv, "--runs", "20", "--trace", os.path.join(tmp, "bad.json"), expect=5)
    check("not after any send" in p.stderr, p.stderr)


def case_causal(tmp):
    """stdlib/causal.bloom: three members broadcast 9 messages, some only after delivering
    others; every member delivers each exactly once, after everything it causally follows, and
    in the end all of them, without faults, under drops and duplicates, a partition, and crashes
    with drops (the module's state is durable) (tests/sim/causal/invariant.bloom). Caught: a
    receiver that waits only for the sender's earlier messages (FIFO, not the clock), a sender
    that leaves out of a message's clock what it delivers in the same tick, a receiver that does
    not check its clock for what it already delivered (duplicates), and a clock that is not
    durable, under crashes."""
    d = os.path.join(SIM, "causal")
    deploy, inv = os.path.join(d, "deploy.toml"), os.path.join(d, "invariant.bloom")
    for faults in ("drop=0", "drop=0.3,dup=0.3", "partition=1,rate=0.05", "crash=2,drop=0.2,rate=0.05"):
        p = run("sim", deploy, "--invariant", inv, "--faults", faults, "--runs", runs(200))
        check("no violation" in p.stderr, p.stderr)
    if QUICK:
        return  # planted bugs test the module's Bloom, not the C++ the sanitizers watch: the release tree runs them
    got = "got(s, q, i, p, d) <= msg(_, s, q, i, p, d), vc(v), not v.at(s) >= q;"
    ready = "ready(s, q, i, p) <= got(s, q, i, p, d), vc(v), v.covers(d), not v.at(s) >= q;"
    mutants = [
        ("fifo", [(ready, ready.replace("v.covers(d)", "v.at(s) >= q - 1"))], "drop=0", "which it causally follows"),
        ("same_tick", [("log(q, i, p, lmap(s, n)) <= numbered(q, i, p), ready(s, n, _, _);", "")], "drop=0",
         "which it causally follows"),
        ("dups", [(got, "got(s, q, i, p, d) <= msg(_, s, q, i, p, d);"), (ready, ready.replace(", not v.at(s) >= q", ""))],
         "dup=0.5", "twice"),
        ("volatile", [("lattice vc: lmap<addr, lmax<int>> durable;", "lattice vc: lmap<addr, lmax<int>>;")],
         "crash=1,rate=0.05", "never delivered"),
    ]
    for name, edits, faults, want in mutants:
        for sub in ("causal", "stdlib"):
            shutil.rmtree(os.path.join(tmp, sub), ignore_errors=True)
        bad = mutant(tmp, "causal", "causal.bloom", *edits[0])
        module = os.path.join(tmp, "stdlib", "causal.bloom")
        with open(module) as f:
            text = f.read()
        for old, new in edits[1:]:
            check(old in text, "the mutated text is in stdlib/causal.bloom")
            text = text.replace(old, new)
        with open(module, "w") as f:
            f.write(text)
        p = run("sim", bad, "--invariant", inv, "--faults", faults, "--runs", "50", "--trace",
                os.path.join(tmp, name + ".json"), expect=5)
        check(want in p.stderr, f"mutant {name}: {want!r} not in\n{p.stderr}")


def case_phi_accrual(tmp):
    """stdlib/phi_accrual.bloom: three members watch each other and a fourth that halts at once.
    Every live member comes to suspect it (completeness) and, when it decides, suspects no live
    member (eventual accuracy: after a partition has healed, the suspicion it caused is
    revoked), without faults, under drops and duplicates, partitions longer than the time to
    suspect, and a crash (tests/sim/phi_accrual/invariant.bloom); n3's window of 4 intervals is
    full when it decides and never larger. Three planted bugs are caught: a window never
    trimmed (n3 holds more than 4), a window not seeded (no mean, so no phi, for a node never
    heard from: completeness fails) and a suspicion never revoked (accuracy fails once a
    partition heals)."""
    d = os.path.join(SIM, "phi_accrual")
    deploy, inv = os.path.join(d, "deploy.toml"), os.path.join(d, "invariant.bloom")
    for faults in ("drop=0", "drop=0.3,dup=0.3", "partition=2,rate=0.05,heal=4s,drop=0.1", "crash=1,rate=0.05"):
        p = run("sim", deploy, "--invariant", inv, "--faults", faults, "--runs", runs(100))
        check("no violation" in p.stderr, p.stderr)
    # n3 (pa.window = 4) decides with a full window of each live member, n1 with every interval.
    out = os.path.join(tmp, "out")
    run("sim", deploy, "--invariant", inv, "--runs", "1", "-D", out, "-q")
    held = dict(line.split("\t") for line in open(os.path.join(out, "n3", "window_at_decision.csv")).read().splitlines())
    check(held.get("n1") == "4" and held.get("n2") == "4", f"n3's windows at its decision: {held}")
    held = dict(line.split("\t") for line in open(os.path.join(out, "n1", "window_at_decision.csv")).read().splitlines())
    check(int(held.get("n2", 0)) > 4 and int(held.get("n3", 0)) > 4, f"n1's windows at its decision: {held}")
    if QUICK:
        return  # planted bugs test the module's Bloom, not the C++ the sanitizers watch: the release tree runs them
    bad = mutant(os.path.join(tmp, "untrimmed"), "phi_accrual", "phi_accrual.bloom",
                 "interval(p, k, d) <- interval(p, k, d), last(p, j, _), k <= j - window;", "")
    p = run("sim", bad, "--invariant", inv, "--runs", "1", "--no-minimize", "--trace", os.path.join(tmp, "untrimmed.json"),
            expect=5)
    check("more than its window of 4" in p.stderr, p.stderr)
    bad = mutant(tmp, "phi_accrual", "phi_accrual.bloom", "interval(p, 0, beat_ms) <+ start(p);", "")
    p = run("sim", bad, "--invariant", inv, "--runs", "1", "--no-minimize", "--trace", os.path.join(tmp, "unseeded.json"), expect=5)
    check("gave up" in p.stderr or "never decided" in p.stderr, p.stderr)
    bad = mutant(os.path.join(tmp, "sticky"), "phi_accrual", "phi_accrual.bloom",
                 "suspected(p) <= phi(p, v), v > threshold;",
                 "suspected(p) <= phi(p, v), v > threshold;\nsuspected(p) <= was_suspected(p);")
    p = run("sim", bad, "--invariant", inv, "--faults", "partition=1,rate=0.05,heal=4s", "--runs", "50", "--no-minimize", "--trace",
            os.path.join(tmp, "sticky.json"), expect=5)
    check("suspected the live member" in p.stderr or "gave up" in p.stderr, p.stderr)


def case_gossip_membership(tmp):
    """stdlib/gossip_membership.bloom: five members, each seeded with n1 only; `gone` gossips for
    3 s and stops. Every live member comes to list every live member as alive and `gone` as
    failed, without faults, under drops and duplicates, two partitions with drops, and a crash
    (tests/sim/gossip_membership/invariant.bloom). Three planted bugs are caught: gossip that
    carries only the sender's own heartbeat (members seeded with n1 never learn of each other),
    a member that never fails (`gone` stays alive), and every known member failed at once
    (members decide while `gone` still beats)."""
    d = os.path.join(SIM, "gossip_membership")
    deploy, inv = os.path.join(d, "deploy.toml"), os.path.join(d, "invariant.bloom")
    for faults in ("drop=0", "drop=0.3,dup=0.3", "partition=2,rate=0.05,drop=0.1", "crash=1,rate=0.05"):
        p = run("sim", deploy, "--invariant", inv, "--faults", faults, "--runs", runs(50))
        check("no violation" in p.stderr, p.stderr)
    if QUICK:
        return  # planted bugs test the module's Bloom, not the C++ the sanitizers watch: the release tree runs them
    bad = mutant(os.path.join(tmp, "relay"), "gossip_membership", "gossip_membership.bloom",
                 "gossip(@q, self(), v) <~ gossip_tick(_), view(v), known(q);",
                 "gossip(@q, self(), lmap(self(), now())) <~ gossip_tick(_), known(q);")
    p = run("sim", bad, "--invariant", inv, "--runs", "1", "--no-minimize", "--trace", os.path.join(tmp, "relay.json"),
            expect=5)
    check("gave up" in p.stderr, p.stderr)
    bad = mutant(os.path.join(tmp, "immortal"), "gossip_membership", "gossip_membership.bloom",
                 "alive(p) <= seen(p, _, t), now() - t <= fail_ms;", "alive(p) <= seen(p, _, _);")
    p = run("sim", bad, "--invariant", inv, "--runs", "1", "--no-minimize", "--trace", os.path.join(tmp, "immortal.json"),
            expect=5)
    check("gave up" in p.stderr, p.stderr)
    # Failed as soon as known: members decide while `gone` still beats, and list it as alive.
    bad = mutant(os.path.join(tmp, "hasty"), "gossip_membership", "gossip_membership.bloom",
                 "failed(p) <= known(p), not alive(p);", "failed(p) <= known(p);")
    p = run("sim", bad, "--invariant", inv, "--runs", "1", "--no-minimize", "--trace", os.path.join(tmp, "hasty.json"),
            expect=5)
    check("as alive when it decided" in p.stderr or "as failed" in p.stderr, p.stderr)


def case_determinism(tmp):
    """The same command twice writes byte-identical traces; --replay gives the same outputs."""
    deploy = os.path.join(EXAMPLES, "kvs", "deploy.toml")
    args = ["--faults", "drop=0.1,dup=0.1,skew=20ms", "--seed", "7", "--runs", "1", "-q"]
    for name in ("one", "two"):
        run("sim", deploy, *args, "--trace", os.path.join(tmp, name + ".json"), "-D", os.path.join(tmp, name))
    check(filecmp.cmp(os.path.join(tmp, "one.json"), os.path.join(tmp, "two.json"), shallow=False), "the traces differ")
    run("sim", deploy, "--faults", "drop=0.1,dup=0.1,skew=20ms", "--seed", "8", "--trace", os.path.join(tmp, "other.json"), "-q")
    check(not filecmp.cmp(os.path.join(tmp, "one.json"), os.path.join(tmp, "other.json"), shallow=False),
          "seeds 7 and 8 gave the same trace")
    run("sim", "--replay", os.path.join(tmp, "one.json"), "-D", os.path.join(tmp, "replayed"), "-q")
    problems = same_csv_tree(os.path.join(tmp, "replayed"), os.path.join(tmp, "one"))
    check(not problems, "\n".join(problems))


def case_bad_input(tmp):
    """Bad deployments, invariants, fault specs and traces: a clear error, never a crash."""
    kvs = os.path.join(EXAMPLES, "kvs", "deploy.toml")
    p = run("sim", kvs, "--faults", "drop=2", expect=2)
    check("drop=2" in p.stderr and "probability" in p.stderr, p.stderr)
    p = run("sim", os.path.join(tmp, "missing.toml"), expect=2)
    check("missing.toml" in p.stderr, p.stderr)
    p = run("sim", expect=2)
    check("needs a deployment" in p.stderr, p.stderr)
    p = run("sim", kvs, "--diverge", "--faults", "drop=0.1", expect=2)
    check("--diverge" in p.stderr, p.stderr)

    # An invariant whose columns do not match: an error naming both declarations.
    inv = os.path.join(tmp, "inv.bloom")
    open(inv, "w").write("input data(node: addr, k: int, version: int, v: string);\noutput violation(m: string);\n")
    p = run("sim", kvs, "--invariant", inv, expect=1)
    check("inv.bloom:1:" in p.stderr and "replica.bloom:" in p.stderr, p.stderr)
    open(inv, "w").write("input dato(node: addr, k: string, version: int, v: string);\noutput violation(m: string);\n")
    p = run("sim", kvs, "--invariant", inv, expect=1)
    check("not a collection of any program" in p.stderr, p.stderr)
    open(inv, "w").write("input kv(node: addr, k: string\n")
    run("sim", kvs, "--invariant", inv, expect=1)

    # A deployment whose program does not compile.
    d = os.path.join(tmp, "broken")
    shutil.copytree(os.path.join(SIM, "race"), d)
    with open(os.path.join(d, "server.bloom"), "a") as f:
        f.write("oops(x) <= nowhere(x);\n")
    p = run("sim", os.path.join(d, "deploy.toml"), expect=1)
    check("does not compile" in p.stderr, p.stderr)

    # Traces: truncated, not a trace, another version, edited, of another program.
    trace = os.path.join(tmp, "t.json")
    run("sim", os.path.join(SIM, "race", "deploy.toml"), "--trace", trace, "-q")
    text = open(trace).read()
    bad = os.path.join(tmp, "bad.json")
    for content, want, code in [
        (text[: len(text) // 2], "not valid JSON", 2),
        ("[]", "not a bloom simulation trace", 2),
        (text.replace('"version": 1', '"version": 9', 1), "version 9", 2),
        (text.replace('"kind":"tick"', '"kind":"teleport"', 1), "unknown kind", 2),
        (text.replace('\\"alpha\\")"]', '\\"gamma\\")"]', 1), "departed", 3),
    ]:
        open(bad, "w").write(content)
        p = run("sim", "--replay", bad, expect=code)
        check(want in p.stderr, f"{want!r} not in:\n{p.stderr}")
    p = run("sim", "--replay", os.path.join(tmp, "nothing.json"), expect=2)
    check("cannot read" in p.stderr, p.stderr)
    # The same trace against a changed program.
    changed = os.path.join(tmp, "changed")
    shutil.copytree(os.path.join(SIM, "race"), changed)
    src = open(os.path.join(changed, "server.bloom")).read().replace("min(v)", "max(v)")
    open(os.path.join(changed, "server.bloom"), "w").write(src)
    p = run("sim", os.path.join(changed, "deploy.toml"), "--replay", trace, expect=2)
    check("another program" in p.stderr, p.stderr)
    run("sim", "--replay", trace, "--runs", "3", expect=2)
    run("sim", kvs, "--timeline", os.path.join(tmp, "x.html"), expect=2)


def case_timeline(tmp):
    """--replay --timeline writes one HTML page that headless Chromium renders, a lane per node."""
    d = os.path.join(SIM, "planted_2pc")
    trace = os.path.join(tmp, "2pc.json")
    run("sim", os.path.join(d, "deploy.toml"), "--invariant", os.path.join(d, "invariant.bloom"), "--runs", "50",
        "--faults", "dup=0.2,drop=0.1", "--no-minimize", "--trace", trace, expect=5)
    html = os.path.join(tmp, "2pc.html")
    run("sim", "--replay", trace, "--timeline", html, expect=5)
    page = open(html).read()
    # Each tick carries what its rules produced: the coordinator's buggy decision is in there.
    check('"how":"derived","rule":"decide(x, true) \\u003c= vote(_, _, x, true)' in page, "no derivations of `decide` in the page")
    # Self-contained: no script, style sheet, image or font from elsewhere (the SVG namespace URI is a name, not a fetch).
    outside = re.findall(r'(?:src|href)\s*=\s*["\'](?!#)|@import|url\((?!#)', page)
    check(not outside, f"the page refers to something outside it: {outside}")
    p = subprocess.run(["bash", os.path.join(SIM, "check_timeline.sh"), html, os.path.join(tmp, "2pc.png"),
                        "coordinator", "p1", "p2", "p3"], capture_output=True, text=True, timeout=300)
    check(p.returncode == 0, f"check_timeline.sh: exit {p.returncode}\n{p.stdout}{p.stderr}")


def case_max_steps(tmp):
    """A deployment that never quiesces stops at --max-steps and says what is pending."""
    open(os.path.join(tmp, "a.bloom"), "w").write(
        'channel ball(@dst: addr, n: int);\ntable start();\nstart();\ntable served();\n'
        'ball(@"b", 0) <~ start(), not served();\nserved() <+ start();\nball(@"b", n + 1) <~ ball(_, n);\n')
    open(os.path.join(tmp, "b.bloom"), "w").write('channel ball(@dst: addr, n: int);\nball(@"a", n + 1) <~ ball(_, n);\n')
    open(os.path.join(tmp, "d.toml"), "w").write(
        '[node.a]\nprogram = "a.bloom"\nendpoint = "tcp://127.0.0.1:1"\n[node.b]\nprogram = "b.bloom"\nendpoint = "tcp://127.0.0.1:2"\n')
    p = run("sim", os.path.join(tmp, "d.toml"), "--max-steps", "500", expect=3)
    check("not quiescent after 500 steps" in p.stderr and "in flight" in p.stderr, p.stderr)


def case_calm_ground_truth(tmp):
    """Ground truth for `bloom lint` (issue 12): every deployment under tests/sim/calm/ whose
    expect.json says `diverges: true` really has two schedules with different outputs (found by
    --diverge: exit 5 and a witness row on stderr) and its program is flagged (lint exit 4); the
    ones with `diverges: false` agree over 1,000 schedules and are coordination-free (exit 0).

    expect.json: program (the node program the lint must judge), diverges, runs, why, and
    - witness: rows of which at least one must appear among the differing rows on stderr;
    - or stops_with (a runtime error instead of a divergence: --diverge exits 3 with it), seeds
      and states: running seeds 1..seeds one by one, each stops with the error and every text
      of `states` appears in at least one of them (the state the node stops in differs).
    Every case's simulation is checked before any lint verdict, and all problems are listed."""
    calm = os.path.join(SIM, "calm")
    names = sorted(d for d in os.listdir(calm) if os.path.isfile(os.path.join(calm, d, "expect.json")))
    check(names, "no case under tests/sim/calm")
    sim_problems, lint_problems = [], []
    for name in names:
        d = os.path.join(calm, name)
        m = json.load(open(os.path.join(d, "expect.json")))
        deploy = os.path.join(d, "deploy.toml")
        trace = os.path.join(tmp, name + ".json")
        # Agreement over every schedule is the expensive half: QUICK checks a twentieth of them.
        count = runs(m["runs"]) if not m["diverges"] else str(m["runs"])
        args = ["sim", deploy, "--diverge", "--runs", count, "-q", "--trace", trace]
        if not m["diverges"]:
            p = run(*args, expect=None)
            if p.returncode != 0:
                sim_problems.append(f"{name}: {count} schedules should agree, exit {p.returncode}\n{p.stderr}")
        elif "stops_with" in m:
            p = run(*args, expect=None)
            if p.returncode != 3 or m["stops_with"] not in p.stderr:
                sim_problems.append(f"{name}: expected exit 3 with {m['stops_with']!r}, exit {p.returncode}\n{p.stderr}")
            seen = ""
            for seed in range(1, m["seeds"] + 1):
                p = run("sim", deploy, "--seed", str(seed), "-q", "--trace", trace, expect=None)
                if p.returncode != 3 or m["stops_with"] not in p.stderr:
                    sim_problems.append(f"{name}: seed {seed}: expected exit 3 with {m['stops_with']!r}, exit {p.returncode}\n{p.stderr}")
                seen += p.stderr
            for state in m["states"]:
                if state not in seen:
                    sim_problems.append(f"{name}: no seed of 1..{m['seeds']} stopped with {state!r}\n{seen}")
        else:
            p = run(*args, expect=None)
            if p.returncode != 5 or "diverge between seeds" not in p.stderr:
                sim_problems.append(f"{name}: no divergence in {m['runs']} schedules (exit {p.returncode})\n{p.stderr}")
            elif not any(w in p.stderr for w in m["witness"]):
                sim_problems.append(f"{name}: none of {m['witness']} among the differing rows\n{p.stderr}")
    for name in names:
        d = os.path.join(calm, name)
        m = json.load(open(os.path.join(d, "expect.json")))
        want = 4 if m["diverges"] else 0
        for target in (os.path.join(d, m["program"]), os.path.join(d, "deploy.toml")):
            p = run("lint", target, expect=None)
            if p.returncode != want:
                verdict = [l for l in p.stdout.splitlines() if l.startswith(("verdict", "deployment"))]
                lint_problems.append(f"{name}: bloom lint {os.path.relpath(target, calm)}: exit {p.returncode}, expected {want} "
                                     f"({m['why']}); {verdict}")
    check(not sim_problems and not lint_problems,
          "\n".join(sim_problems + lint_problems) + f"\n({len(sim_problems)} simulator and {len(lint_problems)} lint problems)")
    print(f"{len(names)} cases: the simulator and the lint agree with the ground truth")


def case_seal_explain(tmp):
    """A sealed partition's rows are explained by their release (docs/language.md, seals): the
    seal's declaration and tick, then the sealed tuple and the seal tuple, each back to the node
    that sent it (tests/sim/calm/tally_sealed)."""
    d = os.path.join(SIM, "calm", "tally_sealed")
    trace = os.path.join(tmp, "sealed.json")
    run("sim", os.path.join(d, "deploy.toml"), "--seed", "3", "-q", "--trace", trace)
    r = run("sim", "--replay", trace, "--explain", 'r.ballot[sealed](1, "a")')
    for part in ['r: ballot[sealed](1, "a")  released in tick', "by `seal ballot(round) by done(round, n);`", "its partition complete",
                 'r: ballot(1, "a")  derived in tick 1', 'r: done("r", 1, 3)  arrived in tick', 'co: done("r", 1, 3)  sent in tick 0']:
        check(part in r.stdout, f"{part!r} not in the explanation:\n{r.stdout}")
    print("a released row is explained by its seal")


CASES = {name[5:]: f for name, f in globals().items() if name.startswith("case_")}


def main():
    global BLOOM
    if len(sys.argv) != 3 or sys.argv[2] not in CASES:
        print(f"usage: {sys.argv[0]} BLOOM CASE  (CASE: {', '.join(CASES)})", file=sys.stderr)
        return 2
    BLOOM = os.path.abspath(sys.argv[1])
    with tempfile.TemporaryDirectory(prefix="bloom-sim-test.") as tmp:
        try:
            CASES[sys.argv[2]](tmp)
        except Failure as e:
            print(f"FAIL {sys.argv[2]}: {e}")
            return 1
    print(f"PASS {sys.argv[2]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
