// The Bloom language (../docs/language.md). This grammar only recognises structure: names, types,
// safety and every other rule of the language are checked in compiler/sema. Some alternatives exist
// only to produce a precise error (arrowInExpr, BAD_NUMBER, UNTERMINATED_*, ERROR_CHAR): the AST
// builder (compiler/syntax/ast_builder.cpp) reports them, so the user never sees a raw ANTLR message.
grammar Bloom;

program : item* EOF ;

item
  : importDecl
  | paramDecl
  | constDecl
  | collectionDecl
  | periodicDecl
  | delayDecl
  | sealDecl
  | latticeDecl
  | clause
  ;

importDecl     : IMPORT STRING AS ident SEMI ;
paramDecl      : PARAM ident COLON type (ASSIGN expr)? SEMI ;
constDecl      : CONST ident ASSIGN expr SEMI ;
collectionDecl : kind=(TABLE | SCRATCH | CHANNEL | INPUT | OUTPUT) ident
                 LPAREN (column (COMMA column)*)? RPAREN keyClause? durable? SEMI ;
// `durable`: the collection's contents outlive the process (docs/deploy.md, durability).
durable        : DURABLE ;
column         : AT? ident COLON type ;
keyClause      : KEY LPAREN ident (COMMA ident)* RPAREN ;
periodicDecl   : PERIODIC ident EVERY expr SEMI ;   // a duration, or an int const expression (ms)
// `delay d(cols) after D;`: tuples written with `<~` arrive D later (a duration, an int const
// expression in ms, or the name of one of its int columns: a delay per tuple).
delayDecl      : DELAY ident LPAREN (column (COMMA column)*)? RPAREN AFTER expr SEMI ;
// `seal vote(round) by done(round, n);`: rules read `vote` only through its complete partitions:
// the tuples with a given `round` become visible together once `done(round, n)` is there and n
// distinct ones have arrived (docs/language.md, seals). The names are columns of each collection;
// the last one of the `by` part is the count.
sealDecl       : SEAL sealed=ident LPAREN keys+=ident (COMMA keys+=ident)* RPAREN
                 BY punct=ident LPAREN pcols+=ident (COMMA pcols+=ident)* RPAREN SEMI ;
latticeDecl    : LATTICE ident COLON type durable? SEMI ;
type           : ident (LT type (COMMA type)* GT)? ;

// A fact is a clause without a body; a rule has a merge operator and a body.
clause  : atom (mergeOp body)? SEMI ;
mergeOp : LE | DEFER_INSERT | DEFER_DELETE | DEFER_UPSERT | ASYNC ;
atom    : qname LPAREN (arg (COMMA arg)*)? RPAREN ;
arg     : AT expr      # locationArg
        | expr         # plainArg
        ;
body    : literal (COMMA literal)* ;
literal
  : NOT atom              # negatedAtom
  | atom                  # positiveAtom
  | ident ASSIGN expr     # assignment
  | ident IN expr         # membership
  | NOT expr              # negatedCondition
  | expr                  # condition
  ;

// Earlier alternatives bind tighter.
expr
  : expr DOT ident LPAREN (expr (COMMA expr)*)? RPAREN      # methodCall
  | op=(MINUS | BANG) expr                                   # unary
  | expr op=(STAR | SLASH | PERCENT) expr                    # binary
  | expr op=(PLUS | MINUS) expr                              # binary
  | expr op=(EQ | NE | LT | LE | GT | GE) expr               # binary
  | expr op=(DEFER_INSERT | DEFER_DELETE | DEFER_UPSERT | ASYNC) expr  # arrowInExpr
  | expr op=AND expr                                         # binary
  | expr op=OR expr                                          # binary
  | qname LPAREN (expr (COMMA expr)*)? RPAREN                # call
  | qname                                                    # name
  | literalValue                                             # constant
  | LPAREN expr RPAREN                                       # paren
  ;

literalValue : INT | FLOAT | STRING | TRUE | FALSE | DURATION | BAD_NUMBER | UNTERMINATED_STRING ;
qname        : ident (DOT ident)* ;
// Words that are keywords only where they are used, so they stay usable as names (`key(key)`).
ident        : ID | KEY | EVERY | AS | DURABLE | DELAY | AFTER | SEAL | BY ;

// ---- Lexer ----
IMPORT   : 'import' ;
AS       : 'as' ;
PARAM    : 'param' ;
CONST    : 'const' ;
TABLE    : 'table' ;
SCRATCH  : 'scratch' ;
CHANNEL  : 'channel' ;
INPUT    : 'input' ;
OUTPUT   : 'output' ;
PERIODIC : 'periodic' ;
LATTICE  : 'lattice' ;
KEY      : 'key' ;
EVERY    : 'every' ;
DURABLE  : 'durable' ;
DELAY    : 'delay' ;
AFTER    : 'after' ;
SEAL     : 'seal' ;
BY       : 'by' ;
NOT      : 'not' ;
IN       : 'in' ;
AND      : 'and' ;
OR       : 'or' ;
TRUE     : 'true' ;
FALSE    : 'false' ;

DEFER_UPSERT : '<+-' ;
DEFER_INSERT : '<+' ;
DEFER_DELETE : '<-' ;
ASYNC        : '<~' ;
LE     : '<=' ;
GE     : '>=' ;
EQ     : '==' ;
NE     : '!=' ;
LT     : '<' ;
GT     : '>' ;
ASSIGN : '=' ;
BANG   : '!' ;
PLUS   : '+' ;
MINUS  : '-' ;
STAR   : '*' ;
SLASH  : '/' ;
PERCENT: '%' ;
LPAREN : '(' ;
RPAREN : ')' ;
COMMA  : ',' ;
SEMI   : ';' ;
COLON  : ':' ;
DOT    : '.' ;
AT     : '@' ;

// DURATION precedes BAD_NUMBER so `250ms` is a duration while `10min` is one bad token.
DURATION   : DIGITS ('ms' | 's' | 'm' | 'h') ;
FLOAT      : DIGITS '.' DIGITS EXPONENT? | DIGITS EXPONENT ;
INT        : DIGITS ;
BAD_NUMBER : DIGITS ('.' DIGITS)? [a-zA-Z_] [a-zA-Z0-9_]* ;
ID         : [a-zA-Z_] [a-zA-Z0-9_]* ;
STRING     : '"' ( '\\' ~[\r\n] | ~["\\\r\n] )* '"' ;
UNTERMINATED_STRING : '"' ( '\\' ~[\r\n] | ~["\\\r\n] )* ;

LINE_COMMENT  : '//' ~[\r\n]* -> channel(HIDDEN) ;
BLOCK_COMMENT : '/*' .*? '*/' -> channel(HIDDEN) ;
UNTERMINATED_COMMENT : '/*' ( ~'*' | '*'+ ~[*/] )* '*'* EOF ;
WS : [ \t\r\n\f]+ -> skip ;
ERROR_CHAR : . ;

fragment DIGITS   : [0-9]+ ;
fragment EXPONENT : [eE] [+-]? DIGITS ;
