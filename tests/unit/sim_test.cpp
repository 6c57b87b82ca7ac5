// runtime/sim: the deterministic simulator (seeded schedules, faults, invariants, traces,
// replay, minimization) on small deployments compiled from text.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "driver/driver.h"
#include "sim/explain.h"
#include "sim/faults.h"
#include "sim/invariant.h"
#include "sim/simulator.h"
#include "sim/trace.h"

namespace bloom::rt::sim {
namespace {

std::unique_ptr<plan::Program> plan_text(const std::string& name, const std::string& text) {
  auto c = compile_text(name, text);
  std::string all;
  for (const auto& d : c->diags.all()) all += d.message + "\n";
  EXPECT_TRUE(c->ok()) << all;
  if (!c->ok()) return nullptr;
  std::string error;
  auto p = plan_of(*c, error);
  EXPECT_TRUE(p) << error;
  return p;
}

// A node of a test deployment: no facts; its plan fingerprinted per run.
SimNode node(std::string name, const plan::Program* plan) {
  SimNode n;
  n.name = std::move(name);
  n.plan = plan;
  return n;
}

// `a` sends five pings to `b` in its first tick; `b` answers each with a pong.
constexpr const char* kPinger = R"(
channel ping(@dst: addr, src: addr, i: int);
channel pong(@dst: addr, src: addr, i: int);
table todo(i: int);
todo(1); todo(2); todo(3); todo(4); todo(5);
table done(i: int);
ping(@"b", self(), i) <~ todo(i), not done(i);
done(i) <+ todo(i);
output got(i: int);
got(i) <= pong(_, _, i);
)";
constexpr const char* kPonger = R"(
channel ping(@dst: addr, src: addr, i: int);
channel pong(@dst: addr, src: addr, i: int);
pong(@s, self(), i) <~ ping(_, s, i);
output seen(i: int);
seen(i) <= ping(_, _, i);
)";

struct Deployment {
  std::unique_ptr<plan::Program> a, b;
  SimOptions options;
  Deployment(const char* pa = kPinger, const char* pb = kPonger) : a(plan_text("a.bloom", pa)), b(plan_text("b.bloom", pb)) {
    options.nodes = {node("a", a.get()), node("b", b.get())};
    options.max_steps = 10000;
  }
};

Faults faults(const std::string& spec) {
  std::string error;
  auto f = parse_faults(spec, error);
  EXPECT_TRUE(f) << error;
  return f.value_or(Faults{});
}

// The first event of kind `k` in [from, end).
template <class It>
It first_of(It from, It end, EventKind k) {
  return std::find_if(from, end, [&](const Event& e) { return e.kind == k; });
}

size_t count(const Trace& t, EventKind k) {
  return static_cast<size_t>(std::count_if(t.events.begin(), t.events.end(), [&](const Event& e) { return e.kind == k; }));
}

std::string output(const RunResult& r, const std::string& node, const std::string& name) {
  auto n = r.outputs.find(node);
  if (n == r.outputs.end()) return "(node has no outputs)";
  auto o = n->second.find(name);
  return o == n->second.end() ? "(no such output)" : o->second.text;
}

constexpr const char* kFivePongs = "got(1)\ngot(2)\ngot(3)\ngot(4)\ngot(5)\n";

TEST(SimTest, EveryMessageArrivesWithoutFaults) {
  Deployment d;
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    RunResult r = run_seeded(d.options, seed);
    ASSERT_EQ(r.end, End::Quiescent) << "seed " << seed << ": " << r.error << r.pending;
    EXPECT_EQ(output(r, "a", "got"), kFivePongs) << "seed " << seed;
    EXPECT_EQ(r.delivered, count(r.trace, EventKind::Send));
  }
}

TEST(SimTest, OneSeedIsOneByteIdenticalRun) {
  Deployment d;
  d.options.faults = faults("drop=0.2,dup=0.2");
  std::string first = trace_to_json(run_seeded(d.options, 42).trace);
  EXPECT_EQ(trace_to_json(run_seeded(d.options, 42).trace), first);
  // Seeds choose different schedules (these two do: their first ticks differ).
  EXPECT_NE(trace_to_json(run_seeded(d.options, 43).trace), first);
}

TEST(SimTest, SchedulesGroupMessagesIntoTicksDifferently) {
  // One message from each of two senders to one receiver: some seeds deliver both in one
  // tick, others in two.
  constexpr const char* kSender = R"(
channel note(@dst: addr, src: addr);
table sent();
note(@"c", self()) <~ not sent();
sent() <+ not sent();
)";
  constexpr const char* kReceiver = R"(
channel note(@dst: addr, src: addr);
output together(n: int);
together(count()) <= note(_, _);
)";
  auto s = plan_text("s.bloom", kSender), c = plan_text("c.bloom", kReceiver);
  SimOptions o;
  o.nodes = {node("a", s.get()), node("b", s.get()), node("c", c.get())};
  std::set<std::string> seen;
  for (uint64_t seed = 1; seed <= 40; ++seed) seen.insert(output(run_seeded(o, seed), "c", "together"));
  EXPECT_TRUE(seen.count("together(2)\n")) << "no seed delivered both notes in one tick";
  EXPECT_TRUE(seen.count("together(1)\n")) << "no seed delivered the notes in separate ticks";
}

TEST(SimTest, DroppedMessagesAreLostAndRecorded) {
  Deployment d;
  d.options.faults = faults("drop=1");
  RunResult r = run_seeded(d.options, 1);
  EXPECT_EQ(r.end, End::Quiescent);
  EXPECT_EQ(count(r.trace, EventKind::Drop), 1u);  // the one message of pings; no pong follows
  EXPECT_EQ(r.delivered, 0u);
  EXPECT_EQ(output(r, "b", "seen"), "");
}

TEST(SimTest, DuplicatedMessagesArriveTwice) {
  Deployment d;
  d.options.faults = faults("dup=1");
  RunResult r = run_seeded(d.options, 1);
  EXPECT_EQ(r.end, End::Quiescent);
  EXPECT_EQ(count(r.trace, EventKind::Dup), count(r.trace, EventKind::Send));
  EXPECT_EQ(r.delivered, 2 * count(r.trace, EventKind::Send));
  EXPECT_EQ(output(r, "a", "got"), kFivePongs);
}

TEST(SimTest, ACrashedNodeRestartsFromItsFactsWithItsStateLost) {
  Deployment d;
  d.options.faults = faults("crash=1,rate=1");
  RunResult r = run_seeded(d.options, 5);
  ASSERT_EQ(count(r.trace, EventKind::Crash), 1u);
  ASSERT_EQ(count(r.trace, EventKind::Restart), 1u);
  auto crash = first_of(r.trace.events.begin(), r.trace.events.end(), EventKind::Crash);
  auto restart = first_of(crash, r.trace.events.end(), EventKind::Restart);
  ASSERT_NE(restart, r.trace.events.end());
  EXPECT_EQ(restart->node, crash->node);
  EXPECT_GT(restart->time_us, crash->time_us);
  // Its next tick is tick 0 again.
  auto next =
      std::find_if(restart, r.trace.events.end(), [&](const Event& e) { return e.kind == EventKind::Tick && e.node == crash->node; });
  ASSERT_NE(next, r.trace.events.end());
  EXPECT_EQ(next->tick, 0);
}

TEST(SimTest, APartitionLosesTheMessagesThatCrossItUntilItHeals) {
  Deployment d;
  d.options.faults = faults("partition=1,rate=1,heal=10ms");
  RunResult r = run_seeded(d.options, 3);
  ASSERT_EQ(count(r.trace, EventKind::Partition), 1u);
  EXPECT_EQ(count(r.trace, EventKind::Heal), 1u);
  const Event& p = *first_of(r.trace.events.begin(), r.trace.events.end(), EventKind::Partition);
  ASSERT_EQ(p.groups.size(), 2u);
  EXPECT_EQ(p.groups[0].size() + p.groups[1].size(), 2u);
  // The pinger sends in its first tick, inside the partition: that message is lost.
  bool lost = std::any_of(r.trace.events.begin(), r.trace.events.end(),
                          [](const Event& e) { return e.kind == EventKind::Lost && e.detail == "partitioned"; });
  EXPECT_TRUE(lost);
}

TEST(SimTest, VirtualTimeDrivesTimersAndNow) {
  constexpr const char* kTimer = R"(
periodic beat every 100ms;
table fired(n: int);
fired(n) <= beat(n);
output stamp(t: int);
stamp(t) <= beat(0), t = now();
halt() <= beat(4);
)";
  auto p = plan_text("t.bloom", kTimer);
  SimOptions o;
  o.nodes = {node("t", p.get())};
  RunResult r = run_seeded(o, 1);
  ASSERT_EQ(r.end, End::Quiescent) << r.error << r.pending;
  // Five firings, 100 ms apart in virtual time, with no waiting in real time.
  EXPECT_GE(r.trace.events.back().time_us, 500000);
  EXPECT_EQ(std::count_if(r.trace.events.begin(), r.trace.events.end(),
                          [](const Event& e) { return e.timers == std::vector<std::string>{"beat"}; }),
            5);
  // now() is virtual wall-clock time: 2026-01-01 plus about 100 ms at the first firing.
  std::string stamp = output(r, "t", "stamp");
  int64_t ms = std::stoll(stamp.substr(6));
  EXPECT_GE(ms, 1767225600000 + 100);
  EXPECT_LE(ms, 1767225600000 + 102);
}

TEST(SimTest, TimersThatChangeNothingEndTheRun) {
  constexpr const char* kIdle = R"(
periodic beat every 1s;
scratch x(n: int);
x(n) <= beat(n);
)";
  auto p = plan_text("i.bloom", kIdle);
  SimOptions o;
  o.nodes = {node("i", p.get())};
  RunResult r = run_seeded(o, 1);
  EXPECT_EQ(r.end, End::Quiescent);
  EXPECT_LT(r.steps, 10);
  // The run ended some time after its last tick; a replay ends the same way.
  RunResult again = replay_strict(o, r.trace);
  EXPECT_EQ(again.end, End::Quiescent) << again.error;
}

TEST(SimTest, MaxStepsStopsARunThatNeverQuiescesAndSaysWhatIsPending) {
  constexpr const char* kForever = R"(
channel ball(@dst: addr, n: int);
table start();
start();
table served();
ball(@"b", 0) <~ start(), not served();
served() <+ start();
ball(@"b", n + 1) <~ ball(_, n);
)";
  constexpr const char* kBack = R"(
channel ball(@dst: addr, n: int);
ball(@"a", n + 1) <~ ball(_, n);
)";
  Deployment d(kForever, kBack);
  d.options.max_steps = 300;
  RunResult r = run_seeded(d.options, 1);
  EXPECT_EQ(r.end, End::MaxSteps);
  EXPECT_EQ(r.steps, 300);
  EXPECT_NE(r.pending.find("in flight"), std::string::npos) << r.pending;
}

TEST(SimTest, AStrictReplayReproducesTheRunExactly) {
  Deployment d;
  d.options.faults = faults("drop=0.3,dup=0.3,crash=1,partition=1,rate=0.2,skew=20ms");
  for (uint64_t seed = 1; seed <= 10; ++seed) {
    RunResult r = run_seeded(d.options, seed);
    RunResult again = replay_strict(d.options, r.trace);
    ASSERT_NE(again.end, End::Mismatch) << "seed " << seed << ": " << again.error;
    EXPECT_EQ(trace_to_json(again.trace), trace_to_json(r.trace)) << "seed " << seed;
  }
}

TEST(SimTest, ARunWithoutRecordingIsTheSameRunWithoutItsEvents) {
  Deployment d;
  d.options.faults = faults("drop=0.2,dup=0.2,crash=1,rate=0.1");
  RunResult full = run_seeded(d.options, 11);
  d.options.record = false;
  RunResult bare = run_seeded(d.options, 11);
  EXPECT_TRUE(bare.trace.events.empty());
  EXPECT_EQ(bare.end, full.end);
  EXPECT_EQ(bare.steps, full.steps);
  EXPECT_EQ(bare.delivered, full.delivered);
  EXPECT_EQ(bare.trace.outputs, full.trace.outputs);
  // Replays and minimization record whatever the options say: they need the events.
  RunResult again = replay_strict(d.options, full.trace);
  EXPECT_EQ(trace_to_json(again.trace), trace_to_json(full.trace)) << again.error;
  EXPECT_FALSE(replay_lenient(d.options, full.trace, decisions_of(full.trace)).trace.events.empty());
}

TEST(SimTest, AStrictReplayRefusesAnEditedTrace) {
  Deployment d;
  RunResult r = run_seeded(d.options, 1);
  Trace edited = r.trace;
  auto send = first_of(edited.events.begin(), edited.events.end(), EventKind::Send);
  ASSERT_NE(send, edited.events.end());
  send->tuples[0] = "ping(\"b\", \"a\", 99)";
  RunResult again = replay_strict(d.options, edited);
  EXPECT_EQ(again.end, End::Mismatch);
  EXPECT_NE(again.error.find("differs"), std::string::npos) << again.error;
  EXPECT_NE(again.error.find("99"), std::string::npos) << again.error;

  Trace cut = r.trace;
  cut.events.resize(cut.events.size() / 2);
  EXPECT_EQ(replay_strict(d.options, cut).end, End::Mismatch);
}

std::unique_ptr<InvariantChecker> checker(const plan::Program& inv, const SimOptions& o, std::vector<std::string>& errors) {
  return InvariantChecker::make(inv, o.nodes, errors, [](std::string_view name, const std::vector<std::string>& cands) {
    for (const auto& c : cands)
      if (c.size() == name.size() + 1 && c.compare(0, name.size(), name) == 0) return c;
    return std::string();
  });
}

TEST(SimTest, AnInvariantViolationStopsTheRunAndNamesTheRows) {
  Deployment d;
  auto inv = plan_text("inv.bloom", R"(
input got(node: addr, i: int);
output violation(msg: string);
violation("node " + to_string(n) + " got 3") <= got(n, 3);
)");
  std::vector<std::string> errors;
  auto c = checker(*inv, d.options, errors);
  ASSERT_TRUE(c) << errors.front();
  d.options.invariant = c.get();
  RunResult r = run_seeded(d.options, 1);
  EXPECT_EQ(r.end, End::Violation);
  EXPECT_EQ(r.violations, std::vector<std::string>{"violation(\"node a got 3\")"});
  EXPECT_EQ(r.trace.events.back().kind, EventKind::Violation);
}

TEST(SimTest, AFinalViolationIsCheckedOnlyAtTheEnd) {
  Deployment d;
  auto inv = plan_text("inv.bloom", R"(
input got(node: addr, i: int);
input seen(node: addr, i: int);
output final_violation(msg: string);
scratch answered(i: int);
answered(i) <= got(_, i);
final_violation("ping " + to_string(i) + " was never answered") <= seen(_, i), not answered(i);
)");
  std::vector<std::string> errors;
  auto c = checker(*inv, d.options, errors);
  ASSERT_TRUE(c);
  d.options.invariant = c.get();
  // Pongs arrive after the pings are seen: a check after every tick would fail.
  EXPECT_EQ(run_seeded(d.options, 1).end, End::Quiescent);
  d.options.faults = faults("drop=1");  // no ping arrives: nothing seen, nothing to answer
  EXPECT_EQ(run_seeded(d.options, 1).end, End::Quiescent);
}

TEST(SimTest, AnInvariantThatDoesNotMatchTheDeploymentIsAnErrorNamingBothPlaces) {
  Deployment d;
  auto wrong_type = plan_text("inv.bloom", "input got(node: addr, i: string);\noutput violation(m: string);\n");
  std::vector<std::string> errors;
  EXPECT_FALSE(checker(*wrong_type, d.options, errors));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("inv.bloom:1:"), std::string::npos) << errors[0];
  EXPECT_NE(errors[0].find("a.bloom:"), std::string::npos) << errors[0];
  EXPECT_NE(errors[0].find("(addr, int)"), std::string::npos) << errors[0];

  auto typo = plan_text("inv.bloom", "input go(node: addr, i: int);\noutput violation(m: string);\n");
  errors.clear();
  EXPECT_FALSE(checker(*typo, d.options, errors));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("did you mean `got`"), std::string::npos) << errors[0];

  auto no_addr = plan_text("inv.bloom", "input got(i: int);\noutput violation(m: string);\n");
  errors.clear();
  EXPECT_FALSE(checker(*no_addr, d.options, errors));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("node's addr"), std::string::npos) << errors[0];

  auto nothing = plan_text("inv.bloom", "input got(node: addr, i: int);\n");
  errors.clear();
  EXPECT_FALSE(checker(*nothing, d.options, errors));
}

TEST(SimTest, MinimizationKeepsTheViolationWithFewerDecisions) {
  Deployment d;
  d.options.faults = faults("dup=0.5,drop=0.1");
  auto inv = plan_text("inv.bloom", R"(
input got(node: addr, i: int);
output violation(msg: string);
violation("got 5") <= got(_, 5);
)");
  std::vector<std::string> errors;
  auto c = checker(*inv, d.options, errors);
  ASSERT_TRUE(c);
  d.options.invariant = c.get();
  int found = 0;
  for (uint64_t seed = 1; seed <= 10; ++seed) {
    RunResult r = run_seeded(d.options, seed);
    if (r.end != End::Violation) continue;
    ++found;
    Minimized m = minimize(d.options, r, [](const RunResult& x) { return x.end == End::Violation; });
    EXPECT_EQ(m.run.end, End::Violation);
    EXPECT_LE(m.events_after, m.events_before);
    EXPECT_EQ(count(m.run.trace, EventKind::Drop) + count(m.run.trace, EventKind::Dup), 0u) << "faults were not needed";
    // Four ticks are needed: a sends, b's first tick (which holds its inputs only), b answers,
    // a receives; replaying what is left ends with a fair round that may add a's idle tick.
    EXPECT_LE(count(m.run.trace, EventKind::Tick), 5u) << trace_to_json(m.run.trace);
    // The minimized run is a trace like any other: it replays exactly.
    RunResult again = replay_strict(d.options, m.run.trace);
    EXPECT_EQ(again.end, End::Violation) << again.error;
  }
  EXPECT_GT(found, 0);
}

TEST(SimTest, ExplainFollowsATupleThroughRulesAndMessages) {
  Deployment d;
  RunResult r = run_seeded(d.options, 2);
  std::string error;
  auto text = explain(d.options, r.trace, "a.got( 3 )", error);
  ASSERT_TRUE(text) << error;
  // got(3) at a, from the pong b sent, from the ping a sent, from the fact todo(3).
  std::vector<std::string> chain = {
      "a: got(3)  derived in tick",
      "  a: pong(\"a\", \"b\", 3)  arrived in tick",
      "    b: pong(\"a\", \"b\", 3)  sent in tick",
      "      b: ping(\"b\", \"a\", 3)  arrived in tick",
      "        a: ping(\"b\", \"a\", 3)  sent in tick 0",
      "          a: todo(3)  a fact of the program (a.bloom:",
      "          not done(3): absent then",
  };
  size_t at = 0;
  for (const auto& line : chain) {
    size_t found = text->find(line, at);
    ASSERT_NE(found, std::string::npos) << "missing, in order: " << line << "\n" << *text;
    at = found;
  }
  EXPECT_FALSE(explain(d.options, r.trace, "a.got(9)", error));
  EXPECT_NE(error.find("never held `got(9)`"), std::string::npos) << error;
  EXPECT_NE(error.find("got(1)"), std::string::npos) << error;
  EXPECT_FALSE(explain(d.options, r.trace, "z.got(1)", error));
  EXPECT_NE(error.find("expected NODE.COLLECTION(VALUES)"), std::string::npos) << error;
}

// Vector clocks as one lmap column crossing a channel: each node starts from the fact
// lmap(self(), 1), sends its clock once and merges what arrives; every schedule ends with both
// entries everywhere, and --explain shows the fact with self() evaluated as the node.
TEST(SimTest, LmapValuesCrossChannelsAndExplainShowsBuiltFacts) {
  const char* program = R"(
channel msg(@dst: addr, vc: lmap<addr, lmax<int>>);
table peer(p: addr);
lattice clock: lmap<addr, lmax<int>>;
output seen(p: addr, n: int);
clock(lmap(self(), 1));
peer("a"); peer("b");
clock(m) <= msg(_, m);
msg(@p, m) <~ clock(m), peer(p), p != self(), tick() == 0;
seen(p, m.at(p).value()) <= clock(m), p in m.keys();
)";
  Deployment d(program, program);
  for (uint64_t seed = 1; seed <= 10; ++seed) {
    RunResult r = run_seeded(d.options, seed);
    ASSERT_EQ(r.end, End::Quiescent) << "seed " << seed << ": " << r.error << r.pending;
    for (const char* n : {"a", "b"}) EXPECT_EQ(output(r, n, "seen"), "seen(\"a\", 1)\nseen(\"b\", 1)\n") << n << ", seed " << seed;
  }
  RunResult r = run_seeded(d.options, 3);
  std::string error;
  auto text = explain(d.options, r.trace, "b.seen(\"b\", 1)", error);
  ASSERT_TRUE(text) << error;
  EXPECT_NE(text->find("b: clock({\"b\": 1})  a fact of the program (b.bloom:6:1)"), std::string::npos) << *text;
}

TEST(SimTest, TracesRoundTripThroughJson) {
  Deployment d;
  d.options.faults = faults("drop=0.3,dup=0.3,partition=1,crash=1,rate=0.3");
  RunResult r = run_seeded(d.options, 9);
  std::string text = trace_to_json(r.trace);
  std::string error;
  auto back = trace_from_json(text, error);
  ASSERT_TRUE(back) << error;
  EXPECT_EQ(back->events, r.trace.events);
  EXPECT_EQ(trace_to_json(*back), text);
}

TEST(SimTest, BadTraceFilesAreRefusedWithTheReason) {
  Deployment d;
  std::string text = trace_to_json(run_seeded(d.options, 1).trace);
  std::string error;
  EXPECT_FALSE(trace_from_json(text.substr(0, text.size() / 2), error));
  EXPECT_NE(error.find("not valid JSON"), std::string::npos) << error;
  EXPECT_FALSE(trace_from_json("[1, 2]", error));
  EXPECT_NE(error.find("not a bloom simulation trace"), std::string::npos) << error;
  // One edit of the text each, and the reason it must give.
  struct Edit {
    std::string from, to, reason;
  };
  for (const auto& [from, to, reason] : std::vector<Edit>{{"\"version\": 1", "\"version\": 2", "version 2"},
                                                          {"\"kind\":\"tick\"", "\"kind\":\"jump\"", "unknown kind `jump`"},
                                                          {"\"node\":\"a\"", "\"node\":\"z\"", "`z` is not a node"},
                                                          {"\"step\":0", "\"step\":\"0\"", "`step` has the wrong type"}}) {
    std::string edited = text;
    edited.replace(edited.find(from), from.size(), to);
    EXPECT_FALSE(trace_from_json(edited, error)) << to;
    EXPECT_NE(error.find(reason), std::string::npos) << error;
  }
}

TEST(SimTest, FaultSpecs) {
  std::string error;
  auto f = parse_faults("drop=0.05,dup=0.02,crash=2,partition=1,skew=50ms,downtime=2s,heal=300us,rate=0.5", error);
  ASSERT_TRUE(f) << error;
  EXPECT_DOUBLE_EQ(f->drop, 0.05);
  EXPECT_DOUBLE_EQ(f->dup, 0.02);
  EXPECT_EQ(f->crashes, 2);
  EXPECT_EQ(f->partitions, 1);
  EXPECT_EQ(f->skew_us, 50000);
  EXPECT_EQ(f->downtime_us, 2000000);
  EXPECT_EQ(f->heal_us, 300);
  EXPECT_DOUBLE_EQ(f->rate, 0.5);
  auto again = parse_faults(f->str(), error);
  ASSERT_TRUE(again) << error;
  EXPECT_EQ(again->str(), f->str());
  EXPECT_TRUE(parse_faults("", error));
  for (const char* bad : {"drop=2", "drop=x", "crash=-1", "skew=50", "skew=5h", "lose=0.1", "drop", "drop=0.1,"}) {
    EXPECT_FALSE(parse_faults(bad, error)) << bad;
    EXPECT_FALSE(error.empty()) << bad;
  }
}

}  // namespace
}  // namespace bloom::rt::sim
