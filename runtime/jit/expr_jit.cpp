#include "jit/expr_jit.h"

#include <algorithm>
#include <variant>

#include <llvm/ExecutionEngine/Orc/ThreadSafeModule.h>
#include <llvm/Support/raw_ostream.h>

#include "jit/lowering.h"

namespace bloom::rt::jit {
namespace {

using plan::Op;
using plan::TypeKind;

// One expression as one function `i32 f(ptr frame, ptr value)`.
void emit_function(llvm::Module& m, const std::string& name, const plan::Expr& e) {
  llvm::IRBuilder<> b(m.getContext());
  auto* fn = llvm::Function::Create(llvm::FunctionType::get(b.getInt32Ty(), {b.getPtrTy(), b.getPtrTy()}, false),
                                    llvm::Function::ExternalLinkage, name, m);
  llvm::Value* frame = fn->getArg(0);
  llvm::Value* out = fn->getArg(1);
  frame->setName("frame");
  out->setName("value");
  b.SetInsertPoint(llvm::BasicBlock::Create(m.getContext(), "entry", fn));
  ExprLowering lower(m, fn, b, [&](uint32_t reg) -> llvm::Value* {
    return b.CreateLoad(b.getInt64Ty(), b.CreateConstInBoundsGEP1_64(b.getInt64Ty(), frame, reg), "r" + std::to_string(reg));
  });
  b.CreateStore(lower.word(e), out);
  b.CreateRet(b.getInt32(static_cast<int32_t>(Status::Ok)));
}

// The module of the expressions (for `jit`, when given).
std::unique_ptr<llvm::Module> build(llvm::LLVMContext& ctx, const std::vector<const plan::Expr*>& exprs,
                                    const std::vector<std::string>& names, const llvm::orc::LLJIT* jit = nullptr) {
  auto m = make_module(ctx, jit);
  for (size_t i = 0; i < exprs.size(); ++i) {
    if (!supported(*exprs[i], /*with_context=*/false)) throw std::logic_error("LLVM JIT: an expression with an opcode it does not lower");
    emit_function(*m, names[i], *exprs[i]);
  }
  verify(*m);
  return m;
}

}  // namespace

struct ExprCompiler::State {
  std::unique_ptr<llvm::orc::LLJIT> jit;
  std::unique_ptr<llvm::TargetMachine> target;  // the cost model of optimize()
  uint64_t modules = 0;
};

ExprCompiler::ExprCompiler() : state_(std::make_unique<State>()) {
  state_->jit = make_jit();
  state_->target = host_target_machine();
}

ExprCompiler::~ExprCompiler() = default;

std::vector<ExprFn> ExprCompiler::compile(const std::vector<const plan::Expr*>& exprs) {
  std::vector<std::string> names;
  uint64_t module = state_->modules++;
  for (size_t i = 0; i < exprs.size(); ++i) names.push_back("bloom_m" + std::to_string(module) + "_e" + std::to_string(i));
  auto ctx = std::make_unique<llvm::LLVMContext>();
  auto m = build(*ctx, exprs, names, state_->jit.get());
  optimize(*m, state_->target.get());
  if (auto err = state_->jit->addIRModule(llvm::orc::ThreadSafeModule(std::move(m), std::move(ctx))))
    throw std::runtime_error("LLVM JIT: cannot add the module: " + message(std::move(err)));
  std::vector<ExprFn> out;
  for (const auto& n : names) out.push_back(take(state_->jit->lookup(n), "cannot find a compiled function").toPtr<ExprFn>());
  return out;
}

std::string llvm_ir(const std::vector<const plan::Expr*>& exprs, const std::vector<std::string>& names) {
  llvm::LLVMContext ctx;
  auto m = build(ctx, exprs, names);
  std::string text;
  llvm::raw_string_ostream os(text);
  m->print(os, nullptr);
  return os.str();
}

}  // namespace bloom::rt::jit
