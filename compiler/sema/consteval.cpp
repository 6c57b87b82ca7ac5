#include "sema/consteval.h"

#include <charconv>
#include <cmath>
#include <sstream>

namespace bloom::sema {

bool is_known(const ConstValue& v) { return !std::holds_alternative<std::monostate>(v); }

std::string const_to_string(const ConstValue& v) {
  struct V {
    std::string operator()(std::monostate) const { return "?"; }
    std::string operator()(int64_t i) const { return std::to_string(i); }
    std::string operator()(double d) const {
      std::ostringstream o;
      o << d;
      return o.str();
    }
    std::string operator()(const std::string& s) const { return "\"" + s + "\""; }
    std::string operator()(bool b) const { return b ? "true" : "false"; }
  };
  return std::visit(V{}, v);
}

Type const_type(const ConstValue& v) {
  switch (v.index()) {
    case 1: return Type::of(TypeKind::Int);
    case 2: return Type::of(TypeKind::Float);
    case 3: return Type::of(TypeKind::String);
    case 4: return Type::of(TypeKind::Bool);
    default: return {};
  }
}

std::optional<ConstValue> parse_param_value(const std::string& text, const Type& t) {
  switch (t.kind) {
    case TypeKind::Int: {
      int64_t v = 0;
      auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
      if (ec != std::errc() || p != text.data() + text.size()) return std::nullopt;
      return v;
    }
    case TypeKind::Float: {
      char* end = nullptr;
      double d = std::strtod(text.c_str(), &end);
      if (text.empty() || *end != '\0' || !std::isfinite(d)) return std::nullopt;
      return d;
    }
    case TypeKind::Bool:
      if (text == "true") return true;
      if (text == "false") return false;
      return std::nullopt;
    case TypeKind::String:
    case TypeKind::Addr: return text;
    case TypeKind::LSet: {  // elements separated by commas, "" for none; kept as the text
      if (t.args.size() != 1 || !t.args[0].is_scalar()) return std::nullopt;
      for (size_t at = 0; !text.empty() && at <= text.size();) {
        size_t end = std::min(text.find(',', at), text.size());
        if (!parse_param_value(text.substr(at, end - at), t.args[0])) return std::nullopt;
        at = end + 1;
      }
      return text;
    }
    default: return std::nullopt;
  }
}

namespace {

std::optional<double> as_double(const ConstValue& v) {
  if (auto* i = std::get_if<int64_t>(&v)) return static_cast<double>(*i);
  if (auto* d = std::get_if<double>(&v)) return *d;
  return std::nullopt;
}

// The six comparisons, for any ordered type; nullopt for an operator that is not one.
template <typename T>
std::optional<bool> compare(ast::BinaryOp op, const T& x, const T& y) {
  using Op = ast::BinaryOp;
  switch (op) {
    case Op::Eq: return x == y;
    case Op::Ne: return x != y;
    case Op::Lt: return x < y;
    case Op::Le: return x <= y;
    case Op::Gt: return x > y;
    case Op::Ge: return x >= y;
    default: return std::nullopt;
  }
}

ConstValue binary(const ast::Expr& e, const ConstValue& a, const ConstValue& b, DiagnosticEngine& diags) {
  using Op = ast::BinaryOp;
  Op op = e.binary_op;
  auto* ia = std::get_if<int64_t>(&a);
  auto* ib = std::get_if<int64_t>(&b);
  if (ia && ib) {
    int64_t x = *ia, y = *ib, r = 0;
    if (auto c = compare(op, x, y)) return *c;
    switch (op) {
      case Op::Add:
        if (__builtin_add_overflow(x, y, &r)) break;
        return r;
      case Op::Sub:
        if (__builtin_sub_overflow(x, y, &r)) break;
        return r;
      case Op::Mul:
        if (__builtin_mul_overflow(x, y, &r)) break;
        return r;
      case Op::Div:
      case Op::Mod:
        if (y == 0) {
          diags.error("division-by-zero", e.span, "division by zero in a constant expression");
          return std::monostate{};
        }
        if (x == INT64_MIN && y == -1) break;
        return op == Op::Div ? x / y : x % y;
      default: return std::monostate{};
    }
    diags.error("overflow", e.span, "integer overflow in a constant expression");
    return std::monostate{};
  }
  auto da = as_double(a), db = as_double(b);
  if (da && db) {
    double x = *da, y = *db;
    if (auto c = compare(op, x, y)) return *c;
    switch (op) {
      case Op::Add: return x + y;
      case Op::Sub: return x - y;
      case Op::Mul: return x * y;
      case Op::Div: return x / y;
      case Op::Mod: return std::fmod(x, y);
      default: return std::monostate{};
    }
  }
  auto* sa = std::get_if<std::string>(&a);
  auto* sb = std::get_if<std::string>(&b);
  if (sa && sb) {
    if (auto c = compare(op, *sa, *sb)) return *c;
    if (op == Op::Add) return *sa + *sb;
    return std::monostate{};
  }
  auto* ba = std::get_if<bool>(&a);
  auto* bb = std::get_if<bool>(&b);
  if (ba && bb) {
    switch (op) {
      case Op::And: return *ba && *bb;
      case Op::Or: return *ba || *bb;
      case Op::Eq: return *ba == *bb;
      case Op::Ne: return *ba != *bb;
      default: return std::monostate{};
    }
  }
  return std::monostate{};
}

}  // namespace

std::optional<ConstValue> eval_const(const ast::Expr& e, const ConstLookup& lookup, DiagnosticEngine& diags) {
  using K = ast::ExprKind;
  switch (e.kind) {
    case K::Int:
    case K::Duration: return ConstValue{e.int_value};
    case K::Float: return ConstValue{e.float_value};
    case K::String: return ConstValue{e.text};
    case K::Bool: return ConstValue{e.bool_value};
    case K::Name: {
      ConstValue v;
      if (!lookup(e.name, v)) return std::nullopt;
      return v;
    }
    case K::Wildcard:
    case K::Method: return std::nullopt;
    case K::Unary: {
      auto a = eval_const(*e.args[0], lookup, diags);
      if (!a) return std::nullopt;
      if (e.unary_op == ast::UnaryOp::Not) {
        if (auto* b = std::get_if<bool>(&*a)) return ConstValue{!*b};
        return ConstValue{};
      }
      if (auto* i = std::get_if<int64_t>(&*a)) {
        if (*i == INT64_MIN) return ConstValue{};
        return ConstValue{-*i};
      }
      if (auto* d = std::get_if<double>(&*a)) return ConstValue{-*d};
      return ConstValue{};
    }
    case K::Binary: {
      auto a = eval_const(*e.args[0], lookup, diags);
      auto b = eval_const(*e.args[1], lookup, diags);
      if (!a || !b) return std::nullopt;
      if (!is_known(*a) || !is_known(*b)) return ConstValue{};
      return binary(e, *a, *b, diags);
    }
    case K::Call: {
      // Functions of the node (self, members, tick, now) have values only at run time; the pure
      // built-ins are folded when their arguments are constants.
      std::string f = e.name.str();
      if (f == "self" || f == "members" || f == "tick" || f == "now")
        return e.args.empty() ? std::optional<ConstValue>(ConstValue{}) : std::nullopt;
      // A lattice value is no plain constant: a fact holding one is built when the node starts.
      // Its arguments are still folded, so that a division by zero in them is reported here.
      if (!e.name.qualified() && is_lattice_constructor(f)) {
        for (const auto& a : e.args) eval_const(*a, lookup, diags);
        return std::nullopt;
      }
      if (f == "if" && e.args.size() == 3) {  // only the chosen value is evaluated, as at run time
        auto c = eval_const(*e.args[0], lookup, diags);
        if (!c) return std::nullopt;
        if (auto* b = std::get_if<bool>(&*c)) return eval_const(*e.args[*b ? 1 : 2], lookup, diags);
        return ConstValue{};
      }
      std::vector<ConstValue> args;
      for (const auto& a : e.args) {
        auto v = eval_const(*a, lookup, diags);
        if (!v) return std::nullopt;
        args.push_back(*v);
      }
      for (const auto& a : args)
        if (!is_known(a)) return ConstValue{};
      if (f == "to_string" && args.size() == 1) {
        if (auto* s = std::get_if<std::string>(&args[0])) return ConstValue{*s};
        std::string s = const_to_string(args[0]);
        return ConstValue{s};
      }
      if (f == "to_int" && args.size() == 1)
        if (auto* b = std::get_if<bool>(&args[0])) return ConstValue{int64_t{*b ? 1 : 0}};
      if (f == "len" && args.size() == 1)
        if (auto* s = std::get_if<std::string>(&args[0])) return ConstValue{static_cast<int64_t>(s->size())};
      if (f == "find" && args.size() == 2) {
        auto *s = std::get_if<std::string>(&args[0]), *t = std::get_if<std::string>(&args[1]);
        if (s && t) {
          size_t at = s->find(*t);
          return ConstValue{at == std::string::npos ? int64_t{-1} : static_cast<int64_t>(at)};
        }
      }
      return ConstValue{};
    }
  }
  return std::nullopt;
}

}  // namespace bloom::sema
