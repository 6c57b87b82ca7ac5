// The Bloom AST: what the parser produces for one source file. It is purely syntactic (names are
// not resolved, types not checked; see compiler/sema) and every node carries a Span.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "syntax/source.h"

namespace bloom::ast {

// `link`, or `q.votes` for a name inside an imported module instance.
struct QualifiedName {
  std::vector<std::string> parts;
  Span span;
  std::string str() const;  // joined with '.'
  bool qualified() const { return parts.size() > 1; }
};

// A type as written: `int`, `lset<string>`, `lmap<string, lmax<int>>`.
struct TypeExpr {
  std::string name;
  std::vector<TypeExpr> args;
  Span span;
  std::string str() const;
};

// ---- Expressions ----
enum class ExprKind {
  Int,       // int_value
  Float,     // float_value
  String,    // text: the decoded value
  Bool,      // bool_value
  Duration,  // int_value: milliseconds
  Name,      // name: a variable, or a const/param (resolved by sema); `_` is Wildcard
  Wildcard,  // `_`
  Unary,     // unary_op, args[0]
  Binary,    // binary_op, args[0], args[1]
  Call,      // name(args...): a built-in function, or an aggregate in a rule head
  Method,    // args[0].text(args[1..]): a lattice method such as s.size()
};

enum class UnaryOp { Neg, Not };
enum class BinaryOp { Add, Sub, Mul, Div, Mod, Eq, Ne, Lt, Le, Gt, Ge, And, Or };
const char* to_string(UnaryOp op);
const char* to_string(BinaryOp op);

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
  ExprKind kind;
  Span span;
  int64_t int_value = 0;
  double float_value = 0;
  bool bool_value = false;
  std::string text;    // String: value; Method: method name
  QualifiedName name;  // Name, Call
  UnaryOp unary_op = UnaryOp::Neg;
  BinaryOp binary_op = BinaryOp::Add;
  Span op_span;  // the operator token of Unary/Binary, the method name of Method
  std::vector<ExprPtr> args;
  // Where sema recorded this expression's type (sema::ExprTypes); not part of the syntax, and
  // not copied by clone().
  mutable uint32_t type_slot = UINT32_MAX;

  explicit Expr(ExprKind k, Span s) : kind(k), span(s) {}
  ExprPtr clone() const;
};

// ---- Atoms, literals, rules ----
struct Arg {
  ExprPtr expr;
  bool location = false;  // written `@expr`
  Span span;              // including the '@'
};

struct Atom {
  QualifiedName name;
  std::vector<Arg> args;
  Span span;
};

enum class LiteralKind {
  Positive,   // atom
  Negated,    // not atom
  Condition,  // expr (a comparison, a bool or lbool expression; `not e` is parsed as `!e`)
  Assign,     // var = expr
  In,         // var in expr
};

struct BodyLiteral {
  LiteralKind kind;
  Span span;
  Atom atom;        // Positive, Negated
  ExprPtr expr;     // Condition: the condition; Assign, In: the right-hand side
  std::string var;  // Assign, In
  Span var_span;
  Span not_span;  // Negated: the `not` keyword
};

enum class MergeOp {
  Instant,         // <=
  DeferredInsert,  // <+
  DeferredDelete,  // <-
  DeferredUpsert,  // <+-
  Async,           // <~
};
const char* to_string(MergeOp op);

// `// bloom:allow(point-of-order) reason` on the line before a rule or at the end of its last
// line: the lint reports that rule's findings of this kind as suppressed.
struct Suppression {
  std::string kind;    // "point-of-order", "race"
  std::string reason;  // the rest of the comment
  Span span;
};

struct Rule {
  Atom head;
  std::vector<Suppression> suppressions;
  MergeOp op = MergeOp::Instant;
  Span op_span;
  std::vector<BodyLiteral> body;
  Span span;
};

struct Fact {
  Atom atom;
  Span span;
};

// ---- Declarations ----
enum class CollectionKind { Table, Scratch, Channel, Input, Output, Periodic, Delay, Lattice };
const char* to_string(CollectionKind k);

struct Column {
  std::string name;
  TypeExpr type;
  bool location = false;  // written `@name`
  Span span;
};

struct KeyColumn {
  std::string name;
  Span span;
};

struct CollectionDecl {
  CollectionKind kind;
  std::string name;
  Span name_span;
  std::vector<Column> columns;                // Table..Output and Delay; empty for Periodic and Lattice
  std::optional<std::vector<KeyColumn>> key;  // present when `key(...)` was written
  int64_t period_ms = 0;                      // Periodic and Delay, when written as a duration (`every 250ms`)
  Span period_span;
  std::shared_ptr<Expr> period;  // Periodic and Delay, any other period: an int const expression
                                 // in ms, evaluated per module instance (it may read params), or
                                 // for a Delay the name of one of its columns
  TypeExpr lattice_type;         // Lattice
  Span durable_span;             // valid when `durable` was written
  Span span;
};

// `seal vote(round) by done(round, n);` (docs/language.md, seals): rules read `vote` only through
// the partitions (values of the key columns) that `done` has sealed with a count that matches.
struct SealDecl {
  std::string sealed;  // the sealed collection
  Span sealed_span;
  std::vector<KeyColumn> key;  // its partition columns
  std::string punct;           // the collection of seals (punctuations)
  Span punct_span;
  std::vector<KeyColumn> punct_columns;  // its columns matching `key`, in order, then the count
  Span span;
};

struct Import {
  std::string path;  // as written, relative to the importing file
  Span path_span;
  std::string alias;
  Span alias_span;
  Span span;
};

struct Param {
  std::string name;
  Span name_span;
  TypeExpr type;
  ExprPtr default_value;  // may be null
  Span span;
};

struct Const {
  std::string name;
  Span name_span;
  ExprPtr value;
  Span span;
};

// One parsed file. Items keep their source order within each list.
struct Module {
  FileId file = kNoFile;
  std::vector<Import> imports;
  std::vector<Param> params;
  std::vector<Const> consts;
  std::vector<CollectionDecl> decls;
  std::vector<SealDecl> seals;
  std::vector<Fact> facts;
  std::vector<Rule> rules;
};

}  // namespace bloom::ast
