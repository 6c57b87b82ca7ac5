#!/usr/bin/env python3
"""The JIT against the interpreter, on random programs and data (issue 14's differential fuzzer).

Usage: jit_fuzz.py BLOOM [--programs N] [--seed S] [--rows R] [--keep DIR]

Each generated program reads an input of random ints (0, -1, 1, extremes, and small values, so
divisions by zero and wrap-around happen) and derives outputs through chains of filters,
assignments and head expressions over ints, floats and bools (arithmetic, division and modulo,
comparisons, and/or/not, if, hash, and text: to_string, +, substr, least/greatest, len, find,
comparisons of strings), joined with a second input, with lookups by a relation's
key (by computed keys too), `in` over sets, negations inside the joins, and aggregates (over
registers and computed values) around them. Every program runs twice:
  --engine interp                       everything interpreted (the reference);
  --engine jit --jit-threshold 0        every segment compiled before its first row.
Outputs, exit status and error text must be identical. Exits 1 on the first difference, printing
the program (and keeping it with --keep). On demand: `jit_fuzz.py build/tools/bloom/bloom
--programs 2000` (a few minutes); CI runs a short smoke run. Python 3 standard library only.
"""
import argparse
import os
import random
import subprocess
import sys
import tempfile

INTS = [0, 1, -1, 2, 3, 7, -5, 9223372036854775807, -9223372036854775808, 1000003]


class Gen:
    def __init__(self, rng):
        self.rng = rng

    def int_expr(self, vars_, depth):
        r = self.rng
        if depth == 0 or r.random() < 0.3:
            return r.choice(vars_) if r.random() < 0.7 else str(r.choice([0, 1, 2, 3, 5, 7, 13, 100, -4]))
        a, b = self.int_expr(vars_, depth - 1), self.int_expr(vars_, depth - 1)
        k = r.randrange(7)
        if k == 0:
            return f"({a} + {b})"
        if k == 1:
            return f"({a} - {b})"
        if k == 2:
            return f"({a} * {b})"
        if k in (3, 4):  # mostly by a constant: a zero divisor stops the whole run
            d = b if r.random() < 0.15 else str(r.choice([2, 3, 5, 7, 13, -4, -1]))
            return f"({a} {'/' if k == 3 else '%'} {d})"
        if k == 5:
            return f"if({self.bool_expr(vars_, depth - 1)}, {a}, {b})"
        if r.random() < 0.3:
            return f"(hash({a}) % 1000)"
        if r.random() < 0.15:  # a float's integer part: an error for NaN, infinities and beyond
            return f"to_int({self.float_expr(vars_, depth - 1)})"
        if r.random() < 0.15:  # of its bits
            return f"(hash({self.float_expr(vars_, depth - 1)}) % 1000)"
        if r.random() < 0.3:  # through text: calls out under the JIT
            t = self.str_expr(vars_, depth - 1)
            return r.choice([f"len({t})", f"find({t}, \"1\")", f"(hash({t}) % 1000)", f"to_int(to_string({a}))"])
        return f"-{a}"

    def str_expr(self, vars_, depth):
        r = self.rng
        if depth == 0 or r.random() < 0.3:
            return f"to_string({r.choice(vars_)})" if r.random() < 0.8 else r.choice(['"a"', '"10"', '""', '"-1"'])
        a, b = self.str_expr(vars_, depth - 1), self.str_expr(vars_, depth - 1)
        k = r.randrange(4)
        if k == 0:
            return f"({a} + {b})"
        if k == 1:
            return f"substr({a}, {r.choice(vars_)} % 4, 3)"
        if k == 2:
            return f"{r.choice(['least', 'greatest'])}({a}, {b})"
        return f"if({self.bool_expr(vars_, depth - 1)}, {a}, {b})"

    def float_expr(self, vars_, depth):
        r = self.rng
        if depth == 0 or r.random() < 0.3:
            return f"({r.choice(vars_)} * 0.5)" if r.random() < 0.7 else r.choice(["1.5", "0.0", "-2.25", "3.0"])
        a, b = self.float_expr(vars_, depth - 1), self.float_expr(vars_, depth - 1)
        return f"({a} {r.choice(['+', '-', '*', '/'])} {b})"

    def bool_expr(self, vars_, depth):
        r = self.rng
        k = r.randrange(6)
        if depth == 0 or k < 3:
            op = r.choice(["<", "<=", ">", ">=", "==", "!="])
            if r.random() < 0.15:
                return f"{self.str_expr(vars_, max(depth - 1, 0))} {op} {self.str_expr(vars_, max(depth - 1, 0))}"
            if r.random() < 0.25:
                return f"{self.float_expr(vars_, max(depth - 1, 0))} {op} {self.float_expr(vars_, max(depth - 1, 0))}"
            return f"{self.int_expr(vars_, max(depth - 1, 0))} {op} {self.int_expr(vars_, max(depth - 1, 0))}"
        if k == 3:
            return f"({self.bool_expr(vars_, depth - 1)} and {self.bool_expr(vars_, depth - 1)})"
        if k == 4:
            return f"({self.bool_expr(vars_, depth - 1)} or {self.bool_expr(vars_, depth - 1)})"
        return f"!({self.bool_expr(vars_, depth - 1)})"


def generate(rng):
    g = Gen(rng)
    lines = ["input a(x: int, y: int);", "input b(y: int, z: int);", "table seen(x: int);",
             # Keyed by k: read by lookups of the key index (with computed keys), and a set per
             # key for `in`.
             "table kv(k: int, n: int) key(k);", "kv(y, count()) <= b(y, z);",
             "table bags(k: int, s: lset<int>);", "bags(y, collect(z)) <= b(y, z);"]
    for i in range(rng.randint(2, 5)):
        kind = rng.choice(["chain", "chain", "join", "neg", "agg", "float", "keyed", "in", "text", "lattice"])
        depth = rng.randint(1, 3)
        if kind in ("chain", "neg", "float"):
            body = ["a(x, y)"]
            vs = ["x", "y"]
        elif kind == "keyed":  # a lookup by the key index, by a register or a computed key
            body = ["a(x, y)", f"kv({g.int_expr(['x', 'y'], 1)}, n)"]
            vs = ["x", "y", "n"]
        elif kind == "in":
            body = ["a(x, y)", "bags(y, s)", "e in s"]
            vs = ["x", "y", "e"]
        elif kind == "lattice":  # reads of sets (call-outs under the JIT), `in` one computed
            body = ["a(x, y)", "bags(y, s)", "bags(x, t)"]
            vs = ["x", "y"]
            if rng.random() < 0.4:
                body.append("e in s.intersect(t)")
                vs.append("e")
            body.append(rng.choice([f"s.contains({g.int_expr(vs, 1)})", f"s.size() >= {g.int_expr(vs, 1)}",
                                    f"t.intersect(s).size() >= {rng.randint(0, 3)}", f"t.contains({g.int_expr(vs, 1)}) == false",
                                    f"s.union(t).size() >= {rng.randint(1, 6)}",  # lattices built: typed call-outs
                                    f"lset({g.int_expr(vs, 1)}, {g.int_expr(vs, 1)}).contains({g.int_expr(vs, 1)})",
                                    f"s.union(lset({g.int_expr(vs, 1)})).size() > s.size()"]))
        else:
            body = ["a(x, y)", "b(y, z)"]
            vs = ["x", "y", "z"]
        if rng.random() < 0.4:  # a negation inside the join, by a register or a computed value
            body.append(f"not seen({rng.choice(vs) if rng.random() < 0.5 else g.int_expr(vs, 1)})")
        for j in range(rng.randint(1, 3)):
            if rng.random() < 0.5:
                body.append(g.bool_expr(vs, depth))
            else:
                v = f"v{j}"
                body.append(f"{v} = {g.int_expr(vs, depth)}")
                vs.append(v)
        if kind == "neg":
            body.append("not seen(x)")
        if kind == "agg":  # over registers, or computed (the JIT computes an aggregate's columns)
            def arg():
                return rng.choice(vs) if rng.random() < 0.5 else g.int_expr(vs, depth)
            arg_fn = rng.choice(["argmax", "argmin"])
            fn = rng.choice(["count()", f"sum({arg()})", f"max({arg()})", f"min({arg()})", f"{arg_fn}({arg()}, {arg()})"])
            if fn.startswith("arg") and rng.random() < 0.5:  # a tie group: one key, two payloads
                key = arg()
                lines.append(f"output o{i}(k: int, n: int, m: int);")
                lines.append(f"o{i}({arg()}, {arg_fn}({key}, {arg()}), {arg_fn}({key}, {arg()})) <= {', '.join(body)};")
            else:
                lines.append(f"output o{i}(k: int, n: int);")
                lines.append(f"o{i}({arg()}, {fn}) <= {', '.join(body)};")
        elif kind == "text":
            lines.append(f"output o{i}(k: int, s: string);")
            lines.append(f"o{i}({rng.choice(vs)}, {g.str_expr(vs, depth)}) <= {', '.join(body)};")
        elif kind == "float":
            lines.append(f"output o{i}(k: int, f: float, c: bool);")
            lines.append(f"o{i}({rng.choice(vs)}, {g.float_expr(vs, depth)}, {g.bool_expr(vs, depth)}) <= {', '.join(body)};")
        else:
            lines.append(f"output o{i}(k: int, v: int);")
            lines.append(f"o{i}({rng.choice(vs)}, {g.int_expr(vs, depth)}) <= {', '.join(body)};")
        if rng.random() < 0.3:
            lines.append(f"seen({g.int_expr(['x', 'y'], 1)}) <= a(x, y), {g.bool_expr(['x', 'y'], 1)};")
    return "\n".join(lines) + "\n"


def facts(rng, rows):
    def value():
        return rng.choice(INTS) if rng.random() < 0.3 else rng.randint(-20, 20)
    return ["\n".join(f"{value()}\t{value()}" for _ in range(rows)) + "\n" for _ in range(2)]


def run(bloom, path, facts_dir, args):
    p = subprocess.run([bloom, "run", path, "-q", "-F", facts_dir] + args, capture_output=True, text=True, timeout=120)
    return p.returncode, p.stdout, p.stderr.replace(path, "PROGRAM")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bloom")
    ap.add_argument("--programs", type=int, default=200)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--rows", type=int, default=300)
    ap.add_argument("--keep")
    args = ap.parse_args()
    if os.environ.get("BLOOM_TEST_QUICK"):
        args.programs = max(1, args.programs // 4)
    rng = random.Random(args.seed)
    ran = errors = 0
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(args.programs):
            text = generate(rng)
            path = os.path.join(tmp, f"p{n}.bloom")
            with open(path, "w") as f:
                f.write(text)
            fdir = os.path.join(tmp, f"f{n}")
            os.makedirs(fdir)
            fa, fb = facts(rng, args.rows)
            with open(os.path.join(fdir, "a.facts"), "w") as f:
                f.write(fa)
            with open(os.path.join(fdir, "b.facts"), "w") as f:
                f.write(fb)
            chk = subprocess.run([args.bloom, "check", path], capture_output=True, text=True)
            if chk.returncode != 0:
                continue
            interp = run(args.bloom, path, fdir, ["--engine", "interp"])
            jit = run(args.bloom, path, fdir, ["--engine", "jit", "--jit-threshold", "0"])
            ran += 1
            errors += interp[0] != 0
            if jit != interp:
                if args.keep:
                    os.makedirs(args.keep, exist_ok=True)
                    with open(os.path.join(args.keep, f"p{n}.bloom"), "w") as f:
                        f.write(text)
                    for name, data in (("a", fa), ("b", fb)):
                        with open(os.path.join(args.keep, f"p{n}.{name}.facts"), "w") as f:
                            f.write(data)
                print(f"FAIL program {n} (jit differs from interp):\n{text}")
                print(f"interp: exit {interp[0]}\n{interp[1][:3000]}{interp[2]}\njit: exit {jit[0]}\n{jit[1][:3000]}{jit[2]}")
                return 1
    if ran < args.programs // 2:
        print(f"only {ran} of {args.programs} generated programs checked: the generator needs fixing")
        return 1
    if errors == 0 or errors == ran:
        print(f"{ran} programs, {errors} with a runtime error: the generator should reach both outcomes")
        return 1
    print(f"{ran} random programs: the JIT agrees with the interpreter ({errors} stop with the same runtime error)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
