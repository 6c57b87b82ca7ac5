; Indentation of Bloom (grammar.js), in nvim-treesitter's capture names (@indent.begin,
; @indent.branch, @indent.end, @indent.auto); Helix names its captures differently (@indent,
; @outdent) and does not read this file as it is. A line that continues a declaration, fact or
; rule is indented one level (the body after `<=`, a column or argument list split over lines);
; a line that starts with the closing bracket goes back to the level of the line that opened it;
; after the `;` that ends an item the next line starts at column 0.

[
  (import_declaration)
  (param_declaration)
  (const_declaration)
  (collection_declaration)
  (periodic_declaration)
  (delay_declaration)
  (seal_declaration)
  (lattice_declaration)
  (fact)
  (rule)
  (column_list)
  (name_list)
  (argument_list)
  (type_arguments)
  (parenthesized_expression)
] @indent.begin

")" @indent.branch
(type_arguments ">" @indent.branch)

";" @indent.end

; Inside a block comment, keep the indentation of the line before.
(comment) @indent.auto
