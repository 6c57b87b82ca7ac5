#!/usr/bin/env python3
"""Merge-law property tests of the CRDT modules (stdlib/crdt), through `bloom run`.

Usage: merge_laws.py BLOOM MODULE [--trials N] [--seed S] [--keep DIR]

For each trial: random remote states S1..Sk (rows of the module's merge inputs, from small
domains so that they overlap and conflict), and several delivery plans of them to separate
instances of the module in one program (one `import ... as iJ` per plan):
  in order, one state per tick; reversed; all in one tick; a random order and grouping into
  ticks; each state delivered 1 to 3 times in random ticks (duplicates); states pre-merged in
  pairs, ((S1 S2) S3 ...) and (S1 (S2 S3) ...), i.e. delivered together in one tick.
Each instance's reads (value, contents, state) after the last tick must be the same for every
plan (commutativity, associativity, idempotence of the merge, as observed through the module's
outputs), and equal to a model of the merge written here in Python (the join of the states).
Python 3 standard library only.
"""
import argparse
import os
import random
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NODES = ["r1", "r2", "r3", "r4"]
ELEMS = ["a", "b", "c", "d", "e", "f"]


def lit(x):
    if isinstance(x, bool):
        return "true" if x else "false"
    if isinstance(x, int):
        return str(x)
    return '"' + x + '"'


# Each module: inputs {name: column types}, a row generator per input, the reads to compare
# ({output name: (columns, body)} where the body reads the instance `I`), and a model giving, for
# the union of the rows of each input, the expected rows of every read (as tuples of strings).
def gen_gcounter(r):
    return {"merge": [(r.choice(NODES), r.randrange(0, 30)) for _ in range(r.randrange(1, 5))]}


def model_gcounter(rows):
    c = {"local": 0}
    for n, v in rows["merge"]:
        c[n] = max(c.get(n, 0), v)
    return {"value": {(str(sum(c.values())),)}, "counts": {(n, str(v)) for n, v in c.items()}}


def gen_pncounter(r):
    return {"merge": [(r.choice(NODES), r.choice([1, -1]), r.randrange(0, 30)) for _ in range(r.randrange(1, 5))]}


def model_pncounter(rows):
    c = {("local", 1): 0, ("local", -1): 0}
    for n, s, v in rows["merge"]:
        c[(n, s)] = max(c.get((n, s), 0), v)
    return {"value": {(str(sum(s * v for (_, s), v in c.items())),)},
            "counts": {(n, str(s), str(v)) for (n, s), v in c.items()}}


def gen_gset(r):
    return {"merge": [(r.choice(ELEMS),) for _ in range(r.randrange(1, 4))]}


def model_gset(rows):
    return {"contents": set(rows["merge"])}


def gen_twopset(r):
    return {"merge": [(r.choice(ELEMS), r.random() < 0.3) for _ in range(r.randrange(1, 4))]}


def model_twopset(rows):
    added = {e for e, d in rows["merge"] if not d}
    removed = {e for e, d in rows["merge"] if d}
    return {"contents": {(e,) for e in added - removed}, "added": {(e,) for e in added}, "removed": {(e,) for e in removed}}


def gen_orset(r):
    return {"merge": [(r.choice(ELEMS[:3]), r.choice(NODES[:2]), r.randrange(1, 3), r.random() < 0.3)
                      for _ in range(r.randrange(1, 4))]}


def model_orset(rows):
    tags = {(e, n, i) for e, n, i, _ in rows["merge"]}
    dead = {(e, n, i) for e, n, i, d in rows["merge"] if d}
    live = tags - dead
    return {"contents": {(e,) for e, _, _ in live}, "live": {(e, n, str(i)) for e, n, i in live}}


def gen_lwwregister(r):
    return {"merge": [(r.randrange(0, 4), r.choice(NODES[:3]), r.choice(ELEMS[:3])) for _ in range(r.randrange(1, 3))]}


def model_lwwregister(rows):
    t, n, v = max(rows["merge"])
    return {"value": {(v,)}, "stamp": {(str(t), n)}}


def gen_mvregister(r):
    return {"merge_write": [(r.choice(NODES[:3]), r.randrange(1, 4), r.choice(ELEMS[:3])) for _ in range(r.randrange(0, 3))],
            "merge_cover": [(r.choice(NODES[:3]), r.randrange(1, 4)) for _ in range(r.randrange(0, 2))]}


def model_mvregister(rows):
    covered = set(rows["merge_cover"])
    return {"values": {(v,) for n, i, v in rows["merge_write"] if (n, i) not in covered}}


def gen_lwwmap(r):
    out = []
    for _ in range(r.randrange(1, 4)):
        removed = r.random() < 0.3
        out.append((r.choice(ELEMS[:3]), r.randrange(0, 3), r.choice(NODES[:3]), removed, "" if removed else r.choice(["x", "y", "z"])))
    return {"merge": out}


def model_lwwmap(rows):
    value, stamp = set(), set()
    for k in {w[0] for w in rows["merge"]}:
        ws = [w for w in rows["merge"] if w[0] == k]
        t = max(w[1] for w in ws)
        n = max(w[2] for w in ws if w[1] == t)
        d = max(w[3] for w in ws if w[1] == t and w[2] == n)
        stamp.add((k, str(t), n))
        if not d:
            value.add((k, max(w[4] for w in ws if w[1] == t and w[2] == n and not w[3])))
    return {"value": value, "stamp": stamp}


MODULES = {
    "gcounter": ({"merge": ["addr", "int"]}, gen_gcounter, model_gcounter,
                 {"value": ("n: int", "I.value(n)", "n"), "counts": ("node: addr, n: int", "I.counts(node, c), n = c.value()", "node, n")}),
    "pncounter": ({"merge": ["addr", "int", "int"]}, gen_pncounter, model_pncounter,
                  {"value": ("n: int", "I.value(n)", "n"),
                   "counts": ("node: addr, sign: int, n: int", "I.counts(node, s, c), n = c.value()", "node, s, n")}),
    "gset": ({"merge": ["string"]}, gen_gset, model_gset, {"contents": ("e: string", "I.contents(e)", "e")}),
    "twopset": ({"merge": ["string", "bool"]}, gen_twopset, model_twopset,
                {"contents": ("e: string", "I.contents(e)", "e"), "added": ("e: string", "I.added(e)", "e"),
                 "removed": ("e: string", "I.removed(e)", "e")}),
    "orset": ({"merge": ["string", "addr", "int", "bool"]}, gen_orset, model_orset,
              {"contents": ("e: string", "I.contents(e)", "e"),
               "live": ("e: string, node: addr, id: int", "I.live(e, n, i)", "e, n, i")}),
    "lwwregister": ({"merge": ["int", "addr", "string"]}, gen_lwwregister, model_lwwregister,
                    {"value": ("v: string", "I.value(v)", "v"), "stamp": ("ts: int, node: addr", "I.stamp(t, n)", "t, n")}),
    "mvregister": ({"merge_write": ["addr", "int", "string"], "merge_cover": ["addr", "int"]}, gen_mvregister, model_mvregister,
                   {"values": ("v: string", "I.values(v)", "v")}),
    "lwwmap": ({"merge": ["string", "int", "addr", "bool", "string"]}, gen_lwwmap, model_lwwmap,
               {"value": ("k: string, v: string", "I.value(k, v)", "k, v"),
                "stamp": ("k: string, ts: int, node: addr", "I.stamp(k, t, n)", "k, t, n")}),
}


def plans(r, k):
    """Delivery plans of states 0..k-1: each a list of ticks (1, 2, ...), each tick a list of states."""
    idx = list(range(k))
    shuffled = idx[:]
    r.shuffle(shuffled)
    grouped, i = [], 0
    while i < k:
        g = r.randrange(1, 3)
        grouped.append(shuffled[i:i + g])
        i += g
    dup = [[] for _ in range(2 * k)]
    for s in idx:
        for _ in range(r.randrange(1, 4)):
            dup[r.randrange(len(dup))].append(s)
    left = [idx[0:2]] + [[s] for s in idx[2:]]                       # ((S1 S2) S3) ...
    right = [[idx[0]], idx[1:3]] + [[s] for s in idx[3:]]            # (S1 (S2 S3)) ...
    return {"in_order": [[s] for s in idx], "reversed": [[s] for s in reversed(idx)], "one_tick": [idx],
            "shuffled_grouped": grouped, "duplicates": dup, "assoc_left": left, "assoc_right": right}


def program(module, states, plan_set):
    inputs, _, _, reads = MODULES[module]
    names = sorted(plan_set)
    last = max(len(p) for p in plan_set.values()) + 1
    lines = [f"// generated by tests/crdt/merge_laws.py: {module}, {len(states)} states, plans {', '.join(names)}"]
    for j, _ in enumerate(names):
        lines.append(f'import "{os.path.join(ROOT, "stdlib", "crdt", module + ".bloom")}" as i{j};')
    for inp, types in inputs.items():
        cols = ", ".join(f"c{x}: {t}" for x, t in enumerate(types))
        lines.append(f"table st_{inp}(plan: int, t: int, {cols});")
    for out, (cols, _, _) in reads.items():
        lines.append(f"output {out}(plan: int, {cols});")
    lines += ["table step(n: int);", "step(0);", f"step(n + 1) <+ step(n), n < {last};", f"halt() <= step({last});"]
    for j, name in enumerate(names):
        for t, batch in enumerate(plan_set[name], start=1):
            for s in batch:
                for inp, rows in states[s].items():
                    for row in rows:
                        lines.append(f"st_{inp}({j}, {t}, {', '.join(lit(x) for x in row)});")
        for inp, types in inputs.items():
            vs = ", ".join(f"x{x}" for x in range(len(types)))
            lines.append(f"i{j}.{inp}({vs}) <= st_{inp}({j}, t, {vs}), tick() == t;")
        for out, (_, body, head) in reads.items():
            lines.append(f"{out}({j}, {head}) <= {body.replace('I.', f'i{j}.')}, tick() == {last};")
    return "\n".join(lines) + "\n", names


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bloom")
    ap.add_argument("module", choices=sorted(MODULES))
    ap.add_argument("--trials", type=int, default=5)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep", help="write the generated programs here")
    a = ap.parse_args()
    if os.environ.get("BLOOM_TEST_QUICK"):  # the sanitizer build (tools/test.sh): ~15x slower
        a.trials = max(1, a.trials // 2)
    _, gen, model, reads = MODULES[a.module]
    failures = 0
    with tempfile.TemporaryDirectory(prefix="bloom-crdt-laws.") as tmp:
        for trial in range(a.trials):
            r = random.Random(a.seed * 1000 + trial)
            k = r.randrange(3, 6)
            states = [gen(r) for _ in range(k)]
            src, names = program(a.module, states, plans(r, k))
            d = a.keep or tmp
            os.makedirs(d, exist_ok=True)
            prog = os.path.join(d, f"{a.module}_{trial}.bloom")
            open(prog, "w").write(src)
            out = os.path.join(tmp, f"out{trial}")
            p = subprocess.run([os.path.abspath(a.bloom), "run", prog, "-D", out], capture_output=True, text=True, timeout=120)
            if p.returncode != 0:
                print(f"FAIL {a.module} trial {trial}: bloom run exit {p.returncode}\n{p.stderr}")
                failures += 1
                continue
            union = {}
            for s in states:
                for inp, rows in s.items():
                    union.setdefault(inp, []).extend(rows)
            for inp in MODULES[a.module][0]:
                union.setdefault(inp, [])
            want = model(union)
            for read in reads:
                path = os.path.join(out, read + ".csv")
                rows = open(path).read().splitlines() if os.path.exists(path) else []
                got = {}
                for line in rows:
                    cols = line.split("\t")
                    got.setdefault(names[int(cols[0])], set()).add(tuple(cols[1:]))
                for name in names:
                    g = got.get(name, set())
                    if g != want[read]:
                        failures += 1
                        print(f"FAIL {a.module} trial {trial} plan {name}: {read} is {sorted(g)}, the merge of the states "
                              f"gives {sorted(want[read])}\n  states: {states}")
    print(f"{'FAIL' if failures else 'PASS'} {a.module}: {a.trials} trials x 7 delivery plans, {failures} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
