// The LLVM JIT, first layer: Plan IR expressions over plain ints, floats and bools compiled to
// native functions with LLVM ORC (LLJIT, the passes of lowering.h). LLVM's types never leave this
// library: callers see plan::Expr in and a function pointer out (docs/architecture.md, jit).
//
// A compiled expression reads its registers from a frame of 64-bit words, writes its value as a
// word (the encoding of core/value.h) and returns a status: the interpreter's run-time errors
// (division or modulo by zero) are statuses, never exceptions, so the engine can raise the same
// RuntimeError with the same message under both engines (issue 14, identical semantics).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "jit/supported.h"
#include "plan/ir.h"

namespace bloom::rt::jit {

enum class Status : int32_t { Ok = 0, DivisionByZero = 1, ModuloByZero = 2, IntOutOfRange = 3 };  // IntOutOfRange: to_int of a float
// What a compiled expression is: status = f(frame, &value).
using ExprFn = Status (*)(const uint64_t* frame, uint64_t* value);

class ExprCompiler {
 public:
  // Sets up LLVM's native target and an LLJIT; throws std::runtime_error if LLVM cannot.
  ExprCompiler();
  ~ExprCompiler();
  ExprCompiler(const ExprCompiler&) = delete;
  ExprCompiler& operator=(const ExprCompiler&) = delete;

  // Compiles the expressions (each supported()) as the functions of one module, optimized (lowering.h), and
  // returns their entry points in the same order. They stay valid while this compiler lives.
  std::vector<ExprFn> compile(const std::vector<const plan::Expr*>& exprs);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// The LLVM IR of the expressions (each supported()), one function per expression named by
// `names`, before optimization.
std::string llvm_ir(const std::vector<const plan::Expr*>& exprs, const std::vector<std::string>& names);

}  // namespace bloom::rt::jit
