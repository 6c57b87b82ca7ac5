#!/usr/bin/env node
// Evaluates a tree-sitter grammar.js into the grammar JSON that `tree-sitter generate` writes as
// src/grammar.json: the DSL functions of tree-sitter's dsl.js, written anew for the documented
// subset a grammar uses (seq, choice, repeat, repeat1, optional, prec*, token*, field, alias, blank).
// Usage: node dsl.js grammar.js > grammar.json
'use strict';
const path = require('path');

function normalize(value) {
  if (typeof value === 'string') return { type: 'STRING', value };
  if (value instanceof RegExp) {
    if (value.flags) throw new Error(`regex flags are not supported: ${value}`);
    return { type: 'PATTERN', value: value.source };
  }
  if (value && typeof value.type === 'string') return value;
  throw new Error(`invalid rule: ${JSON.stringify(value)}`);
}

const blank = () => ({ type: 'BLANK' });
const seq = (...members) => ({ type: 'SEQ', members: members.map(normalize) });
const choice = (...members) => ({ type: 'CHOICE', members: members.map(normalize) });
const optional = (rule) => choice(rule, blank());
const repeat = (rule) => ({ type: 'REPEAT', content: normalize(rule) });
const repeat1 = (rule) => ({ type: 'REPEAT1', content: normalize(rule) });
const field = (name, rule) => ({ type: 'FIELD', name, content: normalize(rule) });
const token = (rule) => ({ type: 'TOKEN', content: normalize(rule) });
token.immediate = (rule) => ({ type: 'IMMEDIATE_TOKEN', content: normalize(rule) });

function alias(rule, value) {
  const content = normalize(rule);
  if (typeof value === 'string') return { type: 'ALIAS', content, named: false, value };
  if (value && value.type === 'SYMBOL') return { type: 'ALIAS', content, named: true, value: value.name };
  throw new Error('alias: the value must be a string or a $ symbol');
}

function precRule(type) {
  return (number, rule) => {
    if (rule === undefined) { rule = number; number = 0; }
    return { type, value: number, content: normalize(rule) };
  };
}
const prec = precRule('PREC');
prec.left = precRule('PREC_LEFT');
prec.right = precRule('PREC_RIGHT');
prec.dynamic = precRule('PREC_DYNAMIC');

function grammar(options) {
  const $ = new Proxy({}, {
    get(_, name) {
      if (typeof name !== 'string') return undefined;
      if (!(name in options.rules)) throw new Error(`undefined symbol $.${name}`);
      return { type: 'SYMBOL', name };
    },
  });
  const rules = {};
  for (const [name, fn] of Object.entries(options.rules)) rules[name] = normalize(fn.call(null, $));
  const out = { name: options.name, word: null, rules, extras: [], conflicts: [],
                precedences: [], externals: [], inline: [], supertypes: [] };
  if (options.word) out.word = options.word($).name;
  if (options.extras) out.extras = options.extras($).map(normalize);
  for (const key of ['conflicts', 'externals', 'inline', 'supertypes', 'precedences']) {
    if (options[key] && options[key]($).length) throw new Error(`${key} is not supported by this generator`);
  }
  return out;
}

Object.assign(global, { grammar, seq, choice, optional, repeat, repeat1, field, token, alias, prec, blank });
const file = process.argv[2];
if (!file) { console.error('usage: node dsl.js grammar.js'); process.exit(2); }
const result = require(path.resolve(file));
process.stdout.write(JSON.stringify(result, null, 2) + '\n');
