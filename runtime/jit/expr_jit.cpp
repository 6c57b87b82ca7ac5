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
    if (!supported(*exprs[i])) throw std::logic_error("LLVM JIT: an expression with an opcode it does not lower");
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

std::string plan_llvm_ir(const plan::Program& program) {
  std::vector<const plan::Expr*> exprs;
  std::vector<std::string> names;
  std::string header = "; bloom plan --format llvm: " + program.source +
                       "\n; Filters, assignments and head columns over ints, floats and bools, one function each\n"
                       "; (i32 status = f(ptr frame, ptr value)); the rest is interpreted.\n";
  auto add = [&](const plan::RulePlan& r, const std::string& pipeline) {
    const std::string prefix = "r" + std::to_string(r.rule) + "." + pipeline;
    std::string compiled, interpreted;
    auto one = [&](const plan::Expr& e, const std::string& what) {
      if (supported(e)) {
        exprs.push_back(&e);
        names.push_back(prefix + "." + what);
        compiled += " @" + names.back();
      } else {
        interpreted += " " + what;
      }
    };
    for (size_t i = 0; i < r.steps.size(); ++i) {
      const plan::Step& s = r.steps[i];
      if (s.kind == plan::StepKind::Filter || s.kind == plan::StepKind::Assign || s.kind == plan::StepKind::InSet)
        one(s.expr, "step" + std::to_string(i + 1));
    }
    for (size_t c = 0; c < r.columns.size(); ++c)
      if (r.columns[c].agg != plan::AggKind::Count && r.columns[c].value.op != Op::Reg && r.columns[c].value.op != Op::Const)
        one(r.columns[c].value, "head" + std::to_string(c + 1));
    if (compiled.empty() && interpreted.empty()) return;
    header += "; " + prefix + " (" + r.where + ") " + r.text + "\n";
    if (!compiled.empty()) header += ";   compiled:" + compiled + "\n";
    if (!interpreted.empty()) header += ";   interpreted:" + interpreted + "\n";
  };
  auto rule = [&](const plan::RulePlan& r, const std::string& pipeline) {
    add(r, pipeline);
    for (size_t v = 0; v < r.variants.size(); ++v) add(r.variants[v], pipeline + ".across" + std::to_string(v + 1));
  };
  for (const auto& s : program.strata)
    for (const auto& g : s.groups) {
      for (const auto& r : g.rules) rule(r, "full");
      for (size_t d = 0; d < g.deltas.size(); ++d) rule(g.deltas[d], "delta" + std::to_string(d + 1));
    }
  for (const auto& r : program.transitions) rule(r, "end");
  if (exprs.empty()) return header + "; (no expression to compile)\n";
  return header + "\n" + llvm_ir(exprs, names);
}

}  // namespace bloom::rt::jit
