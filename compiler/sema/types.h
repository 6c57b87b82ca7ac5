// Column and expression types: the scalars and the lattices of docs/language.md section 6.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "syntax/ast.h"
#include "syntax/diagnostics.h"

namespace bloom::sema {

enum class TypeKind : uint8_t { Error, Int, Float, String, Bool, Addr, LMax, LMin, LBool, LSet, LMap };

// A value type. Error is the type of an expression that already failed to check; every check
// accepts it silently so one mistake is reported once.
struct Type {
  TypeKind kind = TypeKind::Error;
  std::vector<Type> args;  // LMax, LMin, LSet: {element}; LMap: {key, value lattice}

  static Type of(TypeKind k) { return Type{k, {}}; }
  static Type lattice(TypeKind k, std::vector<Type> a) { return Type{k, std::move(a)}; }

  bool is_error() const { return kind == TypeKind::Error; }
  bool is_lattice() const { return kind >= TypeKind::LMax; }
  bool is_numeric() const { return kind == TypeKind::Int || kind == TypeKind::Float; }
  bool is_scalar() const { return kind >= TypeKind::Int && kind <= TypeKind::Addr; }
  std::string str() const;
  friend bool operator==(const Type&, const Type&) = default;
};

// Resolves a written type, reporting unknown names (with a suggestion) and bad arguments.
Type resolve_type(const ast::TypeExpr& t, DiagnosticEngine& diags);

// `lmax(x)`, `lmin(x)`, `lbool(b)`, `lset(x, ...)`, `lmap(k, v)`: the functions that build a
// lattice value (their type may come from the column they are stored into).
bool is_lattice_constructor(const std::string& name);

// The plain type a lattice lifts (`3` into lmax<int>, "a" into lset<string>), if any.
std::optional<Type> lift_source(const Type& lattice);
// The plain type `value()` reveals: lmax<T> -> T, lbool -> bool; sets and maps reveal themselves.
Type reveal_type(const Type& lattice);

}  // namespace bloom::sema
