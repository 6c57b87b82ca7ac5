// Which Plan IR expressions the JIT compiles: decided without LLVM, so the engine's side (the
// loader in `bloom`) and the JIT module answer alike.
#pragma once
#include <string>

#include "eval/native.h"
#include "plan/ir.h"

namespace bloom::rt::jit {

// Whether every opcode and constant of `e` is one the JIT compiles: integer, float and bool
// arithmetic, comparisons, logic, `if`, least/greatest, int-to-float, to_int of a float, hash()
// of an int, bool or float and word equality, lowered to native code; and, when the code has a NativeContext
// (`with_context`), string constants, registers of strings and addrs and the operations of
// calls_out. Lattices stay interpreted.
bool supported(const plan::Expr& e, bool with_context = true);

// Whether the code calls the engine to compute `e`'s own operation (NativeContext::apply), its
// operands computed natively: the string functions, string comparisons and least/greatest,
// hash() of a string, self(), tick() and now(). Their work is the engine's (text, the interned
// strings), so compiling them saves the dispatch, and the steps around them stay compiled.
bool calls_out(const plan::Expr& e);

// A head column the JIT writes: a supported expression, or a register of any non-lattice type
// (copied as a word).
bool head_column_supported(const plan::Expr& e);

// What a segment computes, as text: equal for equal segments. The key of the JIT's caches (in
// memory and on disk) and of the table of segments in a binary made by `bloom build`.
std::string segment_key(const SegmentSpec& spec);

}  // namespace bloom::rt::jit
