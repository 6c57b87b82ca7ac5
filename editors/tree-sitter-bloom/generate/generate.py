#!/usr/bin/env python3
"""Writes src/parser.c for a tree-sitter grammar JSON (generate/dsl.js), in the format of
libtree-sitter 0.20.x (LANGUAGE_VERSION 14), without the official tree-sitter CLI.

It serves grammar.js of this folder and fails loudly on what it does not implement rather than
emit a parser that differs from the official generator's. What it does:
  - tokens: strings and regexes (the JavaScript subset the grammar uses) and token(...); one lexer
    DFA (longest match, one lex mode for every parse state), whitespace extras skipped, the
    `word` token's keywords lexed by a second DFA as tree-sitter does (a keyword wins only where
    the parse state accepts it);
  - rules flattened into productions: seq/choice/optional expanded, repeat into left-recursive
    hidden auxiliary rules (`x_repeatN`), hidden `_rules`, fields, aliases to an existing name;
  - a canonical LR(1) automaton whose states are merged by core (LALR(1)) only when the merge
    changes no action of any state; conflicts resolved with prec/prec.left/prec.right as
    tree-sitter documents (higher precedence wins; equal precedence: left reduces, right shifts);
    any other conflict is an error: no GLR table;
  - extras (the comment token) accepted in every state, state 0 the error-recovery state.
Not implemented (an error if used): externals, conflicts, inline, supertypes, precedences,
dynamic precedence, token.immediate, fields inside hidden or repeated rules, aliases to new names.
Usage: generate.py grammar.json out/parser.c
"""
import json
import sys
from collections import OrderedDict

MAX_CHAR = 0x10FFFF


class GenError(Exception):
    pass


# ---------------------------------------------------------------- regular expressions -> NFA
class NFA:
    def __init__(self):
        self.eps = []      # state -> [state]
        self.trans = []    # state -> [(ranges, state)]
        self.accept = {}   # state -> token index

    def new(self):
        self.eps.append([])
        self.trans.append([])
        return len(self.eps) - 1


def ranges_normalize(rs):
    rs = sorted(rs)
    out = []
    for lo, hi in rs:
        if out and lo <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


def ranges_negate(rs):
    out, nxt = [], 1  # NUL is end of input for the lexer: no class matches it
    for lo, hi in ranges_normalize(rs):
        if lo > nxt:
            out.append((nxt, lo - 1))
        nxt = max(nxt, hi + 1)
    if nxt <= MAX_CHAR:
        out.append((nxt, MAX_CHAR))
    return out


CLASS_ESCAPES = {
    'd': [(48, 57)],
    'w': [(48, 57), (65, 90), (95, 95), (97, 122)],
    's': [(9, 13), (32, 32), (0xA0, 0xA0), (0x2028, 0x2029), (0xFEFF, 0xFEFF)],
}
CHAR_ESCAPES = {'n': 10, 'r': 13, 't': 9, 'f': 12, 'v': 11, '0': 0}


class Regex:
    """Parses a JavaScript regex of the subset grammars use into an NFA fragment."""

    def __init__(self, nfa, src):
        self.nfa, self.src, self.i = nfa, src, 0

    def fail(self, msg):
        raise GenError(f'regex /{self.src}/: {msg} at {self.i}')

    def peek(self):
        return self.src[self.i] if self.i < len(self.src) else None

    def parse(self):
        frag = self.alternation()
        if self.i != len(self.src):
            self.fail('unexpected character')
        return frag

    def alternation(self):
        frags = [self.sequence()]
        while self.peek() == '|':
            self.i += 1
            frags.append(self.sequence())
        if len(frags) == 1:
            return frags[0]
        s, e = self.nfa.new(), self.nfa.new()
        for a, b in frags:
            self.nfa.eps[s].append(a)
            self.nfa.eps[b].append(e)
        return s, e

    def sequence(self):
        s = self.nfa.new()
        cur = s
        while self.peek() not in (None, '|', ')'):
            a, b = self.quantified()
            self.nfa.eps[cur].append(a)
            cur = b
        return s, cur

    def quantified(self):
        a, b = self.atom()
        q = self.peek()
        if q in ('*', '+', '?'):
            self.i += 1
            if self.peek() == '?':
                self.fail('lazy quantifiers are not supported')
            s, e = self.nfa.new(), self.nfa.new()
            self.nfa.eps[s].append(a)
            self.nfa.eps[b].append(e)
            if q in ('*', '?'):
                self.nfa.eps[s].append(e)
            if q in ('*', '+'):
                self.nfa.eps[b].append(a)
            return s, e
        if q == '{':
            self.fail('counted repetition is not supported')
        return a, b

    def char_fragment(self, ranges):
        s, e = self.nfa.new(), self.nfa.new()
        self.nfa.trans[s].append((ranges_normalize(ranges), e))
        return s, e

    def escape(self):
        c = self.src[self.i]
        self.i += 1
        if c in CLASS_ESCAPES:
            return CLASS_ESCAPES[c]
        if c in ('D', 'W', 'S'):
            return ranges_negate(CLASS_ESCAPES[c.lower()])
        if c in CHAR_ESCAPES:
            return [(CHAR_ESCAPES[c], CHAR_ESCAPES[c])]
        if c.isalnum():
            self.fail(f'escape \\{c} is not supported')
        return [(ord(c), ord(c))]

    def atom(self):
        c = self.peek()
        if c is None:
            self.fail('unexpected end')
        self.i += 1
        if c == '(':
            if self.src.startswith('?:', self.i):
                self.i += 2
            elif self.peek() == '?':
                self.fail('lookaround is not supported')
            frag = self.alternation()
            if self.peek() != ')':
                self.fail('missing )')
            self.i += 1
            return frag
        if c == '[':
            return self.char_fragment(self.char_class())
        if c == '.':
            return self.char_fragment(ranges_negate([(10, 10), (13, 13)]))
        if c == '\\':
            return self.char_fragment(self.escape())
        if c in '*+?{)|^$':
            self.fail(f'unexpected {c}')
        return self.char_fragment([(ord(c), ord(c))])

    def class_char(self):
        c = self.src[self.i]
        self.i += 1
        if c == '\\':
            return self.escape()
        return [(ord(c), ord(c))]

    def char_class(self):
        negate = self.peek() == '^'
        if negate:
            self.i += 1
        ranges = []
        while True:
            if self.peek() is None:
                self.fail('missing ]')
            if self.peek() == ']':
                self.i += 1
                break
            lo = self.class_char()
            if self.peek() == '-' and self.i + 1 < len(self.src) and self.src[self.i + 1] != ']':
                self.i += 1
                hi = self.class_char()
                if len(lo) != 1 or len(hi) != 1 or lo[0][0] != lo[0][1] or hi[0][0] != hi[0][1]:
                    self.fail('bad range')
                ranges.append((lo[0][0], hi[0][0]))
            else:
                ranges.extend(lo)
        return ranges_negate(ranges) if negate else ranges


def token_fragment(nfa, rule):
    t = rule['type']
    if t == 'STRING':
        s = cur = nfa.new()
        for ch in rule['value']:
            n = nfa.new()
            nfa.trans[cur].append(([(ord(ch), ord(ch))], n))
            cur = n
        return s, cur
    if t == 'PATTERN':
        return Regex(nfa, rule['value']).parse()
    if t in ('SEQ', 'CHOICE'):
        frags = [token_fragment(nfa, m) for m in rule['members']]
        s, e = nfa.new(), nfa.new()
        if t == 'SEQ':
            cur = s
            for a, b in frags:
                nfa.eps[cur].append(a)
                cur = b
            nfa.eps[cur].append(e)
        else:
            for a, b in frags:
                nfa.eps[s].append(a)
                nfa.eps[b].append(e)
        return s, e
    if t == 'BLANK':
        s = nfa.new()
        return s, s
    if t in ('REPEAT', 'REPEAT1'):
        a, b = token_fragment(nfa, rule['content'])
        s, e = nfa.new(), nfa.new()
        nfa.eps[s].append(a)
        nfa.eps[b].extend([e, a])
        if t == 'REPEAT':
            nfa.eps[s].append(e)
        return s, e
    if t in ('PREC', 'PREC_LEFT', 'PREC_RIGHT', 'TOKEN'):
        return token_fragment(nfa, rule['content'])
    raise GenError(f'{t} inside a token is not supported')


def build_dfa(tokens):
    """tokens: [(token index, rule)]. Returns (states, start): states[i] = (accept, [(ranges, j)])."""
    nfa = NFA()
    start = nfa.new()
    for index, rule in tokens:
        a, b = token_fragment(nfa, rule)
        nfa.eps[start].append(a)
        if b in nfa.accept:
            raise GenError('internal: shared accept state')
        nfa.accept[b] = index

    def eclose(states):
        stack, seen = list(states), set(states)
        while stack:
            for n in nfa.eps[stack.pop()]:
                if n not in seen:
                    seen.add(n)
                    stack.append(n)
        return frozenset(seen)

    first = eclose([start])
    ids = {first: 0}
    order = [first]
    out = []
    while len(out) < len(order):
        cur = order[len(out)]
        accepts = sorted({nfa.accept[s] for s in cur if s in nfa.accept})
        if len(accepts) > 1:
            raise GenError(f'lexical conflict between tokens {accepts}: the same text matches both')
        edges = [(r, t) for s in cur for rs, t in nfa.trans[s] for r in rs]
        points = sorted({lo for (lo, hi), _ in edges} | {hi + 1 for (lo, hi), _ in edges})
        by_target = OrderedDict()
        for k in range(len(points) - 1):
            lo, hi = points[k], points[k + 1] - 1
            targets = [t for (a, b), t in edges if a <= lo and hi <= b]
            if not targets:
                continue
            nxt = eclose(targets)
            if nxt not in ids:
                ids[nxt] = len(order)
                order.append(nxt)
            by_target.setdefault(ids[nxt], []).append((lo, hi))
        out.append((accepts[0] if accepts else None,
                    [(ranges_normalize(rs), t) for t, rs in by_target.items()]))
    return out


def matches_whole(dfa, text):
    state = 0
    for ch in text:
        c = ord(ch)
        for rs, t in dfa[state][1]:
            if any(lo <= c <= hi for lo, hi in rs):
                state = t
                break
        else:
            return False
    return dfa[state][0] is not None


# ---------------------------------------------------------------- grammar -> productions
class Grammar:
    def __init__(self, js):
        self.js = js
        for key in ('externals', 'conflicts', 'inline', 'supertypes', 'precedences'):
            if js.get(key):
                raise GenError(f'{key} is not supported')
        self.rules = js['rules']
        # Symbol 0 is the end of input; then terminals; then non-terminals.
        self.names = ['end']
        self.named = [True]
        self.visible = [False]
        self.term_rules = {}      # terminal symbol -> token rule
        self.anon = {}            # string -> symbol
        self.named_tokens = {}    # rule name -> symbol
        for name, rule in self.rules.items():
            if self.is_token_rule(rule):
                sym = self.add_symbol(name, True, not name.startswith('_'))
                self.named_tokens[name] = sym
                self.term_rules[sym] = rule
        for name, rule in self.rules.items():
            if name not in self.named_tokens:
                self.collect_strings(rule)
        self.extra_tokens = []
        self.skip_patterns = []
        for e in js.get('extras', []):
            if e['type'] == 'SYMBOL' and e['name'] in self.named_tokens:
                self.extra_tokens.append(self.named_tokens[e['name']])
            elif e['type'] in ('PATTERN', 'STRING'):
                self.skip_patterns.append(e)
            else:
                raise GenError('extras must be tokens')
        self.token_count = len(self.names)
        self.nonterminals = {}
        for name in self.rules:
            if name not in self.named_tokens:
                self.nonterminals[name] = self.add_symbol(name, True, not name.startswith('_'))
        self.productions = []     # (lhs, [step]); step = dict(sym, prec, assoc, field, alias)
        self.aux_count = {}
        self.aux_symbols = set()
        self.prods_of = {}
        self.start_rule = next(iter(self.rules))
        for name, sym in list(self.nonterminals.items()):
            for steps in self.expand(self.rules[name], name, (0, None, None, None)):
                self.add_production(sym, steps, name)
        self.symbol_count = len(self.names)

    @staticmethod
    def is_token_rule(rule):
        while rule['type'] in ('PREC', 'PREC_LEFT', 'PREC_RIGHT'):
            rule = rule['content']
        return rule['type'] in ('PATTERN', 'TOKEN', 'IMMEDIATE_TOKEN') or (
            rule['type'] == 'STRING')

    def add_symbol(self, name, named, visible):
        self.names.append(name)
        self.named.append(named)
        self.visible.append(visible)
        return len(self.names) - 1

    def collect_strings(self, rule):
        t = rule['type']
        if t == 'STRING':
            if rule['value'] not in self.anon:
                sym = self.add_symbol(rule['value'], False, True)
                self.anon[rule['value']] = sym
                self.term_rules[sym] = rule
        elif t in ('PATTERN', 'TOKEN', 'IMMEDIATE_TOKEN'):
            raise GenError('a token inside a rule must be a rule of its own (a named token)')
        elif t in ('SEQ', 'CHOICE'):
            for m in rule['members']:
                self.collect_strings(m)
        elif 'content' in rule:
            self.collect_strings(rule['content'])

    def add_production(self, lhs, steps, rule_name):
        hidden = self.names[lhs].startswith('_') or not self.visible[lhs]
        if hidden and any(s['field'] for s in steps) and lhs != self.nonterminals.get(self.start_rule):
            raise GenError(f'fields inside the hidden rule {rule_name} are not supported')
        if not steps and self.names[lhs] != self.start_rule:
            raise GenError(f'rule {rule_name} matches the empty string')
        self.productions.append((lhs, steps))
        self.prods_of.setdefault(lhs, []).append(len(self.productions) - 1)

    def expand(self, rule, rule_name, ctx):
        prec, assoc, field, alias = ctx
        t = rule['type']
        if t == 'BLANK':
            return [[]]
        if t in ('STRING', 'SYMBOL'):
            if t == 'STRING':
                sym = self.anon[rule['value']]
            elif rule['name'] in self.named_tokens:
                sym = self.named_tokens[rule['name']]
            else:
                sym = self.nonterminals[rule['name']]
            return [[dict(sym=sym, prec=prec, assoc=assoc, field=field, alias=alias)]]
        if t == 'SEQ':
            result = [[]]
            for m in rule['members']:
                parts = self.expand(m, rule_name, ctx)
                result = [a + b for a in result for b in parts]
            return result
        if t == 'CHOICE':
            return [p for m in rule['members'] for p in self.expand(m, rule_name, ctx)]
        if t == 'REPEAT':
            return self.expand({'type': 'REPEAT1', 'content': rule['content']}, rule_name, ctx) + [[]]
        if t == 'REPEAT1':
            n = self.aux_count.get(rule_name, 0) + 1
            self.aux_count[rule_name] = n
            aux = self.add_symbol(f'{rule_name}_repeat{n}', False, False)
            self.aux_symbols.add(aux)
            inner = self.expand(rule['content'], rule_name, (0, None, None, None))
            if any(s['field'] or s['alias'] for p in inner for s in p):
                raise GenError(f'fields or aliases inside a repeat of {rule_name} are not supported')
            # As tree-sitter: x_repeat -> x_repeat x_repeat | content. The ambiguity is kept in
            # the table (REDUCE + SHIFT_REPEAT); the runtime reduces and balances these nodes.
            step = dict(sym=aux, prec=0, assoc=None, field=None, alias=None)
            self.add_production(aux, [step, dict(step)], rule_name)
            for p in inner:
                self.add_production(aux, p, rule_name)
            return [[dict(sym=aux, prec=prec, assoc=assoc, field=field, alias=alias)]]
        if t == 'FIELD':
            return self.expand(rule['content'], rule_name, (prec, assoc, rule['name'], alias))
        if t == 'ALIAS':
            if rule['content']['type'] not in ('STRING', 'SYMBOL', 'CHOICE'):
                raise GenError('alias of a sequence is not supported')
            prods = self.expand(rule['content'], rule_name, (prec, assoc, field, (rule['value'], rule['named'])))
            if any(len(p) != 1 for p in prods):
                raise GenError(f'alias of a sequence in rule {rule_name} is not supported')
            return prods
        if t in ('PREC', 'PREC_LEFT', 'PREC_RIGHT'):
            if not isinstance(rule['value'], int):
                raise GenError('named precedences are not supported')
            a = {'PREC': None, 'PREC_LEFT': 'left', 'PREC_RIGHT': 'right'}[t]
            return self.expand(rule['content'], rule_name, (rule['value'], a, field, alias))
        raise GenError(f'{t} in rule {rule_name} is not supported')


# ---------------------------------------------------------------- LR(1) automaton
class Automaton:
    def __init__(self, g):
        self.g = g
        self.T = g.token_count
        start_sym = g.nonterminals[g.start_rule]
        # Production -1 (index len) is the augmented start: S' -> start.
        self.prods = [(lhs, [s['sym'] for s in steps]) for lhs, steps in g.productions]
        self.aug = len(self.prods)
        self.prods.append((-1, [start_sym]))
        self.compute_first()
        self.build()

    def compute_first(self):
        g = self.g
        self.nullable = set()
        self.first = {s: set() for s in range(self.T, g.symbol_count)}
        changed = True
        while changed:
            changed = False
            for lhs, rhs in self.prods[:-1]:
                f = self.first[lhs]
                before = len(f)
                all_null = True
                for s in rhs:
                    if s < self.T:
                        f.add(s)
                        all_null = False
                        break
                    f |= self.first[s]
                    if s not in self.nullable:
                        all_null = False
                        break
                if all_null and lhs not in self.nullable:
                    self.nullable.add(lhs)
                    changed = True
                if len(f) != before:
                    changed = True
        self.suffix = {}
        for p, (lhs, rhs) in enumerate(self.prods):
            for d in range(len(rhs) + 1):
                f, null = set(), True
                for s in rhs[d:]:
                    if s < self.T:
                        f.add(s)
                        null = False
                        break
                    f |= self.first[s]
                    if s not in self.nullable:
                        null = False
                        break
                self.suffix[(p, d)] = (frozenset(f), null)

    def closure(self, kernel):
        items = {core: set(la) for core, la in kernel.items()}
        work = list(items)
        while work:
            p, d = work.pop()
            rhs = self.prods[p][1]
            if d >= len(rhs) or rhs[d] < self.T:
                continue
            f, null = self.suffix[(p, d + 1)]
            la = set(f)
            if null:
                la |= items[(p, d)]
            for q in self.g.prods_of[rhs[d]]:
                cur = items.get((q, 0))
                if cur is None:
                    items[(q, 0)] = set(la)
                    work.append((q, 0))
                elif not la <= cur:
                    cur |= la
                    work.append((q, 0))
        return items

    def build(self):
        key = lambda k: frozenset((c, frozenset(la)) for c, la in k.items())
        init = {(self.aug, 0): {0}}
        self.states = [self.closure(init)]
        ids = {key(init): 0}
        self.gotos = [{}]
        i = 0
        while i < len(self.states):
            items = self.states[i]
            nxt = OrderedDict()
            for (p, d), la in sorted(items.items()):
                rhs = self.prods[p][1]
                if d < len(rhs):
                    nxt.setdefault(rhs[d], {})[(p, d + 1)] = la
            for sym, kernel in nxt.items():
                k = key(kernel)
                if k not in ids:
                    ids[k] = len(self.states)
                    self.states.append(self.closure(kernel))
                    self.gotos.append({})
                self.gotos[i][sym] = ids[k]
            i += 1

    # Tree-sitter's rules (build_parse_table.rs): an item's precedence and associativity are those
    # of the step before its dot (of its last step once done). Reductions of lower precedence are
    # dropped. Against a shift, the precedences of the items in progress (dot not at the start)
    # whose next symbol can begin with the lookahead are compared with the reductions': higher
    # wins; if equal, all-left reductions win and all-right shifts win. A conflict whose items all
    # belong to one repeat rule is the repeat's own ambiguity: both actions stay, the shift marked
    # as a repetition. Anything else is an unresolved conflict.
    def item_prec(self, p, d):
        if p == self.aug or d == 0:
            return 0, None
        s = self.g.productions[p][1][d - 1]
        return s['prec'], s['assoc']

    def first_of(self, sym):
        return {sym} if sym < self.T else self.first[sym]

    def actions(self, i):
        """Resolved actions of canonical state i: terminal -> tuple of ('s', state),
        ('s*', state) (a repetition shift), ('r', prod) or ('a',)."""
        items = self.states[i]
        out = {}
        reduces = {}
        for (p, d), la in items.items():
            if d == len(self.prods[p][1]):
                for t in la:
                    reduces.setdefault(t, []).append(p)
        for t in set(reduces) | {s for s in self.gotos[i] if s < self.T}:
            shift = self.gotos[i].get(t)
            rs = reduces.get(t, [])
            if self.aug in rs:
                out[t] = (('a',),)
                continue
            if rs:
                best = max(self.item_prec(p, len(self.prods[p][1]))[0] for p in rs)
                rs = [p for p in rs if self.item_prec(p, len(self.prods[p][1]))[0] == best]
            acts = [('r', p) for p in rs] + ([('s', shift)] if shift is not None else [])
            if len(acts) == 1:
                out[t] = tuple(acts)
                continue
            shifting = [(q, e) for (q, e) in items if 0 < e < len(self.prods[q][1])
                        and t in self.first_of(self.prods[q][1][e])] if shift is not None else []
            owners = {self.prods[q][0] for q, _ in shifting} | {self.prods[p][0] for p in rs}
            if shift is not None and len(owners) == 1 and next(iter(owners)) in self.g.aux_symbols:
                out[t] = tuple(acts[:-1]) + (('s*', shift),)
                continue
            if shift is not None:
                rprec = self.item_prec(rs[0], len(self.prods[rs[0]][1]))[0]
                sprecs = [self.item_prec(q, e)[0] for q, e in shifting]
                more = any(x > rprec for x in sprecs)
                less = any(x < rprec for x in sprecs)
                assocs = {self.item_prec(p, len(self.prods[p][1]))[1] for p in rs}
                if more and not less:
                    acts = acts[-1:]
                elif less and not more:
                    acts = acts[:-1]
                elif not less and not more:
                    if assocs == {'left'}:
                        acts = acts[:-1]
                    elif assocs == {'right'}:
                        acts = acts[-1:]
            if len(acts) == 1:
                out[t] = tuple(acts)
                continue
            raise GenError('unresolved conflict on %r between: %s' % (self.g.names[t], '; '.join(
                ['reduce %s' % self.describe(p) for p in rs] +
                ['shift in %s' % self.describe(q, e) for q, e in shifting])))
        return out

    def describe(self, p, dot=None):
        lhs, rhs = self.prods[p]
        names = [self.g.names[s] for s in rhs]
        if dot is not None:
            names.insert(dot, '•')
        return '%s -> %s' % (self.g.names[lhs] if lhs >= 0 else "start", ' '.join(names))

    def lalr(self):
        """Merges canonical states of equal core (LALR(1)) where that changes no action of any of
        them and their successors merge too; returns the merged states' actions and gotos."""
        n = len(self.states)
        canon = [self.actions(i) for i in range(n)]
        groups = OrderedDict()
        for i, items in enumerate(self.states):
            groups.setdefault(frozenset(items), []).append(i)
        rep = list(range(n))
        group_actions = {}
        for members in groups.values():
            if len(members) == 1:
                continue
            merged = {}
            for i in members:
                for core, la in self.states[i].items():
                    merged.setdefault(core, set()).update(la)
            saved = self.states[members[0]]
            self.states[members[0]] = merged
            try:
                acts = self.actions(members[0])
            except GenError:
                acts = None
            self.states[members[0]] = saved
            if acts is None:
                continue
            sig = lambda a: tuple((x[0], x[1] if x[0] == 'r' else None) for x in a)
            if all(t in acts and sig(acts[t]) == sig(act)
                   for i in members for t, act in canon[i].items()):
                for i in members:
                    rep[i] = members[0]
                group_actions[members[0]] = (members, acts)
        # A merged state has one successor per symbol: undo merges whose members' successors
        # did not merge, until none is left.
        changed = True
        while changed:
            changed = False
            for r, (members, _) in list(group_actions.items()):
                ok = all(len({rep[self.gotos[m][s]] for m in members}) == 1
                         for s in self.gotos[r])
                if not ok:
                    for m in members:
                        rep[m] = m
                    del group_actions[r]
                    changed = True
        index, order = {}, []
        queue = [0]
        while queue:
            i = rep[queue.pop(0)]
            if i in index:
                continue
            index[i] = len(order)
            order.append(i)
            queue.extend(self.gotos[i][s] for s in sorted(self.gotos[i]))
        self.merged_cores = [frozenset(self.states[i]) for i in order]
        acts_out, gotos_out = [], []
        for i in order:
            a = {}
            src = group_actions[i][1] if i in group_actions else canon[i]
            for t, act in src.items():
                a[t] = tuple((x[0], index[rep[x[1]]]) if x[0] in ('s', 's*') else x for x in act)
            acts_out.append(a)
            gotos_out.append({s: index[rep[j]] for s, j in self.gotos[i].items() if s >= self.T})
        return acts_out, gotos_out

# ---------------------------------------------------------------- C output
def c_string(text):
    out = ''
    for ch in text:
        if ch in '"\\':
            out += '\\' + ch
        elif 32 <= ord(ch) < 127:
            out += ch
        else:
            out += '\\x%02x' % ord(ch)
    return '"' + out + '"'


def c_char(c):
    if c == ord("'"):
        return "'\\''"
    if c == ord('\\'):
        return "'\\\\'"
    if 32 <= c < 127:
        return "'%s'" % chr(c)
    return str(c)


def c_condition(ranges):
    parts = []
    for lo, hi in ranges:
        if lo == hi:
            parts.append('lookahead == %s' % c_char(lo))
        elif hi == MAX_CHAR:
            parts.append('%s <= lookahead' % c_char(lo))
        else:
            parts.append('(%s <= lookahead && lookahead <= %s)' % (c_char(lo), c_char(hi)))
    return ' ||\n          '.join(parts)


OPERATOR_NAMES = {
    '!': 'BANG', '"': 'DQUOTE', '#': 'POUND', '$': 'DOLLAR', '%': 'PERCENT', '&': 'AMP',
    "'": 'SQUOTE', '(': 'LPAREN', ')': 'RPAREN', '*': 'STAR', '+': 'PLUS', ',': 'COMMA',
    '-': 'DASH', '.': 'DOT', '/': 'SLASH', ':': 'COLON', ';': 'SEMI', '<': 'LT', '=': 'EQ',
    '>': 'GT', '?': 'QMARK', '@': 'AT', '[': 'LBRACK', '\\': 'BSLASH', ']': 'RBRACK',
    '^': 'CARET', '`': 'BQUOTE', '{': 'LBRACE', '|': 'PIPE', '}': 'RBRACE', '~': 'TILDE',
}


def c_identifiers(g):
    out, used = [], set()
    for sym, name in enumerate(g.names):
        if sym == 0:
            ident = 'ts_builtin_sym_end'
        elif sym < g.token_count and not g.named[sym]:
            ident = 'anon_sym_' + ''.join(ch if ch.isalnum() or ch == '_' else OPERATOR_NAMES.get(ch, 'X')
                                          for ch in name)
        elif not g.named[sym]:
            ident = 'aux_sym_' + name
        else:
            ident = 'sym_' + name
        base, k = ident, 1
        while ident in used:
            k += 1
            ident = '%s%d' % (base, k)
        used.add(ident)
        out.append(ident)
    return out


def emit_lexer(w, name, dfa, ids, start_extras, eof_state):
    w('static bool %s(TSLexer *lexer, TSStateId state) {' % name)
    w('  START_LEXER();')
    w('  eof = lexer->eof(lexer);')
    w('  switch (state) {')
    for i, (accept, trans) in enumerate(dfa):
        w('    case %d:' % i)
        if accept is not None:
            w('      ACCEPT_TOKEN(%s);' % ids[accept])
        if i == 0 and eof_state is not None:
            w('      if (eof) ADVANCE(%d);' % eof_state)
        for ranges, target in trans:
            w('      if (%s) ADVANCE(%d);' % (c_condition(ranges), target))
        if i == 0 and start_extras:
            w('      if (%s) SKIP(0);' % c_condition(start_extras))
        w('      END_STATE();')
    if eof_state is not None:
        w('    case %d:' % eof_state)
        w('      ACCEPT_TOKEN(ts_builtin_sym_end);')
        w('      END_STATE();')
    w('    default:')
    w('      return false;')
    w('  }')
    w('}')
    w('')


def generate(g, out):
    a = Automaton(g)
    acts, gotos = a.lalr()
    ids = c_identifiers(g)
    lines = []
    w = lines.append
    # Lexers: keywords are the strings the word token matches whole.
    word = g.named_tokens.get(g.js.get('word')) if g.js.get('word') else None
    keywords = []
    main_tokens = []
    if word is not None:
        word_dfa = build_dfa([(word, g.term_rules[word])])
    for sym in range(1, g.token_count):
        rule = g.term_rules[sym]
        if word is not None and sym != word and rule['type'] == 'STRING' and matches_whole(word_dfa, rule['value']):
            keywords.append((sym, rule))
        else:
            main_tokens.append((sym, rule))
    dfa = build_dfa(main_tokens)
    skip = []
    for pat in g.skip_patterns:
        skip_dfa = build_dfa([(0, pat)])
        if len(skip_dfa) != 2 or skip_dfa[1][1] or len(skip_dfa[0][1]) != 1:
            raise GenError('a whitespace extra must be one character class')
        skip.extend(skip_dfa[0][1][0][0])
    skip = ranges_normalize(skip)
    for ranges, _ in dfa[0][1]:
        for lo, hi in ranges:
            if any(not (hi < a_ or b_ < lo) for a_, b_ in skip):
                raise GenError('a token starts with a character the whitespace extras skip')
    kw_dfa = build_dfa(keywords) if keywords else None

    # Parse states: 0 is the error-recovery state, the automaton's states follow from 1.
    state_count = len(acts) + 1
    action_lists = OrderedDict()
    action_lists[((), False)] = 0
    next_index = [1]

    def entry(actions, reusable=True):
        key = (actions, reusable)
        if key not in action_lists:
            action_lists[key] = next_index[0]
            next_index[0] += 1 + len(actions)
        return action_lists[key]

    field_names = sorted({s['field'] for _, steps in g.productions for s in steps if s['field']})
    field_id = {f: k + 1 for k, f in enumerate(field_names)}
    production_ids = OrderedDict()
    production_ids[((), ())] = 0
    prod_id = []
    max_alias = 1
    by_name = {(g.names[s], g.named[s]): s for s in range(1, g.symbol_count) if g.visible[s]}
    for lhs, steps in g.productions:
        # Sorted by field id: ts_node_child_by_field_name narrows the slice from both ends by
        # field id and returns a wrong child when the entries are in child order.
        fields = tuple(sorted((field_id[s['field']], k) for k, s in enumerate(steps) if s['field']))
        aliases = []
        for k, s in enumerate(steps):
            if s['alias']:
                target = by_name.get(s['alias'])
                if target is None:
                    raise GenError('an alias must name an existing symbol: %r' % (s['alias'],))
                aliases.append((k, target))
        key = (fields, tuple(aliases))
        if key not in production_ids:
            production_ids[key] = len(production_ids)
        # The runtime indexes a row by child index: rows are as long as the longest production.
        max_alias = max(max_alias, len(steps))
        prod_id.append(production_ids[key])

    def action_text(act):
        if act[0] == 's':
            return 'SHIFT(%d)' % (act[1] + 1)
        if act[0] == 's*':
            return 'SHIFT_REPEAT(%d)' % (act[1] + 1)
        if act[0] == 'a':
            return 'ACCEPT_INPUT()'
        lhs, steps = g.productions[act[1]]
        pid = prod_id[act[1]]
        return 'REDUCE(%s, %d%s)' % (ids[lhs], len(steps), ', .production_id = %d' % pid if pid else '')

    recover = entry(('RECOVER()',), False)
    shift_extra = entry(('SHIFT_EXTRA()',))
    table = [{t: recover for t in range(g.token_count)}]
    for t in g.extra_tokens:
        table[0][t] = shift_extra
    # A token kept from the previous tree is reused by an incremental parse only where its entry
    # is reusable (or the state is the one it was lexed in). As in tree-sitter, it is not where
    # another valid token overlaps it: here the word token and the keywords, whose lexing depends
    # on the parse state. All other tokens are lexed the same in every state.
    contextual = {word} | {sym for sym, _ in keywords} if word is not None else set()
    for k, st in enumerate(acts):
        row = {}
        for s, target in gotos[k].items():
            row[s] = target + 1
        valid_contextual = contextual & set(st)
        for t, act in st.items():
            reusable = not (t in contextual and valid_contextual - {t})
            row[t] = entry(tuple(action_text(x) for x in act), reusable)
        for t in g.extra_tokens:
            if t not in st:
                row[t] = shift_extra
        table.append(row)

    w('/* Generated by editors/tree-sitter-bloom/generate/generate.py from grammar.js: do not edit. */')
    w('#include <tree_sitter/parser.h>')
    w('')
    w('#if defined(__GNUC__) || defined(__clang__)')
    w('#pragma GCC diagnostic push')
    w('#pragma GCC diagnostic ignored "-Wmissing-field-initializers"')
    w('#endif')
    w('')
    w('#define LANGUAGE_VERSION 14')
    w('#define STATE_COUNT %d' % state_count)
    w('#define LARGE_STATE_COUNT %d' % state_count)
    w('#define SYMBOL_COUNT %d' % g.symbol_count)
    w('#define ALIAS_COUNT 0')
    w('#define TOKEN_COUNT %d' % g.token_count)
    w('#define EXTERNAL_TOKEN_COUNT 0')
    w('#define FIELD_COUNT %d' % len(field_names))
    w('#define MAX_ALIAS_SEQUENCE_LENGTH %d' % max_alias)
    w('#define PRODUCTION_ID_COUNT %d' % len(production_ids))
    w('')
    w('enum {')
    for s in range(1, g.symbol_count):
        w('  %s = %d,' % (ids[s], s))
    w('};')
    w('')
    w('static const char * const ts_symbol_names[] = {')
    for s in range(g.symbol_count):
        w('  [%s] = %s,' % (ids[s], c_string(g.names[s])))
    w('};')
    w('')
    w('static const TSSymbol ts_symbol_map[] = {')
    for s in range(g.symbol_count):
        w('  [%s] = %s,' % (ids[s], ids[s]))
    w('};')
    w('')
    w('static const TSSymbolMetadata ts_symbol_metadata[] = {')
    for s in range(g.symbol_count):
        w('  [%s] = {.visible = %s, .named = %s},' % (
            ids[s], 'true' if g.visible[s] else 'false', 'true' if g.named[s] else 'false'))
    w('};')
    w('')
    if field_names:
        w('enum {')
        for f in field_names:
            w('  field_%s = %d,' % (f, field_id[f]))
        w('};')
        w('')
    w('static const char * const ts_field_names[] = {')
    w('  [0] = NULL,')
    for f in field_names:
        w('  [field_%s] = %s,' % (f, c_string(f)))
    w('};')
    w('')
    w('static const TSFieldMapSlice ts_field_map_slices[PRODUCTION_ID_COUNT] = {')
    entries = []
    for (fields, _), pid in production_ids.items():
        if fields:
            w('  [%d] = {.index = %d, .length = %d},' % (pid, len(entries), len(fields)))
            entries.extend(fields)
    w('};')
    w('')
    w('static const TSFieldMapEntry ts_field_map_entries[] = {')
    for fid, child in entries:
        w('  {%s, %d},' % ('field_' + field_names[fid - 1], child))
    if not entries:
        w('  {0, 0},')
    w('};')
    w('')
    w('static const TSSymbol ts_alias_sequences[PRODUCTION_ID_COUNT][MAX_ALIAS_SEQUENCE_LENGTH] = {')
    w('  [0] = {0},')
    for (_, aliases), pid in production_ids.items():
        if aliases:
            w('  [%d] = {%s},' % (pid, ', '.join('[%d] = %s' % (k, ids[t]) for k, t in aliases)))
    w('};')
    w('')
    w('static const uint16_t ts_non_terminal_alias_map[] = {')
    w('  0,')
    w('};')
    w('')
    w('static const TSStateId ts_primary_state_ids[STATE_COUNT] = {')
    # The first state of each core: query analysis skips the others, which behave the same.
    first_of_core = {}
    w('  [0] = 0,')
    for s, core in enumerate(a.merged_cores):
        w('  [%d] = %d,' % (s + 1, first_of_core.setdefault(core, s + 1)))
    w('};')
    w('')
    emit_lexer(w, 'ts_lex', dfa, ids, skip, len(dfa))
    if kw_dfa:
        emit_lexer(w, 'ts_lex_keywords', kw_dfa, ids, [], None)
    w('static const TSLexMode ts_lex_modes[STATE_COUNT] = {')
    for s in range(state_count):
        w('  [%d] = {.lex_state = 0},' % s)
    w('};')
    w('')
    w('static const uint16_t ts_parse_table[LARGE_STATE_COUNT][SYMBOL_COUNT] = {')
    for s, row in enumerate(table):
        w('  [%d] = {' % s)
        for sym in sorted(row):
            if sym < g.token_count:
                w('    [%s] = ACTIONS(%d),' % (ids[sym], row[sym]))
            else:
                w('    [%s] = STATE(%d),' % (ids[sym], row[sym]))
        w('  },')
    w('};')
    w('')
    w('static const TSParseActionEntry ts_parse_actions[] = {')
    for (actions, reusable), index in action_lists.items():
        if index == 0:
            w('  [0] = {.entry = {.count = 0, .reusable = false}},')
            continue
        w('  [%d] = {.entry = {.count = %d, .reusable = %s}}, %s,' % (
            index, len(actions), 'true' if reusable else 'false', ', '.join(actions)))
    w('};')
    w('')
    w('#ifdef __cplusplus')
    w('extern "C" {')
    w('#endif')
    w('#ifdef _WIN32')
    w('#define extern __declspec(dllexport)')
    w('#endif')
    w('')
    w('extern const TSLanguage *tree_sitter_%s(void) {' % g.js['name'])
    w('  static const TSLanguage language = {')
    for k, v in [('version', 'LANGUAGE_VERSION'), ('symbol_count', 'SYMBOL_COUNT'),
                 ('alias_count', 'ALIAS_COUNT'), ('token_count', 'TOKEN_COUNT'),
                 ('external_token_count', 'EXTERNAL_TOKEN_COUNT'), ('state_count', 'STATE_COUNT'),
                 ('large_state_count', 'LARGE_STATE_COUNT'),
                 ('production_id_count', 'PRODUCTION_ID_COUNT'), ('field_count', 'FIELD_COUNT'),
                 ('max_alias_sequence_length', 'MAX_ALIAS_SEQUENCE_LENGTH'),
                 ('parse_table', '&ts_parse_table[0][0]'), ('parse_actions', 'ts_parse_actions'),
                 ('symbol_names', 'ts_symbol_names'), ('field_names', 'ts_field_names'),
                 ('field_map_slices', 'ts_field_map_slices'),
                 ('field_map_entries', 'ts_field_map_entries'),
                 ('symbol_metadata', 'ts_symbol_metadata'), ('public_symbol_map', 'ts_symbol_map'),
                 ('alias_map', 'ts_non_terminal_alias_map'),
                 ('alias_sequences', '&ts_alias_sequences[0][0]'), ('lex_modes', 'ts_lex_modes'),
                 ('lex_fn', 'ts_lex'), ('primary_state_ids', 'ts_primary_state_ids')]:
        w('    .%s = %s,' % (k, v))
    if kw_dfa:
        w('    .keyword_lex_fn = ts_lex_keywords,')
        w('    .keyword_capture_token = %s,' % ids[word])
    w('  };')
    w('  return &language;')
    w('}')
    w('#ifdef __cplusplus')
    w('}')
    w('#endif')
    w('')
    w('#if defined(__GNUC__) || defined(__clang__)')
    w('#pragma GCC diagnostic pop')
    w('#endif')
    with open(out, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    return dict(symbols=g.symbol_count, tokens=g.token_count, productions=len(g.productions),
                canonical_states=len(a.states), states=state_count, lex_states=len(dfa),
                keywords=len(keywords))


def main():
    if len(sys.argv) != 3:
        print('usage: generate.py grammar.json parser.c', file=sys.stderr)
        return 2
    try:
        with open(sys.argv[1]) as f:
            g = Grammar(json.load(f))
        stats = generate(g, sys.argv[2])
    except GenError as e:
        print('generate.py: error: %s' % e, file=sys.stderr)
        return 1
    print('generate.py: %s' % ', '.join('%s %d' % kv for kv in stats.items()))
    return 0


if __name__ == '__main__':
    sys.exit(main())
