; Highlighting of Bloom (grammar.js). Capture names are the standard ones of nvim-treesitter,
; Helix and Emacs. tests/tree-sitter checks every keyword, comment, string and number of the
; example programs is captured.

(comment) @comment
(string) @string
[(integer) (float) (duration)] @number
(boolean) @constant.builtin

[
  "import" "as" "param" "const" "periodic" "every" "delay" "after" "seal" "by" "lattice"
  "key" "durable"
] @keyword

[ "table" "scratch" "channel" "input" "output" ] @keyword.storage

[ "not" "in" "and" "or" ] @keyword.operator

; Before the operators: the first matching pattern wins.
(type_arguments [ "<" ">" ] @punctuation.bracket)

[
  "<=" "<+" "<-" "<+-" "<~"
  "==" "!=" "<" ">" ">="
  "+" "-" "*" "/" "%" "!" "=" "@"
] @operator

[ "(" ")" ] @punctuation.bracket
[ "," ";" ":" "." ] @punctuation.delimiter

(type name: (identifier) @type)

(collection_declaration name: (identifier) @type.definition)
(delay_declaration name: (identifier) @type.definition)
(lattice_declaration name: (identifier) @type.definition)
(periodic_declaration name: (identifier) @type.definition)
(seal_declaration collection: (identifier) @type)
(seal_declaration punctuation: (identifier) @type)
(column name: (identifier) @variable.member)
(param_declaration name: (identifier) @constant)
(const_declaration name: (identifier) @constant)
(import_declaration alias: (identifier) @namespace)

(atom name: (identifier) @function)
(atom name: (qualified_name (identifier) @function .))
(call_expression function: (identifier) @function.call)
(call_expression function: (qualified_name (identifier) @function.call .))
(method_call method: (identifier) @function.method)

(identifier) @variable
