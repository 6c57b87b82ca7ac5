// Dependency graph and stratification.
#include <algorithm>
#include <string>
#include <vector>

#include "test_util.h"

namespace bloom {
namespace {

using namespace bloom::test;
using analysis::Edge;
using analysis::Timing;
using sema::NonMonotone;

std::string dump(const Compilation& c) {
  std::string s;
  for (const auto& d : c.diags.all())
    s += "[" + d.code + "] " + std::to_string(d.span.line) + ":" + std::to_string(d.span.col) + " " + d.message + "\n";
  return s;
}

sema::CollectionId id_of(const Compilation& c, const std::string& name) {
  const auto* coll = c.program->find(name);
  EXPECT_NE(coll, nullptr) << "no collection " << name;
  return coll ? coll->id : sema::kNoCollection;
}

// The edges from `from` to `to`.
std::vector<Edge> edges(const Compilation& c, const std::string& from, const std::string& to) {
  std::vector<Edge> out;
  sema::CollectionId f = id_of(c, from), t = id_of(c, to);
  for (const Edge& e : c.graph->edges())
    if (e.from == f && e.to == t) out.push_back(e);
  return out;
}

Edge the_edge(const Compilation& c, const std::string& from, const std::string& to) {
  auto es = edges(c, from, to);
  EXPECT_EQ(es.size(), 1u) << from << " -> " << to;
  return es.empty() ? Edge{} : es[0];
}

// Compiles and expects a stratified program.
std::unique_ptr<Compilation> compile_ok(const std::string& text) {
  auto c = compile(text);
  EXPECT_TRUE(c->ok()) << dump(*c);
  EXPECT_NE(c->graph, nullptr);
  EXPECT_NE(c->strata, nullptr);
  return c;
}

// ------------------------------------------------------------------ dependency graph

TEST(DepGraph, EdgeTiming) {
  auto c = compile_ok(
      "input a(x: int);\n"
      "table b(x: int);\n"
      "table c(x: int);\n"
      "table d(x: int);\n"
      "channel ch(@to: addr, x: int);\n"
      "b(x) <= a(x);\n"
      "c(x) <+ a(x);\n"
      "d(x) <- a(x);\n"
      "ch(@\"n1\", x) <~ a(x);\n");
  ASSERT_TRUE(c->graph);
  EXPECT_EQ(the_edge(*c, "a", "b").timing, Timing::Instant);
  EXPECT_EQ(the_edge(*c, "a", "c").timing, Timing::Deferred);
  EXPECT_EQ(the_edge(*c, "a", "d").timing, Timing::Deferred);
  EXPECT_EQ(the_edge(*c, "a", "ch").timing, Timing::Async);
  EXPECT_EQ(c->graph->edges().size(), 4u);
  EXPECT_EQ(c->graph->out(id_of(*c, "a")).size(), 4u);
  EXPECT_EQ(c->graph->in(id_of(*c, "b")).size(), 1u);
  EXPECT_EQ(analysis::timing_of(ast::MergeOp::DeferredUpsert), Timing::Deferred);
}

TEST(DepGraph, OneEdgePerBodyAtom) {
  auto c = compile_ok(
      "input a(x: int);\ninput b(x: int);\noutput o(x: int);\n"
      "o(x) <= a(x), b(x), a(x);\n");
  ASSERT_TRUE(c->graph);
  EXPECT_EQ(edges(*c, "a", "o").size(), 2u);
  EXPECT_EQ(edges(*c, "b", "o").size(), 1u);
  for (const Edge& e : c->graph->edges()) EXPECT_TRUE(e.monotone());
}

const char* kNonMonotone =
    "input a(x: int);\n"                  // 1
    "input b(x: int);\n"                  // 2
    "table neg(x: int);\n"                // 3
    "table agg(n: int);\n"                // 4
    "lattice m: lmax<int>;\n"             // 5
    "table rev(x: int);\n"                // 6
    "table thr(x: int);\n"                // 7
    "table del(x: int);\n"                // 8
    "table kv(k: int, v: int) key(k);\n"  // 9
    "input pairs(k: int, v: int);\n"      // 10
    "neg(x) <= a(x), not b(x);\n"         // 11
    "agg(count()) <= a(_);\n"             // 12
    "m(x) <= a(x);\n"                     // 13
    "rev(v) <= m(x), v = x.value();\n"    // 14
    "thr(1) <= m(x), x >= 3;\n"           // 15
    "del(x) <- a(x);\n"                   // 16
    "kv(k, v) <+- pairs(k, v);\n";        // 17

TEST(DepGraph, NegationEdge) {
  auto c = compile_ok(kNonMonotone);
  ASSERT_TRUE(c->graph);
  Edge e = the_edge(*c, "b", "neg");
  EXPECT_EQ(e.why, NonMonotone::Negation);
  EXPECT_FALSE(e.monotone());
  EXPECT_EQ(e.span.line, 11u);
  EXPECT_EQ(e.span.col, 17u);  // the `not`
  EXPECT_TRUE(the_edge(*c, "a", "neg").monotone());
}

TEST(DepGraph, AggregateEdge) {
  auto c = compile_ok(kNonMonotone);
  ASSERT_TRUE(c->graph);
  Edge e = the_edge(*c, "a", "agg");
  EXPECT_EQ(e.why, NonMonotone::Aggregate);
  EXPECT_EQ(e.span.line, 12u);
  EXPECT_EQ(e.span.col, 5u);  // the count() call
}

TEST(DepGraph, RevealEdge) {
  auto c = compile_ok(kNonMonotone);
  ASSERT_TRUE(c->graph);
  EXPECT_TRUE(the_edge(*c, "a", "m").monotone());  // lifting into a lattice is monotone
  Edge e = the_edge(*c, "m", "rev");
  EXPECT_EQ(e.why, NonMonotone::Reveal);
  EXPECT_EQ(e.span.line, 14u);
  EXPECT_EQ(e.span.col, 21u);  // x.value()
}

TEST(DepGraph, ThresholdIsMonotone) {
  auto c = compile_ok(kNonMonotone);
  ASSERT_TRUE(c->graph);
  Edge e = the_edge(*c, "m", "thr");
  EXPECT_EQ(e.why, NonMonotone::None);
  EXPECT_TRUE(e.monotone());
}

TEST(DepGraph, DeleteAndUpsertEdges) {
  auto c = compile_ok(kNonMonotone);
  ASSERT_TRUE(c->graph);
  Edge d = the_edge(*c, "a", "del");
  EXPECT_EQ(d.why, NonMonotone::Delete);
  EXPECT_EQ(d.timing, Timing::Deferred);
  EXPECT_EQ(d.span.line, 16u);
  EXPECT_EQ(d.span.col, 8u);  // the `<-`
  Edge u = the_edge(*c, "pairs", "kv");
  EXPECT_EQ(u.why, NonMonotone::Upsert);
  EXPECT_EQ(u.timing, Timing::Deferred);
}

TEST(DepGraph, RevealByPlainComparisonOfLattice) {
  auto c = compile_ok(
      "lattice m: lmax<int>;\noutput exact(x: int);\n"
      "exact(1) <= m(x), x == 3;\n");
  ASSERT_TRUE(c->graph);
  EXPECT_EQ(the_edge(*c, "m", "exact").why, NonMonotone::Reveal);
}

TEST(DepGraph, NonMonotoneNames) {
  EXPECT_STRNE(sema::to_string(NonMonotone::Negation), sema::to_string(NonMonotone::Aggregate));
  EXPECT_STRNE(analysis::to_string(Timing::Instant), analysis::to_string(Timing::Async));
}

// ------------------------------------------------------------------ stratification

TEST(Stratify, TransitiveClosureIsOneRecursiveStratum) {
  auto c = compile_ok(
      "input link(a: int, b: int);\n"
      "output path(a: int, b: int);\n"
      "path(x, y) <= link(x, y);\n"
      "path(x, z) <= path(x, y), link(y, z);\n");
  ASSERT_TRUE(c->strata);
  const auto& s = *c->strata;
  sema::CollectionId path = id_of(*c, "path"), link = id_of(*c, "link");
  EXPECT_EQ(s.count(), 1u);
  EXPECT_TRUE(s.recursive[path]);
  EXPECT_FALSE(s.recursive[link]);
  EXPECT_EQ(s.stratum_of[path], 0u);
  EXPECT_EQ(s.stratum_of[link], 0u);
  ASSERT_EQ(s.rules[0].size(), 2u);
  EXPECT_TRUE(s.transition_rules.empty());
  EXPECT_NE(s.scc_of[path], s.scc_of[link]);
}

TEST(Stratify, MutualRecursionSharesAComponent) {
  auto c = compile_ok(
      "input a(x: int);\ntable even(x: int);\ntable odd(x: int);\n"
      "even(x) <= a(x), x == 0;\n"
      "odd(y) <= even(x), a(y), y == x + 1;\n"
      "even(y) <= odd(x), a(y), y == x + 1;\n");
  ASSERT_TRUE(c->strata);
  const auto& s = *c->strata;
  EXPECT_EQ(s.scc_of[id_of(*c, "even")], s.scc_of[id_of(*c, "odd")]);
  EXPECT_TRUE(s.recursive[id_of(*c, "even")]);
  EXPECT_TRUE(s.recursive[id_of(*c, "odd")]);
  EXPECT_EQ(s.count(), 1u);
}

TEST(Stratify, NegationRaisesTheStratum) {
  auto c = compile_ok(
      "input node(x: int);\n"
      "input edge(a: int, b: int);\n"
      "table reach(x: int);\n"
      "output unreach(x: int);\n"
      "reach(y) <= edge(0, y);\n"
      "reach(y) <= reach(x), edge(x, y);\n"
      "unreach(x) <= node(x), not reach(x);\n");
  ASSERT_TRUE(c->strata);
  const auto& s = *c->strata;
  sema::CollectionId reach = id_of(*c, "reach"), unreach = id_of(*c, "unreach");
  EXPECT_EQ(s.stratum_of[unreach], s.stratum_of[reach] + 1);
  EXPECT_EQ(s.count(), 2u);
  ASSERT_EQ(s.rules[1].size(), 1u);
  EXPECT_EQ(c->program->rules[s.rules[1][0]].head, unreach);
  EXPECT_EQ(s.rules[0].size(), 2u);
}

TEST(Stratify, AggregationRaisesTheStratum) {
  auto c = compile_ok(
      "input link(a: int, b: int);\n"
      "table path(a: int, b: int);\n"
      "output reach_count(a: int, n: int);\n"
      "path(x, y) <= link(x, y);\n"
      "path(x, z) <= path(x, y), link(y, z);\n"
      "reach_count(x, count()) <= path(x, _);\n");
  ASSERT_TRUE(c->strata);
  const auto& s = *c->strata;
  EXPECT_EQ(s.stratum_of[id_of(*c, "reach_count")], s.stratum_of[id_of(*c, "path")] + 1);
  EXPECT_FALSE(s.recursive[id_of(*c, "reach_count")]);
}

TEST(Stratify, MonotoneConsumerStaysInTheSameStratum) {
  auto c = compile_ok(
      "input a(x: int);\ntable b(x: int);\noutput o(x: int);\n"
      "b(x) <= a(x);\no(x) <= b(x);\n");
  ASSERT_TRUE(c->strata);
  EXPECT_EQ(c->strata->count(), 1u);
  EXPECT_EQ(c->strata->stratum_of[id_of(*c, "o")], 0u);
}

TEST(Stratify, ChainOfThreeNegationsGivesFourStrata) {
  auto c = compile_ok(
      "input base(x: int);\n"
      "input p0(x: int);\n"
      "table p1(x: int);\ntable p2(x: int);\ntable p3(x: int);\n"
      "p1(x) <= base(x), not p0(x);\n"
      "p2(x) <= base(x), not p1(x);\n"
      "p3(x) <= base(x), not p2(x);\n");
  ASSERT_TRUE(c->strata);
  const auto& s = *c->strata;
  EXPECT_EQ(s.count(), 4u);
  EXPECT_EQ(s.stratum_of[id_of(*c, "p0")], 0u);
  EXPECT_EQ(s.stratum_of[id_of(*c, "p1")], 1u);
  EXPECT_EQ(s.stratum_of[id_of(*c, "p2")], 2u);
  EXPECT_EQ(s.stratum_of[id_of(*c, "p3")], 3u);
  for (uint32_t k = 1; k < 4; ++k) EXPECT_EQ(s.rules[k].size(), 1u) << "stratum " << k;
}

TEST(Stratify, CycleThroughDeferredInsertIsFine) {
  auto c = compile_ok(
      "input a(x: int);\n"
      "table p(x: int);\n"
      "table q(x: int);\n"
      "q(x) <= a(x), not p(x);\n"
      "p(x) <+ q(x);\n");
  ASSERT_TRUE(c->strata);
  EXPECT_FALSE(c->strata->recursive[id_of(*c, "p")]);
  EXPECT_EQ(c->strata->transition_rules, std::vector<uint32_t>{1});
}

TEST(Stratify, CycleThroughAsyncIsFine) {
  auto c = compile_ok(
      "channel msg(@to: addr, x: int);\n"
      "table seen(x: int);\n"
      "input a(x: int);\n"
      "msg(@self(), x) <~ a(x), not seen(x);\n"
      "seen(x) <= msg(_, x);\n");
  ASSERT_TRUE(c->strata);
  EXPECT_EQ(c->strata->transition_rules, std::vector<uint32_t>{0});
  EXPECT_FALSE(c->strata->recursive[id_of(*c, "seen")]);
}

TEST(Stratify, UnstratifiableCycleReportsTheCycle) {
  auto c = compile(
      "input a(x: int);\n"
      "table p(x: int);\n"
      "table q(x: int);\n"
      "q(x) <= a(x), not p(x);\n"
      "p(x) <= q(x);\n");
  EXPECT_FALSE(c->ok());
  EXPECT_EQ(c->strata, nullptr);
  ASSERT_NE(c->program, nullptr);  // the program itself checked fine
  const Diagnostic* d = find_code(*c, "unstratifiable");
  ASSERT_NE(d, nullptr) << dump(*c);
  EXPECT_TRUE(d->message.find("q -> p -> q") != std::string::npos) << d->message;
  EXPECT_TRUE(d->message.find("negation") != std::string::npos) << d->message;
  EXPECT_EQ(d->span.line, 4u);
  EXPECT_EQ(d->span.col, 15u);  // the `not`
  ASSERT_FALSE(d->notes.empty());
  EXPECT_EQ(d->notes[0].span.line, 5u);  // the rule that closes the cycle
  EXPECT_FALSE(d->help.empty());
}

TEST(Stratify, SelfNegationIsUnstratifiable) {
  auto c = compile("input a(x: int);\ntable p(x: int);\np(x) <= a(x), not p(x);\n");
  const Diagnostic* d = find_code(*c, "unstratifiable");
  ASSERT_NE(d, nullptr) << dump(*c);
  EXPECT_TRUE(d->message.find("p -> p") != std::string::npos) << d->message;
  EXPECT_EQ(c->strata, nullptr);
}

TEST(Stratify, AggregateInCycleIsUnstratifiable) {
  auto c = compile(
      "input a(x: int);\n"
      "table n(c: int);\n"
      "table p(x: int);\n"
      "n(count()) <= p(_);\n"
      "p(x) <= n(x);\n"
      "p(x) <= a(x);\n");
  const Diagnostic* d = find_code(*c, "unstratifiable");
  ASSERT_NE(d, nullptr) << dump(*c);
  EXPECT_TRUE(d->message.find("aggregat") != std::string::npos) << d->message;
}

TEST(Stratify, NegationThroughSelfMessageIsStillUnstratifiable) {
  auto c = compile(
      "channel msg(@to: addr, x: int);\n"
      "table seen(x: int);\n"
      "seen(x) <= msg(_, x), not seen(x);\n"
      "msg(@self(), x) <~ seen(x);\n");
  EXPECT_NE(find_code(*c, "unstratifiable"), nullptr) << dump(*c);
}

TEST(Stratify, TransitionRulesHoldDeferredAndAsyncRules) {
  auto c = compile_ok(
      "input a(x: int);\n"
      "table t(x: int) key(x);\n"
      "table u(x: int);\n"
      "channel ch(@to: addr, x: int);\n"
      "u(x) <= a(x);\n"             // 0: instant
      "t(x) <+ a(x);\n"             // 1
      "t(x) <- a(x);\n"             // 2
      "t(x) <+- a(x);\n"            // 3
      "ch(@self(), x) <~ a(x);\n"   // 4
      "stdout(\"x\") <~ a(_);\n");  // 5
  ASSERT_TRUE(c->strata);
  std::vector<uint32_t> tr = c->strata->transition_rules;
  std::sort(tr.begin(), tr.end());
  EXPECT_EQ(tr, (std::vector<uint32_t>{1, 2, 3, 4, 5}));
  size_t instant = 0;
  for (const auto& stratum : c->strata->rules) instant += stratum.size();
  EXPECT_EQ(instant, 1u);
  EXPECT_EQ(c->strata->rules[0], std::vector<uint32_t>{0});
}

TEST(Stratify, LongChainDoesNotOverflowTheStack) {
  const int n = 20000;
  std::string text = "input p0(x: int);\n";
  for (int i = 1; i <= n; ++i) text += "table p" + std::to_string(i) + "(x: int);\n";
  for (int i = 1; i <= n; ++i) text += "p" + std::to_string(i) + "(x) <= p" + std::to_string(i - 1) + "(x);\n";
  auto c = compile(text);
  ASSERT_TRUE(c->ok()) << dump(*c).substr(0, 2000);
  EXPECT_EQ(c->strata->count(), 1u);
  EXPECT_EQ(c->strata->rules[0].size(), static_cast<size_t>(n));
  EXPECT_EQ(c->graph->edges().size(), static_cast<size_t>(n));
}

TEST(Stratify, LongNegationChainGivesOneStratumPerLink) {
  const int n = 20000;
  std::string text = "input base(x: int);\ninput p0(x: int);\n";
  for (int i = 1; i <= n; ++i) text += "table p" + std::to_string(i) + "(x: int);\n";
  for (int i = 1; i <= n; ++i) text += "p" + std::to_string(i) + "(x) <= base(x), not p" + std::to_string(i - 1) + "(x);\n";
  auto c = compile(text);
  ASSERT_TRUE(c->ok()) << dump(*c).substr(0, 2000);
  EXPECT_EQ(c->strata->count(), static_cast<size_t>(n + 1));
  EXPECT_EQ(c->strata->stratum_of[id_of(*c, "p" + std::to_string(n))], static_cast<uint32_t>(n));
}

TEST(Stratify, LongRecursiveCycleIsOneComponent) {
  const int n = 20000;
  std::string text = "input seed(x: int);\n";
  for (int i = 0; i < n; ++i) text += "table p" + std::to_string(i) + "(x: int);\n";
  text += "p0(x) <= seed(x);\n";
  for (int i = 0; i < n; ++i) text += "p" + std::to_string((i + 1) % n) + "(x) <= p" + std::to_string(i) + "(x);\n";
  auto c = compile(text);
  ASSERT_TRUE(c->ok()) << dump(*c).substr(0, 2000);
  EXPECT_EQ(c->strata->count(), 1u);
  EXPECT_EQ(c->strata->scc_of[id_of(*c, "p0")], c->strata->scc_of[id_of(*c, "p" + std::to_string(n - 1))]);
  EXPECT_TRUE(c->strata->recursive[id_of(*c, "p123")]);
}

}  // namespace
}  // namespace bloom
