// Printers for the Plan IR: `bloom plan --format text|json|dot`.
#pragma once
#include <string>

#include <nlohmann/json.hpp>

#include "plan/ir.h"

namespace bloom::plan {

std::string expr_text(const Expr& e, const Program& p);
// One pipeline step as `bloom plan` prints it ("lookup e[y] (full) key(r1) bind x->r2").
std::string step_text(const Step& s, const Program& p);
std::string to_text(const Program& p);
nlohmann::json to_json(const Program& p);
// One cluster per stratum and group, one box per rule variant, edges from the relations a
// pipeline reads to the relation it writes. Renders with `dot -Tsvg`.
std::string to_dot(const Program& p);

}  // namespace bloom::plan
