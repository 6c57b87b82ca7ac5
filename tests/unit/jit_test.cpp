// The JIT's expressions against the interpreter: random trees of the opcodes it lowers, over
// random frames with the values where semantics differ most (0, -1, INT64_MIN, NaN, -0.0), must
// give the same value or the same run-time error.
#include "jit/expr_jit.h"

#include <cmath>
#include <random>

#include "eval/engine.h"
#include "test_util.h"

namespace bloom::test {
namespace {

using plan::Expr;
using plan::Op;
using plan::TypeKind;
using rt::Word;

// Registers 0-1 hold ints, 2-3 floats, 4 a bool.
constexpr uint32_t kRegisters = 5;

Expr leaf(Op op, TypeKind t) {
  Expr e;
  e.op = op;
  e.type.kind = t;
  return e;
}

Expr node(Op op, TypeKind t, std::vector<Expr> args) {
  Expr e = leaf(op, t);
  e.args = std::move(args);
  return e;
}

class Generator {
 public:
  explicit Generator(uint32_t seed) : rng_(seed) {}

  int64_t int_value() {
    static const int64_t special[] = {0, 1, -1, 2, 7, -3, INT64_MIN, INT64_MAX, 1000000007};
    return pick(2) ? special[pick(std::size(special))] : static_cast<int64_t>(rng_() % 200) - 100;
  }
  double float_value() {
    static const double special[] = {0.0, -0.0, 1.5, -2.25, 1e300, -1e-300, INFINITY, -INFINITY, NAN};
    return pick(2) ? special[pick(std::size(special))] : static_cast<double>(static_cast<int64_t>(rng_() % 2000) - 1000) / 8;
  }

  Expr make(TypeKind t, int depth) {
    if (depth == 0 || pick(4) == 0) return terminal(t);
    switch (t) {
      case TypeKind::Int: {
        static const Op ops[] = {Op::AddI, Op::SubI, Op::MulI, Op::DivI, Op::ModI, Op::NegI, Op::LeastI, Op::GreatestI, Op::If};
        Op op = ops[pick(std::size(ops))];
        if (op == Op::NegI) return node(op, t, {make(t, depth - 1)});
        if (op == Op::If) return node(op, t, {make(TypeKind::Bool, depth - 1), make(t, depth - 1), make(t, depth - 1)});
        return node(op, t, {make(t, depth - 1), make(t, depth - 1)});
      }
      case TypeKind::Float: {
        static const Op ops[] = {Op::AddF, Op::SubF, Op::MulF, Op::DivF, Op::ModF, Op::NegF, Op::LeastF, Op::GreatestF, Op::If, Op::IntToFloat};
        Op op = ops[pick(std::size(ops))];
        if (op == Op::NegF) return node(op, t, {make(t, depth - 1)});
        if (op == Op::IntToFloat) return node(op, t, {make(TypeKind::Int, depth - 1)});
        if (op == Op::If) return node(op, t, {make(TypeKind::Bool, depth - 1), make(t, depth - 1), make(t, depth - 1)});
        return node(op, t, {make(t, depth - 1), make(t, depth - 1)});
      }
      default: {
        static const Op ops[] = {Op::Eq, Op::Ne, Op::EqF, Op::NeF, Op::LtI, Op::LeI, Op::GtI, Op::GeI, Op::LtF,
                                 Op::LeF, Op::GtF, Op::GeF, Op::And, Op::Or, Op::Not, Op::If};
        Op op = ops[pick(std::size(ops))];
        switch (op) {
          case Op::Eq:
          case Op::Ne: {
            TypeKind k = pick(2) ? TypeKind::Int : TypeKind::Bool;
            return node(op, t, {make(k, depth - 1), make(k, depth - 1)});
          }
          case Op::LtI: case Op::LeI: case Op::GtI: case Op::GeI:
            return node(op, t, {make(TypeKind::Int, depth - 1), make(TypeKind::Int, depth - 1)});
          case Op::EqF: case Op::NeF: case Op::LtF: case Op::LeF: case Op::GtF: case Op::GeF:
            return node(op, t, {make(TypeKind::Float, depth - 1), make(TypeKind::Float, depth - 1)});
          case Op::Not: return node(op, t, {make(t, depth - 1)});
          case Op::If: return node(op, t, {make(t, depth - 1), make(t, depth - 1), make(t, depth - 1)});
          default: return node(op, t, {make(t, depth - 1), make(t, depth - 1)});
        }
      }
    }
  }

  std::vector<Word> frame() {
    return {rt::from_int(int_value()), rt::from_int(int_value()), rt::from_float(float_value()), rt::from_float(float_value()),
            rt::from_bool(pick(2) == 0)};
  }

 private:
  Expr terminal(TypeKind t) {
    Expr e = leaf(pick(2) ? Op::Const : Op::Reg, t);
    if (e.op == Op::Reg) {
      e.reg = t == TypeKind::Int ? static_cast<uint32_t>(pick(2)) : t == TypeKind::Float ? 2 + static_cast<uint32_t>(pick(2)) : 4;
    } else if (t == TypeKind::Int) {
      e.value = int_value();
    } else if (t == TypeKind::Float) {
      e.value = float_value();
    } else {
      e.value = pick(2) == 0;
    }
    return e;
  }
  size_t pick(size_t n) { return static_cast<size_t>(rng_() % n); }
  std::mt19937 rng_;
};

// Floats compare by their bits, except that any NaN equals any NaN (their payloads may differ).
bool same(const Expr& e, Word a, Word b) {
  if (e.type.kind == TypeKind::Float && std::isnan(rt::as_float(a)) && std::isnan(rt::as_float(b))) return true;
  return a == b;
}

struct Interpreter {
  std::unique_ptr<plan::Program> plan = plan_for("table t(x: int);\n");
  rt::SymbolTable symbols;
  rt::Lattices lattices{symbols};
  rt::Engine engine{*plan, symbols, lattices};
  // The interpreter's answer as a JIT status and value.
  rt::jit::Status run(const Expr& e, const Word* frame, Word& out) {
    try {
      EXPECT_TRUE(engine.evaluate(e, frame, out));
    } catch (const rt::RuntimeError& err) {
      std::string what = err.what();
      if (what.find("modulo by zero") != std::string::npos) return rt::jit::Status::ModuloByZero;
      if (what.find("division by zero") != std::string::npos) return rt::jit::Status::DivisionByZero;
      ADD_FAILURE() << "unexpected run-time error: " << what;
    }
    return rt::jit::Status::Ok;
  }
};

TEST(ExprJit, DivisionByZeroIsAStatusAndMinusOneDoesNotTrap) {
  rt::jit::ExprCompiler jit;
  Expr div = node(Op::DivI, TypeKind::Int, {leaf(Op::Reg, TypeKind::Int), leaf(Op::Reg, TypeKind::Int)});
  div.args[1].reg = 1;
  Expr mod = div;
  mod.op = Op::ModI;
  auto fns = jit.compile({&div, &mod});
  Word out = 0;
  Word zero[] = {rt::from_int(7), rt::from_int(0)};
  EXPECT_EQ(fns[0](zero, &out), rt::jit::Status::DivisionByZero);
  EXPECT_EQ(fns[1](zero, &out), rt::jit::Status::ModuloByZero);
  Word minus_one[] = {rt::from_int(INT64_MIN), rt::from_int(-1)};
  ASSERT_EQ(fns[0](minus_one, &out), rt::jit::Status::Ok);
  EXPECT_EQ(rt::as_int(out), INT64_MIN);  // wraps, as the interpreter
  ASSERT_EQ(fns[1](minus_one, &out), rt::jit::Status::Ok);
  EXPECT_EQ(rt::as_int(out), 0);
}

TEST(ExprJit, UnsupportedOpcodesAreLeftToTheInterpreter) {
  Expr s = leaf(Op::Const, TypeKind::String);
  s.value = std::string("a");
  EXPECT_FALSE(rt::jit::supported(s));
  Expr len = node(Op::Len, TypeKind::Int, {s});
  EXPECT_FALSE(rt::jit::supported(len));
  Expr now = leaf(Op::Now, TypeKind::Int);
  EXPECT_FALSE(rt::jit::supported(node(Op::AddI, TypeKind::Int, {now, leaf(Op::Reg, TypeKind::Int)})));
  EXPECT_TRUE(rt::jit::supported(node(Op::AddI, TypeKind::Int, {leaf(Op::Reg, TypeKind::Int), leaf(Op::Reg, TypeKind::Int)})));
}

TEST(ExprJit, RandomExpressionsAgreeWithTheInterpreter) {
  rt::jit::ExprCompiler jit;
  Interpreter interp;
  ASSERT_NE(interp.plan, nullptr);
  const int kBatches = std::getenv("BLOOM_TEST_QUICK") ? 5 : 20, kPerBatch = 50, kFrames = 40;
  size_t errors = 0, checked = 0;
  for (int batch = 0; batch < kBatches; ++batch) {
    Generator gen(static_cast<uint32_t>(1000 + batch));
    std::vector<Expr> exprs;
    for (int i = 0; i < kPerBatch; ++i) exprs.push_back(gen.make(static_cast<TypeKind>(std::vector<TypeKind>{TypeKind::Int, TypeKind::Float, TypeKind::Bool}[i % 3]), 5));
    std::vector<const Expr*> ptrs;
    for (const auto& e : exprs) ptrs.push_back(&e);
    auto fns = jit.compile(ptrs);
    for (int f = 0; f < kFrames; ++f) {
      std::vector<Word> frame = gen.frame();
      for (size_t i = 0; i < exprs.size(); ++i) {
        Word want = 0, got = 0;
        rt::jit::Status expected = interp.run(exprs[i], frame.data(), want);
        rt::jit::Status status = fns[i](frame.data(), &got);
        ASSERT_EQ(status, expected) << "batch " << batch << " expression " << i << " frame " << f << "\n"
                                    << rt::jit::llvm_ir({&exprs[i]}, {"e"});
        if (status == rt::jit::Status::Ok) {
          ASSERT_TRUE(same(exprs[i], got, want)) << "batch " << batch << " expression " << i << " frame " << f << ": jit " << got
                                                 << ", interpreter " << want << "\n" << rt::jit::llvm_ir({&exprs[i]}, {"e"});
        } else {
          ++errors;
        }
        ++checked;
      }
    }
  }
  // The generator reaches the error paths too (divisions by a zero register or constant).
  EXPECT_GT(errors, 0u);
  EXPECT_GT(checked, errors * 2);
}

TEST(ExprJit, TheIrOfAnExpressionNamesItsFunction) {
  Expr add = node(Op::AddI, TypeKind::Int, {leaf(Op::Reg, TypeKind::Int), leaf(Op::Const, TypeKind::Int)});
  add.args[1].value = int64_t{41};
  std::string ir = rt::jit::llvm_ir({&add}, {"answer"});
  EXPECT_NE(ir.find("define i32 @answer(ptr %frame, ptr %value)"), std::string::npos) << ir;
  EXPECT_NE(ir.find("add i64"), std::string::npos) << ir;
}

}  // namespace
}  // namespace bloom::test
