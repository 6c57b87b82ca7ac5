// Lowering: the checked, stratified program -> the Plan IR (compiler/plan/ir.h).
// Each rule becomes a pipeline of steps: the join order starts from the delta atom (in a delta
// variant) or the first atom, then repeatedly takes the atom with the most columns already
// bound, so lookups go through hash indexes; conditions, assignments and negations are placed as
// soon as their variables are bound. Indexes are collected from the lookups the pipelines make.
#pragma once
#include <memory>

#include "analysis/stratify.h"
#include "plan/ir.h"
#include "sema/program.h"
#include "syntax/source.h"

namespace bloom::plan {

std::unique_ptr<Program> lower(const sema::Program& program, const analysis::Strata& strata, const SourceManager& sources);

// A sema type as a plan type.
ValueType plan_type(const sema::Type& t);

}  // namespace bloom::plan
