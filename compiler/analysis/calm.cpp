#include "analysis/calm.h"

#include "analysis/stratify.h"

#include <algorithm>
#include <array>
#include <bit>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <unordered_map>

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
  if (edge == Label::A) return Label::A;          // M/A/N then A: A
  return path == Label::A ? Label::D : Label::N;  // edge N: A then N is D
}

const char* to_string(FindingKind k) { return k == FindingKind::PointOfOrder ? "point-of-order" : "race"; }

size_t CalmReport::unsuppressed() const {
  return static_cast<size_t>(std::count_if(findings.begin(), findings.end(), [](const Finding& f) { return !f.suppressed; }));
}

std::vector<Hop> CalmReport::path_of(const Finding& f) const {
  std::vector<Hop> out;
  for (uint32_t h = f.path; h != kNoHop; h = hops[h].parent) out.push_back(hops[h].hop);
  std::reverse(out.begin(), out.end());
  return out;
}

const char* to_string(Verdict v) {
  switch (v) {
    case Verdict::CoordinationFree: return "coordination-free";
    case Verdict::Acknowledged: return "coordination-acknowledged";
    case Verdict::NeedsCoordination: return "needs-coordination";
  }
  return "?";
}

const char* describe(Verdict v) {
  switch (v) {
    case Verdict::CoordinationFree: return "coordination-free";
    case Verdict::Acknowledged: return "needs coordination, acknowledged";
    case Verdict::NeedsCoordination: return "needs coordination";
  }
  return "?";
}

bool CalmReport::needs_coordination() const {
  if (unsuppressed() > 0) return true;
  return std::any_of(sinks.begin(), sinks.end(), [&](sema::CollectionId c) { return collection_label[c] == Label::D; });
}

namespace {

using ast::ExprKind;
using sema::CollectionId;
using sema::CollectionKind;

bool is_transient(CollectionKind k) { return !sema::is_persistent(k) && k != CollectionKind::Stdout && k != CollectionKind::Halt; }

// How a collection's contents move over the ticks of a run, ignoring what they are.
enum class Temporal : uint8_t {
  Static,     // the same in every tick (facts, and what instant rules derive from them)
  FirstTick,  // only in tick 0 (inputs, and scratches joined with them)
  Varying,    // changes between ticks: messages, timers, `<+ <- <+-`, time
};

void count_name(const ast::Expr& e, const std::string& name, int& n) {
  if (e.kind == ExprKind::Name && !e.name.qualified() && e.name.parts[0] == name) ++n;
  for (const auto& a : e.args) count_name(*a, name, n);
}

// The aggregate a rule head's argument calls ("count", "max", ...), or "" for a plain expression.
std::string aggregate_of(const ast::Expr& x) {
  return x.kind == ExprKind::Call && !x.name.qualified() && sema::is_aggregate(x.name.parts[0]) ? x.name.parts[0] : "";
}

int occurrences(const ast::Rule& r, const std::string& name) {
  int n = 0;
  for (const auto& a : r.head.args) count_name(*a.expr, name, n);
  for (const auto& l : r.body) {
    for (const auto& a : l.atom.args) count_name(*a.expr, name, n);
    if (l.expr) count_name(*l.expr, name, n);
    if (l.var == name) ++n;
  }
  return n;
}

class Analyzer {
 public:
  Analyzer(const sema::Program& p, const DependencyGraph& g, const std::set<std::string>& diffluent)
      : p_(p), g_(g), diffluent_(diffluent) {}

  CalmReport run() {
    size_t n = p_.collections.size();
    report_.paths.resize(n);
    report_.collection_label.assign(n, Label::M);
    report_.rule_label.assign(p_.rules.size(), Label::M);
    label_mask_.assign(n, 0);
    anti_only_.assign(n, {});
    writers_.assign(n, {});
    for (uint32_t r = 0; r < p_.rules.size(); ++r)
      if (p_.rules[r].head != sema::kNoCollection) writers_[p_.rules[r].head].push_back(r);
    for (CollectionId c = 0; c < n; ++c) has_async_ |= is_async_source(c);
    clock_rule_.assign(p_.rules.size(), false);
    race_rule_.assign(p_.rules.size(), false);
    for (uint32_t r = 0; r < p_.rules.size(); ++r)
      if (!clock_read(r).empty()) {
        clock_rules_.push_back(r);
        clock_rule_[r] = true;
      }
    has_facts_.assign(n, false);
    for (const auto& f : p_.facts)
      if (f.collection != sema::kNoCollection) has_facts_[f.collection] = true;
    compute_logs();
    compute_async_reach();
    compute_ephemeral();
    compute_thresholded();
    compute_cancel_views();
    compute_temporal();
    find_races();
    propagate();
    for (CollectionId c = 0; c < n; ++c) {
      const auto& col = p_.collections[c];
      if (is_async_source(c) || col.kind == CollectionKind::Input) report_.sources.push_back(c);
      if (col.kind == CollectionKind::Output ||
          ((col.kind == CollectionKind::Channel || col.kind == CollectionKind::Stdout) && !writers_[c].empty()))
        report_.sinks.push_back(c);
      // Origins in the order of their ids, labels M..D: the order the paths are listed in. An
      // anti-monotone path is shown as A (what it ends with is deterministic); an origin that
      // reaches the collection only that way is remembered, so that the negation cancelling it
      // is no finding (see kAnti).
      const uint64_t* st = &state_[c * kLabels * words_];
      for (size_t w = 0; w < words_; ++w) {
        uint64_t any = 0;
        for (int l = 0; l < kLabels; ++l) any |= st[l * words_ + w];
        for (; any; any &= any - 1) {
          size_t o = w * 64 + static_cast<size_t>(std::countr_zero(any));
          auto has = [&](int l) { return (st[l * words_ + w] >> (o % 64) & 1) != 0; };
          for (int l = 0; l < kLabels; ++l) {
            if (!has(l)) continue;
            label_mask_[c] |= static_cast<uint8_t>(1u << l);
            Label shown = l == kAnti ? Label::A : static_cast<Label>(l);
            if (l == kAnti && has(static_cast<int>(Label::A))) continue;  // listed already
            report_.paths[c].push_back({origins_[o], shown});
            report_.collection_label[c] = worst(report_.collection_label[c], shown);
          }
          if (has(kAnti) && !has(static_cast<int>(Label::A)) && !has(static_cast<int>(Label::D))) anti_only_[c].push_back(origins_[o]);
        }
      }
    }
    state_.clear();
    state_.shrink_to_fit();
    label_rules();
    find_points_of_order();
    return std::move(report_);
  }

 private:
  // Channels and delays (where some rule reads them) and periodics bring data in at times nobody
  // controls: a delayed tuple arrives in whatever tick is running once its time has come.
  // Inputs do not: the runtime delivers them in tick 0, complete (docs/running.md), so they are
  // local data; a channel that is only sent to is a sink, not a source.
  bool is_async_source(CollectionId c) const {
    CollectionKind k = p_.collections[c].kind;
    if (k == CollectionKind::Channel || k == CollectionKind::Delay) return !g_.out(c).empty();
    return k == CollectionKind::Periodic;
  }

  // What the rule reads from time, or "" if nothing: now() always differs between runs; tick()
  // does once messages or timers decide when ticks happen (`tick() == 0` is exempt in sema); a
  // periodic's count says how often it has fired.
  std::string clock_read(uint32_t r) const {
    const auto& rule = p_.rules[r];
    if (rule.head == sema::kNoCollection) return "";
    if (rule.uses_now) return "now";
    if (rule.uses_tick && has_async_) return "tick";
    for (const auto& in : rule.inputs) {
      if (in.negated || in.collection == sema::kNoCollection || p_.collections[in.collection].kind != CollectionKind::Periodic) continue;
      const ast::Atom& atom = rule.ast->body[in.literal].atom;
      if (atom.args.empty()) continue;
      const ast::Expr& a = *atom.args[0].expr;
      if (a.kind == ExprKind::Wildcard) continue;
      sema::ConstValue v;
      if (a.kind != ExprKind::Name || a.name.qualified() || p_.constant(rule.instance, a.name, v)) return "timer count";
      if (occurrences(*rule.ast, a.name.parts[0]) > 1) return "timer count";
    }
    return "";
  }

  bool is_clock_rule(uint32_t r) const { return clock_rule_[r]; }

  // A table whose writers are all `<=` copies of one transient collection: its log. Returns that
  // collection, or kNoCollection.
  CollectionId log_of(CollectionId c) const { return log_of_[c]; }

  void compute_logs() {
    log_of_.assign(p_.collections.size(), sema::kNoCollection);
    log_cols_.assign(p_.collections.size(), {});
    for (CollectionId c = 0; c < p_.collections.size(); ++c)
      if (!has_facts_[c]) log_of_[c] = find_log_of(c);
  }

  // `log(a, c) <= t(_, a, c)`: each column of the log is a column of `t` (a variable written
  // once in the head and once in the atom), the other columns of `t` are `_` or a variable used
  // nowhere else, and nothing else is in the body: the log holds exactly the projection of the
  // tuples of `t` (the symmetric join relies on it). Returns the column of `t` behind each
  // column of the log, or nothing.
  std::optional<std::vector<uint32_t>> projection(const sema::CheckedRule& rule) const {
    const auto& body = rule.ast->body;
    if (body.size() != 1 || body[0].kind != ast::LiteralKind::Positive) return std::nullopt;
    const auto& from = body[0].atom.args;
    auto cols = head_columns(rule, body[0].atom);
    if (!cols) return std::nullopt;
    for (const auto& h : rule.ast->head.args)
      if (occurrences(*rule.ast, h.expr->name.parts[0]) != 2) return std::nullopt;
    for (uint32_t k = 0; k < from.size(); ++k)
      if (std::find(cols->begin(), cols->end(), k) == cols->end() && !unused_column(rule, *from[k].expr)) return std::nullopt;
    return cols;
  }

  // The column of `atom` behind each head column of `rule`, when every head column is a plain
  // variable (not `@`, not a const or param) that `atom` holds (its first column holding it).
  std::optional<std::vector<uint32_t>> head_columns(const sema::CheckedRule& rule, const ast::Atom& atom) const {
    std::vector<uint32_t> cols;
    sema::ConstValue v;
    for (const auto& h : rule.ast->head.args) {
      const ast::Expr& x = *h.expr;
      if (h.location || x.kind != ExprKind::Name || x.name.qualified() || p_.constant(rule.instance, x.name, v)) return std::nullopt;
      uint32_t at = UINT32_MAX;
      for (uint32_t k = 0; k < atom.args.size() && at == UINT32_MAX; ++k)
        if (atom.args[k].expr->kind == ExprKind::Name && !atom.args[k].expr->name.qualified() &&
            atom.args[k].expr->name.parts[0] == x.name.parts[0])
          at = k;
      if (at == UINT32_MAX) return std::nullopt;
      cols.push_back(at);
    }
    return cols;
  }

  // `_`, or a variable written only there.
  bool unused_column(const sema::CheckedRule& rule, const ast::Expr& x) const {
    sema::ConstValue v;
    if (x.kind == ExprKind::Wildcard) return true;
    return x.kind == ExprKind::Name && !x.name.qualified() && !p_.constant(rule.instance, x.name, v) &&
           occurrences(*rule.ast, x.name.parts[0]) == 1;
  }

  CollectionId find_log_of(CollectionId c) {
    if (!sema::is_persistent(p_.collections[c].kind) || writers_[c].empty()) return sema::kNoCollection;
    CollectionId from = sema::kNoCollection;
    for (uint32_t r : writers_[c]) {
      const auto& rule = p_.rules[r];
      if (rule.op != ast::MergeOp::Instant || rule.inputs.size() != 1 || rule.inputs[0].negated) return sema::kNoCollection;
      auto cols = projection(rule);
      if (!cols || (from != sema::kNoCollection && *cols != log_cols_[c])) return sema::kNoCollection;
      log_cols_[c] = std::move(*cols);
      CollectionId t = rule.inputs[0].collection;
      if (t == sema::kNoCollection || !is_transient(p_.collections[t].kind) || (from != sema::kNoCollection && from != t))
        return sema::kNoCollection;
      from = t;
    }
    return from;
  }

  // Only grows from tick to tick: a table or lattice nobody deletes from or overwrites, or a
  // scratch derived monotonically from such (a view, recomputed every tick).
  bool grows(CollectionId c) const { return grows_[c]; }

  // A keyed table written by inserts while a non-key column is a plain value: two writers of one
  // key conflict, and which comes first decides between keeping the first and a key violation.
  bool keyed_insert(const Edge& e) const {
    const auto& head = p_.collections[e.to];
    ast::MergeOp op = p_.rules[e.rule].op;
    if (head.kind != CollectionKind::Table || !head.keyed || (op != ast::MergeOp::Instant && op != ast::MergeOp::DeferredInsert))
      return false;
    for (uint32_t i = 0; i < head.columns.size(); ++i)
      if (!head.columns[i].type.is_lattice() && std::find(head.key.begin(), head.key.end(), i) == head.key.end()) return true;
    return false;
  }

  // An output records its tuples at the end of every tick, so a lattice column in it shows each
  // intermediate value: how messages were batched into ticks becomes visible.
  bool lattice_output(const Edge& e) const {
    const auto& head = p_.collections[e.to];
    return head.kind == CollectionKind::Output && head.has_lattice_column();
  }

  // The release of a seal (`vote[sealed] <= vote, done`) is monotone: a partition, once
  // released, is complete and stays (docs/lint.md, seals).
  bool edge_nonmonotone(const Edge& e) const {
    return (!e.monotone() && e.why != sema::NonMonotone::Seal && !thresholded(e)) || keyed_insert(e) || lattice_output(e);
  }

  // An aggregate or a negation that reads a sealed collection per partition: every partition
  // column of the seal is given in the atom, by a constant or, for an aggregate, by a variable
  // that is a group-by column of the head (a negation's variables are bound by the rest of the
  // body, and the planner makes it wait for the partition's release). Then each group, each
  // negated lookup, sees one complete partition: in Blazes' terms the operation is confluent
  // per key (Seal(key) on its input), so it is no point of order from what reaches the seal.
  bool reads_sealed_partitions(const Edge& e) const {
    if (e.from == sema::kNoCollection || p_.collections[e.from].view_of < 0) return false;
    if (e.why != sema::NonMonotone::Aggregate && e.why != sema::NonMonotone::Negation) return false;
    const sema::Seal& seal = p_.seals[static_cast<size_t>(p_.collections[e.from].view_of)];
    const auto& rule = p_.rules[e.rule];
    const ast::Atom& atom = rule.ast->body[rule.inputs[e.input].literal].atom;
    for (uint32_t k : seal.key) {
      if (k >= atom.args.size()) return false;
      const ast::Expr& a = *atom.args[k].expr;
      if (a.kind == ExprKind::Wildcard) return false;
      if (e.why == sema::NonMonotone::Negation) continue;
      if (a.kind != ExprKind::Name) {
        if (a.kind == ExprKind::Int || a.kind == ExprKind::String || a.kind == ExprKind::Bool || a.kind == ExprKind::Float) continue;
        return false;
      }
      sema::ConstValue v;
      if (p_.constant(rule.instance, a.name, v)) continue;
      bool grouped = std::any_of(rule.ast->head.args.begin(), rule.ast->head.args.end(), [&](const ast::Arg& h) {
        return h.expr->kind == ExprKind::Name && !h.expr->name.qualified() && !a.name.qualified() &&
               h.expr->name.parts[0] == a.name.parts[0];
      });
      if (!grouped) return false;
    }
    return true;
  }
  bool thresholded(const Edge& e) const { return e.why == sema::NonMonotone::Aggregate && !thresholded_.empty() && thresholded_[e.rule]; }

  std::string operation(const Edge& e) const {
    if (!e.monotone()) return sema::to_string(e.why);
    return keyed_insert(e) ? "keyed insert" : "lattice output";
  }

  // Internal labels: M, A, N, D, and kAnti, an asynchronous path that went through one negation
  // of data that only grows into a view: anti-monotone (it only loses rows as data arrives),
  // which a second negation turns back into A (docs/lint.md, "Negations that cancel"). Anything
  // else an anti-monotone path meets makes it D; the structure (cancel_view_) guarantees it meets
  // nothing else.
  static constexpr int kAnti = 4, kLabels = 5;
  uint8_t step(uint8_t l, const Edge& e) const {
    if (l == kAnti) {
      if (race_rule_[e.rule]) return static_cast<uint8_t>(Label::D);
      if (cancels(e)) return static_cast<uint8_t>(Label::A);
      if (!edge_nonmonotone(e) && e.timing == Timing::Instant && cancel_view_[e.to]) return kAnti;
      return static_cast<uint8_t>(Label::D);
    }
    if (l == static_cast<uint8_t>(Label::A) && first_negation(e) && !race_rule_[e.rule]) return kAnti;
    return static_cast<uint8_t>(transform(static_cast<Label>(l), e));
  }
  static Label shown(uint8_t l) { return l == kAnti ? Label::A : static_cast<Label>(l); }

  // `v(x) <= p(x), not s(x)` where `s` only grows and `v` is a cancel view: `v` loses rows as
  // `s` grows (unless the seal makes the negation wait: then it is no negation of growing data).
  bool first_negation(const Edge& e) const {
    return e.why == sema::NonMonotone::Negation && e.timing == Timing::Instant && cancel_view_[e.to] && grows_[e.from] &&
           p_.rules[e.rule].aggregates.empty() && !reads_sealed_partitions(e);
  }
  // `out(x) <= q(x), not v(x)` over a cancel view `v`: a negation of what only loses rows only
  // gains rows, into a head that keeps them (no aggregate, no delete or overwrite, no keyed or
  // lattice-output conflict).
  bool cancels(const Edge& e) const {
    const auto& rule = p_.rules[e.rule];
    return e.why == sema::NonMonotone::Negation && cancel_view_[e.from] && e.to != e.from && rule.aggregates.empty() &&
           rule.op != ast::MergeOp::DeferredDelete && rule.op != ast::MergeOp::DeferredUpsert && !keyed_insert(e) && !lattice_output(e);
  }

  // Greatest fixpoint: a scratch (a view, recomputed every tick) written only by instant rules
  // without aggregates, read only by negations that cancel (above) or by monotone instant rules
  // into another such view. Such a view may carry anti-monotone paths: whatever it loses is
  // seen only through a second negation.
  void compute_cancel_views() {
    size_t n = p_.collections.size();
    cancel_view_.assign(n, false);
    for (CollectionId c = 0; c < n; ++c) {
      const auto& col = p_.collections[c];
      if (col.kind != CollectionKind::Scratch || col.view_of >= 0 || has_facts_[c] || writers_[c].empty() || g_.out(c).empty()) continue;
      cancel_view_[c] = std::all_of(writers_[c].begin(), writers_[c].end(), [&](uint32_t r) {
        return p_.rules[r].op == ast::MergeOp::Instant && p_.rules[r].aggregates.empty() && !clock_rule_[r];
      });
    }
    for (bool changed = true; changed;) {
      changed = false;
      for (CollectionId c = 0; c < n; ++c) {
        if (!cancel_view_[c]) continue;
        for (uint32_t id : g_.out(c)) {
          const Edge& e = g_.edges()[id];
          if (cancels(e) || (!edge_nonmonotone(e) && e.timing == Timing::Instant && e.to != c && cancel_view_[e.to])) continue;
          cancel_view_[c] = false;
          changed = true;
          break;
        }
      }
    }
    // The views that asynchronous data reaches only through first negations: a negation of
    // one is no point of order at all (every path through it is cancelled).
    std::vector<bool> plain = reach_from_async([&](const Edge& e) { return !first_negation(e); });
    cancelled_only_.assign(n, false);
    for (CollectionId c = 0; c < n; ++c) cancelled_only_[c] = cancel_view_[c] && async_reach_[c] && !plain[c];
  }

  Label transform(Label l, const Edge& e) const {
    if (race_rule_[e.rule]) return Label::D;
    // Over sealed partitions an asynchronous path stays A: what the operation derives for a key
    // is deterministic, only when it appears is not.
    if (edge_nonmonotone(e) && !(l == Label::A && reads_sealed_partitions(e))) l = compose(l, Label::N);
    if (e.timing == Timing::Async) l = compose(l, Label::A);
    return l;
  }

  // Every (origin, label) pair reaching each collection, to a fixpoint: the label set is finite
  // (4 labels per origin), so cycles of any length converge. Each collection holds one bit set of
  // origins per label; semi-naive: only the bits that are new at a collection are pushed along
  // its edges, each edge moving the bits of label l to the bits of label transform(l).
  void propagate() {
    size_t n = p_.collections.size();
    // Origins are numbered in the order of their ids (the clock and local data last), so the
    // paths come out listed by origin as before.
    std::vector<uint32_t> index(n, UINT32_MAX);
    bool any_local = false;
    for (const auto& col : p_.collections) {
      if (is_async_source(col.id) || col.kind == CollectionKind::Input) {
        index[col.id] = static_cast<uint32_t>(origins_.size());
        origins_.push_back(col.id);
      } else if (g_.in(col.id).empty()) {
        any_local = true;
      }
    }
    uint32_t clock = static_cast<uint32_t>(origins_.size());
    if (!clock_rules_.empty()) origins_.push_back(kClockOrigin);
    uint32_t local = static_cast<uint32_t>(origins_.size());
    if (any_local) origins_.push_back(kLocalOrigin);
    words_ = (origins_.size() + 63) / 64;
    const size_t block = kLabels * words_;
    state_.assign(n * block, 0);
    std::vector<uint64_t> delta(n * block, 0), now(block);
    std::vector<bool> queued(n, false);
    std::vector<std::array<uint8_t, kLabels>> to_label(g_.edges().size());
    for (size_t id = 0; id < g_.edges().size(); ++id)
      for (int l = 0; l < kLabels; ++l) to_label[id][l] = step(static_cast<uint8_t>(l), g_.edges()[id]);
    std::deque<CollectionId> work;
    auto add = [&](CollectionId c, uint32_t origin, Label l) {
      size_t at = c * block + static_cast<size_t>(l) * words_ + origin / 64;
      uint64_t bit = 1ull << (origin % 64);
      if (state_[at] & bit) return;
      state_[at] |= bit;
      delta[at] |= bit;
      if (!queued[c]) {
        queued[c] = true;
        work.push_back(c);
      }
    };
    for (const auto& col : p_.collections) {
      if (is_async_source(col.id)) add(col.id, index[col.id], diffluent_.count(col.name) ? Label::D : Label::A);
      else if (col.kind == CollectionKind::Input) add(col.id, index[col.id], Label::M);
      else if (g_.in(col.id).empty()) add(col.id, local, Label::M);  // facts, constants or nothing
    }
    for (uint32_t r : clock_rules_) add(p_.rules[r].head, clock, Label::D);
    while (!work.empty()) {
      CollectionId c = work.front();
      work.pop_front();
      queued[c] = false;
      std::copy_n(delta.begin() + static_cast<std::ptrdiff_t>(c * block), block, now.begin());
      std::fill_n(delta.begin() + static_cast<std::ptrdiff_t>(c * block), block, 0);
      uint8_t labels = 0;
      for (int l = 0; l < kLabels; ++l)
        for (size_t w = 0; w < words_; ++w)
          if (now[l * words_ + w]) labels |= static_cast<uint8_t>(1u << l);
      for (uint32_t id : g_.out(c)) {
        CollectionId d = g_.edges()[id].to;
        bool fresh_any = false;
        for (int l = 0; l < kLabels; ++l) {
          if (!(labels >> l & 1)) continue;
          size_t base = d * block + to_label[id][l] * words_;
          for (size_t w = 0; w < words_; ++w) {
            uint64_t fresh = now[l * words_ + w] & ~state_[base + w];
            if (!fresh) continue;
            state_[base + w] |= fresh;
            delta[base + w] |= fresh;
            fresh_any = true;
          }
        }
        if (fresh_any && !queued[d]) {
          queued[d] = true;
          work.push_back(d);
        }
      }
    }
  }

  // A rule's label: the worst label its edges give any path into their inputs (a race or a
  // read of the clock is D). An edge maps each label alike whatever the origin, so the labels
  // present at its input are enough.
  void label_rules() {
    for (uint32_t r = 0; r < p_.rules.size(); ++r)
      if (race_rule_[r] || clock_rule_[r]) report_.rule_label[r] = Label::D;
    for (const Edge& e : g_.edges()) {
      Label& l = report_.rule_label[e.rule];
      uint8_t mask = label_mask_[e.from];
      for (int k = 0; k < kLabels; ++k)
        if (mask >> k & 1) l = worst(l, shown(step(static_cast<uint8_t>(k), e)));
      if (!mask) l = worst(l, transform(Label::M, e));
    }
  }

  // ---- races
  // Which collections change with what arrives from outside: reachable from a channel, a
  // periodic or a read of the clock, along edges of any timing.
  void compute_async_reach() {
    async_reach_ = reach_from_async([](const Edge&) { return true; });
  }

  std::vector<bool> reach_from_async(const std::function<bool(const Edge&)>& follow) const {
    std::vector<bool> reach(p_.collections.size(), false);
    std::deque<CollectionId> q;
    auto mark = [&](CollectionId c) {
      if (!reach[c]) {
        reach[c] = true;
        q.push_back(c);
      }
    };
    for (const auto& c : p_.collections)
      if (is_async_source(c.id)) mark(c.id);
    for (uint32_t r : clock_rules_) mark(p_.rules[r].head);
    while (!q.empty()) {
      CollectionId c = q.front();
      q.pop_front();
      for (uint32_t id : g_.out(c))
        if (follow(g_.edges()[id])) mark(g_.edges()[id].to);
    }
    return reach;
  }

  // Ephemeral: a transient collection holding what arrived in this tick (a message, a firing,
  // the inputs of tick 0) or derived from it; it is gone in the next tick. A scratch derived
  // only from tables is a view instead: recomputed every tick from what the tables hold.
  void compute_ephemeral() {
    size_t n = p_.collections.size();
    ephemeral_.assign(n, false);
    grows_.assign(n, false);
    for (CollectionId c = 0; c < n; ++c) {
      CollectionKind k = p_.collections[c].kind;
      ephemeral_[c] = k == CollectionKind::Channel || k == CollectionKind::Delay || k == CollectionKind::Periodic ||
                      (k == CollectionKind::Input && writers_[c].empty());
      grows_[c] = sema::is_persistent(k) || (is_transient(k) && !ephemeral_[c]);
    }
    for (uint32_t r = 0; r < p_.rules.size(); ++r) {
      const auto& rule = p_.rules[r];
      if (rule.head != sema::kNoCollection && (rule.op == ast::MergeOp::DeferredDelete || rule.op == ast::MergeOp::DeferredUpsert))
        grows_[rule.head] = false;
    }
    for (bool changed = true; changed;) {
      changed = false;
      for (const Edge& e : g_.edges()) {
        bool transient_head = is_transient(p_.collections[e.to].kind);
        if (transient_head && e.timing == Timing::Instant && !p_.rules[e.rule].inputs[e.input].negated && ephemeral_[e.from] &&
            !ephemeral_[e.to]) {
          ephemeral_[e.to] = true;
          changed = true;
        }
        bool view_shrinks = transient_head && (edge_nonmonotone(e) || !grows_[e.from]);
        if (grows_[e.to] && !ephemeral_[e.to] && view_shrinks) {
          grows_[e.to] = false;
          changed = true;
        }
      }
      for (CollectionId c = 0; c < n; ++c)
        if (ephemeral_[c] && grows_[c]) {
          grows_[c] = false;
          changed = true;
        }
    }
  }

  // count(), max() and min() over data that only grows, whose results every reader only compares
  // with a constant in the direction they move (`n >= k`, `n > k` for count and max; `<=`, `<`
  // for min): the head holds each group's value of the moment, which depends on how rows were
  // batched into ticks, but nothing reads that value except through the threshold, and a
  // threshold once passed stays passed, so the aggregate orders nothing (issue 12, item 8).
  // Computed after grows_: the head itself does not grow (its rows are replaced), and stays so.
  void compute_thresholded() {
    thresholded_.assign(p_.rules.size(), false);
    for (uint32_t r = 0; r < p_.rules.size(); ++r) thresholded_[r] = only_thresholded(r) || merged_into_lattice(r);
  }

  // max() into an lmax column, min() into an lmin, collect() into an lset, of a table that keeps
  // its rows: each tick's result merges into what the table holds, and merging the maximum of
  // each batch gives the maximum of all, however the rows were batched (the same for min and
  // union). Plain group-by columns only besides.
  bool merged_into_lattice(uint32_t r) const {
    const auto& rule = p_.rules[r];
    if (rule.aggregates.empty() || rule.head == sema::kNoCollection) return false;
    if (rule.op != ast::MergeOp::Instant && rule.op != ast::MergeOp::DeferredInsert) return false;
    const auto& head = p_.collections[rule.head];
    if (!sema::is_persistent(head.kind)) return false;
    const auto& args = rule.ast->head.args;
    for (size_t c = 0; c < args.size() && c < head.columns.size(); ++c) {
      sema::TypeKind t = head.columns[c].type.kind;
      const std::string f = aggregate_of(*args[c].expr);
      if (f.empty()) {
        if (head.columns[c].type.is_lattice()) return false;  // a plain value stored into a lattice: not this form
        continue;
      }
      if (!((f == "max" && t == sema::TypeKind::LMax) || (f == "min" && t == sema::TypeKind::LMin) ||
            (f == "collect" && t == sema::TypeKind::LSet)))
        return false;
    }
    return true;
  }

  bool only_thresholded(uint32_t r) const {
    const auto& rule = p_.rules[r];
    if (rule.aggregates.empty() || rule.head == sema::kNoCollection || rule.op != ast::MergeOp::Instant) return false;
    const auto& head = p_.collections[rule.head];
    if ((head.kind != CollectionKind::Table && head.kind != CollectionKind::Scratch) || writers_[rule.head].size() != 1) return false;
    for (const auto& in : rule.inputs)
      if (in.negated || in.collection == sema::kNoCollection || in.collection == rule.head || !grows_[in.collection]) return false;
    // Per head column: +1 for a count or max (only grows), -1 for a min (only shrinks), 0 for a
    // group-by column.
    std::vector<int> moves;
    for (const auto& a : rule.ast->head.args) {
      const std::string f = aggregate_of(*a.expr);
      if (f.empty()) moves.push_back(0);
      else if (f == "count" || f == "max") moves.push_back(1);
      else if (f == "min") moves.push_back(-1);
      else return false;  // sum, avg, collect
    }
    for (uint32_t id : g_.out(rule.head)) {
      const Edge& e = g_.edges()[id];
      const auto& reader = p_.rules[e.rule];
      const sema::RuleInput& in = reader.inputs[e.input];
      if (in.negated) return false;
      const ast::Atom& atom = reader.ast->body[in.literal].atom;
      for (size_t c = 0; c < moves.size() && c < atom.args.size(); ++c)
        if (moves[c] != 0 && !read_through_threshold(reader, *atom.args[c].expr, moves[c])) return false;
    }
    return true;
  }

  // Whether `arg`, an atom argument of `reader`, is `_` or a variable used once more, in a
  // comparison with a constant that passes once the value has moved far enough in `dir`.
  bool read_through_threshold(const sema::CheckedRule& reader, const ast::Expr& arg, int dir) const {
    if (arg.kind == ExprKind::Wildcard) return true;
    sema::ConstValue v;
    if (arg.kind != ExprKind::Name || arg.name.qualified() || p_.constant(reader.instance, arg.name, v)) return false;
    const std::string& name = arg.name.parts[0];
    if (occurrences(*reader.ast, name) != 2) return false;
    for (const auto& l : reader.ast->body) {
      if (l.kind != ast::LiteralKind::Condition || l.expr->kind != ExprKind::Binary) continue;
      const ast::Expr& cmp = *l.expr;
      auto is_var = [&](const ast::Expr& x) { return x.kind == ExprKind::Name && !x.name.qualified() && x.name.parts[0] == name; };
      int side = is_var(*cmp.args[0]) ? 0 : is_var(*cmp.args[1]) ? 1 : -1;
      if (side < 0 || !constant_expr(reader, *cmp.args[1 - side])) continue;
      bool up = cmp.binary_op == ast::BinaryOp::Ge || cmp.binary_op == ast::BinaryOp::Gt;
      bool down = cmp.binary_op == ast::BinaryOp::Le || cmp.binary_op == ast::BinaryOp::Lt;
      if (side == 1) std::swap(up, down);  // `k <= n` is `n >= k`
      return dir > 0 ? up : down;
    }
    return false;
  }

  // An expression of literals, consts and params only.
  bool constant_expr(const sema::CheckedRule& rule, const ast::Expr& x) const {
    sema::ConstValue v;
    if (x.kind == ExprKind::Name && !p_.constant(rule.instance, x.name, v)) return false;
    if (x.kind == ExprKind::Wildcard || x.kind == ExprKind::Call || x.kind == ExprKind::Method) return false;
    return std::all_of(x.args.begin(), x.args.end(), [&](const ast::ExprPtr& a) { return constant_expr(rule, *a); });
  }

  // Least fixpoint over Static < FirstTick < Varying: each collection takes the worst class its
  // writers give it. A table fed in tick 0 keeps what it got, so it is Static from then on.
  void compute_temporal() {
    size_t n = p_.collections.size();
    temporal_.assign(n, Temporal::Static);
    std::vector<bool> fixed(n, false);
    for (CollectionId c = 0; c < n; ++c) {
      CollectionKind k = p_.collections[c].kind;
      if (k == CollectionKind::Channel || k == CollectionKind::Delay || k == CollectionKind::Periodic) {
        temporal_[c] = Temporal::Varying;
        fixed[c] = true;
      } else if (k == CollectionKind::Input) {
        temporal_[c] = Temporal::FirstTick;
      }
    }
    for (uint32_t r = 0; r < p_.rules.size(); ++r) {
      CollectionId h = p_.rules[r].head;
      if (h != sema::kNoCollection && (p_.rules[r].op != ast::MergeOp::Instant || is_clock_rule(r))) {
        temporal_[h] = Temporal::Varying;
        fixed[h] = true;
      }
    }
    for (bool changed = true; changed;) {
      changed = false;
      for (CollectionId c = 0; c < n; ++c) {
        if (fixed[c]) continue;
        bool persistent = sema::is_persistent(p_.collections[c].kind);
        Temporal t = temporal_[c];
        for (uint32_t r : writers_[c]) {
          bool first_tick = false, varying = false;
          for (const auto& in : p_.rules[r].inputs) {
            if (in.collection == sema::kNoCollection) continue;
            Temporal s = temporal_[in.collection];
            if (s == Temporal::Varying || (in.negated && s != Temporal::Static)) varying = true;
            else if (s == Temporal::FirstTick) first_tick = true;
          }
          Temporal w = varying ? Temporal::Varying : first_tick && !persistent ? Temporal::FirstTick : Temporal::Static;
          t = std::max(t, w);
        }
        if (t != temporal_[c]) {
          temporal_[c] = t;
          changed = true;
        }
      }
    }
  }

  // Why joining atom `x` (which changes with arrivals) with atom `y` of the same rule makes the
  // result depend on timing, or "" if it does not. Each tick joins what each side holds in that
  // tick: a one-time arrival meets only what the other side holds in the tick it arrives in.
  std::string race_between(uint32_t r, const sema::RuleInput& x, const sema::RuleInput& y) const {
    const auto& cx = p_.collections[x.collection];
    const auto& cy = p_.collections[y.collection];
    if (temporal_[y.collection] == Temporal::Static) return "";  // the same whenever `x` comes
    bool xt = ephemeral_[x.collection], yt = ephemeral_[y.collection];
    std::string X = "`" + cx.name + "`", Y = "`" + cy.name + "`";
    if (y.negated) {
      if (cancelled_only_[y.collection]) {
        // The negation is cancelled, no point of order: `not y` only gains rows as data
        // arrives, and a one-time arrival sees it only as it is in its own tick. A timer fires
        // again after the last change, so a later firing sees all of it.
        if (!xt || cx.kind == CollectionKind::Periodic) return "";
        return X + " is tested against `not " + cy.name + "` as it is in the tick " + X + " is there, and `not " + cy.name +
               "` gains rows as asynchronous data arrives";
      }
      if (async_reach_[y.collection]) return "";  // negating asynchronous data: a point of order of its own
      return X + " is tested against `not " + cy.name + "` as " + Y + " is in the tick " + X + " is there, and " + Y +
             " changes between ticks";
    }
    if (xt) {
      // A timer fires again after the last change, so every snapshot of a growing table is
      // subsumed by a later one (the count itself is a read of the clock, checked apart).
      if (cx.kind == CollectionKind::Periodic && !yt && grows(y.collection)) return "";
      // `t(k) <- gone(k), t(k)`: the delete (or overwrite) reading its own target is the point of order.
      const auto& rule = p_.rules[r];
      if (y.collection == rule.head && (rule.op == ast::MergeOp::DeferredDelete || rule.op == ast::MergeOp::DeferredUpsert)) return "";
      if (symmetric(r, x.collection, y.collection)) return "";
      if (!yt && async_reach_[y.collection] && !grows(y.collection)) return "";  // its delete or overwrite is the point of order
      if (x.collection == y.collection)
        return "two " + X +
               " tuples meet only if they are there in the same tick, and messages of one channel may arrive in different ticks";
      if (yt && (same_arrival(r, x, y) || same_arrival(r, y, x))) return "";
      if (yt) return X + " and " + Y + " meet only if both are there in the same tick";
      return X + " sees " + Y + " only as it is in the tick " + X + " is there, and " + Y +
             (async_reach_[y.collection] ? " fills with asynchronous data" : " changes between ticks");
    }
    if (yt) {
      if (async_reach_[y.collection]) return "";  // found with the roles swapped
      return Y + " sees " + X + " only as it is in the tick " + Y + " is there, and " + X + " fills with asynchronous data";
    }
    if (grows(x.collection) && grows(y.collection)) return "";  // both only grow: every match happens
    if (async_reach_[y.collection]) return "";                  // its delete or overwrite is the point of order
    return X + " fills with asynchronous data while " + Y + " is rewritten between ticks, so which rows meet depends on timing";
  }

  // `t` is a scratch that every writer derives from one atom of the one-time arrival `a` (with
  // conditions on what it keeps of it only), and rule r joins `t` with `a` on exactly those
  // columns: the `t` row it meets is the one the same `a` row derives, in the same tick, so
  // nothing depends on timing (`big(k, v) <= m(_, k, v), v > 10;` then `out(k) <= m(_, k, v),
  // big(k, v);`).
  bool same_arrival(uint32_t r, const sema::RuleInput& a, const sema::RuleInput& t) const {
    if (p_.collections[t.collection].kind != CollectionKind::Scratch || writers_[t.collection].empty()) return false;
    const ast::Atom& ta = p_.rules[r].ast->body[t.literal].atom;
    const ast::Atom& aa = p_.rules[r].ast->body[a.literal].atom;
    for (uint32_t w : writers_[t.collection]) {
      const auto& rule = p_.rules[w];
      if (rule.op != ast::MergeOp::Instant || rule.inputs.size() != 1 || rule.inputs[0].negated ||
          rule.inputs[0].collection != a.collection)
        return false;
      const auto& body = rule.ast->body;
      const ast::Atom& from = body[rule.inputs[0].literal].atom;
      // Each head column is a variable of the atom; conditions read only those variables.
      auto head = head_columns(rule, from);
      if (!head) return false;
      const std::vector<uint32_t>& cols = *head;
      std::set<std::string> kept;
      for (const auto& h : rule.ast->head.args) kept.insert(h.expr->name.parts[0]);
      for (const auto& l : body) {
        if (&l == &body[rule.inputs[0].literal]) continue;
        if (l.kind != ast::LiteralKind::Condition || !reads_only(rule, *l.expr, kept)) return false;
      }
      // In rule r, column j of `t` is the variable in column cols[j] of `a`.
      if (ta.args.size() != cols.size()) return false;
      for (size_t j = 0; j < cols.size(); ++j) {
        const ast::Expr& tx = *ta.args[j].expr;
        if (cols[j] >= aa.args.size()) return false;
        const ast::Expr& ax = *aa.args[cols[j]].expr;
        if (tx.kind != ExprKind::Name || ax.kind != ExprKind::Name || tx.name.qualified() || ax.name.qualified() ||
            tx.name.parts[0] != ax.name.parts[0])
          return false;
      }
    }
    return true;
  }

  // Whether every variable of `x` is in `vars` (consts and params are not variables).
  bool reads_only(const sema::CheckedRule& rule, const ast::Expr& x, const std::set<std::string>& vars) const {
    sema::ConstValue v;
    if (x.kind == ExprKind::Name && !x.name.qualified() && !p_.constant(rule.instance, x.name, v) && !vars.count(x.name.parts[0]))
      return false;
    return std::all_of(x.args.begin(), x.args.end(), [&](const ast::ExprPtr& a) { return reads_only(rule, *a, vars); });
  }

  // The symmetric join written by hand (Bud's idiom): `h <= t1, log2` and `h <= t2, log1`, where
  // each log keeps every tuple of the other transient. Every pair meets in whichever of the two
  // rules runs when the later one arrives, provided the second rule is the first with the roles
  // swapped: the same head, join columns and conditions (mirrors).
  bool symmetric(uint32_t r, CollectionId t1, CollectionId log2) const {
    CollectionId t2 = log_of(log2);
    if (t2 == sema::kNoCollection || t2 == t1) return false;
    for (uint32_t r2 : writers_[p_.rules[r].head]) {
      if (r2 == r) continue;
      for (const auto& in : p_.rules[r2].inputs)
        if (!in.negated && in.collection != sema::kNoCollection && log_of(in.collection) == t1 &&
            mirrors(r, r2, t1, log2, t2, in.collection))
          return true;
    }
    return false;
  }

  // A consistent renaming of variables between two rules (a bijection).
  struct Renaming {
    std::map<std::string, std::string> there, back;
    bool pair(const std::string& a, const std::string& b) {
      auto [i, fresh_a] = there.try_emplace(a, b);
      auto [j, fresh_b] = back.try_emplace(b, a);
      return i->second == b && j->second == a;
    }
  };

  // Whether expression `x` of rule `a` is `y` of rule `b` up to the names of variables.
  bool same_expr(const sema::CheckedRule& a, const ast::Expr& x, const sema::CheckedRule& b, const ast::Expr& y, Renaming& m) const {
    if (x.kind != y.kind || x.args.size() != y.args.size()) return false;
    switch (x.kind) {
      case ExprKind::Int:
      case ExprKind::Duration:
        if (x.int_value != y.int_value) return false;
        break;
      case ExprKind::Float:
        if (x.float_value != y.float_value) return false;
        break;
      case ExprKind::String:
        if (x.text != y.text) return false;
        break;
      case ExprKind::Bool:
        if (x.bool_value != y.bool_value) return false;
        break;
      case ExprKind::Wildcard: break;
      case ExprKind::Name: {
        sema::ConstValue v;
        bool cx = x.name.qualified() || p_.constant(a.instance, x.name, v), cy = y.name.qualified() || p_.constant(b.instance, y.name, v);
        if (cx || cy) {
          if (!(cx && cy && x.name.str() == y.name.str())) return false;
        } else if (!m.pair(x.name.parts[0], y.name.parts[0])) {
          return false;
        }
        break;
      }
      case ExprKind::Unary:
        if (x.unary_op != y.unary_op) return false;
        break;
      case ExprKind::Binary:
        if (x.binary_op != y.binary_op) return false;
        break;
      case ExprKind::Call:
        if (x.name.str() != y.name.str()) return false;
        break;
      case ExprKind::Method:
        if (x.text != y.text) return false;
        break;
    }
    for (size_t i = 0; i < x.args.size(); ++i)
      if (!same_expr(a, *x.args[i], b, *y.args[i], m)) return false;
    return true;
  }

  bool same_args(const sema::CheckedRule& a, const std::vector<ast::Arg>& x, const sema::CheckedRule& b, const std::vector<ast::Arg>& y,
                 Renaming& m) const {
    if (x.size() != y.size()) return false;
    for (size_t i = 0; i < x.size(); ++i)
      if (x[i].location != y[i].location || !same_expr(a, *x[i].expr, b, *y[i].expr, m)) return false;
    return true;
  }

  // Whether rule r2 is rule r with t1 read from its log log1 and log2 read as the transient t2
  // (logs are identity copies: find_log_of), everything else the same up to variable names:
  // then a pair of t1 and t2 tuples meets in whichever rule runs when the later one arrives.
  bool mirrors(uint32_t r, uint32_t r2, CollectionId t1, CollectionId log2, CollectionId t2, CollectionId log1) const {
    const auto& a = p_.rules[r];
    const auto& b = p_.rules[r2];
    const auto& abody = a.ast->body;
    const auto& bbody = b.ast->body;
    if (a.op != b.op || abody.size() != bbody.size()) return false;
    auto collections = [](const sema::CheckedRule& rule) {
      std::vector<CollectionId> c(rule.ast->body.size(), sema::kNoCollection);
      for (const auto& in : rule.inputs) c[in.literal] = in.collection;
      return c;
    };
    std::vector<CollectionId> ca = collections(a), cb = collections(b), roles = cb;
    for (auto& c : roles) c = c == log1 ? t1 : c == t2 ? log2 : c;  // r2's collections in r's roles
    Renaming m;
    // A transient's atom against its log's: each log column against the transient's column
    // behind it (the renaming pairs r's variables with r2's), the others unused.
    auto projected = [&](const std::vector<ast::Arg>& x, const std::vector<ast::Arg>& y, bool transient_in_a,
                         const std::vector<uint32_t>& cols, Renaming& trial) {
      const auto& t = transient_in_a ? x : y;
      const auto& log = transient_in_a ? y : x;
      const auto& trule = transient_in_a ? a : b;
      if (log.size() != cols.size()) return false;
      for (uint32_t k = 0; k < t.size(); ++k)
        if (std::find(cols.begin(), cols.end(), k) == cols.end() && !unused_column(trule, *t[k].expr)) return false;
      for (size_t j = 0; j < cols.size(); ++j) {
        if (cols[j] >= t.size()) return false;
        const ast::Expr& tx = *t[cols[j]].expr;
        const ast::Expr& lx = *log[j].expr;
        if (!(transient_in_a ? same_expr(a, tx, b, lx, trial) : same_expr(a, lx, b, tx, trial))) return false;
      }
      return true;
    };
    if (!same_args(a, a.ast->head.args, b, b.ast->head.args, m)) return false;
    // Each literal of r against an unused one of r2 (greedy: a literal that could match two
    // others is rare, and a failed match only keeps the race reported).
    std::vector<bool> used(bbody.size(), false);
    for (size_t i = 0; i < abody.size(); ++i) {
      bool found = false;
      for (size_t j = 0; j < bbody.size() && !found; ++j) {
        if (used[j] || abody[i].kind != bbody[j].kind || ca[i] != roles[j]) continue;
        Renaming trial = m;
        const auto& x = abody[i];
        const auto& y = bbody[j];
        bool same = false;
        switch (x.kind) {
          case ast::LiteralKind::Positive:
          case ast::LiteralKind::Negated:
            if (ca[i] == t1 && cb[j] == log1) same = projected(x.atom.args, y.atom.args, true, log_cols_[log1], trial);
            else if (ca[i] == log2 && cb[j] == t2) same = projected(x.atom.args, y.atom.args, false, log_cols_[log2], trial);
            else same = same_args(a, x.atom.args, b, y.atom.args, trial);
            break;
          case ast::LiteralKind::Condition: same = same_expr(a, *x.expr, b, *y.expr, trial); break;
          case ast::LiteralKind::Assign:
          case ast::LiteralKind::In: same = trial.pair(x.var, y.var) && same_expr(a, *x.expr, b, *y.expr, trial); break;
        }
        if (same) {
          m = std::move(trial);
          used[j] = found = true;
        }
      }
      if (!found) return false;
    }
    return true;
  }

  void find_races() {
    for (uint32_t r = 0; r < p_.rules.size(); ++r) {
      const auto& rule = p_.rules[r];
      // A seal's release buffers what arrives across ticks: its two inputs always meet.
      if (rule.head == sema::kNoCollection || rule.seal >= 0) continue;
      std::string why;
      const sema::RuleInput *x = nullptr, *y = nullptr;
      for (const auto& a : rule.inputs) {
        if (a.negated || a.collection == sema::kNoCollection || !async_reach_[a.collection]) continue;
        for (const auto& b : rule.inputs) {
          if (&a == &b || b.collection == sema::kNoCollection) continue;
          why = race_between(r, a, b);
          if (!why.empty()) {
            x = &a;
            y = &b;
            break;
          }
        }
        if (x) break;
      }
      if (!x) continue;
      race_rule_[r] = true;
      Finding f;
      f.kind = FindingKind::Race;
      f.operation = "join";
      f.message = "race: " + why;
      f.rule = r;
      f.collection = rule.head;
      f.span = x->span;
      f.other = y->span;
      f.source = x->collection;  // replaced by the nearest source once the paths are known
      const std::string& xn = p_.collections[x->collection].name;
      f.remedies = {"persist the arrivals in a table (`log(...) <= " + xn +
                        "(...)`) and join tables that only grow, so every match happens whatever the timing",
                    "or join both ways (`h <= " + xn + ", other_log` and `h <= other, " + xn +
                        "_log`), so the later arrival always finds the earlier one",
                    "or merge both into one lattice so arrival order cannot matter"};
      apply_suppression(f);
      pending_races_.push_back(std::move(f));
    }
  }

  // ---- points of order
  // The asynchronous source nearest to `target` (or the clock), and the last hop of the path
  // from it: the first declared one may reach it only by a long detour (a timer that every table
  // depends on). Ties go to the origin listed first.
  CollectionId nearest_source(CollectionId target, uint32_t& path) {
    // Many operations read the same collection: it is looked up once.
    if (auto it = nearest_.find(target); it != nearest_.end()) {
      if (it->second.first != sema::kNoCollection) path = it->second.second;
      return it->second.first;
    }
    CollectionId origin = nearest_source_if(target, path, [](const PathLabel&) { return true; });
    nearest_.emplace(target, std::pair{origin, origin == sema::kNoCollection ? kNoHop : path});
    return origin;
  }

  // The same among the paths `keep` accepts, not cached.
  template <class Keep>
  CollectionId nearest_source_if(CollectionId target, uint32_t& path, Keep&& keep) {
    CollectionId origin = sema::kNoCollection;
    uint32_t best = 0;
    for (const auto& pl : report_.paths[target])
      if (pl.origin != kLocalOrigin && (pl.label == Label::A || pl.label == Label::D) && pl.origin != origin &&
          (pl.origin == kClockOrigin || is_async_source(pl.origin)) && keep(pl)) {
        uint32_t length = path_length(pl.origin, target);
        if (origin == sema::kNoCollection || length < best) {
          origin = pl.origin;
          best = length;
        }
      }
    if (origin != sema::kNoCollection) path = hop_to(origin, target);
    return origin;
  }

  void find_points_of_order() {
    std::set<std::pair<uint32_t, uint32_t>> seen;  // (rule, span line*65536+col)
    for (const Edge& e : g_.edges()) {
      if (!edge_nonmonotone(e)) continue;
      if (reads_sealed_partitions(e)) {
        sealed_reads(e);
        continue;
      }
      uint32_t path = kNoHop;
      CollectionId origin;
      if (first_negation(e)) {
        // Its asynchronous paths go on anti-monotone and a second negation cancels them: only a
        // path that is diffluent already makes it a point of order.
        origin = nearest_source_if(e.from, path, [](const PathLabel& pl) { return pl.label == Label::D; });
        if (origin == sema::kNoCollection) {
          uint32_t ignored = kNoHop;
          if (nearest_source(e.from, ignored) != sema::kNoCollection) cancelled(e);
          continue;
        }
      } else if (cancels(e)) {
        const auto& skip = anti_only_[e.from];  // cancelled: not seen through this negation
        origin = nearest_source_if(e.from, path,
                                   [&](const PathLabel& pl) { return std::find(skip.begin(), skip.end(), pl.origin) == skip.end(); });
      } else {
        origin = nearest_source(e.from, path);
      }
      if (origin == sema::kNoCollection) continue;
      Span at = e.monotone() ? p_.rules[e.rule].ast->head.span : e.span;
      if (!seen.insert({e.rule, at.line * 65536u + at.col}).second) continue;
      Finding f;
      f.kind = FindingKind::PointOfOrder;
      f.operation = operation(e);
      f.rule = e.rule;
      f.collection = e.to;
      f.span = at;
      f.source = origin;
      f.path = path;
      f.message =
          "point of order: " + f.operation + " in a rule for `" + p_.collections[e.to].name + "` sees " +
          (origin == kClockOrigin ? "what was read from the clock" : "`" + p_.collections[origin].name + "`, which arrives asynchronously");
      remedies(f, e);
      apply_suppression(f);
      report_.findings.push_back(std::move(f));
    }
    for (uint32_t r : clock_rules_) report_.findings.push_back(clock_finding(r));
    for (auto& f : pending_races_) {
      f.source = nearest_source(f.source, f.path);
      report_.findings.push_back(std::move(f));
    }
    compute_reachable_sinks();
    std::vector<uint32_t> set_of_comp(reach_.size(), UINT32_MAX);  // component -> its taint set
    for (auto& f : report_.findings) {
      uint32_t& set = set_of_comp[comp_[f.collection]];
      if (set == UINT32_MAX) {
        set = static_cast<uint32_t>(report_.taint_sets.size());
        report_.taint_sets.push_back(sinks_after(f.collection));
      }
      f.taints = set;
    }
    std::stable_sort(report_.findings.begin(), report_.findings.end(), [](const Finding& a, const Finding& b) {
      return std::tie(a.span.file, a.span.line, a.span.col) < std::tie(b.span.file, b.span.line, b.span.col);
    });
  }

  // A seal's partition columns, as the report names them: "round, site".
  std::string partition_columns(const sema::Seal& seal) const {
    std::string out;
    for (uint32_t k : seal.key) out += (out.empty() ? "" : ", ") + p_.collections[seal.sealed].columns[k].name;
    return out;
  }

  // A first negation whose asynchronous paths are cancelled: the report names the second
  // negation (the first one found through the views), so a reader sees why it is no finding.
  void cancelled(const Edge& first) {
    std::vector<CollectionId> views{first.to};
    std::set<CollectionId> seen{first.to};
    for (size_t i = 0; i < views.size(); ++i)
      for (uint32_t id : g_.out(views[i])) {
        const Edge& e = g_.edges()[id];
        if (cancels(e)) {
          report_.cancelled.push_back({first.rule, first.to, first.from, first.span, e.to, e.span});
          return;
        }
        if (seen.insert(e.to).second) views.push_back(e.to);
      }
  }

  void sealed_reads(const Edge& e) {
    const sema::Seal& seal = p_.seals[static_cast<size_t>(p_.collections[e.from].view_of)];
    SealedRead s;
    s.rule = e.rule;
    s.collection = e.to;
    s.sealed = seal.sealed;
    s.punct = seal.punct;
    s.operation = sema::to_string(e.why);
    s.key = partition_columns(seal);
    s.span = e.span;
    report_.sealed_reads.push_back(std::move(s));
  }

  Finding clock_finding(uint32_t r) {
    const auto& rule = p_.rules[r];
    std::string what = clock_read(r);
    Finding f;
    f.kind = FindingKind::PointOfOrder;
    f.operation = what;
    f.rule = r;
    f.collection = rule.head;
    f.span = rule.ast->span;
    f.source = kClockOrigin;
    f.path = new_hop(Hop{rule.head, rule.ast->span, r, timing_of(rule.op), true}, kNoHop);
    const std::string head = "`" + p_.collections[rule.head].name + "`";
    if (what == "now") {
      f.message = "point of order: " + head + " is derived from now() (wall-clock time), which differs from run to run";
      f.remedies = {"carry logical time in the data: a sequence number or an lmax version set by the sender, compared with thresholds",
                    "or take the timestamp once, where the data enters, and carry it as data from there"};
    } else if (what == "tick") {
      f.message = "point of order: " + head +
                  " is derived from tick(), and which tick something happens in depends on when messages and timers arrive";
      f.remedies = {"number events in the data instead: a sequence number set by the sender, or an lmax counter",
                    "`tick() == 0` (the first tick) is the one use of tick() that does not depend on timing"};
    } else {
      f.message = "point of order: " + head + " is derived from the count of a periodic, which depends on how long the run has lasted";
      f.remedies = {"use the periodic only as a trigger (`timer(_)`), and keep counts of what happened in the data"};
    }
    apply_suppression(f);
    return f;
  }

  void apply_suppression(Finding& f) const {
    for (const auto& s : p_.rules[f.rule].ast->suppressions)
      if (s.kind == to_string(f.kind)) {
        f.suppressed = true;
        f.suppression_reason = s.reason;
      }
  }

  // ---- paths: one breadth-first tree per source over edges of any timing, shared by all of its
  // findings; the clock's tree starts at every rule that reads it. Hops are made on demand, once
  // per (source, collection), so findings whose paths share a prefix share its hops.
  static constexpr uint32_t kUnreached = UINT32_MAX, kRoot = UINT32_MAX - 1;
  struct Tree {
    std::vector<uint32_t> via;        // the edge into each collection, kRoot at a start, kUnreached
    std::vector<uint32_t> depth;      // edges from the start
    std::vector<uint32_t> hop;        // its hop in report_.hops, once made
    std::vector<uint32_t> root_rule;  // the clock's tree: the rule reading the clock, per start
  };

  Tree& tree(CollectionId source) {
    auto [it, fresh] = trees_.try_emplace(source);
    Tree& t = it->second;
    if (!fresh) return t;
    size_t n = p_.collections.size();
    t.via.assign(n, kUnreached);
    t.depth.assign(n, 0);
    t.hop.assign(n, kNoHop);
    std::deque<CollectionId> q;
    if (source == kClockOrigin) {
      t.root_rule.assign(n, UINT32_MAX);
      for (uint32_t r : clock_rules_) {
        CollectionId h = p_.rules[r].head;
        if (t.via[h] != kUnreached) continue;
        t.via[h] = kRoot;
        t.root_rule[h] = r;
        q.push_back(h);
      }
    } else {
      t.via[source] = kRoot;
      q.push_back(source);
    }
    while (!q.empty()) {
      CollectionId c = q.front();
      q.pop_front();
      for (uint32_t id : g_.out(c)) {
        CollectionId d = g_.edges()[id].to;
        if (t.via[d] != kUnreached) continue;
        t.via[d] = id;
        t.depth[d] = t.depth[c] + 1;
        q.push_back(d);
      }
    }
    return t;
  }

  // How many hops the path from `source` to `target` has.
  uint32_t path_length(CollectionId source, CollectionId target) {
    const Tree& t = tree(source);
    if (t.via[target] == kUnreached) return source == kClockOrigin ? 0 : 1;
    return t.depth[target] + 1;
  }

  uint32_t new_hop(const Hop& h, uint32_t parent) {
    uint32_t length = parent == kNoHop ? 1 : report_.hops[parent].length + 1;
    report_.hops.push_back({h, parent, length});
    return static_cast<uint32_t>(report_.hops.size() - 1);
  }

  // The last hop of the shortest chain of edges from `source` to `target`: the source's
  // declaration (or the rule reading the clock), then one hop per rule that carries the data.
  uint32_t hop_to(CollectionId source, CollectionId target) {
    Tree& t = tree(source);
    if (t.via[target] == kUnreached) {
      if (source == kClockOrigin) return kNoHop;
      target = source;  // only the source itself
    }
    // Walk back to the nearest collection whose hop exists (or a start), then make hops forwards.
    std::vector<CollectionId> chain;
    CollectionId c = target;
    for (; t.hop[c] == kNoHop && t.via[c] != kRoot; c = g_.edges()[t.via[c]].from) chain.push_back(c);
    if (t.hop[c] == kNoHop) {  // a start
      if (source == kClockOrigin) {
        const auto& rule = p_.rules[t.root_rule[c]];
        t.hop[c] = new_hop(Hop{c, rule.ast->span, t.root_rule[c], timing_of(rule.op), true}, kNoHop);
      } else {
        t.hop[c] = new_hop(Hop{source, p_.collections[source].name_span, UINT32_MAX, Timing::Async}, kNoHop);
      }
    }
    for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
      const Edge& e = g_.edges()[t.via[*it]];
      t.hop[*it] = new_hop(Hop{*it, p_.rules[e.rule].ast->span, e.rule, e.timing}, t.hop[e.from]);
    }
    return t.hop[target];
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
    const int view_of = p_.collections[e.from].view_of;
    const sema::Seal* seal = view_of >= 0 ? &p_.seals[static_cast<size_t>(view_of)] : nullptr;
    const std::string keys = seal ? partition_columns(*seal) : "";  // a sealed input: its partition columns
    const std::string shown = seal ? p_.collections[seal->sealed].name : input;
    switch (e.why) {
      case sema::NonMonotone::Aggregate:
        if (view_of >= 0)
          f.remedies.push_back("`" + shown + "` is sealed per (" + keys +
                               "), but this aggregate does not group by every one of them: group by (" + keys +
                               ") so that each group reads one complete partition");
        f.remedies.push_back("use a lattice threshold instead of the aggregate: collect into an lset (`s(v) <= " + shown +
                             "(...)`) and test `s.size() >= n`, which only ever becomes true");
        if (view_of < 0)
          f.remedies.push_back("or punctuate: declare `seal " + shown +
                               "(key) by done(key, n);` (its sender sends `done` with the count) and group by the key, so "
                               "each group is aggregated only once complete");
        break;
      case sema::NonMonotone::Negation:
        if (view_of >= 0)
          f.remedies.push_back("`" + shown + "` is sealed per (" + keys +
                               "): give every one of them in the negated atom (not `_`), so that it waits for that partition");
        else
          f.remedies.push_back("punctuate per key: declare `seal " + shown +
                               "(key) by done(key, n);` and negate it with the key given, so each test waits for a complete partition");
        f.remedies.push_back(
            "or turn the test around: keep a monotone lattice (lbool/lset) of what has been seen and test it with a threshold");
        break;
      case sema::NonMonotone::Reveal:
        f.remedies.push_back(
            "compare with a threshold instead of revealing the value: `x >= c` on lmax, `x <= c` on lmin, `s.size() >= n`, "
            "`s.contains(v)`, `m.at(k) >= c` on an lmap of lmax");
        break;
      case sema::NonMonotone::Upsert:
        f.remedies.push_back(
            "merge instead of replacing: declare the replaced column as a lattice (e.g. lmax of a version) and write with `<=`/`<+`");
        break;
      case sema::NonMonotone::Delete:
        f.remedies.push_back("record deletions as data instead: keep a set of tombstones (`deleted(k) <= ...`) and filter with it");
        break;
      case sema::NonMonotone::Seal:  // a release is monotone: never a finding
        break;
      case sema::NonMonotone::None:
        if (f.operation == "keyed insert") {
          f.remedies.push_back(
              "make the conflict impossible or harmless: put every column that can differ in the key, or declare it a "
              "lattice (e.g. `lmax`) so two writes of one key merge");
        } else {
          f.remedies.push_back(
              "output what cannot go back: a threshold as a plain column (`reached(k) <= t(k, m), m >= 10`), or "
              "the lattice from a round that is sealed");
        }
        break;
    }
    // Bud's rule: coordinate at the last asynchronous edge before the non-monotone one.
    const Hop* boundary = nullptr;
    for (uint32_t h = f.path; h != kNoHop && !boundary; h = report_.hops[h].parent)
      if (report_.hops[h].hop.timing == Timing::Async) boundary = &report_.hops[h].hop;
    if (boundary) {
      const auto& c = p_.collections[boundary->collection];
      f.remedies.push_back("or coordinate at the last asynchronous edge before it: deliver `" + c.name + "` (line " +
                           std::to_string(boundary->rule == UINT32_MAX ? c.name_span.line : boundary->span.line) +
                           ") in an agreed order or in sealed rounds (e.g. two-phase commit, a quorum round, consensus)");
    }
  }

  const sema::Program& p_;
  const DependencyGraph& g_;
  CalmReport report_;
  std::vector<CollectionId> origins_;  // where paths start, numbered for the bit sets
  size_t words_ = 0;                   // 64-bit words per bit set of origins
  std::vector<uint64_t> state_;        // per collection, per label: a bit set of origins
  std::vector<uint8_t> label_mask_;    // per collection: the labels of its paths
  const std::set<std::string>& diffluent_;
  std::vector<std::vector<uint32_t>> writers_;   // rules whose head is each collection
  std::vector<uint32_t> clock_rules_;            // rules that read time
  std::vector<bool> clock_rule_, race_rule_;     // per rule
  std::vector<bool> has_facts_;                  // per collection: some fact writes it
  std::vector<CollectionId> log_of_;             // per collection: see log_of
  std::vector<std::vector<uint32_t>> log_cols_;  // per log: the column of its transient behind each of its columns
  bool has_async_ = false;                       // some channel is received, or a timer runs
  std::vector<bool> async_reach_;
  std::vector<Temporal> temporal_;
  std::vector<bool> ephemeral_, grows_;
  std::vector<bool> thresholded_;     // per rule: an aggregate only ever read through a threshold
  std::vector<bool> cancel_view_;     // per collection: see compute_cancel_views
  std::vector<bool> cancelled_only_;  // per collection: a cancel view asynchronous data reaches only through first negations
  std::vector<std::vector<CollectionId>> anti_only_;  // per collection: origins reaching it only anti-monotone
  std::vector<Finding> pending_races_;
  std::unordered_map<CollectionId, Tree> trees_;                                 // per source (or the clock)
  std::unordered_map<CollectionId, std::pair<CollectionId, uint32_t>> nearest_;  // target -> (origin, last hop)
  std::vector<uint32_t> comp_;                                                   // component of each collection
  std::vector<std::vector<uint64_t>> reach_;                                     // component -> reachable sinks
};

}  // namespace

CalmReport analyze_calm(const sema::Program& program, const DependencyGraph& graph, const std::set<std::string>& diffluent_channels) {
  return Analyzer(program, graph, diffluent_channels).run();
}

}  // namespace bloom::analysis
