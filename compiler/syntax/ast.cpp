#include "syntax/ast.h"

namespace bloom::ast {

std::string QualifiedName::str() const {
  std::string s;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i) s += '.';
    s += parts[i];
  }
  return s;
}

std::string TypeExpr::str() const {
  std::string s = name;
  if (!args.empty()) {
    s += '<';
    for (size_t i = 0; i < args.size(); ++i) {
      if (i) s += ", ";
      s += args[i].str();
    }
    s += '>';
  }
  return s;
}

const char* to_string(UnaryOp op) { return op == UnaryOp::Neg ? "-" : "!"; }

const char* to_string(BinaryOp op) {
  switch (op) {
    case BinaryOp::Add: return "+";
    case BinaryOp::Sub: return "-";
    case BinaryOp::Mul: return "*";
    case BinaryOp::Div: return "/";
    case BinaryOp::Mod: return "%";
    case BinaryOp::Eq: return "==";
    case BinaryOp::Ne: return "!=";
    case BinaryOp::Lt: return "<";
    case BinaryOp::Le: return "<=";
    case BinaryOp::Gt: return ">";
    case BinaryOp::Ge: return ">=";
    case BinaryOp::And: return "and";
    case BinaryOp::Or: return "or";
  }
  return "?";
}

const char* to_string(MergeOp op) {
  switch (op) {
    case MergeOp::Instant: return "<=";
    case MergeOp::DeferredInsert: return "<+";
    case MergeOp::DeferredDelete: return "<-";
    case MergeOp::DeferredUpsert: return "<+-";
    case MergeOp::Async: return "<~";
  }
  return "?";
}

const char* to_string(CollectionKind k) {
  switch (k) {
    case CollectionKind::Table: return "table";
    case CollectionKind::Scratch: return "scratch";
    case CollectionKind::Channel: return "channel";
    case CollectionKind::Input: return "input";
    case CollectionKind::Output: return "output";
    case CollectionKind::Periodic: return "periodic";
    case CollectionKind::Delay: return "delay";
    case CollectionKind::Lattice: return "lattice";
  }
  return "?";
}

ExprPtr Expr::clone() const {
  auto e = std::make_unique<Expr>(kind, span);
  e->int_value = int_value;
  e->float_value = float_value;
  e->bool_value = bool_value;
  e->text = text;
  e->name = name;
  e->unary_op = unary_op;
  e->binary_op = binary_op;
  e->op_span = op_span;
  for (const auto& a : args) e->args.push_back(a->clone());
  return e;
}

}  // namespace bloom::ast
