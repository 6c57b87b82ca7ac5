; Scopes, definitions and references of Bloom (grammar.js), in nvim-treesitter's capture names:
; @local.scope, @local.definition.KIND (var, type, constant, import), @local.reference.
; A rule is the scope of its variables; the names declared at the top of the file (collections,
; lattices, periodics, delays, consts, params, import aliases) are defined at file scope. A name
; bound twice in one rule (a join) has two definitions. Column names are not captured.
; tests/tree-sitter checks that every reference of every example and stdlib module resolves.

(rule) @local.scope

; File scope.

(collection_declaration name: (identifier) @local.definition.type)
(lattice_declaration name: (identifier) @local.definition.type)
(periodic_declaration name: (identifier) @local.definition.type)
(delay_declaration name: (identifier) @local.definition.type)
(const_declaration name: (identifier) @local.definition.constant)
(param_declaration name: (identifier) @local.definition.constant)
(import_declaration alias: (identifier) @local.definition.import)

; Variables: bound by the arguments of a positive body atom (`_` is the wildcard, no variable),
; by the left side of `x = e` and of `x in s`.

((body
  (atom arguments: (argument_list (identifier) @local.definition.var)))
  (#not-eq? @local.definition.var "_"))
((body
  (atom arguments: (argument_list (location_argument (identifier) @local.definition.var))))
  (#not-eq? @local.definition.var "_"))
(assignment left: (identifier) @local.definition.var)
(membership left: (identifier) @local.definition.var)

; References: collection names in atoms and seals; the first part of `m.f` (an import alias, or
; the lattice variable of `s.contains(x)` and `s.size()`); names in the head, in negated atoms, in
; facts and in every expression (variables, or consts and params of the file). The `after`
; expression of a delay is left out: it may name a column of the delay (`after wait`).

(atom name: (identifier) @local.reference)
(qualified_name . (identifier) @local.reference)
(seal_declaration collection: (identifier) @local.reference)
(seal_declaration punctuation: (identifier) @local.reference)

(rule head: (atom arguments: (argument_list (identifier) @local.reference)))
(rule head: (atom arguments: (argument_list (location_argument (identifier) @local.reference))))
(fact head: (atom arguments: (argument_list (identifier) @local.reference)))
((negated_atom (atom arguments: (argument_list (identifier) @local.reference)))
  (#not-eq? @local.reference "_"))
((negated_atom (atom arguments: (argument_list (location_argument (identifier) @local.reference))))
  (#not-eq? @local.reference "_"))
(call_expression arguments: (argument_list (identifier) @local.reference))
(method_call arguments: (argument_list (identifier) @local.reference))

(binary_expression left: (identifier) @local.reference)
(binary_expression right: (identifier) @local.reference)
(unary_expression operand: (identifier) @local.reference)
(parenthesized_expression (identifier) @local.reference)
(assignment right: (identifier) @local.reference)
(membership right: (identifier) @local.reference)
(negated_condition (identifier) @local.reference)
(body (identifier) @local.reference)
(const_declaration value: (identifier) @local.reference)
(param_declaration value: (identifier) @local.reference)
(periodic_declaration period: (identifier) @local.reference)

