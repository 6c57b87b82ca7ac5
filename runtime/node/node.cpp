#include "node/node.h"

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <sstream>
#include <thread>

#include <fmt/format.h>

#include "node/facts.h"

namespace bloom::rt {

using plan::RelationKind;

namespace {
bool transient(RelationKind k) {
  return k == RelationKind::Scratch || k == RelationKind::Channel || k == RelationKind::Input || k == RelationKind::Periodic ||
         k == RelationKind::Delay || k == RelationKind::Output || k == RelationKind::Stdout || k == RelationKind::Halt;
}
}  // namespace

Node::Node(const plan::Program& plan, NodeOptions options)
    : plan_(plan),
      opts_(std::move(options)),
      clock_(opts_.clock ? *opts_.clock : SystemClock::instance()),
      lattices_(symbols_),
      engine_(plan, symbols_, lattices_, opts_.native) {
  self_ = symbols_.intern(opts_.name);
  std::vector<Word> members;
  for (const auto& m : opts_.members) members.push_back(symbols_.intern(m));
  if (members.empty()) members.push_back(self_);
  engine_.set_members(lattices_.set_of(std::move(members)));
  engine_.set_context(self_, 0, 0);  // self() of the facts' lattices built before tick 0 (sim --explain)
  size_t n = plan.relations.size();
  pending_.resize(n);
  inbox_.resize(n);
  tick_delays_.resize(n);
  logs_.resize(n);
  log_decls_.resize(n);
  for (const auto& r : plan.relations) {
    if (r.kind == RelationKind::Output) {
      // The log keeps every distinct tuple: all columns are the key and nothing merges.
      auto d = std::make_unique<plan::Relation>();
      d->name = r.name;
      d->column_names = r.column_names;
      d->column_types.assign(r.arity(), plan::ValueType{});
      for (uint32_t c = 0; c < r.arity(); ++c) d->key.push_back(c);
      logs_[r.id] = std::make_unique<Relation>(*d, lattices_);
      log_decls_[r.id] = std::move(d);
    }
    if (r.kind == RelationKind::Periodic)
      timers_.push_back({r.id, clock_.monotonic() + std::chrono::milliseconds(r.period_ms), std::chrono::milliseconds(r.period_ms), 0});
    if (r.durable) durable_ids_.push_back(r.id);
  }
  track_.resize(n);
  if (opts_.durable && !durable_ids_.empty()) {
    store_ = std::make_unique<DurableStore>(*opts_.durable, plan_, symbols_, lattices_, opts_.durable_compact_bytes);
    recovered_rule_.where = opts_.durable->path("wal");
    recovered_rule_.text = "(a change recovered from the data directory)";
  }
}

Node::~Node() = default;

void Node::add_input(uint32_t relation, const Word* row, const std::string& where) {
  if (started_) throw RuntimeError("inputs can only be added before the node runs");
  engine_.insert_checked(relation, row, where, "this input tuple");
}

void Node::load_inputs(const std::string& dir, std::vector<std::string>& missing) {
  // An imported module's input that the importer fills with rules needs no file.
  std::vector<bool> derived(plan_.relations.size(), false);
  for (const auto& st : plan_.strata)
    for (const auto& g : st.groups)
      for (const auto& r : g.rules) derived[r.head] = true;
  for (const auto& r : plan_.transitions) derived[r.head] = true;
  for (const auto& r : plan_.relations) {
    if (r.kind != RelationKind::Input) continue;
    std::string path = (std::filesystem::path(dir) / (r.name + ".facts")).string();
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) {
      if (!derived[r.id]) missing.push_back(path);
      continue;
    }
    read_facts(path, r, lattices_, [&](const Word* row, size_t line) { add_input(r.id, row, fmt::format("{}:{}", path, line)); });
  }
}

namespace {
// Queued rows take max(arity, 1) words each, so a row of a nullary relation (`flag()`, `halt()`)
// still takes a place in the queue.
uint32_t stride(uint32_t arity) { return std::max<uint32_t>(arity, 1); }
void push_row(std::vector<Word>& queue, const Word* row, uint32_t arity) {
  if (arity == 0) queue.push_back(0);
  else queue.insert(queue.end(), row, row + arity);
}

// Whether two different rows of `r` can clash: a key that leaves out a plain column.
bool can_conflict(const plan::Relation& r) {
  if (!r.keyed) return false;
  for (uint32_t c = 0; c < r.arity(); ++c)
    if (!r.column_types[c].is_lattice() && std::find(r.key.begin(), r.key.end(), c) == r.key.end()) return true;
  return false;
}

// Puts queued rows (stride(arity) words each) and the rules that queued them in one canonical
// order: by the rows' words, then by rule. A tick's deferred writes are a set, and the order in
// which the rules happened to derive them depends on how the tick was evaluated (incrementally or
// in full, the order of rows in an index): in this order, a key violation among them names the
// same two rows however they were derived.
void sort_queued(std::vector<Word>& rows, std::vector<const plan::RulePlan*>& rules, uint32_t arity) {
  const uint32_t s = stride(arity);
  if (rules.size() < 2) return;
  std::vector<size_t> order(rules.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  // A loop over the words, not std::equal and std::lexicographical_compare: those called memcmp
  // for every comparison, and a tick of a million queued rows spent a fifth of its time there.
  std::sort(order.begin(), order.end(), [&](size_t x, size_t y) {
    const Word* a = rows.data() + x * s;
    const Word* b = rows.data() + y * s;
    for (uint32_t c = 0; c < s; ++c)
      if (a[c] != b[c]) return a[c] < b[c];
    return rules[x]->rule < rules[y]->rule;
  });
  std::vector<Word> sorted_rows(rows.size());
  std::vector<const plan::RulePlan*> sorted_rules(rules.size());
  for (size_t j = 0; j < order.size(); ++j) {
    std::copy_n(rows.data() + order[j] * s, s, sorted_rows.data() + j * s);
    sorted_rules[j] = rules[order[j]];
  }
  rows.swap(sorted_rows);
  rules.swap(sorted_rules);
}
}  // namespace

void Node::deferred(plan::HeadOp op, uint32_t relation, const Word* row, const plan::RulePlan& rule) {
  Pending& p = pending_[relation];
  uint32_t a = plan_.relations[relation].arity();
  switch (op) {
    case plan::HeadOp::DeferredDelete: push_row(p.deletes, row, a); break;
    case plan::HeadOp::DeferredUpsert:
      if (plan_.relations[relation].keyed) {
        push_row(p.upserts, row, a);
        p.upsert_rules.push_back(&rule);
        break;
      }
      [[fallthrough]];  // without a key an upsert is an insert (the compiler warned)
    default:
      push_row(p.inserts, row, a);
      p.insert_rules.push_back(&rule);
      break;
  }
}

void Node::send(uint32_t relation, const Word* row, const plan::RulePlan& rule) {
  const auto& r = plan_.relations[relation];
  if (r.kind == RelationKind::Stdout) {
    stdout_lines_.push_back(symbols_.str(row[0]));
    return;
  }
  if (r.kind == RelationKind::Delay) {
    delay_ms(r, row);  // a bad delay fails the tick here (the engine names the rule)
    push_row(tick_delays_[relation], row, r.arity());
    return;
  }
  Word dest = row[r.location];
  if (dest != self_) {
    if (opts_.network) return send_remote(dest, relation, row);
    throw RuntimeError(
        fmt::format("unknown destination addr \"{}\" for channel `{}`: this node is \"{}\" and "
                    "a single-node run has no other nodes",
                    symbols_.str(dest), r.name, opts_.name));
  }
  push_row(inbox_[relation], row, r.arity());
}

void Node::send_remote(Word dest, uint32_t relation, const Word* row) {
  const auto& r = plan_.relations[relation];
  if (std::find(known_.begin(), known_.end(), dest) == known_.end()) {
    if (opts_.network->knows(symbols_.str(dest))) {
      known_.push_back(dest);
    } else {
      if (opts_.network->drop_undeliverable(symbols_.str(dest), relation)) return;
      throw RuntimeError(fmt::format("unknown destination addr \"{}\" for channel `{}`: no node of the deployment is called \"{}\"",
                                     symbols_.str(dest), r.name, symbols_.str(dest)));
    }
  }
  Outgoing* out = nullptr;
  for (auto& o : outgoing_)
    if (o.dest == dest && o.relation == relation) {
      out = &o;
      break;
    }
  if (!out) out = &outgoing_.emplace_back(Outgoing{dest, relation, {}, 0});
  out->rows.insert(out->rows.end(), row, row + r.arity());
  ++out->count;
}

void Node::flush_remote() {
  for (auto& o : outgoing_) {
    if (o.count == 0) continue;
    opts_.network->send(symbols_.str(o.dest), o.relation, o.rows.data(), o.count);
    o.rows.clear();
    o.count = 0;
  }
}

void Node::deliver(uint32_t relation, const Word* rows, size_t count) {
  uint32_t a = plan_.relations[relation].arity();
  if (a == 0) inbox_[relation].insert(inbox_[relation].end(), count, 0);
  else inbox_[relation].insert(inbox_[relation].end(), rows, rows + count * a);
}

std::vector<Word>* Node::inbox(uint32_t relation) {
  if (relation >= inbox_.size() || plan_.relations[relation].arity() == 0) return nullptr;
  return &inbox_[relation];
}

std::optional<NodeClock::time_point> Node::next_timer() const {
  std::optional<NodeClock::time_point> next;
  if (!timers_.empty()) next = std::min_element(timers_.begin(), timers_.end(), [](auto& a, auto& b) { return a.next < b.next; })->next;
  if (!delayed_.empty() && (!next || delayed_.front().due < *next)) next = delayed_.front().due;
  return next;
}

int64_t Node::delay_ms(const plan::Relation& r, const Word* row) const {
  if (r.delay_column < 0) return r.period_ms;
  int64_t ms = as_int(row[r.delay_column]);
  if (ms < 0)
    throw RuntimeError(
        fmt::format("negative delay of {} ms for `{}` (column `{}`)", ms, r.name, r.column_names[static_cast<size_t>(r.delay_column)]));
  return ms;
}

void Node::schedule_delay(uint32_t relation, const Word* row) {
  const auto& r = plan_.relations[relation];
  const uint32_t a = r.arity();
  Delayed d{clock_.monotonic() + std::chrono::milliseconds(delay_ms(r, row)), next_delay_seq_++, relation, {}};
  d.row.assign(row, row + a);
  if (a == 0) d.row.push_back(0);  // a place for a nullary row, as in the deferred queues
  delayed_.push_back(std::move(d));
  std::push_heap(delayed_.begin(), delayed_.end(), Delayed::later);
}

void Node::commit_delays() {
  for (size_t id = 0; id < tick_delays_.size(); ++id) {
    auto& rows = tick_delays_[id];
    if (rows.empty()) continue;
    const auto& r = plan_.relations[id];
    const uint32_t s = stride(r.arity());
    // A tick's writes are a set: one arrival per distinct tuple.
    std::vector<const Word*> distinct;
    for (size_t i = 0; i < rows.size(); i += s) distinct.push_back(rows.data() + i);
    std::sort(distinct.begin(), distinct.end(),
              [&](const Word* x, const Word* y) { return std::lexicographical_compare(x, x + r.arity(), y, y + r.arity()); });
    distinct.erase(
        std::unique(distinct.begin(), distinct.end(), [&](const Word* x, const Word* y) { return std::equal(x, x + r.arity(), y); }),
        distinct.end());
    for (const Word* row : distinct) schedule_delay(static_cast<uint32_t>(id), row);
    rows.clear();
  }
}

bool Node::timer_due() const {
  auto next = next_timer();
  return next && *next <= clock_.monotonic();
}

bool Node::step() {
  started_ = true;
  int64_t tick = next_tick_;
  for (auto& o : outgoing_) {  // a failed tick sent nothing
    o.rows.clear();
    o.count = 0;
  }
  if (!durable_ready_) recover_durable();
  run_tick(tick);
  next_tick_ = tick + 1;
  flush_remote();
  return engine_.relation(1).live() > 0;  // halt()
}

// Deletes first, then upserts replace the row with their key, then inserts (with the key check).
void Node::apply_deferred() {
  for (size_t id = 0; id < pending_.size(); ++id) {
    Pending& p = pending_[id];
    if (p.inserts.empty() && p.deletes.empty() && p.upserts.empty()) continue;
    Relation& rel = engine_.relation(static_cast<uint32_t>(id));
    const auto& d = rel.decl();
    uint32_t a = d.arity();
    std::vector<bool> drop;
    bool dropping = false;
    auto mark = [&](RowId r) {
      if (drop.size() < rel.end()) drop.resize(rel.end(), false);
      drop[r] = true;
      dropping = true;
    };
    for (size_t i = 0; i < p.deletes.size(); i += stride(a)) {
      const Word* row = p.deletes.data() + i;
      RowId r = rel.find_key_of_row(row);
      if (r != kNoRow && rel.row_equals(r, row)) mark(r);
    }
    for (size_t i = 0; i < p.upserts.size(); i += stride(a)) {
      RowId r = rel.find_key_of_row(p.upserts.data() + i);
      if (r != kNoRow) mark(r);
    }
    if (dropping && tracking_ && d.durable) {
      // The rows dropped are this tick's removals; rows this tick added before (tick 0's facts)
      // get new numbers below the new base, so they are recorded now.
      DurableTrack& t = track_[id];
      bool same = t.generation == rel.generation();
      t.full |= !same;
      std::vector<Word> buf(a + 1);
      for (RowId r = 0; r < rel.end(); ++r) {
        if (!rel.alive(r)) continue;
        bool dropped = r < drop.size() && drop[r];
        if (!dropped && (!same || r < t.base)) continue;
        rel.read(r, buf.data());
        push_row(dropped ? t.removed : t.added, buf.data(), a);
      }
    }
    if (dropping) rel.rebuild(drop);
    if (dropping && tracking_ && d.durable) {
      track_[id].base = rel.end();
      track_[id].generation = rel.generation();
    }
    auto insert_queued = [&] {
      // What a key violation says of the write, made once per run of writes of one rule (not
      // once per row: a string for each of a million rows was 7% of such a tick).
      auto insert_all = [&](const std::vector<Word>& rows, const std::vector<const plan::RulePlan*>& rules, const char* kind) {
        const plan::RulePlan* rule = nullptr;
        std::string what;
        for (size_t i = 0, k = 0; i < rows.size(); i += stride(a), ++k) {
          if (rules[k] != rule) {
            rule = rules[k];
            what = fmt::format("the {} queued in the previous tick by `{}`", kind, rule->text);
          }
          engine_.insert_checked(static_cast<uint32_t>(id), rows.data() + i, rule->where, what);
        }
      };
      insert_all(p.upserts, p.upsert_rules, "upsert");
      insert_all(p.inserts, p.insert_rules, "insert");
    };
    auto canonical_order = [&] {
      sort_queued(p.upserts, p.upsert_rules, a);
      sort_queued(p.inserts, p.insert_rules, a);
    };
    if (!can_conflict(d)) {
      insert_queued();
    } else if (d.has_lattice_column()) {
      canonical_order();  // a merge replaces rows, so the rows before would be lost: sort first
      insert_queued();
    } else {
      // Two queued rows that clash are reported in one canonical order (sort_queued), but that
      // order is needed only for the message: the writes go in as they came, and only when one
      // clashes are they applied again, sorted, to the rows the relation had before them (rows
      // are only appended here, so those are the live rows below `before`). Sorting every
      // tick's writes cost 40% of a tick that queued a million.
      const RowId before = rel.end();
      try {
        insert_queued();
      } catch (const RuntimeError&) {
        std::unique_ptr<Relation> tried = engine_.take_relation(static_cast<uint32_t>(id));
        Relation& again = engine_.relation(static_cast<uint32_t>(id));
        std::vector<Word> row(a + 1);
        for (RowId r = 0; r < before; ++r) {
          if (!tried->alive(r)) continue;
          tried->read(r, row.data());
          again.insert(row.data());
        }
        canonical_order();
        insert_queued();  // throws the clash found first in that order
        throw;            // unreachable: a clash in one order is a clash in every order
      }
    }
    p = Pending{};
  }
}

void Node::setup_tick(int64_t tick) {
  if (tick > 0)  // tick 0 starts from what the node was given (its inputs)
    for (size_t id = 0; id < plan_.relations.size(); ++id)
      if (transient(plan_.relations[id].kind) && !engine_.keeps(static_cast<uint32_t>(id)))
        engine_.relation(static_cast<uint32_t>(id)).clear();
  if (tick == 0) {
    // Lattice cells start at bottom; facts and the inputs of tick 0 arrive.
    for (const auto& r : plan_.relations) {
      if (r.kind != RelationKind::Lattice) continue;
      Word bottom = lattices_.bottom(r.column_types[0]);
      engine_.insert_checked(r.id, &bottom, r.where, "its bottom");
    }
    std::vector<Word> row;
    for (const auto& f : plan_.facts) {
      const auto& r = plan_.relations[f.relation];
      if (recovered_ && r.durable) continue;  // applied in the first run's tick 0: the store has them
      row.assign(r.arity() + 1, 0);
      for (uint32_t c = 0; c < r.arity() && c < f.values.size(); ++c) {
        const auto& v = f.values[c];
        Word w;
        if (f.is_self[c]) w = self_;
        else if (auto* i = std::get_if<int64_t>(&v)) w = from_int(*i);
        else if (auto* x = std::get_if<double>(&v)) w = from_float(*x);
        else if (auto* b = std::get_if<bool>(&v)) w = from_bool(*b);
        else w = symbols_.intern(std::get<std::string>(v));
        if (r.column_types[c].is_lattice()) w = lattices_.lift(r.column_types[c], w);
        row[c] = w;
      }
      const bool delayed = r.kind == RelationKind::Delay;
      try {  // a lattice built in the fact, or a delay, can fail: name the fact
        for (const auto& [c, x] : f.built) row[c] = engine_.eval_constant(x);
        if (delayed) schedule_delay(f.relation, row.data());
      } catch (const RuntimeError& e) {
        throw RuntimeError(f.where + ": in this fact: " + e.what(), true);
      }
      if (!delayed) engine_.insert_checked(f.relation, row.data(), f.where, "this fact");
    }
  }
  for (size_t id = 0; id < inbox_.size(); ++id) {
    auto& rows = inbox_[id];
    if (rows.empty()) continue;
    uint32_t a = plan_.relations[id].arity();
    // All of a channel's arrived rows as one batch, in arrival order (the same rows and outcome
    // as one insert after the other, which took 60% of a tick that stored 1 M arrived tuples).
    engine_.insert_all_checked(static_cast<uint32_t>(id), rows.data(), rows.size() / stride(a), "", "a message");
    rows.clear();
  }
  auto now = clock_.monotonic();
  fired_.clear();
  for (auto& t : timers_) {
    if (now < t.next) continue;
    fired_.push_back(t.relation);
    Word n = from_int(t.fired++);
    engine_.insert_checked(t.relation, &n, "", "a timer");
    t.next += t.period;
    if (t.next < now) t.next = now + t.period;  // fell behind: skip the missed firings
  }
  // Delayed tuples that are due arrive, earliest first (all of them: unlike a periodic's
  // firings, none is skipped).
  while (!delayed_.empty() && delayed_.front().due <= now) {
    std::pop_heap(delayed_.begin(), delayed_.end(), Delayed::later);
    Delayed d = std::move(delayed_.back());
    delayed_.pop_back();
    if (std::find(fired_.begin(), fired_.end(), d.relation) == fired_.end()) fired_.push_back(d.relation);
    engine_.insert_checked(d.relation, d.row.data(), "", "a delay");
  }
  apply_deferred();
}

bool Node::work_pending() {
  for (const auto& rows : inbox_)
    if (!rows.empty()) return true;
  for (size_t id = 0; id < pending_.size(); ++id) {
    Pending& p = pending_[id];
    const Relation& rel = engine_.relation(static_cast<uint32_t>(id));
    const auto& d = rel.decl();
    uint32_t a = d.arity(), step = stride(a);
    if (transient(d.kind) && !(p.inserts.empty() && p.upserts.empty())) return true;  // next tick's scratch is not empty
    for (size_t i = 0; i < p.inserts.size(); i += step)
      if (!rel.contains(p.inserts.data() + i)) return true;
    for (size_t i = 0; i < p.upserts.size(); i += step) {
      const Word* row = p.upserts.data() + i;
      RowId r = rel.find_key_of_row(row);
      if (r == kNoRow || !rel.row_equals(r, row)) return true;
    }
    for (size_t i = 0; i < p.deletes.size(); i += step) {
      const Word* row = p.deletes.data() + i;
      RowId r = rel.find_key_of_row(row);
      if (r != kNoRow && rel.row_equals(r, row)) return true;
    }
  }
  return false;
}

void Node::finish_tick() {
  for (const auto& r : plan_.relations) {
    if (r.kind != RelationKind::Output) continue;
    const Relation& rel = engine_.relation(r.id);
    if (logs_[r.id]->live() == 0 && r.key.size() == r.arity()) {
      // The first tick with output: its rows become the log as they are (a set already, no copy).
      logs_[r.id] = engine_.take_relation(r.id);
      continue;
    }
    std::vector<Word> buf(r.arity() + 1);
    for (RowId row = 0; row < rel.end(); ++row)
      if (rel.alive(row)) {
        rel.read(row, buf.data());
        logs_[r.id]->insert(buf.data());
      }
  }
  // The outputs' files first: a line printed by this tick is then on disk too.
  if (opts_.after_tick) {
    try {
      opts_.after_tick();
    } catch (const RuntimeError&) {
      throw;
    } catch (const std::exception& e) {
      throw RuntimeError(e.what());
    }
  }
  // stdout is a collection like any other: one line per distinct tuple, sorted.
  std::sort(stdout_lines_.begin(), stdout_lines_.end());
  stdout_lines_.erase(std::unique(stdout_lines_.begin(), stdout_lines_.end()), stdout_lines_.end());
  for (const auto& l : stdout_lines_) {
    if (opts_.print_line) opts_.print_line(l);
    else std::cout << l << '\n';
  }
  if (!opts_.print_line) std::cout.flush();
  stdout_lines_.clear();
}

RunSummary Node::run() {
  RunSummary s;
  started_ = true;
  auto started = std::chrono::steady_clock::now();
  int64_t last_tick = -1;
  if (opts_.progress) {
    engine_.on_progress = [&](const Progress& p) {
      double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      opts_.progress(fmt::format("tick {}, stratum {}, iteration {}: {} tuples derived ({:.0f}/s)", last_tick + 1, p.stratum, p.iteration,
                                 p.derived, secs > 0 ? static_cast<double>(p.derived) / secs : 0.0));
    };
  }
  if (!durable_ready_) recover_durable();
  for (int64_t tick = 0;; ++tick) {
    if (opts_.max_ticks >= 0 && tick >= opts_.max_ticks) {
      s.tick_limit = true;
      break;
    }
    next_tick_ = tick;  // ticks() names the running tick if it throws (an error, out of memory)
    run_tick(tick);
    next_tick_ = tick + 1;
    last_tick = tick;
    s.ticks = tick + 1;
    if (engine_.relation(1).live() > 0) {  // halt()
      s.halted = true;
      break;
    }
    if (!work_pending()) {
      if (timers_.empty() && delayed_.empty()) {
        s.quiescent = true;
        break;
      }
      if (opts_.max_ticks >= 0 && tick + 1 >= opts_.max_ticks) {  // don't wait for a tick that won't run
        s.tick_limit = true;
        break;
      }
      // Only timers and delays remain: sleep until the next one fires.
      std::this_thread::sleep_until(*next_timer());
    }
  }
  s.derived = engine_.progress().derived;
  engine_.on_progress = nullptr;
  if (opts_.progress) opts_.progress("");
  return s;
}

DurableStore::Recovery Node::recover_durable() {
  DurableStore::Recovery rec;
  if (durable_ready_) return rec;
  durable_ready_ = true;
  if (!store_) return rec;
  std::vector<DurableDelta> last;
  std::string where = opts_.durable->path("");
  rec = store_->recover([&](const std::vector<DurableDelta>& deltas) {
    std::vector<bool> drop;
    for (const auto& d : deltas) {
      Relation& rel = engine_.relation(d.relation);
      uint32_t a = rel.arity(), s = stride(a);
      if (d.reset) rel.clear();
      drop.clear();
      bool dropping = false;
      for (size_t i = 0; i + s <= d.removed.size(); i += s) {
        RowId r = rel.find_key_of_row(d.removed.data() + i);
        if (r == kNoRow || !rel.row_equals(r, d.removed.data() + i)) continue;
        if (drop.size() < rel.end()) drop.resize(rel.end(), false);
        drop[r] = true;
        dropping = true;
      }
      if (dropping) rel.rebuild(drop);
      for (size_t i = 0; i + s <= d.added.size(); i += s)
        engine_.insert_checked(d.relation, d.added.data() + i, where, "a row recovered from the data directory");
    }
    last = deltas;
  });
  // The last completed tick's deferred changes: its next tick would have applied them first.
  for (auto& d : last) {
    Pending& p = pending_[d.relation];
    p.inserts = std::move(d.next_inserts);
    p.deletes = std::move(d.next_deletes);
    p.upserts = std::move(d.next_upserts);
    uint32_t s = stride(plan_.relations[d.relation].arity());
    p.insert_rules.assign(p.inserts.size() / s, &recovered_rule_);
    p.upsert_rules.assign(p.upserts.size() / s, &recovered_rule_);
  }
  apply_deferred();
  if (rec.found) {
    recovered_ = true;
    // A fresh snapshot holds what was recovered (with the deferred changes applied, and without
    // a torn record), and the log starts again from it.
    try {
      store_->snapshot(durable_state());
    } catch (const DurableError& e) {
      throw RuntimeError(e.what());
    }
  }
  return rec;
}

void Node::run_tick(int64_t tick) {
  engine_.set_context(self_, tick, clock_.wall_ms());
  for (auto& rows : tick_delays_) rows.clear();  // a failed tick delays nothing
  begin_durable_tick();
  setup_tick(tick);
  engine_.run_fixpoint();
  engine_.run_transitions(*this);
  commit_durable_tick();  // synced before anything of the tick leaves (messages, outputs, stdout)
  finish_tick();
  commit_delays();
}

void Node::begin_durable_tick() {
  if (!store_) return;
  tracking_ = true;
  for (uint32_t id : durable_ids_) {
    const Relation& rel = engine_.relation(id);
    DurableTrack& t = track_[id];
    t.base = rel.end();
    t.generation = rel.generation();
    t.full = false;
    t.removed.clear();
    t.added.clear();
  }
}

void Node::commit_durable_tick() {
  if (!store_) return;
  tracking_ = false;
  std::vector<DurableDelta> deltas;
  for (uint32_t id : durable_ids_) {
    const Relation& rel = engine_.relation(id);
    DurableTrack& t = track_[id];
    DurableDelta d;
    d.relation = id;
    RowId from = t.base;
    if (t.full || t.generation != rel.generation()) {
      d.reset = true;
      from = 0;
    } else {
      d.removed = std::move(t.removed);
      d.added = std::move(t.added);
    }
    fill_delta(d, from);
    if (!d.empty()) deltas.push_back(std::move(d));
  }
  if (deltas.empty()) return;  // nothing durable changed: nothing to wait for
  try {
    store_->commit(deltas);
    if (store_->wants_snapshot()) store_->snapshot(durable_state());
  } catch (const DurableError& e) {
    throw RuntimeError(e.what());
  }
}

void Node::fill_delta(DurableDelta& d, RowId from) const {
  const Relation& rel = engine_.relation(d.relation);
  uint32_t a = rel.arity();
  std::vector<Word> buf(a + 1);
  for (RowId r = from; r < rel.end(); ++r)
    if (rel.alive(r)) {
      rel.read(r, buf.data());
      push_row(d.added, buf.data(), a);
    }
  const Pending& p = pending_[d.relation];
  d.next_inserts = p.inserts;
  d.next_deletes = p.deletes;
  d.next_upserts = p.upserts;
}

std::vector<DurableDelta> Node::durable_state() const {
  std::vector<DurableDelta> out;
  for (uint32_t id : durable_ids_) {
    DurableDelta d;
    d.relation = id;
    d.reset = true;
    fill_delta(d, 0);
    out.push_back(std::move(d));
  }
  return out;
}

uint64_t Node::state_digest() const {
  uint64_t digest = 0;
  std::vector<Word> row;
  for (const auto& r : plan_.relations) {
    const Relation* rel = r.kind == RelationKind::Table || r.kind == RelationKind::Lattice ? &engine_.relation(r.id)
                          : r.kind == RelationKind::Output                                 ? logs_[r.id].get()
                                                                                           : nullptr;
    if (!rel) continue;
    row.resize(r.arity() + 1);
    uint64_t sum = 0;  // a sum of row hashes: the order rows are stored in does not matter
    for (RowId id = 0; id < rel->end(); ++id) {
      if (!rel->alive(id)) continue;
      rel->read(id, row.data());
      uint64_t h = r.id;
      for (uint32_t c = 0; c < r.arity(); ++c) h = hash_combine(h, row[c]);
      sum += mix(h);
    }
    digest = hash_combine(digest, sum + rel->live());
  }
  return digest;
}

std::vector<uint32_t> Node::outputs() const {
  std::vector<uint32_t> out;
  for (const auto& r : plan_.relations)
    if (r.kind == RelationKind::Output) out.push_back(r.id);
  return out;
}

size_t Node::output_size(uint32_t relation) const { return logs_[relation] ? logs_[relation]->live() : 0; }

std::vector<RowId> Node::sorted_rows(const Relation& rel, uint32_t relation) const {
  std::vector<RowId> rows;
  rows.reserve(rel.live());
  for (RowId r = 0; r < rel.end(); ++r)
    if (rel.alive(r)) rows.push_back(r);
  const auto& d = plan_.relations[relation];
  std::sort(rows.begin(), rows.end(), [&](RowId x, RowId y) {
    Relation::RowRef a = rel.row(x), b = rel.row(y);
    for (uint32_t c = 0; c < d.arity(); ++c) {
      const auto& t = d.column_types[c];
      // Sets and maps order by handle: stable within a run, which is all sorting needs here.
      int cmp = t.is_lattice() && t.kind != plan::TypeKind::LMax && t.kind != plan::TypeKind::LMin
                    ? (a[c] < b[c]   ? -1
                       : a[c] > b[c] ? 1
                                     : 0)
                    : lattices_.compare(t.is_lattice() ? t.args[0] : t, a[c], b[c]);
      if (cmp) return cmp < 0;
    }
    return false;
  });
  if (d.stream)  // a stream may hold a row twice: show it once, as a set
    rows.erase(std::unique(rows.begin(), rows.end(),
                           [&](RowId x, RowId y) {
                             Relation::RowRef a = rel.row(x), b = rel.row(y);
                             for (uint32_t c = 0; c < d.arity(); ++c)
                               if (a[c] != b[c]) return false;
                             return true;
                           }),
               rows.end());
  return rows;
}

std::vector<RowId> Node::output_rows(uint32_t relation) const { return sorted_rows(*logs_[relation], relation); }

std::vector<RowId> Node::current_rows(uint32_t relation) const { return sorted_rows(engine_.relation(relation), relation); }

std::string Node::csv_line(uint32_t relation, RowId r) const {
  const auto& d = plan_.relations[relation];
  std::vector<Word> row(d.arity() + 1);
  logs_[relation]->read(r, row.data());
  std::string line;
  for (uint32_t c = 0; c < d.arity(); ++c) {
    if (c) line += '\t';
    line += engine_.format(d.column_types[c], row[c], false);
  }
  return line;
}

void Node::write_output(uint32_t relation, bool csv, std::ostream& out) const {
  const auto& d = plan_.relations[relation];
  const Relation& log = *logs_[relation];
  std::vector<Word> row(d.arity() + 1);
  std::string line;
  for (RowId r : output_rows(relation)) {
    if (csv) {
      line = csv_line(relation, r);
    } else {
      log.read(r, row.data());
      line = engine_.format_row(d, row.data(), true);
    }
    line += '\n';
    out << line;
  }
}

std::string Node::output_text(uint32_t relation, bool csv) const {
  std::ostringstream out;
  write_output(relation, csv, out);
  return out.str();
}

}  // namespace bloom::rt
