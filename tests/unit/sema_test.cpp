// Semantic checks: one focused test per check, asserting the diagnostic code (and where useful
// its position and key words of the message).
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <variant>
#include <unistd.h>
#include <vector>

#include "test_util.h"

namespace bloom {
namespace {

using namespace bloom::test;
namespace fs = std::filesystem;

bool contains(const std::string& haystack, const std::string& needle) { return haystack.find(needle) != std::string::npos; }

std::string dump(const Compilation& c) {
  std::string s;
  for (const auto& d : c.diags.all())
    s += std::string(severity_name(d.severity)) + " [" + d.code + "] " + std::to_string(d.span.line) + ":" + std::to_string(d.span.col) +
         " " + d.message + (d.help.empty() ? "" : " (help: " + d.help + ")") + "\n";
  return s;
}

// Compiles and expects success with no warnings.
#define EXPECT_CLEAN(c)                                      \
  do {                                                       \
    EXPECT_TRUE((c)->ok()) << dump(*(c));                    \
    EXPECT_EQ((c)->diags.warning_count(), 0u) << dump(*(c)); \
  } while (0)

// Expects an error with `code`, and returns it (or null, after a failure).
const Diagnostic* expect_error(const Compilation& c, const std::string& code) {
  const Diagnostic* d = find_code(c, code);
  EXPECT_NE(d, nullptr) << "expected [" << code << "], got:\n" << dump(c);
  if (d) {
    EXPECT_EQ(d->severity, Severity::Error);
  }
  EXPECT_FALSE(c.ok());
  return d;
}

// ------------------------------------------------------------------ names and declarations

TEST(Sema, UnknownCollectionWithSuggestion) {
  auto c = compile(
      "input link(a: int, b: int);\n"
      "output out(a: int);\n"
      "out(x) <= lnik(x, _);\n");
  const Diagnostic* d = expect_error(*c, "unknown-collection");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->span.line, 3u);
  EXPECT_EQ(d->span.col, 11u);
  EXPECT_TRUE(contains(d->message, "lnik")) << d->message;
  EXPECT_TRUE(contains(d->help, "did you mean `link`?")) << d->help;
  ASSERT_FALSE(d->notes.empty());
  EXPECT_EQ(d->notes[0].span.line, 1u);  // where `link` is declared
}

TEST(Sema, UnknownCollectionWithoutSuggestion) {
  auto c = compile("output out(a: int);\nout(x) <= zzzzzzzz(x);\n");
  const Diagnostic* d = expect_error(*c, "unknown-collection");
  ASSERT_NE(d, nullptr);
  EXPECT_TRUE(d->help.empty()) << d->help;
}

TEST(Sema, ArityWithDeclaredHereNote) {
  auto c = compile(
      "input link(a: int, b: int);\n"
      "output out(a: int);\n"
      "out(x) <= link(x);\n");
  const Diagnostic* d = expect_error(*c, "arity");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->span.line, 3u);
  EXPECT_EQ(d->span.col, 11u);
  EXPECT_TRUE(contains(d->message, "2 columns")) << d->message;
  EXPECT_TRUE(contains(d->message, "1 argument")) << d->message;
  ASSERT_EQ(d->notes.size(), 1u);
  EXPECT_TRUE(contains(d->notes[0].message, "declared here")) << d->notes[0].message;
  EXPECT_EQ(d->notes[0].span.line, 1u);
  EXPECT_EQ(d->notes[0].span.col, 7u);
}

TEST(Sema, ArityInHead) {
  auto c = compile("input a(x: int);\noutput out(a: int);\nout(x, x) <= a(x);\n");
  expect_error(*c, "arity");
}

TEST(Sema, DuplicateDeclaration) {
  auto c = compile("table t(a: int);\nscratch t(b: int);\n");
  const Diagnostic* d = expect_error(*c, "duplicate-declaration");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->span.line, 2u);
  ASSERT_FALSE(d->notes.empty());
  EXPECT_EQ(d->notes[0].span.line, 1u);
  EXPECT_TRUE(contains(d->notes[0].message, "first declared here"));
}

TEST(Sema, DuplicateConst) {
  auto c = compile("const k = 1;\nconst k = 2;\n");
  expect_error(*c, "duplicate-declaration");
}

TEST(Sema, ReservedNameStdout) {
  auto c = compile("table stdout(line: string);\n");
  const Diagnostic* d = expect_error(*c, "reserved-name");
  ASSERT_NE(d, nullptr);
  EXPECT_TRUE(contains(d->message, "stdout"));
}

TEST(Sema, ReservedNameHalt) {
  auto c = compile("scratch halt();\n");
  expect_error(*c, "reserved-name");
}

TEST(Sema, UnknownTypeWithSuggestion) {
  auto c = compile("table t(a: strng);\n");
  const Diagnostic* d = expect_error(*c, "unknown-type");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->span.col, 12u);
  EXPECT_TRUE(contains(d->help, "`string`")) << d->help;
}

TEST(Sema, LatticeOfBoolRejected) {
  auto c = compile("lattice m: lmax<bool>;\n");
  const Diagnostic* d = expect_error(*c, "bad-type");
  ASSERT_NE(d, nullptr);
  EXPECT_TRUE(contains(d->message, "ordered")) << d->message;
}

TEST(Sema, LmapValueMustBeALattice) {
  auto c = compile("table t(k: int, m: lmap<string, int>) key(k);\n");
  const Diagnostic* d = expect_error(*c, "bad-type");
  ASSERT_NE(d, nullptr);
  EXPECT_TRUE(contains(d->message, "lattice")) << d->message;
}

TEST(Sema, LatticeCellNeedsALatticeType) {
  auto c = compile("lattice total: int;\n");
  const Diagnostic* d = expect_error(*c, "bad-type");
  ASSERT_NE(d, nullptr);
  EXPECT_TRUE(contains(d->help, "lmax<int>")) << d->help;
}

TEST(Sema, LatticeTypeArgumentCount) {
  auto c = compile("lattice s: lset<int, int>;\n");
  expect_error(*c, "bad-type");
}

TEST(Sema, ChannelNeedsALocationColumn) {
  auto c = compile("channel msg(to: addr, x: int);\n");
  const Diagnostic* d = expect_error(*c, "missing-location");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->span.col, 9u);
}

TEST(Sema, ChannelWithTwoLocationColumns) {
  auto c = compile("channel msg(@to: addr, @from: addr);\n");
  const Diagnostic* d = expect_error(*c, "two-locations");
  ASSERT_NE(d, nullptr);
  ASSERT_FALSE(d->notes.empty());
}

TEST(Sema, ChannelLocationMustBeAddr) {
  auto c = compile("channel msg(@to: int, x: int);\n");
  expect_error(*c, "bad-location-type");
}

TEST(Sema, LocationColumnOutsideChannel) {
  auto c = compile("table t(@a: addr, b: int);\n");
  expect_error(*c, "location-outside-channel");
}

TEST(Sema, KeyColumnUnknown) {
  auto c = compile("table kv(key: string, val: string) key(kye);\n");
  const Diagnostic* d = expect_error(*c, "unknown-key-column");
  ASSERT_NE(d, nullptr);
  EXPECT_TRUE(contains(d->help, "`key`")) << d->help;
}

TEST(Sema, KeyColumnIsALattice) {
  auto c = compile("table t(k: lset<int>, v: int) key(k);\n");
  expect_error(*c, "lattice-key");
}

TEST(Sema, KeyColumnListedTwice) {
  auto c = compile("table t(k: int, v: int) key(k, k);\n");
  expect_error(*c, "bad-key");
}

TEST(Sema, DuplicateColumn) {
  auto c = compile("table t(a: int, a: string);\n");
  const Diagnostic* d = expect_error(*c, "duplicate-column");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->span.col, 17u);
}

TEST(Sema, PeriodNotPositive) {
  auto c = compile("periodic p every 0ms;\n");
  expect_error(*c, "bad-period");
}

TEST(Sema, ChannelCannotHaveAKey) {
  auto c = compile("channel m(@to: addr, x: int) key(x);\n");
  expect_error(*c, "bad-key");
}

TEST(Sema, ExplicitKey) {
  auto c = compile("table kv(k: string, v: string) key(k);\n");
  EXPECT_CLEAN(c);
  ASSERT_TRUE(c->program);
  const auto* kv = c->program->find("kv");
  ASSERT_NE(kv, nullptr);
  EXPECT_TRUE(kv->keyed);
  EXPECT_EQ(kv->key, std::vector<uint32_t>{0});
}

TEST(Sema, LatticeColumnsImplyAKey) {
  auto c = compile("table votes(round: int, tag: string, who: lset<string>);\ntable plain(a: int, b: int);\n");
  EXPECT_CLEAN(c);
  ASSERT_TRUE(c->program);
  const auto* v = c->program->find("votes");
  ASSERT_NE(v, nullptr);
  EXPECT_TRUE(v->keyed);
  EXPECT_EQ(v->key, (std::vector<uint32_t>{0, 1}));
  EXPECT_TRUE(v->has_lattice_column());
  const auto* p = c->program->find("plain");
  ASSERT_NE(p, nullptr);
  EXPECT_FALSE(p->keyed);
  EXPECT_TRUE(p->key.empty());
}

// ------------------------------------------------------------------ safety

TEST(Sema, UnboundVariableInHead) {
  auto c = compile(
      "input a(x: int);\n"
      "output out(x: int, y: int);\n"
      "out(x, y) <= a(x);\n");
  const Diagnostic* d = expect_error(*c, "unbound-variable");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->span.line, 3u);
  EXPECT_EQ(d->span.col, 8u);
  EXPECT_TRUE(contains(d->message, "`y`")) << d->message;
}

TEST(Sema, UnboundVariableInNegation) {
  auto c = compile(
      "input a(x: int);\ninput b(x: int);\noutput out(x: int);\n"
      "out(x) <= a(x), not b(y);\n");
  const Diagnostic* d = expect_error(*c, "unbound-variable");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->span.line, 4u);
  EXPECT_EQ(d->span.col, 23u);
}

TEST(Sema, UnboundVariableInCondition) {
  auto c = compile("input a(x: int);\noutput out(x: int);\nout(x) <= a(x), y > 1;\n");
  const Diagnostic* d = expect_error(*c, "unbound-variable");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->span.col, 17u);
}

TEST(Sema, UnboundVariableInAssignment) {
  auto c = compile("input a(x: int);\noutput out(x: int);\nout(z) <= a(x), z = w + x;\n");
  const Diagnostic* d = expect_error(*c, "unbound-variable");
  ASSERT_NE(d, nullptr);
  EXPECT_TRUE(contains(d->message, "`w`")) << d->message;
  EXPECT_EQ(d->span.col, 21u);
}

TEST(Sema, AssignmentsBindInAnyOrder) {
  auto c = compile("input a(x: int);\noutput out(x: int);\nout(z) <= z = y * 2, y = x + 1, a(x);\n");
  EXPECT_CLEAN(c);
}

TEST(Sema, UnboundVariableSuggestsBoundName) {
  auto c = compile("input a(count1: int);\noutput out(x: int);\nout(count2) <= a(count1);\n");
  const Diagnostic* d = expect_error(*c, "unbound-variable");
  ASSERT_NE(d, nullptr);
  EXPECT_TRUE(contains(d->help, "count1")) << d->help;
}

TEST(Sema, WildcardInHead) {
  auto c = compile("input a(x: int);\noutput out(x: int, y: int);\nout(x, _) <= a(x);\n");
  const Diagnostic* d = expect_error(*c, "wildcard-in-head");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->span.col, 8u);
}

TEST(Sema, SingletonVariableWarning) {
  auto c = compile("input a(x: int, y: int);\noutput out(x: int);\nout(x) <= a(x, y);\n");
  EXPECT_TRUE(c->ok()) << dump(*c);  // a warning, not an error
  const Diagnostic* d = find_code(*c, "singleton-variable");
  ASSERT_NE(d, nullptr) << dump(*c);
  EXPECT_EQ(d->severity, Severity::Warning);
  EXPECT_EQ(d->span.line, 3u);
  EXPECT_EQ(d->span.col, 16u);
  EXPECT_TRUE(contains(d->message, "`y`"));
  EXPECT_EQ(c->diags.warning_count(), 1u);
}

TEST(Sema, NoSingletonWarningForWildcards) {
  auto c = compile("input a(x: int, y: int);\noutput out(x: int);\nout(x) <= a(x, _);\nout(x) <= a(x, _y);\n");
  EXPECT_CLEAN(c);
}

// ------------------------------------------------------------------ types

TEST(Sema, ColumnTypeMismatch) {
  auto c = compile("input i(s: string);\ntable t(a: int);\nt(s) <= i(s);\n");
  const Diagnostic* d = expect_error(*c, "type-mismatch");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->span.line, 3u);
  EXPECT_EQ(d->span.col, 3u);
  EXPECT_TRUE(contains(d->message, "`int`")) << d->message;
  EXPECT_TRUE(contains(d->message, "`string`")) << d->message;
  EXPECT_TRUE(contains(d->help, "to_int")) << d->help;
}

TEST(Sema, VariableBoundWithTwoTypes) {
  auto c = compile("input i(s: string);\ninput j(n: int);\noutput o(s: string);\no(s) <= i(s), j(s);\n");
  expect_error(*c, "type-mismatch");
}

TEST(Sema, CompareStringWithInt) {
  auto c = compile("input i(k: int, s: string);\noutput o(k: int);\no(k) <= i(k, s), s == 1;\n");
  const Diagnostic* d = expect_error(*c, "type-mismatch");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->span.col, 20u);  // the `==`
  EXPECT_TRUE(contains(d->message, "compare")) << d->message;
}

TEST(Sema, ArithmeticOnStrings) {
  auto c = compile("input i(k: int, s: string);\noutput o(k: int);\no(k) <= i(k, s), s * 2 > 1;\n");
  const Diagnostic* d = expect_error(*c, "type-mismatch");
  ASSERT_NE(d, nullptr);
  EXPECT_TRUE(contains(d->message, "`string`")) << d->message;
}

TEST(Sema, StringConcatenationIsFine) {
  auto c = compile("input i(s: string);\noutput o(s: string);\no(t) <= i(s), t = s + \"!\";\n");
  EXPECT_CLEAN(c);
}

TEST(Sema, ConditionMustBeBool) {
  auto c = compile("input i(k: int);\noutput o(k: int);\no(k) <= i(k), k + 1;\n");
  const Diagnostic* d = expect_error(*c, "type-mismatch");
  ASSERT_NE(d, nullptr);
  EXPECT_TRUE(contains(d->message, "condition")) << d->message;
}

TEST(Sema, IntLiteralAcceptedForFloatColumn) {
  auto c = compile("table f(x: float);\nf(1);\ninput i(k: int);\nf(k) <= i(k);\nf(2.5) <= i(_);\n");
  EXPECT_CLEAN(c);
}

TEST(Sema, StringLiteralAcceptedForAddr) {
  auto c = compile(
      "table peers(a: addr);\npeers(\"n1:9000\");\n"
      "channel ping(@to: addr, from: addr);\n"
      "input go(x: int);\n"
      "ping(@\"n2\", self()) <~ go(_);\n");
  EXPECT_CLEAN(c);
}

TEST(Sema, StringVariableIntoAddrColumnIsRejected) {
  // Only literals (and consts/params) convert to addr; a computed string does not.
  auto c = compile("input i(s: string);\ntable peers(a: addr);\npeers(t) <= i(s), t = s + \"x\";\n");
  expect_error(*c, "type-mismatch");
}

TEST(Sema, LiftIntoLatticeCell) {
  auto c = compile(
      "input vote(v: string);\n"
      "lattice votes: lset<string>;\n"
      "lattice biggest: lmax<int>;\n"
      "input n(k: int);\n"
      "votes(v) <= vote(v);\n"
      "biggest(k) <= n(k);\n");
  EXPECT_CLEAN(c);
}

TEST(Sema, LiftIntoLatticeColumn) {
  auto c = compile(
      "input vote(r: int, v: string);\n"
      "table voters(r: int, who: lset<string>) key(r);\n"
      "voters(r, v) <= vote(r, v);\n");
  EXPECT_CLEAN(c);
}

TEST(Sema, LiftOfWrongElementTypeIsRejected) {
  auto c = compile("input vote(v: int);\nlattice votes: lset<string>;\nvotes(v) <= vote(v);\n");
  expect_error(*c, "type-mismatch");
}

TEST(Sema, RevealIntoPlainColumnIsAllowed) {
  auto c = compile("lattice total: lmax<int>;\noutput o(n: int);\no(t) <= total(t);\n");
  EXPECT_CLEAN(c);
  ASSERT_TRUE(c->program);
  ASSERT_EQ(c->program->rules.size(), 1u);
  ASSERT_EQ(c->program->rules[0].inputs.size(), 1u);
  EXPECT_FALSE(c->program->rules[0].inputs[0].reveals.empty());  // recorded as a reveal
}

TEST(Sema, LatticeThresholdIsLbool) {
  auto c = compile(
      "table voters(r: int, who: lset<string>) key(r);\n"
      "table quorum(r: int, ok: lbool) key(r);\n"
      "quorum(r, s.size() >= 3) <= voters(r, s);\n");
  EXPECT_CLEAN(c);
  ASSERT_TRUE(c->program);
  const ast::Expr* e = c->program->modules[0]->rules[0].head.args[1].expr.get();
  const sema::Type* t = c->program->expr_types.find(e);
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->kind, sema::TypeKind::LBool);
  // A threshold is not a reveal.
  EXPECT_TRUE(c->program->rules[0].inputs[0].reveals.empty());
}

TEST(Sema, NonThresholdComparisonOfLatticeIsAReveal) {
  auto c = compile(
      "table voters(r: int, who: lset<string>) key(r);\n"
      "output exact(r: int);\n"
      "exact(r) <= voters(r, s), s.size() == 3;\n");
  EXPECT_CLEAN(c);
  ASSERT_TRUE(c->program);
  EXPECT_FALSE(c->program->rules[0].inputs[0].reveals.empty());
}

TEST(Sema, LminThresholdIsLbool) {
  auto c = compile(
      "lattice best: lmin<int>;\n"
      "lattice good: lbool;\n"
      "good(b < 10) <= best(b);\n");
  EXPECT_CLEAN(c);
  ASSERT_TRUE(c->program);
  EXPECT_TRUE(c->program->rules[0].inputs[0].reveals.empty());
}

TEST(Sema, WildcardInsideExpression) {
  auto c = compile("input a(x: int);\noutput o(x: int);\no(x) <= a(x), x > _;\n");
  expect_error(*c, "bad-wildcard");
}

TEST(Sema, UnknownMethodWithSuggestion) {
  auto c = compile("table v(r: int, s: lset<string>) key(r);\noutput o(r: int);\no(r) <= v(r, s), s.sise() >= 1;\n");
  const Diagnostic* d = expect_error(*c, "unknown-method");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->span.col, 20u);  // the method name
  EXPECT_TRUE(contains(d->help, "size()")) << d->help;
}

TEST(Sema, MethodOnPlainValue) {
  auto c = compile("input i(x: int);\noutput o(x: int);\no(x) <= i(x), x.size() >= 1;\n");
  expect_error(*c, "not-a-lattice");
}

TEST(Sema, UnknownFunctionWithSuggestion) {
  auto c = compile("input i(x: int);\noutput o(s: string);\no(to_strng(x)) <= i(x);\n");
  const Diagnostic* d = expect_error(*c, "unknown-function");
  ASSERT_NE(d, nullptr);
  EXPECT_TRUE(contains(d->help, "to_string")) << d->help;
}

TEST(Sema, BuiltinFunctionArgumentTypes) {
  auto c = compile("input i(x: int);\noutput o(n: int);\no(len(x)) <= i(x);\n");
  expect_error(*c, "type-mismatch");
}

TEST(Sema, AggregateOutsideHead) {
  auto c = compile("input i(x: int);\noutput o(x: int, n: int);\no(x, n) <= i(x), n = count();\n");
  expect_error(*c, "misplaced-aggregate");
}

TEST(Sema, AggregateTypes) {
  auto c = compile(
      "input sale(item: string, amount: int, who: string);\n"
      "output total(item: string, n: int);\n"
      "output avg_amount(item: string, a: float);\n"
      "output first_buyer(item: string, w: string);\n"
      "output buyers(item: string, ws: lset<string>);\n"
      "output cnt(item: string, n: int);\n"
      "total(i, sum(a)) <= sale(i, a, _);\n"
      "avg_amount(i, avg(a)) <= sale(i, a, _);\n"
      "first_buyer(i, min(w)) <= sale(i, _, w);\n"
      "buyers(i, collect(w)) <= sale(i, _, w);\n"
      "cnt(i, count()) <= sale(i, _, _);\n");
  EXPECT_CLEAN(c);
}

TEST(Sema, SumOfStringRejected) {
  auto c = compile(
      "input sale(item: string, who: string);\n"
      "output total(item: string, n: int);\n"
      "total(i, sum(w)) <= sale(i, w);\n");
  const Diagnostic* d = expect_error(*c, "type-mismatch");
  ASSERT_NE(d, nullptr);
  EXPECT_TRUE(contains(d->message, "sum()")) << d->message;
  EXPECT_EQ(d->span.col, 14u);
}

TEST(Sema, CountTakesNoArgument) {
  auto c = compile("input s(x: int);\noutput n(c: int);\nn(count(x)) <= s(x);\n");
  expect_error(*c, "arity");
}

// ------------------------------------------------------------------ merge operators

TEST(Sema, ChannelHeadNeedsAsync) {
  auto c = compile(
      "channel msg(@to: addr, x: int);\ninput i(to: addr, x: int);\n"
      "msg(@t, x) <= i(t, x);\n");
  const Diagnostic* d = expect_error(*c, "bad-merge-op");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->span.line, 3u);
  EXPECT_EQ(d->span.col, 12u);
  EXPECT_TRUE(contains(d->message, "<~")) << d->message;
}

TEST(Sema, ChannelSendNeedsAt) {
  auto c = compile("channel msg(@to: addr, x: int);\ninput i(to: addr, x: int);\nmsg(t, x) <~ i(t, x);\n");
  expect_error(*c, "missing-at");
}

TEST(Sema, AtOnANonLocationArgument) {
  auto c = compile("table t(a: addr, x: int);\ninput i(to: addr, x: int);\nt(@a, x) <= i(a, x);\n");
  expect_error(*c, "bad-location");
}

TEST(Sema, AsyncIntoTable) {
  auto c = compile("table t(x: int);\ninput i(x: int);\nt(x) <~ i(x);\n");
  const Diagnostic* d = expect_error(*c, "bad-merge-op");
  ASSERT_NE(d, nullptr);
  EXPECT_TRUE(contains(d->message, "channel")) << d->message;
}

TEST(Sema, DeleteFromScratch) {
  auto c = compile("scratch s(x: int);\ninput i(x: int);\ns(x) <- i(x);\n");
  expect_error(*c, "bad-merge-op");
}

TEST(Sema, DeleteFromLattice) {
  auto c = compile("lattice m: lmax<int>;\ninput i(x: int);\nm(x) <- i(x);\n");
  const Diagnostic* d = expect_error(*c, "bad-merge-op");
  ASSERT_NE(d, nullptr);
  EXPECT_TRUE(contains(d->help, "grows")) << d->help;
}

TEST(Sema, PeriodicAsHead) {
  auto c = compile("periodic tick1 every 1s;\ninput i(x: int);\ntick1(x) <= i(x);\n");
  expect_error(*c, "bad-head");
}

TEST(Sema, InputAsHeadInItsOwnModule) {
  auto c = compile("input a(x: int);\ninput b(x: int);\na(x) <= b(x);\n");
  const Diagnostic* d = expect_error(*c, "bad-head");
  ASSERT_NE(d, nullptr);
  EXPECT_TRUE(contains(d->message, "input")) << d->message;
}

TEST(Sema, StdoutNeedsAsync) {
  auto c = compile("input i(s: string);\nstdout(s) <= i(s);\n");
  expect_error(*c, "bad-merge-op");
  auto ok = compile("input i(s: string);\nstdout(s) <~ i(s);\n");
  EXPECT_CLEAN(ok);
}

TEST(Sema, StdoutCannotBeRead) {
  auto c = compile("output o(s: string);\no(s) <= stdout(s);\n");
  expect_error(*c, "bad-body-atom");
}

TEST(Sema, UpsertIntoUnkeyedTableWarns) {
  auto c = compile("table t(k: int, v: int);\ninput i(k: int, v: int);\nt(k, v) <+- i(k, v);\n");
  EXPECT_TRUE(c->ok()) << dump(*c);
  const Diagnostic* d = find_code(*c, "upsert-without-key");
  ASSERT_NE(d, nullptr) << dump(*c);
  EXPECT_EQ(d->severity, Severity::Warning);
  auto keyed = compile("table t(k: int, v: int) key(k);\ninput i(k: int, v: int);\nt(k, v) <+- i(k, v);\n");
  EXPECT_CLEAN(keyed);
}

TEST(Sema, DeferredOperatorsOnTablesAreFine) {
  auto c = compile(
      "table t(k: int, v: int) key(k);\ninput i(k: int, v: int);\n"
      "t(k, v) <+ i(k, v);\nt(k, v) <- i(k, v);\nt(k, v) <+- i(k, v);\n");
  EXPECT_CLEAN(c);
}

// ------------------------------------------------------------------ facts

TEST(Sema, FactMustBeGround) {
  auto c = compile("table t(x: int);\nt(x);\n");
  expect_error(*c, "fact-not-ground");
  auto w = compile("table t(x: int);\nt(_);\n");
  expect_error(*w, "fact-not-ground");
}

TEST(Sema, FactIntoChannelRejected) {
  auto c = compile("channel m(@to: addr, x: int);\nm(\"a\", 1);\n");
  expect_error(*c, "bad-fact");
}

TEST(Sema, FactIntoInputRejected) {
  auto c = compile("input i(x: int);\ni(1);\n");
  const Diagnostic* d = expect_error(*c, "bad-fact");
  ASSERT_NE(d, nullptr);
  EXPECT_TRUE(contains(d->help, ".facts")) << d->help;
}

TEST(Sema, FactIntoPeriodicRejected) {
  auto c = compile("periodic p every 1s;\np(1);\n");
  expect_error(*c, "bad-fact");
}

TEST(Sema, FactTypeMismatch) {
  auto c = compile("table t(x: int);\nt(\"a\");\n");
  expect_error(*c, "type-mismatch");
}

TEST(Sema, KeyConflictBetweenFacts) {
  auto c = compile(
      "table kv(k: string, v: int) key(k);\n"
      "kv(\"a\", 1);\n"
      "kv(\"b\", 1);\n"
      "kv(\"a\", 2);\n");
  const Diagnostic* d = expect_error(*c, "key-conflict");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->span.line, 4u);
  ASSERT_FALSE(d->notes.empty());
  EXPECT_EQ(d->notes[0].span.line, 2u);
  EXPECT_TRUE(contains(d->notes[0].message, "other fact")) << d->notes[0].message;
  EXPECT_TRUE(contains(d->help, "`v`")) << d->help;
}

TEST(Sema, IdenticalDuplicateFactsAreFine) {
  auto c = compile("table kv(k: string, v: int) key(k);\nkv(\"a\", 1);\nkv(\"a\", 1);\n");
  EXPECT_CLEAN(c);
}

TEST(Sema, LatticeColumnFactsWithOneKeyMerge) {
  auto c = compile("table v(k: int, s: lset<string>);\nv(1, \"a\");\nv(1, \"b\");\n");
  EXPECT_CLEAN(c);
}

TEST(Sema, FactsUseConsts) {
  auto c = compile("const base = 10;\ntable t(x: int);\nt(base * 2);\n");
  EXPECT_CLEAN(c);
  ASSERT_TRUE(c->program);
  ASSERT_EQ(c->program->facts.size(), 1u);
  ASSERT_EQ(c->program->facts[0].values.size(), 1u);
  EXPECT_EQ(std::get<int64_t>(c->program->facts[0].values[0]), 20);
}

// ------------------------------------------------------------------ params and consts

TEST(Sema, ParamDefaultTypeMismatch) {
  auto c = compile("param n: int = \"three\";\n");
  const Diagnostic* d = expect_error(*c, "type-mismatch");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->span.col, 16u);
}

TEST(Sema, ParamMustHavePlainType) {
  auto c = compile("param n: lmax<int>;\n");
  expect_error(*c, "bad-type");
}

TEST(Sema, ParamOverride) {
  CompileOptions opts;
  opts.params = {{"threshold", "5"}};
  auto c = compile("param threshold: int = 3;\ntable t(x: int);\nt(threshold);\n", opts);
  EXPECT_CLEAN(c);
  ASSERT_TRUE(c->program);
  EXPECT_EQ(std::get<int64_t>(c->program->instances[0].params.at("threshold")), 5);
  ASSERT_EQ(c->program->facts.size(), 1u);
  EXPECT_EQ(std::get<int64_t>(c->program->facts[0].values[0]), 5);

  auto d = compile("param threshold: int = 3;\ntable t(x: int);\nt(threshold);\n");
  ASSERT_TRUE(d->program);
  EXPECT_EQ(std::get<int64_t>(d->program->instances[0].params.at("threshold")), 3);
}

TEST(Sema, ParamBadValue) {
  CompileOptions opts;
  opts.params = {{"threshold", "many"}};
  auto c = compile("param threshold: int = 3;\n", opts);
  const Diagnostic* d = expect_error(*c, "bad-param-value");
  ASSERT_NE(d, nullptr);
  EXPECT_TRUE(contains(d->message, "many")) << d->message;
  EXPECT_EQ(d->span.line, 1u);
}

TEST(Sema, UnknownParamWithSuggestion) {
  CompileOptions opts;
  opts.params = {{"treshold", "4"}};
  auto c = compile("param threshold: int = 3;\n", opts);
  const Diagnostic* d = expect_error(*c, "unknown-param");
  ASSERT_NE(d, nullptr);
  EXPECT_TRUE(contains(d->help, "`threshold`")) << d->help;
}

TEST(Sema, ConstsInRules) {
  auto c = compile(
      "const limit = 10;\nconst twice = limit * 2;\n"
      "input i(x: int);\noutput o(x: int);\n"
      "o(x) <= i(x), x > twice;\n");
  EXPECT_CLEAN(c);
}

TEST(Sema, NonConstantConstRejected) {
  auto c = compile("const c = y + 1;\n");
  expect_error(*c, "not-constant");
}

TEST(Sema, ConstDivisionByZero) {
  auto c = compile("const z = 1 / 0;\n");
  expect_error(*c, "division-by-zero");
}

TEST(Sema, ConstOverflow) {
  auto c = compile("const z = 9223372036854775807 + 1;\n");
  expect_error(*c, "overflow");
}

// ------------------------------------------------------------------ imports

class ImportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::path(::testing::TempDir()) / (std::string("bloom_sema_") + info->name() + "_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::string write(const std::string& name, const std::string& text) {
    fs::path p = dir_ / name;
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
    return p.string();
  }
  fs::path dir_;
};

const char* kCounterModule =
    "param start: int = 0;\n"
    "input x(v: int);\n"
    "table y(v: int);\n"
    "y(v) <= x(v);\n";

TEST_F(ImportTest, QualifiedNames) {
  write("m.bloom", kCounterModule);
  std::string main = write("main.bloom",
                           "import \"m.bloom\" as m;\n"
                           "input src(v: int);\n"
                           "output out(v: int);\n"
                           "m.x(v) <= src(v);\n"
                           "out(v) <= m.y(v);\n");
  auto c = compile_file(main);
  EXPECT_CLEAN(c);
  ASSERT_TRUE(c->program);
  EXPECT_NE(c->program->find("m.x"), nullptr);
  EXPECT_NE(c->program->find("m.y"), nullptr);
  EXPECT_EQ(c->program->find("y"), nullptr);
}

TEST_F(ImportTest, TwoInstancesGetSeparateCollections) {
  write("m.bloom", kCounterModule);
  std::string main = write("main.bloom",
                           "import \"m.bloom\" as a;\n"
                           "import \"m.bloom\" as b;\n"
                           "input src(v: int);\n"
                           "a.x(v) <= src(v);\n"
                           "b.x(v) <= src(v);\n");
  auto c = compile_file(main);
  EXPECT_CLEAN(c);
  ASSERT_TRUE(c->program);
  const auto* ax = c->program->find("a.x");
  const auto* bx = c->program->find("b.x");
  ASSERT_NE(ax, nullptr);
  ASSERT_NE(bx, nullptr);
  EXPECT_NE(ax->id, bx->id);
  EXPECT_NE(ax->instance, bx->instance);
  EXPECT_NE(c->program->find("a.y"), nullptr);
  EXPECT_NE(c->program->find("b.y"), nullptr);
  EXPECT_EQ(c->program->modules.size(), 2u);    // one file parsed once
  EXPECT_EQ(c->program->instances.size(), 3u);  // main, a, b
  // The module's rule is instantiated once per instance.
  int rules_into_y = 0;
  for (const auto& r : c->program->rules)
    if (r.head == c->program->find("a.y")->id || r.head == c->program->find("b.y")->id) ++rules_into_y;
  EXPECT_EQ(rules_into_y, 2);
}

TEST_F(ImportTest, QualifiedParamOverride) {
  write("m.bloom", kCounterModule);
  std::string main = write("main.bloom", "import \"m.bloom\" as a;\nimport \"m.bloom\" as b;\n");
  CompileOptions opts;
  opts.params = {{"b.start", "7"}};
  auto c = compile_file(main, opts);
  EXPECT_CLEAN(c);
  ASSERT_TRUE(c->program);
  for (const auto& inst : c->program->instances) {
    if (inst.prefix == "a.") {
      EXPECT_EQ(std::get<int64_t>(inst.params.at("start")), 0);
    }
    if (inst.prefix == "b.") {
      EXPECT_EQ(std::get<int64_t>(inst.params.at("start")), 7);
    }
  }
}

// `import "std/NAME"` reads the standard library's folder, wherever the importer is, with or
// without the extension; a module there imports its neighbours relative to itself.
TEST_F(ImportTest, StdImportsComeFromTheStandardLibrary) {
  write("lib/counter.bloom", "import \"helper.bloom\" as h;\n" + std::string(kCounterModule));
  write("lib/helper.bloom", "table z(v: int);\n");
  write("prog/std/counter.bloom", "table not_the_library(v: int);\n");  // a local std/ folder is not it
  std::string main = write("prog/main.bloom",
                           "import \"std/counter\" as a;\n"
                           "import \"std/counter.bloom\" as b;\n"
                           "import \"./std/counter.bloom\" as local;\n"
                           "input src(v: int);\n"
                           "a.x(v) <= src(v);\n"
                           "b.x(v) <= src(v);\n");
  CompileOptions opts;
  opts.stdlib_dir = (dir_ / "lib").string();
  auto c = compile_file(main, opts);
  EXPECT_CLEAN(c);
  ASSERT_TRUE(c->program);
  EXPECT_NE(c->program->find("a.y"), nullptr);
  EXPECT_NE(c->program->find("b.h.z"), nullptr);
  EXPECT_NE(c->program->find("local.not_the_library"), nullptr);
}

TEST_F(ImportTest, StdImportWithoutAStandardLibraryNamesWhereItLooked) {
  std::string main = write("main.bloom", "import \"std/quorum\" as q;\n");
  CompileOptions opts;
  opts.stdlib_dir = "";
  auto c = compile_file(main, opts);
  const Diagnostic* d = expect_error(*c, "import-not-found");
  ASSERT_NE(d, nullptr);
  EXPECT_TRUE(contains(d->message, "the standard library was not found")) << d->message;
  EXPECT_TRUE(contains(d->help, "BLOOM_STDLIB")) << d->help;
  EXPECT_EQ(d->span.line, 1u);
  EXPECT_EQ(d->span.col, 8u);
}

TEST_F(ImportTest, StdImportOfAMissingModuleNamesTheFileLookedFor) {
  fs::create_directories(dir_ / "lib");
  std::string main = write("main.bloom", "import \"std/nosuch\" as q;\n");
  CompileOptions opts;
  opts.stdlib_dir = (dir_ / "lib").string();
  auto c = compile_file(main, opts);
  const Diagnostic* d = expect_error(*c, "import-not-found");
  ASSERT_NE(d, nullptr);
  std::string notes;
  for (const auto& n : d->notes) notes += n.message + "\n";
  EXPECT_TRUE(contains(notes, (dir_ / "lib" / "nosuch.bloom").string())) << notes;
}

// The search order of find_stdlib: $BLOOM_STDLIB first, and only it when it is set.
TEST_F(ImportTest, FindStdlibHonoursTheEnvironment) {
  fs::create_directories(dir_ / "lib");
  const char* old = std::getenv("BLOOM_STDLIB");
  std::string saved = old ? old : "";
  ::setenv("BLOOM_STDLIB", (dir_ / "lib").c_str(), 1);
  std::vector<std::string> searched;
  EXPECT_EQ(find_stdlib(&searched), (dir_ / "lib").string());
  ::setenv("BLOOM_STDLIB", (dir_ / "missing").c_str(), 1);
  searched.clear();
  EXPECT_EQ(find_stdlib(&searched), "");
  ASSERT_EQ(searched.size(), 1u);
  EXPECT_TRUE(contains(searched[0], "missing")) << searched[0];
  if (old) ::setenv("BLOOM_STDLIB", saved.c_str(), 1);
  else ::unsetenv("BLOOM_STDLIB");
}

TEST_F(ImportTest, ImporterMayDeriveIntoModuleInput) {
  write("m.bloom", kCounterModule);
  std::string main = write("main.bloom", "import \"m.bloom\" as m;\ntable t(v: int);\nt(1);\nm.x(v) <= t(v);\n");
  auto c = compile_file(main);
  EXPECT_CLEAN(c);
}

TEST_F(ImportTest, UnknownQualifiedCollection) {
  write("m.bloom", kCounterModule);
  std::string main = write("main.bloom", "import \"m.bloom\" as m;\ntable t(v: int);\nt(v) <= m.yy(v);\n");
  auto c = compile_file(main);
  const Diagnostic* d = expect_error(*c, "unknown-collection");
  ASSERT_NE(d, nullptr);
}

TEST_F(ImportTest, UnknownModuleAlias) {
  // In a head a qualified name is always an atom (in a body, `q.y(v)` with no alias `q` is a
  // method call on the variable q).
  std::string main = write("main.bloom", "input t(v: int);\nq.y(v) <= t(v);\n");
  auto c = compile_file(main);
  const Diagnostic* d = expect_error(*c, "unknown-module");
  ASSERT_NE(d, nullptr);
  EXPECT_TRUE(contains(d->help, "import")) << d->help;
}

TEST_F(ImportTest, UnknownNameInModule) {
  write("m.bloom", kCounterModule);
  std::string main = write("main.bloom", "import \"m.bloom\" as m;\ninput i(v: int);\noutput o(v: int);\no(v) <= i(v), v > m.stat;\n");
  auto c = compile_file(main);
  expect_error(*c, "unknown-name");
}

TEST_F(ImportTest, ModuleConstsAndParamsAreReachable) {
  write("m.bloom", "const limit = 5;\nparam start: int = 1;\n");
  std::string main =
      write("main.bloom", "import \"m.bloom\" as m;\ninput i(v: int);\noutput o(v: int);\no(v) <= i(v), v > m.limit, v > m.start;\n");
  auto c = compile_file(main);
  EXPECT_CLEAN(c);
}

TEST_F(ImportTest, TooManyInstances) {
  // Each level imports the next twice: 2^15 instances, beyond the limit of 10,000.
  const int levels = 15;
  for (int i = 0; i < levels; ++i) {
    std::string next = "m" + std::to_string(i + 1) + ".bloom";
    write("m" + std::to_string(i) + ".bloom", "import \"" + next + "\" as a;\nimport \"" + next + "\" as b;\ntable t(x: int);\n");
  }
  write("m" + std::to_string(levels) + ".bloom", "table t(x: int);\n");
  auto c = compile_file((dir_ / "m0.bloom").string());
  expect_error(*c, "too-many-instances");
}

TEST_F(ImportTest, MissingImportFile) {
  std::string main = write("main.bloom", "import \"nope.bloom\" as n;\n");
  auto c = compile_file(main);
  const Diagnostic* d = expect_error(*c, "import-not-found");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->span.line, 1u);
  EXPECT_EQ(d->span.col, 8u);
}

TEST_F(ImportTest, ImportCycle) {
  write("a.bloom", "import \"b.bloom\" as b;\ntable ta(x: int);\n");
  write("b.bloom", "import \"a.bloom\" as a;\ntable tb(x: int);\n");
  auto c = compile_file((dir_ / "a.bloom").string());
  const Diagnostic* d = expect_error(*c, "import-cycle");
  ASSERT_NE(d, nullptr);
  EXPECT_TRUE(contains(d->message, "a.bloom -> b.bloom -> a.bloom")) << d->message;
}

TEST_F(ImportTest, SelfImport) {
  std::string main = write("self.bloom", "import \"self.bloom\" as me;\n");
  auto c = compile_file(main);
  expect_error(*c, "import-cycle");
}

TEST_F(ImportTest, ImportingADirectoryIsRejected) {
  fs::create_directories(dir_ / "sub.bloom");
  std::string main = write("main.bloom", "import \"sub.bloom\" as s;\n");
  auto c = compile_file(main);
  const Diagnostic* d = expect_error(*c, "import-not-found");
  ASSERT_NE(d, nullptr);
  EXPECT_TRUE(contains(d->message, "directory")) << d->message;
}

TEST_F(ImportTest, CompilingADirectoryIsRejected) {
  auto c = compile_file(dir_.string());
  EXPECT_FALSE(c->ok());
  EXPECT_TRUE(c->diags.has_errors());
}

TEST_F(ImportTest, ErrorsInImportedFilePointThere) {
  write("bad.bloom", "table t(x: int);\nt(y) <= t(x);\n");
  std::string main = write("main.bloom", "import \"bad.bloom\" as b;\n");
  auto c = compile_file(main);
  const Diagnostic* d = expect_error(*c, "unbound-variable");
  ASSERT_NE(d, nullptr);
  EXPECT_TRUE(contains(c->sources.file(d->span.file).path, "bad.bloom"));
  EXPECT_EQ(d->span.line, 2u);
}

TEST_F(ImportTest, DuplicateAlias) {
  write("m.bloom", kCounterModule);
  std::string main = write("main.bloom", "import \"m.bloom\" as m;\nimport \"m.bloom\" as m;\n");
  auto c = compile_file(main);
  expect_error(*c, "duplicate-import");
}

// ------------------------------------------------------------------ the shipped programs

TEST(Sema, ExamplesAndStdlibCompileCleanly) {
  int count = 0;
  for (const char* sub : {"/examples", "/stdlib"}) {
    fs::path root = fs::path(BLOOM_SOURCE_DIR) / (sub + 1);
    ASSERT_TRUE(fs::is_directory(root)) << root;
    for (const auto& entry : fs::recursive_directory_iterator(root)) {
      if (!entry.is_regular_file() || entry.path().extension() != ".bloom") continue;
      ++count;
      auto c = compile_file(entry.path().string());
      EXPECT_TRUE(c->ok()) << entry.path() << ":\n" << dump(*c);
      EXPECT_EQ(c->diags.warning_count(), 0u) << entry.path() << ":\n" << dump(*c);
    }
  }
  EXPECT_GE(count, 10);
}

// Each expression's type is found through the slot it holds; a slot another table assigned is
// not taken for one of this table's.
TEST(Sema, ExprTypesFindsOnlyItsOwnEntries) {
  ast::Expr a(ast::ExprKind::Int, Span{}), b(ast::ExprKind::Name, Span{});
  sema::ExprTypes types, other;
  EXPECT_EQ(types.find(&a), nullptr);
  types.set(a, sema::Type::of(sema::TypeKind::Int));
  types.set(b, sema::Type::of(sema::TypeKind::String));
  types.set(a, sema::Type::of(sema::TypeKind::Float));  // a second instance of a module: overwritten
  EXPECT_EQ(types.size(), 2u);
  ASSERT_NE(types.find(&a), nullptr);
  EXPECT_EQ(types.find(&a)->kind, sema::TypeKind::Float);
  EXPECT_EQ(types.find(&b)->kind, sema::TypeKind::String);
  EXPECT_EQ(other.find(&a), nullptr);
  other.set(b, sema::Type::of(sema::TypeKind::Bool));  // b's slot now points into `other`
  EXPECT_EQ(other.find(&b)->kind, sema::TypeKind::Bool);
  EXPECT_EQ(types.find(&b), nullptr);
  EXPECT_EQ(other.find(&a), nullptr);
}

// ------------------------------------------------------------------ seals

// Reads of a sealed collection, positive or negated, go to its view; writes and the release rule
// read the collection itself. The seal records its columns, and `seal`/`by` stay names.
TEST(Sema, SealRedirectsReadsToItsViewAndAddsTheRelease) {
  auto c = compile(
      "channel vote(@to: addr, round: int, who: string);\n"
      "table done(r: int, total: int, note: string);\n"
      "seal vote(round) by done(r, total);\n"
      "output tally(round: int, n: int);\n"
      "output none(round: int);\n"
      "table seal(by: int);\n"
      "tally(r, count()) <= vote(_, r, _);\n"
      "none(r) <= done(r, _, _), not vote(_, r, _);\n"
      "vote(@\"x\", r, \"me\") <~ seal(r);\n");
  EXPECT_CLEAN(c);
  ASSERT_TRUE(c->ok());
  const sema::Program& p = *c->program;
  ASSERT_EQ(p.seals.size(), 1u);
  const sema::Seal& s = p.seals[0];
  EXPECT_EQ(p.collections[s.sealed].name, "vote");
  EXPECT_EQ(p.collections[s.punct].name, "done");
  EXPECT_EQ(p.collections[s.view].name, "vote[sealed]");
  EXPECT_EQ(s.key, std::vector<uint32_t>{1});
  EXPECT_EQ(s.punct_key, std::vector<uint32_t>{0});
  EXPECT_EQ(s.count, 1u);
  EXPECT_EQ(p.collections[s.sealed].sealed_by, 0);
  EXPECT_EQ(p.collections[s.view].view_of, 0);
  // The three source rules: both reads of vote go to the view, the send writes vote itself.
  EXPECT_EQ(p.rules[0].inputs[0].collection, s.view);
  EXPECT_EQ(p.rules[1].inputs[1].collection, s.view);
  EXPECT_TRUE(p.rules[1].inputs[1].negated);
  EXPECT_EQ(p.rules[2].head, s.sealed);
  // The release: the view from vote and done, marked as the seal's.
  const sema::CheckedRule& release = p.rules[s.rule];
  EXPECT_EQ(release.seal, 0);
  EXPECT_EQ(release.head, s.view);
  ASSERT_EQ(release.inputs.size(), 2u);
  EXPECT_EQ(release.inputs[0].collection, s.sealed);
  EXPECT_EQ(release.inputs[1].collection, s.punct);
}

TEST(Sema, SealColumnTypoSuggestsTheColumn) {
  auto c = compile(
      "channel vote(@to: addr, round: int, who: string);\n"
      "channel done(@to: addr, round: int, n: int);\n"
      "seal vote(rund) by done(round, n);\n");
  const Diagnostic* d = expect_error(*c, "unknown-seal-column");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->span.line, 3u);
  EXPECT_EQ(d->span.col, 11u);
  EXPECT_TRUE(contains(d->help, "did you mean `round`?")) << d->help;
}

TEST(Sema, TheLongestMethodChainTheParserAcceptsIsCheckedWithoutExhaustingTheStack) {
  // A chain of method calls recurses through the checker once a call (type_of and method). Found
  // by bloom_fuzz: in the sanitizer build, whose frames are larger, a chain of 900 calls
  // overflowed the 8 MB stack. The parser accepts chains of up to 1000 (kMaxExprDepth); these
  // have 999 calls, on a lattice (so the calls are typed) and on an unbound name.
  std::string bound = "lattice s: lset<int>;\noutput o(n: int);\no(n) <= n = s.size()";
  std::string unbound = "table known(p: int);\noutput failed(p: int);\nfailed(p) <= known(p";
  for (int i = 0; i < 998; ++i) {
    bound += ".value()";
    unbound += ".size()";
  }
  auto c = compile(bound + ";\n");
  EXPECT_TRUE(c->diags.has_errors());  // value() of an int: an error, not a crash
  auto d = compile(unbound + ".size());\n");
  EXPECT_TRUE(d->diags.has_errors());
}

}  // namespace
}  // namespace bloom
