#include "jit/lowering.h"

#include <algorithm>
#include <mutex>
#include <variant>
#include <vector>

#include <llvm/ExecutionEngine/Orc/ExecutionUtils.h>
#include <llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h>
#include <llvm/IR/Verifier.h>
#include <llvm/Passes/PassBuilder.h>
#include <llvm/Transforms/InstCombine/InstCombine.h>
#include <llvm/Transforms/Scalar/EarlyCSE.h>
#include <llvm/Transforms/Scalar/LICM.h>
#include <llvm/Transforms/Scalar/LoopPassManager.h>
#include <llvm/Transforms/Scalar/SROA.h>
#include <llvm/Transforms/Scalar/SimplifyCFG.h>
#include <llvm/Support/CommandLine.h>
#include <llvm/Support/TargetSelect.h>
#include <llvm/Support/raw_ostream.h>

#include "core/lattice.h"
#include "jit/supported.h"

namespace bloom::rt::jit {

using plan::Op;
using plan::TypeKind;

std::string message(llvm::Error e) {
  std::string s;
  llvm::raw_string_ostream os(s);
  os << e;
  return os.str();
}

void initialize_llvm() {
  static std::once_flag once;
  std::call_once(once, [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
    // Code generation settings LLVM offers only on its command line, which only this module's
    // private copy of LLVM reads (bench/README.md, "Compile time: the fast instruction
    // selector"): no loop strength reduction (5% of code generation) and the basic register
    // allocator (greedy's splitting took another 15%); the code of neither ran any slower.
    const char* argv[] = {"bloom", "-disable-lsr", "-regalloc=basic"};
    llvm::cl::ParseCommandLineOptions(3, argv);
  });
}

std::unique_ptr<llvm::orc::LLJIT> make_jit() {
  initialize_llvm();
  auto jit = take(llvm::orc::LLJITBuilder().create(), "cannot create the JIT");
  auto& dylib = jit->getMainJITDylib();
  dylib.addGenerator(take(llvm::orc::DynamicLibrarySearchGenerator::GetForCurrentProcess(jit->getDataLayout().getGlobalPrefix()),
                          "cannot resolve the process's symbols"));
  return jit;
}

std::unique_ptr<llvm::TargetMachine> host_target_machine() {
  initialize_llvm();
  auto host = take(llvm::orc::JITTargetMachineBuilder::detectHost(), "cannot describe this machine");
  auto tm = take(host.createTargetMachine(), "cannot make a target machine");
  // LLVM's fast instruction selector at -O2: a segment's code is loads, compares, arithmetic and
  // calls, which it selects as well as SelectionDAG does in a tenth of the time (that was a
  // third of code generation; bench/README.md, "Compile time: the fast instruction selector").
  // It has no `switch`: the lowering branches instead.
  tm->setFastISel(true);
  return tm;
}

std::unique_ptr<llvm::Module> make_module(llvm::LLVMContext& ctx, const llvm::orc::LLJIT* jit) {
  auto m = std::make_unique<llvm::Module>("bloom_rules", ctx);
  if (jit) {
    m->setDataLayout(jit->getDataLayout());
    m->setTargetTriple(jit->getTargetTriple().str());
  }
  return m;
}

void verify(llvm::Module& m) {
  std::string problems;
  llvm::raw_string_ostream os(problems);
  if (llvm::verifyModule(m, &os)) throw std::logic_error("LLVM JIT: invalid IR: " + os.str());
}

void optimize(llvm::Module& m, llvm::TargetMachine* target) {
  llvm::LoopAnalysisManager lam;
  llvm::FunctionAnalysisManager fam;
  llvm::CGSCCAnalysisManager cgam;
  llvm::ModuleAnalysisManager mam;
  llvm::PassBuilder pb(target);
  pb.registerModuleAnalyses(mam);
  pb.registerCGSCCAnalyses(cgam);
  pb.registerFunctionAnalyses(fam);
  pb.registerLoopAnalyses(lam);
  pb.crossRegisterProxies(lam, fam, cgam, mam);
  // The passes that matter for a segment: registers out of stack slots, constants folded and
  // common expressions shared, the views' loads hoisted out of the loops (LICM) and redundant
  // ones removed (early CSE over memory SSA: GVN removed no more in a segment's hot loops and
  // took a quarter of the passes' time). LLVM's O2 pipeline ran some sixty passes more over the
  // same code (the inliner, the vectorizers, unrolling: a segment has no call to inline and no
  // loop to vectorize) and took 7 times as long for code that ran no faster (bench/README.md,
  // "The JIT's passes").
  llvm::FunctionPassManager fpm;
  fpm.addPass(llvm::SROAPass(llvm::SROAOptions::ModifyCFG));
  fpm.addPass(llvm::EarlyCSEPass(true));
  fpm.addPass(llvm::InstCombinePass());
  fpm.addPass(llvm::SimplifyCFGPass());
  fpm.addPass(llvm::createFunctionToLoopPassAdaptor(llvm::LICMPass(llvm::LICMOptions()), /*UseMemorySSA=*/true));
  fpm.addPass(llvm::EarlyCSEPass(true));
  fpm.addPass(llvm::InstCombinePass());
  fpm.addPass(llvm::SimplifyCFGPass());
  llvm::ModulePassManager mpm;
  mpm.addPass(llvm::createModuleToFunctionPassAdaptor(std::move(fpm)));
  mpm.run(m, mam);
}

// An lbool is a bool (its word is 0 or 1: its join is `or`), so that it can be a filter's test.
static bool is_bool(const plan::ValueType& t) { return t.kind == TypeKind::Bool || t.kind == TypeKind::LBool; }

llvm::Type* ExprLowering::type_of(const plan::ValueType& t) {
  if (t.kind == TypeKind::Float) return b_.getDoubleTy();
  if (is_bool(t)) return b_.getInt1Ty();
  return b_.getInt64Ty();
}

llvm::Value* ExprLowering::to_word(llvm::Value* v, const plan::ValueType& t) {
  if (t.kind == TypeKind::Float) return b_.CreateBitCast(v, b_.getInt64Ty());
  if (is_bool(t)) return b_.CreateZExt(v, b_.getInt64Ty());
  return v;
}

llvm::Value* ExprLowering::from_word(llvm::Value* w, const plan::ValueType& t) {
  if (t.kind == TypeKind::Float) return b_.CreateBitCast(w, b_.getDoubleTy());
  if (is_bool(t)) return b_.CreateICmpNE(w, b_.getInt64(0));
  return w;
}

// A block that returns `status`: where a run-time error leaves the function.
llvm::BasicBlock* ExprLowering::fail(Status status) {
  llvm::BasicBlock*& block = failed_[static_cast<size_t>(status)];
  if (!block) {
    static const char* const names[] = {"ok", "division_by_zero", "modulo_by_zero", "int_out_of_range"};
    auto* here = b_.GetInsertBlock();
    block = llvm::BasicBlock::Create(ctx_, names[static_cast<size_t>(status)], fn_);
    b_.SetInsertPoint(block);
    b_.CreateRet(b_.getInt32(static_cast<int32_t>(status)));
    b_.SetInsertPoint(here);
  }
  return block;
}

// The result of float arithmetic with any NaN replaced by the one NaN the interpreter gives
// (core/value.h kCanonicalNaN): LLVM folds 0.0 / 0.0 to a NaN other than the machine's.
llvm::Value* ExprLowering::canonical(llvm::Value* v) {
  llvm::Value* nan =
      llvm::ConstantFP::get(b_.getDoubleTy(), llvm::APFloat(llvm::APFloat::IEEEdouble(), llvm::APInt(64, 0x7ff8000000000000ULL)));
  return b_.CreateSelect(b_.CreateFCmpUNO(v, v), nan, v);
}

// `then` or `otherwise`, evaluating only the one chosen (if, and, or).
template <typename Then, typename Otherwise>
llvm::Value* ExprLowering::choose(llvm::Value* cond, llvm::Type* t, Then then, Otherwise otherwise) {
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
llvm::Value* ExprLowering::divide(llvm::Value* l, llvm::Value* r, bool modulo) {
  auto* ok = llvm::BasicBlock::Create(ctx_, "nonzero", fn_);
  b_.CreateCondBr(b_.CreateICmpEQ(r, b_.getInt64(0)), fail(modulo ? Status::ModuloByZero : Status::DivisionByZero), ok);
  b_.SetInsertPoint(ok);
  llvm::Value* minus_one = b_.CreateICmpEQ(r, b_.getInt64(-1));
  llvm::Value* safe = b_.CreateSelect(minus_one, b_.getInt64(1), r);
  llvm::Value* q = modulo ? b_.CreateSRem(l, safe) : b_.CreateSDiv(l, safe);
  return b_.CreateSelect(minus_one, modulo ? b_.getInt64(0) : b_.CreateSub(b_.getInt64(0), l), q);
}

llvm::Value* ExprLowering::context_field(uint32_t field, llvm::Type* t) {
  if (!context_) throw std::logic_error("LLVM JIT: a string or a call-out outside a segment (check supported(e, true) first)");
  return b_.CreateLoad(t, b_.CreateConstInBoundsGEP1_64(b_.getInt64Ty(), context_, field));
}

// A string constant's id: the engine interned SegmentSpec::strings into the context's table.
llvm::Value* ExprLowering::string_constant(const std::string& text) {
  auto at = std::find(strings_.begin(), strings_.end(), text);
  if (at == strings_.end()) throw std::logic_error("LLVM JIT: a string constant missing from SegmentSpec::strings");
  llvm::Value* table = context_field(kCtxStrings, b_.getPtrTy());
  return b_.CreateLoad(b_.getInt64Ty(), b_.CreateConstInBoundsGEP1_64(b_.getInt64Ty(), table, at - strings_.begin()), "str");
}

// status = ctx->apply(ctx, op, operands, &result): the result as a value of e's type, or the
// status returned from the function when the engine reports an error.
llvm::Value* ExprLowering::call_out(const plan::Expr& e, const std::vector<llvm::Value*>& operands) {
  llvm::Type* i64 = b_.getInt64Ty();
  if (operands.size() > kMaxCallOperands) throw std::logic_error("LLVM JIT: a call-out of more operands than apply passes");
  uint64_t op = static_cast<uint64_t>(e.op);
  if (calls_with_type(e)) {
    auto at = std::find(typed_calls_.begin(), typed_calls_.end(), typed_call_name(typed_call_of(e)));
    if (at == typed_calls_.end()) throw std::logic_error("LLVM JIT: a typed call missing from SegmentSpec::typed_calls");
    op = kTypedCallBit | static_cast<uint64_t>(at - typed_calls_.begin());
  }
  if (!call_args_) {  // allocas in the entry block, so loops do not grow the stack
    llvm::IRBuilder<> entry(&fn_->getEntryBlock(), fn_->getEntryBlock().begin());
    call_args_ = entry.CreateAlloca(llvm::ArrayType::get(i64, kMaxCallOperands), nullptr, "call.args");
    call_result_ = entry.CreateAlloca(i64, nullptr, "call.result");
  }
  for (size_t i = 0; i < operands.size(); ++i)
    b_.CreateStore(to_word(operands[i], e.args[i].type), b_.CreateConstInBoundsGEP1_64(i64, call_args_, i));
  llvm::Value* apply = context_field(kCtxApply, b_.getPtrTy());
  auto* type = llvm::FunctionType::get(b_.getInt32Ty(), {b_.getPtrTy(), i64, b_.getPtrTy(), b_.getPtrTy()}, false);
  llvm::Value* status =
      b_.CreateCall(type, apply, {context_, b_.getInt64(op), call_args_, call_result_}, std::string("call.") + plan::to_string(e.op));
  auto* failed = llvm::BasicBlock::Create(ctx_, "call.failed", fn_);
  auto* ok = llvm::BasicBlock::Create(ctx_, "called", fn_);
  b_.CreateCondBr(b_.CreateICmpNE(status, b_.getInt32(0)), failed, ok);
  b_.SetInsertPoint(failed);
  b_.CreateRet(status);
  b_.SetInsertPoint(ok);
  return from_word(b_.CreateLoad(i64, call_result_, "result"), e.type);
}

llvm::Value* ExprLowering::value(const plan::Expr& e) {
  // Operands left to right, as the interpreter; and, or and if only what they need.
  const bool lazy = e.op == Op::And || e.op == Op::Or || e.op == Op::If;
  std::vector<llvm::Value*> operands;
  if (!lazy)
    for (const auto& a : e.args) operands.push_back(value(a));
  auto arg = [&](size_t i) { return lazy ? value(e.args[i]) : operands[i]; };
  if (calls_out(e)) return call_out(e, operands);
  switch (e.op) {
    case Op::Const:
      if (auto* i = std::get_if<int64_t>(&e.value)) return b_.getInt64(static_cast<uint64_t>(*i));
      if (auto* d = std::get_if<double>(&e.value)) return llvm::ConstantFP::get(b_.getDoubleTy(), *d);
      if (auto* text = std::get_if<std::string>(&e.value)) return string_constant(*text);
      return b_.getInt1(std::get<bool>(e.value));
    case Op::ToStrS: return arg(0);
    case Op::LatWord: return from_word(to_word(arg(0), e.args[0].type), e.type);
    case Op::Reveal: {  // a lattice's word; an lmax's or lmin's bottom has no value
      llvm::Value* w = to_word(arg(0), e.args[0].type);
      const TypeKind k = e.args[0].type.kind;
      if (k == TypeKind::LMax || k == TypeKind::LMin) {
        if (!no_value_) throw std::logic_error("LLVM JIT: a reveal where a binding cannot be skipped");
        auto* has = llvm::BasicBlock::Create(ctx_, "has.value", fn_);
        b_.CreateCondBr(b_.CreateICmpEQ(w, b_.getInt64(lattice_bottom(e.args[0].type))), no_value_, has);
        b_.SetInsertPoint(has);
      }
      return from_word(w, e.type);
    }
    case Op::Reg: return from_word(read_reg_(e.reg), e.type);
    case Op::AddI: return b_.CreateAdd(arg(0), arg(1));
    case Op::SubI: return b_.CreateSub(arg(0), arg(1));
    case Op::MulI: return b_.CreateMul(arg(0), arg(1));
    case Op::DivI:
    case Op::ModI: return divide(arg(0), arg(1), e.op == Op::ModI);
    case Op::NegI: return b_.CreateSub(b_.getInt64(0), arg(0));
    case Op::AddF: return canonical(b_.CreateFAdd(arg(0), arg(1)));
    case Op::SubF: return canonical(b_.CreateFSub(arg(0), arg(1)));
    case Op::MulF: return canonical(b_.CreateFMul(arg(0), arg(1)));
    case Op::DivF: return canonical(b_.CreateFDiv(arg(0), arg(1)));
    case Op::ModF: {
      auto* d = b_.getDoubleTy();
      llvm::FunctionCallee fmod = m_.getOrInsertFunction("fmod", llvm::FunctionType::get(d, {d, d}, false));
      return canonical(b_.CreateCall(fmod, {arg(0), arg(1)}));
    }
    case Op::NegF: return canonical(b_.CreateFNeg(arg(0)));
    case Op::IntToFloat: return b_.CreateSIToFP(arg(0), b_.getDoubleTy());
    case Op::ToIntF: {  // truncated toward zero; NaN and what lies outside the int range is an error
      llvm::Value* d = arg(0);
      auto* f64 = b_.getDoubleTy();
      llvm::Value* fits = b_.CreateAnd(b_.CreateFCmpOGE(d, llvm::ConstantFP::get(f64, -9.2233720368547758e18)),
                                       b_.CreateFCmpOLT(d, llvm::ConstantFP::get(f64, 9.2233720368547758e18)));
      auto* ok = llvm::BasicBlock::Create(ctx_, "fits", fn_);
      b_.CreateCondBr(fits, ok, fail(Status::IntOutOfRange));
      b_.SetInsertPoint(ok);
      return b_.CreateFPToSI(d, b_.getInt64Ty());
    }
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
    case Op::And:
      return choose(
          arg(0), b_.getInt1Ty(), [&] { return arg(1); }, [&] { return b_.getInt1(false); });
    case Op::Or:
      return choose(
          arg(0), b_.getInt1Ty(), [&] { return b_.getInt1(true); }, [&] { return arg(1); });
    case Op::Not: return b_.CreateNot(arg(0));
    case Op::If:
      return choose(
          arg(0), type_of(e.type), [&] { return arg(1); }, [&] { return arg(2); });
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
    case Op::Hash: {  // mix() of core/value.h, as the interpreter hashes a plain value
      llvm::Value* h = to_word(arg(0), e.args[0].type);
      h = b_.CreateXor(h, b_.CreateLShr(h, 33));
      h = b_.CreateMul(h, b_.getInt64(0xff51afd7ed558ccdULL));
      h = b_.CreateXor(h, b_.CreateLShr(h, 33));
      h = b_.CreateMul(h, b_.getInt64(0xc4ceb9fe1a85ec53ULL));
      h = b_.CreateXor(h, b_.CreateLShr(h, 33));
      return b_.CreateAnd(h, b_.getInt64(0x7fffffffffffffffULL));
    }
    default: break;
  }
  throw std::logic_error(std::string("LLVM JIT: opcode ") + plan::to_string(e.op) + " is not lowered (check supported() first)");
}

}  // namespace bloom::rt::jit
