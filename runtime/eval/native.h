// What the engine accepts as native code for a rule (issue 14): the JIT (runtime/jit) implements
// this interface, the engine calls it, and neither sees the other's internals. LLVM never appears
// here, so the engine builds and runs without it (`bloom run --engine interp`, or no JIT module).
//
// The unit of native code is a segment of a rule's pipeline: a run of consecutive Filter and
// Assign steps, optionally followed by the head's columns. It takes a batch of register frames,
// as the interpreter's steps do, and writes the frames that pass every filter (with the assigned
// registers set), or their head rows, into one output batch. Scans, lookups and negations stay
// with the interpreter, which hands each batch to the segment and the segment's output on.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/value.h"
#include "plan/ir.h"

namespace bloom::rt {

// status = f(frames, n, out, &m): reads n frames of the segment's register count, writes m
// frames (or, with the head, m head rows) to out, and returns 0; or returns non-zero when a frame
// raises a run-time error (division or modulo by zero). Then the engine runs the same batch
// through the interpreter, which raises the error the interpreter would, with the same message:
// the segment has no other effect than what it wrote into `out`.
using SegmentFn = int32_t (*)(const Word* frames, uint64_t n, Word* out, uint64_t* m);

// A segment, self-contained (copies of the plan's expressions), so that it can be compiled on
// another thread after the engine that asked for it is gone.
struct SegmentSpec {
  uint32_t registers = 0;         // words per frame
  std::vector<plan::Step> steps;  // Filter and Assign only
  bool head = false;              // then the output is head rows of head_columns.size() words
  std::vector<plan::Expr> head_columns;
};

// Where a compiled function is published: the engine reads it at every batch (relaxed: the
// function is immutable code), the compiler writes it once when done.
using SegmentSlot = std::shared_ptr<std::atomic<SegmentFn>>;

class NativeCode {
 public:
  virtual ~NativeCode() = default;
  // Whether a Filter or Assign expression, or a head column, can be part of a segment.
  virtual bool supports_step(const plan::Expr& e) const = 0;
  virtual bool supports_head_column(const plan::Expr& e) const = 0;
  // The segments compiled now, together (or taken from the cache of segments compiled before);
  // nullptr for one that cannot be (the interpreter goes on). Thread-safe: the nodes of
  // `bloom run --in-process` share one NativeCode.
  virtual std::vector<SegmentFn> compile(const std::vector<SegmentSpec>& specs) = 0;
  // The same on the compiler's own thread: `slot` receives the function when it is ready (and
  // stays null if it cannot be compiled). Returns at once.
  virtual void compile_later(SegmentSpec spec, SegmentSlot slot) = 0;
  // How many frames a segment sees before it is compiled (0: compile before its first batch, on
  // the calling thread, so a test runs native code from the first row).
  virtual uint64_t threshold() const = 0;
  // Whether the engine also weighs a segment before asking for it (tiering's cost model,
  // eval/engine.cpp): only segments that evaluate enough operators a frame, once they have done
  // enough work to pay for a compile. Otherwise every segment is asked for at the threshold.
  virtual bool weighs_segments() const { return false; }
};

}  // namespace bloom::rt
