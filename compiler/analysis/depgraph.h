// The dependency graph between collections: one edge per (rule, body atom), labelled with the
// rule's timing and whether the atom's data reaches the head monotonically. Stratification and
// the CALM analysis both read it.
#pragma once
#include <cstdint>
#include <vector>

#include "sema/program.h"

namespace bloom::analysis {

enum class Timing : uint8_t {
  Instant,   // `<=`: same tick, part of the fixpoint
  Deferred,  // `<+ <- <+-`: next tick
  Async,     // `<~`: some later tick, maybe on another node
};
const char* to_string(Timing t);
Timing timing_of(ast::MergeOp op);

struct Edge {
  sema::CollectionId from = sema::kNoCollection;  // the body atom's collection
  sema::CollectionId to = sema::kNoCollection;    // the rule's head
  uint32_t rule = 0;                              // index in Program::rules
  uint32_t input = 0;                             // index in the rule's inputs
  Timing timing = Timing::Instant;
  sema::NonMonotone why = sema::NonMonotone::None;
  Span span;  // where the non-monotone operation is written (or the atom, if monotone)
  bool monotone() const { return why == sema::NonMonotone::None; }
};

class DependencyGraph {
 public:
  explicit DependencyGraph(const sema::Program& program);
  const std::vector<Edge>& edges() const { return edges_; }
  // Edge indexes leaving / entering each collection.
  const std::vector<uint32_t>& out(sema::CollectionId c) const { return out_[c]; }
  const std::vector<uint32_t>& in(sema::CollectionId c) const { return in_[c]; }
  size_t collection_count() const { return out_.size(); }

 private:
  std::vector<Edge> edges_;
  std::vector<std::vector<uint32_t>> out_, in_;
};

}  // namespace bloom::analysis
