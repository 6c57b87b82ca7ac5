#include "jit/supported.h"

#include <algorithm>
#include <variant>

namespace bloom::rt::jit {
namespace {

using plan::Op;
using plan::TypeKind;

bool plain(const plan::ValueType& t) { return t.kind == TypeKind::Int || t.kind == TypeKind::Float || t.kind == TypeKind::Bool; }

// A register read as a plain word: what word equality compares, whatever the register's type.
bool word_operand(const plan::Expr& e) { return (e.op == Op::Reg && !e.type.is_lattice()) || supported(e); }

}  // namespace

bool supported(const plan::Expr& e) {
  if (!plain(e.type)) return false;
  switch (e.op) {
    case Op::Const: return !std::holds_alternative<std::string>(e.value);
    case Op::Eq:
    case Op::Ne:  // word equality: strings and addrs compare as their interned ids
      return std::all_of(e.args.begin(), e.args.end(), word_operand);
    case Op::Reg:
    case Op::AddI: case Op::SubI: case Op::MulI: case Op::DivI: case Op::ModI: case Op::NegI:
    case Op::AddF: case Op::SubF: case Op::MulF: case Op::DivF: case Op::ModF: case Op::NegF: case Op::IntToFloat:
    case Op::EqF: case Op::NeF:
    case Op::LtI: case Op::LeI: case Op::GtI: case Op::GeI: case Op::LtF: case Op::LeF: case Op::GtF: case Op::GeF:
    case Op::And: case Op::Or: case Op::Not: case Op::If:
    case Op::LeastI: case Op::GreatestI: case Op::LeastF: case Op::GreatestF: break;
    // Of an int or bool: a float's hash is of its bits, and a NaN's bits (its sign, its payload)
    // depend on how it was computed, which LLVM may do differently from the interpreter.
    case Op::Hash:
      if (e.args.size() != 1 || e.args[0].type.kind == TypeKind::Float) return false;
      break;
    default: return false;
  }
  return std::all_of(e.args.begin(), e.args.end(), [](const plan::Expr& a) { return supported(a); });
}

bool head_column_supported(const plan::Expr& e) { return (e.op == Op::Reg && !e.type.is_lattice()) || supported(e); }

}  // namespace bloom::rt::jit
