#!/usr/bin/env python3
"""Cross-tick incremental evaluation against full evaluation, on random programs.

Usage: incremental_fuzz.py BLOOM [--programs N] [--seed S] [--keep DIR]

Each generated program runs for many ticks (counters grown with `<+` drive them) and mixes what
incremental evaluation must get right: joins of tables that grow in different ticks, deferred
inserts, deletes and upserts (keyed tables), negation, aggregates, lmax lattice columns,
recursion, aggregates (groups kept across ticks), scratches (kept across ticks, with negations that retract, and emptied every tick)
and outputs. Every program runs three ways:
  BLOOM_INCREMENTAL=0        every rule over whole relations in every tick (the reference);
  default                    incremental;
  BLOOM_CHECK_INCREMENTAL=1  incremental, each tick checked against full evaluation.
The outputs, exit status and error text must be identical. Exits 1 on the first difference,
printing the program (and keeping it with --keep). Python 3 standard library only.
"""
import argparse
import os
import random
import subprocess
import sys
import tempfile


def generate(rng):
    """A random valid program: tables t0..t3 (a: int, b: int), a keyed table kv, an lmax table
    best, scratches s0, s1, s2, a step counter that grows for T ticks, and outputs of everything."""
    T = rng.randint(3, 12)
    lines = [f"table step(i: int);", "step(0);", f"step(i + 1) <+ step(i), i < {T};"]
    tables = [f"t{k}" for k in range(4)]
    for t in tables:
        lines.append(f"table {t}(a: int, b: int);")
    lines += ["table kv(k: int, v: int) key(k);", "table best(k: int, m: lmax<int>) key(k);",
              "scratch s0(a: int, b: int);", "scratch s1(a: int);", "scratch s2(a: int, b: int);"]
    outs = []
    for name in tables + ["kv", "s0", "s2"]:
        outs.append(f"output o_{name}(a: int, b: int);")
        lines.append(outs[-1])
        lines.append(f"o_{name}(x, y) <= {name}(x, y);")
    lines += ["output o_best(k: int, m: int);", "o_best(k, v) <= best(k, m), v = m.value();",
              "output o_s1(a: int);", "o_s1(x) <= s1(x);", "output o_cnt(k: int, n: int);",
              "o_cnt(x, count()) <= t1(x, _);", "output o_sum(n: int);", "o_sum(sum(y)) <= t2(_, y);",
              "table tagg(k: int, n: int);", "output o_tagg(k: int, n: int);", "o_tagg(k, n) <= tagg(k, n);"]
    for _ in range(rng.randint(2, 6)):  # facts
        t = rng.choice(tables)
        lines.append(f"{t}({rng.randint(0, 4)}, {rng.randint(0, 4)});")
    def atom(t, x, y):
        return f"{t}({x}, {y})"
    rules = []
    # tables growing tick by tick from the counter
    for t in rng.sample(tables, 2):
        op = rng.choice(["<=", "<+"])
        rules.append(f"{t}(i % {rng.randint(2, 5)}, i) {op} step(i), i % {rng.randint(1, 3)} == 0;")
    for _ in range(rng.randint(3, 8)):
        kind = rng.choice(["copy", "join", "join", "neg", "rec", "scratch", "del", "ups", "lat", "kvjoin", "kept", "kept", "feed", "negdel", "agg", "agg"])
        h, a, b, c = rng.choice(tables), rng.choice(tables), rng.choice(tables), rng.choice(tables + ["kv"])
        if kind == "copy":
            rules.append(f"{h}(y, x) {rng.choice(['<=', '<+'])} {atom(a, 'x', 'y')}, x < {rng.randint(2, 6)};")
        elif kind == "join":
            rules.append(f"{h}(x, z) {rng.choice(['<=', '<+'])} {atom(a, 'x', 'y')}, {atom(b, 'y', 'z')}, z < {rng.randint(3, 9)};")
        elif kind == "neg" and h not in (a, b):
            rules.append(f"{h}(x, y) <= {atom(a, 'x', 'y')}, not {atom(b, 'y', 'x')};")
        elif kind == "rec":
            rules.append(f"{h}(x, z) <= {atom(h, 'x', 'y')}, {atom(a, 'y', 'z')}, z < 6;")
        elif kind == "scratch":
            rules.append(f"s0(x, y) <= {atom(a, 'x', 'y')}, {atom(b, 'y', '_')};")
            rules.append(f"s1(x) <= s0(x, _), step(x);")
        elif kind == "del":
            rules.append(f"{h}(x, y) <- {atom(h, 'x', 'y')}, step(i), i == {rng.randint(1, T)}, x == {rng.randint(0, 3)};")
        elif kind == "ups":
            rules.append(f"kv(x, y) <+- {atom(a, 'x', 'y')}, step(i), i > {rng.randint(0, T)};")
        elif kind == "lat":
            rules.append(f"best(x, y) <= {atom(a, 'x', 'y')};")
        elif kind == "kept":  # s2 reads only tables: kept across ticks, its negations retract
            rules.append(rng.choice([f"s2(x, y) <= {atom(a, 'x', 'y')}, not {atom(b, 'y', 'x')};",
                                     f"s2(x, y) <= {atom(a, 'x', 'y')}, not {atom(b, 'y', '_')}, not {atom(c, 'x', 'x')};",
                                     f"s2(x, x) <= {atom(a, 'x', '_')}, not {atom(b, 'x', 'x + 1')};",
                                     f"s2(x, z) <= {atom(a, 'x', 'y')}, {atom(b, 'y', 'z')}, not {atom(c, 'z', 'x')};"]))
        elif kind == "negdel" and h not in (a, b):  # a negated table that loses rows: old matches come through
            rules.append(f"{h}(x, y) <= {atom(a, 'x', 'y')}, not {atom(b, 'y', 'x')};")
            rules.append(f"{b}(x, y) <- {atom(b, 'x', 'y')}, step(i), i == {rng.randint(1, T)};")
        elif kind == "agg":  # groups kept across ticks; a delete of an input makes them start over
            fn = rng.choice(["count()", "max(y)", "min(y)", "sum(y)", "argmax(y % 3, y)", "argmin(y % 4, y)"])
            rules.append(rng.choice([f"tagg(x, {fn}) <= {atom(a, 'x', 'y')};",
                                     f"tagg(x, {fn}) <+ {atom(a, 'x', 'y')}, {atom(b, 'y', '_')};",
                                     f"o_cnt(x, {fn}) <= {atom(a, 'x', 'z')}, {atom(b, 'z', 'y')};"]))
        elif kind == "feed":  # the negated tables grow from what the kept scratch held
            rules.append(f"{h}(y, x) <+ s2(x, y), x < {rng.randint(2, 6)};")
        elif kind == "kvjoin":
            rules.append(f"{h}(x, v) <= kv(x, v), {atom(a, 'x', '_')};")
    return "\n".join(lines + rules) + "\n"


def run(bloom, path, env_extra):
    env = dict(os.environ)
    env.pop("BLOOM_INCREMENTAL", None)
    env.pop("BLOOM_CHECK_INCREMENTAL", None)
    env.update(env_extra)
    # A program may never quiesce (a deferred rule that keeps rewriting a row): --max-ticks ends
    # it at the same tick in all three runs.
    p = subprocess.run([bloom, "run", path, "-q", "--max-ticks", "40"], capture_output=True, text=True, env=env, timeout=60)
    return p.returncode, p.stdout, p.stderr.replace(path, "PROGRAM")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bloom")
    ap.add_argument("--programs", type=int, default=150)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep")
    args = ap.parse_args()
    if os.environ.get("BLOOM_TEST_QUICK"):  # the sanitizer build (tools/test.sh): ~15x slower
        args.programs = max(1, args.programs // 4)
    rng = random.Random(args.seed)
    ran = errors = 0
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(args.programs):
            text = generate(rng)
            path = os.path.join(tmp, f"p{n}.bloom")
            with open(path, "w") as f:
                f.write(text)
            chk = subprocess.run([args.bloom, "check", path], capture_output=True, text=True)
            if chk.returncode != 0:
                continue  # e.g. a negation that makes a cycle: not a program to compare
            full = run(args.bloom, path, {"BLOOM_INCREMENTAL": "0"})
            inc = run(args.bloom, path, {})
            checked = run(args.bloom, path, {"BLOOM_CHECK_INCREMENTAL": "1"})
            ran += 1
            errors += full[0] != 0
            for name, got in (("incremental", inc), ("checked", checked)):
                if got != full:
                    if args.keep:
                        os.makedirs(args.keep, exist_ok=True)
                        with open(os.path.join(args.keep, f"p{n}.bloom"), "w") as f:
                            f.write(text)
                    print(f"FAIL program {n} ({name} differs from full evaluation):\n{text}")
                    print(f"full: exit {full[0]}\n{full[1]}{full[2]}\n{name}: exit {got[0]}\n{got[1]}{got[2]}")
                    return 1
    if ran < args.programs // 2:
        print(f"only {ran} of {args.programs} generated programs checked: the generator needs fixing")
        return 1
    print(f"{ran} random programs: incremental and checked runs agree with full evaluation ({errors} stop with a runtime error in all three)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
