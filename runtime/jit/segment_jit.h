// The JIT's side of eval/native.h: a segment of a rule's pipeline (its filters and assignments
// over a batch of frames, and the head's columns) compiled by LLVM ORC into one function whose
// loop over the batch is fused with every expression of the segment. Compiled segments are kept
// by what they compute, so the second engine of a program (a simulator's next run, a deployment's
// next node thread) compiles nothing; a background thread compiles what tiering asks for later.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "eval/native.h"

namespace bloom::rt::jit {

// Options of the segment JIT (bloom run --engine jit).
struct SegmentJitOptions {
  // Frames a segment sees before it is compiled (NativeCode::threshold); 0 compiles every
  // segment before its first batch, on the caller's thread.
  uint64_t threshold = 4096;
  // Tiering's cost model (NativeCode::weighs_segments): on by default; off when the threshold was
  // chosen (--jit-threshold), which then alone decides.
  bool weigh = true;
  // The folder of the code cache on disk (docs/jit.md); "" keeps compiled code in memory only.
  std::string cache_dir;
  // The code cache's size limit in bytes (0: none): above it the files used longest ago go.
  uint64_t cache_max_bytes = kDefaultCacheMaxBytes;
  static constexpr uint64_t kDefaultCacheMaxBytes = uint64_t{256} << 20;
};

// What it has done so far, for `--jit-stats`.
struct SegmentJitStats {
  uint64_t compiled = 0;   // segments compiled
  uint64_t cached = 0;     // segments asked for again and found compiled
  uint64_t failed = 0;     // segments LLVM could not compile (left to the interpreter)
  uint64_t from_disk = 0;  // segments loaded from the code cache on disk
  double total_ms = 0;     // time spent compiling (lowering, optimization, machine code)
  double median_ms = 0;    // per segment
  double max_ms = 0;
};

class SegmentJit : public NativeCode {
 public:
  // Throws std::runtime_error if LLVM cannot be set up.
  explicit SegmentJit(SegmentJitOptions options);
  ~SegmentJit() override;  // waits for the segment being compiled, drops the queued ones

  bool supports_step(const plan::Expr& e) const override;
  bool supports_joins() const override { return true; }
  bool supports_head_column(const plan::Expr& e) const override;
  std::vector<SegmentFn> compile(const std::vector<SegmentSpec>& specs) override;
  void compile_later(SegmentSpec spec, SegmentSlot slot) override;
  uint64_t threshold() const override;
  bool weighs_segments() const override;
  SegmentJitStats stats() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// `bloom build`: the segments compiled ahead of time (optimized, position-independent, for this
// machine's CPU) into one relocatable object file at `object_path`, which also defines the table
// of jit/aot_table.h: every segment's key and function, and `program` as bytes. Segments with
// the same key are compiled once. Throws std::runtime_error naming what failed.
void compile_aot(const std::vector<SegmentSpec>& specs, const std::string& program, const std::string& object_path);

// The LLVM IR of a segment's function, before optimization (tests).
std::string segment_llvm_ir(const SegmentSpec& spec, const std::string& name);
// `bloom plan --format llvm`: the segments' functions as one module, named `names`, after the
// optimization passes (what runs, for this machine's CPU).
std::string segments_llvm_ir(const std::vector<SegmentSpec>& specs, const std::vector<std::string>& names);

}  // namespace bloom::rt::jit
