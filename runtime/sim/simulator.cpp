#include "sim/simulator.h"

#include <algorithm>
#include <chrono>
#include <set>
#include <unordered_map>

#include <absl/container/flat_hash_map.h>
#include <fmt/format.h>

#include "net/wire.h"
#include "node/node.h"
#include "plan/print.h"
#include "sim/invariant.h"

namespace bloom::rt::sim {

const char* to_string(End e) {
  switch (e) {
    case End::Quiescent: return "quiescent";
    case End::MaxSteps: return "max-steps";
    case End::Violation: return "violation";
    case End::Error: return "error";
    case End::Mismatch: return "mismatch";
  }
  return "?";
}

namespace {

// Where virtual wall-clock time starts (2026-01-01T00:00:00Z), so now() looks like a date.
constexpr int64_t kEpochMs = 1'767'225'600'000;

// splitmix64: a fixed generator (and no std:: distribution, whose results differ between
// standard libraries), so a seed means the same run everywhere.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  uint64_t below(uint64_t n) { return n ? next() % n : 0; }
  int64_t between(int64_t lo, int64_t hi) { return lo + static_cast<int64_t>(below(static_cast<uint64_t>(hi - lo) + 1)); }
  // No draw at all for p = 0, so a run without faults is the same run whatever faults are off.
  bool chance(double p) { return p > 0 && static_cast<double>(next() >> 11) * 0x1.0p-53 < p; }

 private:
  uint64_t state_;
};

class VirtualClock final : public NodeClock {
 public:
  VirtualClock(const int64_t& now_us, int64_t skew_us) : now_us_(now_us), skew_us_(skew_us) {}
  time_point monotonic() const override {
    return time_point(std::chrono::duration_cast<time_point::duration>(std::chrono::microseconds(now_us_)));
  }
  int64_t wall_ms() const override { return kEpochMs + (now_us_ + skew_us_) / 1000; }

 private:
  const int64_t& now_us_;
  int64_t skew_us_;
};

struct Message {
  uint64_t id = 0;
  size_t from = 0, to = 0;
  std::string channel;
  std::string bytes;                // the wire encoding (runtime/net/wire.h)
  std::vector<std::string> tuples;  // as text, sorted
};

std::string content_key(std::string_view from, std::string_view to, std::string_view channel, const std::vector<std::string>& tuples) {
  std::string k = fmt::format("{}\x1f{}\x1f{}", from, to, channel);
  for (const auto& t : tuples) (k += '\x1f') += t;
  return k;
}

struct Action {
  enum Kind { Tick, Crash, Restart, Partition, Heal } kind = Tick;
  int64_t time_us = 0;
  size_t node = 0;
  std::vector<uint64_t> deliver;
  std::vector<std::vector<std::string>> groups;
};

enum class Fate { Deliver, Drop, Dup };

class World;

// Decides what happens: the next step, and what the network does with each message sent.
class Policy {
 public:
  virtual ~Policy() = default;
  virtual int64_t skew_us(size_t node) = 0;  // asked once per node, before the run
  virtual std::optional<Action> next(World& w) = 0;
  virtual Fate fate(const Message& m) = 0;
  // After each step: the events it recorded, from `first` on. false (and why) stops the run.
  virtual bool check(const World&, size_t /*first*/, std::string& /*why*/) { return true; }
};

class World {
 public:
  World(const SimOptions& o, uint64_t seed) : opts_(o), idle_us_(o.idle_us) {
    if (idle_us_ <= 0)
      for (const auto& n : o.nodes)
        for (const auto& r : n.plan->relations) idle_us_ = std::max(idle_us_, 2 * r.period_ms * 1000);
    trace_.seed = seed;
    trace_.faults = o.faults.str();
    trace_.max_steps = o.max_steps;
    for (const auto& n : o.nodes) {
      index_.emplace(n.name, trace_.nodes.size());
      trace_.nodes.push_back(n.name);
      trace_.plans[n.name] = n.fingerprint.empty() ? plan_fingerprint(*n.plan) : n.fingerprint;
    }
  }

  RunResult run(Policy& policy) {
    nodes_.resize(opts_.nodes.size());
    inflight_.resize(nodes_.size());
    for (size_t i = 0; i < nodes_.size(); ++i) {
      nodes_[i].skew_us = policy.skew_us(i);
      trace_.skew_us[opts_.nodes[i].name] = nodes_[i].skew_us;
    }
    policy_ = &policy;
    for (size_t i = 0; i < nodes_.size() && !ended_; ++i) start_node(i);
    while (!ended_) {
      if (step_ >= opts_.max_steps) {
        end(End::MaxSteps);
        result_.pending = pending_report();
        break;
      }
      size_t first = trace_.events.size();
      auto action = policy.next(*this);
      if (!action) {
        if (quiescent()) check_invariant(true);
        if (!ended_) end(quiescent() ? End::Quiescent : End::MaxSteps);
        if (result_.end == End::MaxSteps) result_.pending = pending_report();
        break;
      }
      apply(*action);
      std::string why;
      if (!policy.check(*this, first, why)) {
        end(End::Mismatch);
        result_.error = why;
      }
    }
    result_.steps = step_;
    result_.delivered = delivered_;
    for (size_t i = 0; i < nodes_.size() && (opts_.outputs || opts_.record); ++i) {
      Node* n = nodes_[i].node.get();
      if (!n) continue;
      auto& outs = result_.outputs[opts_.nodes[i].name];
      for (uint32_t id : n->outputs()) {
        const std::string& name = n->plan().relations[id].name;
        outs[name] = {n->output_text(id, false), n->output_text(id, true)};
        trace_.outputs[opts_.nodes[i].name][name] = outs[name].text;
      }
    }
    trace_.end = to_string(result_.end);
    trace_.end_time_us = now_us_;
    trace_.violations = result_.violations;
    result_.trace = std::move(trace_);
    return std::move(result_);
  }

  // ---- what policies read
  int64_t time() const { return now_us_; }
  void advance(int64_t t) { now_us_ = std::max(now_us_, t); }
  size_t size() const { return nodes_.size(); }
  const std::string& name(size_t i) const { return opts_.nodes[i].name; }
  std::optional<size_t> index_of(std::string_view name) const {
    auto it = index_.find(name);
    return it == index_.end() ? std::nullopt : std::optional<size_t>(it->second);
  }
  bool up(size_t i) const { return nodes_[i].node != nullptr; }
  bool halted(size_t i) const { return nodes_[i].halted; }
  bool partitioned() const { return partitioned_; }
  const std::vector<Message>& inflight(size_t i) const { return inflight_[i]; }
  // A node receives nothing in its first tick, which holds its facts and inputs only (as a
  // deployed node does: runtime/dist/deployed_node.cpp).
  bool first_tick(size_t i) const { return nodes_[i].node->ticks() == 0; }
  // Work of its own: tick 0 not run, deferred changes, a due timer (messages aside).
  bool local_work(size_t i) const {
    const NodeState& s = nodes_[i];
    return first_tick(i) || s.deferred || s.node->timer_due();
  }
  bool enabled(size_t i) const { return up(i) && !halted(i) && (!inflight_[i].empty() || local_work(i)); }
  std::vector<size_t> enabled_nodes() const {
    std::vector<size_t> out;
    for (size_t i = 0; i < nodes_.size(); ++i)
      if (enabled(i)) out.push_back(i);
    return out;
  }
  // The earliest timer of a running node.
  std::optional<int64_t> next_timer_us() const {
    std::optional<int64_t> best;
    for (const auto& s : nodes_) {
      if (!s.node || s.halted) continue;
      if (auto t = s.node->next_timer()) {
        int64_t us = std::chrono::duration_cast<std::chrono::microseconds>(t->time_since_epoch()).count();
        best = best ? std::min(*best, us) : us;
      }
    }
    return best;
  }
  const std::vector<Event>& events() const { return trace_.events; }
  // Nothing in flight, no node down, no partition, no work but timers, and those idle for
  // idle_us.
  bool quiescent() const {
    if (partitioned_) return false;
    for (size_t i = 0; i < nodes_.size(); ++i) {
      if (!up(i) || !inflight_[i].empty()) return false;
      if (halted(i)) continue;
      if (nodes_[i].node->ticks() == 0 || nodes_[i].deferred || nodes_[i].node->delays_pending()) return false;
    }
    return !next_timer_us() || now_us_ - last_activity_us_ >= idle_us_;
  }

 private:
  struct NodeState;
  class Link final : public NodeNetwork {
   public:
    Link(World& w, size_t self) : world_(w), self_(self) {}
    bool knows(std::string_view node) const override {
      auto i = world_.index_of(node);
      return i && *i != self_;
    }
    void send(std::string_view node, uint32_t relation, const Word* rows, size_t count) override {
      world_.on_send(self_, *world_.index_of(node), relation, rows, count);
    }

   private:
    World& world_;
    size_t self_;
  };
  struct NodeState {
    int64_t skew_us = 0;
    std::unique_ptr<VirtualClock> clock;
    std::unique_ptr<Link> link;
    std::unique_ptr<Node> node;  // null while down
    std::unique_ptr<net::Codec> codec;
    // The node's durable tables (docs/deploy.md), in memory: the one thing a crash leaves. The
    // restart recovers from it with the code a restarted process uses.
    std::unique_ptr<MemoryFiles> store;
    bool halted = false;
    // Node::work_pending() after its last tick: only a tick changes it (messages are given to
    // the node at the start of the tick that takes them), and the scheduler asks every step.
    bool deferred = false;
    int group = 0;  // its side of a partition
    std::vector<std::string> stdout_lines;
  };

  // The next event of the trace; without recording, a scratch event that is overwritten.
  Event& record(EventKind kind, const std::string& node = {}) {
    Event& e = opts_.record ? trace_.events.emplace_back() : (scratch_ = Event{});
    e.kind = kind;
    e.step = step_;
    e.time_us = now_us_;
    if (opts_.record) e.node = node;
    return e;
  }
  void end(End e) {
    ended_ = true;
    result_.end = e;
  }
  void fail(const std::string& error) {
    record(EventKind::Error).detail = error;
    result_.error = error;
    end(End::Error);
  }

  void start_node(size_t i) {
    NodeState& s = nodes_[i];
    const SimNode& spec = opts_.nodes[i];
    s.clock = std::make_unique<VirtualClock>(now_us_, s.skew_us);
    s.link = std::make_unique<Link>(*this, i);
    s.halted = false;
    s.deferred = false;
    NodeOptions no;
    no.name = spec.name;
    for (const auto& n : opts_.nodes) no.members.push_back(n.name);
    no.network = s.link.get();
    no.clock = s.clock.get();
    no.native = opts_.native;
    no.print_line = [&s](const std::string& line) { s.stdout_lines.push_back(line); };
    if (!s.store) s.store = std::make_unique<MemoryFiles>();
    no.durable = s.store.get();
    s.node = std::make_unique<Node>(*spec.plan, no);
    s.codec = std::make_unique<net::Codec>(*spec.plan, s.node->symbols(), s.node->lattices());
    try {
      s.node->recover_durable();
      if (!spec.facts_dir.empty()) {
        std::vector<std::string> missing;
        s.node->load_inputs(spec.facts_dir, missing);
      }
    } catch (const std::exception& e) {
      return fail(fmt::format("node `{}`: {}", spec.name, e.what()));
    }
    if (opts_.observer) opts_.observer->started(spec.name, *s.node);
  }

  void lose_inflight(size_t i, const char* why) {
    for (const auto& m : inflight_[i]) {
      Event& e = record(EventKind::Lost, name(m.from));
      e.message = m.id;
      e.to = name(i);
      e.detail = why;
    }
    inflight_[i].clear();
  }

  void apply(const Action& a) {
    advance(a.time_us);
    if (a.kind != Action::Tick) last_activity_us_ = now_us_;
    switch (a.kind) {
      case Action::Tick: tick(a.node, a.deliver); break;
      case Action::Crash:
        record(EventKind::Crash, name(a.node));
        nodes_[a.node].codec.reset();
        nodes_[a.node].node.reset();
        nodes_[a.node].stdout_lines.clear();
        lose_inflight(a.node, "crashed");
        break;
      case Action::Restart:
        record(EventKind::Restart, name(a.node));
        start_node(a.node);
        break;
      case Action::Partition: {
        record(EventKind::Partition).groups = a.groups;
        for (size_t i = 0; i < nodes_.size(); ++i) {
          nodes_[i].group = 0;
          for (size_t g = 0; g < a.groups.size(); ++g)
            if (std::find(a.groups[g].begin(), a.groups[g].end(), name(i)) != a.groups[g].end()) nodes_[i].group = static_cast<int>(g);
        }
        partitioned_ = true;
        break;
      }
      case Action::Heal:
        record(EventKind::Heal);
        for (auto& s : nodes_) s.group = 0;
        partitioned_ = false;
        break;
    }
    ++step_;
  }

  void tick(size_t i, const std::vector<uint64_t>& ids) {
    NodeState& s = nodes_[i];
    Node& node = *s.node;
    size_t at = trace_.events.size();
    if (opts_.record) {
      Event& e = record(EventKind::Tick, name(i));
      e.tick = node.ticks();
      e.deliver = ids;
    }
    // A tick for its timers alone may leave everything as it was: then it does not count as
    // activity, and a run whose nodes only tick idly like this ends (quiescent()).
    bool timers_only = ids.empty() && node.ticks() > 0 && !s.deferred;
    uint64_t digest = timers_only ? node.state_digest() : 0;
    uint64_t sent = next_message_;
    auto& box = inflight_[i];
    net::Codec::Message msg;
    std::string why;
    if (!ids.empty() && first_tick(i))
      return fail(fmt::format("step {}: node `{}` receives messages in its first tick, which holds its inputs only", step_, name(i)));
    for (uint64_t id : ids) {
      auto it = std::find_if(box.begin(), box.end(), [&](const Message& m) { return m.id == id; });
      if (it == box.end()) return fail(fmt::format("step {}: message {} is not in flight to node `{}`", step_, id, name(i)));
      if (!s.codec->decode(it->bytes, msg, why))
        return fail(
            fmt::format("node `{}` refused message {} from `{}` on channel `{}`: {}", name(i), id, name(it->from), it->channel, why));
      if (opts_.observer) opts_.observer->received(name(i), node, id, name(it->from), msg.relation, msg.rows.data(), msg.count);
      node.deliver(msg.relation, msg.rows.data(), msg.count);
      box.erase(it);
      ++delivered_;
    }
    try {
      s.halted = node.step();
    } catch (const RuntimeError& e) {
      return fail(fmt::format("runtime error on node `{}` in tick {}: {}", name(i), node.ticks(), e.what()));
    }
    s.deferred = node.work_pending();
    bool idle = timers_only && next_message_ == sent && s.stdout_lines.empty() && !s.deferred && node.state_digest() == digest;
    if (!idle) last_activity_us_ = now_us_;
    if (opts_.record) {
      Event& e = trace_.events[at];
      e.stdout_lines = std::move(s.stdout_lines);
      for (uint32_t t : node.fired_timers()) e.timers.push_back(node.plan().relations[t].name);
    }
    s.stdout_lines.clear();
    if (s.halted) lose_inflight(i, "halted");
    check_invariant(false);
  }

  void on_send(size_t from, size_t to, uint32_t relation, const Word* rows, size_t count) {
    NodeState& s = nodes_[from];
    const auto& decl = s.node->plan().relations[relation];
    Message m;
    m.id = next_message_++;
    m.from = from;
    m.to = to;
    m.channel = decl.name;
    try {
      m.bytes = s.codec->encode(relation, rows, count, name(from));
    } catch (const std::length_error& e) {
      throw RuntimeError(
          fmt::format("channel `{}`: {} rows to node `{}` do not fit in one message: {}", decl.name, count, name(to), e.what()));
    }
    if (opts_.record) {
      uint32_t arity = decl.arity();
      for (size_t r = 0; r < count; ++r) m.tuples.push_back(s.node->engine().format_row(decl, rows + r * arity, true));
      std::sort(m.tuples.begin(), m.tuples.end());
      Event& e = record(EventKind::Send, name(from));
      e.tick = s.node->ticks() - 1;  // sent at the end of the tick that just ran
      e.message = m.id;
      e.to = name(to);
      e.channel = m.channel;
      e.tuples = m.tuples;
    }
    const char* lost = !up(to) ? "node down" : halted(to) ? "halted" : nodes_[from].group != nodes_[to].group ? "partitioned" : nullptr;
    if (lost) {
      Event& e = record(EventKind::Lost, name(from));
      e.message = m.id;
      e.to = name(to);
      e.detail = lost;
      return;
    }
    switch (policy_->fate(m)) {
      case Fate::Drop: {
        Event& e = record(EventKind::Drop, name(from));
        e.message = m.id;
        e.to = name(to);
        return;
      }
      case Fate::Dup: {
        Message copy = m;
        copy.id = next_message_++;
        Event& e = record(EventKind::Dup, name(from));
        e.message = copy.id;
        e.of = m.id;
        e.to = name(to);
        inflight_[to].push_back(std::move(m));
        inflight_[to].push_back(std::move(copy));
        return;
      }
      case Fate::Deliver: inflight_[to].push_back(std::move(m)); return;
    }
  }

  void check_invariant(bool final) {
    if (!opts_.invariant || ended_) return;
    std::vector<Node*> live;
    for (auto& s : nodes_) live.push_back(s.node.get());
    std::vector<std::string> rows;
    try {
      rows = opts_.invariant->check(live, final);
    } catch (const RuntimeError& e) {
      return fail(fmt::format("the invariant failed: {}", e.what()));
    }
    if (rows.empty()) return;
    Event& e = record(EventKind::Violation);
    e.tuples = rows;
    e.detail = final ? "final_violation" : "violation";
    result_.violations = rows;
    end(End::Violation);
  }

  std::string pending_report() const {
    std::string out;
    for (size_t i = 0; i < nodes_.size(); ++i) {
      if (!up(i)) {
        out += fmt::format("\n  node `{}`: down", name(i));
        continue;
      }
      if (halted(i)) continue;
      std::vector<std::string> why;
      if (!inflight_[i].empty())
        why.push_back(fmt::format("{} message{} in flight to it", inflight_[i].size(), inflight_[i].size() == 1 ? "" : "s"));
      const Node& n = *nodes_[i].node;
      if (nodes_[i].deferred) why.push_back("deferred changes pending");
      if (size_t d = n.delays_pending()) why.push_back(fmt::format("{} delayed tuple{} not arrived yet", d, d == 1 ? "" : "s"));
      else if (n.next_timer()) why.push_back("periodic timers (it never halted)");
      if (!why.empty()) out += fmt::format("\n  node `{}` (tick {}): {}", name(i), n.ticks(), fmt::join(why, ", "));
    }
    return out;
  }

  const SimOptions& opts_;
  absl::flat_hash_map<std::string_view, size_t> index_;  // node name -> index (names live in opts_)
  Policy* policy_ = nullptr;
  std::vector<NodeState> nodes_;
  std::vector<std::vector<Message>> inflight_;  // per receiver, in send order
  int64_t now_us_ = 0, step_ = 0, idle_us_ = 0, last_activity_us_ = 0;
  uint64_t next_message_ = 1, delivered_ = 0;
  bool partitioned_ = false, ended_ = false;
  Trace trace_;
  RunResult result_;
  Event scratch_;  // the event record() hands out when not recording
};

// ---------------------------------------------------------------------------------- policies

class SeededPolicy final : public Policy {
 public:
  SeededPolicy(const Faults& f, uint64_t seed, size_t nodes)
      : rng_(seed), faults_(f), crashes_left_(f.crashes), partitions_left_(f.partitions), restart_at_(nodes, -1) {}

  int64_t skew_us(size_t) override { return faults_.skew_us > 0 ? rng_.between(-faults_.skew_us, faults_.skew_us) : 0; }

  std::optional<Action> next(World& w) override {
    // A step takes between 0.1 and 1 ms of virtual time.
    w.advance(w.time() + rng_.between(100, 1000));
    for (;;) {
      int64_t t = w.time();
      if (w.quiescent()) return std::nullopt;
      for (size_t i = 0; i < restart_at_.size(); ++i)
        if (restart_at_[i] >= 0 && restart_at_[i] <= t) {
          restart_at_[i] = -1;
          return Action{Action::Restart, t, i, {}, {}};
        }
      if (heal_at_ >= 0 && heal_at_ <= t) {
        heal_at_ = -1;
        return Action{Action::Heal, t, 0, {}, {}};
      }
      if ((crashes_left_ > 0 || partitions_left_ > 0) && rng_.chance(faults_.rate)) {
        if (auto a = fault(w)) return a;
      }
      std::vector<size_t> enabled = w.enabled_nodes();
      if (enabled.empty()) {
        // Nothing to do now: jump to the next timer, restart or heal.
        std::optional<int64_t> wake = w.next_timer_us();
        for (int64_t r : restart_at_)
          if (r >= 0) wake = wake ? std::min(*wake, r) : r;
        if (heal_at_ >= 0) wake = wake ? std::min(*wake, heal_at_) : heal_at_;
        if (!wake) return std::nullopt;
        w.advance(*wake);
        continue;
      }
      size_t i = enabled[rng_.below(enabled.size())];
      const auto& box = w.inflight(i);
      Action a{Action::Tick, t, i, {}, {}};
      // Each message in flight to it arrives in this tick with probability 1/2: any subset, so
      // any grouping into ticks and any order between senders can happen.
      if (w.first_tick(i)) return a;
      for (const auto& m : box)
        if (rng_.below(2) == 0) a.deliver.push_back(m.id);
      if (a.deliver.empty() && !box.empty() && !w.local_work(i)) a.deliver.push_back(box[rng_.below(box.size())].id);
      for (size_t k = a.deliver.size(); k > 1; --k) std::swap(a.deliver[k - 1], a.deliver[rng_.below(k)]);
      return a;
    }
  }

  Fate fate(const Message&) override {
    if (rng_.chance(faults_.drop)) return Fate::Drop;
    if (rng_.chance(faults_.dup)) return Fate::Dup;
    return Fate::Deliver;
  }

 private:
  std::optional<Action> fault(World& w) {
    int64_t t = w.time();
    bool crash = crashes_left_ > 0 && (partitions_left_ == 0 || rng_.below(2) == 0);
    if (crash) {
      std::vector<size_t> up;
      for (size_t i = 0; i < w.size(); ++i)
        if (w.up(i) && !w.halted(i)) up.push_back(i);
      if (up.empty()) return std::nullopt;
      size_t i = up[rng_.below(up.size())];
      --crashes_left_;
      restart_at_[i] = t + rng_.between(1000, std::max<int64_t>(1000, faults_.downtime_us));
      return Action{Action::Crash, t, i, {}, {}};
    }
    if (w.partitioned() || w.size() < 2) return std::nullopt;
    std::vector<int> side(w.size());
    for (auto& s : side) s = static_cast<int>(rng_.below(2));
    if (std::all_of(side.begin(), side.end(), [&](int s) { return s == side[0]; })) side[rng_.below(side.size())] ^= 1;
    Action a{Action::Partition, t, 0, {}, {{}, {}}};
    for (size_t i = 0; i < w.size(); ++i) a.groups[side[i]].push_back(w.name(i));
    --partitions_left_;
    heal_at_ = t + rng_.between(1000, std::max<int64_t>(1000, faults_.heal_us));
    return a;
  }

  Rng rng_;
  const Faults& faults_;
  int crashes_left_, partitions_left_;
  std::vector<int64_t> restart_at_;
  int64_t heal_at_ = -1;
};

std::optional<Action> action_of(const World& w, const Event& e) {
  Action a;
  a.time_us = e.time_us;
  switch (e.kind) {
    case EventKind::Tick: a.kind = Action::Tick; break;
    case EventKind::Crash: a.kind = Action::Crash; break;
    case EventKind::Restart: a.kind = Action::Restart; break;
    case EventKind::Partition: a.kind = Action::Partition; break;
    case EventKind::Heal: a.kind = Action::Heal; break;
    default: return std::nullopt;
  }
  if (a.kind == Action::Tick || a.kind == Action::Crash || a.kind == Action::Restart) {
    auto i = w.index_of(e.node);
    if (!i) return std::nullopt;
    a.node = *i;
  }
  a.deliver = e.deliver;
  a.groups = e.groups;
  return a;
}

std::string describe(const Event& e) {
  std::string s = fmt::format("step {} at {} us: {}", e.step, e.time_us, to_string(e.kind));
  if (!e.node.empty()) s += " " + e.node;
  if (e.kind == EventKind::Tick) s += fmt::format(" tick {} receiving [{}]", e.tick, fmt::join(e.deliver, ", "));
  if (e.kind == EventKind::Send) s += fmt::format(" message {} to {} on `{}`: {}", e.message, e.to, e.channel, fmt::join(e.tuples, " "));
  if (e.kind == EventKind::Violation) s += ": " + fmt::format("{}", fmt::join(e.tuples, " "));
  if (!e.detail.empty() && e.kind != EventKind::Violation) s += " (" + e.detail + ")";
  return s;
}

// A replay gives each node the now() offset its trace recorded.
int64_t recorded_skew(const Trace& t, size_t node) {
  auto it = t.skew_us.find(t.nodes[node]);
  return it == t.skew_us.end() ? 0 : it->second;
}

class StrictPolicy final : public Policy {
 public:
  explicit StrictPolicy(const Trace& t) : trace_(t) {
    for (const auto& e : t.events) {
      if (e.kind == EventKind::Drop) drops_.insert(e.message);
      if (e.kind == EventKind::Dup) dups_.insert(e.of);
    }
  }
  int64_t skew_us(size_t node) override { return recorded_skew(trace_, node); }
  std::optional<Action> next(World& w) override {
    if (pos_ >= trace_.events.size()) {
      w.advance(trace_.end_time_us);  // idle timers may have ended the run some time after its last event
      return std::nullopt;
    }
    const Event& e = trace_.events[pos_];
    auto a = action_of(w, e);
    // An event no step produces here (a send or a loss the run did not make) ends the run;
    // leftover() then names it.
    return a;
  }
  Fate fate(const Message& m) override { return drops_.count(m.id) ? Fate::Drop : dups_.count(m.id) ? Fate::Dup : Fate::Deliver; }
  bool check(const World& w, size_t first, std::string& why) override {
    const auto& got = w.events();
    for (size_t k = first; k < got.size(); ++k, ++pos_) {
      if (pos_ >= trace_.events.size()) {
        why = fmt::format("the run went on after the trace ended: {}", describe(got[k]));
        return false;
      }
      if (!(got[k] == trace_.events[pos_])) {
        why = fmt::format("event {} differs\n  trace: {}\n  run:   {}", pos_, describe(trace_.events[pos_]), describe(got[k]));
        return false;
      }
    }
    return true;
  }
  // What the trace holds beyond the run (empty when the run used all of it).
  std::string leftover() const {
    if (pos_ >= trace_.events.size()) return "";
    return fmt::format("the trace goes on after the run ended: event {}: {}", pos_, describe(trace_.events[pos_]));
  }

 private:
  const Trace& trace_;
  size_t pos_ = 0;
  std::set<uint64_t> drops_, dups_;
};

class LenientPolicy final : public Policy {
 public:
  LenientPolicy(const Trace& original, const std::vector<Event>& decisions) : trace_(original), decisions_(decisions) {
    for (const auto& e : original.events) {
      if (e.kind == EventKind::Send) content_[e.message] = content_key(e.node, e.to, e.channel, e.tuples);
      if (e.kind == EventKind::Dup) content_[e.message] = content_[e.of];
    }
    for (const auto& d : decisions) {
      if (d.kind == EventKind::Drop) fates_[content_[d.message]].push_back(Fate::Drop);
      if (d.kind == EventKind::Dup) fates_[content_[d.of]].push_back(Fate::Dup);
    }
  }
  int64_t skew_us(size_t node) override { return recorded_skew(trace_, node); }
  std::optional<Action> next(World& w) override {
    while (pos_ < decisions_.size()) {
      const Event& d = decisions_[pos_++];
      auto a = action_of(w, d);
      if (!a) continue;  // drops and duplicates act when their message is sent
      w.advance(d.time_us);
      a->time_us = w.time();
      switch (a->kind) {
        case Action::Tick: {
          if (!w.up(a->node) || w.halted(a->node)) continue;
          // The recorded messages, found again by content among those in flight now.
          std::vector<uint64_t> ids;
          const auto& box = w.inflight(a->node);
          for (uint64_t id : w.first_tick(a->node) ? std::vector<uint64_t>{} : d.deliver) {
            auto c = content_.find(id);
            if (c == content_.end()) continue;
            for (const auto& m : box)
              if (std::find(ids.begin(), ids.end(), m.id) == ids.end() &&
                  content_key(w.name(m.from), w.name(m.to), m.channel, m.tuples) == c->second) {
                ids.push_back(m.id);
                break;
              }
          }
          if (ids.empty() && !w.enabled(a->node)) continue;
          a->deliver = std::move(ids);
          return a;
        }
        case Action::Crash:
          if (!w.up(a->node)) continue;
          return a;
        case Action::Restart:
          if (w.up(a->node)) continue;
          return a;
        case Action::Partition:
          if (w.partitioned()) continue;
          return a;
        case Action::Heal:
          if (!w.partitioned()) continue;
          return a;
      }
    }
    // The decisions are used up: finish fairly. Heal, restart, then deliver everything to one
    // enabled node after another.
    w.advance(w.time() + 1000);
    if (w.partitioned()) return Action{Action::Heal, w.time(), 0, {}, {}};
    if (w.quiescent()) return std::nullopt;
    for (size_t i = 0; i < w.size(); ++i)
      if (!w.up(i)) return Action{Action::Restart, w.time(), i, {}, {}};
    for (int round = 0; round < 2; ++round) {
      for (size_t k = 0; k < w.size(); ++k) {
        size_t i = (next_node_ + k) % w.size();
        if (!w.enabled(i)) continue;
        next_node_ = i + 1;
        Action a{Action::Tick, w.time(), i, {}, {}};
        if (!w.first_tick(i))
          for (const auto& m : w.inflight(i)) a.deliver.push_back(m.id);
        return a;
      }
      auto wake = w.next_timer_us();
      if (!wake) return std::nullopt;
      w.advance(*wake);
    }
    return std::nullopt;
  }
  Fate fate(const Message& m) override {
    auto f = fates_.find(key_of(m));
    if (f == fates_.end() || f->second.empty()) return Fate::Deliver;
    Fate out = f->second.front();
    f->second.erase(f->second.begin());
    return out;
  }
  void bind(const World& w) { world_ = &w; }

 private:
  std::string key_of(const Message& m) const { return content_key(world_->name(m.from), world_->name(m.to), m.channel, m.tuples); }

  const Trace& trace_;
  const std::vector<Event>& decisions_;
  const World* world_ = nullptr;
  size_t pos_ = 0, next_node_ = 0;
  std::unordered_map<uint64_t, std::string> content_;
  std::unordered_map<std::string, std::vector<Fate>> fates_;
};

// FNV-1a 64 of the plan's JSON without source locations, so the same program read from another
// directory has the same fingerprint.
void strip_locations(nlohmann::json& j) {
  if (j.is_object()) {
    j.erase("where");
    for (auto& [k, v] : j.items()) strip_locations(v);
  } else if (j.is_array()) {
    for (auto& v : j) strip_locations(v);
  }
}

}  // namespace

std::string plan_fingerprint(const plan::Program& plan) {
  nlohmann::json j = plan::to_json(plan);
  strip_locations(j);
  std::string text = j.dump();
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : text) h = (h ^ c) * 0x100000001b3ULL;
  return fmt::format("{:016x}", h);
}

std::vector<Event> decisions_of(const Trace& trace) {
  std::vector<Event> out;
  for (const auto& e : trace.events)
    if (e.kind == EventKind::Tick || e.kind == EventKind::Drop || e.kind == EventKind::Dup || e.kind == EventKind::Crash ||
        e.kind == EventKind::Restart || e.kind == EventKind::Partition || e.kind == EventKind::Heal)
      out.push_back(e);
  return out;
}

RunResult run_seeded(const SimOptions& options, uint64_t seed) {
  World w(options, seed);
  SeededPolicy p(options.faults, seed, options.nodes.size());
  return w.run(p);
}

RunResult replay_strict(const SimOptions& options, const Trace& trace) {
  SimOptions o = options;
  o.max_steps = trace.max_steps;
  o.record = true;  // the replay checks its events against the trace's
  World w(o, trace.seed);
  StrictPolicy p(trace);
  RunResult r = w.run(p);
  if (r.end != End::Mismatch) {
    std::string left = p.leftover();
    if (!left.empty()) {
      r.end = End::Mismatch;
      r.error = left;
    } else if (to_string(r.end) != trace.end) {
      r.error = fmt::format("the run ended `{}`, the trace `{}`", to_string(r.end), trace.end);
      r.end = End::Mismatch;
    }
  }
  r.trace.faults = trace.faults;
  return r;
}

RunResult replay_lenient(const SimOptions& options, const Trace& original, const std::vector<Event>& decisions) {
  SimOptions o = options;
  o.record = true;  // messages are matched by their tuples, and the result is a trace
  World w(o, original.seed);
  LenientPolicy p(original, decisions);
  p.bind(w);
  RunResult r = w.run(p);
  r.trace.faults = original.faults;
  return r;
}

}  // namespace bloom::rt::sim
