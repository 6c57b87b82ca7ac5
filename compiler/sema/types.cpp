#include "sema/types.h"

namespace bloom::sema {

std::string Type::str() const {
  switch (kind) {
    case TypeKind::Error: return "<error>";
    case TypeKind::Int: return "int";
    case TypeKind::Float: return "float";
    case TypeKind::String: return "string";
    case TypeKind::Bool: return "bool";
    case TypeKind::Addr: return "addr";
    case TypeKind::LBool: return "lbool";
    case TypeKind::LMax: return "lmax<" + args.at(0).str() + ">";
    case TypeKind::LMin: return "lmin<" + args.at(0).str() + ">";
    case TypeKind::LSet: return "lset<" + args.at(0).str() + ">";
    case TypeKind::LMap: return "lmap<" + args.at(0).str() + ", " + args.at(1).str() + ">";
  }
  return "?";
}

namespace {
const std::vector<std::string>& type_names() {
  static const std::vector<std::string> names = {"int", "float", "string", "bool", "addr", "lmax", "lmin", "lbool", "lset", "lmap"};
  return names;
}
}  // namespace

Type resolve_type(const ast::TypeExpr& t, DiagnosticEngine& diags) {
  static const std::pair<const char*, TypeKind> scalars[] = {{"int", TypeKind::Int},       {"float", TypeKind::Float},
                                                             {"string", TypeKind::String}, {"bool", TypeKind::Bool},
                                                             {"addr", TypeKind::Addr},     {"lbool", TypeKind::LBool}};
  auto want_args = [&](size_t n) {
    if (t.args.size() == n) return true;
    diags.error("bad-type", t.span,
                "`" + t.name + "` takes " + std::to_string(n) + " type argument" + (n == 1 ? "" : "s") + ", found " +
                    std::to_string(t.args.size()));
    return false;
  };
  for (auto [name, kind] : scalars)
    if (t.name == name) return want_args(0) ? Type::of(kind) : Type{};

  if (t.name == "lmax" || t.name == "lmin") {
    if (!want_args(1)) return {};
    Type e = resolve_type(t.args[0], diags);
    if (e.is_error()) return {};
    if (!e.is_numeric() && e.kind != TypeKind::String) {
      diags.error("bad-type", t.args[0].span,
                  "`" + t.name + "` needs an ordered element type (int, float or string), found `" + e.str() + "`");
      return {};
    }
    return Type::lattice(t.name == "lmax" ? TypeKind::LMax : TypeKind::LMin, {e});
  }
  if (t.name == "lset") {
    if (!want_args(1)) return {};
    Type e = resolve_type(t.args[0], diags);
    if (e.is_error()) return {};
    if (!e.is_scalar()) {
      diags.error("bad-type", t.args[0].span,
                  "`lset` elements must be plain values (int, float, string, bool, addr), found `" + e.str() + "`");
      return {};
    }
    return Type::lattice(TypeKind::LSet, {e});
  }
  if (t.name == "lmap") {
    if (!want_args(2)) return {};
    Type k = resolve_type(t.args[0], diags);
    Type v = resolve_type(t.args[1], diags);
    if (k.is_error() || v.is_error()) return {};
    if (!k.is_scalar()) {
      diags.error("bad-type", t.args[0].span, "`lmap` keys must be plain values, found `" + k.str() + "`");
      return {};
    }
    if (!v.is_lattice()) {
      diags.error("bad-type", t.args[1].span, "`lmap` values must be lattices, found `" + v.str() + "`")
          .with_help("wrap the value type in a lattice, e.g. `lmax<" + v.str() + ">`");
      return {};
    }
    return Type::lattice(TypeKind::LMap, {k, v});
  }
  auto& d = diags.error("unknown-type", t.span, "unknown type `" + t.name + "`");
  std::string near = closest_match(t.name, type_names());
  if (!near.empty()) d.with_help("did you mean `" + near + "`?");
  else d.with_help("the types are int, float, string, bool, addr, lmax<T>, lmin<T>, lbool, lset<T>, lmap<K, L>");
  return {};
}

bool is_lattice_constructor(const std::string& n) { return n == "lmax" || n == "lmin" || n == "lbool" || n == "lset" || n == "lmap"; }

std::optional<Type> lift_source(const Type& l) {
  switch (l.kind) {
    case TypeKind::LMax:
    case TypeKind::LMin:
    case TypeKind::LSet: return l.args.at(0);
    case TypeKind::LBool: return Type::of(TypeKind::Bool);
    default: return std::nullopt;
  }
}

Type reveal_type(const Type& l) {
  switch (l.kind) {
    case TypeKind::LMax:
    case TypeKind::LMin: return l.args.at(0);
    case TypeKind::LBool: return Type::of(TypeKind::Bool);
    default: return l;
  }
}

}  // namespace bloom::sema
