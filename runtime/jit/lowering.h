// Inside the JIT library only (LLVM types): Plan IR expressions lowered into the function being
// built, shared by the one-expression functions (expr_jit.h) and the pipeline segments
// (segment_jit.h), plus the LLVM set-up both need.
#pragma once
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <llvm/ExecutionEngine/Orc/LLJIT.h>
#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/LLVMContext.h>
#include <llvm/IR/Module.h>
#include <llvm/Support/Error.h>
#include <llvm/Target/TargetMachine.h>

#include "eval/native.h"
#include "jit/expr_jit.h"
#include "plan/ir.h"

namespace bloom::rt::jit {

// An LLVM error's text.
std::string message(llvm::Error e);

template <typename T>
T take(llvm::Expected<T> v, const char* what) {
  if (!v) throw std::runtime_error(std::string("LLVM JIT: ") + what + ": " + message(v.takeError()));
  return std::move(*v);
}

// LLVM's native target, once per process.
void initialize_llvm();
// An LLJIT that also resolves the process's own symbols (fmod for ModF).
std::unique_ptr<llvm::orc::LLJIT> make_jit();
// A target machine for this machine's CPU, as LLJIT's own (the code the JIT compiles is for it).
std::unique_ptr<llvm::TargetMachine> host_target_machine();
// A module for `jit` (its data layout and triple set, so loads and stores get the target's
// alignments), or a plain one for printing when `jit` is null.
std::unique_ptr<llvm::Module> make_module(llvm::LLVMContext& ctx, const llvm::orc::LLJIT* jit);
// Throws std::logic_error naming the problem when the module is not valid IR.
void verify(llvm::Module& m);
// The JIT's optimization passes (lowering.cpp says which, and why not O2's); with the machine the
// code is for, so that the cost models are the target's.
void optimize(llvm::Module& m, llvm::TargetMachine* target);

// Emits the code of expressions into the function `fn` at the builder's insertion point. Values
// are kept in their natural LLVM type (i64 for ints and words, double, i1) and turned into a
// word only where they are stored. A run-time error returns its Status from `fn` (which returns
// an i32).
class ExprLowering {
 public:
  // read_reg(reg): the register's word (value() turns it into its type's natural LLVM type).
  using RegReader = std::function<llvm::Value*(uint32_t reg)>;
  ExprLowering(llvm::Module& m, llvm::Function* fn, llvm::IRBuilder<>& b, RegReader read_reg)
      : m_(m), ctx_(m.getContext()), b_(b), fn_(fn), read_reg_(std::move(read_reg)) {}

  // The function's NativeContext (eval/native.h) and the segment's SegmentSpec::strings and
  // typed_calls: what string constants and call-outs (supported.h, calls_out) read. Without it
  // they are not lowered (std::logic_error).
  void use_context(llvm::Value* context, std::vector<std::string> strings, const std::vector<TypedCall>& typed_calls) {
    context_ = context;
    strings_ = std::move(strings);
    typed_calls_.clear();
    for (const auto& c : typed_calls) typed_calls_.push_back(typed_call_name(c));
  }

  // Where the code goes when a reveal meets an lmax or lmin at bottom (the binding has no value:
  // the frame matches nothing, as in the interpreter). Without it a reveal is not lowered.
  void set_no_value(llvm::BasicBlock* skip) { no_value_ = skip; }

  llvm::Value* value(const plan::Expr& e);
  llvm::Value* word(const plan::Expr& e) { return to_word(value(e), e.type); }
  llvm::Type* type_of(const plan::ValueType& t);
  llvm::Value* to_word(llvm::Value* v, const plan::ValueType& t);
  llvm::Value* from_word(llvm::Value* w, const plan::ValueType& t);

 private:
  llvm::BasicBlock* fail(Status status);
  template <typename Then, typename Otherwise>
  llvm::Value* choose(llvm::Value* cond, llvm::Type* t, Then then, Otherwise otherwise);
  llvm::Value* divide(llvm::Value* l, llvm::Value* r, bool modulo);
  llvm::Value* canonical(llvm::Value* v);
  llvm::Value* context_field(uint32_t field, llvm::Type* t);
  llvm::Value* string_constant(const std::string& text);
  llvm::Value* call_out(const plan::Expr& e, const std::vector<llvm::Value*>& operands);

  llvm::Module& m_;
  llvm::LLVMContext& ctx_;
  llvm::IRBuilder<>& b_;
  llvm::Function* fn_;
  RegReader read_reg_;
  llvm::BasicBlock* failed_[4] = {};  // per Status, the block that returns it
  llvm::Value* context_ = nullptr;
  std::vector<std::string> strings_;
  std::vector<std::string> typed_calls_;  // typed_call_name of SegmentSpec::typed_calls, in order
  llvm::BasicBlock* no_value_ = nullptr;
  llvm::Value* call_args_ = nullptr;    // [kMaxCallOperands x i64] in the entry block: a call-out's operands
  llvm::Value* call_result_ = nullptr;  // i64 in the entry block: its result
};

}  // namespace bloom::rt::jit
