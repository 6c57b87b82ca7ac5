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
using ast::ExprKind;

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
    writers_.assign(n, {});
    for (uint32_t r = 0; r < p_.rules.size(); ++r)
      if (p_.rules[r].head != sema::kNoCollection) writers_[p_.rules[r].head].push_back(r);
    for (CollectionId c = 0; c < n; ++c) has_async_ |= is_async_source(c);
    for (uint32_t r = 0; r < p_.rules.size(); ++r)
      if (!clock_read(r).empty()) clock_rules_.push_back(r);
    compute_async_reach();
    compute_ephemeral();
    compute_temporal();
    find_races();
    propagate();
    for (CollectionId c = 0; c < n; ++c) {
      const auto& col = p_.collections[c];
      if (is_async_source(c) || col.kind == CollectionKind::Input) report_.sources.push_back(c);
      if (col.kind == CollectionKind::Output ||
          ((col.kind == CollectionKind::Channel || col.kind == CollectionKind::Stdout) && !writers_[c].empty()))
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
  // Channels (where some rule receives them) and periodics bring data in at times nobody
  // controls. Inputs do not: the runtime delivers them in tick 0, complete (docs/running.md),
  // so they are local data; a channel that is only sent to is a sink, not a source.
  bool is_async_source(CollectionId c) const {
    CollectionKind k = p_.collections[c].kind;
    if (k == CollectionKind::Channel) return !g_.out(c).empty();
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
      if (in.negated || in.collection == sema::kNoCollection || p_.collections[in.collection].kind != CollectionKind::Periodic)
        continue;
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

  bool is_clock_rule(uint32_t r) const { return std::find(clock_rules_.begin(), clock_rules_.end(), r) != clock_rules_.end(); }

  // A table whose writers are all `<=` copies of one transient collection: its log. Returns that
  // collection, or kNoCollection.
  CollectionId log_of(CollectionId c) const {
    if (!sema::is_persistent(p_.collections[c].kind) || writers_[c].empty()) return sema::kNoCollection;
    for (const auto& f : p_.facts)
      if (f.collection == c) return sema::kNoCollection;
    CollectionId from = sema::kNoCollection;
    for (uint32_t r : writers_[c]) {
      const auto& rule = p_.rules[r];
      if (rule.op != ast::MergeOp::Instant || rule.inputs.size() != 1 || rule.inputs[0].negated) return sema::kNoCollection;
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

  bool edge_nonmonotone(const Edge& e) const { return !e.monotone() || keyed_insert(e) || lattice_output(e); }

  std::string operation(const Edge& e) const {
    if (!e.monotone()) return sema::to_string(e.why);
    return keyed_insert(e) ? "keyed insert" : "lattice output";
  }

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
    auto bit = [](Label l) { return static_cast<uint8_t>(1u << static_cast<int>(l)); };
    for (const auto& col : p_.collections) {
      if (is_async_source(col.id)) add(col.id, col.id, bit(diffluent_.count(col.name) ? Label::D : Label::A));
      else if (col.kind == CollectionKind::Input) add(col.id, col.id, bit(Label::M));
      else if (g_.in(col.id).empty()) add(col.id, kLocalOrigin, bit(Label::M));  // facts, constants or nothing
    }
    for (uint32_t r : clock_rules_) add(p_.rules[r].head, kClockOrigin, bit(Label::D));
    while (!work.empty()) {
      CollectionId c = work.front();
      work.pop_front();
      std::map<CollectionId, uint8_t> now = std::move(delta[c]);
      delta[c].clear();
      for (uint32_t id : g_.out(c))
        for (const auto& [origin, mask] : now) add(g_.edges()[id].to, origin, table[id][mask]);
    }
  }

  // A rule's label: the worst label its edges give any path into their inputs (a race or a
  // read of the clock is D).
  void label_rules() {
    for (uint32_t r : race_rules_) report_.rule_label[r] = Label::D;
    for (uint32_t r : clock_rules_) report_.rule_label[r] = Label::D;
    for (const Edge& e : g_.edges()) {
      Label& l = report_.rule_label[e.rule];
      for (const auto& pl : report_.paths[e.from]) l = worst(l, transform(pl.label, e));
      if (report_.paths[e.from].empty()) l = worst(l, transform(Label::M, e));
    }
  }

  // ---- races
  // Which collections change with what arrives from outside: reachable from a channel, a
  // periodic or a read of the clock, along edges of any timing.
  void compute_async_reach() {
    async_reach_.assign(p_.collections.size(), false);
    std::deque<CollectionId> q;
    auto mark = [&](CollectionId c) {
      if (!async_reach_[c]) {
        async_reach_[c] = true;
        q.push_back(c);
      }
    };
    for (const auto& c : p_.collections)
      if (is_async_source(c.id)) mark(c.id);
    for (uint32_t r : clock_rules_) mark(p_.rules[r].head);
    while (!q.empty()) {
      CollectionId c = q.front();
      q.pop_front();
      for (uint32_t id : g_.out(c)) mark(g_.edges()[id].to);
    }
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
      ephemeral_[c] = k == CollectionKind::Channel || k == CollectionKind::Periodic || (k == CollectionKind::Input && writers_[c].empty());
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

  // Least fixpoint over Static < FirstTick < Varying: each collection takes the worst class its
  // writers give it. A table fed in tick 0 keeps what it got, so it is Static from then on.
  void compute_temporal() {
    size_t n = p_.collections.size();
    temporal_.assign(n, Temporal::Static);
    std::vector<bool> fixed(n, false);
    for (CollectionId c = 0; c < n; ++c) {
      CollectionKind k = p_.collections[c].kind;
      if (k == CollectionKind::Channel || k == CollectionKind::Periodic) {
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
      if (async_reach_[y.collection]) return "";  // negating asynchronous data: a point of order of its own
      return X + " is tested against `not " + cy.name + "` as " + Y + " is in the tick " + X +
             " is there, and " + Y + " changes between ticks";
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
        return "two " + X + " tuples meet only if they are there in the same tick, and messages of one channel may arrive in different ticks";
      if (yt) return X + " and " + Y + " meet only if both are there in the same tick";
      return X + " sees " + Y + " only as it is in the tick " + X + " is there, and " + Y +
             (async_reach_[y.collection] ? " fills with asynchronous data" : " changes between ticks");
    }
    if (yt) {
      if (async_reach_[y.collection]) return "";  // found with the roles swapped
      return Y + " sees " + X + " only as it is in the tick " + Y + " is there, and " + X + " fills with asynchronous data";
    }
    if (grows(x.collection) && grows(y.collection)) return "";  // both only grow: every match happens
    if (async_reach_[y.collection]) return "";  // its delete or overwrite is the point of order
    return X + " fills with asynchronous data while " + Y + " is rewritten between ticks, so which rows meet depends on timing";
  }

  // The symmetric join written by hand (Bud's idiom): `h <= t1, log2` and `h <= t2, log1`, where
  // each log keeps every tuple of the other transient. Every pair meets in whichever of the two
  // rules runs when the later one arrives.
  bool symmetric(uint32_t r, CollectionId t1, CollectionId log2) const {
    CollectionId t2 = log_of(log2);
    if (t2 == sema::kNoCollection || t2 == t1) return false;
    for (uint32_t r2 : writers_[p_.rules[r].head]) {
      if (r2 == r) continue;
      bool has_t2 = false, has_log1 = false;
      for (const auto& in : p_.rules[r2].inputs) {
        if (in.negated || in.collection == sema::kNoCollection) continue;
        has_t2 |= in.collection == t2;
        has_log1 |= log_of(in.collection) == t1;
      }
      if (has_t2 && has_log1) return true;
    }
    return false;
  }

  void find_races() {
    for (uint32_t r = 0; r < p_.rules.size(); ++r) {
      const auto& rule = p_.rules[r];
      if (rule.head == sema::kNoCollection) continue;
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
      race_rules_.insert(r);
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
      f.remedies = {
          "persist the arrivals in a table (`log(...) <= " + xn + "(...)`) and join tables that only grow, so every match happens whatever the timing",
          "or join both ways (`h <= " + xn + ", other_log` and `h <= other, " + xn +
              "_log`), so the later arrival always finds the earlier one",
          "or merge both into one lattice so arrival order cannot matter"};
      apply_suppression(f);
      pending_races_.push_back(std::move(f));
    }
  }

  // ---- points of order
  // The asynchronous source nearest to `target` (or the clock), with the path from it: the first
  // declared one may reach it only by a long detour (a timer that every table depends on).
  CollectionId nearest_source(CollectionId target, std::vector<Hop>& path) {
    CollectionId origin = sema::kNoCollection;
    for (const auto& pl : report_.paths[target])
      if (pl.origin != kLocalOrigin && (pl.label == Label::A || pl.label == Label::D) && pl.origin != origin &&
          (pl.origin == kClockOrigin || is_async_source(pl.origin))) {
        std::vector<Hop> p = path_from(pl.origin, target);
        if (origin == sema::kNoCollection || p.size() < path.size()) {
          origin = pl.origin;
          path = std::move(p);
        }
      }
    return origin;
  }

  void find_points_of_order() {
    std::set<std::pair<uint32_t, uint32_t>> seen;  // (rule, span line*65536+col)
    for (const Edge& e : g_.edges()) {
      if (!edge_nonmonotone(e)) continue;
      std::vector<Hop> path;
      CollectionId origin = nearest_source(e.from, path);
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
      f.path = std::move(path);
      f.message = "point of order: " + f.operation + " in a rule for `" + p_.collections[e.to].name + "` sees " +
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
    for (auto& f : report_.findings) f.taints = sinks_after(f.collection);
    std::stable_sort(report_.findings.begin(), report_.findings.end(), [](const Finding& a, const Finding& b) {
      return std::tie(a.span.file, a.span.line, a.span.col) < std::tie(b.span.file, b.span.line, b.span.col);
    });
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
    f.path = {Hop{rule.head, rule.ast->span, r, timing_of(rule.op), true}};
    const std::string head = "`" + p_.collections[rule.head].name + "`";
    if (what == "now") {
      f.message = "point of order: " + head + " is derived from now() (wall-clock time), which differs from run to run";
      f.remedies = {"carry logical time in the data: a sequence number or an lmax version set by the sender, compared with thresholds",
                    "or take the timestamp once, where the data enters, and carry it as data from there"};
    } else if (what == "tick") {
      f.message = "point of order: " + head + " is derived from tick(), and which tick something happens in depends on when messages and timers arrive";
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

  // The shortest chain of edges from `source` to `target` (any timing), as hops with spans. One
  // breadth-first tree per source, shared by all of its findings. The clock's tree starts at
  // every rule that reads it.
  std::vector<Hop> path_from(CollectionId source, CollectionId target) {
    auto [it, fresh] = bfs_trees_.try_emplace(source);
    std::vector<uint32_t>& via = it->second;
    constexpr uint32_t kRoot = UINT32_MAX - 1;  // a start of the search (for the clock: via its rule)
    std::vector<uint32_t>& clock_rule = clock_via_;
    if (fresh) {
      via.assign(p_.collections.size(), UINT32_MAX);
      std::deque<CollectionId> q;
      if (source == kClockOrigin) {
        clock_rule.assign(p_.collections.size(), UINT32_MAX);
        for (uint32_t r : clock_rules_) {
          CollectionId h = p_.rules[r].head;
          if (via[h] != UINT32_MAX) continue;
          via[h] = kRoot;
          clock_rule[h] = r;
          q.push_back(h);
        }
      } else {
        via[source] = kRoot;
        q.push_back(source);
      }
      while (!q.empty()) {
        CollectionId c = q.front();
        q.pop_front();
        for (uint32_t id : g_.out(c)) {
          CollectionId d = g_.edges()[id].to;
          if (via[d] != UINT32_MAX) continue;
          via[d] = id;
          q.push_back(d);
        }
      }
    }
    std::vector<Hop> hops;
    CollectionId c = target;
    for (; via[c] != UINT32_MAX && via[c] != kRoot; c = g_.edges()[via[c]].from) {
      const Edge& e = g_.edges()[via[c]];
      hops.push_back({c, p_.rules[e.rule].ast->span, e.rule, e.timing});
    }
    if (source == kClockOrigin && via[c] == kRoot) {
      const auto& rule = p_.rules[clock_rule[c]];
      hops.push_back({c, rule.ast->span, clock_rule[c], timing_of(rule.op), true});
    } else if (source != kClockOrigin) {
      hops.push_back({source, p_.collections[source].name_span, UINT32_MAX, Timing::Async});
    }
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
        if (f.operation == "keyed insert") {
          f.remedies.push_back("make the conflict impossible or harmless: put every column that can differ in the key, or declare it a "
                               "lattice (e.g. `lmax`) so two writes of one key merge");
        } else {
          f.remedies.push_back("output what cannot go back: a threshold as a plain column (`reached(k) <= t(k, m), m >= 10`), or "
                               "the lattice from a round that is sealed");
        }
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
  std::vector<std::vector<uint32_t>> writers_;               // rules whose head is each collection
  std::vector<uint32_t> clock_rules_;                         // rules that read time
  bool has_async_ = false;                                    // some channel is received, or a timer runs
  std::vector<bool> async_reach_;
  std::vector<Temporal> temporal_;
  std::vector<bool> ephemeral_, grows_;
  std::vector<uint32_t> clock_via_;                           // the clock's tree: the rule reading it, per start
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
