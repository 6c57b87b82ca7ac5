// Stratification: orders the instantaneous (`<=`) rules so that every negation, aggregate and
// lattice reveal reads a collection that is complete for the tick. Cycles through deferred or
// asynchronous rules are fine (they cross a tick boundary); a cycle of `<=` rules through a
// non-monotone edge is an error that prints the cycle.
#pragma once
#include <memory>
#include <vector>

#include "analysis/depgraph.h"
#include "syntax/diagnostics.h"

namespace bloom::analysis {

struct Strata {
  std::vector<uint32_t> stratum_of;          // per collection
  std::vector<std::vector<uint32_t>> rules;  // per stratum: `<=` rules (Program::rules indexes)
  std::vector<uint32_t> transition_rules;    // `<+ <- <+- <~` rules, run after the fixpoint
  std::vector<uint32_t> scc_of;              // per collection: its strongly connected component
  std::vector<bool> recursive;               // per collection: on a cycle of `<=` rules
  size_t count() const { return rules.size(); }
};

// Strongly connected components (Tarjan, iterative) over the instantaneous edges only, or over
// every edge. Components are numbered in reverse topological order: an edge between two
// components goes from a higher number to a lower one.
std::vector<uint32_t> strongly_connected(const DependencyGraph& graph, bool instant_only, uint32_t& count);

// Returns null (with an error per offending cycle) when the program cannot be stratified.
std::unique_ptr<Strata> stratify(const sema::Program& program, const DependencyGraph& graph, DiagnosticEngine& diags);

}  // namespace bloom::analysis
