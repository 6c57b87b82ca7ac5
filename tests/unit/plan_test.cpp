// The planner (compiler/plan): join orders, delta variants, index choice, negation, condition
// placement, aggregates and head operators, and the plan printers.
#include <algorithm>
#include <string>
#include <vector>

#include "plan/print.h"
#include "rt_test_util.h"
#include "test_util.h"

namespace bloom {
namespace {

using namespace bloom::test;
using plan::AggKind;
using plan::HeadOp;
using plan::kKeyIndex;
using plan::Op;
using plan::RulePlan;
using plan::Step;
using plan::StepKind;
using plan::Version;

const plan::Relation& rel(const plan::Program& p, const std::string& name) {
  const plan::Relation* r = p.find(name);
  EXPECT_NE(r, nullptr) << "no relation " << name;
  return r ? *r : p.relations.at(0);
}

// Every variant of every rule: full rules, delta variants and transitions.
std::vector<const RulePlan*> all_rules(const plan::Program& p) {
  std::vector<const RulePlan*> out;
  for (const auto& s : p.strata)
    for (const auto& g : s.groups) {
      for (const auto& r : g.rules) out.push_back(&r);
      for (const auto& r : g.deltas) out.push_back(&r);
    }
  for (const auto& r : p.transitions) out.push_back(&r);
  return out;
}

// The variant of the rule deriving `head` with this delta atom (-1: the full rule).
const RulePlan& rule_for(const plan::Program& p, const std::string& head, int32_t delta_atom = -1) {
  uint32_t id = rel(p, head).id;
  const RulePlan* found = nullptr;
  for (const RulePlan* r : all_rules(p))
    if (r->head == id && r->delta_atom == delta_atom) {
      EXPECT_EQ(found, nullptr) << "several rules derive " << head << "; the test expects one";
      found = r;
    }
  EXPECT_NE(found, nullptr) << "no rule for " << head << " with delta atom " << delta_atom;
  static const RulePlan none;
  return found ? *found : none;
}

const plan::Group& group_of(const plan::Program& p, const std::string& relation) {
  uint32_t id = rel(p, relation).id;
  for (const auto& s : p.strata)
    for (const auto& g : s.groups)
      if (std::count(g.relations.begin(), g.relations.end(), id)) return g;
  ADD_FAILURE() << "no group derives " << relation;
  static const plan::Group none;
  return none;
}

// A compact picture of a pipeline: "scan a/full, lookup b/full, filter, antijoin c".
std::string shape(const RulePlan& r, const plan::Program& p) {
  std::string s;
  for (const Step& step : r.steps) {
    if (!s.empty()) s += ", ";
    s += plan::to_string(step.kind);
    if (step.kind == StepKind::Scan || step.kind == StepKind::Lookup || step.kind == StepKind::AntiJoin)
      s += " " + p.relations[step.relation].name;
    if (step.kind == StepKind::Scan || step.kind == StepKind::Lookup) s += std::string("/") + plan::to_string(step.version);
  }
  return s;
}

// The columns a Lookup or AntiJoin step matches on.
std::vector<uint32_t> index_columns(const plan::Program& p, const Step& s) {
  const plan::Relation& r = p.relations[s.relation];
  if (s.index == kKeyIndex) return r.key;
  EXPECT_GE(s.index, 0);
  EXPECT_LT(static_cast<size_t>(s.index), r.indexes.size()) << "index not registered in " << r.name;
  return s.index >= 0 && static_cast<size_t>(s.index) < r.indexes.size() ? r.indexes[s.index] : std::vector<uint32_t>{};
}

using Cols = std::vector<uint32_t>;

// ------------------------------------------------------------------ join order and indexes

TEST(Plan, LookupUsesAnIndexOnTheBoundColumns) {
  auto p = plan_for(
      "table a(x: int, y: int);\n"
      "table b(y: int, z: int, w: int);\n"
      "output o(x: int, z: int);\n"
      "o(x, z) <= a(x, y), b(y, z, _);\n");
  ASSERT_TRUE(p);
  const RulePlan& r = rule_for(*p, "o");
  EXPECT_EQ(shape(r, *p), "scan a/full, lookup b/full");
  const Step& lookup = r.steps[1];
  EXPECT_NE(lookup.index, kKeyIndex);
  EXPECT_EQ(index_columns(*p, lookup), Cols{0});
  EXPECT_EQ(rel(*p, "b").indexes, std::vector<Cols>{Cols{0}});
  ASSERT_EQ(lookup.key.size(), 1u);
  EXPECT_EQ(lookup.key[0].op, Op::Reg);
  EXPECT_EQ(static_cast<int32_t>(lookup.key[0].reg), r.steps[0].bind[1]) << "the key is the register a.y bound";
  EXPECT_EQ(lookup.bind, (std::vector<int32_t>{-1, static_cast<int32_t>(lookup.bind[1]), -1}));
  EXPECT_GE(lookup.bind[1], 0);
}

TEST(Plan, LookupUsesTheKeyIndexWhenTheBoundColumnsAreExactlyTheKey) {
  auto p = plan_for(
      "table kv(k: string, v: int) key(k);\n"
      "table pair(a: int, b: int);\n"
      "scratch q(k: string, v: int);\n"
      "output by_key(k: string, v: int);\n"
      "output by_row(k: string);\n"
      "output swapped(a: int);\n"
      "by_key(k, v) <= q(k, _), kv(k, v);\n"
      "by_row(k) <= q(k, v), kv(k, v);\n"
      "swapped(a) <= pair(a, b), pair(b, a);\n");
  ASSERT_TRUE(p);
  const RulePlan& by_key = rule_for(*p, "by_key");
  ASSERT_EQ(shape(by_key, *p), "scan q/full, lookup kv/full");
  EXPECT_EQ(by_key.steps[1].index, kKeyIndex);

  // Binding more than the key needs a real index: the key index would ignore `v`.
  const RulePlan& by_row = rule_for(*p, "by_row");
  ASSERT_EQ(shape(by_row, *p), "scan q/full, lookup kv/full");
  EXPECT_NE(by_row.steps[1].index, kKeyIndex);
  EXPECT_EQ(index_columns(*p, by_row.steps[1]), (Cols{0, 1}));
  EXPECT_EQ(rel(*p, "kv").indexes, std::vector<Cols>{(Cols{0, 1})});

  // A set's key is all its columns: binding both is a key lookup, values in key-column order.
  const RulePlan& swapped = rule_for(*p, "swapped");
  ASSERT_EQ(shape(swapped, *p), "scan pair/full, lookup pair/full");
  const Step& lookup = swapped.steps[1];
  EXPECT_EQ(lookup.index, kKeyIndex);
  ASSERT_EQ(lookup.key.size(), 2u);
  EXPECT_EQ(static_cast<int32_t>(lookup.key[0].reg), swapped.steps[0].bind[1]) << "pair(b, a): column a holds b";
  EXPECT_EQ(static_cast<int32_t>(lookup.key[1].reg), swapped.steps[0].bind[0]);
  EXPECT_TRUE(rel(*p, "pair").indexes.empty());
}

// A channel keeps its rows as they arrive, duplicates included (plan::Relation::stream), when
// nothing could see a duplicate: every rule reading it scans it and inserts what it derives
// into a collection, or only negates it. Any other reader, or a seal, keeps it a set.
TEST(Plan, AChannelIsAStreamWhenEveryRuleReadingItInsertsIntoACollection) {
  auto p = plan_for(
      "channel scanned(@d: addr, x: int, y: int);\n"
      "channel joined(@d: addr, x: int, y: int);\n"
      "channel negated(@d: addr, x: int, y: int);\n"
      "channel sent(@d: addr, x: int);\n"
      "channel counted(@d: addr, x: int);\n"
      "channel probed(@d: addr, x: int);\n"
      "channel queued(@d: addr, x: int);\n"
      "channel sealed(@d: addr, round: int, x: int);\n"
      "channel done(@d: addr, round: int, n: int);\n"
      "channel forwarded(@d: addr, x: int);\n"
      "table t(x: int);\n"
      "table u(x: int);\n"
      "table total(n: int);\n"
      "table votes(round: int, x: int);\n"
      "seal sealed(round) by done(round, n);\n"
      "t(x) <= scanned(_, x, _);\n"
      "u(y) <= scanned(_, x, y), x > y;\n"
      "t(x) <= joined(_, x, _);\n"
      "u(y) <= t(x), joined(_, x, y);\n"
      "u(x) <= t(x), not negated(_, x, _);\n"
      "sent(@d, x) <~ forwarded(d, x);\n"
      "total(count()) <= counted(_, _);\n"
      "u(x) <= t(x), probed(self(), x);\n"
      "u(x) <+ queued(_, x);\n"
      "votes(r, x) <= sealed(_, r, x);\n");
  ASSERT_TRUE(p);
  EXPECT_TRUE(rel(*p, "scanned").stream) << "scanned, into tables";
  EXPECT_FALSE(rel(*p, "joined").stream)
      << "looked up (by the variant for new rows of t): a chain lists a duplicate before rows that came after it";
  EXPECT_TRUE(rel(*p, "negated").stream) << "a negation on an index of some columns only asks whether a row exists";
  EXPECT_FALSE(rel(*p, "forwarded").stream) << "a send would send a duplicate twice";
  EXPECT_TRUE(rel(*p, "sent").stream) << "no rule reads it";
  EXPECT_FALSE(rel(*p, "counted").stream) << "an aggregate would count a duplicate";
  EXPECT_FALSE(rel(*p, "probed").stream) << "looked up by its key index";
  EXPECT_FALSE(rel(*p, "queued").stream) << "a deferred insert would queue a duplicate twice";
  EXPECT_FALSE(rel(*p, "sealed").stream) << "a seal counts the rows";
  EXPECT_FALSE(rel(*p, "done").stream) << "a seal reads its counts";
  EXPECT_FALSE(rel(*p, "t").stream) << "only channels";
  EXPECT_NE(plan::to_text(*p).find("channel scanned(d: addr, x: int, y: int) stream"), std::string::npos) << plan::to_text(*p);
  EXPECT_EQ(plan::to_json(*p)["relations"][rel(*p, "scanned").id]["stream"], true);
}

TEST(Plan, RulesShareAnIndexOnTheSameColumns) {
  auto p = plan_for(
      "table e(a: int, b: int);\n"
      "table n(a: int);\n"
      "output o1(b: int);\n"
      "output o2(b: int);\n"
      "o1(b) <= n(a), e(a, b);\n"
      "o2(b) <= n(a), e(a, b), b > 1;\n");
  ASSERT_TRUE(p);
  EXPECT_EQ(rel(*p, "e").indexes, std::vector<Cols>{Cols{0}});
  EXPECT_EQ(rule_for(*p, "o1").steps[1].index, rule_for(*p, "o2").steps[1].index);
}

TEST(Plan, ConstantsInAnAtomAreLookupKeys) {
  auto p = plan_for(
      "table b(x: int, y: string, z: int);\n"
      "output o(y: string);\n"
      "o(y) <= b(7, y, _);\n");
  ASSERT_TRUE(p);
  const RulePlan& r = rule_for(*p, "o");
  ASSERT_EQ(shape(r, *p), "lookup b/full");
  ASSERT_EQ(r.steps[0].key.size(), 1u);
  EXPECT_EQ(r.steps[0].key[0].op, Op::Const);
  EXPECT_EQ(std::get<int64_t>(r.steps[0].key[0].value), 7);
  EXPECT_EQ(index_columns(*p, r.steps[0]), Cols{0});
}

TEST(Plan, RepeatedVariableInOneAtomIsAnEqualityOnTheRow) {
  auto p = plan_for(
      "table e(a: int, b: int);\n"
      "output loop(a: int);\n"
      "loop(x) <= e(x, x);\n");
  ASSERT_TRUE(p);
  const RulePlan& r = rule_for(*p, "loop");
  ASSERT_EQ(shape(r, *p), "scan e/full");
  const Step& s = r.steps[0];
  ASSERT_GE(s.bind[0], 0);
  EXPECT_EQ(s.bind[1], -1);
  EXPECT_EQ(s.equal, (std::vector<std::pair<uint32_t, uint32_t>>{{1u, static_cast<uint32_t>(s.bind[0])}}));
}

// ------------------------------------------------------------------ recursion and delta variants

TEST(Plan, LinearRecursionHasOneDeltaVariantStartingFromTheDeltaAtom) {
  auto p = plan_for(
      "table link(src: int, dst: int);\n"
      "output path(src: int, dst: int);\n"
      "path(x, y) <= link(x, y);\n"
      "path(x, z) <= link(x, y), path(y, z);\n");
  ASSERT_TRUE(p);
  const plan::Group& g = group_of(*p, "path");
  EXPECT_TRUE(g.recursive);
  EXPECT_EQ(g.rules.size(), 2u);
  ASSERT_EQ(g.deltas.size(), 1u) << "the base rule reads no relation of the group";
  const RulePlan& d = g.deltas[0];
  EXPECT_EQ(d.delta_atom, 1);
  EXPECT_EQ(shape(d, *p), "scan path/delta, lookup link/full") << "the delta atom comes first even though it is written last";
  EXPECT_EQ(index_columns(*p, d.steps[1]), Cols{1}) << "link is looked up by dst = y";
  EXPECT_EQ(d.steps[0].text, "path(y, z)");
  // The full variant reads everything as Full.
  for (const RulePlan& r : g.rules)
    for (const Step& s : r.steps) EXPECT_EQ(s.version, Version::Full);
}

TEST(Plan, TwoGroupAtomsGiveTwoDeltaVariantsOldBeforeFullAfter) {
  auto p = plan_for(
      "table link(src: int, dst: int);\n"
      "output path(src: int, dst: int);\n"
      "path(x, y) <= link(x, y);\n"
      "path(x, z) <= path(x, y), path(y, z);\n");
  ASSERT_TRUE(p);
  const plan::Group& g = group_of(*p, "path");
  ASSERT_EQ(g.deltas.size(), 2u);
  const RulePlan& first = rule_for(*p, "path", 0);
  const RulePlan& second = rule_for(*p, "path", 1);
  // Delta on literal 1: the later atom reads Full.
  EXPECT_EQ(shape(first, *p), "scan path/delta, lookup path/full");
  EXPECT_EQ(first.steps[0].text, "path(x, y)");
  // Delta on literal 2: the earlier atom reads Old, so each derivation is found once.
  EXPECT_EQ(shape(second, *p), "scan path/delta, lookup path/old");
  EXPECT_EQ(second.steps[0].text, "path(y, z)");
  EXPECT_EQ(index_columns(*p, second.steps[1]), Cols{1}) << "path(x, y) is looked up by dst = y";
}

TEST(Plan, MutualRecursionIsOneGroup) {
  auto p = plan_for(
      "table e(a: int, b: int);\n"
      "table n(a: int);\n"
      "output even(a: int);\n"
      "output odd(a: int);\n"
      "even(x) <= n(x), x == 0;\n"
      "odd(y) <= even(x), e(x, y);\n"
      "even(y) <= odd(x), e(x, y);\n");
  ASSERT_TRUE(p);
  const plan::Group& g = group_of(*p, "even");
  EXPECT_TRUE(g.recursive);
  EXPECT_EQ(g.relations,
            (std::vector<uint32_t>{std::min(rel(*p, "even").id, rel(*p, "odd").id), std::max(rel(*p, "even").id, rel(*p, "odd").id)}));
  EXPECT_EQ(g.deltas.size(), 2u);
  for (const RulePlan& d : g.deltas) EXPECT_EQ(d.steps[0].version, Version::Delta);
}

// ------------------------------------------------------------------ negation and conditions

TEST(Plan, NegationBecomesAnAntiJoin) {
  auto p = plan_for(
      "table node(x: int);\n"
      "table edge(a: int, b: int);\n"
      "table done(x: int);\n"
      "table any(a: int, b: int);\n"
      "output lonely(x: int);\n"
      "lonely(x) <= node(x), not edge(x, _), not done(x), not any(_, _);\n");
  ASSERT_TRUE(p);
  const RulePlan& r = rule_for(*p, "lonely");
  // `not any(_, _)` needs no variable, so it is checked before anything is scanned.
  ASSERT_EQ(shape(r, *p), "antijoin any, scan node/full, antijoin edge, antijoin done");
  EXPECT_NE(r.steps[0].index, kKeyIndex);
  EXPECT_EQ(index_columns(*p, r.steps[0]), Cols{}) << "not any(_, _): an index on no columns";
  EXPECT_TRUE(r.steps[0].key.empty());
  EXPECT_EQ(index_columns(*p, r.steps[2]), Cols{0});
  EXPECT_NE(r.steps[2].index, kKeyIndex) << "edge(x, _) binds part of the key";
  EXPECT_EQ(r.steps[3].index, kKeyIndex) << "done(x) binds the whole key";
}

TEST(Plan, NegationWaitsForItsVariables) {
  auto p = plan_for(
      "table a(x: int);\n"
      "table b(x: int, y: int);\n"
      "table c(y: int);\n"
      "output o(x: int);\n"
      "o(x) <= a(x), not c(y), b(x, y);\n");
  ASSERT_TRUE(p);
  EXPECT_EQ(shape(rule_for(*p, "o"), *p), "scan a/full, lookup b/full, antijoin c");
}

TEST(Plan, ConditionsArePlacedRightAfterTheirVariablesAreBound) {
  auto p = plan_for(
      "table a(x: int, y: int);\n"
      "table b(y: int, z: int);\n"
      "output o(x: int, w: int);\n"
      "o(x, w) <= w != 3, z < 5, a(x, y), b(y, z), w = x + z, x > 1;\n");
  ASSERT_TRUE(p);
  const RulePlan& r = rule_for(*p, "o");
  ASSERT_EQ(shape(r, *p), "scan a/full, filter, lookup b/full, filter, assign, filter");
  EXPECT_EQ(r.steps[1].expr.op, Op::GtI) << "x > 1 right after a binds x";
  EXPECT_EQ(r.steps[3].expr.op, Op::LtI) << "z < 5 right after b binds z";
  EXPECT_EQ(r.steps[4].expr.op, Op::AddI);
  EXPECT_EQ(r.steps[5].expr.op, Op::Ne) << "w != 3 once the assignment binds w";
  EXPECT_EQ(r.steps[5].expr.args[0].reg, r.steps[4].target);
}

TEST(Plan, InBindsEachElementOfASet) {
  auto p = plan_for(
      "table g(k: int, s: lset<int>) key(k);\n"
      "output o(k: int, x: int);\n"
      "o(k, x) <= g(k, s), x in s, x > 2;\n");
  ASSERT_TRUE(p);
  const RulePlan& r = rule_for(*p, "o");
  ASSERT_EQ(shape(r, *p), "scan g/full, in, filter");
  EXPECT_EQ(r.steps[1].expr.op, Op::Reg);
  EXPECT_EQ(static_cast<int32_t>(r.steps[1].expr.reg), r.steps[0].bind[1]);
}

// ------------------------------------------------------------------ heads

TEST(Plan, AggregatesProduceHeadColumnsOfTheirKind) {
  auto p = plan_for(
      "table sale(region: string, item: string, amount: int);\n"
      "output total(r: string, n: int, s: int, lo: int, hi: int, av: float);\n"
      "output items(r: string, all: lset<string>);\n"
      "total(r, count(), sum(a), min(a), max(a), avg(a)) <= sale(r, _, a);\n"
      "items(r, collect(i)) <= sale(r, i, _);\n");
  ASSERT_TRUE(p);
  const RulePlan& total = rule_for(*p, "total");
  EXPECT_TRUE(total.aggregates());
  std::vector<AggKind> kinds;
  for (const auto& c : total.columns) kinds.push_back(c.agg);
  EXPECT_EQ(kinds, (std::vector<AggKind>{AggKind::None, AggKind::Count, AggKind::Sum, AggKind::Min, AggKind::Max, AggKind::Avg}));
  EXPECT_EQ(total.columns[5].result, ty(TypeKind::Float));
  EXPECT_EQ(total.columns[2].value.op, Op::Reg);
  // Aggregates range over distinct matches: the wildcard gets a register too.
  ASSERT_EQ(shape(total, *p), "scan sale/full");
  for (int32_t reg : total.steps[0].bind) EXPECT_GE(reg, 0);

  const RulePlan& items = rule_for(*p, "items");
  ASSERT_EQ(items.columns.size(), 2u);
  EXPECT_EQ(items.columns[1].agg, AggKind::Collect);
  EXPECT_EQ(items.columns[1].result, lset(kString));
}

TEST(Plan, AggregatesRunInALaterStratumThanTheirInput) {
  auto p = plan_for(
      "table e(a: int, b: int);\n"
      "table r(a: int, b: int);\n"
      "output n(a: int, c: int);\n"
      "r(x, y) <= e(x, y);\n"
      "n(x, count()) <= r(x, _);\n");
  ASSERT_TRUE(p);
  auto stratum_of = [&](const std::string& name) {
    uint32_t id = rel(*p, name).id;
    for (size_t s = 0; s < p->strata.size(); ++s)
      for (const auto& g : p->strata[s].groups)
        if (std::count(g.relations.begin(), g.relations.end(), id)) return static_cast<int>(s);
    return -1;
  };
  EXPECT_GE(stratum_of("r"), 0);
  EXPECT_GT(stratum_of("n"), stratum_of("r"));
}

TEST(Plan, DeferredAndAsynchronousRulesAreTransitions) {
  auto p = plan_for(
      "table t(k: string, v: int) key(k);\n"
      "table ins(k: string, v: int);\n"
      "table del(k: string, v: int);\n"
      "table up(k: string, v: int) key(k);\n"
      "channel msg(@dst: addr, v: int);\n"
      "t(\"a\", 1);\n"
      "ins(k, v) <+ t(k, v);\n"
      "del(k, v) <- t(k, v);\n"
      "up(k, v + 1) <+- t(k, v);\n"
      "msg(@self(), v) <~ t(_, v);\n"
      "stdout(k) <~ t(k, _);\n");
  ASSERT_TRUE(p);
  EXPECT_EQ(rule_for(*p, "ins").op, HeadOp::DeferredInsert);
  EXPECT_EQ(rule_for(*p, "del").op, HeadOp::DeferredDelete);
  EXPECT_EQ(rule_for(*p, "up").op, HeadOp::DeferredUpsert);
  EXPECT_EQ(rule_for(*p, "msg").op, HeadOp::Send);
  EXPECT_EQ(rule_for(*p, "stdout").op, HeadOp::Send);
  EXPECT_EQ(p->transitions.size(), 5u);
  for (const auto& s : p->strata)
    for (const auto& g : s.groups) EXPECT_TRUE(g.rules.empty()) << "no `<=` rule in this program";
  EXPECT_EQ(rel(*p, "msg").location, 0);
  ASSERT_EQ(p->facts.size(), 1u);
  EXPECT_EQ(p->facts[0].relation, rel(*p, "t").id);
}

// ------------------------------------------------------------------ across ticks

TEST(Plan, CrossTickVariantsStartFromTheirDeltaLiteral) {
  auto p = plan_for(
      "table a(x: int, y: int);\n"
      "table b(y: int, z: int);\n"
      "table c(x: int, z: int);\n"
      "c(x, z) <= a(x, y), b(y, z);\n");
  ASSERT_TRUE(p);
  const RulePlan& r = rule_for(*p, "c");
  ASSERT_EQ(r.variants.size(), 2u);
  EXPECT_EQ(shape(r.variants[0], *p), "scan a/delta, lookup b/full");
  EXPECT_EQ(shape(r.variants[1], *p), "scan b/delta, lookup a/old") << "the new rows of b drive their own variant";
  EXPECT_FALSE(r.variants[0].retracts);
  EXPECT_TRUE(index_columns(*p, r.variants[1].steps[1]) == Cols{1}) << "the variant asks for its own index";
}

TEST(Plan, AKeptScratchHasARetractingVariantPerNegation) {
  auto p = plan_for(
      "table t(x: int);\n"
      "table u(x: int);\n"
      "table w(x: int, y: int);\n"
      "scratch s(x: int);\n"
      "s(x) <= t(x), not u(x), not w(x, _);\n");
  ASSERT_TRUE(p);
  EXPECT_EQ(rel(*p, "s").rederived_because, "");
  const RulePlan& r = rule_for(*p, "s");
  ASSERT_EQ(r.variants.size(), 3u);
  EXPECT_EQ(shape(r.variants[0], *p), "scan t/delta, antijoin u, antijoin w");
  const RulePlan& by_u = r.variants[1];
  EXPECT_TRUE(by_u.retracts);
  EXPECT_EQ(shape(by_u, *p), "scan u/delta, antijoin w, lookup t/old") << "u's new rows drive: each blocks one match";
  EXPECT_EQ(by_u.steps[1].version, Version::Old) << "a later negation must not have blocked the match before";
  const RulePlan& by_w = r.variants[2];
  EXPECT_TRUE(by_w.retracts);
  EXPECT_EQ(shape(by_w, *p), "scan t/old, antijoin u, antijoin w") << "a wildcard in w: driven by the old matches";
  EXPECT_EQ(by_w.steps[1].version, Version::Full) << "an earlier negation matches nothing at all";
  EXPECT_EQ(by_w.steps[2].version, Version::Delta) << "w matches a new row and no old one";
}

TEST(Plan, AggregatesRunIncrementallyOverTablesThatOnlyGrow) {
  struct Case {
    const char* rule;
    const char* why;  // "" for incremental
  } cases[] = {
      {"o(x, count()) <= t(x, _);", ""},
      {"o(x, max(y)) <= t(x, z), t(z, y);", ""},
      {"o(x, sum(f)) <= u(x, f);", "float sum"},
      {"o(x, count()) <= t(x, _), not w(x);", "negation"},
      {"o(x, count()) <= m(x, _);", "can lose rows"},
  };
  for (const auto& c : cases) {
    auto p = plan_for(std::string("table t(x: int, y: int);\ntable u(x: int, f: float);\ntable w(x: int);\n"
                                  "table m(k: int, v: lmax<int>) key(k);\noutput o(x: int, n: float);\n") +
                      c.rule + "\n");
    ASSERT_TRUE(p) << c.rule;
    const RulePlan& r = rule_for(*p, "o");
    std::string why(plan::recomputed_because(*p, r));
    if (*c.why) {
      EXPECT_NE(why.find(c.why), std::string::npos) << c.rule << ": " << why;
    } else {
      EXPECT_EQ(why, "") << c.rule;
    }
    EXPECT_EQ(r.variants.empty(), !why.empty()) << c.rule;
  }
}

TEST(Plan, ScratchesThatCannotBeKeptSayWhy) {
  struct Case {
    const char* rules;
    const char* why;
  } cases[] = {
      {"s(x) <= c(@a, x);", "not a table"},
      {"s(x) <= t(x);\ns(1);", "facts"},
      {"s(x) <= t(x);\ns(x) <+ t(x);", "`<+`"},
      {"s(count()) <= t(_);", "aggregates"},
      {"s(x) <= t(x);\ns(y) <= s(x), t(y), y == x + 1;", "recursive"},
      {"s(x) <= t(x), x < tick();", "tick()"},
      {"s(x) <= m(x, _);", "not a table"},
  };
  for (const auto& c : cases) {
    auto p = plan_for(std::string("table t(x: int);\nchannel c(@a: addr, x: int);\ntable m(k: int, v: lmax<int>) key(k);\n"
                                  "scratch s(x: int);\n") +
                      c.rules + "\n");
    ASSERT_TRUE(p) << c.rules;
    const std::string& why = rel(*p, "s").rederived_because;
    EXPECT_NE(why.find(c.why), std::string::npos) << c.rules << ": " << why;
    for (const RulePlan* r : all_rules(*p)) {
      if (r->head == rel(*p, "s").id) {
        EXPECT_TRUE(r->variants.empty()) << c.rules << ": a scratch emptied every tick runs in full";
      }
    }
  }
}

TEST(Plan, RelationKeys) {
  auto p = plan_for(
      "table set(a: int, b: string);\n"
      "table kv(k: string, v: int) key(k);\n"
      "table best(k: string, n: lmax<int>);\n"
      "lattice total: lmax<int>;\n");
  ASSERT_TRUE(p);
  EXPECT_FALSE(rel(*p, "set").keyed);
  EXPECT_EQ(rel(*p, "set").key, (Cols{0, 1}));
  EXPECT_TRUE(rel(*p, "kv").keyed);
  EXPECT_EQ(rel(*p, "kv").key, Cols{0});
  EXPECT_TRUE(rel(*p, "best").keyed) << "a lattice column makes a table a map lattice";
  EXPECT_EQ(rel(*p, "best").key, Cols{0});
  EXPECT_EQ(rel(*p, "total").kind, plan::RelationKind::Lattice);
  EXPECT_EQ(rel(*p, "total").column_types, std::vector<ValueType>{lmax(kInt)});
  EXPECT_EQ(p->relations[0].kind, plan::RelationKind::Stdout);
  EXPECT_EQ(p->relations[1].kind, plan::RelationKind::Halt);
}

// ------------------------------------------------------------------ printers

class PlanPrinters : public testing::Test {
 protected:
  void SetUp() override {
    p = plan_for(
        "table link(src: int, dst: int);\n"
        "table blocked(n: int);\n"
        "output path(src: int, dst: int);\n"
        "output free(src: int, dst: int);\n"
        "path(x, y) <= link(x, y);\n"
        "path(x, z) <= path(x, y), link(y, z);\n"
        "free(x, y) <= path(x, y), not blocked(y);\n"
        "link(y, x) <+ link(x, y);\n");
    ASSERT_TRUE(p);
  }
  std::unique_ptr<plan::Program> p;
};

TEST_F(PlanPrinters, TextNamesRelationsStrataAndSteps) {
  std::string t = plan::to_text(*p);
  for (const char* want : {"link", "path", "free", "blocked", "stratum 0", "recursive", "antijoin", "delta", "transition"})
    EXPECT_NE(t.find(want), std::string::npos) << "no `" << want << "` in:\n" << t;
}

TEST_F(PlanPrinters, JsonHasTheRelationsAndRules) {
  nlohmann::json j = plan::to_json(*p);
  std::vector<std::string> names;
  for (const auto& r : j.at("relations")) names.push_back(r.at("name"));
  for (const char* want : {"link", "path", "free", "blocked"}) EXPECT_NE(std::find(names.begin(), names.end(), want), names.end()) << want;
  EXPECT_EQ(j.at("strata").size(), p->strata.size());
  EXPECT_EQ(j.at("transitions").size(), 1u);
  EXPECT_EQ(j.at("transitions")[0].at("op"), plan::to_string(HeadOp::DeferredInsert));
  // Round-trips through text.
  EXPECT_EQ(nlohmann::json::parse(j.dump()), j);
}

TEST_F(PlanPrinters, DotIsADigraphWithEveryRelation) {
  std::string d = plan::to_dot(*p);
  EXPECT_EQ(d.rfind("digraph", 0), 0u) << d;
  EXPECT_EQ(d.substr(d.size() - 2), "}\n");
  EXPECT_EQ(std::count(d.begin(), d.end(), '{'), std::count(d.begin(), d.end(), '}'));
  for (const char* want : {"link", "path", "free", "blocked", "->"}) EXPECT_NE(d.find(want), std::string::npos) << want;
}

}  // namespace
}  // namespace bloom
