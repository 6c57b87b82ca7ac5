#include "analysis/calm.h"

#include "analysis/stratify.h"

#include <algorithm>
#include <array>
#include <deque>
#include <map>
#include <set>

namespace bloom::analysis {

const char* to_string(Label l) {
  switch (l) {
    case Label::M: return "M";
    case Label::A: return "A";
    case Label::N: return "N";
    case Label::D: return "D";
  }
  return "?";
}

const char* meaning(Label l) {
  switch (l) {
    case Label::M: return "monotone: confluent, the same contents whatever the order of inputs";
    case Label::A: return "asynchronous: contents are deterministic, their timing is not";
    case Label::N: return "non-monotone over local, complete data: deterministic";
    case Label::D: return "diffluent: contents may differ between runs, with message order or timing";
  }
  return "";
}

Label compose(Label path, Label edge) {
  if (path == Label::D || edge == Label::D) return Label::D;
  if (edge == Label::M) return path;
  if (edge == Label::A) return Label::A;                    // M/A/N then A: A
  return path == Label::A ? Label::D : Label::N;            // edge N: A then N is D
}

const char* to_string(FindingKind k) { return k == FindingKind::PointOfOrder ? "point-of-order" : "race"; }

size_t CalmReport::unsuppressed() const {
  return static_cast<size_t>(std::count_if(findings.begin(), findings.end(), [](const Finding& f) { return !f.suppressed; }));
}

bool CalmReport::needs_coordination() const {
  if (unsuppressed() > 0) return true;
  return std::any_of(sinks.begin(), sinks.end(), [&](sema::CollectionId c) { return collection_label[c] == Label::D; });
}

namespace {

using sema::CollectionId;
using sema::CollectionKind;

bool is_source(CollectionKind k) {
  return k == CollectionKind::Input || k == CollectionKind::Channel || k == CollectionKind::Periodic;
}
bool is_transient(CollectionKind k) { return !sema::is_persistent(k) && k != CollectionKind::Stdout && k != CollectionKind::Halt; }

class Analyzer {
 public:
  Analyzer(const sema::Program& p, const DependencyGraph& g, const std::set<std::string>& diffluent)
      : p_(p), g_(g), diffluent_(diffluent) {}

  CalmReport run() {
    size_t n = p_.collections.size();
    report_.paths.resize(n);
    report_.collection_label.assign(n, Label::M);
    report_.rule_label.assign(p_.rules.size(), Label::M);
    std::vector<bool> written(n, false);  // some rule derives into it
    for (const auto& r : p_.rules)
      if (r.head != sema::kNoCollection) written[r.head] = true;
    find_races();
    propagate();
    for (CollectionId c = 0; c < n; ++c) {
      const auto& col = p_.collections[c];
      if (is_async_source(c)) report_.sources.push_back(c);
      if (col.kind == CollectionKind::Output || ((col.kind == CollectionKind::Channel || col.kind == CollectionKind::Stdout) && written[c]))
        report_.sinks.push_back(c);
      for (const auto& [origin, mask] : state_[c])
        for (int l = 0; l < 4; ++l)
          if (mask & (1u << l)) {
            report_.paths[c].push_back({origin, static_cast<Label>(l)});
            report_.collection_label[c] = worst(report_.collection_label[c], static_cast<Label>(l));
          }
    }
    label_rules();
    find_points_of_order();
    return std::move(report_);
  }

 private:
  // Inputs and periodics always bring data in; a channel only where some rule receives it (a
  // channel that is only sent to is a sink, not a source).
  bool is_async_source(CollectionId c) const {
    CollectionKind k = p_.collections[c].kind;
    if (k == CollectionKind::Channel) return !g_.out(c).empty();
    return is_source(k);
  }

  bool edge_nonmonotone(const Edge& e) const { return !e.monotone() || p_.rules[e.rule].uses_now; }

  Label transform(Label l, const Edge& e) const {
    if (race_rules_.count(e.rule)) return Label::D;
    if (edge_nonmonotone(e)) l = compose(l, Label::N);
    if (e.timing == Timing::Async) l = compose(l, Label::A);
    return l;
  }

  // Every (origin, label) pair reaching each collection, to a fixpoint: the label set is finite
  // (4 labels per origin), so cycles of any length converge. Semi-naive: only the bits that are
  // new at a collection are pushed along its edges, each edge mapping a label set through a
  // precomputed table.
  void propagate() {
    size_t n = p_.collections.size();
    state_.assign(n, {});
    std::vector<std::map<CollectionId, uint8_t>> delta(n);
    std::vector<std::array<uint8_t, 16>> table(g_.edges().size());
    for (size_t id = 0; id < g_.edges().size(); ++id)
      for (uint8_t mask = 0; mask < 16; ++mask) {
        uint8_t out = 0;
        for (int l = 0; l < 4; ++l)
          if (mask & (1u << l)) out |= static_cast<uint8_t>(1u << static_cast<int>(transform(static_cast<Label>(l), g_.edges()[id])));
        table[id][mask] = out;
      }
    std::deque<CollectionId> work;
    auto add = [&](CollectionId c, CollectionId origin, uint8_t mask) {
      uint8_t& cur = state_[c][origin];
      uint8_t fresh = mask & static_cast<uint8_t>(~cur);
      if (!fresh) return;
      cur |= fresh;
      if (delta[c].empty()) work.push_back(c);
      delta[c][origin] |= fresh;
    };
    for (const auto& col : p_.collections)
      if (is_async_source(col.id))
        add(col.id, col.id, 1u << static_cast<int>(diffluent_.count(col.name) ? Label::D : Label::A));
    for (const auto& f : p_.facts) add(f.collection, kLocalOrigin, 1u << static_cast<int>(Label::M));
    while (!work.empty()) {
      CollectionId c = work.front();
      work.pop_front();
      std::map<CollectionId, uint8_t> now = std::move(delta[c]);
      delta[c].clear();
      for (uint32_t id : g_.out(c))
        for (const auto& [origin, mask] : now) add(g_.edges()[id].to, origin, table[id][mask]);
    }
  }

  // A rule's label: the worst label its edges give any path into their inputs (a race is D).
  void label_rules() {
    for (uint32_t r : race_rules_) report_.rule_label[r] = Label::D;
    for (const Edge& e : g_.edges()) {
      Label& l = report_.rule_label[e.rule];
      for (const auto& pl : report_.paths[e.from]) l = worst(l, transform(pl.label, e));
      if (report_.paths[e.from].empty()) l = worst(l, transform(Label::M, e));
    }
  }

  // ---- races
  // The asynchronous arrivals a transient collection's contents come from within one tick.
  // Tables and lattices accumulate, so they guard a join and have no roots.
  void compute_roots() {
    roots_.assign(p_.collections.size(), {});
    for (const auto& c : p_.collections)
      if (is_async_source(c.id)) roots_[c.id].insert(c.id);
    for (bool changed = true; changed;) {
      changed = false;
      for (const Edge& e : g_.edges()) {
        if (e.timing != Timing::Instant) continue;
        const auto& to = p_.collections[e.to];
        if (!is_transient(to.kind) || is_source(to.kind) || !is_transient(p_.collections[e.from].kind)) continue;
        for (CollectionId r : roots_[e.from]) changed |= roots_[e.to].insert(r).second;
      }
    }
  }

  void find_races() {
    compute_roots();
    for (uint32_t r = 0; r < p_.rules.size(); ++r) {
      const auto& rule = p_.rules[r];
      const sema::RuleInput* first = nullptr;
      for (const auto& in : rule.inputs) {
        if (in.negated || in.collection == sema::kNoCollection) continue;
        if (!is_transient(p_.collections[in.collection].kind) || roots_[in.collection].empty()) continue;
        if (!first) {
          first = &in;
          continue;
        }
        if (roots_[in.collection] == roots_[first->collection]) continue;
        race_rules_.insert(r);
        Finding f;
        f.kind = FindingKind::Race;
        f.operation = "join";
        f.rule = r;
        f.collection = rule.head;
        f.span = in.span;
        f.other = first->span;
        f.source = *roots_[in.collection].begin();
        f.path = path_from(f.source, in.collection);
        f.remedies = {
            "persist one side in a table (e.g. `log(...) <= " + p_.collections[in.collection].name +
                "(...)`) and join with that, so a match does not depend on both arriving in the same tick",
            "or merge both into one lattice so arrival order cannot matter"};
        apply_suppression(f);
        pending_races_.push_back(std::move(f));
        break;
      }
    }
  }

  // ---- points of order
  void find_points_of_order() {
    std::set<std::pair<uint32_t, uint32_t>> seen;  // (rule, span line*65536+col)
    for (const Edge& e : g_.edges()) {
      if (!edge_nonmonotone(e)) continue;
      // The asynchronous source nearest to the operation's input is the one to name: the first
      // declared one may reach it only by a long detour (a timer that every table depends on).
      CollectionId origin = sema::kNoCollection;
      std::vector<Hop> path;
      for (const auto& pl : report_.paths[e.from])
        if (pl.origin != kLocalOrigin && (pl.label == Label::A || pl.label == Label::D) && pl.origin != origin) {
          std::vector<Hop> p = path_from(pl.origin, e.from);
          if (origin == sema::kNoCollection || p.size() < path.size()) {
            origin = pl.origin;
            path = std::move(p);
          }
        }
      if (origin == sema::kNoCollection) continue;
      bool now = e.monotone();  // non-monotone only because the rule reads now()
      Span at = now ? p_.rules[e.rule].ast->span : e.span;
      if (!seen.insert({e.rule, at.line * 65536u + at.col}).second) continue;
      Finding f;
      f.kind = FindingKind::PointOfOrder;
      f.operation = now ? "now" : sema::to_string(e.why);
      f.rule = e.rule;
      f.collection = e.to;
      f.span = at;
      f.source = origin;
      f.path = std::move(path);
      remedies(f, e);
      apply_suppression(f);
      report_.findings.push_back(std::move(f));
    }
    for (auto& f : pending_races_) report_.findings.push_back(std::move(f));
    compute_reachable_sinks();
    for (auto& f : report_.findings) f.taints = sinks_after(f.collection);
    std::stable_sort(report_.findings.begin(), report_.findings.end(), [](const Finding& a, const Finding& b) {
      return std::tie(a.span.file, a.span.line, a.span.col) < std::tie(b.span.file, b.span.line, b.span.col);
    });
  }

  void apply_suppression(Finding& f) const {
    for (const auto& s : p_.rules[f.rule].ast->suppressions)
      if (s.kind == to_string(f.kind)) {
        f.suppressed = true;
        f.suppression_reason = s.reason;
      }
  }

  // The shortest chain of edges from `source` to `target` (any timing), as hops with spans.
  // One breadth-first tree per source, shared by all of its findings.
  std::vector<Hop> path_from(CollectionId source, CollectionId target) {
    auto [it, fresh] = bfs_trees_.try_emplace(source);
    std::vector<uint32_t>& via = it->second;
    if (fresh) {
      via.assign(p_.collections.size(), UINT32_MAX);
      std::vector<bool> seen(p_.collections.size(), false);
      std::deque<CollectionId> q{source};
      seen[source] = true;
      while (!q.empty()) {
        CollectionId c = q.front();
        q.pop_front();
        for (uint32_t id : g_.out(c)) {
          CollectionId d = g_.edges()[id].to;
          if (seen[d]) continue;
          seen[d] = true;
          via[d] = id;
          q.push_back(d);
        }
      }
    }
    std::vector<Hop> hops;
    for (CollectionId c = target; c != source && via[c] != UINT32_MAX; c = g_.edges()[via[c]].from) {
      const Edge& e = g_.edges()[via[c]];
      hops.push_back({c, p_.rules[e.rule].ast->span, e.rule, e.timing});
    }
    hops.push_back({source, p_.collections[source].name_span, UINT32_MAX, Timing::Async});
    std::reverse(hops.begin(), hops.end());
    return hops;
  }

  // The sinks reachable from each collection, as bit sets over the strongly connected
  // components of the whole graph (every timing), computed once in reverse topological order.
  void compute_reachable_sinks() {
    uint32_t ncomp = 0;
    comp_ = strongly_connected(g_, false, ncomp);
    size_t words = (report_.sinks.size() + 63) / 64;
    reach_.assign(ncomp, std::vector<uint64_t>(words, 0));
    for (size_t i = 0; i < report_.sinks.size(); ++i) reach_[comp_[report_.sinks[i]]][i / 64] |= 1ull << (i % 64);
    std::vector<std::vector<CollectionId>> members(ncomp);
    for (CollectionId c = 0; c < comp_.size(); ++c) members[comp_[c]].push_back(c);
    for (uint32_t k = 0; k < ncomp; ++k)  // Tarjan numbers successors' components first
      for (CollectionId c : members[k])
        for (uint32_t id : g_.out(c)) {
          uint32_t d = comp_[g_.edges()[id].to];
          if (d == k) continue;
          for (size_t w = 0; w < words; ++w) reach_[k][w] |= reach_[d][w];
        }
  }

  std::vector<CollectionId> sinks_after(CollectionId from) const {
    std::vector<CollectionId> out;
    const auto& bits = reach_[comp_[from]];
    for (size_t i = 0; i < report_.sinks.size(); ++i)
      if (bits[i / 64] >> (i % 64) & 1) out.push_back(report_.sinks[i]);
    std::sort(out.begin(), out.end());
    return out;
  }

  // What would remove the point of order, most local fix first; the coordination boundary last.
  void remedies(Finding& f, const Edge& e) const {
    const std::string input = p_.collections[e.from].name;
    switch (e.why) {
      case sema::NonMonotone::Aggregate:
        f.remedies.push_back("use a lattice threshold instead of the aggregate: collect into an lset (`s(v) <= " + input +
                             "(...)`) and test `s.size() >= n`, which only ever becomes true");
        f.remedies.push_back("or punctuate: aggregate a group only once a seal for it (e.g. `done(key, count)` from its sender) has arrived");
        break;
      case sema::NonMonotone::Negation:
        f.remedies.push_back("punctuate per key: negate `" + input + "` only for keys whose producers have sealed them (sent a `done` message)");
        f.remedies.push_back("or turn the test around: keep a monotone lattice (lbool/lset) of what has been seen and test it with a threshold");
        break;
      case sema::NonMonotone::Reveal:
        f.remedies.push_back("compare with a threshold instead of revealing the value: `x >= c` on lmax, `x <= c` on lmin, `s.size() >= n`, `s.contains(v)`");
        break;
      case sema::NonMonotone::Upsert:
        f.remedies.push_back("merge instead of replacing: declare the replaced column as a lattice (e.g. lmax of a version) and write with `<=`/`<+`");
        break;
      case sema::NonMonotone::Delete:
        f.remedies.push_back("record deletions as data instead: keep a set of tombstones (`deleted(k) <= ...`) and filter with it");
        break;
      case sema::NonMonotone::None:
        // Not tick() or a periodic's count: which tick a message arrives in is as order-dependent
        // as the clock.
        f.remedies.push_back("avoid wall-clock time in logic: carry a timestamp or a sequence number in the data, taken once at "
                             "the sender, or an lmax version");
        break;
    }
    // Bud's rule: coordinate at the last asynchronous edge before the non-monotone one.
    const Hop* boundary = nullptr;
    for (const auto& h : f.path)
      if (h.timing == Timing::Async) boundary = &h;
    if (boundary) {
      const auto& c = p_.collections[boundary->collection];
      f.remedies.push_back("or coordinate at the last asynchronous edge before it: deliver `" + c.name +
                           "` (line " + std::to_string(boundary->rule == UINT32_MAX ? c.name_span.line : boundary->span.line) +
                           ") in an agreed order or in sealed rounds (e.g. two-phase commit, a quorum round, consensus)");
    }
  }

  const sema::Program& p_;
  const DependencyGraph& g_;
  CalmReport report_;
  std::vector<std::map<CollectionId, uint8_t>> state_;  // per collection: origin -> label bit set
  const std::set<std::string>& diffluent_;
  std::vector<std::set<CollectionId>> roots_;
  std::set<uint32_t> race_rules_;
  std::vector<Finding> pending_races_;
  std::map<CollectionId, std::vector<uint32_t>> bfs_trees_;   // source -> edge into each node
  std::vector<uint32_t> comp_;                                // component of each collection
  std::vector<std::vector<uint64_t>> reach_;                  // component -> reachable sinks
};

}  // namespace

CalmReport analyze_calm(const sema::Program& program, const DependencyGraph& graph, const std::set<std::string>& diffluent_channels) {
  return Analyzer(program, graph, diffluent_channels).run();
}

}  // namespace bloom::analysis
