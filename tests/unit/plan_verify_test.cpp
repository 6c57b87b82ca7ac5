// plan::verify, the contract between the planner and the engines: every plan the planner makes
// keeps it, and each kind of break is found and named.
#include "plan/verify.h"

#include "test_util.h"

namespace bloom::test {
namespace {

using plan::Op;
using plan::StepKind;

const char* kProgram =
    "table e(a: int, b: int);\n"
    "table p(a: int, b: int);\n"
    "lattice best: lmax<int>;\n"
    "output q(a: int, n: int);\n"
    "e(1, 2); e(2, 3);\n"
    "p(x, y) <= e(x, y);\n"
    "p(x, z) <= p(x, y), e(y, z);\n"
    "best(b) <= e(_, b);\n"
    "q(a, b * 2) <= p(a, b), not e(b, a), best(m), m >= 1, b + 1 > 2;\n";

// The first rule plan of the program (in stratum order) whose text starts with `prefix`.
plan::RulePlan* rule_of(plan::Program& p, const std::string& prefix) {
  for (auto& s : p.strata)
    for (auto& g : s.groups)
      for (auto* list : {&g.rules, &g.deltas})
        for (auto& r : *list)
          if (r.text.rfind(prefix, 0) == 0) return &r;
  return nullptr;
}

// Whether some problem contains `text`.
bool reports(const std::vector<std::string>& problems, const std::string& text) {
  for (const auto& p : problems)
    if (p.find(text) != std::string::npos) return true;
  return false;
}

std::string listed(const std::vector<std::string>& problems) {
  std::string s;
  for (const auto& p : problems) s += p + "\n";
  return s;
}

TEST(PlanVerify, EveryPlanThePlannerMakesKeepsTheContract) {
  auto p = plan_for(kProgram);
  ASSERT_NE(p, nullptr);
  EXPECT_TRUE(plan::verify(*p).empty()) << listed(plan::verify(*p));
}

TEST(PlanVerify, RelationsAndFacts) {
  auto p = plan_for(kProgram);
  ASSERT_NE(p, nullptr);
  p->relations[2].id = 7;
  p->relations[3].key = {0, 5};
  p->facts[0].values.pop_back();
  auto problems = plan::verify(*p);
  EXPECT_TRUE(reports(problems, "its id is 7 at position 2")) << listed(problems);
  EXPECT_TRUE(reports(problems, "key column 5 of 2")) << listed(problems);
  EXPECT_TRUE(reports(problems, "1 values for 2 columns")) << listed(problems);
}

TEST(PlanVerify, ARegisterReadBeforeItIsBoundIsNamedWithItsRule) {
  auto p = plan_for(kProgram);
  ASSERT_NE(p, nullptr);
  plan::RulePlan* q = rule_of(*p, "q(");
  ASSERT_NE(q, nullptr);
  // Move the last filter to the front, before the scan that binds its registers.
  auto filter = std::find_if(q->steps.rbegin(), q->steps.rend(), [](const plan::Step& s) { return s.kind == StepKind::Filter; });
  ASSERT_NE(filter, q->steps.rend());
  plan::Step moved = *filter;
  q->steps.erase(std::next(filter).base());
  q->steps.insert(q->steps.begin(), moved);
  auto problems = plan::verify(*p);
  EXPECT_TRUE(reports(problems, "step 1: reads register")) << listed(problems);
  EXPECT_TRUE(reports(problems, "`q(")) << listed(problems);  // the rule's text names it
}

TEST(PlanVerify, BindWidthsKeyWidthsAndIndexes) {
  auto p = plan_for(kProgram);
  ASSERT_NE(p, nullptr);
  plan::RulePlan* q = rule_of(*p, "q(");
  ASSERT_NE(q, nullptr);
  for (auto& s : q->steps) {
    if (s.kind == StepKind::Scan) s.bind.push_back(-1);
    if (s.kind == StepKind::AntiJoin) s.key.pop_back();
  }
  plan::RulePlan* rec = rule_of(*p, "p(x, z)");
  ASSERT_NE(rec, nullptr);
  for (auto& s : rec->steps)
    if (s.kind == StepKind::Lookup) s.index = 9;
  auto problems = plan::verify(*p);
  EXPECT_TRUE(reports(problems, "3 bindings for `p` of 2 columns")) << listed(problems);
  EXPECT_TRUE(reports(problems, "1 key values for an index of 2 columns")) << listed(problems);
  EXPECT_TRUE(reports(problems, "index 9 of `e`")) << listed(problems);
}

TEST(PlanVerify, OpcodesArgumentCountsAndTypes) {
  auto p = plan_for(kProgram);
  ASSERT_NE(p, nullptr);
  plan::RulePlan* q = rule_of(*p, "q(");
  ASSERT_NE(q, nullptr);
  // The head's b * 2: one argument too few, then a float operand of an int multiplication.
  plan::Expr& mul = q->columns[1].value;
  ASSERT_EQ(mul.op, Op::MulI);
  plan::Expr two = mul.args[1];
  mul.args.pop_back();
  auto problems = plan::verify(*p);
  EXPECT_TRUE(reports(problems, "head column 2: mul with 1 argument, expected 2")) << listed(problems);
  two.type.kind = plan::TypeKind::Float;
  mul.args.push_back(two);
  problems = plan::verify(*p);
  EXPECT_TRUE(reports(problems, "mul of an operand of type float")) << listed(problems);
  EXPECT_TRUE(reports(problems, "a constant 2 of type float")) << listed(problems);
  // A comparison the planner must lower (the engine cannot run it).
  mul.args[1].type.kind = plan::TypeKind::Int;
  for (auto& s : q->steps)
    if (s.kind == StepKind::Filter) s.expr.op = Op::LatThreshold;
  problems = plan::verify(*p);
  EXPECT_TRUE(reports(problems, "is left for the engine")) << listed(problems);
}

TEST(PlanVerify, HeadWidthAndTransitions) {
  auto p = plan_for(kProgram);
  ASSERT_NE(p, nullptr);
  plan::RulePlan* q = rule_of(*p, "q(");
  ASSERT_NE(q, nullptr);
  q->columns.pop_back();
  q->op = plan::HeadOp::Send;
  auto problems = plan::verify(*p);
  EXPECT_TRUE(reports(problems, "1 head columns for `q` of 2")) << listed(problems);
  EXPECT_TRUE(reports(problems, "rule in a group")) << listed(problems);
}

TEST(PlanVerify, AnInstantRuleAmongTheTransitions) {
  auto p = plan_for(kProgram);
  ASSERT_NE(p, nullptr);
  plan::RulePlan* rule = rule_of(*p, "p(x, y)");
  ASSERT_NE(rule, nullptr);
  p->transitions.push_back(*rule);
  auto problems = plan::verify(*p);
  EXPECT_TRUE(reports(problems, "rule among the transitions")) << listed(problems);
}

}  // namespace
}  // namespace bloom::test
