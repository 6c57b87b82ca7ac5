#include "jit/expr_jit.h"

#include <algorithm>
#include <mutex>
#include <stdexcept>
#include <variant>

#include <llvm/ExecutionEngine/Orc/ExecutionUtils.h>
#include <llvm/ExecutionEngine/Orc/LLJIT.h>
#include <llvm/ExecutionEngine/Orc/ThreadSafeModule.h>
#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/LLVMContext.h>
#include <llvm/IR/Module.h>
#include <llvm/IR/Verifier.h>
#include <llvm/Passes/PassBuilder.h>
#include <llvm/Support/TargetSelect.h>
#include <llvm/Support/raw_ostream.h>

namespace bloom::rt::jit {
namespace {

using plan::Op;
using plan::TypeKind;

bool plain(const plan::ValueType& t) { return t.kind == TypeKind::Int || t.kind == TypeKind::Float || t.kind == TypeKind::Bool; }

std::string message(llvm::Error e) {
  std::string s;
  llvm::raw_string_ostream os(s);
  os << e;
  return os.str();
}

template <typename T>
T take(llvm::Expected<T> v, const char* what) {
  if (!v) throw std::runtime_error(std::string("LLVM JIT: ") + what + ": " + message(v.takeError()));
  return std::move(*v);
}

// One expression as one function `i32 f(ptr frame, ptr value)`. Values are kept in their natural
// LLVM type (i64, double, i1) and turned into a word only where they are stored.
class Lowering {
 public:
  Lowering(llvm::Module& m, const std::string& name) : m_(m), ctx_(m.getContext()), b_(ctx_) {
    auto* i32 = b_.getInt32Ty();
    auto* ptr = b_.getPtrTy();
    fn_ = llvm::Function::Create(llvm::FunctionType::get(i32, {ptr, ptr}, false), llvm::Function::ExternalLinkage, name, m_);
    frame_ = fn_->getArg(0);
    out_ = fn_->getArg(1);
    frame_->setName("frame");
    out_->setName("value");
    b_.SetInsertPoint(llvm::BasicBlock::Create(ctx_, "entry", fn_));
  }

  void emit(const plan::Expr& e) {
    llvm::Value* v = value(e);
    b_.CreateStore(to_word(v, e.type), out_);
    b_.CreateRet(b_.getInt32(static_cast<int32_t>(Status::Ok)));
  }

 private:
  llvm::Type* type_of(const plan::ValueType& t) {
    if (t.kind == TypeKind::Float) return b_.getDoubleTy();
    if (t.kind == TypeKind::Bool) return b_.getInt1Ty();
    return b_.getInt64Ty();
  }

  llvm::Value* to_word(llvm::Value* v, const plan::ValueType& t) {
    if (t.kind == TypeKind::Float) return b_.CreateBitCast(v, b_.getInt64Ty());
    if (t.kind == TypeKind::Bool) return b_.CreateZExt(v, b_.getInt64Ty());
    return v;
  }

  llvm::Value* from_word(llvm::Value* w, const plan::ValueType& t) {
    if (t.kind == TypeKind::Float) return b_.CreateBitCast(w, b_.getDoubleTy());
    if (t.kind == TypeKind::Bool) return b_.CreateICmpNE(w, b_.getInt64(0));
    return w;
  }

  // A block that returns `status`: where a run-time error leaves the function.
  llvm::BasicBlock* fail(Status status) {
    llvm::BasicBlock*& block = status == Status::DivisionByZero ? div_zero_ : mod_zero_;
    if (!block) {
      auto* here = b_.GetInsertBlock();
      block = llvm::BasicBlock::Create(ctx_, status == Status::DivisionByZero ? "division_by_zero" : "modulo_by_zero", fn_);
      b_.SetInsertPoint(block);
      b_.CreateRet(b_.getInt32(static_cast<int32_t>(status)));
      b_.SetInsertPoint(here);
    }
    return block;
  }

  // `then` or `otherwise`, evaluating only the one chosen (if, and, or).
  template <typename Then, typename Otherwise>
  llvm::Value* choose(llvm::Value* cond, llvm::Type* t, Then then, Otherwise otherwise) {
    auto* yes = llvm::BasicBlock::Create(ctx_, "then", fn_);
    auto* no = llvm::BasicBlock::Create(ctx_, "else", fn_);
    auto* join = llvm::BasicBlock::Create(ctx_, "join", fn_);
    b_.CreateCondBr(cond, yes, no);
    b_.SetInsertPoint(yes);
    llvm::Value* a = then();
    auto* yes_end = b_.GetInsertBlock();
    b_.CreateBr(join);
    b_.SetInsertPoint(no);
    llvm::Value* c = otherwise();
    auto* no_end = b_.GetInsertBlock();
    b_.CreateBr(join);
    b_.SetInsertPoint(join);
    auto* phi = b_.CreatePHI(t, 2);
    phi->addIncoming(a, yes_end);
    phi->addIncoming(c, no_end);
    return phi;
  }

  // l / r and l % r as the interpreter computes them: zero is an error, -1 gives -l (wrapping)
  // and 0 (sdiv would trap on INT64_MIN / -1).
  llvm::Value* divide(llvm::Value* l, llvm::Value* r, bool modulo) {
    auto* ok = llvm::BasicBlock::Create(ctx_, "nonzero", fn_);
    b_.CreateCondBr(b_.CreateICmpEQ(r, b_.getInt64(0)), fail(modulo ? Status::ModuloByZero : Status::DivisionByZero), ok);
    b_.SetInsertPoint(ok);
    llvm::Value* minus_one = b_.CreateICmpEQ(r, b_.getInt64(-1));
    llvm::Value* safe = b_.CreateSelect(minus_one, b_.getInt64(1), r);
    llvm::Value* q = modulo ? b_.CreateSRem(l, safe) : b_.CreateSDiv(l, safe);
    return b_.CreateSelect(minus_one, modulo ? b_.getInt64(0) : b_.CreateSub(b_.getInt64(0), l), q);
  }

  llvm::Value* value(const plan::Expr& e) {
    // Operands left to right, as the interpreter; and, or and if only what they need.
    const bool lazy = e.op == Op::And || e.op == Op::Or || e.op == Op::If;
    std::vector<llvm::Value*> operands;
    if (!lazy)
      for (const auto& a : e.args) operands.push_back(value(a));
    auto arg = [&](size_t i) { return lazy ? value(e.args[i]) : operands[i]; };
    switch (e.op) {
      case Op::Const:
        if (auto* i = std::get_if<int64_t>(&e.value)) return b_.getInt64(static_cast<uint64_t>(*i));
        if (auto* d = std::get_if<double>(&e.value)) return llvm::ConstantFP::get(b_.getDoubleTy(), *d);
        return b_.getInt1(std::get<bool>(e.value));
      case Op::Reg: {
        llvm::Value* at = b_.CreateConstInBoundsGEP1_64(b_.getInt64Ty(), frame_, e.reg);
        return from_word(b_.CreateLoad(b_.getInt64Ty(), at, "r" + std::to_string(e.reg)), e.type);
      }
      case Op::AddI: return b_.CreateAdd(arg(0), arg(1));
      case Op::SubI: return b_.CreateSub(arg(0), arg(1));
      case Op::MulI: return b_.CreateMul(arg(0), arg(1));
      case Op::DivI:
      case Op::ModI: return divide(arg(0), arg(1), e.op == Op::ModI);
      case Op::NegI: return b_.CreateSub(b_.getInt64(0), arg(0));
      case Op::AddF: return b_.CreateFAdd(arg(0), arg(1));
      case Op::SubF: return b_.CreateFSub(arg(0), arg(1));
      case Op::MulF: return b_.CreateFMul(arg(0), arg(1));
      case Op::DivF: return b_.CreateFDiv(arg(0), arg(1));
      case Op::ModF: {
        auto* d = b_.getDoubleTy();
        llvm::FunctionCallee fmod = m_.getOrInsertFunction("fmod", llvm::FunctionType::get(d, {d, d}, false));
        return b_.CreateCall(fmod, {arg(0), arg(1)});
      }
      case Op::NegF: return b_.CreateFNeg(arg(0));
      case Op::IntToFloat: return b_.CreateSIToFP(arg(0), b_.getDoubleTy());
      case Op::Eq:
      case Op::Ne: {  // word equality, as the interpreter
        llvm::Value* l = to_word(arg(0), e.args[0].type);
        llvm::Value* r = to_word(arg(1), e.args[1].type);
        return e.op == Op::Eq ? b_.CreateICmpEQ(l, r) : b_.CreateICmpNE(l, r);
      }
      case Op::EqF: return b_.CreateFCmpOEQ(arg(0), arg(1));
      case Op::NeF: return b_.CreateFCmpUNE(arg(0), arg(1));
      case Op::LtI: return b_.CreateICmpSLT(arg(0), arg(1));
      case Op::LeI: return b_.CreateICmpSLE(arg(0), arg(1));
      case Op::GtI: return b_.CreateICmpSGT(arg(0), arg(1));
      case Op::GeI: return b_.CreateICmpSGE(arg(0), arg(1));
      case Op::LtF: return b_.CreateFCmpOLT(arg(0), arg(1));
      case Op::LeF: return b_.CreateFCmpOLE(arg(0), arg(1));
      case Op::GtF: return b_.CreateFCmpOGT(arg(0), arg(1));
      case Op::GeF: return b_.CreateFCmpOGE(arg(0), arg(1));
      case Op::And: return choose(arg(0), b_.getInt1Ty(), [&] { return arg(1); }, [&] { return b_.getInt1(false); });
      case Op::Or: return choose(arg(0), b_.getInt1Ty(), [&] { return b_.getInt1(true); }, [&] { return arg(1); });
      case Op::Not: return b_.CreateNot(arg(0));
      case Op::If: return choose(arg(0), type_of(e.type), [&] { return arg(1); }, [&] { return arg(2); });
      // std::min(a, b) is (b < a) ? b : a and std::max(a, b) is (a < b) ? b : a, NaN included.
      case Op::LeastI:
      case Op::GreatestI:
      case Op::LeastF:
      case Op::GreatestF: {
        llvm::Value* a = arg(0);
        llvm::Value* c = arg(1);
        bool least = e.op == Op::LeastI || e.op == Op::LeastF;
        llvm::Value* take_second = e.op == Op::LeastI      ? b_.CreateICmpSLT(c, a)
                                   : e.op == Op::GreatestI ? b_.CreateICmpSLT(a, c)
                                   : least                 ? b_.CreateFCmpOLT(c, a)
                                                           : b_.CreateFCmpOLT(a, c);
        return b_.CreateSelect(take_second, c, a);
      }
      default: break;
    }
    throw std::logic_error(std::string("LLVM JIT: opcode ") + plan::to_string(e.op) + " is not lowered (check supported() first)");
  }

  llvm::Module& m_;
  llvm::LLVMContext& ctx_;
  llvm::IRBuilder<> b_;
  llvm::Function* fn_ = nullptr;
  llvm::Value* frame_ = nullptr;
  llvm::Value* out_ = nullptr;
  llvm::BasicBlock* div_zero_ = nullptr;
  llvm::BasicBlock* mod_zero_ = nullptr;
};

// The module of the expressions; `jit` (when given) sets its data layout first, so that loads and
// stores get the target's alignments.
std::unique_ptr<llvm::Module> build(llvm::LLVMContext& ctx, const std::vector<const plan::Expr*>& exprs, const std::vector<std::string>& names,
                                    const llvm::orc::LLJIT* jit = nullptr) {
  auto m = std::make_unique<llvm::Module>("bloom_rules", ctx);
  if (jit) {
    m->setDataLayout(jit->getDataLayout());
    m->setTargetTriple(jit->getTargetTriple().str());
  }
  for (size_t i = 0; i < exprs.size(); ++i) {
    if (!supported(*exprs[i])) throw std::logic_error("LLVM JIT: an expression with an opcode it does not lower");
    Lowering(*m, names[i]).emit(*exprs[i]);
  }
  std::string problems;
  llvm::raw_string_ostream os(problems);
  if (llvm::verifyModule(*m, &os)) throw std::logic_error("LLVM JIT: invalid IR: " + os.str());
  return m;
}

void optimize(llvm::Module& m) {
  llvm::LoopAnalysisManager lam;
  llvm::FunctionAnalysisManager fam;
  llvm::CGSCCAnalysisManager cgam;
  llvm::ModuleAnalysisManager mam;
  llvm::PassBuilder pb;
  pb.registerModuleAnalyses(mam);
  pb.registerCGSCCAnalyses(cgam);
  pb.registerFunctionAnalyses(fam);
  pb.registerLoopAnalyses(lam);
  pb.crossRegisterProxies(lam, fam, cgam, mam);
  pb.buildPerModuleDefaultPipeline(llvm::OptimizationLevel::O2).run(m, mam);
}

void initialize_llvm() {
  static std::once_flag once;
  std::call_once(once, [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
  });
}

}  // namespace

bool supported(const plan::Expr& e) {
  if (!plain(e.type)) return false;
  switch (e.op) {
    case Op::Const: return !std::holds_alternative<std::string>(e.value);
    case Op::Reg:
    case Op::AddI: case Op::SubI: case Op::MulI: case Op::DivI: case Op::ModI: case Op::NegI:
    case Op::AddF: case Op::SubF: case Op::MulF: case Op::DivF: case Op::ModF: case Op::NegF: case Op::IntToFloat:
    case Op::Eq: case Op::Ne: case Op::EqF: case Op::NeF:
    case Op::LtI: case Op::LeI: case Op::GtI: case Op::GeI: case Op::LtF: case Op::LeF: case Op::GtF: case Op::GeF:
    case Op::And: case Op::Or: case Op::Not: case Op::If:
    case Op::LeastI: case Op::GreatestI: case Op::LeastF: case Op::GreatestF: break;
    default: return false;
  }
  return std::all_of(e.args.begin(), e.args.end(), [](const plan::Expr& a) { return supported(a); });
}

struct ExprCompiler::State {
  std::unique_ptr<llvm::orc::LLJIT> jit;
  uint64_t modules = 0;
};

ExprCompiler::ExprCompiler() : state_(std::make_unique<State>()) {
  initialize_llvm();
  state_->jit = take(llvm::orc::LLJITBuilder().create(), "cannot create the JIT");
  // fmod (ModF) comes from the C library of this process.
  auto& dylib = state_->jit->getMainJITDylib();
  dylib.addGenerator(take(llvm::orc::DynamicLibrarySearchGenerator::GetForCurrentProcess(state_->jit->getDataLayout().getGlobalPrefix()),
                          "cannot resolve the process's symbols"));
}

ExprCompiler::~ExprCompiler() = default;

std::vector<ExprFn> ExprCompiler::compile(const std::vector<const plan::Expr*>& exprs) {
  std::vector<std::string> names;
  uint64_t module = state_->modules++;
  for (size_t i = 0; i < exprs.size(); ++i) names.push_back("bloom_m" + std::to_string(module) + "_e" + std::to_string(i));
  auto ctx = std::make_unique<llvm::LLVMContext>();
  auto m = build(*ctx, exprs, names, state_->jit.get());
  optimize(*m);
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
