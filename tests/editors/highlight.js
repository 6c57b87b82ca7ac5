#!/usr/bin/env node
// Checks the TextMate grammar of the VS Code extension (editors/vscode/syntaxes/bloom.tmLanguage.json)
// with vscode-textmate and vscode-oniguruma, the libraries VS Code itself highlights with.
//
//   node highlight.js BLOOM ROOT [--update-golden]
//
// BLOOM is the `bloom` binary (its `fmt --check` says which files parse), ROOT the repository.
// NODE_PATH must reach the node_modules of editors/vscode (the editors_npm_ci fixture).
//
// 1. Every .bloom file under examples/, stdlib/, tests/ and ../shared/conformance/ (if present)
//    is tokenized, and compared with a reference lexer written from the lexer rules of
//    grammar/Bloom.g4, read by this script: the keywords are the g4's rules whose text is a
//    word, so a keyword added to the grammar and not to the TextMate grammar fails here. In the
//    files that lex (no bad number, stray character, unterminated string or comment): a reserved
//    word must be scoped keyword.* or storage.* (true/false: constant.language.*); a word that
//    is a keyword only where it is used (`key`, `every`, `durable`, ...: the g4's `ident` rule)
//    must be a keyword in the declaration that uses it and not elsewhere (`key(key)`); a
//    comment must be comment.line/comment.block, a string string.quoted, a number, float or
//    duration constant.numeric, an operator keyword.operator (`<` and `>` of a type:
//    punctuation.definition.typeparameters), other punctuation punctuation.*, an identifier
//    neither keyword nor storage; nothing may be scoped invalid.*. In the files that also parse
//    (`bloom fmt --check` reports no error), the tokenizer must end the file in its root state.
//    Every keyword of the g4 must be met as a keyword in some file, and every reserved word is
//    also tried alone in a rule body.
// 2. The scopes of golden/*.bloom compared with golden/*.scopes. After a deliberate change of
//    the grammar, regenerate them (after the editors_npm_ci test has installed the packages)
//    and review the diff:
//      NODE_PATH=build/tests/editors/vscode/node_modules \
//        node tests/editors/highlight.js build/tools/bloom/bloom . --update-golden
// 3. Tricky snippets with the scope asserted on each part (TRICKY below).
'use strict';
const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');
const vsctm = require('vscode-textmate');
const oniguruma = require('vscode-oniguruma');

const [bloom, root] = process.argv.slice(2);
const updateGolden = process.argv.includes('--update-golden');
if (!bloom || !root) {
  console.error('usage: highlight.js BLOOM ROOT [--update-golden]');
  process.exit(2);
}
const here = __dirname;
const grammarPath = path.join(root, 'editors/vscode/syntaxes/bloom.tmLanguage.json');
let failures = 0;
function fail(msg) {
  failures++;
  if (failures <= 50) console.error(`FAIL: ${msg}`);
}

// ---- The lexer rules of grammar/Bloom.g4 ----
const g4 = fs.readFileSync(path.join(root, 'grammar/Bloom.g4'), 'utf8');
const lexerPart = g4.slice(g4.indexOf('// ---- Lexer ----'));
if (lexerPart.length === g4.length + 1) throw new Error('Bloom.g4: no "// ---- Lexer ----" line');
const literalRules = [];   // {name, text}, in the g4's order
const otherRules = [];     // the names of the rules that are not one literal
for (const m of lexerPart.matchAll(/^(fragment\s+)?([A-Z_]+)\s*:\s*((?:'[^']*'|[^';])*?)\s*;/gm)) {
  if (m[1]) continue;
  const lit = /^'([^']+)'$/.exec(m[3]);
  if (lit) literalRules.push({ name: m[2], text: lit[1] });
  else otherRules.push(m[2]);
}
// The parser's `ident` rule lists the keywords that stay usable as names.
const identRule = /^ident\s*:([^;]*);/m.exec(g4);
if (!identRule) throw new Error('Bloom.g4: no ident rule');
const contextual = new Set(identRule[1].split('|').map((s) => s.trim()).filter((s) => s !== 'ID'));
const keywordRules = literalRules.filter((r) => /^[a-z]+$/.test(r.text));
const wordOf = new Map(literalRules.map((r) => [r.name, r.text]));
for (const c of contextual) if (!wordOf.has(c)) throw new Error(`Bloom.g4: ident lists ${c}, not a keyword rule`);
const punctuationRules = new Set(['LPAREN', 'RPAREN', 'COMMA', 'SEMI', 'COLON', 'DOT']);

// The rules that are not one literal, as regular expressions. A rule added to the g4 and not
// here is an error: decide how it is highlighted, then add it.
const otherRegex = {
  DURATION: /[0-9]+(?:ms|s|m|h)/y,
  FLOAT: /[0-9]+\.[0-9]+(?:[eE][+-]?[0-9]+)?|[0-9]+[eE][+-]?[0-9]+/y,
  INT: /[0-9]+/y,
  BAD_NUMBER: /[0-9]+(?:\.[0-9]+)?[a-zA-Z_][a-zA-Z0-9_]*/y,
  ID: /[a-zA-Z_][a-zA-Z0-9_]*/y,
  STRING: /"(?:\\[^\r\n]|[^"\\\r\n])*"/y,
  UNTERMINATED_STRING: /"(?:\\[^\r\n]|[^"\\\r\n])*/y,
  LINE_COMMENT: /\/\/[^\r\n]*/y,
  BLOCK_COMMENT: /\/\*[\s\S]*?\*\//y,
  UNTERMINATED_COMMENT: /\/\*(?:[^*]|\*+[^*/])*\**$/y,
  WS: /[ \t\r\n\f]+/y,
  ERROR_CHAR: /[\s\S]/yu,
};
for (const r of otherRules) {
  if (!otherRegex[r]) throw new Error(`Bloom.g4 has the lexer rule ${r}, unknown to highlight.js`);
}
const BAD = new Set(['BAD_NUMBER', 'UNTERMINATED_STRING', 'UNTERMINATED_COMMENT', 'ERROR_CHAR']);
const rules = [];  // in the g4's order: ANTLR takes the longest match, the first rule on a tie
for (const m of lexerPart.matchAll(/^(fragment\s+)?([A-Z_]+)\s*:/gm)) {
  if (m[1]) continue;
  const name = m[2];
  if (wordOf.has(name)) {
    const text = wordOf.get(name);
    rules.push({ name, len: (s, i) => (s.startsWith(text, i) ? text.length : 0) });
  } else {
    const re = otherRegex[name];
    rules.push({ name, len: (s, i) => { re.lastIndex = i; const mm = re.exec(s); return mm ? mm[0].length : 0; } });
  }
}

function lex(text) {
  const tokens = [];
  for (let i = 0; i < text.length;) {
    let best = null, bestLen = 0;
    for (const r of rules) {
      const n = r.len(text, i);
      if (n > bestLen) { best = r.name; bestLen = n; }
    }
    if (best !== 'WS') tokens.push({ kind: best, start: i, end: i + bestLen });
    i += bestLen;
  }
  return tokens;
}

// Which contextual words are keywords, and which `<` `>` belong to a type, from the statements
// (grammar/Bloom.g4: importDecl, collectionDecl, periodicDecl, delayDecl, sealDecl, latticeDecl).
function classify(text, tokens) {
  const code = tokens.filter((t) => !t.kind.endsWith('COMMENT'));
  const keywordAt = new Set(), typeBracketAt = new Set();
  const word = (t) => text.slice(t.start, t.end);
  const isName = (t) => t && (t.kind === 'ID' || contextual.has(t.kind));
  let s = 0;
  while (s < code.length) {
    let e = s;
    while (e < code.length && code[e].kind !== 'SEMI') e++;
    const st = code.slice(s, e);
    const k = st[0] && st[0].kind;
    // The closing parenthesis of the first list at depth 0.
    const afterFirstList = () => {
      let depth = 0;
      for (let i = 0; i < st.length; i++) {
        if (st[i].kind === 'LPAREN') depth++;
        else if (st[i].kind === 'RPAREN' && --depth === 0) return i + 1;
      }
      return st.length;
    };
    const markTypes = (from, to) => {
      for (let i = from; i < to; i++) if (st[i].kind === 'LT' || st[i].kind === 'GT') typeBracketAt.add(st[i].start);
    };
    if (k === 'IMPORT') {
      for (let i = 1; i < st.length; i++) if (st[i].kind === 'AS' && st[i - 1].kind === 'STRING') keywordAt.add(st[i].start);
    } else if (['TABLE', 'SCRATCH', 'CHANNEL', 'INPUT', 'OUTPUT'].includes(k)) {
      const j = afterFirstList();
      markTypes(0, j);
      if (st[j] && st[j].kind === 'KEY') keywordAt.add(st[j].start);
      const last = st[st.length - 1];
      if (last && last.kind === 'DURABLE' && st.length > j) keywordAt.add(last.start);
    } else if (k === 'PERIODIC') {
      if (st[2] && st[2].kind === 'EVERY') keywordAt.add(st[2].start);
    } else if (k === 'DELAY' && isName(st[1]) && st[2] && st[2].kind === 'LPAREN') {
      keywordAt.add(st[0].start);
      const j = afterFirstList();
      markTypes(0, j);
      if (st[j] && st[j].kind === 'AFTER') keywordAt.add(st[j].start);
    } else if (k === 'SEAL' && isName(st[1]) && st[2] && st[2].kind === 'LPAREN') {
      keywordAt.add(st[0].start);
      const j = afterFirstList();
      if (st[j] && st[j].kind === 'BY') keywordAt.add(st[j].start);
    } else if (k === 'LATTICE') {
      markTypes(0, st.length);
      const last = st[st.length - 1];
      if (last && last.kind === 'DURABLE') keywordAt.add(last.start);
    } else if (k === 'PARAM') {
      const eq = st.findIndex((t) => t.kind === 'ASSIGN');
      markTypes(0, eq < 0 ? st.length : eq);
    }
    void word;
    s = e + 1;
  }
  return { keywordAt, typeBracketAt };
}

// ---- Tokenizing ----
async function loadGrammar() {
  const wasm = fs.readFileSync(require.resolve('vscode-oniguruma/release/onig.wasm'));
  await oniguruma.loadWASM(wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength));
  const registry = new vsctm.Registry({
    onigLib: Promise.resolve({
      createOnigScanner: (p) => new oniguruma.OnigScanner(p),
      createOnigString: (s) => new oniguruma.OnigString(s),
    }),
    loadGrammar: async (scopeName) => {
      if (scopeName !== 'source.bloom') return null;
      return vsctm.parseRawGrammar(fs.readFileSync(grammarPath, 'utf8'), grammarPath);
    },
  });
  return registry.loadGrammar('source.bloom');
}

// The scopes of every UTF-16 unit of the text, and whether the tokenizer ended in its root state.
function tokenize(grammar, text) {
  const lines = text.split('\n');
  const scopes = new Array(text.length);
  const tokens = [];
  let stack = vsctm.INITIAL, offset = 0;
  for (const line of lines) {
    const r = grammar.tokenizeLine(line, stack);
    for (const t of r.tokens) {
      const end = Math.min(t.endIndex, line.length);
      for (let i = t.startIndex; i < end; i++) scopes[offset + i] = t.scopes;
      if (end > t.startIndex) tokens.push({ line: offset, text: line.slice(t.startIndex, end), scopes: t.scopes });
    }
    stack = r.ruleStack;
    offset += line.length + 1;
  }
  return { scopes, tokens, closed: stack.depth === 1, stack };
}

const has = (scopes, prefix) => (scopes || []).some((s) => s === prefix || s.startsWith(prefix));
function position(text, i) {
  const before = text.slice(0, i);
  const line = before.split('\n').length;
  return `${line}:${i - before.lastIndexOf('\n')}`;
}

// The keywords met where they are keywords, in the files: each keyword of Bloom.g4 must be.
const seenAsKeyword = new Set();

function checkFile(grammar, file, text, parses) {
  const tokens = lex(text);
  const bad = tokens.filter((t) => BAD.has(t.kind));
  const tm = tokenize(grammar, text);
  if (bad.length > 0) return 'lexerror';
  const { keywordAt, typeBracketAt } = classify(text, tokens);
  const where = (t) => `${file}:${position(text, t.start)}`;
  // Every character of the token (blanks aside) must have a scope with one of the prefixes.
  const every = (t, prefixes, what) => {
    for (let i = t.start; i < t.end; i++) {
      if (/\s/.test(text[i])) continue;
      if (!prefixes.some((p) => has(tm.scopes[i], p))) {
        fail(`${where(t)}: ${what} ${JSON.stringify(text.slice(t.start, t.end))} scoped ${(tm.scopes[i] || []).join(' ')}`);
        return;
      }
    }
  };
  const none = (t, prefixes, what) => {
    for (let i = t.start; i < t.end; i++) {
      const p = prefixes.find((q) => has(tm.scopes[i], q));
      if (p) {
        fail(`${where(t)}: ${what} ${JSON.stringify(text.slice(t.start, t.end))} scoped ${tm.scopes[i].join(' ')}`);
        return;
      }
    }
  };
  for (const t of tokens) {
    const k = t.kind;
    if (k === 'LINE_COMMENT') every(t, ['comment.line'], 'line comment');
    else if (k === 'BLOCK_COMMENT') every(t, ['comment.block'], 'block comment');
    else if (k === 'STRING') every(t, ['string.quoted'], 'string');
    else if (k === 'INT' || k === 'FLOAT' || k === 'DURATION') every(t, ['constant.numeric'], 'number');
    else if (k === 'TRUE' || k === 'FALSE') { every(t, ['constant.language'], 'boolean'); seenAsKeyword.add(k); }
    else if (contextual.has(k)) {
      if (keywordAt.has(t.start)) { every(t, ['keyword.', 'storage.'], 'keyword'); seenAsKeyword.add(k); }
      else none(t, ['keyword.', 'storage.'], 'name');
    } else if (keywordRules.some((r) => r.name === k)) { every(t, ['keyword.', 'storage.'], 'keyword'); seenAsKeyword.add(k); }
    else if (k === 'ID') none(t, ['keyword.', 'storage.'], 'identifier');
    else if (punctuationRules.has(k)) every(t, ['punctuation.'], 'punctuation');
    else if (wordOf.has(k)) {
      if (typeBracketAt.has(t.start)) every(t, ['punctuation.definition.typeparameters'], 'type bracket');
      else every(t, ['keyword.operator'], 'operator');
    }
  }
  // A file that does not parse may have an error the grammar shows (an unknown escape).
  for (let i = 0; parses && i < text.length; i++) {
    if (has(tm.scopes[i], 'invalid')) {
      fail(`${file}:${position(text, i)}: scoped ${tm.scopes[i].join(' ')}`);
      break;
    }
  }
  if (parses && !tm.closed) fail(`${file}: the tokenizer ends the file in a rule of depth ${tm.stack.depth}, not at the root`);
  return parses ? 'parses' : 'lexes';
}

// ---- Golden files ----
function scopesText(grammar, text) {
  const out = [];
  const lines = text.split('\n');
  let stack = vsctm.INITIAL;
  for (const line of lines) {
    const r = grammar.tokenizeLine(line, stack);
    stack = r.ruleStack;
    out.push(`> ${line}`);
    for (const t of r.tokens) {
      const s = line.slice(t.startIndex, Math.min(t.endIndex, line.length));
      if (s.trim() === '') continue;
      out.push(`  ${JSON.stringify(s)} ${t.scopes.filter((x) => x !== 'source.bloom').join(' ')}`);
    }
  }
  return out.join('\n') + '\n';
}

// ---- Tricky snippets: [source, [[text, occurrence (0-based), scope prefix], ...]] ----
const TRICKY = [
  ['p("a // b /* c", 1); // d',
    [['"a // b /* c"', 0, 'string.quoted.double'], ['1', 0, 'constant.numeric.integer'],
     ['// d', 0, 'comment.line.double-slash'], ['p', 0, 'entity.name.function']]],
  ['table tables(input_x: int, keys: string) key(input_x);\nr(input_x) <= tables(input_x, _), notes(input_x);',
    [['table', 0, 'storage.type.collection'], ['tables', 0, 'entity.name.type.collection'],
     ['input_x', 0, 'variable.parameter.column'], ['keys', 0, 'variable.parameter.column'],
     ['key', 1, 'storage.modifier.key'], ['input_x', 1, 'variable.other'],
     ['tables', 1, 'entity.name.function'], ['input_x', 2, 'variable.other'],
     ['notes', 0, 'entity.name.function'], [' _', 0, 'variable.language.wildcard']]],
  ['/* a block\n   table t(x: int);\n   "not a string */ p(1);',
    [['/* a block', 0, 'comment.block'], ['table t(x: int);', 0, 'comment.block'],
     ['"not a string */', 0, 'comment.block'], ['p', 0, 'entity.name.function'], ['1', 0, 'constant.numeric']]],
  ['p(-5, -2.5e-3, 1e6, x - 1, -9223372036854775808);',
    [['-', 0, 'keyword.operator.arithmetic'], ['5', 0, 'constant.numeric.integer'],
     ['-', 1, 'keyword.operator.arithmetic'], ['2.5e-3', 0, 'constant.numeric.float'],
     ['1e6', 0, 'constant.numeric.float'], ['-', 3, 'keyword.operator.arithmetic'],
     ['9223372036854775808', 0, 'constant.numeric.integer']]],
  ['t(k, v) <+- u(k, v);\nt(k, v) <+ u(k, v), v <= 3, v < -1;\nc(@a, k) <~ u(k, a);\nt(k, v) <- u(k, v);',
    [['<+-', 0, 'keyword.operator.merge'], ['<+', 1, 'keyword.operator.merge'],
     ['<=', 0, 'keyword.operator.comparison'], ['<', 3, 'keyword.operator.comparison'],
     ['-', 1, 'keyword.operator.arithmetic'], ['@', 0, 'keyword.operator.location'],
     ['<~', 0, 'keyword.operator.merge'], ['<-', 0, 'keyword.operator.merge']]],
  ['r(x) <= s(x);',
    [['<=', 0, 'keyword.operator.merge']]],
  ['table kv(key: string, val: string) key(key) durable;\nkey(k) <= kv(k, _), durable(k);',
    [['key', 0, 'variable.parameter.column'], ['key', 1, 'storage.modifier.key'],
     ['key', 2, 'variable.other'], ['durable', 0, 'storage.modifier.durable'],
     ['key', 3, 'entity.name.function'], ['durable', 1, 'entity.name.function']]],
  ['periodic beat every 250ms;\ndelay retry(n: int) after 2s;\ndelay(x) <= retry(x, _);\nconst T = 10min;',
    [['periodic', 0, 'storage.type.collection'], ['beat', 0, 'entity.name.type.collection'],
     ['every', 0, 'keyword.other'], ['250ms', 0, 'constant.numeric.duration'],
     ['ms', 0, 'keyword.other.unit'], ['delay', 0, 'storage.type.collection'],
     ['after', 0, 'keyword.other'], ['2s', 0, 'constant.numeric.duration'],
     ['delay', 1, 'entity.name.function'], ['10min', 0, 'invalid.illegal.numeric']]],
  ['seal vote(round) by done(round, n);\nimport "std/quorum" as q;\nok(r) <= q.votes(r, s), s.contains("a"), not t(r), true;',
    [['seal', 0, 'keyword.other.seal'], ['vote', 0, 'entity.name.function'], ['by', 0, 'keyword.other.by'],
     ['import', 0, 'keyword.control.import'], ['"std/quorum"', 0, 'string.quoted'],
     ['as', 0, 'keyword.control.as'], ['q', 1, 'entity.name.namespace'], ['q', 2, 'entity.name.namespace'],
     ['votes', 0, 'entity.name.function'], ['contains', 0, 'support.function.method'],
     ['not', 0, 'keyword.operator.logical'], ['true', 0, 'constant.language.boolean']]],
  ['param peers: lmap<addr, lmax<int>> = "n1";\nlattice best: lmax<int> durable;\nout(count(), to_string(x)) <= p(x);',
    [['param', 0, 'storage.type'], ['peers', 0, 'entity.name.constant'],
     ['lmap', 0, 'support.type'], ['<', 0, 'punctuation.definition.typeparameters'],
     ['addr', 0, 'support.type'], ['lmax', 0, 'support.type'], ['>>', 0, 'punctuation.definition.typeparameters'],
     ['"n1"', 0, 'string.quoted'], ['lattice', 0, 'storage.type.collection'], ['durable', 0, 'storage.modifier'],
     ['count', 0, 'support.function.aggregate'], ['to_string', 0, 'support.function.builtin']]],
  ['// bloom:allow(race) the order does not matter\nr(x) <= s(x), x<-1;',
    [['// ', 0, 'comment.line'], ['bloom:allow', 0, 'storage.type.annotation'],
     ['(race) the order does not matter', 0, 'comment.line'], ['<-', 0, 'keyword.operator.merge']]],
  ['p("a\\"b\\\\", "\\q");\np("open\nq(1);',
    [['\\"', 0, 'constant.character.escape'], ['\\\\', 0, 'constant.character.escape'],
     ['\\q', 0, 'invalid.illegal.escape'], ['"open', 0, 'string.quoted'], ['q', 1, 'entity.name.function']]],
];

function checkTricky(grammar) {
  let n = 0;
  for (const [src, expects] of TRICKY) {
    const tm = tokenize(grammar, src);
    for (const [part, occurrence, prefix] of expects) {
      let at = -1;
      for (let k = 0; k <= occurrence; k++) {
        at = src.indexOf(part, at + 1);
        if (at < 0) break;
      }
      if (at < 0) { fail(`tricky ${JSON.stringify(src)}: no occurrence ${occurrence} of ${part}`); continue; }
      for (let i = at; i < at + part.length; i++) {
        if (/\s/.test(src[i])) continue;
        if (!has(tm.scopes[i], prefix)) {
          fail(`tricky ${JSON.stringify(src)}: ${JSON.stringify(part)} #${occurrence} at ${position(src, at)} is ${(tm.scopes[i] || []).join(' ')}, expected ${prefix}`);
          break;
        }
      }
      n++;
    }
    // A snippet with an unterminated string or a bad number may stay anywhere; the others end
    // at the root.
    if (!tm.closed) fail(`tricky ${JSON.stringify(src)}: ends in a rule of depth ${tm.stack.depth}`);
  }
  // Each reserved word, wherever it is (a misplaced one too), is a keyword.
  for (const r of keywordRules.filter((x) => !contextual.has(x.name))) {
    const src = `p(x) <= q(x), ${r.text};`;
    const tm = tokenize(grammar, src);
    const want = r.name === 'TRUE' || r.name === 'FALSE' ? ['constant.language'] : ['keyword.', 'storage.'];
    const at = src.lastIndexOf(r.text);
    if (!want.some((w) => has(tm.scopes[at], w))) fail(`${JSON.stringify(src)}: ${r.text} is ${(tm.scopes[at] || []).join(' ')}`);
    n++;
  }
  return n;
}

async function main() {
  const t0 = Date.now();
  const grammar = await loadGrammar();
  if (keywordRules.length < 20 || contextual.size < 5) throw new Error(`Bloom.g4: only ${keywordRules.length} keywords read`);

  // The files, and which of them parse.
  const dirs = ['examples', 'stdlib', 'tests'].map((d) => path.join(root, d));
  const conformance = path.join(root, '../shared/conformance');
  if (fs.existsSync(conformance)) dirs.push(conformance);
  else console.log('(no ../shared/conformance: skipped)');
  const files = [];
  const walk = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) { if (e.name !== 'node_modules') walk(p); }
      else if (e.name.endsWith('.bloom')) files.push(p);
    }
  };
  dirs.forEach(walk);
  files.sort();
  let fmtErr = '';
  try {
    execFileSync(bloom, ['fmt', '--check', ...files], { stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 1 << 26 });
  } catch (e) {
    if (e.status !== 1) throw e;
    fmtErr = e.stderr.toString();
  }
  const broken = new Set();
  for (const m of fmtErr.matchAll(/^(.+?):\d+:\d+: error/gm)) broken.add(path.resolve(m[1]));

  const count = { parses: 0, lexes: 0, lexerror: 0 };
  for (const f of files) {
    const text = fs.readFileSync(f, 'utf8').replace(/\r\n/g, '\n');
    count[checkFile(grammar, path.relative(root, f), text, !broken.has(path.resolve(f)))]++;
  }
  if (files.length < 300) fail(`only ${files.length} .bloom files found`);
  if (count.parses < 300) fail(`only ${count.parses} files parse`);
  for (const r of keywordRules) {
    if (!seenAsKeyword.has(r.name)) fail(`the keyword ${r.text} of Bloom.g4 is used as one in no file: the grammar's handling of it is untested (use it in tests/editors/golden/showcase.bloom)`);
  }

  // Golden files.
  const goldenDir = path.join(here, 'golden');
  let golden = 0;
  for (const f of fs.readdirSync(goldenDir).filter((x) => x.endsWith('.bloom')).sort()) {
    const text = fs.readFileSync(path.join(goldenDir, f), 'utf8');
    const got = scopesText(grammar, text);
    const expectedPath = path.join(goldenDir, f.replace(/\.bloom$/, '.scopes'));
    if (updateGolden) { fs.writeFileSync(expectedPath, got); console.log(`wrote ${expectedPath}`); continue; }
    const expected = fs.existsSync(expectedPath) ? fs.readFileSync(expectedPath, 'utf8') : '';
    if (got !== expected) {
      const a = expected.split('\n'), b = got.split('\n');
      const i = a.findIndex((l, k) => l !== b[k]);
      fail(`golden/${f}: scopes differ from ${path.basename(expectedPath)} at line ${i + 1}:\n  expected: ${a[i]}\n  got:      ${b[i]}\n(regenerate: see the top of tests/editors/highlight.js)`);
    }
    golden++;
  }
  const asserted = checkTricky(grammar);
  const secs = ((Date.now() - t0) / 1000).toFixed(2);
  if (failures > 0) {
    console.error(`${failures} failure(s)`);
    process.exit(1);
  }
  console.log(`ok: ${files.length} files tokenized (${count.parses} parse and are fully checked, ` +
    `${count.lexes} lex but do not parse, ${count.lexerror} with lexical errors only tokenized), ` +
    `${keywordRules.length} keywords from Bloom.g4, ${golden} golden file(s), ${asserted} tricky scopes, ${secs}s`);
}
main().catch((e) => { console.error(e.stack || e); process.exit(1); });
