; Folds of Bloom (grammar.js), in nvim-treesitter's capture name @fold: each declaration, fact
; and rule, and each comment (an editor folds only the ones that span several lines: a block
; comment, a long rule, a declaration with one column per line). A run of `//` line comments
; is one node per line, which a query cannot join into one fold.

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
  (comment)
] @fold
