// The JIT's expressions against the interpreter: random trees of the opcodes it lowers, over
// random frames with the values where semantics differ most (0, -1, INT64_MIN, NaN, -0.0), must
// give the same value or the same run-time error.
#include "core/lattice.h"
#include "jit/expr_jit.h"
#include "jit/code_cache.h"
#include "jit/segment_jit.h"

#include <functional>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "eval/engine.h"
#include "rt_test_util.h"
#include "storage/relation.h"
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
        static const Op ops[] = {Op::AddI,   Op::SubI,      Op::MulI, Op::DivI, Op::ModI,  Op::NegI,
                                 Op::LeastI, Op::GreatestI, Op::If,   Op::Hash, Op::ToIntF};
        Op op = ops[pick(std::size(ops))];
        if (op == Op::NegI) return node(op, t, {make(t, depth - 1)});
        if (op == Op::ToIntF) return node(op, t, {make(TypeKind::Float, depth - 1)});
        if (op == Op::Hash)
          return node(op, t, {make(std::vector<TypeKind>{TypeKind::Int, TypeKind::Bool, TypeKind::Float}[pick(3)], depth - 1)});
        if (op == Op::If) return node(op, t, {make(TypeKind::Bool, depth - 1), make(t, depth - 1), make(t, depth - 1)});
        return node(op, t, {make(t, depth - 1), make(t, depth - 1)});
      }
      case TypeKind::Float: {
        static const Op ops[] = {Op::AddF, Op::SubF,   Op::MulF,      Op::DivF, Op::ModF,
                                 Op::NegF, Op::LeastF, Op::GreatestF, Op::If,   Op::IntToFloat};
        Op op = ops[pick(std::size(ops))];
        if (op == Op::NegF) return node(op, t, {make(t, depth - 1)});
        if (op == Op::IntToFloat) return node(op, t, {make(TypeKind::Int, depth - 1)});
        if (op == Op::If) return node(op, t, {make(TypeKind::Bool, depth - 1), make(t, depth - 1), make(t, depth - 1)});
        return node(op, t, {make(t, depth - 1), make(t, depth - 1)});
      }
      default: {
        static const Op ops[] = {Op::Eq,  Op::Ne,  Op::EqF, Op::NeF, Op::LtI, Op::LeI, Op::GtI, Op::GeI,
                                 Op::LtF, Op::LeF, Op::GtF, Op::GeF, Op::And, Op::Or,  Op::Not, Op::If};
        Op op = ops[pick(std::size(ops))];
        switch (op) {
          case Op::Eq:
          case Op::Ne: {
            TypeKind k = pick(2) ? TypeKind::Int : TypeKind::Bool;
            return node(op, t, {make(k, depth - 1), make(k, depth - 1)});
          }
          case Op::LtI:
          case Op::LeI:
          case Op::GtI:
          case Op::GeI: return node(op, t, {make(TypeKind::Int, depth - 1), make(TypeKind::Int, depth - 1)});
          case Op::EqF:
          case Op::NeF:
          case Op::LtF:
          case Op::LeF:
          case Op::GtF:
          case Op::GeF: return node(op, t, {make(TypeKind::Float, depth - 1), make(TypeKind::Float, depth - 1)});
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

// Values compare by their bits, floats too: arithmetic makes the one NaN in both engines
// (core/value.h kCanonicalNaN), and a NaN read from a register passes through unchanged.
bool same(const Expr&, Word a, Word b) { return a == b; }

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
      if (what.find("does not fit in an int") != std::string::npos) return rt::jit::Status::IntOutOfRange;
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

TEST(ExprJit, StringsAndLatticesCallOutFromSegmentsOnly) {
  Expr s = leaf(Op::Const, TypeKind::String);
  s.value = std::string("a");
  Expr len = node(Op::Len, TypeKind::Int, {s});
  Expr now = leaf(Op::Now, TypeKind::Int);
  Expr sum = node(Op::AddI, TypeKind::Int, {now, leaf(Op::Reg, TypeKind::Int)});
  // In a segment (with its NativeContext): string constants are read from its table, and the
  // engine computes len() and now() for the code.
  EXPECT_TRUE(rt::jit::supported(s));
  EXPECT_TRUE(rt::jit::supported(len));
  EXPECT_TRUE(rt::jit::calls_out(len));
  EXPECT_FALSE(rt::jit::calls_out(s));
  EXPECT_TRUE(rt::jit::supported(sum));
  // A one-expression function has no context: none of them.
  EXPECT_FALSE(rt::jit::supported(s, false));
  EXPECT_FALSE(rt::jit::supported(len, false));
  EXPECT_FALSE(rt::jit::supported(sum, false));
  // hash() calls out for a string, and is native for an int.
  EXPECT_TRUE(rt::jit::calls_out(node(Op::Hash, TypeKind::Int, {s})));
  EXPECT_FALSE(rt::jit::calls_out(node(Op::Hash, TypeKind::Int, {leaf(Op::Reg, TypeKind::Int)})));
  // A lattice's reads that need no type call out (a set is a handle the code passes on), and
  // none of it without a context.
  Expr set = leaf(Op::Reg, TypeKind::LSet);
  set.type.args = {plan::ValueType{TypeKind::Int, {}}};
  Expr size = node(Op::SetSize, TypeKind::Int, {set});
  EXPECT_TRUE(rt::jit::supported(size));
  EXPECT_TRUE(rt::jit::calls_out(size));
  EXPECT_FALSE(rt::jit::supported(size, false));
  Expr members = leaf(Op::Members, TypeKind::LSet);
  members.type.args = {plan::ValueType{TypeKind::Addr, {}}};
  EXPECT_TRUE(rt::jit::supported(members)) << "an lset computed by a call-out";
  EXPECT_TRUE(rt::jit::supported(node(Op::SetIntersect, TypeKind::LSet, {set, set})));
  // Building or merging one calls out with the node's types (a typed call).
  Expr lifted = node(Op::Lift, TypeKind::LSet, {leaf(Op::Reg, TypeKind::Int)});
  EXPECT_TRUE(rt::jit::supported(node(Op::SetSize, TypeKind::Int, {lifted})));
  EXPECT_TRUE(rt::jit::supported(node(Op::SetUnion, TypeKind::LSet, {set, set})));
  EXPECT_TRUE(rt::jit::calls_out(lifted));
  Expr four = node(Op::SetOf, TypeKind::LSet, {set, set, set, set});
  EXPECT_FALSE(rt::jit::supported(four)) << "a set literal of more operands than a call-out passes";
  // Revealing one needs a segment, which skips a binding without a value (an lmax at bottom).
  Expr top = leaf(Op::Reg, TypeKind::LMax);
  top.type.args = {plan::ValueType{TypeKind::Int, {}}};
  EXPECT_TRUE(rt::jit::supported(node(Op::Reveal, TypeKind::Int, {top})));
  EXPECT_FALSE(rt::jit::supported(node(Op::Reveal, TypeKind::Int, {top}), false));
  EXPECT_TRUE(rt::jit::supported(node(Op::AddI, TypeKind::Int, {leaf(Op::Reg, TypeKind::Int), leaf(Op::Reg, TypeKind::Int)}), false));
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
    for (int i = 0; i < kPerBatch; ++i)
      exprs.push_back(gen.make(static_cast<TypeKind>(std::vector<TypeKind>{TypeKind::Int, TypeKind::Float, TypeKind::Bool}[i % 3]), 5));
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
          ASSERT_TRUE(same(exprs[i], got, want))
              << "batch " << batch << " expression " << i << " frame " << f << ": jit " << got << ", interpreter " << want << "\n"
              << rt::jit::llvm_ir({&exprs[i]}, {"e"});
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

// A segment's frames: registers 0-4 as Generator::frame, 5 an int and 6 a float assigned by it.
constexpr uint32_t kSegmentRegisters = 7;

plan::Step step(plan::StepKind kind, Expr e, uint32_t target = 0) {
  plan::Step s;
  s.kind = kind;
  s.expr = std::move(e);
  s.target = target;
  return s;
}

// What the interpreter makes of the segment over `frames`: the frames (or head rows) that pass,
// or Status::DivisionByZero / ModuloByZero when some frame raises an error. A frame raises one
// whether the steps run frame by frame (the JIT) or step by step over the batch (the engine).
rt::jit::Status interpret(Interpreter& interp, const rt::SegmentSpec& spec, const std::vector<Word>& frames, std::vector<Word>& out) {
  const size_t R = spec.registers;
  for (size_t i = 0; i < frames.size() / R; ++i) {
    std::vector<Word> f(frames.begin() + static_cast<long>(i * R), frames.begin() + static_cast<long>((i + 1) * R));
    bool pass = true;
    for (const auto& s : spec.steps) {
      Word v = 0;
      if (auto st = interp.run(s.expr, f.data(), v); st != rt::jit::Status::Ok) return st;
      if (s.kind == plan::StepKind::Filter && !v) {
        pass = false;
        break;
      }
      if (s.kind == plan::StepKind::Assign) f[s.target] = v;
    }
    if (!pass) continue;
    if (!spec.head) {
      out.insert(out.end(), f.begin(), f.end());
      continue;
    }
    for (const auto& c : spec.head_columns) {
      Word v = 0;
      if (auto st = interp.run(c, f.data(), v); st != rt::jit::Status::Ok) return st;
      out.push_back(v);
    }
  }
  return rt::jit::Status::Ok;
}

TEST(SegmentJit, RandomSegmentsAgreeWithTheInterpreter) {
  rt::jit::SegmentJit jit({});
  Interpreter interp;
  const int kSegments = std::getenv("BLOOM_TEST_QUICK") ? 40 : 160, kBatches = 6, kFrames = 24;
  size_t failed_batches = 0, rows = 0;
  std::vector<rt::SegmentSpec> specs;
  Generator gen(77);
  for (int i = 0; i < kSegments; ++i) {
    rt::SegmentSpec spec;
    spec.registers = kSegmentRegisters;
    Expr r5 = leaf(Op::Reg, TypeKind::Int), r6 = leaf(Op::Reg, TypeKind::Float);
    r5.reg = 5;
    r6.reg = 6;
    // Shallow trees, so most frames pass some filters and reach the head.
    spec.steps.push_back(step(plan::StepKind::Assign, gen.make(TypeKind::Int, 3), 5));
    spec.steps.push_back(
        step(plan::StepKind::Filter,
             node(Op::Or, TypeKind::Bool, {gen.make(TypeKind::Bool, 2), node(Op::LtI, TypeKind::Bool, {r5, gen.make(TypeKind::Int, 2)})})));
    spec.steps.push_back(step(plan::StepKind::Assign,
                              node(Op::AddF, TypeKind::Float, {gen.make(TypeKind::Float, 2), node(Op::IntToFloat, TypeKind::Float, {r5})}),
                              6));
    if (i % 2) spec.steps.push_back(step(plan::StepKind::Filter, node(Op::Not, TypeKind::Bool, {gen.make(TypeKind::Bool, 2)})));
    spec.head = i % 3 != 0;
    if (spec.head) spec.head_columns = {leaf(Op::Reg, TypeKind::Int), gen.make(TypeKind::Int, 3), r6, r5};
    specs.push_back(std::move(spec));
  }
  std::vector<rt::SegmentFn> fns = jit.compile(specs);
  for (size_t i = 0; i < specs.size(); ++i) {
    ASSERT_NE(fns[i], nullptr) << "segment " << i << " did not compile:\n" << rt::jit::segment_llvm_ir(specs[i], "s");
    for (int b = 0; b < kBatches; ++b) {
      std::vector<Word> frames;
      for (int f = 0; f < kFrames; ++f) {
        auto fr = gen.frame();
        frames.insert(frames.end(), fr.begin(), fr.end());
        frames.push_back(rt::from_int(-7));  // r5 and r6 hold stale values, as in a reused batch
        frames.push_back(rt::from_float(3.5));
      }
      std::vector<Word> want;
      rt::jit::Status expected = interpret(interp, specs[i], frames, want);
      std::vector<Word> got(frames.size() + kFrames * 4);
      uint64_t m = 0;
      int32_t status = fns[i](frames.data(), kFrames, got.data(), &m, nullptr);
      ASSERT_EQ(status != 0, expected != rt::jit::Status::Ok) << "segment " << i << " batch " << b << "\n"
                                                              << rt::jit::segment_llvm_ir(specs[i], "s");
      if (status != 0) {
        ++failed_batches;
        continue;
      }
      const size_t width = specs[i].head ? specs[i].head_columns.size() : kSegmentRegisters;
      ASSERT_EQ(m * width, want.size()) << "segment " << i << " batch " << b;
      for (size_t w = 0; w < want.size(); ++w) {
        ASSERT_EQ(got[w], want[w]) << "segment " << i << " batch " << b << " word " << w << ": jit " << got[w] << ", interpreter "
                                   << want[w] << "\n"
                                   << rt::jit::segment_llvm_ir(specs[i], "s");
      }
      rows += m;
    }
  }
  // Both outcomes are exercised: batches that raise an error and frames that come through.
  EXPECT_GT(failed_batches, 0u);
  EXPECT_GT(rows, 100u);
  // The same segments again come from the cache, compiled once.
  auto again = jit.compile(specs);
  EXPECT_EQ(again, fns);
  auto stats = jit.stats();
  EXPECT_EQ(stats.failed, 0u);
  EXPECT_EQ(stats.cached, specs.size());
}

TEST(SegmentJit, ASegmentAskedForLaterArrivesInItsSlot) {
  rt::jit::SegmentJit jit({});
  rt::SegmentSpec spec;
  spec.registers = 2;
  Expr sum = node(Op::AddI, TypeKind::Int, {leaf(Op::Reg, TypeKind::Int), leaf(Op::Reg, TypeKind::Int)});
  sum.args[1].reg = 1;
  spec.head = true;
  spec.head_columns = {sum};
  auto slot = std::make_shared<std::atomic<rt::SegmentFn>>(nullptr);
  jit.compile_later(spec, slot);
  for (int i = 0; i < 2000 && !slot->load(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  rt::SegmentFn fn = slot->load();
  ASSERT_NE(fn, nullptr) << "not compiled within 10 s";
  Word frames[] = {rt::from_int(2), rt::from_int(40), rt::from_int(-1), rt::from_int(1)};
  Word out[2];
  uint64_t m = 0;
  ASSERT_EQ(fn(frames, 2, out, &m, nullptr), 0);
  ASSERT_EQ(m, 2u);
  EXPECT_EQ(rt::as_int(out[0]), 42);
  EXPECT_EQ(rt::as_int(out[1]), 0);
  EXPECT_EQ(jit.stats().compiled, 1u);
}

TEST(SegmentJit, TheCodeCacheOnDiskServesTheNextProcessAndSurvivesDamage) {
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / ("bloom_jit_cache_test_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  rt::SegmentSpec spec;
  spec.registers = 2;
  Expr diff = node(Op::SubI, TypeKind::Int, {leaf(Op::Reg, TypeKind::Int), leaf(Op::Reg, TypeKind::Int)});
  diff.args[1].reg = 1;
  spec.head = true;
  spec.head_columns = {diff};
  auto check = [&](rt::SegmentFn fn) {
    ASSERT_NE(fn, nullptr);
    Word frames[] = {rt::from_int(50), rt::from_int(8)};
    Word out[1];
    uint64_t m = 0;
    ASSERT_EQ(fn(frames, 1, out, &m, nullptr), 0);
    ASSERT_EQ(m, 1u);
    EXPECT_EQ(rt::as_int(out[0]), 42);
  };
  rt::jit::SegmentJitOptions options;
  options.cache_dir = dir.string();
  {
    rt::jit::SegmentJit first(options);  // compiles and stores
    check(first.compile({spec})[0]);
    EXPECT_EQ(first.stats().compiled, 1u);
    EXPECT_EQ(first.stats().from_disk, 0u);
  }
  {
    rt::jit::SegmentJit second(options);  // as a second run would: loads, compiles nothing
    check(second.compile({spec})[0]);
    EXPECT_EQ(second.stats().compiled, 0u);
    EXPECT_EQ(second.stats().from_disk, 1u);
  }
  // A damaged object (cut short, as by a full disk under another writer) is a miss.
  size_t objects = 0;
  for (const auto& f : fs::recursive_directory_iterator(dir))
    if (f.path().extension() == ".o") {
      fs::resize_file(f.path(), fs::file_size(f.path()) / 3);
      ++objects;
    }
  ASSERT_EQ(objects, 1u);
  {
    rt::jit::SegmentJit third(options);
    check(third.compile({spec})[0]);
    EXPECT_EQ(third.stats().from_disk, 0u);
    EXPECT_EQ(third.stats().compiled, 1u);
  }
  // An entry whose key is not the segment's (a hash collision) is a miss too.
  for (const auto& f : fs::recursive_directory_iterator(dir))
    if (f.path().extension() == ".seg") {
      std::ofstream(f.path(), std::ios::trunc) << "another key\nx.o\nsym\n";
    }
  {
    rt::jit::SegmentJit fourth(options);
    check(fourth.compile({spec})[0]);
    EXPECT_EQ(fourth.stats().from_disk, 0u);
  }
  fs::remove_all(dir);
}

TEST(CodeCache, StaysUnderItsSizeLimitRemovingWhatWasUsedLongestAgo) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("bloom_code_cache_limit_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  const std::string tag = "0123456789abcdef", other_build = "fedcba9876543210";
  const auto now = fs::file_time_type::clock::now();
  auto write = [](const fs::path& p, size_t bytes) {
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << std::string(bytes, 'x');
  };
  // An older build's object, and a file that is not the cache's (never removed, never counted).
  const fs::path stale = dir / other_build / (std::string(32, 'a') + ".o");
  write(stale, 3000);
  fs::last_write_time(stale, now - std::chrono::hours(2));
  const fs::path foreign = dir / "notes.txt";
  write(foreign, 20000);
  fs::last_write_time(foreign, now - std::chrono::hours(3));

  rt::jit::CodeCache cache(dir.string(), tag, 10000);
  auto cache_bytes = [&] {
    uint64_t total = 0;
    for (const auto& f : fs::recursive_directory_iterator(dir))
      if (f.is_regular_file() && f.path() != foreign) total += f.file_size();
    return total;
  };
  // Each store: a 2000-byte object holding one segment; its files then dated `age` ago, so the
  // order of use is the test's, not the clock's resolution.
  auto store = [&](int i, std::chrono::minutes age) {
    const std::string key = "segment " + std::to_string(i);
    cache.store(std::string(2000, static_cast<char>('a' + i)), {{key, "f" + std::to_string(i)}});
    auto entry = cache.find(key);
    ASSERT_TRUE(entry.has_value()) << key;
    fs::last_write_time(entry->object, now - age);
    fs::last_write_time(dir / tag / (rt::jit::digest(key) + ".seg"), now - age);
    EXPECT_LE(cache_bytes(), 10000u) << "after " << key;
  };
  store(0, std::chrono::minutes(100));
  store(1, std::chrono::minutes(90));
  ASSERT_TRUE(cache.find("segment 0").has_value());  // used now: the most recent
  store(2, std::chrono::minutes(80));
  EXPECT_TRUE(fs::exists(stale)) << "removed before the limit was reached";
  store(3, std::chrono::minutes(70));  // over the limit: the stale build, then segment 1, go
  EXPECT_FALSE(fs::exists(stale));
  EXPECT_FALSE(fs::exists(dir / other_build)) << "the other build's emptied folder stays";
  EXPECT_FALSE(cache.find("segment 1").has_value());
  EXPECT_TRUE(cache.find("segment 0").has_value());
  EXPECT_TRUE(cache.find("segment 2").has_value());
  EXPECT_TRUE(cache.find("segment 3").has_value());
  EXPECT_LE(cache_bytes(), 10000u * 3 / 4) << "trimmed to three quarters of the limit";
  EXPECT_TRUE(fs::exists(foreign));
  fs::remove_all(dir);
}

// Join segments (eval/native.h): the engine's side played by the test. The views are filled as
// the engine fills them, the probes go to the relation, and `flush` collects the output.
struct JoinHarness {
  rt::SymbolTable symbols;
  rt::Lattices lat{symbols};
  std::deque<plan::Relation> decls;
  std::vector<std::unique_ptr<rt::Relation>> relations;
  std::vector<Word> flushed;
  size_t flushes = 0;
  size_t fail_at_flush = SIZE_MAX;  // this flush reports an error

  std::vector<std::vector<Word>> sets;  // set_elements: the set with id i

  // A relation of ints; `key`: keyed by those columns.
  rt::Relation& make(uint32_t arity, std::vector<std::vector<uint32_t>> indexes, std::vector<uint32_t> key = {}) {
    std::vector<Column> cols;
    for (uint32_t i = 0; i < arity; ++i) cols.push_back({"c" + std::to_string(i), kInt});
    const bool keyed = !key.empty();
    decls.push_back(relation_decl("t", cols, std::move(key), keyed, std::move(indexes)));
    relations.push_back(std::make_unique<rt::Relation>(decls.back(), lat));
    return *relations.back();
  }
  static rt::NativeView view_of(const rt::Relation& rel, int32_t index) {
    rt::NativeView v{};
    v.chunks = rel.chunk_table();
    v.arity = rel.arity();
    v.shift = rel.cell_shift();
    v.begin = 0;
    v.end = rel.end();
    v.has_dead = rel.has_dead_rows();
    v.relation = &rel;
    if (index >= 0) {
      rel.catch_up(static_cast<uint32_t>(index));
      v.index = static_cast<uint64_t>(index);
      refresh(v);
    }
    return v;
  }
  static void refresh(rt::NativeView& v) {
    const auto& rel = *static_cast<const rt::Relation*>(v.relation);
    v.next = rel.match_chains(static_cast<uint32_t>(v.index));
    size_t size = 0;
    v.heads = rel.direct_heads(static_cast<uint32_t>(v.index), size);
    v.heads_size = size;
    v.direct = v.heads != nullptr;
  }
  static uint32_t first_match(rt::NativeView* v, const Word* key) {
    uint32_t r = static_cast<const rt::Relation*>(v->relation)->first_match(static_cast<uint32_t>(v->index), key);
    refresh(*v);
    return r;
  }
  static uint64_t alive(const rt::NativeView* v, uint64_t row) {
    return static_cast<const rt::Relation*>(v->relation)->alive(static_cast<rt::RowId>(row));
  }
  static uint32_t find_key(rt::NativeView* v, const Word* key) { return static_cast<const rt::Relation*>(v->relation)->find_key(key); }
  // This harness's negations are of whole rows, in relations of every version.
  static uint64_t absent(rt::NativeView* v, const Word* key) { return !static_cast<const rt::Relation*>(v->relation)->contains(key); }
  static const Word* set_elements(rt::NativeContext* c, Word set, uint64_t* count) {
    auto& s = static_cast<JoinHarness*>(c->engine)->sets.at(set);
    *count = s.size();
    return s.data();
  }
  // Call-outs, a few of them as the engine computes them; `applied` counts them.
  std::vector<Word> strings;  // NativeContext::strings
  size_t applied = 0;
  // A typed call (kTypedCallBit) is recorded in `typed`, and computed as typed_results says.
  std::vector<uint64_t> typed;
  std::function<Word(uint64_t, const Word*)> typed_results;
  static int32_t apply(rt::NativeContext* c, uint64_t op, const Word* a, Word* out) {
    auto& h = *static_cast<JoinHarness*>(c->engine);
    ++h.applied;
    if (op & rt::kTypedCallBit) {
      h.typed.push_back(op & ~rt::kTypedCallBit);
      *out = h.typed_results(op & ~rt::kTypedCallBit, a);
      return 0;
    }
    switch (static_cast<Op>(op)) {
      case Op::SetSize: *out = a[0]; return 0;  // the "set" is a number here
      case Op::Concat: *out = h.symbols.intern(h.symbols.str(a[0]) + h.symbols.str(a[1])); return 0;
      case Op::ToStrI: *out = h.symbols.intern(std::to_string(rt::as_int(a[0]))); return 0;
      case Op::Len: *out = rt::from_int(static_cast<int64_t>(h.symbols.str(a[0]).size())); return 0;
      case Op::LtS: *out = rt::from_bool(h.symbols.compare(a[0], a[1]) < 0); return 0;
      default: return rt::kStatusCallFailed;
    }
  }
  static int32_t flush(rt::NativeContext* c, Word* out, uint64_t m) {
    auto& h = *static_cast<JoinHarness*>(c->engine);
    if (h.flushes++ == h.fail_at_flush) return 1;
    h.flushed.insert(h.flushed.end(), out, out + m * 2);
    return 0;
  }
  // Runs `fn` over `frames` with these views and an output batch of `capacity` head rows of 2.
  int32_t run(rt::SegmentFn fn, const std::vector<Word>& frames, uint64_t n, std::vector<rt::NativeView> views, uint64_t capacity) {
    rt::NativeContext c{views.data(), &first_match, &alive,        &flush, capacity,      this,
                        &find_key,    &absent,      &set_elements, &apply, strings.data()};
    std::vector<Word> out(capacity * 2);
    uint64_t m = 0;
    int32_t status = fn(frames.data(), n, out.data(), &m, &c);
    if (status == 0) flushed.insert(flushed.end(), out.begin(), out.begin() + static_cast<long>(m * 2));
    return status;
  }
};

plan::Step join_step(plan::StepKind kind, std::vector<uint32_t> key_regs, std::vector<int32_t> bind,
                     std::vector<std::pair<uint32_t, uint32_t>> equal = {}) {
  plan::Step s;
  s.kind = kind;
  s.index = kind == plan::StepKind::Lookup ? 0 : plan::kKeyIndex;
  for (uint32_t r : key_regs) {
    Expr k = leaf(Op::Reg, TypeKind::Int);
    k.reg = r;
    s.key.push_back(k);
  }
  s.bind = std::move(bind);
  s.equal = std::move(equal);
  return s;
}

// e(x, y), e(y, z), x != z -> (x, z), over values that need 16-, 32- and 64-bit cells, with dead
// rows, an output batch that fills many times, and chains of several rows.
TEST(SegmentJit, JoinsReadRowsOfEveryCellWidthAndFlushFullBatches) {
  rt::jit::SegmentJit jit({});
  rt::SegmentSpec spec;
  spec.registers = 3;
  spec.steps.push_back(join_step(plan::StepKind::Scan, {}, {0, 1}));
  spec.steps.push_back(join_step(plan::StepKind::Lookup, {1}, {-1, 2}));
  Expr x = leaf(Op::Reg, TypeKind::Int), z = leaf(Op::Reg, TypeKind::Int);
  z.reg = 2;
  spec.steps.push_back(step(plan::StepKind::Filter, node(Op::Ne, TypeKind::Bool, {x, z})));
  spec.head = true;
  spec.head_columns = {x, z};
  rt::SegmentFn fn = jit.compile({spec})[0];
  ASSERT_NE(fn, nullptr) << rt::jit::segment_llvm_ir(spec, "s");
  for (int64_t scale : {int64_t{1}, int64_t{100000}, int64_t{10000000000}}) {
    JoinHarness h;
    rt::Relation& e = h.make(2, {{0}});
    std::vector<std::vector<int64_t>> rows;
    for (int64_t a = 0; a < 40; ++a)
      for (int64_t b = a % 3; b < 40; b += 7) rows.push_back({(a % 2 ? -a : a) * scale, b * scale});  // negative cells sign-extend
    for (auto& r : rows) e.insert(std::vector<Word>{rt::from_int(r[0]), rt::from_int(r[1])}.data());
    e.kill(5);  // a dead row is neither scanned nor found
    std::vector<Word> want;
    for (rt::RowId i = 0; i < e.end(); ++i) {
      if (!e.alive(i)) continue;
      // The interpreter's order: each scanned row, then its chain (first row, then newest first).
      std::vector<rt::RowId> chain;
      for (rt::RowId j = e.first_match(0, std::vector<Word>{e.row(i)[1]}.data()); j != rt::kNoRow; j = e.next_match(0, j))
        if (e.alive(j)) chain.push_back(j);
      for (rt::RowId j : chain)
        if (e.row(i)[0] != e.row(j)[1]) {
          want.push_back(e.row(i)[0]);
          want.push_back(e.row(j)[1]);
        }
    }
    ASSERT_GT(want.size(), 200u);
    std::vector<Word> one_frame(3, 0);
    ASSERT_EQ(h.run(fn, one_frame, 1, {JoinHarness::view_of(e, -1), JoinHarness::view_of(e, 0)}, 7), 0) << "scale " << scale;
    EXPECT_EQ(h.flushed, want) << "scale " << scale << ", cells of " << e.cell_bytes() << " bytes";
    EXPECT_GT(h.flushes, 10u);
    // A flush that fails stops the segment at once.
    JoinHarness failing;
    failing.fail_at_flush = 2;
    rt::Relation& e2 = failing.make(2, {{0}});
    for (auto& r : rows) e2.insert(std::vector<Word>{rt::from_int(r[0]), rt::from_int(r[1])}.data());
    EXPECT_EQ(failing.run(fn, one_frame, 1, {JoinHarness::view_of(e2, -1), JoinHarness::view_of(e2, 0)}, 7), rt::kStatusFlushFailed);
    EXPECT_EQ(failing.flushes, 3u);
  }
}

// A segment that starts with a lookup: frames whose keys repeat (the chain found last is used
// again), miss, or lie outside an index kept by value; and the same over an index too sparse to
// be kept by value (every probe a call). Repeated variables must agree.
TEST(SegmentJit, LookupsFromFramesAgreeWithTheRelation) {
  rt::jit::SegmentJit jit({});
  rt::SegmentSpec spec;
  spec.registers = 3;
  // f(k, v, v) by k: the third column must equal the second.
  spec.steps.push_back(join_step(plan::StepKind::Lookup, {0}, {-1, 1, -1}, {{2, 1}}));
  Expr k = leaf(Op::Reg, TypeKind::Int), v = leaf(Op::Reg, TypeKind::Int);
  v.reg = 1;
  spec.head = true;
  spec.head_columns = {k, v};
  rt::SegmentFn fn = jit.compile({spec})[0];
  ASSERT_NE(fn, nullptr);
  for (int64_t spread : {int64_t{1}, int64_t{1} << 40}) {
    JoinHarness h;
    rt::Relation& f = h.make(3, {{0}});
    for (int64_t i = 0; i < 300; ++i) {
      int64_t key = (i % 25) * spread, val = i * 3;
      f.insert(std::vector<Word>{rt::from_int(key), rt::from_int(val), rt::from_int(i % 4 ? val : val + 1)}.data());
    }
    size_t size = 0;
    f.catch_up(0);
    EXPECT_EQ(f.direct_heads(0, size) != nullptr, spread == 1) << "an index of small values is kept by value";
    std::vector<Word> frames;
    for (int64_t key : {3, 3, 3, 7, -1, 24, 24, 25, 1000000, 0}) {
      frames.push_back(rt::from_int(key * spread));
      frames.push_back(0);
      frames.push_back(0);
    }
    std::vector<Word> want;
    for (size_t i = 0; i < frames.size(); i += 3)
      for (rt::RowId r = f.first_match(0, &frames[i]); r != rt::kNoRow; r = f.next_match(0, r))
        if (f.row(r)[2] == f.row(r)[1]) {
          want.push_back(frames[i]);
          want.push_back(f.row(r)[1]);
        }
    ASSERT_EQ(h.run(fn, frames, frames.size() / 3, {JoinHarness::view_of(f, 0)}, 16), 0);
    EXPECT_EQ(h.flushed, want) << "spread " << spread;
  }
}

// x -> k(x + 1, y) by k's key (a computed key; a dead row is not found), not n(y), then each
// element z of the frame's set: head (y, z). The output batch fills many times.
TEST(SegmentJit, KeyLookupsNegationsAndSetsFollowTheirRelations) {
  rt::jit::SegmentJit jit({});
  rt::SegmentSpec spec;
  spec.registers = 4;
  Expr x = leaf(Op::Reg, TypeKind::Int), one = leaf(Op::Const, TypeKind::Int), y = leaf(Op::Reg, TypeKind::Int),
       set = leaf(Op::Reg, TypeKind::Int), z = leaf(Op::Reg, TypeKind::Int);
  one.value = int64_t{1};
  y.reg = 1;
  set.reg = 2;
  z.reg = 3;
  plan::Step by_key = join_step(plan::StepKind::Lookup, {}, {-1, 1});
  by_key.index = plan::kKeyIndex;
  by_key.key = {node(Op::AddI, TypeKind::Int, {x, one})};
  spec.steps.push_back(by_key);
  spec.steps.push_back(join_step(plan::StepKind::AntiJoin, {1}, {}));
  spec.steps.push_back(step(plan::StepKind::InSet, set, 3));
  spec.head = true;
  spec.head_columns = {y, z};
  rt::SegmentFn fn = jit.compile({spec})[0];
  ASSERT_NE(fn, nullptr) << rt::jit::segment_llvm_ir(spec, "s");

  JoinHarness h;
  rt::Relation& k = h.make(2, {}, {0});
  rt::Relation& neg = h.make(1, {});
  for (int64_t i = 0; i < 60; ++i) k.insert(std::vector<Word>{rt::from_int(i), rt::from_int(i * 7 % 50)}.data());
  k.kill(k.find_key(std::vector<Word>{rt::from_int(9)}.data()));
  for (int64_t v = 0; v < 50; v += 3) neg.insert(std::vector<Word>{rt::from_int(v)}.data());
  h.sets = {{}, {rt::from_int(5)}, {rt::from_int(1), rt::from_int(2), rt::from_int(3)}};
  std::vector<Word> frames, want;
  for (int64_t f = -3; f < 70; ++f) {
    const Word set_id = static_cast<Word>(f % 3 < 0 ? 0 : f % 3);
    frames.insert(frames.end(), {rt::from_int(f), 0, set_id, 0});
    rt::RowId row = k.find_key(std::vector<Word>{rt::from_int(f + 1)}.data());
    if (row == rt::kNoRow || !k.alive(row)) continue;
    const Word y_value = k.row(row)[1];
    if (neg.contains(&y_value)) continue;
    for (Word e : h.sets[set_id]) want.insert(want.end(), {k.row(row)[1], e});
  }
  ASSERT_GT(want.size(), 60u);
  ASSERT_EQ(h.run(fn, frames, frames.size() / 4, {JoinHarness::view_of(k, -1), JoinHarness::view_of(neg, -1)}, 5), 0);
  EXPECT_EQ(h.flushed, want);
  EXPECT_EQ(h.flushes, want.size() / 2 / 5);  // every full batch of 5 head rows
}

// String operations call the engine (NativeContext::apply) with their operands, string constants
// come from the context's table, and an error of a call-out leaves the segment with its status.
TEST(SegmentJit, CallOutsComputeStringsThroughTheContext) {
  rt::jit::SegmentJit jit({});
  Expr r0 = leaf(Op::Reg, TypeKind::Int), r1 = leaf(Op::Reg, TypeKind::Int);
  r1.reg = 1;
  Expr ab = leaf(Op::Const, TypeKind::String), seven = leaf(Op::Const, TypeKind::String);
  ab.value = std::string("ab");
  seven.value = std::string("7");
  Expr text = node(Op::ToStrI, TypeKind::String, {r0});
  rt::SegmentSpec spec;
  spec.registers = 2;
  // r1 = len(to_string(r0) ++ "ab"), to_string(r0) != "7", "" < to_string(r0) ++ "ab" -> (r0, r1)
  spec.steps.push_back(step(plan::StepKind::Assign, node(Op::Len, TypeKind::Int, {node(Op::Concat, TypeKind::String, {text, ab})}), 1));
  spec.steps.push_back(step(plan::StepKind::Filter, node(Op::Ne, TypeKind::Bool, {text, seven})));
  spec.head = true;
  spec.head_columns = {r0, r1};
  ASSERT_EQ(spec.strings(), (std::vector<std::string>{"ab", "7"}));
  rt::SegmentFn fn = jit.compile({spec})[0];
  ASSERT_NE(fn, nullptr) << rt::jit::segment_llvm_ir(spec, "s");
  JoinHarness h;
  h.symbols.intern("some string first, so that ids and texts differ");
  for (const auto& t : spec.strings()) h.strings.push_back(h.symbols.intern(t));
  std::vector<Word> frames;
  for (int64_t x : {1, 7, 123, -45}) frames.insert(frames.end(), {rt::from_int(x), rt::from_int(0)});
  ASSERT_EQ(h.run(fn, frames, 4, {}, 8), 0);
  EXPECT_EQ(h.flushed,
            (std::vector<Word>{rt::from_int(1), rt::from_int(3), rt::from_int(123), rt::from_int(5), rt::from_int(-45), rt::from_int(5)}));
  EXPECT_EQ(h.applied, 4u * 4);  // a frame: to_string, ++ and len in the first step, to_string in the filter

  // find() is one the harness refuses: the segment stops with the status it gave.
  rt::SegmentSpec failing = spec;
  failing.steps[0].expr = node(Op::Find, TypeKind::Int, {text, ab});
  rt::SegmentFn fail_fn = jit.compile({failing})[0];
  ASSERT_NE(fail_fn, nullptr);
  JoinHarness h2;
  for (const auto& t : failing.strings()) h2.strings.push_back(h2.symbols.intern(t));
  EXPECT_EQ(h2.run(fail_fn, frames, 4, {}, 8), rt::kStatusCallFailed);
  EXPECT_TRUE(h2.flushed.empty());
}

// A lattice operation that needs types calls out with the index of its kind in the segment's
// typed_calls (equal kinds share one), for the engine to read the types there.
TEST(SegmentJit, TypedCallsPassTheIndexOfTheirKind) {
  rt::jit::SegmentJit jit({});
  Expr r0 = leaf(Op::Reg, TypeKind::Int), r1 = leaf(Op::Reg, TypeKind::Int);
  r1.reg = 1;
  plan::ValueType set_type{TypeKind::LSet, {plan::ValueType{TypeKind::Int, {}}}};
  auto set_of = [&](Expr x) {
    Expr e = node(Op::SetOf, TypeKind::LSet, {std::move(x)});
    e.type = set_type;
    return e;
  };
  Expr both = node(Op::SetUnion, TypeKind::LSet, {set_of(r0), set_of(r1)});
  both.type = set_type;
  rt::SegmentSpec spec;
  spec.registers = 2;
  spec.head = true;
  spec.head_columns = {r0, node(Op::SetSize, TypeKind::Int, {both})};  // (r0, lset(r0).union(lset(r1)).size())
  const auto calls = spec.typed_calls();
  ASSERT_EQ(calls.size(), 2u) << "the union, and one kind for both set literals";
  EXPECT_EQ(calls[0].op, Op::SetUnion);
  EXPECT_EQ(calls[1].op, Op::SetOf);
  EXPECT_EQ(calls[1].operands, 1u);
  EXPECT_EQ(calls[1].first.kind, TypeKind::Int);
  rt::SegmentFn fn = jit.compile({spec})[0];
  ASSERT_NE(fn, nullptr) << rt::jit::segment_llvm_ir(spec, "s");
  JoinHarness h;
  h.typed_results = [](uint64_t k, const Word* a) {  // a literal: its element + 1; the union: l * 100 + r
    return k == 1 ? rt::from_int(rt::as_int(a[0]) + 1) : rt::from_int(rt::as_int(a[0]) * 100 + rt::as_int(a[1]));
  };
  std::vector<Word> frames = {rt::from_int(2), rt::from_int(5)};
  ASSERT_EQ(h.run(fn, frames, 1, {}, 8), 0);
  EXPECT_EQ(h.flushed, (std::vector<Word>{rt::from_int(2), rt::from_int(306)}));
  EXPECT_EQ(h.typed, (std::vector<uint64_t>{1, 1, 0})) << "both literals, then the union";
}

// value() of an lmax at bottom has none: the frame makes no head row, as in the interpreter.
TEST(SegmentJit, ARevealAtBottomSkipsTheFrame) {
  rt::jit::SegmentJit jit({});
  Expr lmax = leaf(Op::Reg, TypeKind::LMax);
  lmax.type.args = {plan::ValueType{TypeKind::Int, {}}};
  Expr r1 = leaf(Op::Reg, TypeKind::Int);
  r1.reg = 1;
  rt::SegmentSpec spec;
  spec.registers = 2;
  spec.head = true;
  spec.head_columns = {r1, node(Op::Reveal, TypeKind::Int, {lmax})};
  rt::SegmentFn fn = jit.compile({spec})[0];
  ASSERT_NE(fn, nullptr) << rt::jit::segment_llvm_ir(spec, "s");
  const Word bottom = rt::lattice_bottom(lmax.type);
  std::vector<Word> frames = {bottom, rt::from_int(1), rt::from_int(5),  rt::from_int(2),
                              bottom, rt::from_int(3), rt::from_int(-7), rt::from_int(4)};
  JoinHarness h;
  ASSERT_EQ(h.run(fn, frames, 4, {}, 8), 0);
  EXPECT_EQ(h.flushed, (std::vector<Word>{rt::from_int(2), rt::from_int(5), rt::from_int(4), rt::from_int(-7)}));
}

TEST(SegmentJit, TheIrIsOneLoopOverTheBatch) {
  rt::SegmentSpec spec;
  spec.registers = 1;
  Expr pos = node(Op::GtI, TypeKind::Bool, {leaf(Op::Reg, TypeKind::Int), leaf(Op::Const, TypeKind::Int)});
  pos.args[1].value = int64_t{0};
  spec.steps.push_back(step(plan::StepKind::Filter, pos));
  std::string ir = rt::jit::segment_llvm_ir(spec, "positive");
  EXPECT_NE(ir.find("define i32 @positive(ptr noalias %frames, i64 %n, ptr noalias %out, ptr noalias %m, ptr %ctx)"), std::string::npos)
      << ir;
  EXPECT_NE(ir.find("icmp sgt i64"), std::string::npos) << ir;
  EXPECT_NE(ir.find("llvm.memcpy"), std::string::npos) << ir;  // a passing frame is copied whole
}

}  // namespace
}  // namespace bloom::test
