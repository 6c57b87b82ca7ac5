#include "analysis/depgraph.h"

namespace bloom::analysis {

const char* to_string(Timing t) {
  switch (t) {
    case Timing::Instant: return "instantaneous";
    case Timing::Deferred: return "deferred";
    case Timing::Async: return "asynchronous";
  }
  return "?";
}

Timing timing_of(ast::MergeOp op) {
  switch (op) {
    case ast::MergeOp::Instant: return Timing::Instant;
    case ast::MergeOp::Async: return Timing::Async;
    default: return Timing::Deferred;
  }
}

DependencyGraph::DependencyGraph(const sema::Program& p) {
  out_.resize(p.collections.size());
  in_.resize(p.collections.size());
  for (uint32_t r = 0; r < p.rules.size(); ++r) {
    const sema::CheckedRule& rule = p.rules[r];
    if (rule.head == sema::kNoCollection) continue;
    for (uint32_t i = 0; i < rule.inputs.size(); ++i) {
      const sema::RuleInput& in = rule.inputs[i];
      if (in.collection == sema::kNoCollection) continue;
      Edge e;
      e.from = in.collection;
      e.to = rule.head;
      e.rule = r;
      e.input = i;
      e.timing = timing_of(rule.op);
      e.span = in.span;
      // The first reason found is the one reported; a negated atom is its own reason.
      if (rule.seal >= 0) {
        e.why = sema::NonMonotone::Seal;  // reads each input whole: stratified like a negation
      } else if (in.negated) {
        e.why = sema::NonMonotone::Negation;
      } else if (!rule.aggregates.empty()) {
        e.why = sema::NonMonotone::Aggregate;
        e.span = rule.aggregates.front();
      } else if (!in.reveals.empty()) {
        e.why = sema::NonMonotone::Reveal;
        e.span = in.reveals.front();
      } else if (rule.op == ast::MergeOp::DeferredDelete) {
        e.why = sema::NonMonotone::Delete;
        e.span = rule.ast->op_span;
      } else if (rule.op == ast::MergeOp::DeferredUpsert) {
        e.why = sema::NonMonotone::Upsert;
        e.span = rule.ast->op_span;
      }
      uint32_t id = static_cast<uint32_t>(edges_.size());
      edges_.push_back(e);
      out_[e.from].push_back(id);
      in_[e.to].push_back(id);
    }
  }
}

}  // namespace bloom::analysis
