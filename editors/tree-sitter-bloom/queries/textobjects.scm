; Text objects of Bloom (grammar.js), in the capture names of nvim-treesitter-textobjects: a
; rule (or a fact) is a function, its body the inside; a collection, delay, lattice or periodic
; declaration is a class, its column list the inside; an argument of an atom or a call and a
; column are parameters; a call of a function or method is a call. Helix reads other names
; (@function.around, @function.inside, ...) and does not use this file as it is.

(rule) @function.outer
(rule body: (body) @function.inner)
(fact) @function.outer

[
  (collection_declaration)
  (delay_declaration)
  (lattice_declaration)
  (periodic_declaration)
] @class.outer
(collection_declaration columns: (column_list) @class.inner)
(delay_declaration columns: (column_list) @class.inner)

(argument_list (_) @parameter.inner)
(column_list (column) @parameter.inner)

(call_expression) @call.outer
(method_call) @call.outer

(comment) @comment.outer
