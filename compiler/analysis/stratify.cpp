#include "analysis/stratify.h"

#include <algorithm>
#include <deque>

namespace bloom::analysis {
namespace {

constexpr uint32_t kUnvisited = UINT32_MAX;

// Tarjan's algorithm over instantaneous edges, iterative so that long rule chains cannot
// overflow the stack. Components come out in reverse topological order.
}  // namespace

std::vector<uint32_t> strongly_connected(const DependencyGraph& g, bool instant_only, uint32_t& count) {
  size_t n = g.collection_count();
  std::vector<uint32_t> index(n, kUnvisited), low(n, 0), comp(n, kUnvisited);
  std::vector<bool> on_stack(n, false);
  std::vector<uint32_t> stack;
  uint32_t next = 0;
  count = 0;
  struct Frame {
    uint32_t node;
    size_t edge;
  };
  for (uint32_t root = 0; root < n; ++root) {
    if (index[root] != kUnvisited) continue;
    std::vector<Frame> frames{{root, 0}};
    index[root] = low[root] = next++;
    stack.push_back(root);
    on_stack[root] = true;
    while (!frames.empty()) {
      Frame& f = frames.back();
      const auto& out = g.out(f.node);
      if (f.edge < out.size()) {
        const Edge& e = g.edges()[out[f.edge++]];
        if (instant_only && e.timing != Timing::Instant) continue;
        uint32_t w = e.to;
        if (index[w] == kUnvisited) {
          index[w] = low[w] = next++;
          stack.push_back(w);
          on_stack[w] = true;
          frames.push_back({w, 0});
        } else if (on_stack[w]) {
          low[f.node] = std::min(low[f.node], index[w]);
        }
        continue;
      }
      uint32_t v = f.node;
      frames.pop_back();
      if (!frames.empty()) low[frames.back().node] = std::min(low[frames.back().node], low[v]);
      if (low[v] == index[v]) {
        uint32_t w;
        do {
          w = stack.back();
          stack.pop_back();
          on_stack[w] = false;
          comp[w] = count;
        } while (w != v);
        ++count;
      }
    }
  }
  return comp;
}

namespace {

// Instantaneous edges from `from` back to `to` inside one component, as a path of edge ids.
std::vector<uint32_t> path_within(const DependencyGraph& g, const std::vector<uint32_t>& comp, uint32_t from, uint32_t to) {
  std::vector<uint32_t> via(g.collection_count(), kUnvisited);
  std::vector<bool> seen(g.collection_count(), false);
  std::deque<uint32_t> queue{from};
  seen[from] = true;
  while (!queue.empty()) {
    uint32_t v = queue.front();
    queue.pop_front();
    if (v == to) break;
    for (uint32_t id : g.out(v)) {
      const Edge& e = g.edges()[id];
      if (e.timing != Timing::Instant || comp[e.to] != comp[from] || seen[e.to]) continue;
      seen[e.to] = true;
      via[e.to] = id;
      queue.push_back(e.to);
    }
  }
  std::vector<uint32_t> path;
  for (uint32_t v = to; v != from && via[v] != kUnvisited; v = g.edges()[via[v]].from) path.push_back(via[v]);
  std::reverse(path.begin(), path.end());
  return path;
}

}  // namespace

std::unique_ptr<Strata> stratify(const sema::Program& p, const DependencyGraph& g, DiagnosticEngine& diags) {
  uint32_t ncomp = 0;
  std::vector<uint32_t> comp = strongly_connected(g, true, ncomp);
  auto s = std::make_unique<Strata>();
  s->scc_of = comp;
  s->recursive.assign(g.collection_count(), false);
  std::vector<uint32_t> comp_size(ncomp, 0);
  for (uint32_t c : comp) ++comp_size[c];
  for (const Edge& e : g.edges())
    if (e.timing == Timing::Instant && comp[e.from] == comp[e.to]) s->recursive[e.from] = s->recursive[e.to] = true;

  bool ok = true;
  std::vector<bool> reported(ncomp, false);
  for (const Edge& e : g.edges()) {
    if (e.timing != Timing::Instant || e.monotone() || comp[e.from] != comp[e.to] || reported[comp[e.from]]) continue;
    reported[comp[e.from]] = true;  // one error per cycle is enough to act on
    ok = false;
    std::vector<uint32_t> back = path_within(g, comp, e.to, e.from);
    std::string cycle = p.collections[e.to].name;
    for (uint32_t id : back) cycle += " -> " + p.collections[g.edges()[id].to].name;
    cycle += " -> " + p.collections[e.to].name;
    auto& d = diags.error("unstratifiable", e.span,
                          "unstratifiable: " + p.collections[e.to].name + " depends on itself through " +
                              (e.why == sema::NonMonotone::Negation    ? ""
                               : e.why == sema::NonMonotone::Aggregate ? "an "
                                                                       : "a ") +
                              sema::to_string(e.why) + " within one tick (cycle: " + cycle + ")");
    d.with_label(std::string(sema::to_string(e.why)) + " of " + p.collections[e.from].name);
    for (uint32_t id : back) {
      const Edge& h = g.edges()[id];
      d.note(p.rules[h.rule].ast->span, p.collections[h.from].name + " feeds " + p.collections[h.to].name + " here");
    }
    d.with_help("a non-monotone operation needs its input complete; read the previous tick instead, e.g. derive " +
                p.collections[e.from].name + " with `<+`, or split the cycle");
  }
  if (!ok) return nullptr;

  // Components come out of Tarjan in reverse topological order: walk them from the sources.
  std::vector<uint32_t> comp_stratum(ncomp, 0);
  std::vector<std::vector<uint32_t>> members(ncomp);
  for (uint32_t c = 0; c < comp.size(); ++c) members[comp[c]].push_back(c);
  for (uint32_t k = ncomp; k-- > 0;) {
    uint32_t level = comp_stratum[k];
    for (uint32_t v : members[k])
      for (uint32_t id : g.in(v)) {
        const Edge& e = g.edges()[id];
        if (e.timing != Timing::Instant || comp[e.from] == k) continue;
        level = std::max(level, comp_stratum[comp[e.from]] + (e.monotone() ? 0u : 1u));
      }
    comp_stratum[k] = level;
  }
  s->stratum_of.resize(comp.size());
  uint32_t top = 0;
  for (uint32_t c = 0; c < comp.size(); ++c) {
    s->stratum_of[c] = comp_stratum[comp[c]];
    top = std::max(top, s->stratum_of[c]);
  }
  s->rules.resize(top + 1);
  for (uint32_t r = 0; r < p.rules.size(); ++r) {
    const auto& rule = p.rules[r];
    if (rule.head == sema::kNoCollection) continue;
    if (rule.op == ast::MergeOp::Instant) s->rules[s->stratum_of[rule.head]].push_back(r);
    else s->transition_rules.push_back(r);
  }
  return s;
}

}  // namespace bloom::analysis
