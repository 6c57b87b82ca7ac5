#!/usr/bin/env python3
"""Generates a large, valid, realistic Bloom program for benchmarking `bloom check`.

Usage: gen_rules.py N OUT.bloom [--seed S]

The program has exactly N rules (plus a few facts) over about N/10 declarations: inputs,
channels and periodics as sources, keyed and unkeyed tables, scratches, outputs, lattice cells
(lmax, lmin, lset, lbool) and tables with lattice columns. Rules mix joins of 2-4 atoms, conditions,
assignments, negation, aggregates, lattice merges, threshold reads and reveals, `in`, the deferred
operators <+ <- <+- and <~ to channels and stdout.

It stays stratifiable by construction: every collection has a layer; an instantaneous (<=) rule
only reads collections of its head's layer or below, and non-monotone reads (`not`, aggregate
bodies, lattice reveals with .value()) only touch collections of a strictly lower layer. Deferred
and asynchronous rules cross a tick boundary, so they may read any layer. Every variable is bound
by a positive atom or an assignment; variables used once are written `_`; every declared
collection is written (or is a source) and read (or is an output).

Deterministic: the same N and seed give the same bytes on every Python 3 version (it uses its own
64-bit LCG, not the `random` module).
"""
import argparse
import re
import sys

MASK = (1 << 64) - 1


class Rng:
    def __init__(self, seed):
        self.s = (seed * 0x9E3779B97F4A7C15 + 1) & MASK

    def next(self):
        self.s = (self.s * 6364136223846793005 + 1442695040888963407) & MASK
        return self.s >> 33

    def below(self, n):
        if n <= 1:
            return 0
        lim = (1 << 31) - ((1 << 31) % n)
        while True:
            r = self.next()
            if r < lim:
                return r % n

    def chance(self, p):  # probability p in [0, 1]
        return self.below(1_000_000) < int(p * 1_000_000)

    def pick(self, seq):
        return seq[self.below(len(seq))]

    def range(self, lo, hi):  # inclusive
        return lo + self.below(hi - lo + 1)


WORDS = ["order", "item", "user", "account", "session", "link", "route", "node", "peer", "msg",
         "vote", "ballot", "lease", "lock", "job", "task", "shard", "replica", "block", "event",
         "price", "stock", "cart", "invoice", "token", "edge", "path", "cache", "entry", "metric",
         "alert", "ticket", "queue", "batch", "commit", "txn", "log", "span", "trace", "config"]
STRINGS = ["a", "b", "ok", "fail", "eu", "us", "pending", "done", "x", "primary"]

INT, STR = "int", "string"
LATTICE_ORDER = ("lmax<int>", "lmin<int>", "lset<string>", "lbool")


class Rel:
    def __init__(self, name, kind, layer, cols, key=None):
        self.name, self.kind, self.layer = name, kind, layer
        self.cols = cols            # [(name, type)]; a channel's first column is the @addr one
        self.key = key              # column names, or None
        self.written = kind in ("input", "channel", "periodic")
        self.read = kind == "output"
        self.derived = 0            # instantaneous rules writing it

        self.types = [t for _, t in cols]
        self.lattice = kind == "lattice" or any(is_lattice(t) for t in self.types)

    def holds_lattice(self):
        return self.lattice

    def is_lattice_cell(self):
        return self.kind == "lattice"

    def decl(self):
        if self.kind == "periodic":
            return f"periodic {self.name} every {self.every};"
        if self.kind == "lattice":
            return f"lattice {self.name}: {self.cols[0][1]};"
        cols = []
        for i, (n, t) in enumerate(self.cols):
            at = "@" if self.kind == "channel" and i == 0 else ""
            cols.append(f"{at}{n}: {t}")
        key = f" key({', '.join(self.key)})" if self.key else ""
        return f"{self.kind:<8} {self.name}({', '.join(cols)}){key};"


VAR = re.compile(r"\b[xsl][0-9]+\b")
BINDING = re.compile(r"^([xsl][0-9]+) (?:=|in) ")
ATOM = re.compile(r"^(?:not )?[a-z]+_[0-9]+\(")


def count_vars(text):
    counts = {}
    for m in VAR.finditer(text):
        counts[m.group(0)] = counts.get(m.group(0), 0) + 1
    return counts


def is_lattice(t):
    return t.startswith("l") and t not in ("int",)


class Gen:
    def __init__(self, n, seed):
        self.n = n
        self.rng = Rng(seed)
        self.rels = []
        self.by_layer = {}
        self.names = set()
        self.rules = []
        self.facts = []
        self.layers = max(4, min(16, int(n ** 0.5) // 8))
        self.cache = {}
        self.unread = []

    # ---------------------------------------------------------------- declarations
    def fresh_name(self):
        while True:
            name = f"{self.rng.pick(WORDS)}_{len(self.names)}"
            if name not in self.names:
                self.names.add(name)
                return name

    def plain_cols(self, lo=2, hi=4, last_int=False):
        n = self.rng.range(lo, hi)
        types = [self.rng.pick([INT, STR, INT]) for _ in range(n)]
        if last_int:
            types[-1] = INT
        return [(f"c{i}", t) for i, t in enumerate(types)]

    def add(self, rel):
        self.rels.append(rel)
        if not rel.read:
            self.unread.append(rel)
        self.by_layer.setdefault(rel.layer, []).append(rel)
        return rel

    def declare(self):
        count = max(12, self.n // 10)
        rng = self.rng
        # sources (layer 0)
        for _ in range(max(3, count // 10)):
            self.add(Rel(self.fresh_name(), "input", 0, self.plain_cols()))
        for _ in range(max(1, count // 50)):
            self.add(Rel(self.fresh_name(), "channel", 0, [("dst", "addr")] + self.plain_cols(1, 3)))
        for _ in range(max(1, count // 500)):
            r = self.add(Rel(self.fresh_name(), "periodic", 0, [("n", INT)]))
            r.every = rng.pick(["250ms", "1s", "2s", "1m"])
        # base tables (layer 0): facts and deferred updates only
        for _ in range(max(2, count // 10)):
            cols = self.plain_cols()
            key = [cols[0][0]] if rng.chance(0.5) else None
            self.add(Rel(self.fresh_name(), "table", 0, cols, key))
        remaining = count - len(self.rels)
        for i in range(remaining):
            layer = 1 + i * (self.layers - 1) // max(1, remaining)
            r = rng.below(100)
            top = layer >= self.layers - 2
            if r < (30 if top else 10):
                rel = Rel(self.fresh_name(), "output", layer, self.plain_cols(last_int=rng.chance(0.5)))
            elif r < 45:
                cols = self.plain_cols(last_int=rng.chance(0.6))
                key = [c for c, _ in cols[:rng.range(1, len(cols) - 1)]] if rng.chance(0.3) else None
                rel = Rel(self.fresh_name(), "table", layer, cols, key)
            elif r < 65:
                rel = Rel(self.fresh_name(), "scratch", layer, self.plain_cols(last_int=rng.chance(0.5)))
            elif r < 78:
                lt = rng.pick(LATTICE_ORDER)
                rel = Rel(self.fresh_name(), "lattice", layer, [("v", lt)])
            else:  # a map lattice: keyed table with one lattice column
                keys = self.plain_cols(1, 2)
                lt = rng.pick(["lmax<int>", "lmin<int>", "lset<string>"])
                rel = Rel(self.fresh_name(), "table", layer, keys + [(f"c{len(keys)}", lt)],
                          [c for c, _ in keys])
            self.add(rel)

    # ---------------------------------------------------------------- rule building
    def readable(self, max_layer, lattice=False):
        """Collections of layer <= max_layer: plain ones, or those holding lattice values."""
        key = (max_layer, lattice)
        cached = self.cache.get(key)
        if cached is None:
            cached = [r for layer in range(0, max_layer + 1) for r in self.by_layer.get(layer, [])
                      if r.holds_lattice() == lattice]
            self.cache[key] = cached
        return cached

    def pick_read(self, candidates, max_layer, lattice=False):
        """Prefers collections nobody reads yet, so every declaration ends up used."""
        if self.rng.chance(0.5):
            if len(self.rules) % 64 == 0:
                self.unread = [r for r in self.unread if not r.read]
            unread = [r for r in self.unread if not r.read and r.layer <= max_layer
                      and r.lattice == lattice]
            if unread:
                return self.rng.pick(unread)
        return self.rng.pick(candidates)

    class Body:
        def __init__(self, gen):
            self.gen = gen
            self.vars = {}      # name -> type
            self.lits = []      # strings; atoms keep '?name' placeholders resolved at the end
            self.count = 0

        def fresh(self, t):
            prefix = {"int": "x", "string": "s"}.get(t, "l")
            name = f"{prefix}{self.count}"
            self.count += 1
            self.vars[name] = t
            return name

        def of_type(self, t):
            return [v for v, vt in self.vars.items() if vt == t]

        def atom(self, rel, negated=False, lattice_use=None, must_join=False):
            """Adds rel(...) to the body; returns the variables bound per column."""
            rng = self.gen.rng
            args, bound = [], []
            joined = False
            for i, t in enumerate(rel.types):
                if rel.kind == "channel" and i == 0:
                    args.append("_")
                    bound.append(None)
                    continue
                if is_lattice(t):
                    if negated or lattice_use is None:
                        args.append("_")
                        bound.append(None)
                    else:
                        v = self.fresh(t)
                        args.append(v)
                        bound.append(v)
                    continue
                same = [v for v in self.of_type(t) if v not in args]  # x, x in one atom is rare
                if same and (negated or must_join and not joined or rng.chance(0.3)):
                    v = rng.pick(same)
                    joined = True
                elif negated:
                    v = "_" if rng.chance(0.7) or t != INT else str(rng.below(10))
                elif rng.chance(0.15):
                    v = "_"
                else:
                    v = self.fresh(t)
                args.append(v)
                bound.append(v if v != "_" else None)
            self.lits.append(("not " if negated else "") + f"{rel.name}({', '.join(args)})")
            rel.read = True
            return bound

        def condition(self):
            rng = self.gen.rng
            ints, strs = self.of_type(INT), self.of_type(STR)
            choices = []
            if ints:
                x = rng.pick(ints)
                choices += [f"{x} > {rng.below(100)}", f"{x} % {rng.range(2, 9)} == {rng.below(2)}",
                            f"{x} <= {rng.range(10, 10000)}", f"{x} != {rng.below(5)}"]
                if len(ints) > 1:
                    y = rng.pick([v for v in ints if v != x])
                    choices += [f"{x} < {y}", f"{x} != {y}", f"{x} + {y} >= {rng.below(50)}"]
            if strs:
                s = rng.pick(strs)
                choices += [f"{s} != \"{rng.pick(STRINGS)}\"", f"len({s}) > {rng.below(4)}"]
                if len(strs) > 1:
                    s2 = rng.pick([v for v in strs if v != s])
                    choices.append(f"{s} != {s2}")
            if choices:
                self.lits.append(rng.pick(choices))

        def value_of(self, t):
            """An expression of type t over bound variables (or a literal)."""
            rng = self.gen.rng
            ints, strs = self.of_type(INT), self.of_type(STR)
            if t == INT:
                if ints and rng.chance(0.8):
                    x = rng.pick(ints)
                    return rng.pick([x, x, x, f"{x} + 1", f"{x} * 2", f"{x} - {rng.below(9)}"])
                if strs and rng.chance(0.5):
                    return f"len({rng.pick(strs)})"
                return str(rng.below(100))
            if strs and rng.chance(0.8):
                s = rng.pick(strs)
                return rng.pick([s, s, s, f"{s} + \"_\"", f"substr({s}, 0, 3)"])
            if ints and rng.chance(0.6):
                return f"to_string({rng.pick(ints)})"
            return f"\"{rng.pick(STRINGS)}\""

        def assign(self, t):
            expr = self.value_of(t)
            v = self.fresh(t)
            self.lits.append(f"{v} = {expr}")
            return v

        def render(self, head):
            """Returns the body literals for `head` (its text). Assignments and `in` bindings
            whose variable is never used are dropped; variables used once become `_`."""
            lits = list(self.lits)
            while True:
                counts = count_vars(head + " " + " ".join(lits))
                keep = []
                for lit in lits:
                    m = BINDING.match(lit)
                    if m and counts.get(m.group(1), 0) == 1:
                        continue
                    keep.append(lit)
                if len(keep) == len(lits):
                    break
                lits = keep
            single = {v for v, c in counts.items() if c == 1}
            out = []
            for lit in lits:
                if ATOM.match(lit):
                    lit = VAR.sub(lambda m: "_" if m.group(0) in single else m.group(0), lit)
                out.append(lit)
            return out

    def head_args(self, body, rel, agg=None):
        args = []
        types = rel.types
        for i, t in enumerate(types):
            if agg is not None and i == len(types) - 1:
                args.append(agg)
            elif is_lattice(t):
                args.append(self.lattice_value(body, t))
            elif rel.kind == "channel" and i == 0:
                args.append("@self()")
            else:
                same = body.of_type(t)
                if same and self.rng.chance(0.85):
                    args.append(self.rng.pick(same))
                else:
                    args.append(body.value_of(t))
        return args

    def lattice_value(self, body, t):
        if t in ("lmax<int>", "lmin<int>"):
            return body.value_of(INT)
        if t == "lset<string>":
            return body.value_of(STR)
        return "true"  # lbool

    def lattice_read(self, body, rel, head_layer, allow_reveal):
        """Reads a lattice cell or lattice column monotonically (threshold) or as a reveal."""
        bound = body.atom(rel, lattice_use=True)
        lv = next((v for v in bound if v and is_lattice(body.vars[v])), None)
        if lv is None:
            return
        t = body.vars[lv]
        rng = self.rng
        reveal = allow_reveal and rel.layer < head_layer and rng.chance(0.35)
        if t == "lmax<int>":
            if reveal:
                body.lits.append(f"{body.fresh(INT)} = {lv}.value()")
            else:
                body.lits.append(f"{lv} >= {rng.below(50)}")
        elif t == "lmin<int>":
            if reveal:
                body.lits.append(f"{body.fresh(INT)} = {lv}.value()")
            else:
                body.lits.append(f"{lv} < {rng.range(50, 500)}")
        elif t == "lset<string>":
            r = rng.below(3)
            if r == 0:
                body.lits.append(f"{body.fresh(STR)} in {lv}")
            elif r == 1:
                body.lits.append(f"{lv}.size() >= {rng.range(1, 5)}")
            else:
                strs = body.of_type(STR)
                arg = rng.pick(strs) if strs else f"\"{rng.pick(STRINGS)}\""
                body.lits.append(f"{lv}.contains({arg})")
        else:  # lbool
            body.lits.append(lv)

    def positive_atoms(self, body, head_layer, k, strictly_lower=False):
        top = head_layer - 1 if strictly_lower else head_layer
        cands = self.readable(top)
        for _ in range(k):
            rel = self.pick_read(cands, top)
            body.atom(rel, must_join=bool(body.vars))

    def emit(self, head_rel, op, body, args):
        head = f"{head_rel.name}({', '.join(args)})"
        lits = body.render(head + " ")
        self.rules.append(f"{head} {op} {', '.join(lits)};")
        if op == "<=":
            head_rel.derived += 1
        head_rel.written = True

    # rule kinds -----------------------------------------------------------------
    def rule_join(self, head):
        body = self.Body(self)
        self.positive_atoms(body, head.layer, self.rng.range(2, 4))
        if self.rng.chance(0.25):
            lat = self.readable(head.layer, lattice=True)
            if lat:
                self.lattice_read(body, self.pick_read(lat, head.layer, lattice=True), head.layer,
                                  allow_reveal=True)
        for _ in range(self.rng.below(3)):
            body.condition()
        if self.rng.chance(0.3):
            body.assign(self.rng.pick([INT, STR]))
        self.emit(head, "<=", body, self.head_args(body, head))

    def rule_negation(self, head):
        lower = self.readable(head.layer - 1)
        body = self.Body(self)
        self.positive_atoms(body, head.layer, self.rng.range(1, 2))
        body.atom(self.pick_read(lower, head.layer - 1), negated=True)
        if self.rng.chance(0.5):
            body.condition()
        self.emit(head, "<=", body, self.head_args(body, head))

    def rule_aggregate(self, head):
        body = self.Body(self)
        self.positive_atoms(body, head.layer, self.rng.range(1, 3), strictly_lower=True)
        if self.rng.chance(0.3):
            body.condition()
        ints = body.of_type(INT)
        if ints and self.rng.chance(0.7):
            agg = f"{self.rng.pick(['sum', 'min', 'max'])}({self.rng.pick(ints)})"
        else:
            agg = "count()"
        self.emit(head, "<=", body, self.head_args(body, head, agg=agg))

    def rule_lattice_merge(self, head):
        body = self.Body(self)
        self.positive_atoms(body, head.layer, self.rng.range(1, 3))
        if self.rng.chance(0.3):
            body.condition()
        self.emit(head, "<=", body, self.head_args(body, head))

    def rule_deferred(self, head):
        rng = self.rng
        body = self.Body(self)
        if head.key and rng.chance(0.4) and not any(is_lattice(t) for t in head.types):
            # upsert: same key, new values
            bound = body.atom(head)
            self.positive_atoms(body, self.layers - 1, 1)
            args = []
            for (c, t), v in zip(head.cols, bound):
                if c in head.key:
                    args.append(v if v else body.value_of(t))
                else:
                    args.append(body.value_of(t))
            if rng.chance(0.5):
                body.condition()
            self.emit(head, "<+-", body, args)
            return
        if rng.chance(0.3) and not any(is_lattice(t) for t in head.types):
            # delete some existing tuples: the head repeats the whole tuple
            args = [body.fresh(t) for t in head.types]
            body.lits.append(f"{head.name}({', '.join(args)})")
            head.read = True
            if rng.chance(0.5):
                self.positive_atoms(body, self.layers - 1, 1)
            body.condition()
            self.emit(head, "<-", body, args)
            return
        self.positive_atoms(body, self.layers - 1, rng.range(1, 3))
        if rng.chance(0.5):
            body.condition()
        self.emit(head, "<+", body, self.head_args(body, head))

    def rule_async(self):
        rng = self.rng
        body = self.Body(self)
        self.positive_atoms(body, self.layers - 1, rng.range(1, 2))
        chans = [r for r in self.rels if r.kind == "channel"]
        if chans and rng.chance(0.8):
            ch = self.pick_written(chans)
            self.emit(ch, "<~", body, self.head_args(body, ch))
        else:
            ints, strs = body.of_type(INT), body.of_type(STR)
            parts = [f"\"{rng.pick(WORDS)}: \""]
            if strs:
                parts.append(rng.pick(strs))
            if ints:
                parts.append(f"to_string({rng.pick(ints)})")
            line = " + ".join(parts)
            lits = body.render(f"stdout({line}) ")
            self.rules.append(f"stdout({line}) <~ {', '.join(lits)};")

    def pick_written(self, cands):
        unwritten = [r for r in cands if not r.written]
        return self.rng.pick(unwritten) if unwritten and self.rng.chance(0.6) else self.rng.pick(cands)

    # ---------------------------------------------------------------- the whole program
    def generate(self):
        self.declare()
        rng = self.rng
        derived = [r for r in self.rels if r.layer >= 1]
        base = [r for r in self.rels if r.kind == "table" and r.layer == 0]
        tables = [r for r in self.rels if r.kind == "table"]
        agg_heads = [r for r in derived if r.kind in ("output", "table", "scratch")
                     and r.types[-1] == INT and not any(is_lattice(t) for t in r.types)]
        plain_heads = [r for r in derived if r.kind in ("output", "table", "scratch")
                       and not any(is_lattice(t) for t in r.types)]
        lattice_heads = [r for r in derived if r.kind == "lattice" or any(is_lattice(t) for t in r.types)]

        # facts for the base tables and a few lattice cells
        for r in base:
            keys = set()
            for _ in range(rng.range(1, 3)):
                vals = [str(rng.below(100)) if t == INT else f"\"{rng.pick(STRINGS)}\"" for t in r.types]
                key = tuple(v for (c, _), v in zip(r.cols, vals) if r.key is None or c in r.key)
                if key in keys:  # a keyed table holds one tuple per key
                    continue
                keys.add(key)
                self.facts.append(f"{r.name}({', '.join(vals)});")
            r.written = True
        # reserve rules for writing every collection once and reading every unread one
        reserve = len(derived) + len(base)
        budget = self.n - min(reserve, self.n // 2)

        # the first rule of each derived collection makes sure it is written
        for r in derived:
            if len(self.rules) >= self.n:
                break
            if r in lattice_heads:
                self.rule_lattice_merge(r)
            else:
                self.rule_join(r)
        while len(self.rules) < budget:
            k = rng.below(100)
            if k < 42 and plain_heads:
                self.rule_join(rng.pick(plain_heads))
            elif k < 54 and plain_heads:
                self.rule_negation(rng.pick(plain_heads))
            elif k < 62 and agg_heads:
                self.rule_aggregate(rng.pick(agg_heads))
            elif k < 74 and lattice_heads:
                self.rule_lattice_merge(rng.pick(lattice_heads))
            elif k < 92 and tables:
                self.rule_deferred(self.pick_written(base) if rng.chance(0.5) else rng.pick(tables))
            else:
                self.rule_async()
        # read what nobody reads yet: an output of the top layers (or stdout) consumes it
        outputs_top = [r for r in self.rels if r.kind == "output" and r.layer == self.layers - 1]
        for r in self.rels:
            if len(self.rules) >= self.n:
                break
            if r.read:
                continue
            body = self.Body(self)
            if r.kind == "lattice" or any(is_lattice(t) for t in r.types):
                self.lattice_read(body, r, self.layers, allow_reveal=False)
            else:
                body.atom(r)
            if outputs_top and rng.chance(0.7):
                head = rng.pick(outputs_top)
                self.emit(head, "<=", body, self.head_args(body, head))
            else:
                t = [r for r in tables if not any(is_lattice(c) for c in r.types)]
                head = rng.pick(t)
                self.emit(head, "<+", body, self.head_args(body, head))
        # unwritten channels get a sender; then fill up to exactly N rules
        for r in self.rels:
            if r.kind == "channel" and not r.written and len(self.rules) < self.n:
                body = self.Body(self)
                self.positive_atoms(body, self.layers - 1, 1)
                self.emit(r, "<~", body, self.head_args(body, r))
        while len(self.rules) < self.n:
            self.rule_join(rng.pick(plain_heads))
        del self.rules[self.n:]

    def render(self):
        out = [f"// Generated by bench/gen_rules.py: {self.n} rules over {len(self.rels)} collections "
               f"in {self.layers} layers. Do not edit.", ""]
        kinds = ["input", "channel", "periodic", "table", "scratch", "lattice", "output"]
        for k in kinds:
            rels = [r for r in self.rels if r.kind == k]
            if not rels:
                continue
            out.append(f"// {k}s")
            out += [r.decl() for r in rels]
            out.append("")
        out.append("// facts")
        out += self.facts
        out.append("")
        out.append("// rules")
        out += self.rules
        out.append("")
        return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("n", type=int, help="number of rules")
    ap.add_argument("out", help="output .bloom file ('-' for stdout)")
    ap.add_argument("--seed", type=int, default=42)
    a = ap.parse_args()
    if a.n < 20:
        ap.error("N must be at least 20")
    g = Gen(a.n, a.seed)
    g.generate()
    text = g.render()
    if a.out == "-":
        sys.stdout.write(text)
    else:
        with open(a.out, "w") as f:
            f.write(text)
    print(f"gen_rules: {a.out}: {len(g.rules)} rules, {len(g.facts)} facts, {len(g.rels)} collections, "
          f"{g.layers} layers, {len(text)} bytes", file=sys.stderr)


if __name__ == "__main__":
    main()
