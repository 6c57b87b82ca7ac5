// Parser tests: source text -> ast::Module, and the syntax errors reported on the way.
#include <gtest/gtest.h>

#include <climits>
#include <memory>
#include <set>
#include <string>

#include "syntax/ast.h"
#include "syntax/diagnostics.h"
#include "syntax/parser.h"
#include "syntax/source.h"

namespace bloom {
namespace {

using ast::ExprKind;
using ast::LiteralKind;

struct Parsed {
  SourceManager sm;
  DiagnosticEngine diags;
  std::unique_ptr<ast::Module> module;
  FileId file = kNoFile;
};

std::unique_ptr<Parsed> parse(const std::string& text) {
  auto p = std::make_unique<Parsed>();
  p->file = p->sm.add("test.bloom", text);
  p->module = parse_module(p->sm, p->file, p->diags);
  return p;
}

// Parses and asserts that there were no diagnostics at all.
std::unique_ptr<Parsed> parse_ok(const std::string& text) {
  auto p = parse(text);
  EXPECT_EQ(p->diags.error_count(), 0u) << "unexpected syntax errors in:\n" << text;
  for (const auto& d : p->diags.all()) ADD_FAILURE() << d.code << ": " << d.message;
  EXPECT_NE(p->module, nullptr);
  return p;
}

const Diagnostic* first_error(const Parsed& p) {
  for (const auto& d : p.diags.all())
    if (d.severity == Severity::Error) return &d;
  return nullptr;
}

bool has_code(const Parsed& p, const std::string& code) {
  for (const auto& d : p.diags.all())
    if (d.code == code) return true;
  return false;
}

// The value expression of `const NAME = ...;` in a module.
const ast::Expr& const_value(const ast::Module& m, const std::string& name) {
  for (const auto& c : m.consts)
    if (c.name == name) return *c.value;
  ADD_FAILURE() << "no const " << name;
  static ast::Expr none(ExprKind::Wildcard, Span{});
  return none;
}

// ------------------------------------------------------------------ declarations

TEST(Syntax, EveryDeclarationKind) {
  auto p = parse_ok(
      "table     link(src: string, dst: string, cost: int);\n"
      "table     kv(k: string, val: string) key(k);\n"
      "scratch   pending(id: int, k: string);\n"
      "channel   put(@dst: addr, src: addr, id: int);\n"
      "input     request(id: int, k: string);\n"
      "output    response(id: int, val: string);\n"
      "periodic  heartbeat every 500ms;\n"
      "lattice   total: lmax<int>;\n"
      "table     votes(round: int, voters: lset<addr>) key(round);\n");
  const auto& d = p->module->decls;
  ASSERT_EQ(d.size(), 9u);
  EXPECT_EQ(d[0].kind, ast::CollectionKind::Table);
  EXPECT_EQ(d[0].name, "link");
  ASSERT_EQ(d[0].columns.size(), 3u);
  EXPECT_EQ(d[0].columns[2].name, "cost");
  EXPECT_EQ(d[0].columns[2].type.name, "int");
  EXPECT_FALSE(d[0].key.has_value());
  ASSERT_TRUE(d[1].key.has_value());
  ASSERT_EQ(d[1].key->size(), 1u);
  EXPECT_EQ((*d[1].key)[0].name, "k");
  EXPECT_EQ(d[2].kind, ast::CollectionKind::Scratch);
  EXPECT_EQ(d[3].kind, ast::CollectionKind::Channel);
  EXPECT_TRUE(d[3].columns[0].location);
  EXPECT_FALSE(d[3].columns[1].location);
  EXPECT_EQ(d[4].kind, ast::CollectionKind::Input);
  EXPECT_EQ(d[5].kind, ast::CollectionKind::Output);
  EXPECT_EQ(d[6].kind, ast::CollectionKind::Periodic);
  EXPECT_EQ(d[6].name, "heartbeat");
  EXPECT_EQ(d[6].period_ms, 500);
  EXPECT_TRUE(d[6].columns.empty());
  EXPECT_EQ(d[7].kind, ast::CollectionKind::Lattice);
  EXPECT_EQ(d[7].lattice_type.name, "lmax");
  ASSERT_EQ(d[7].lattice_type.args.size(), 1u);
  EXPECT_EQ(d[7].lattice_type.args[0].name, "int");
  EXPECT_EQ(d[8].columns[1].type.str(), "lset<addr>");
}

TEST(Syntax, NestedLatticeTypes) {
  auto p = parse_ok("table m(k: string, v: lmap<string, lmax<int>>) key(k);\n");
  const auto& t = p->module->decls[0].columns[1].type;
  EXPECT_EQ(t.name, "lmap");
  ASSERT_EQ(t.args.size(), 2u);
  EXPECT_EQ(t.args[1].name, "lmax");
  EXPECT_EQ(t.str(), "lmap<string, lmax<int>>");
}

TEST(Syntax, ImportsParamsConsts) {
  auto p = parse_ok(
      "import \"../lib/quorum.bloom\" as q;\n"
      "param threshold: int = 3;\n"
      "param peer: addr;\n"
      "const limit = 10;\n");
  const auto& m = *p->module;
  ASSERT_EQ(m.imports.size(), 1u);
  EXPECT_EQ(m.imports[0].path, "../lib/quorum.bloom");
  EXPECT_EQ(m.imports[0].alias, "q");
  EXPECT_EQ(m.imports[0].alias_span.line, 1u);
  ASSERT_EQ(m.params.size(), 2u);
  EXPECT_EQ(m.params[0].name, "threshold");
  EXPECT_EQ(m.params[0].type.name, "int");
  ASSERT_NE(m.params[0].default_value, nullptr);
  EXPECT_EQ(m.params[0].default_value->kind, ExprKind::Int);
  EXPECT_EQ(m.params[0].default_value->int_value, 3);
  EXPECT_EQ(m.params[1].name, "peer");
  EXPECT_EQ(m.params[1].default_value, nullptr);
  ASSERT_EQ(m.consts.size(), 1u);
  EXPECT_EQ(m.consts[0].name, "limit");
  EXPECT_EQ(const_value(m, "limit").int_value, 10);
}

TEST(Syntax, FactsAndRulesAreSeparated) {
  auto p = parse_ok(
      "link(1, 2);\n"
      "link(2, 3);\n"
      "path(x, y) <= link(x, y);\n");
  ASSERT_EQ(p->module->facts.size(), 2u);
  ASSERT_EQ(p->module->rules.size(), 1u);
  EXPECT_EQ(p->module->facts[1].atom.name.str(), "link");
  EXPECT_EQ(p->module->facts[1].atom.args[0].expr->int_value, 2);
  EXPECT_EQ(p->module->rules[0].head.name.str(), "path");
  ASSERT_EQ(p->module->rules[0].body.size(), 1u);
  EXPECT_EQ(p->module->rules[0].body[0].kind, LiteralKind::Positive);
}

TEST(Syntax, AllFiveMergeOperators) {
  auto p = parse_ok(
      "a(x) <= b(x);\n"
      "a(x) <+ b(x);\n"
      "a(x) <- b(x);\n"
      "a(x) <+- b(x);\n"
      "a(@x) <~ b(x);\n");
  const auto& r = p->module->rules;
  ASSERT_EQ(r.size(), 5u);
  EXPECT_EQ(r[0].op, ast::MergeOp::Instant);
  EXPECT_EQ(r[1].op, ast::MergeOp::DeferredInsert);
  EXPECT_EQ(r[2].op, ast::MergeOp::DeferredDelete);
  EXPECT_EQ(r[3].op, ast::MergeOp::DeferredUpsert);
  EXPECT_EQ(r[4].op, ast::MergeOp::Async);
  // The operator's span covers the whole token: `<+-` is three characters.
  EXPECT_EQ(r[3].op_span.col, 6u);
  EXPECT_EQ(r[3].op_span.end_col, 9u);
}

TEST(Syntax, NegatedAtom) {
  auto p = parse_ok("c(x) <= a(x), not b(x);\n");
  const auto& body = p->module->rules[0].body;
  ASSERT_EQ(body.size(), 2u);
  EXPECT_EQ(body[1].kind, LiteralKind::Negated);
  EXPECT_EQ(body[1].atom.name.str(), "b");
  ASSERT_EQ(body[1].atom.args.size(), 1u);
}

TEST(Syntax, AssignmentAndMembershipLiterals) {
  auto p = parse_ok("c(y, v) <= a(x, s), y = x + 1, v in s;\n");
  const auto& body = p->module->rules[0].body;
  ASSERT_EQ(body.size(), 3u);
  EXPECT_EQ(body[1].kind, LiteralKind::Assign);
  EXPECT_EQ(body[1].var, "y");
  EXPECT_EQ(body[1].expr->kind, ExprKind::Binary);
  EXPECT_EQ(body[2].kind, LiteralKind::In);
  EXPECT_EQ(body[2].var, "v");
  EXPECT_EQ(body[2].expr->kind, ExprKind::Name);
}

TEST(Syntax, NotContainsIsAMethodCondition) {
  auto p = parse_ok("c(x) <= a(x, s), not s.contains(x);\n");
  const auto& l = p->module->rules[0].body[1];
  EXPECT_EQ(l.kind, LiteralKind::Condition);
  ASSERT_NE(l.expr, nullptr);
  EXPECT_EQ(l.expr->kind, ExprKind::Unary);
  EXPECT_EQ(l.expr->unary_op, ast::UnaryOp::Not);
  ASSERT_EQ(l.expr->args.size(), 1u);
  const auto& m = *l.expr->args[0];
  EXPECT_EQ(m.kind, ExprKind::Method);
  EXPECT_EQ(m.text, "contains");
  ASSERT_EQ(m.args.size(), 2u);  // receiver, then the argument
  EXPECT_EQ(m.args[0]->kind, ExprKind::Name);
  EXPECT_EQ(m.args[0]->name.str(), "s");
  EXPECT_EQ(m.args[1]->name.str(), "x");
}

TEST(Syntax, PositiveMethodCallIsACondition) {
  auto p = parse_ok("c(x) <= a(x, s), s.contains(x);\n");
  const auto& l = p->module->rules[0].body[1];
  EXPECT_EQ(l.kind, LiteralKind::Condition);
  EXPECT_EQ(l.expr->kind, ExprKind::Method);
  EXPECT_EQ(l.expr->text, "contains");
}

TEST(Syntax, SizeThresholdIsAMethodInAComparison) {
  auto p = parse_ok("c(x) <= a(x, s), s.size() >= 3;\n");
  const auto& l = p->module->rules[0].body[1];
  EXPECT_EQ(l.kind, LiteralKind::Condition);
  ASSERT_EQ(l.expr->kind, ExprKind::Binary);
  EXPECT_EQ(l.expr->binary_op, ast::BinaryOp::Ge);
  const auto& lhs = *l.expr->args[0];
  EXPECT_EQ(lhs.kind, ExprKind::Method);
  EXPECT_EQ(lhs.text, "size");
  ASSERT_EQ(lhs.args.size(), 1u);
  EXPECT_EQ(lhs.args[0]->name.str(), "s");
  EXPECT_EQ(l.expr->args[1]->int_value, 3);
}

TEST(Syntax, ChainedMethodCalls) {
  auto p = parse_ok("t(r, s.size().value()) <= v(r, s);\n");
  const auto& e = *p->module->rules[0].head.args[1].expr;
  EXPECT_EQ(e.kind, ExprKind::Method);
  EXPECT_EQ(e.text, "value");
  ASSERT_EQ(e.args.size(), 1u);
  EXPECT_EQ(e.args[0]->kind, ExprKind::Method);
  EXPECT_EQ(e.args[0]->text, "size");
}

TEST(Syntax, QualifiedNameThroughImportAliasStaysAnAtom) {
  auto p = parse_ok(
      "import \"m.bloom\" as q;\n"
      "c(x) <= q.votes(x), not q.done(x);\n");
  const auto& body = p->module->rules[0].body;
  ASSERT_EQ(body.size(), 2u);
  EXPECT_EQ(body[0].kind, LiteralKind::Positive);
  EXPECT_EQ(body[0].atom.name.str(), "q.votes");
  EXPECT_TRUE(body[0].atom.name.qualified());
  EXPECT_EQ(body[1].kind, LiteralKind::Negated);
  EXPECT_EQ(body[1].atom.name.str(), "q.done");
}

TEST(Syntax, AggregatesInHeadsAreCalls) {
  auto p = parse_ok("n(x, count(), sum(y), collect(y)) <= a(x, y);\n");
  const auto& h = p->module->rules[0].head;
  ASSERT_EQ(h.args.size(), 4u);
  EXPECT_EQ(h.args[0].expr->kind, ExprKind::Name);
  EXPECT_EQ(h.args[1].expr->kind, ExprKind::Call);
  EXPECT_EQ(h.args[1].expr->name.str(), "count");
  EXPECT_TRUE(h.args[1].expr->args.empty());
  EXPECT_EQ(h.args[2].expr->kind, ExprKind::Call);
  EXPECT_EQ(h.args[2].expr->name.str(), "sum");
  ASSERT_EQ(h.args[2].expr->args.size(), 1u);
  EXPECT_EQ(h.args[3].expr->name.str(), "collect");
}

TEST(Syntax, LocationArguments) {
  auto p = parse_ok("put(@dst, self(), k) <~ req(dst, k);\n");
  const auto& h = p->module->rules[0].head;
  ASSERT_EQ(h.args.size(), 3u);
  EXPECT_TRUE(h.args[0].location);
  EXPECT_EQ(h.args[0].expr->name.str(), "dst");
  EXPECT_EQ(h.args[0].span.col, 5u);  // includes the '@'
  EXPECT_EQ(h.args[0].expr->span.col, 6u);
  EXPECT_FALSE(h.args[1].location);
  EXPECT_EQ(h.args[1].expr->kind, ExprKind::Call);
  EXPECT_EQ(h.args[1].expr->name.str(), "self");
}

TEST(Syntax, Durations) {
  auto p = parse_ok(
      "const a = 250ms;\n"
      "const b = 2s;\n"
      "const c = 1m;\n"
      "const d = 1h;\n"
      "periodic tick2 every 2s;\n");
  EXPECT_EQ(const_value(*p->module, "a").kind, ExprKind::Duration);
  EXPECT_EQ(const_value(*p->module, "a").int_value, 250);
  EXPECT_EQ(const_value(*p->module, "b").int_value, 2000);
  EXPECT_EQ(const_value(*p->module, "c").int_value, 60000);
  EXPECT_EQ(const_value(*p->module, "d").int_value, 3600000);
  EXPECT_EQ(p->module->decls[0].period_ms, 2000);
}

TEST(Syntax, StringEscapes) {
  auto p = parse_ok(R"(const s = "a\"b\\c\nd\te";)"
                    "\n");
  const auto& e = const_value(*p->module, "s");
  EXPECT_EQ(e.kind, ExprKind::String);
  EXPECT_EQ(e.text, "a\"b\\c\nd\te");
}

TEST(Syntax, UnknownEscapeIsAnError) {
  auto p = parse(R"(const s = "a\qb";)"
                 "\n");
  const Diagnostic* d = first_error(*p);
  ASSERT_NE(d, nullptr);
  EXPECT_NE(d->message.find("escape"), std::string::npos) << d->message;
}

TEST(Syntax, NegativeLiteralsAreFolded) {
  auto p = parse_ok(
      "const a = -5;\n"
      "const b = -2.5;\n"
      "const c = -x;\n");
  const auto& a = const_value(*p->module, "a");
  EXPECT_EQ(a.kind, ExprKind::Int);
  EXPECT_EQ(a.int_value, -5);
  EXPECT_EQ(a.span.col, 11u);  // the folded literal covers the '-'
  EXPECT_EQ(a.span.end_col, 13u);
  const auto& b = const_value(*p->module, "b");
  EXPECT_EQ(b.kind, ExprKind::Float);
  EXPECT_DOUBLE_EQ(b.float_value, -2.5);
  const auto& c = const_value(*p->module, "c");
  EXPECT_EQ(c.kind, ExprKind::Unary);
  EXPECT_EQ(c.unary_op, ast::UnaryOp::Neg);
}

TEST(Syntax, NegatedFactArgument) {
  auto p = parse_ok("temp(-40, -1.5);\n");
  const auto& args = p->module->facts[0].atom.args;
  EXPECT_EQ(args[0].expr->kind, ExprKind::Int);
  EXPECT_EQ(args[0].expr->int_value, -40);
  EXPECT_EQ(args[1].expr->kind, ExprKind::Float);
}

TEST(Syntax, MostNegativeIntegerLiteral) {
  auto p = parse("const m = -9223372036854775808;\n");
  ASSERT_FALSE(p->diags.has_errors()) << p->diags.all()[0].message;
  const auto& e = const_value(*p->module, "m");
  EXPECT_EQ(e.kind, ExprKind::Int);
  EXPECT_EQ(e.int_value, INT64_MIN);
}

TEST(Syntax, MultiplicationBindsTighterThanAddition) {
  auto p = parse_ok("const a = 1 + 2 * 3;\nconst b = (1 + 2) * 3;\nconst c = 10 - 4 - 3;\n");
  const auto& a = const_value(*p->module, "a");
  ASSERT_EQ(a.kind, ExprKind::Binary);
  EXPECT_EQ(a.binary_op, ast::BinaryOp::Add);
  EXPECT_EQ(a.args[0]->int_value, 1);
  ASSERT_EQ(a.args[1]->kind, ExprKind::Binary);
  EXPECT_EQ(a.args[1]->binary_op, ast::BinaryOp::Mul);
  const auto& b = const_value(*p->module, "b");
  ASSERT_EQ(b.kind, ExprKind::Binary);
  EXPECT_EQ(b.binary_op, ast::BinaryOp::Mul);
  EXPECT_EQ(b.args[0]->binary_op, ast::BinaryOp::Add);
  // Left associative: (10 - 4) - 3.
  const auto& c = const_value(*p->module, "c");
  EXPECT_EQ(c.binary_op, ast::BinaryOp::Sub);
  ASSERT_EQ(c.args[0]->kind, ExprKind::Binary);
  EXPECT_EQ(c.args[1]->int_value, 3);
}

TEST(Syntax, AndBindsTighterThanOr) {
  auto p = parse_ok("r(a) <= t(a, b, c), a and b or c;\nr(a) <= t(a, b, c), a or b and c;\n");
  const auto& e1 = *p->module->rules[0].body[1].expr;
  ASSERT_EQ(e1.kind, ExprKind::Binary);
  EXPECT_EQ(e1.binary_op, ast::BinaryOp::Or);
  EXPECT_EQ(e1.args[0]->binary_op, ast::BinaryOp::And);
  const auto& e2 = *p->module->rules[1].body[1].expr;
  EXPECT_EQ(e2.binary_op, ast::BinaryOp::Or);
  EXPECT_EQ(e2.args[1]->binary_op, ast::BinaryOp::And);
}

TEST(Syntax, ComparisonBindsLooserThanArithmetic) {
  auto p = parse_ok("r(x) <= t(x), x + 1 < 2 * x;\n");
  const auto& e = *p->module->rules[0].body[1].expr;
  EXPECT_EQ(e.binary_op, ast::BinaryOp::Lt);
  EXPECT_EQ(e.args[0]->binary_op, ast::BinaryOp::Add);
  EXPECT_EQ(e.args[1]->binary_op, ast::BinaryOp::Mul);
}

TEST(Syntax, LessThanNegativeWithSpace) {
  auto p = parse_ok("r(x) <= t(x), x < -1;\n");
  const auto& e = *p->module->rules[0].body[1].expr;
  EXPECT_EQ(e.binary_op, ast::BinaryOp::Lt);
  EXPECT_EQ(e.args[1]->int_value, -1);
}

TEST(Syntax, SoftKeywordsAreUsableAsNames) {
  auto p = parse_ok(
      "table kv(key: string, every: int, as: int) key(key);\n"
      "out(key) <= kv(key, every, as), every > as;\n");
  const auto& d = p->module->decls[0];
  ASSERT_EQ(d.columns.size(), 3u);
  EXPECT_EQ(d.columns[0].name, "key");
  EXPECT_EQ(d.columns[1].name, "every");
  EXPECT_EQ(d.columns[2].name, "as");
  ASSERT_TRUE(d.key.has_value());
  EXPECT_EQ((*d.key)[0].name, "key");
  EXPECT_EQ(p->module->rules[0].head.args[0].expr->name.str(), "key");
}

TEST(Syntax, SpansOfRuleHeadAndNot) {
  auto p = parse_ok(
      "table a(x: int);\n"
      "  out(x) <= a(x), not b(x);\n");
  const auto& r = p->module->rules[0];
  EXPECT_EQ(r.span.line, 2u);
  EXPECT_EQ(r.span.col, 3u);
  EXPECT_EQ(r.span.end_line, 2u);
  EXPECT_EQ(r.span.end_col, 28u);  // one past the `;`
  EXPECT_EQ(r.head.span.line, 2u);
  EXPECT_EQ(r.head.span.col, 3u);
  EXPECT_EQ(r.head.span.end_col, 9u);
  EXPECT_EQ(r.op_span.col, 10u);
  const auto& neg = r.body[1];
  EXPECT_EQ(neg.not_span.line, 2u);
  EXPECT_EQ(neg.not_span.col, 19u);
  EXPECT_EQ(neg.not_span.end_col, 22u);
  EXPECT_EQ(neg.atom.span.col, 23u);
  EXPECT_EQ(neg.span.col, 19u);
}

TEST(Syntax, MultiLineRuleSpan) {
  auto p = parse_ok("out(x) <=\n  a(x),\n  b(x);\n");
  const auto& r = p->module->rules[0];
  EXPECT_EQ(r.span.line, 1u);
  EXPECT_EQ(r.span.end_line, 3u);
  EXPECT_EQ(r.span.end_col, 8u);
  EXPECT_EQ(r.body[1].span.line, 3u);
  EXPECT_EQ(r.body[1].span.col, 3u);
}

TEST(Syntax, CommentsAreIgnored) {
  auto p = parse_ok(
      "// a line comment\n"
      "table a(x: int); // trailing\n"
      "/* a block\n   comment */ table /* inline */ b(x: int);\n"
      "b(x) <= a(x); /* after */\n");
  ASSERT_EQ(p->module->decls.size(), 2u);
  EXPECT_EQ(p->module->decls[1].name, "b");
  EXPECT_EQ(p->module->decls[1].name_span.line, 4u);
  EXPECT_EQ(p->module->rules.size(), 1u);
}

TEST(Syntax, EmptyFile) {
  auto p = parse_ok("");
  EXPECT_TRUE(p->module->decls.empty());
  EXPECT_TRUE(p->module->rules.empty());
}

// ------------------------------------------------------------------ syntax errors

TEST(SyntaxErrors, MissingSemicolonReportedAfterPreviousToken) {
  auto p = parse(
      "table a(x: int)\n"
      "table b(y: int);\n");
  const Diagnostic* d = first_error(*p);
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->code, "syntax");
  EXPECT_NE(d->message.find("`;`"), std::string::npos) << d->message;
  EXPECT_EQ(d->span.line, 1u);
  EXPECT_EQ(d->span.col, 16u);  // right after the `)` at column 15
}

TEST(SyntaxErrors, MissingSemicolonAfterRule) {
  auto p = parse(
      "b(x) <= a(x)\n"
      "c(x) <= b(x);\n");
  const Diagnostic* d = first_error(*p);
  ASSERT_NE(d, nullptr);
  EXPECT_NE(d->message.find(";"), std::string::npos) << d->message;
  EXPECT_EQ(d->span.line, 1u);
  EXPECT_EQ(d->span.col, 13u);
}

TEST(SyntaxErrors, ArrowInExpression) {
  auto p = parse("r(x) <= t(x), x<-1;\n");
  ASSERT_TRUE(p->diags.has_errors());
  const Diagnostic* d = nullptr;
  for (const auto& x : p->diags.all())
    if (x.code == "arrow-in-expression") d = &x;
  ASSERT_NE(d, nullptr) << "no arrow-in-expression among " << p->diags.all()[0].code;
  EXPECT_NE(d->help.find("x < -1"), std::string::npos) << d->help;
  EXPECT_EQ(d->span.line, 1u);
  EXPECT_EQ(d->span.col, 16u);  // the `<-`
  EXPECT_EQ(d->span.end_col, 18u);
}

TEST(SyntaxErrors, DeferredInsertInExpression) {
  auto p = parse("r(x) <= t(x), x<+1;\n");
  EXPECT_TRUE(has_code(*p, "arrow-in-expression"));
}

TEST(SyntaxErrors, UnknownCharacter) {
  auto p = parse("table a(x: int);\ntable b(x: int) $;\n");
  const Diagnostic* d = first_error(*p);
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->code, "syntax");
  EXPECT_NE(d->message.find("unexpected character"), std::string::npos) << d->message;
  EXPECT_NE(d->message.find("$"), std::string::npos) << d->message;
  EXPECT_EQ(d->span.line, 2u);
  EXPECT_EQ(d->span.col, 17u);
}

TEST(SyntaxErrors, UnterminatedString) {
  auto p = parse("const s = \"abc;\ntable a(x: int);\n");
  const Diagnostic* d = nullptr;
  for (const auto& x : p->diags.all())
    if (x.message.find("unterminated string") != std::string::npos) d = &x;
  ASSERT_NE(d, nullptr) << "no unterminated-string error";
  EXPECT_EQ(d->span.line, 1u);
  EXPECT_EQ(d->span.col, 11u);
}

TEST(SyntaxErrors, UnterminatedBlockComment) {
  auto p = parse("table a(x: int);\n/* never closed\ntable b(x: int);\n");
  const Diagnostic* d = first_error(*p);
  ASSERT_NE(d, nullptr);
  EXPECT_NE(d->message.find("unterminated block comment"), std::string::npos) << d->message;
  EXPECT_EQ(d->span.line, 2u);
}

TEST(SyntaxErrors, InvalidNumber) {
  auto p = parse("periodic t every 10min;\n");
  const Diagnostic* d = first_error(*p);
  ASSERT_NE(d, nullptr);
  EXPECT_NE(d->message.find("10min"), std::string::npos) << d->message;
}

TEST(SyntaxErrors, InvalidNumberInExpression) {
  auto p = parse("const t = 10min;\n");
  const Diagnostic* d = first_error(*p);
  ASSERT_NE(d, nullptr);
  EXPECT_NE(d->message.find("invalid number `10min`"), std::string::npos) << d->message;
  EXPECT_FALSE(d->help.empty());
}

TEST(SyntaxErrors, IntegerLiteralOverflow) {
  auto p = parse("const n = 99999999999999999999;\n");
  const Diagnostic* d = first_error(*p);
  ASSERT_NE(d, nullptr);
  EXPECT_NE(d->message.find("64 bits"), std::string::npos) << d->message;
  EXPECT_EQ(d->span.col, 11u);
}

TEST(Syntax, FloatLiterals) {
  auto p = parse_ok("const a = 1.5;\nconst b = 2e3;\nconst c = 1.25e-2;\n");
  EXPECT_EQ(const_value(*p->module, "a").kind, ExprKind::Float);
  EXPECT_DOUBLE_EQ(const_value(*p->module, "a").float_value, 1.5);
  EXPECT_DOUBLE_EQ(const_value(*p->module, "b").float_value, 2000.0);
  EXPECT_DOUBLE_EQ(const_value(*p->module, "c").float_value, 0.0125);
}

TEST(SyntaxErrors, NumberGluedToLettersIsOneBadToken) {
  auto p = parse("const t = 3x;\n");
  ASSERT_EQ(p->diags.error_count(), 1u);
  EXPECT_NE(p->diags.all()[0].message.find("invalid number `3x`"), std::string::npos) << p->diags.all()[0].message;
}

TEST(SyntaxErrors, LargestIntegerLiteralIsFine) {
  auto p = parse_ok("const n = 9223372036854775807;\n");
  EXPECT_EQ(const_value(*p->module, "n").int_value, INT64_MAX);
}

TEST(SyntaxErrors, SeveralErrorsInOneFile) {
  auto p = parse(
      "table a(x: int)\n"
      "table b(x: int);\n"
      "b(x) <= a(x) $;\n"
      "c(x) <= ;\n"
      "table d(x: int);\n");
  EXPECT_GE(p->diags.error_count(), 3u);
  std::set<uint32_t> lines;
  for (const auto& d : p->diags.all()) lines.insert(d.span.line);
  EXPECT_GE(lines.size(), 3u);
}

TEST(SyntaxErrors, DeepNestingIsRejectedWithoutCrash) {
  std::string text = "const c = " + std::string(5000, '(') + "1" + std::string(5000, ')') + ";\n";
  auto p = parse(text);
  EXPECT_TRUE(has_code(*p, "too-deep"));
  ASSERT_NE(p->module, nullptr);
}

TEST(SyntaxErrors, DeepPrefixOperatorsAreRejected) {
  std::string text = "const c = " + std::string(5000, '-') + "1;\n";
  auto p = parse(text);
  EXPECT_TRUE(has_code(*p, "too-deep"));
}

TEST(SyntaxErrors, LongOperatorChainIsTooDeep) {
  std::string text = "const c = 1";
  for (int i = 0; i < 3000; ++i) text += " + 1";
  text += ";\n";
  auto p = parse(text);
  // docs/language.md: chains of more than 1000 operators are rejected with `too-deep`.
  EXPECT_TRUE(has_code(*p, "too-deep"));
  ASSERT_NE(p->module, nullptr);
  std::string shorter = "const c = 1";
  for (int i = 0; i < 500; ++i) shorter += " + 1";
  auto ok = parse(shorter + ";\n");
  EXPECT_FALSE(ok->diags.has_errors()) << "a chain of 500 operators is within the limit";
}

TEST(SyntaxErrors, ErrorsAreInBloomWordsNotAntlrs) {
  auto p = parse("table a(x int);\n");
  const Diagnostic* d = first_error(*p);
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->message.find("mismatched input"), std::string::npos) << d->message;
  EXPECT_EQ(d->message.find("extraneous"), std::string::npos) << d->message;
  EXPECT_NE(d->message.find("expected"), std::string::npos) << d->message;
}

// A file of more than a few hundred statements is parsed in chunks (parser.cpp). Its AST must be
// the one a whole-file parse gives: positions, strings and comments with `;` in them, a
// suppression comment on the line before a rule just after a cut, and imports after the cuts.
std::string large_program(size_t statements_before) {
  std::string text;
  for (size_t i = 0; i < statements_before; ++i) text += "t(" + std::to_string(i) + ", \"a;b\\\";\"); // x; y\n/* ; */\n";
  return text;
}

TEST(Parser, ALargeFileParsedInChunksGivesTheWholeFilesModule) {
  std::string text = "table t(a: int, s: string);\noutput o(a: int);\n" + large_program(600) +
                     "// bloom:allow(race) checked by hand\no(x) <= t(x, _);\n" + large_program(600) + "o(x) <= t(x, \"z\");\n";
  auto p = parse_ok(text);
  ASSERT_EQ(p->module->facts.size(), 1200u);
  EXPECT_EQ(p->module->facts[1199].span.line, 2u + 2 * 1199 + 2 + 1);
  EXPECT_EQ(p->module->facts[700].atom.args[1].expr->text, "a;b\";");
  ASSERT_EQ(p->module->rules.size(), 2u);
  EXPECT_EQ(p->module->rules[0].span.line, 2u + 2 * 600 + 2);
  ASSERT_EQ(p->module->rules[0].suppressions.size(), 1u);
  EXPECT_EQ(p->module->rules[0].suppressions[0].reason, "checked by hand");
  EXPECT_EQ(p->module->rules[1].span.line, 2u + 2 * 1200 + 2 + 1);
  EXPECT_EQ(p->module->rules[1].span.col, 1u);
}

TEST(Parser, ASyntaxErrorLateInALargeFileIsReportedAsInASmallOne) {
  auto big = parse("table t(a: int, s: string);\n" + large_program(900) + "t(1, \"x\")\nt(2, \"y\");\n");
  auto small = parse("table t(a: int, s: string);\nt(1, \"x\")\nt(2, \"y\");\n");
  ASSERT_EQ(big->diags.all().size(), small->diags.all().size());
  ASSERT_FALSE(big->diags.all().empty());
  EXPECT_EQ(big->diags.all()[0].message, small->diags.all()[0].message);
  EXPECT_EQ(big->diags.all()[0].span.line, small->diags.all()[0].span.line + 2 * 900);
  EXPECT_EQ(big->diags.all()[0].span.col, small->diags.all()[0].span.col);
}

TEST(Parser, AnImportAfterManyStatementsStillMakesItsAlias) {
  // `q.v(x)` is an atom of instance q only if q is an import alias: with the import late in the
  // file, every clause before it must still see the alias.
  std::string text =
      "table t(a: int, s: string);\noutput o(a: int);\no(x) <= q.v(x);\n" + large_program(600) + "import \"m.bloom\" as q;\n";
  auto p = parse_ok(text);
  ASSERT_EQ(p->module->imports.size(), 1u);
  ASSERT_EQ(p->module->rules.size(), 1u);
  const auto& lit = p->module->rules[0].body.at(0);
  EXPECT_EQ(lit.kind, LiteralKind::Positive);
  EXPECT_EQ(lit.atom.name.parts.size(), 2u);
}

// Token texts are read straight from the source when it is ASCII, through ANTLR otherwise; both
// must give the same names, strings and numbers, in a chunked parse and in a whole-file one.
TEST(Parser, NamesAndStringsReadTheSameInAsciiAndOtherInput) {
  for (bool chunked : {false, true}) {
    for (const std::string& word : {std::string("plain"), std::string("h\xc3\xa9 \xe2\x82\xac")}) {
      std::string text = "table t(a: int, s: string);\noutput key_2(a: int, d: int);\n" + (chunked ? large_program(600) : "") +
                         "t(-42, \"" + word + "\\n\");\nkey_2(x, 250ms) <= t(x, s), s.size() > 1, q = x;\n";
      auto p = parse_ok(text);
      ASSERT_EQ(p->module->rules.size(), 1u);
      const auto& last = p->module->facts.back();
      EXPECT_EQ(last.atom.name.str(), "t");
      EXPECT_EQ(last.atom.args[0].expr->int_value, -42);
      EXPECT_EQ(last.atom.args[1].expr->text, word + "\n");
      const auto& r = p->module->rules[0];
      EXPECT_EQ(r.head.name.str(), "key_2");
      EXPECT_EQ(r.head.args[1].expr->int_value, 250);
      EXPECT_EQ(r.body.at(1).expr->args.at(0)->text, "size");
      EXPECT_EQ(r.body.at(1).expr->args.at(0)->args.at(0)->name.str(), "s");
      EXPECT_EQ(r.body.at(2).var, "q");
    }
  }
}

}  // namespace
}  // namespace bloom
