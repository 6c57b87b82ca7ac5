// Tree-sitter grammar of Bloom, written after grammar/Bloom.g4 (the ANTLR grammar the compiler
// uses) and docs/language.md. It recognises valid programs only: the g4's error alternatives
// (arrowInExpr, BAD_NUMBER, UNTERMINATED_*, ERROR_CHAR) exist there to word a compiler message and
// are parse errors here. CI turns this file into src/parser.c with generate/; it keeps to the
// documented DSL so that the official `tree-sitter generate` can be used too (CI has no official
// CLI to check that); see docs/tools.md.

// Earlier alternatives of the g4's `expr` bind tighter; the numbers say the same.
const PREC = {
  or: 1,
  and: 2,
  compare: 3,
  add: 4,
  multiply: 5,
  unary: 6,
  method: 7,
  qualified: 8,
};

const commaSep1 = (rule) => seq(rule, repeat(seq(',', rule)));
const commaSep = (rule) => optional(commaSep1(rule));

module.exports = grammar({
  name: 'bloom',

  extras: $ => [/\s/, $.comment],

  word: $ => $.identifier,

  rules: {
    source_file: $ => repeat($._item),

    _item: $ => choice(
      $.import_declaration,
      $.param_declaration,
      $.const_declaration,
      $.collection_declaration,
      $.periodic_declaration,
      $.delay_declaration,
      $.seal_declaration,
      $.lattice_declaration,
      $.fact,
      $.rule,
    ),

    import_declaration: $ => seq(
      'import', field('path', $.string), 'as', field('alias', $._ident), ';'),

    param_declaration: $ => seq(
      'param', field('name', $._ident), ':', field('type', $.type),
      optional(seq('=', field('value', $._expression))), ';'),

    const_declaration: $ => seq(
      'const', field('name', $._ident), '=', field('value', $._expression), ';'),

    collection_declaration: $ => seq(
      field('kind', choice('table', 'scratch', 'channel', 'input', 'output')),
      field('name', $._ident),
      field('columns', $.column_list),
      optional(field('key', $.key_clause)),
      optional('durable'),
      ';'),

    column_list: $ => seq('(', commaSep($.column), ')'),

    column: $ => seq(
      optional(field('location', '@')), field('name', $._ident), ':', field('type', $.type)),

    key_clause: $ => seq('key', $.name_list),

    name_list: $ => seq('(', commaSep1($._ident), ')'),

    periodic_declaration: $ => seq(
      'periodic', field('name', $._ident), 'every', field('period', $._expression), ';'),

    delay_declaration: $ => seq(
      'delay', field('name', $._ident), field('columns', $.column_list),
      'after', field('delay', $._expression), ';'),

    seal_declaration: $ => seq(
      'seal', field('collection', $._ident), field('keys', $.name_list),
      'by', field('punctuation', $._ident), field('punctuation_columns', $.name_list), ';'),

    lattice_declaration: $ => seq(
      'lattice', field('name', $._ident), ':', field('type', $.type), optional('durable'), ';'),

    type: $ => seq(
      field('name', $._ident),
      optional(field('arguments', $.type_arguments))),

    type_arguments: $ => seq('<', commaSep1($.type), '>'),

    // A fact is a clause without a body; a rule has a merge operator and a body.
    fact: $ => seq(field('head', $.atom), ';'),

    rule: $ => seq(
      field('head', $.atom),
      field('operator', choice('<=', '<+', '<-', '<+-', '<~')),
      field('body', $.body),
      ';'),

    body: $ => commaSep1($._body_literal),

    _body_literal: $ => choice(
      $.atom,
      $.negated_atom,
      $.assignment,
      $.membership,
      $.negated_condition,
      $._expression,
    ),

    // `f(x)` in a body is an atom, not a call: the g4 tries atom first, and so does this
    // precedence (a call elsewhere in an expression is a call_expression).
    atom: $ => prec(1, seq(field('name', $._name), field('arguments', $.argument_list))),

    negated_atom: $ => seq('not', $.atom),

    assignment: $ => seq(field('left', $._ident), '=', field('right', $._expression)),

    membership: $ => seq(field('left', $._ident), 'in', field('right', $._expression)),

    negated_condition: $ => seq('not', $._expression),

    argument_list: $ => seq('(', commaSep($._argument), ')'),

    _argument: $ => choice($.location_argument, $._expression),

    location_argument: $ => seq('@', $._expression),

    _expression: $ => choice(
      $.method_call,
      $.unary_expression,
      $.binary_expression,
      $.call_expression,
      $._ident,
      $.qualified_name,
      $.integer,
      $.float,
      $.duration,
      $.string,
      $.boolean,
      $.parenthesized_expression,
    ),

    method_call: $ => prec(PREC.method, seq(
      field('receiver', $._expression), '.', field('method', $._ident),
      field('arguments', $.argument_list))),

    unary_expression: $ => prec(PREC.unary, seq(
      field('operator', choice('-', '!')), field('operand', $._expression))),

    binary_expression: $ => {
      const table = [
        [PREC.multiply, choice('*', '/', '%')],
        [PREC.add, choice('+', '-')],
        [PREC.compare, choice('==', '!=', '<', '<=', '>', '>=')],
        [PREC.and, 'and'],
        [PREC.or, 'or'],
      ];
      return choice(...table.map(([p, op]) => prec.left(p, seq(
        field('left', $._expression), field('operator', op), field('right', $._expression)))));
    },

    call_expression: $ => seq(field('function', $._name), field('arguments', $.argument_list)),

    parenthesized_expression: $ => seq('(', $._expression, ')'),

    _name: $ => choice($._ident, $.qualified_name),

    // `m.f` with `m` an import alias, or `v.m` a lattice method (docs/language.md, atoms).
    qualified_name: $ => prec(PREC.qualified, seq($._ident, $._qualified_tail)),

    _qualified_tail: $ => prec.right(PREC.qualified, seq('.', $._ident, optional($._qualified_tail))),

    // The g4's `ident`: these words are keywords only where they are used.
    _ident: $ => choice(
      $.identifier,
      alias(choice('key', 'every', 'as', 'durable', 'delay', 'after', 'seal', 'by'), $.identifier),
    ),

    boolean: $ => choice('true', 'false'),

    identifier: $ => /[a-zA-Z_][a-zA-Z0-9_]*/,

    duration: $ => /[0-9]+(ms|s|m|h)/,

    float: $ => /[0-9]+\.[0-9]+([eE][+-]?[0-9]+)?|[0-9]+[eE][+-]?[0-9]+/,

    integer: $ => /[0-9]+/,

    string: $ => /"([^"\\\r\n]|\\[^\r\n])*"/,

    comment: $ => token(choice(
      seq('//', /[^\r\n]*/),
      seq('/*', /[^*]*\*+([^/*][^*]*\*+)*/, '/'),
    )),
  },
});
