// Which Plan IR expressions the JIT compiles: decided without LLVM, so the engine's side (the
// loader in `bloom`) and the JIT module answer alike.
#pragma once
#include <string>

#include "eval/native.h"
#include "plan/ir.h"

namespace bloom::rt::jit {

// Whether every opcode and constant of `e` is one the JIT lowers: integer, float and bool
// arithmetic, comparisons, logic, `if`, least/greatest, int-to-float, hash() of an int or bool,
// word equality of
// registers of any plain type, over registers and int, float and bool constants. Anything else
// (string functions and constants, lattices, self(), now()) stays interpreted.
bool supported(const plan::Expr& e);

// A head column the JIT writes: a supported expression, or a register of any non-lattice type
// (copied as a word).
bool head_column_supported(const plan::Expr& e);

// What a segment computes, as text: equal for equal segments. The key of the JIT's caches (in
// memory and on disk) and of the table of segments in a binary made by `bloom build`.
std::string segment_key(const SegmentSpec& spec);

}  // namespace bloom::rt::jit
