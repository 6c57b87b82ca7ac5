// `bloom build`'s view of a program's native code (docs/jit.md, "bloom build"): a NativeCode that
// compiles nothing and keeps every segment an engine asks for. With threshold 0, an engine hands
// it every segment when it is made, and the rest with Engine::prepare_all_rules(), without
// running a tick. tests/unit/aot_test.cpp checks what it collects.
#pragma once
#include <vector>

#include "core/lattice.h"
#include "eval/engine.h"
#include "eval/native.h"
#include "jit/supported.h"

namespace bloom::cli {

class SegmentRecorder : public rt::NativeCode {
 public:
  bool supports_step(const plan::Expr& e) const override { return rt::jit::supported(e); }
  bool supports_joins() const override { return true; }
  bool supports_head_column(const plan::Expr& e) const override { return rt::jit::head_column_supported(e); }
  std::vector<rt::SegmentFn> compile(const std::vector<rt::SegmentSpec>& specs) override {
    specs_.insert(specs_.end(), specs.begin(), specs.end());
    return std::vector<rt::SegmentFn>(specs.size(), nullptr);
  }
  void compile_later(rt::SegmentSpec spec, rt::SegmentSlot) override { specs_.push_back(std::move(spec)); }
  uint64_t threshold() const override { return 0; }
  const std::vector<rt::SegmentSpec>& specs() const { return specs_; }

 private:
  std::vector<rt::SegmentSpec> specs_;
};

// Every segment an engine of `plan` would compile, collected without running a tick.
inline std::vector<rt::SegmentSpec> program_segments(const plan::Program& plan) {
  SegmentRecorder recorder;
  rt::SymbolTable symbols;
  rt::Lattices lattices(symbols);
  rt::Engine engine(plan, symbols, lattices, &recorder);
  engine.prepare_all_rules();
  return recorder.specs();
}

}  // namespace bloom::cli
