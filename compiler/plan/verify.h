// The contract between the planner and the engines that run a plan (the interpreter today, the
// LLVM JIT later): what each of them assumes without checking it in its inner loops. verify()
// checks it all, so that a lowering bug is an internal error naming the rule, never a wrong
// answer or a crash at run time. The driver verifies every plan it makes; debug and sanitizer
// builds verify again where an engine loads one (BLOOM_VERIFY_PLANS).
//
// Checked: relation ids and kinds of the built-ins, column lists, keys, indexes, `@` and delay
// columns; facts (one value per column); in every rule pipeline (groups, deltas, cross-tick
// variants, transitions): relation ids, index positions, key widths, bind widths, registers in
// range and bound before they are read, head widths, aggregate columns; in every expression: the
// argument count of its opcode, the operand and result types of typed opcodes, and that no
// opcode the planner must lower away (LatThreshold, LatCompare) is left.
#pragma once
#include <string>
#include <vector>

#include "plan/ir.h"

namespace bloom::plan {

// Every violation found, each as "WHERE: WHAT" (WHERE names the relation, fact or rule, with
// its source position when the plan has one). Empty when the plan keeps the contract.
std::vector<std::string> verify(const Program& program);

}  // namespace bloom::plan
