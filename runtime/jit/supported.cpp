#include "jit/supported.h"

#include <algorithm>
#include <bit>
#include <variant>

namespace bloom::rt::jit {
namespace {

using plan::Op;
using plan::TypeKind;

bool plain(const plan::ValueType& t) { return t.kind == TypeKind::Int || t.kind == TypeKind::Float || t.kind == TypeKind::Bool; }

// A register read as a plain word: what word equality compares, whatever the register's type.
bool word_operand(const plan::Expr& e, bool with_context) {
  return (e.op == Op::Reg && !e.type.is_lattice()) || supported(e, with_context);
}

}  // namespace

bool calls_out(const plan::Expr& e) {
  return is_call_op(e.op) || calls_with_type(e) || (e.op == Op::Hash && e.args.size() == 1 && e.args[0].type.is_symbol());
}

bool supported(const plan::Expr& e, bool with_context) {
  // A lattice value is a word the code only passes on: a register's, what a call-out returned,
  // or what a reveal let through.
  if (e.type.is_lattice() && !(with_context && (e.op == Op::Reg || e.op == Op::Reveal || calls_out(e)))) return false;
  if (!plain(e.type) && !with_context) return false;
  if (calls_out(e)) {
    if (!with_context) return false;
  } else {
    switch (e.op) {
      case Op::Const: return with_context || !std::holds_alternative<std::string>(e.value);
      case Op::Eq:
      case Op::Ne:  // word equality: strings and addrs compare as their interned ids
        return std::all_of(e.args.begin(), e.args.end(), [&](const plan::Expr& a) { return word_operand(a, with_context); });
      case Op::ToStrS: break;   // a string's text is itself
      case Op::LatWord: break;  // a lattice's word as a value of its element type
      case Op::Reveal:          // the same, where an lmax or lmin at bottom skips the binding
        if (!with_context) return false;
        break;
      case Op::Reg:
      case Op::AddI:
      case Op::SubI:
      case Op::MulI:
      case Op::DivI:
      case Op::ModI:
      case Op::NegI:
      case Op::AddF:
      case Op::SubF:
      case Op::MulF:
      case Op::DivF:
      case Op::ModF:
      case Op::NegF:
      case Op::IntToFloat:
      case Op::ToIntF:
      case Op::EqF:
      case Op::NeF:
      case Op::LtI:
      case Op::LeI:
      case Op::GtI:
      case Op::GeI:
      case Op::LtF:
      case Op::LeF:
      case Op::GtF:
      case Op::GeF:
      case Op::And:
      case Op::Or:
      case Op::Not:
      case Op::If:
      case Op::LeastI:
      case Op::GreatestI:
      case Op::LeastF:
      case Op::GreatestF: break;
      case Op::Hash:  // of an int, bool or float: a float's hash is of its bits, which are the
                      // interpreter's (arithmetic makes its one NaN, ExprLowering::canonical)
        if (e.args.size() != 1) return false;
        break;
      default: return false;
    }
  }
  return std::all_of(e.args.begin(), e.args.end(), [&](const plan::Expr& a) { return supported(a, with_context); });
}

bool head_column_supported(const plan::Expr& e) { return (e.op == Op::Reg && !e.type.is_lattice()) || supported(e); }

namespace {

void key_of(const plan::Expr& e, std::string& out) {
  out += '(';
  out += std::to_string(static_cast<int>(e.op)) + ':' + e.type.str();
  if (e.op == Op::Reg) out += " r" + std::to_string(e.reg);
  if (auto* d = std::get_if<double>(&e.value); e.op == Op::Const && d) out += " f" + std::to_string(std::bit_cast<uint64_t>(*d));
  else if (e.op == Op::Const) out += ' ' + plan::constant_str(e.value) + '#' + std::to_string(e.value.index());
  for (const auto& a : e.args) key_of(a, out);
  out += ')';
}

}  // namespace

std::string segment_key(const SegmentSpec& spec) {
  std::string k = "R" + std::to_string(spec.registers);
  for (const auto& s : spec.steps) {
    if (SegmentSpec::has_view(s.kind)) {
      // The relation, its version and its index are the engine's views (eval/native.h): the
      // code depends only on which columns go where, and whether a Lookup follows chains.
      const bool by_key = s.index == plan::kKeyIndex;
      k += s.kind == plan::StepKind::Scan ? " S[" : s.kind == plan::StepKind::AntiJoin ? " N[" : by_key ? " K[" : " L[";
      for (const auto& x : s.key) key_of(x, k);
      if (s.kind == plan::StepKind::AntiJoin) {
        k += ']';
        continue;
      }
      k += "][";
      for (int32_t b : s.bind) k += std::to_string(b) + ',';
      k += "][";
      for (auto [c, reg] : s.equal) k += std::to_string(c) + '=' + std::to_string(reg) + ',';
      k += ']';
      continue;
    }
    k += s.kind == plan::StepKind::Filter  ? " F"
         : s.kind == plan::StepKind::InSet ? " I" + std::to_string(s.target)
                                           : " A" + std::to_string(s.target);
    key_of(s.expr, k);
  }
  if (spec.head) {
    k += " H";
    for (const auto& c : spec.head_columns) key_of(c, k);
  }
  return k;
}

}  // namespace bloom::rt::jit
