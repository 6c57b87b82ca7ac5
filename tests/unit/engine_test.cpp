// Whole programs run in-process through rt::Node (runtime/node/node.h): recursion, negation,
// aggregates, lattices, the tick loop (deferred changes, scratches, stdout, halt, channels,
// the tick limit) and runtime errors.
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <sstream>
#include <string>
#include <vector>

#include "eval/engine.h"
#include "eval/native.h"
#include "node/facts.h"
#include "node/node.h"
#include "rt_test_util.h"
#include "test_util.h"

namespace bloom::test {
namespace {

// CSV rows as Node::output_text(id, true) writes them: one line each, tab-separated.
std::string rows(std::initializer_list<std::string> lines) {
  std::string s;
  for (const auto& l : lines) s += l + "\n";
  return s;
}

bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

// Field `col` of every CSV row.
std::vector<std::string> column(const std::string& csv, size_t col) {
  std::vector<std::string> out;
  std::istringstream lines(csv);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream fields(line);
    std::string f;
    for (size_t i = 0; i <= col && std::getline(fields, f, '\t'); ++i) {
    }
    out.push_back(f);
  }
  return out;
}

class EngineTest : public testing::Test {
 protected:
  // Every test program stops within a few ticks; a bug that keeps a node ticking must fail the
  // test, not hang it.
  static constexpr int64_t kSafetyTicks = 100;

  std::unique_ptr<plan::Program> plan;
  std::unique_ptr<rt::Node> node;  // after `plan`: destroyed first, it refers to the plan
  std::vector<std::string> lines;  // stdout lines, in the order the node printed them
  rt::RunSummary summary;

  // Compiles, plans and makes a node for `text` (as the file test.bloom).
  void load(const std::string& text, rt::NodeOptions opts = {}) {
    node.reset();
    plan.reset();
    lines.clear();
    auto c = compile(text);
    if (!c->ok()) {
      ADD_FAILURE() << "does not compile:\n" << all_messages(*c);
      return;
    }
    std::string error;
    plan = plan_of(*c, error);
    if (!plan) {
      ADD_FAILURE() << "cannot plan: " << error;
      return;
    }
    if (opts.max_ticks < 0) opts.max_ticks = kSafetyTicks;
    opts.print_line = [this](const std::string& l) { lines.push_back(l); };
    node = std::make_unique<rt::Node>(*plan, std::move(opts));
  }

  // Runs the loaded node; a runtime error is a test failure.
  void run() {
    if (!node) return;
    try {
      summary = node->run();
    } catch (const std::exception& e) {
      ADD_FAILURE() << "runtime error: " << e.what();
    }
  }

  void run(const std::string& text, rt::NodeOptions opts = {}) {
    load(text, std::move(opts));
    run();
  }

  // Runs `text` expecting a RuntimeError, and returns its message.
  std::string error_of(const std::string& text, rt::NodeOptions opts = {}) {
    load(text, std::move(opts));
    if (!node) return "";
    try {
      node->run();
    } catch (const rt::RuntimeError& e) {
      return e.what();
    }
    ADD_FAILURE() << "no runtime error";
    return "";
  }

  // Every tuple the output held in any tick, as CSV.
  std::string out(const std::string& name) {
    if (!node) return "<no node>";
    const plan::Relation* r = plan->find(name);
    if (!r) return "<no relation " + name + ">";
    return node->output_text(r->id, /*csv=*/true);
  }
  size_t out_size(const std::string& name) { return node ? node->output_size(plan->find(name)->id) : 0; }

  // Adds a tuple to an input relation, each field written as in a facts file.
  void input(const std::string& name, const std::vector<std::string>& fields) {
    const plan::Relation& r = *plan->find(name);
    std::vector<rt::Word> row(r.arity() + 1);
    for (size_t c = 0; c < fields.size(); ++c) {
      std::string expected;
      ASSERT_TRUE(rt::parse_field(fields[c], r.column_types[c], node->engine().lattices(), row[c], expected)) << expected;
    }
    node->add_input(r.id, row.data(), "test input");
  }
};

// Asserts that an error message starts with `where` and mentions each of `words`.
void expect_message(const std::string& msg, const std::string& where, std::initializer_list<std::string> words) {
  EXPECT_TRUE(starts_with(msg, where)) << "expected the message to start with `" << where << "`: " << msg;
  for (const auto& w : words) EXPECT_NE(msg.find(w), std::string::npos) << "expected `" << w << "` in: " << msg;
}

rt::NodeOptions max_ticks(int64_t n) {
  rt::NodeOptions o;
  o.max_ticks = n;
  return o;
}

rt::NodeOptions named(const std::string& name) {
  rt::NodeOptions o;
  o.name = name;
  return o;
}

const char* kCounter =
    "table c(n: int);\n"
    "output seen(n: int);\n"
    "c(0);\n"
    "c(n + 1) <+ c(n);\n"
    "c(n) <- c(n);\n"
    "seen(n) <= c(n);\n";

// ------------------------------------------------------------------ recursion and negation

TEST_F(EngineTest, TransitiveClosureOnACycle) {
  run("table link(src: int, dst: int);\n"
      "output path(src: int, dst: int);\n"
      "link(1, 2); link(2, 3); link(3, 4); link(4, 2);\n"
      "path(x, y) <= link(x, y);\n"
      "path(x, z) <= path(x, y), link(y, z);\n");
  EXPECT_EQ(out("path"), rows({"1\t2", "1\t3", "1\t4", "2\t2", "2\t3", "2\t4", "3\t2", "3\t3", "3\t4", "4\t2", "4\t3", "4\t4"}));
  EXPECT_TRUE(summary.quiescent);
  EXPECT_EQ(summary.ticks, 1);
}

class TransitiveClosureChain : public EngineTest, public testing::WithParamInterface<const char*> {};

// A chain 0 -> 1 -> ... -> 100 from an input relation: every pair i < j is a path, whichever
// way the recursive rule is written (linear left, linear right, or with two delta variants).
TEST_P(TransitiveClosureChain, FindsEveryPair) {
  constexpr int kEdges = 100;
  load(std::string("input link(src: int, dst: int);\n"
                   "output path(src: int, dst: int);\n"
                   "path(x, y) <= link(x, y);\n") +
       GetParam());
  ASSERT_TRUE(node);
  for (int i = 0; i < kEdges; ++i) input("link", {std::to_string(i), std::to_string(i + 1)});
  run();
  EXPECT_EQ(out_size("path"), static_cast<size_t>(kEdges * (kEdges + 1) / 2));
  EXPECT_TRUE(starts_with(out("path"), rows({"0\t1", "0\t2", "0\t3"})));
}

INSTANTIATE_TEST_SUITE_P(RuleShapes, TransitiveClosureChain,
                         testing::Values("path(x, z) <= path(x, y), link(y, z);\n", "path(x, z) <= link(x, y), path(y, z);\n",
                                         "path(x, z) <= path(x, y), path(y, z);\n"));

TEST_F(EngineTest, Negation) {
  run("table node(x: int);\n"
      "table edge(a: int, b: int);\n"
      "table nothing(a: int, b: int);\n"
      "output reach(x: int);\n"
      "output unreached(x: int);\n"
      "output sink(x: int);\n"
      "output vacuous(x: int);\n"
      "output blocked(x: int);\n"
      "node(1); node(2); node(3); node(4); node(5);\n"
      "edge(1, 2); edge(2, 3); edge(4, 5);\n"
      "reach(1);\n"
      "reach(y) <= reach(x), edge(x, y);\n"
      "unreached(x) <= node(x), not reach(x);\n"
      "sink(x) <= node(x), not edge(x, _);\n"
      "vacuous(x) <= node(x), x < 3, not nothing(_, _);\n"
      "blocked(x) <= node(x), not edge(_, _);\n");
  EXPECT_EQ(out("reach"), rows({"1", "2", "3"}));
  EXPECT_EQ(out("unreached"), rows({"4", "5"}));
  EXPECT_EQ(out("sink"), rows({"3", "5"}));
  EXPECT_EQ(out("vacuous"), rows({"1", "2"}));
  EXPECT_EQ(out("blocked"), "");
}

// ------------------------------------------------------------------ seals
// A script over ticks: cur(s) is the step of tick s (each `<+` lands in the next tick).
const char* kSealScript =
    "table cur(s: int);\n"
    "cur(0);\n"
    "cur(s + 1) <+ cur(s), s < 5;\n"
    "cur(s) <- cur(s);\n"
    "table vote(round: int, who: string);\n"
    "table done(round: int, n: int);\n"
    "seal vote(round) by done(round, n);\n"
    "table voter(who: string);\n"
    "voter(\"a\"); voter(\"b\"); voter(\"c\");\n";

// Round 1: a vote in tick 1, its seal (2 votes) in tick 2, the second vote in tick 4. Rules see
// the round only from tick 4 on, whole; a negation given the round waits for it too.
TEST_F(EngineTest, SealReleasesAPartitionWholeOnceItsCountIsIn) {
  run(std::string(kSealScript) +
      "vote(1, \"a\") <+ cur(0);\n"
      "done(1, 2) <+ cur(1);\n"
      "vote(1, \"b\") <+ cur(3);\n"
      "output seen(round: int, who: string, s: int);\n"
      "output tally(round: int, n: int);\n"
      "output absent(round: int, who: string, s: int);\n"
      "output unsure(who: string, s: int);\n"
      "seen(r, w, s) <= vote(r, w), cur(s);\n"
      "tally(r, count()) <= vote(r, _);\n"
      "absent(1, w, s) <= voter(w), cur(s), not vote(1, w);\n"
      "unsure(w, s) <= voter(w), cur(s), not vote(_, w), s == 3;\n");
  EXPECT_EQ(out("seen"), rows({"1\ta\t4", "1\ta\t5", "1\tb\t4", "1\tb\t5"}));
  EXPECT_EQ(out("tally"), rows({"1\t2"}));
  EXPECT_EQ(out("absent"), rows({"1\tc\t4", "1\tc\t5"}));
  // With the round left `_`, the negation reads what is released so far: nothing yet in tick 3.
  EXPECT_EQ(out("unsure"), rows({"a\t3", "b\t3", "c\t3"}));
  // The plan says how it runs: a release step, and the negation looks the round up first.
  EXPECT_NE(plan->find("vote[sealed]"), nullptr);
  EXPECT_NE(plan->find("vote[released]"), nullptr);
}

TEST_F(EngineTest, SealErrorsNameTheCollectionTheKeyAndTheSeal) {
  std::string late = error_of(std::string(kSealScript) + "vote(1, \"a\"); done(1, 1);\nvote(1, \"b\") <+ cur(2);\n");
  expect_message(late, "test.bloom:7:1",
                 {"vote(1, \"b\") arrived after partition round = 1 of `vote`", "`done` sealed it with count 1", "late tuple"});
  std::string below = error_of(std::string(kSealScript) + "vote(1, \"a\"); vote(1, \"b\");\ndone(1, 1) <+ cur(2);\n");
  expect_message(below, "test.bloom:7:1", {"partition round = 1 of `vote` holds 2 distinct tuples but `done` sealed it with count 1"});
  std::string twice = error_of(std::string(kSealScript) + "done(1, 2);\ndone(1, 3) <+ cur(1);\n");
  expect_message(twice, "test.bloom:7:1", {"partition round = 1 of `vote` is sealed with two counts: 2 and 3"});
  std::string negative = error_of(std::string(kSealScript) + "done(4, -1);\n");
  expect_message(negative, "test.bloom:7:1", {"seals partition round = 4 of `vote` with a negative count"});
}

// A duplicate of a released tuple is no error (sets), and a partition sealed with count 0 is
// released at once, empty. The release reads only the rows new since the last one, and all of
// them again after the table is rebuilt (a delete in tick 5): a released partition stays, and a
// later one is still released.
TEST_F(EngineTest, SealAcceptsDuplicatesAndEmptyPartitions) {
  run(std::string(kSealScript) +
      "vote(1, \"a\"); done(1, 1); done(2, 0);\n"
      "vote(1, \"a\") <+ cur(2);\n"
      "done(1, 1) <+ cur(3);\n"
      "vote(1, \"a\") <- cur(4);\n"
      "done(3, 1) <+ cur(1);\n"
      "vote(3, \"z\") <+ cur(5);\n"
      "output none(round: int);\n"
      "output seen(round: int, who: string);\n"
      "none(r) <= done(r, _), not vote(r, _);\n"
      "seen(r, w) <= vote(r, w);\n");
  EXPECT_EQ(out("none"), rows({"2"}));
  EXPECT_EQ(out("seen"), rows({"1\ta", "3\tz"}));
  EXPECT_EQ(summary.ticks, 7);
}

// ------------------------------------------------------------------ aggregates

TEST_F(EngineTest, AggregatesRangeOverDistinctMatches) {
  load(
      "input sale(region: string, item: string, amount: int);\n"
      "output total(region: string, n: int, s: int, lo: int, hi: int, av: float);\n"
      "output everything(s: int);\n"
      "output items(region: string, all: lset<string>);\n"
      "output names(region: string, lo: string, hi: string);\n"
      "total(r, count(), sum(a), min(a), max(a), avg(a)) <= sale(r, _, a);\n"
      "everything(sum(a)) <= sale(_, _, a);\n"
      "items(r, collect(i)) <= sale(r, i, _);\n"
      "names(r, min(i), max(i)) <= sale(r, i, _);\n");
  ASSERT_TRUE(node);
  input("sale", {"east", "b", "10"});
  input("sale", {"east", "a", "10"});  // the same amount as b: both count
  input("sale", {"east", "c", "5"});
  input("sale", {"west", "d", "7"});
  run();
  EXPECT_EQ(out("total"), rows({"east\t3\t25\t5\t10\t8.333333333333334", "west\t1\t7\t7\t7\t7"}));
  EXPECT_EQ(out("everything"), rows({"32"}));
  EXPECT_EQ(out("items"), rows({"east\t{\"a\", \"b\", \"c\"}", "west\t{\"d\"}"}));
  EXPECT_EQ(out("names"), rows({"east\ta\tc", "west\td\td"}));
}

TEST_F(EngineTest, AggregatesOverAJoinAndFloats) {
  run("table price(item: string, p: float);\n"
      "table order(id: int, item: string);\n"
      "output revenue(s: float, n: int);\n"
      "price(\"x\", 1.5); price(\"y\", 2.25);\n"
      "order(1, \"x\"); order(2, \"x\"); order(3, \"y\");\n"
      "revenue(sum(p), count()) <= order(_, i), price(i, p);\n");
  EXPECT_EQ(out("revenue"), rows({"5.25\t3"}));
}

// A body of one scan binding every column takes its matches straight from the rows (they are
// distinct): a merged lattice row's dead predecessor must not count.
TEST_F(EngineTest, AggregateOverOneScanCountsLiveRowsOnce) {
  run("table best(k: int, v: lmax<int>) key(k);\n"
      "output n(c: int);\n"
      "output per(k: int, c: int);\n"
      "best(1, 5); best(1, 7); best(2, 3);\n"
      "n(count()) <= best(_, _);\n"
      "per(k, count()) <= best(k, _);\n");
  EXPECT_EQ(out("n"), rows({"2"}));
  EXPECT_EQ(out("per"), rows({"1\t1", "2\t1"}));
}

// ------------------------------------------------------------------ lattices

TEST_F(EngineTest, LminShortestPaths) {
  run("table link(src: string, dst: string, cost: int);\n"
      "table dist(src: string, dst: string, cost: lmin<int>) key(src, dst);\n"
      "output shortest(src: string, dst: string, cost: int);\n"
      "output cheap(src: string, dst: string);\n"
      "const budget = 3;\n"
      "link(\"a\", \"b\", 1); link(\"b\", \"c\", 2); link(\"a\", \"c\", 5); link(\"c\", \"a\", 1);\n"
      "dist(a, b, c) <= link(a, b, c);\n"
      "dist(a, c, d + e) <= dist(a, b, d), link(b, c, e);\n"
      "cheap(a, b) <= dist(a, b, d), d <= budget;\n"
      "shortest(a, b, d.value()) <= dist(a, b, d);\n");
  EXPECT_EQ(out("shortest"), rows({"a\ta\t4", "a\tb\t1", "a\tc\t3", "b\ta\t3", "b\tb\t4", "b\tc\t2", "c\ta\t1", "c\tb\t2", "c\tc\t4"}));
  EXPECT_EQ(out("cheap"), rows({"a\tb", "a\tc", "b\ta", "b\tc", "c\ta", "c\tb"}));
}

std::string quorum(int threshold) {
  return "table vote(voter: string);\n"
         "lattice votes: lset<string>;\n"
         "lattice done: lbool;\n"
         "output decided(n: int);\n"
         "output members(v: string);\n"
         "vote(\"ann\"); vote(\"bob\");\n"
         "votes(v) <= vote(v);\n"
         "done(true) <= votes(s), s.size() >= " +
         std::to_string(threshold) +
         ";\n"
         "decided(1) <= done(b), b;\n"
         "members(v) <= votes(s), v in s;\n";
}

TEST_F(EngineTest, LsetSizeThresholdAndLbool) {
  run(quorum(2));
  EXPECT_EQ(out("decided"), rows({"1"}));
  EXPECT_EQ(out("members"), rows({"ann", "bob"}));
  run(quorum(3));
  EXPECT_EQ(out("decided"), "") << "two votes do not reach three; lbool stays at its bottom (false)";
  EXPECT_EQ(out("members"), rows({"ann", "bob"}));
}

TEST_F(EngineTest, LatticeColumnsMergeAndCellsGrow) {
  run("table cnt(node: string, n: lmax<int>);\n"
      "table score(x: int);\n"
      "lattice best: lmax<int>;\n"
      "output counts(node: string, n: int);\n"
      "output top(n: int);\n"
      "cnt(\"a\", 1); cnt(\"a\", 5); cnt(\"b\", 2); cnt(\"a\", 3);\n"
      "score(3); score(9); score(4);\n"
      "best(x) <= score(x);\n"
      "counts(k, n.value()) <= cnt(k, n);\n"
      "top(b.value()) <= best(b);\n");
  EXPECT_EQ(out("counts"), rows({"a\t5", "b\t2"}));
  EXPECT_EQ(out("top"), rows({"9"}));
}

// ------------------------------------------------------------------ the tick loop

TEST_F(EngineTest, DeferredInsertAndScratchLifetime) {
  run("scratch s(x: int);\n"
      "table t(x: int);\n"
      "output seen(at: int, x: int);\n"
      "output held(at: int, x: int);\n"
      "s(1);\n"
      "t(0);\n"
      "t(x + 1) <+ t(x), x < 2;\n"
      "seen(tick(), x) <= s(x);\n"
      "held(tick(), x) <= t(x);\n");
  EXPECT_EQ(out("seen"), rows({"0\t1"})) << "a scratch is emptied at the start of every tick";
  EXPECT_EQ(out("held"), rows({"0\t0", "1\t0", "1\t1", "2\t0", "2\t1", "2\t2"})) << "a deferred insert shows in the next tick";
  EXPECT_EQ(summary.ticks, 3);
  EXPECT_TRUE(summary.quiescent);
}

TEST_F(EngineTest, AKeptScratchFollowsTheTablesItJoinsAndNegatesAcrossTicks) {
  // `fresh` reads only tables, so it is kept between ticks: each tick adds the new counter row
  // and takes back the row that `seen` now blocks. What the outputs see must be what a scratch
  // derived afresh every tick would hold.
  const char* text =
      "table counter(i: int);\n"
      "table seen(i: int);\n"
      "scratch fresh(i: int);\n"
      "output held(at: int, i: int);\n"
      "counter(0);\n"
      "counter(i + 1) <+ counter(i), i < 4;\n"
      "fresh(i) <= counter(i), not seen(i);\n"
      "seen(i) <+ fresh(i), i % 2 == 0;\n"
      "held(tick(), i) <= fresh(i);\n";
  run(text);
  ASSERT_TRUE(node);
  EXPECT_TRUE(node->engine().keeps(plan->find("fresh")->id));
  EXPECT_EQ(out("held"), rows({"0\t0", "1\t1", "2\t1", "2\t2", "3\t1", "3\t3", "4\t1", "4\t3", "4\t4", "5\t1", "5\t3"}));
  const std::string kept = out("held");
  setenv("BLOOM_INCREMENTAL", "0", 1);
  run(text);
  unsetenv("BLOOM_INCREMENTAL");
  ASSERT_TRUE(node);
  EXPECT_FALSE(node->engine().keeps(plan->find("fresh")->id)) << "BLOOM_INCREMENTAL=0 empties every scratch";
  EXPECT_EQ(out("held"), kept);
}

TEST_F(EngineTest, AKeyViolationAmongDeferredWritesIsTheSameIncrementallyAndInFull) {
  // Found by incremental_fuzz.py (seed 20261207, program 1471), then cut down: t0's rows are
  // derived in a different order incrementally and in full, so `kv`'s upserts were queued in a
  // different order and the clash was reported with kv(3, 4) one way and kv(3, 2) the other.
  // Queued writes are applied in one canonical order (by row, then rule): the same message.
  const char* text =
      "table step(i: int);\n"
      "step(0);\n"
      "step(i + 1) <+ step(i), i < 5;\n"
      "table t0(a: int, b: int);\n"
      "table t3(a: int, b: int);\n"
      "table kv(k: int, v: int) key(k);\n"
      "t3(4, 2);\n"
      "t3(3, 0);\n"
      "t0(i % 4, i) <+ step(i);\n"
      "t3(x, z) <+ t3(x, y), t0(y, z), z < 5;\n"
      "kv(x, y) <+- t3(x, y), step(i), i > 4;\n"
      "t0(x, z) <= t0(x, y), t3(y, z), z < 6;\n";
  const std::string incremental = error_of(text);
  setenv("BLOOM_INCREMENTAL", "0", 1);
  const std::string full = error_of(text);
  unsetenv("BLOOM_INCREMENTAL");
  expect_message(incremental, "test.bloom:11:1: key violation in table `kv`", {"already holds kv(3, 0)", "inserts kv(3, 2)"});
  EXPECT_EQ(incremental, full);
}

// Queued writes go in as they came, and are sorted only when one clashes (Node::apply_deferred):
// the message is the one of the canonical order whichever order the rules queued them in, and
// names the row the table held before the tick for a clash with it.
TEST_F(EngineTest, AKeyViolationAmongDeferredWritesNamesTheRowsOfTheCanonicalOrder) {
  const char* both_new =
      "table kv(k: int, v: int) key(k);\n"
      "kv(1, 5) <+ kv(0, 0);\n"
      "kv(1, 3) <+ kv(0, 0);\n"
      "kv(0, 0);\n";
  const char* reversed =
      "table kv(k: int, v: int) key(k);\n"
      "kv(1, 3) <+ kv(0, 0);\n"
      "kv(1, 5) <+ kv(0, 0);\n"
      "kv(0, 0);\n";
  const std::string one = error_of(both_new), other = error_of(reversed);
  expect_message(one, "test.bloom:2:1: key violation in table `kv`", {"already holds kv(1, 3)", "inserts kv(1, 5)"});
  EXPECT_EQ(one.substr(one.find("key violation")), other.substr(other.find("key violation"))) << "the same rows, whatever the rules' order";
  const char* held =
      "table kv(k: int, v: int) key(k);\n"
      "table src(k: int, v: int);\n"
      "kv(1, 9);\n"
      "src(2, 2);\n"
      "src(1, 7);\n"
      "src(0, 0);\n"
      "kv(k, v) <+ src(k, v);\n";
  expect_message(error_of(held), "test.bloom:7:1: key violation in table `kv`", {"already holds kv(1, 9)", "inserts kv(1, 7)"});
}

// A keyed table with a lattice column as well: its queued writes are sorted before they go in
// (a merge replaces a row, so the rows before could not be rebuilt), with the same message
// whichever order the rules queued them in.
TEST_F(EngineTest, AKeyViolationAmongDeferredWritesWithALatticeColumnIsInTheCanonicalOrder) {
  const char* text =
      "table kv(k: int, v: int, m: lmax<int>) key(k);\n"
      "kv(1, 5, 3) <+ kv(0, 0, _);\n"
      "kv(1, 5, 8) <+ kv(0, 0, _);\n"
      "kv(1, 3, 1) <+ kv(0, 0, _);\n"
      "kv(0, 0, 0);\n";
  const char* reversed =
      "table kv(k: int, v: int, m: lmax<int>) key(k);\n"
      "kv(1, 3, 1) <+ kv(0, 0, _);\n"
      "kv(1, 5, 8) <+ kv(0, 0, _);\n"
      "kv(1, 5, 3) <+ kv(0, 0, _);\n"
      "kv(0, 0, 0);\n";
  const std::string one = error_of(text), other = error_of(reversed);
  expect_message(one, "test.bloom:", {"key violation in table `kv`", "already holds kv(1, 3, 1)"});
  EXPECT_EQ(one.substr(one.find("key violation")), other.substr(other.find("key violation")));
}

TEST_F(EngineTest, ANegatedTableThatLosesARowLetsAnOldMatchThroughInTheNextTick) {
  // `h` is kept up to date from the new rows of `a` alone while `b` only grows; the delete
  // rebuilds `b`, and the rule must then look at the old match a(1, 2) again.
  run("table step(i: int);\n"
      "table a(x: int, y: int);\n"
      "table b(y: int, x: int);\n"
      "table h(x: int, y: int);\n"
      "output got(at: int, x: int, y: int);\n"
      "step(0);\n"
      "step(i + 1) <+ step(i), i < 4;\n"
      "a(1, 2);\n"
      "b(2, 1);\n"
      "a(i, i) <+ step(i);\n"
      "b(y, x) <- b(y, x), step(2);\n"
      "h(x, y) <= a(x, y), not b(y, x);\n"
      "got(i, x, y) <= h(x, y), step(i), not step(i + 1);\n");
  // a(i, i) arrives a tick after step(i); b(2, 1) is gone from tick 3 on, and a(1, 2) with it.
  EXPECT_EQ(out("got"), rows({"1\t0\t0", "2\t0\t0", "2\t1\t1", "3\t0\t0", "3\t1\t1", "3\t1\t2", "3\t2\t2", "4\t0\t0", "4\t1\t1", "4\t1\t2",
                              "4\t2\t2", "4\t3\t3", "4\t4\t4"}));
}

TEST_F(EngineTest, DeferredDelete) {
  run("table t(x: int);\n"
      "output seen(at: int, x: int);\n"
      "output ever(x: int);\n"
      "t(1); t(2); t(3);\n"
      "t(x) <- t(x), x > 1;\n"
      "seen(tick(), x) <= t(x);\n"
      "ever(x) <= t(x);\n");
  EXPECT_EQ(out("seen"), rows({"0\t1", "0\t2", "0\t3", "1\t1"}));
  EXPECT_EQ(out("ever"), rows({"1", "2", "3"})) << "an output keeps every tuple it held in any tick";
  EXPECT_EQ(summary.ticks, 2) << "deleting an absent tuple is no change, so the node stops";
  EXPECT_TRUE(summary.quiescent);
}

TEST_F(EngineTest, DeferredUpsertReplacesTheTupleWithTheSameKey) {
  run("table kv(k: string, v: int) key(k);\n"
      "output seen(at: int, k: string, v: int);\n"
      "kv(\"a\", 1); kv(\"b\", 1);\n"
      "kv(k, v + 1) <+- kv(k, v), v < 3;\n"
      "seen(tick(), k, v) <= kv(k, v);\n");
  EXPECT_EQ(out("seen"), rows({"0\ta\t1", "0\tb\t1", "1\ta\t2", "1\tb\t2", "2\ta\t3", "2\tb\t3"}));
  EXPECT_EQ(summary.ticks, 3);
}

TEST_F(EngineTest, StdoutIsSortedWithinATickAndPrintedTickByTick) {
  run("table c(n: int);\n"
      "table word(n: int, w: string);\n"
      "c(0);\n"
      "c(n + 1) <+ c(n), n < 1;\n"
      "c(n) <- c(n);\n"
      "word(0, \"z\"); word(0, \"y\"); word(0, \"10\"); word(0, \"9\"); word(1, \"b\"); word(1, \"a\");\n"
      "stdout(w + to_string(n)) <~ c(n), word(n, w);\n");
  EXPECT_EQ(lines, (std::vector<std::string>{"100", "90", "y0", "z0", "a1", "b1"}));
}

TEST_F(EngineTest, HaltStopsAfterTheCurrentTick) {
  run(std::string(kCounter) + "halt() <= c(n), n == 3;\n", max_ticks(20));
  EXPECT_TRUE(summary.halted);
  EXPECT_FALSE(summary.tick_limit);
  EXPECT_EQ(summary.ticks, 4);
  EXPECT_EQ(out("seen"), rows({"0", "1", "2", "3"}));
}

TEST_F(EngineTest, MaxTicksStopsANodeThatWouldRunForever) {
  run(kCounter, max_ticks(5));
  EXPECT_TRUE(summary.tick_limit);
  EXPECT_FALSE(summary.halted);
  EXPECT_FALSE(summary.quiescent);
  EXPECT_EQ(summary.ticks, 5);
  EXPECT_EQ(out("seen"), rows({"0", "1", "2", "3", "4"}));
  run(kCounter, max_ticks(0));
  EXPECT_TRUE(summary.tick_limit);
  EXPECT_EQ(summary.ticks, 0);
  EXPECT_EQ(out("seen"), "");
}

TEST_F(EngineTest, SelfAddressedChannelDeliversInLaterTicks) {
  run("channel ping(@dst: addr, n: int);\n"
      "table start(n: int);\n"
      "output got(at: int, n: int);\n"
      "output me(a: addr);\n"
      "start(0);\n"
      "ping(@self(), n) <~ start(n), tick() == 0;\n"
      "ping(@self(), n + 1) <~ ping(_, n), n < 3;\n"
      "got(tick(), n) <= ping(_, n);\n"
      "me(self()) <= start(_);\n",
      named("n1"));
  EXPECT_EQ(out("got"), rows({"1\t0", "2\t1", "3\t2", "4\t3"}));
  EXPECT_EQ(out("me"), rows({"n1"}));
  EXPECT_EQ(summary.ticks, 5);
  EXPECT_TRUE(summary.quiescent);
}

TEST_F(EngineTest, SendingToAnotherNodeIsAnErrorOnASingleNode) {
  std::string msg = error_of(
      "channel ping(@dst: addr, n: int);\n"
      "table start(n: int);\n"
      "start(0);\n"
      "ping(@\"elsewhere\", n) <~ start(n);\n");
  expect_message(msg, "test.bloom:4:1", {"elsewhere", "ping", "ping(@\"elsewhere\", n) <~ start(n)"});
}

TEST_F(EngineTest, LoadInputsReadsFactsFilesAndReportsMissingOnes) {
  std::string tmpl = (std::filesystem::temp_directory_path() / "bloom_inputs_XXXXXX").string();
  ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
  std::filesystem::path dir = tmpl;
  std::ofstream(dir / "link.facts") << "a\tb\nb\tc\n";
  load(
      "input link(src: string, dst: string);\n"
      "input other(x: int);\n"
      "output path(src: string, dst: string);\n"
      "path(x, y) <= link(x, y);\n"
      "path(x, z) <= path(x, y), link(y, z);\n");
  ASSERT_TRUE(node);
  std::vector<std::string> missing;
  node->load_inputs(dir.string(), missing);
  run();
  EXPECT_EQ(out("path"), rows({"a\tb", "a\tc", "b\tc"}));
  EXPECT_EQ(missing, std::vector<std::string>{(dir / "other.facts").string()});
  std::filesystem::remove_all(dir);
}

// ------------------------------------------------------------------ runtime errors

TEST_F(EngineTest, KeyViolationNamesTheTableBothTuplesAndTheRule) {
  std::string msg = error_of(
      "table src(k: string, v: int);\n"
      "table kv(k: string, v: int) key(k);\n"
      "src(\"a\", 1); src(\"a\", 2);\n"
      "kv(k, v) <= src(k, v);\n");
  expect_message(msg, "test.bloom:4:1", {"key violation", "`kv`", "kv(\"a\", 1)", "kv(\"a\", 2)", "kv(k, v) <= src(k, v)"});
}

TEST_F(EngineTest, KeyViolationInALaterTickAppliesNothingOfThatTick) {
  std::string msg = error_of(
      "table c(n: int);\n"
      "table kv(k: int, v: int) key(k);\n"
      "output seen(n: int);\n"
      "c(0);\n"
      "c(n + 1) <+ c(n), n < 1;\n"
      "seen(n) <= c(n);\n"
      "kv(1, n) <= c(n);\n");
  expect_message(msg, "test.bloom:7:1", {"`kv`", "kv(1, 0)", "kv(1, 1)", "kv(1, n) <= c(n)", "tick 1"});
  EXPECT_EQ(out("seen"), rows({"0"})) << "tick 1's outputs are not logged";
}

TEST_F(EngineTest, KeyViolationFromADeferredInsert) {
  std::string msg = error_of(
      "table kv(k: string, v: int) key(k);\n"
      "output seen(v: int);\n"
      "kv(\"a\", 1);\n"
      "kv(k, v + 1) <+ kv(k, v);\n"
      "seen(v) <= kv(_, v);\n");
  expect_message(msg, "test.bloom:4:1", {"`kv`", "kv(\"a\", 1)", "kv(\"a\", 2)", "kv(k, v + 1) <+ kv(k, v)", "nothing of tick 1"});
  EXPECT_EQ(out("seen"), rows({"1"}));
}

struct ErrorCase {
  const char* name;
  const char* head;     // the rule, deriving o(n: int) from d(x: int, y: int, s: string, f: float)
  const char* message;  // what the error says after the rule
};

void PrintTo(const ErrorCase& c, std::ostream* os) { *os << c.name; }

class RuntimeErrors : public EngineTest, public testing::WithParamInterface<ErrorCase> {};

TEST_P(RuntimeErrors, NameTheRule) {
  const ErrorCase& c = GetParam();
  std::string msg = error_of(std::string("table d(x: int, y: int, s: string, f: float);\n"
                                         "table o(n: int);\n"
                                         "d(7, 0, \"12a\", 1e300);\n") +
                             c.head + "\n");
  expect_message(msg, "test.bloom:4:1", {std::string("in rule `") + c.head, c.message});
}

INSTANTIATE_TEST_SUITE_P(Cases, RuntimeErrors,
                         testing::Values(ErrorCase{"division", "o(x / y) <= d(x, y, _, _);", "division by zero"},
                                         ErrorCase{"modulo", "o(x % y) <= d(x, y, _, _);", "modulo by zero"},
                                         ErrorCase{"to_int_string", "o(to_int(s)) <= d(_, _, s, _);", "to_int: \"12a\" is not an integer"},
                                         ErrorCase{"to_int_float", "o(to_int(f)) <= d(_, _, _, f);", "does not fit in an int"},
                                         ErrorCase{"in_condition", "o(x) <= d(x, y, _, _), x / y > 1;", "division by zero"},
                                         ErrorCase{"deferred", "o(x / y) <+ d(x, y, _, _);", "division by zero"}),
                         [](const testing::TestParamInfo<ErrorCase>& p) { return std::string(p.param.name); });

TEST_F(EngineTest, ErrorTextMentioningKeyViolationStillNamesTheRule) {
  std::string msg = error_of(
      "table d(s: string);\n"
      "table o(n: int);\n"
      "d(\"no key violation\");\n"
      "o(to_int(s)) <= d(s);\n");
  expect_message(msg, "test.bloom:4:1", {"in rule `o(to_int(s)) <= d(s)", "is not an integer"});
}

// ------------------------------------------------------------------ built-in functions

TEST_F(EngineTest, BuiltInFunctions) {
  run("table v(n: int, f: float, t: string, s: string);\n"
      "v(42, -1.5, \"hello\", \"123\");\n"  // "hello" is interned before "123"
      "output strs(a: string, b: string, c: string, d: string);\n"
      "output ints(a: int, b: int, c: int, d: int, e: int);\n"
      "output subs(a: string, b: string, c: string, d: string);\n"
      "output picks(a: int, b: int, c: string, d: string, e: float, f: float);\n"
      "strs(to_string(n), to_string(f), to_string(n > 40), t + \" \" + s) <= v(n, f, t, s);\n"
      "ints(to_int(s), to_int(f), to_int(f * -2.0), len(t), len(s + t)) <= v(n, f, t, s);\n"
      "subs(substr(t, 1, 3), substr(t, 3, 10), substr(t, 10, 2), substr(t, -1, 2)) <= v(n, f, t, s);\n"
      "picks(least(n, 7), greatest(n, 7), least(t, s), greatest(s, t), least(f, n), greatest(f, 2)) <= v(n, f, t, s);\n");
  EXPECT_EQ(out("strs"), rows({"42\t-1.5\ttrue\thello 123"}));
  EXPECT_EQ(out("ints"), rows({"123\t-1\t3\t5\t8"}));
  EXPECT_EQ(out("subs"), rows({"ell\tlo\t\the"}));
  EXPECT_EQ(out("picks"), rows({"7\t42\t123\thello\t-1.5\t2"})) << "strings compare by content, not by interning order";
}

TEST_F(EngineTest, HashIsDeterministicAcrossRunsAndInterningOrders) {
  const std::string rules =
      "output h(s: string, v: int);\n"
      "output hn(v: int);\n"
      "h(s, hash(s)) <= w(s);\n"
      "hn(hash(n)) <= k(n);\n"
      "table k(n: int);\n"
      "k(12345);\n";
  run("table w(s: string);\n w(\"zzz\"); w(\"yyy\"); w(\"abc\");\n" + rules);
  std::string first = out("h"), first_n = out("hn");
  run("table w(s: string);\n w(\"abc\");\n" + rules);
  std::string second = out("h");
  ASSERT_EQ(std::count(second.begin(), second.end(), '\n'), 1);
  EXPECT_NE(first.find(second), std::string::npos) << "hash(\"abc\") differs between runs:\n" << first << "vs\n" << second;
  EXPECT_EQ(out("hn"), first_n);
  std::vector<std::string> hashes = column(first, 1);
  ASSERT_EQ(hashes.size(), 3u);
  for (const auto& h : hashes) EXPECT_EQ(h.find('-'), std::string::npos) << "hashes are non-negative: " << h;
  std::sort(hashes.begin(), hashes.end());
  EXPECT_EQ(std::unique(hashes.begin(), hashes.end()), hashes.end()) << "three strings, three hashes:\n" << first;
}

// ------------------------------------------------------------------ nullary relations

// A deferred change to a relation with no columns queues zero words, so the node neither sees
// it as pending nor applies it.
TEST_F(EngineTest, DeferredInsertIntoANullaryTable) {
  run("table t(n: int);\n"
      "table flag();\n"
      "output out(n: int);\n"
      "t(0);\n"
      "flag() <+ t(0);\n"
      "out(1) <= flag();\n");
  EXPECT_EQ(out("out"), rows({"1"}));
  EXPECT_EQ(summary.ticks, 2);
}

TEST_F(EngineTest, DeferredHalt) {
  run(std::string(kCounter) + "halt() <+ c(n), n == 3;\n", max_ticks(20));
  EXPECT_TRUE(summary.halted);
  EXPECT_EQ(summary.ticks, 5);
  EXPECT_EQ(out("seen"), rows({"0", "1", "2", "3", "4"}));
}

TEST_F(EngineTest, NullaryRelationsInTheFixpoint) {
  run("table t(n: int);\n"
      "scratch any();\n"
      "output yes(n: int);\n"
      "output no(n: int);\n"
      "t(1); t(2);\n"
      "any() <= t(_);\n"
      "yes(n) <= any(), t(n);\n"
      "no(n) <= t(n), not any();\n");
  EXPECT_EQ(out("yes"), rows({"1", "2"}));
  EXPECT_EQ(out("no"), "");
}

// ------------------------------------------------------------------ tiering (eval/native.h)

// A NativeCode that records what the engine asks it to compile later, and compiles nothing.
class AskedFor : public rt::NativeCode {
 public:
  AskedFor(uint64_t threshold, bool weigh, bool joins = false) : threshold_(threshold), weigh_(weigh), joins_(joins) {}
  bool supports_step(const plan::Expr&) const override { return true; }
  bool supports_joins() const override { return joins_; }
  bool supports_head_column(const plan::Expr&) const override { return true; }
  std::vector<rt::SegmentFn> compile(const std::vector<rt::SegmentSpec>& specs) override {
    return std::vector<rt::SegmentFn>(specs.size(), nullptr);
  }
  void compile_later(rt::SegmentSpec spec, rt::SegmentSlot) override { asked.push_back(std::move(spec)); }
  uint64_t threshold() const override { return threshold_; }
  bool weighs_segments() const override { return weigh_; }
  std::vector<rt::SegmentSpec> asked;

 private:
  uint64_t threshold_;
  bool weigh_;
  bool joins_;
};

// `light`'s segment evaluates one operator a frame (x != y), `heavy`'s five.
const char* kTwoWeights =
    "input nums(x: int, y: int);\n"
    "output light(x: int, y: int);\n"
    "output heavy(x: int, z: int);\n"
    "light(x, y) <= nums(x, y), x != y;\n"
    "heavy(x, z) <= nums(x, y), z = (x * 3 + y * 5) % 7 + x * y;\n";

// The segments asked for after `rows` rows of nums went through both rules once.
std::vector<rt::SegmentSpec> asked_after(size_t rows, uint64_t threshold, bool weigh) {
  auto plan = plan_for(kTwoWeights);
  if (!plan) return {};
  rt::SymbolTable symbols;
  rt::Lattices lattices(symbols);
  AskedFor native(threshold, weigh);
  rt::Engine engine(*plan, symbols, lattices, &native);
  std::vector<rt::Word> data;
  for (size_t i = 0; i < rows; ++i) data.insert(data.end(), {static_cast<rt::Word>(i), static_cast<rt::Word>(i % 5)});
  engine.insert_all_checked(plan->find("nums")->id, data.data(), rows, "test", "test rows");
  engine.run_fixpoint();
  return native.asked;
}

TEST(Tiering, WeighedSegmentsAreAskedForOnceTheirWorkPaysAndNeverWhenLight) {
  // At threshold 16 the heavy segment needs 16 * 256 = 4096 operators: 820 frames of 5.
  EXPECT_TRUE(asked_after(500, 16, true).empty());
  auto asked = asked_after(2000, 16, true);
  ASSERT_EQ(asked.size(), 1u);  // the heavy rule's; the light one stays interpreted at any count
  ASSERT_EQ(asked[0].steps.size(), 1u);
  EXPECT_EQ(asked[0].steps[0].kind, plan::StepKind::Assign);
  EXPECT_TRUE(asked_after(20000, 16, true).size() == 1u);
}

TEST(Tiering, AChosenThresholdAloneDecides) {
  // --jit-threshold given: every segment once it has seen that many frames, whatever it weighs.
  EXPECT_EQ(asked_after(500, 16, false).size(), 2u);
  EXPECT_TRUE(asked_after(10, 16, false).empty());
}

// The segments asked for at threshold 1, with joins, once e(1, 2), e(2, 3), e(3, 4) went
// through `program`'s rules.
std::vector<rt::SegmentSpec> joins_asked(const std::string& program) {
  auto plan = plan_for(program);
  if (!plan) return {};
  rt::SymbolTable symbols;
  rt::Lattices lattices(symbols);
  AskedFor native(1, false, true);
  rt::Engine engine(*plan, symbols, lattices, &native);
  std::vector<rt::Word> data = {1, 2, 2, 3, 3, 4};
  engine.insert_all_checked(plan->find("e")->id, data.data(), 3, "test", "test rows");
  engine.run_fixpoint();
  return native.asked;
}

// With joins compiled: a rule's scan, lookup and filter make one segment with the head; a lone
// scan stays interpreted; a rule with an integer division keeps its joins interpreted (a segment
// that flushed cannot give its batch back to raise the error).
TEST(Tiering, ScansAndLookupsJoinTheSegmentUnlessARuleCanFail) {
  auto asked = joins_asked(
      "input e(x: int, y: int);\n"
      "output p(x: int, z: int);\n"
      "output copy(x: int, y: int);\n"
      "output q(x: int, z: int);\n"
      "p(x, z) <= e(x, y), e(y, z), x != z;\n"
      "copy(x, y) <= e(x, y);\n"
      "q(x, z) <= e(x, y), e(y, z), z = x / y;\n");
  bool joined = false;
  for (const auto& spec : asked) {
    std::vector<plan::StepKind> kinds;
    for (const auto& st : spec.steps) kinds.push_back(st.kind);
    if (kinds == std::vector<plan::StepKind>{plan::StepKind::Scan, plan::StepKind::Lookup, plan::StepKind::Filter}) {
      joined = true;
      EXPECT_TRUE(spec.head);
      EXPECT_TRUE(spec.joins());
    }
    EXPECT_NE(kinds, std::vector<plan::StepKind>{plan::StepKind::Scan}) << "a lone scan is not compiled";
    if (spec.joins()) {
      EXPECT_EQ(std::count(kinds.begin(), kinds.end(), plan::StepKind::Assign), 0) << "q's division keeps its joins out";
    }
  }
  EXPECT_TRUE(joined) << "p's scan, lookup and filter make one segment";
  EXPECT_FALSE(asked.empty());
}

TEST(Tiering, NegationsKeyLookupsAndSetsJoinTheSegment) {
  auto asked = joins_asked(
      "input e(x: int, y: int);\n"
      "table owner(k: int, w: int) key(k);\n"
      "table banned(v: int);\n"
      "table bag(g: int, s: lset<int>);\n"
      "output p(x: int, w: int);\n"
      "output q(x: int, z: int);\n"
      "owner(k, w) <= e(k, w);\n"
      "banned(v) <= e(v, _), v > 2;\n"
      "bag(g, lset(y)) <= e(g, y);\n"
      "p(x, w) <= e(x, y), not banned(x), owner(y + 1, w), w != x;\n"
      "q(x, z) <= e(x, y), bag(y, s), z in s, z > x;\n");
  bool negation_and_key = false, in_set = false;
  for (const auto& spec : asked) {
    bool anti = false, key_lookup = false, in = false;
    for (const auto& st : spec.steps) {
      anti |= st.kind == plan::StepKind::AntiJoin;
      key_lookup |= st.kind == plan::StepKind::Lookup && st.index == plan::kKeyIndex && st.key.at(0).op != plan::Op::Reg;
      in |= st.kind == plan::StepKind::InSet;
    }
    if (anti && key_lookup) {
      negation_and_key = true;
      EXPECT_TRUE(spec.head && spec.joins());
      EXPECT_EQ(spec.steps.front().kind, plan::StepKind::Scan) << "from the scan of e to the head";
    }
    if (in) {
      in_set = true;
      EXPECT_TRUE(spec.head && spec.joins());
    }
  }
  EXPECT_TRUE(negation_and_key) << "p's negation and lookup by a computed key join its segment";
  EXPECT_TRUE(in_set) << "q's `in` joins its segment";
}

// A NativeCode whose only code is a stand-in for aggregate rules' fold segments: fold() gives
// each one's function.
class FoldStandIn : public rt::NativeCode {
 public:
  bool supports_step(const plan::Expr&) const override { return true; }
  bool supports_head_column(const plan::Expr&) const override { return true; }
  std::vector<rt::SegmentFn> compile(const std::vector<rt::SegmentSpec>& specs) override {
    std::vector<rt::SegmentFn> fns;
    for (const auto& spec : specs) fns.push_back(spec.origin.find("the aggregate's columns") != std::string::npos ? fold(spec) : nullptr);
    return fns;
  }
  void compile_later(rt::SegmentSpec, rt::SegmentSlot) override {}
  uint64_t threshold() const override { return 0; }

 protected:
  virtual rt::SegmentFn fold(const rt::SegmentSpec& spec) = 0;
};

// The fold segment of s(x % 2, count(), sum(x * 10)) over t(x): it computes x * 10 + 1 instead,
// so that the folded sums tell whether the engine used it; or it reports an error for every batch.
class FoldDouble : public FoldStandIn {
 public:
  explicit FoldDouble(bool fails) : fails_(fails) {}
  int folds = 0;

 private:
  rt::SegmentFn fold(const rt::SegmentSpec&) override {
    ++folds;
    return fails_ ? &failing : &columns;
  }
  static int32_t columns(const rt::Word* frames, uint64_t n, rt::Word* out, uint64_t* m, rt::NativeContext*) {
    for (uint64_t i = 0; i < n; ++i) {
      const int64_t x = rt::as_int(frames[i]);  // one register a frame
      out[i * 3] = rt::from_int(x % 2);
      out[i * 3 + 1] = 0;
      out[i * 3 + 2] = rt::from_int(x * 10 + 1);
    }
    *m = n;
    return 0;
  }
  static int32_t failing(const rt::Word*, uint64_t, rt::Word*, uint64_t*, rt::NativeContext*) { return 1; }
  bool fails_;
};

// The rows of `s` that `program` (over `input t(x: int)`) derives from t = 1..4 with `native`,
// their int columns sorted.
std::vector<std::vector<int64_t>> rows_of_s_over_1_to_4(const char* program, rt::NativeCode& native) {
  auto plan = plan_for(program);
  if (!plan) return {{-1}};
  rt::SymbolTable symbols;
  rt::Lattices lattices(symbols);
  rt::Engine engine(*plan, symbols, lattices, &native);
  std::vector<rt::Word> data = {rt::from_int(1), rt::from_int(2), rt::from_int(3), rt::from_int(4)};
  engine.insert_all_checked(plan->find("t")->id, data.data(), 4, "test", "test rows");
  engine.run_fixpoint();
  const rt::Relation& out = engine.relation(plan->find("s")->id);
  std::vector<std::vector<int64_t>> rows;
  std::vector<rt::Word> row(out.arity());
  for (rt::RowId r = 0; r < out.end(); ++r) {
    out.read(r, row.data());
    rows.emplace_back();
    for (rt::Word w : row) rows.back().push_back(rt::as_int(w));
  }
  std::sort(rows.begin(), rows.end());
  return rows;
}

// The sums of s(x % 2, count(), sum(x * 10)) <= t(x) over t = 1..4, as "group count sum" lines.
std::string folded_sums(FoldDouble& native) {
  std::string text;
  for (const auto& row : rows_of_s_over_1_to_4("input t(x: int);\n"
                                               "output s(g: int, n: int, total: int);\n"
                                               "s(x % 2, count(), sum(x * 10)) <= t(x);\n",
                                               native))
    text += std::to_string(row.at(0)) + " " + std::to_string(row.at(1)) + " " + std::to_string(row.at(2)) + "\n";
  return text;
}

TEST(Tiering, AnAggregatesColumnsAreFoldedFromNativeCodeOrInterpretedWhenItFails) {
  FoldDouble native(false), failing(true);
  EXPECT_EQ(folded_sums(native), "0 2 62\n1 2 42\n") << "the native columns (x * 10 + 1) are what is folded";
  EXPECT_EQ(native.folds, 1);
  EXPECT_EQ(folded_sums(failing), "0 2 60\n1 2 40\n") << "a batch the native code fails is folded by the interpreter";
}

// A stand-in for the fold segment of s(x % 2, argmax(x * 10, x)) over t(x): its head row is the
// columns (x % 2, x) and then the tie group's key, which it computes as -x * 10, so that the
// winners tell whether the engine folded the keys the native code computed.
class FoldArgKeys : public FoldStandIn {
 public:
  std::vector<size_t> widths;  // per fold segment compiled: its head row's width

 private:
  rt::SegmentFn fold(const rt::SegmentSpec& spec) override {
    widths.push_back(spec.head_columns.size());
    return &columns;
  }
  static int32_t columns(const rt::Word* frames, uint64_t n, rt::Word* out, uint64_t* m, rt::NativeContext*) {
    for (uint64_t i = 0; i < n; ++i) {
      const int64_t x = rt::as_int(frames[i]);
      out[i * 3] = rt::from_int(x % 2);
      out[i * 3 + 1] = rt::from_int(x);
      out[i * 3 + 2] = rt::from_int(-x * 10);
    }
    *m = n;
    return 0;
  }
};

TEST(Tiering, AnArgmaxsKeyIsFoldedFromNativeCode) {
  FoldArgKeys native;
  auto rows = rows_of_s_over_1_to_4(
      "input t(x: int);\n"
      "output s(g: int, best: int);\n"
      "s(x % 2, argmax(x * 10, x)) <= t(x);\n",
      native);
  EXPECT_EQ(native.widths, std::vector<size_t>{3}) << "the two columns, then the key";
  const std::vector<std::vector<int64_t>> native_winners = {{0, 2}, {1, 1}};  // the greatest -x * 10
  EXPECT_EQ(rows, native_winners) << "interpreted keys (x * 10) would have chosen 4 and 3";
}

}  // namespace
}  // namespace bloom::test
