// Compile-time values: consts, params, and the arguments of ground facts.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <variant>

#include "sema/types.h"
#include "syntax/ast.h"
#include "syntax/diagnostics.h"

namespace bloom::sema {

// monostate: not known at compile time (self(), tick(), a param without a value).
using ConstValue = std::variant<std::monostate, int64_t, double, std::string, bool>;

bool is_known(const ConstValue& v);
std::string const_to_string(const ConstValue& v);  // as it would be written in source
Type const_type(const ConstValue& v);              // Error for monostate

// Parses a `--param` value for a param of type `t`. Returns nullopt if it does not parse.
std::optional<ConstValue> parse_param_value(const std::string& text, const Type& t);

// Evaluates a constant expression. `lookup` resolves a Name (const or param): it returns false
// if the name is not a constant, in which case the expression is not constant and nullopt is
// returned. Errors such as division by zero are reported and yield monostate.
using ConstLookup = std::function<bool(const ast::QualifiedName&, ConstValue&)>;
std::optional<ConstValue> eval_const(const ast::Expr& e, const ConstLookup& lookup, DiagnosticEngine& diags);

}  // namespace bloom::sema
