// Parse tree -> AST. ANTLR types stay in this file: nothing else in bloom includes them but
// format.cpp, which only runs the lexer.
//
// Parsing runs in two stages (the usual ANTLR recipe for speed): first SLL prediction with a bail
// strategy, which is fast and almost always enough; only on failure the input is re-parsed with
// full LL prediction and the recovering strategy below, which reports errors in our own words.
#include "syntax/parser.h"

#include <antlr4-runtime.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <map>
#include <cmath>
#include <unordered_set>

#include "BloomLexer.h"
#include "BloomParser.h"

namespace bloom {
namespace {

using grammar::BloomLexer;
using grammar::BloomParser;

// Deep nesting would overflow the stack of ANTLR's recursive-descent parser (and of every later
// recursive pass), so it is rejected before parsing.
constexpr int kMaxNesting = 200;
// Longest binary-operator chain accepted when building the AST (its depth bounds later recursion).
constexpr int kMaxExprDepth = 1000;

std::string token_description(const antlr4::dfa::Vocabulary& vocab, size_t type) {
  if (type == antlr4::Token::EOF) return "end of file";
  switch (type) {
    case BloomLexer::ID: return "identifier";
    case BloomLexer::INT: return "integer";
    case BloomLexer::FLOAT: return "float";
    case BloomLexer::STRING: return "string";
    case BloomLexer::DURATION: return "duration";
    default: break;
  }
  std::string lit = vocab.getLiteralName(type);
  if (lit.size() >= 2 && lit.front() == '\'') return "`" + lit.substr(1, lit.size() - 2) + "`";
  return vocab.getSymbolicName(type);
}

std::string found_description(antlr4::Token* t) {
  if (!t || t->getType() == antlr4::Token::EOF) return "end of file";
  std::string text = t->getText();
  if (text.size() > 40) text = text.substr(0, 37) + "...";
  return "`" + text + "`";
}

Span token_span(FileId file, antlr4::Token* t) {
  Span s;
  if (!t) return s;
  s.file = file;
  s.line = static_cast<uint32_t>(t->getLine());
  s.col = static_cast<uint32_t>(t->getCharPositionInLine()) + 1;
  s.end_line = s.line;
  size_t len = t->getType() == antlr4::Token::EOF ? 1 : t->getStopIndex() - t->getStartIndex() + 1;
  s.end_col = s.col + static_cast<uint32_t>(std::max<size_t>(len, 1));
  return s;
}

// Reports syntax errors in bloom's words ("expected `;`, found `x`") through the listener.
class BloomErrorStrategy : public antlr4::DefaultErrorStrategy {
 public:
  BloomErrorStrategy(FileId file, DiagnosticEngine& diags) : file_(file), diags_(diags) {}

 protected:
  void reportNoViableAlternative(antlr4::Parser* p, const antlr4::NoViableAltException& e) override {
    if (special(p, e.getOffendingToken())) return;
    report(p, e.getOffendingToken(), "unexpected " + found_description(e.getOffendingToken()));
  }
  void reportInputMismatch(antlr4::Parser* p, const antlr4::InputMismatchException& e) override {
    report_expected(p, e.getOffendingToken());
  }
  void reportFailedPredicate(antlr4::Parser* p, const antlr4::FailedPredicateException& e) override {
    report(p, e.getOffendingToken(), "unexpected " + found_description(e.getOffendingToken()));
  }
  void reportUnwantedToken(antlr4::Parser* p) override {
    if (inErrorRecoveryMode(p)) return;
    beginErrorCondition(p);
    if (special(p, p->getCurrentToken())) return;
    report(p, p->getCurrentToken(), "unexpected " + found_description(p->getCurrentToken()));
  }
  void reportMissingToken(antlr4::Parser* p) override {
    if (inErrorRecoveryMode(p)) return;
    beginErrorCondition(p);
    report_expected(p, p->getCurrentToken());
  }

 private:
  // Mistakes common enough to deserve their own words. Returns true if it reported.
  bool special(antlr4::Parser* p, antlr4::Token* found) {
    if (!found) return false;
    antlr4::Token* prev = found->getTokenIndex() > 0 ? p->getTokenStream()->get(found->getTokenIndex() - 1) : nullptr;
    antlr4::Token* before = prev && prev->getTokenIndex() > 0 ? p->getTokenStream()->get(prev->getTokenIndex() - 1) : nullptr;
    // `tabel link(...)`: an identifier at the start of an item followed by another identifier.
    if (prev && prev->getType() == BloomLexer::ID && found->getType() == BloomLexer::ID &&
        (!before || before->getType() == BloomLexer::SEMI)) {
      std::string near = closest_match(prev->getText(), {"table", "scratch", "channel", "input", "output", "periodic", "delay", "seal",
                                                         "lattice", "import", "param", "const"});
      if (!near.empty()) {
        emit(token_span(file_, prev), prev, "unknown keyword `" + prev->getText() + "`", "did you mean `" + near + "`?");
        return true;
      }
    }
    if (found->getType() == BloomLexer::SEMI && prev && prev->getType() == BloomLexer::COMMA) {
      emit(token_span(file_, found), found, "expected a body literal after `,`, found `;`", "remove the trailing `,`");
      return true;
    }
    return false;
  }

  void report_expected(antlr4::Parser* p, antlr4::Token* found) {
    if (special(p, found)) return;
    if (found && found->getType() == BloomLexer::BAD_NUMBER) {
      emit(token_span(file_, found), found, "invalid number " + found_description(found),
           "durations are written 250ms, 2s, 1m or 1h (`10m` is ten minutes)");
      return;
    }
    antlr4::misc::IntervalSet expected = p->getExpectedTokens();
    const auto& vocab = p->getVocabulary();
    std::string what;
    if (expected.contains(static_cast<size_t>(BloomLexer::TABLE)) && expected.contains(static_cast<size_t>(BloomLexer::ID)))
      what = "a declaration, fact or rule";
    else if (expected.contains(static_cast<size_t>(BloomLexer::INT)) && expected.contains(static_cast<size_t>(BloomLexer::ID)))
      what = "an expression";
    else {
      std::vector<std::string> names;
      for (size_t t : expected.toList()) names.push_back(token_description(vocab, t));
      if (names.size() > 5) names.resize(5), names.push_back("...");
      for (size_t i = 0; i < names.size(); ++i) {
        if (i) what += i + 1 == names.size() ? " or " : ", ";
        what += names[i];
      }
    }
    std::string msg = "expected " + what + ", found " + found_description(found);
    // A missing `;` is best shown right after the previous token, as clang does.
    antlr4::Token* prev = p->getTokenStream()->LT(-1);
    // An unterminated string swallowed the rest of the line; the AST builder reports that.
    if (prev && prev->getType() == BloomLexer::UNTERMINATED_STRING) {
      quiet_until_ = next_semicolon(found);
      return;
    }
    if (expected.contains(static_cast<size_t>(BloomLexer::SEMI)) && prev && found && prev->getLine() < found->getLine()) {
      Span s = token_span(file_, prev);
      s.col = s.end_col;
      s.end_col = s.col + 1;
      emit(s, found, "expected `;` after this", found_description(found) + " follows on the next line");
      quiet_until_ = found->getTokenIndex();  // the next line is a statement of its own
      return;
    }
    report(p, found, msg);
  }

  void report(antlr4::Parser*, antlr4::Token* t, std::string msg) {
    if (t) {
      switch (t->getType()) {
        case BloomLexer::ERROR_CHAR:
          if (t->getText() == "&" || t->getText() == "|") {
            emit(token_span(file_, t), t, "`" + t->getText() + t->getText() + "` is not an operator",
                 "separate body literals with `,`; in expressions write `and` / `or`");
            return;
          }
          msg = "unexpected character " + found_description(t);
          break;
        case BloomLexer::UNTERMINATED_COMMENT: msg = "unterminated block comment: `/*` has no `*/`"; break;
        case BloomLexer::UNTERMINATED_STRING: msg = "unterminated string literal"; break;
        default: break;
      }
    }
    emit(token_span(file_, t), t, std::move(msg), "");
  }

  // One error per statement: after an error, whatever recovery finds before the next `;` is
  // almost always a consequence of the first mistake, so it is not reported.
  void emit(Span s, antlr4::Token* t, std::string msg, std::string note) {
    size_t index = t ? t->getTokenIndex() : SIZE_MAX;
    if (index != SIZE_MAX && quiet_until_ != SIZE_MAX && index <= quiet_until_) return;
    auto& d = diags_.error("syntax", s, std::move(msg));
    if (!note.empty()) d.with_help(note);
    quiet_until_ = next_semicolon(t);
  }

  size_t next_semicolon(antlr4::Token* t) const {
    if (!t || !stream_) return SIZE_MAX;
    size_t i = t->getTokenIndex();
    for (; i < stream_->size(); ++i) {
      size_t type = stream_->get(i)->getType();
      if (type == BloomLexer::SEMI || type == antlr4::Token::EOF) break;
    }
    return i;
  }

 public:
  void set_stream(antlr4::TokenStream* s) { stream_ = s; }

 private:
  FileId file_;
  DiagnosticEngine& diags_;
  antlr4::TokenStream* stream_ = nullptr;
  size_t quiet_until_ = SIZE_MAX;
};

// Lexer/parser console output is never shown; errors arrive through the strategy above, and
// the lexer cannot fail (ERROR_CHAR matches any character).
class SilentListener : public antlr4::BaseErrorListener {
 public:
  void syntaxError(antlr4::Recognizer*, antlr4::Token*, size_t, size_t, const std::string&, std::exception_ptr) override {}
};

// The parse tree's generated accessors (ctx->expr(), ctx->ident(), ...) test each child with a
// dynamic_cast, twice on a match, and build a vector per call: with RuleContext::getText for
// names that was a third of the AST builder's time. These helpers find the same children by rule
// index instead: each generated context class is one rule, and a labelled alternative's class
// derives from its rule's class, so "is-a XContext" is "rule index is RuleX".
antlr4::ParserRuleContext* as_rule(antlr4::tree::ParseTree* p) {
  const std::type_info& t = typeid(*p);
  if (t == typeid(antlr4::tree::TerminalNodeImpl) || t == typeid(antlr4::tree::ErrorNodeImpl)) return nullptr;
  return static_cast<antlr4::ParserRuleContext*>(p);  // every other node of a parse tree is a rule context
}

// The i-th child of `c` of rule `rule`, as its generated class T (like c->x(i)), or null.
template <class T>
T* rule_child(antlr4::ParserRuleContext* c, size_t rule, size_t i = 0) {
  if (!c) return nullptr;
  for (auto* ch : c->children)
    if (auto* r = as_rule(ch); r && r->getRuleIndex() == rule && i-- == 0) return static_cast<T*>(r);
  return nullptr;
}

// Every child of `c` of rule `rule` (like c->x()), in order.
template <class T>
std::vector<T*> rule_children(antlr4::ParserRuleContext* c, size_t rule) {
  std::vector<T*> out;
  if (!c) return out;
  for (auto* ch : c->children)
    if (auto* r = as_rule(ch); r && r->getRuleIndex() == rule) out.push_back(static_cast<T*>(r));
  return out;
}

// Exact class test for the labelled alternatives (nothing derives from them, so this is
// dynamic_cast's answer at the cost of one type_info comparison).
template <class T>
T* alt(antlr4::ParserRuleContext* c) {
  return c && typeid(*c) == typeid(T) ? static_cast<T*>(c) : nullptr;
}

class Builder {
 public:
  Builder(const SourceManager& sm, FileId file, DiagnosticEngine& diags) : sm_(sm), file_(file), diags_(diags) {}

  // The text the next tree was parsed from (a chunk or the whole file); it must outlive build().
  void set_input(std::string_view input) {
    input_ = input;
    ascii_ = std::all_of(input.begin(), input.end(), [](char ch) { return static_cast<unsigned char>(ch) < 0x80; });
  }

  // Lint suppressions live in comments (the lexer's hidden channel), keyed by line.
  void collect_suppressions(antlr4::CommonTokenStream& tokens) {
    static const std::string kTag = "bloom:allow(";
    for (antlr4::Token* t : tokens.getTokens()) {
      if (t->getType() != BloomLexer::LINE_COMMENT) continue;
      std::string text = t->getText();
      size_t at = text.find(kTag);
      if (at == std::string::npos) continue;
      size_t close = text.find(')', at);
      if (close == std::string::npos) continue;
      ast::Suppression sup;
      sup.kind = text.substr(at + kTag.size(), close - at - kTag.size());
      size_t r = text.find_first_not_of(" \t:-", close + 1);
      sup.reason = r == std::string::npos ? "" : text.substr(r);
      sup.span = span(t);
      if (sup.kind != "point-of-order" && sup.kind != "race")
        diags_.warning("unknown-suppression", sup.span, "unknown lint suppression `" + sup.kind + "`")
            .with_help("the kinds are point-of-order and race");
      suppressions_[sup.span.line].push_back(std::move(sup));
    }
  }

  // Adds the items of `prog` (the whole file, or a chunk of it and the chunks before it) to `m`.
  void build(BloomParser::ProgramContext* prog, ast::Module& m) {
    // Import aliases first: `q.votes(x)` is an atom of module q, while `s.contains(x)` with s a
    // variable is a method call. The import list is in this file, so this stays syntactic.
    auto items = rule_children<BloomParser::ItemContext>(prog, BloomParser::RuleItem);
    for (auto* item : items)
      if (auto* imp = rule_child<BloomParser::ImportDeclContext>(item, BloomParser::RuleImportDecl))
        aliases_.insert(ident(rule_child<BloomParser::IdentContext>(imp, BloomParser::RuleIdent)));
    build_items(items, m);
  }

 private:
  void build_items(const std::vector<BloomParser::ItemContext*>& items, ast::Module& m) {
    for (auto* item : items) {
      // An item holds one statement (its first rule child; the rest are error nodes, if any).
      antlr4::ParserRuleContext* r = nullptr;
      for (auto* ch : item->children)
        if ((r = as_rule(ch))) break;
      if (!r) continue;
      switch (r->getRuleIndex()) {
        case BloomParser::RuleImportDecl: m.imports.push_back(import(static_cast<BloomParser::ImportDeclContext*>(r))); break;
        case BloomParser::RuleParamDecl: m.params.push_back(param(static_cast<BloomParser::ParamDeclContext*>(r))); break;
        case BloomParser::RuleConstDecl: m.consts.push_back(constant(static_cast<BloomParser::ConstDeclContext*>(r))); break;
        case BloomParser::RuleCollectionDecl: m.decls.push_back(collection(static_cast<BloomParser::CollectionDeclContext*>(r))); break;
        case BloomParser::RulePeriodicDecl: m.decls.push_back(periodic(static_cast<BloomParser::PeriodicDeclContext*>(r))); break;
        case BloomParser::RuleDelayDecl: m.decls.push_back(delay(static_cast<BloomParser::DelayDeclContext*>(r))); break;
        case BloomParser::RuleSealDecl: m.seals.push_back(seal(static_cast<BloomParser::SealDeclContext*>(r))); break;
        case BloomParser::RuleLatticeDecl: m.decls.push_back(lattice(static_cast<BloomParser::LatticeDeclContext*>(r))); break;
        case BloomParser::RuleClause: clause(static_cast<BloomParser::ClauseContext*>(r), m); break;
        default: break;
      }
    }
  }

  Span span(antlr4::ParserRuleContext* ctx) const {
    Span s = token_span(file_, ctx->getStart());
    antlr4::Token* stop = ctx->getStop();
    if (stop && stop->getTokenIndex() >= ctx->getStart()->getTokenIndex()) {
      Span e = token_span(file_, stop);
      s.end_line = e.end_line;
      s.end_col = e.end_col;
    }
    return s;
  }
  Span span(antlr4::tree::TerminalNode* n) const { return token_span(file_, n ? n->getSymbol() : nullptr); }
  Span span(antlr4::Token* t) const { return token_span(file_, t); }

  // A token's text. ANTLR's getText converts the token's code points back to UTF-8 through a
  // temporary std::wstring_convert; in ASCII input a code point index is a byte offset, so the
  // text is read from the source. Only tokens the lexer produced qualify (tokens made up by the
  // error recovery have no valid offsets, and EOF's text is "<EOF>").
  std::string text(antlr4::Token* t) const {
    size_t start = t->getStartIndex(), stop = t->getStopIndex();
    if (ascii_ && t->getType() != antlr4::Token::EOF && start <= stop && stop < input_.size())
      return std::string(input_.substr(start, stop - start + 1));
    return t->getText();
  }

  // An identifier's name: its one token's text (RuleContext::getText goes through a stringstream).
  // An error recovery may leave no token, or an error node, which getText handles as before.
  std::string ident(BloomParser::IdentContext* c) const {
    if (!c) return std::string();
    if (c->children.size() == 1 && c->getStart() == c->getStop() && typeid(*c->children[0]) == typeid(antlr4::tree::TerminalNodeImpl))
      return text(c->getStart());
    return c->getText();
  }

  ast::QualifiedName qname(BloomParser::QnameContext* c) {
    ast::QualifiedName q;
    if (!c) return q;
    for (auto* ch : c->children)
      if (auto* r = as_rule(ch); r && r->getRuleIndex() == BloomParser::RuleIdent)
        q.parts.push_back(ident(static_cast<BloomParser::IdentContext*>(r)));
    q.span = span(c);
    return q;
  }

  ast::TypeExpr type(BloomParser::TypeContext* c) {
    ast::TypeExpr t;
    if (!c) return t;
    t.name = ident(c->ident());
    t.span = span(c);
    for (auto* a : c->type()) t.args.push_back(type(a));
    return t;
  }

  std::string string_value(antlr4::Token* tok) {
    std::string raw = text(tok);
    std::string out;
    for (size_t i = 1; i + 1 < raw.size(); ++i) {
      if (raw[i] != '\\') {
        out += raw[i];
        continue;
      }
      char e = raw[++i];
      switch (e) {
        case 'n': out += '\n'; break;
        case 't': out += '\t'; break;
        case '\\': out += '\\'; break;
        case '"': out += '"'; break;
        default: {
          Span s = span(tok);
          s.col += static_cast<uint32_t>(i - 1);
          s.end_col = s.col + 2;
          diags_.error("syntax", s, std::string("unknown escape sequence `\\") + e + "` in string")
              .with_help("the escapes are \\\" \\\\ \\n \\t");
          out += e;
        }
      }
    }
    return out;
  }

  ast::ExprPtr literal_value(BloomParser::LiteralValueContext* c) {
    antlr4::Token* tok = c->getStart();
    Span s = span(tok);
    std::string text = this->text(tok);
    switch (tok->getType()) {
      case BloomLexer::INT: {
        auto e = std::make_unique<ast::Expr>(ast::ExprKind::Int, s);
        auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), e->int_value);
        if (ec != std::errc() || p != text.data() + text.size())
          diags_.error("syntax", s, "integer literal `" + text + "` does not fit in 64 bits");
        return e;
      }
      case BloomLexer::FLOAT: {
        auto e = std::make_unique<ast::Expr>(ast::ExprKind::Float, s);
        e->float_value = std::strtod(text.c_str(), nullptr);
        if (!std::isfinite(e->float_value)) diags_.error("syntax", s, "float literal `" + text + "` is out of range");
        return e;
      }
      case BloomLexer::STRING: {
        auto e = std::make_unique<ast::Expr>(ast::ExprKind::String, s);
        e->text = string_value(tok);
        return e;
      }
      case BloomLexer::TRUE:
      case BloomLexer::FALSE: {
        auto e = std::make_unique<ast::Expr>(ast::ExprKind::Bool, s);
        e->bool_value = tok->getType() == BloomLexer::TRUE;
        return e;
      }
      case BloomLexer::DURATION: {
        auto e = std::make_unique<ast::Expr>(ast::ExprKind::Duration, s);
        e->int_value = duration_ms(tok);
        return e;
      }
      case BloomLexer::UNTERMINATED_STRING:
        diags_.error("syntax", s, "unterminated string literal").with_help("close it with `\"` on the same line");
        return std::make_unique<ast::Expr>(ast::ExprKind::String, s);
      default:  // BAD_NUMBER
        diags_.error("syntax", s, "invalid number `" + text + "`")
            .with_help(in_period_ ? "durations are written 250ms, 2s, 1m or 1h (`10m` is ten minutes)"
                                  : "durations are written 250ms, 2s, 1m or 1h; names cannot start with a digit");
        return std::make_unique<ast::Expr>(ast::ExprKind::Int, s);
    }
  }

  int64_t duration_ms(antlr4::Token* tok) {
    std::string text = this->text(tok);
    size_t digits = text.find_first_not_of("0123456789");
    std::string unit = text.substr(digits);
    int64_t n = 0;
    auto [p, ec] = std::from_chars(text.data(), text.data() + digits, n);
    int64_t scale = unit == "ms" ? 1 : unit == "s" ? 1000 : unit == "m" ? 60000 : 3600000;
    if (ec != std::errc() || n > INT64_MAX / scale) {
      diags_.error("syntax", span(tok), "duration `" + text + "` is too large");
      return 0;
    }
    return n * scale;
  }

  std::vector<ast::ExprPtr> exprs(const std::vector<BloomParser::ExprContext*>& list, int depth) {
    std::vector<ast::ExprPtr> out;
    for (auto* e : list) out.push_back(expr(e, depth + 1));
    return out;
  }

  bool in_period_ = false;  // building a period or a delay: a bad number there is a bad duration

  ast::ExprPtr expr(BloomParser::ExprContext* c, int depth = 0) {
    if (!c) return std::make_unique<ast::Expr>(ast::ExprKind::Wildcard, Span{});  // error recovery
    Span s = span(c);
    if (depth > kMaxExprDepth) {
      if (!depth_reported_)
        diags_.error("too-deep", s, "expression is too long: more than " + std::to_string(kMaxExprDepth) + " operators in one chain")
            .with_help("split it with assignments (`a = ..., b = a + ...`)");
      depth_reported_ = true;
      return std::make_unique<ast::Expr>(ast::ExprKind::Int, s);
    }
    // The alternatives are distinct classes, so the order of the tests is free: the most common
    // (names, then constants) first, as each failed test costs a type_info comparison.
    if (auto* n = alt<BloomParser::NameContext>(c)) {
      ast::QualifiedName q = qname(rule_child<BloomParser::QnameContext>(n, BloomParser::RuleQname));
      if (q.parts.size() == 1 && q.parts[0] == "_") return std::make_unique<ast::Expr>(ast::ExprKind::Wildcard, s);
      auto e = std::make_unique<ast::Expr>(ast::ExprKind::Name, s);
      e->name = std::move(q);
      return e;
    }
    if (auto* k = alt<BloomParser::ConstantContext>(c))
      return literal_value(rule_child<BloomParser::LiteralValueContext>(k, BloomParser::RuleLiteralValue));
    if (auto* m = alt<BloomParser::MethodCallContext>(c)) {
      auto e = std::make_unique<ast::Expr>(ast::ExprKind::Method, s);
      auto list = rule_children<BloomParser::ExprContext>(m, BloomParser::RuleExpr);
      e->args.push_back(expr(list[0], depth + 1));
      for (size_t i = 1; i < list.size(); ++i) e->args.push_back(expr(list[i], depth + 1));
      auto* name = rule_child<BloomParser::IdentContext>(m, BloomParser::RuleIdent);
      e->text = ident(name);
      e->op_span = span(name);
      return e;
    }
    if (auto* u = alt<BloomParser::UnaryContext>(c)) {
      auto* operand = rule_child<BloomParser::ExprContext>(u, BloomParser::RuleExpr);
      // -9223372036854775808 is INT64_MIN, although its digits alone do not fit in 64 bits.
      if (auto* k = alt<BloomParser::ConstantContext>(operand);
          k && u->op->getType() == BloomLexer::MINUS && k->getText() == "9223372036854775808") {
        auto e = std::make_unique<ast::Expr>(ast::ExprKind::Int, s);
        e->int_value = INT64_MIN;
        return e;
      }
      auto e = std::make_unique<ast::Expr>(ast::ExprKind::Unary, s);
      e->unary_op = u->op->getType() == BloomLexer::MINUS ? ast::UnaryOp::Neg : ast::UnaryOp::Not;
      e->op_span = span(u->op);
      e->args.push_back(expr(operand, depth + 1));
      // Fold `-5` into a literal so that INT64_MIN and negative facts are plain constants.
      auto& a = e->args[0];
      if (e->unary_op == ast::UnaryOp::Neg && a->kind == ast::ExprKind::Int && a->int_value != INT64_MIN) {
        a->int_value = -a->int_value;
        a->span = s;
        return std::move(a);
      }
      if (e->unary_op == ast::UnaryOp::Neg && a->kind == ast::ExprKind::Float) {
        a->float_value = -a->float_value;
        a->span = s;
        return std::move(a);
      }
      return e;
    }
    if (auto* b = alt<BloomParser::BinaryContext>(c)) {
      auto e = std::make_unique<ast::Expr>(ast::ExprKind::Binary, s);
      e->binary_op = binary_op(b->op->getType());
      e->op_span = span(b->op);
      e->args.push_back(expr(rule_child<BloomParser::ExprContext>(b, BloomParser::RuleExpr, 0), depth + 1));
      e->args.push_back(expr(rule_child<BloomParser::ExprContext>(b, BloomParser::RuleExpr, 1), depth + 1));
      return e;
    }
    if (auto* a = alt<BloomParser::ArrowInExprContext>(c)) {
      std::string op = a->op->getText();
      auto& d = diags_.error("arrow-in-expression", span(a->op), "`" + op + "` is a merge operator and cannot appear inside an expression");
      if (op == "<-")
        d.with_help("to compare with a negative number, put a space after `<`: `" + a->expr(0)->getText() + " < -" + a->expr(1)->getText() +
                    "`");
      else
        d.with_help(
            "a rule has exactly one merge operator, between its head and its body: "
            "did you mean to end the rule with `;` and start another?");
      auto e = std::make_unique<ast::Expr>(ast::ExprKind::Binary, s);
      e->binary_op = ast::BinaryOp::Lt;
      e->op_span = span(a->op);
      e->args.push_back(expr(a->expr(0), depth + 1));
      e->args.push_back(expr(a->expr(1), depth + 1));
      return e;
    }
    if (auto* call = alt<BloomParser::CallContext>(c)) {
      auto* callee = rule_child<BloomParser::QnameContext>(call, BloomParser::RuleQname);
      ast::QualifiedName q = qname(callee);
      auto args = exprs(rule_children<BloomParser::ExprContext>(call, BloomParser::RuleExpr), depth);
      // `s.size()` with s not an import alias is a method call on the variable s.
      if (q.parts.size() == 2 && !aliases_.count(q.parts[0])) {
        auto e = std::make_unique<ast::Expr>(ast::ExprKind::Method, s);
        auto* id0 = rule_child<BloomParser::IdentContext>(callee, BloomParser::RuleIdent, 0);
        auto recv = std::make_unique<ast::Expr>(ast::ExprKind::Name, id0 ? span(id0) : s);
        recv->name.parts = {q.parts[0]};
        recv->name.span = recv->span;
        e->args.push_back(std::move(recv));
        for (auto& a : args) e->args.push_back(std::move(a));
        e->text = q.parts[1];
        e->op_span = span(rule_child<BloomParser::IdentContext>(callee, BloomParser::RuleIdent, 1));
        return e;
      }
      auto e = std::make_unique<ast::Expr>(ast::ExprKind::Call, s);
      e->name = std::move(q);
      e->args = std::move(args);
      return e;
    }
    if (auto* p = alt<BloomParser::ParenContext>(c)) {
      auto e = expr(rule_child<BloomParser::ExprContext>(p, BloomParser::RuleExpr), depth + 1);
      e->span = s;  // include the parentheses, so carets cover what the user wrote
      return e;
    }
    // Only reached for a node the error recovery left incomplete.
    return std::make_unique<ast::Expr>(ast::ExprKind::Int, s);
  }

  static ast::BinaryOp binary_op(size_t type) {
    switch (type) {
      case BloomLexer::STAR: return ast::BinaryOp::Mul;
      case BloomLexer::SLASH: return ast::BinaryOp::Div;
      case BloomLexer::PERCENT: return ast::BinaryOp::Mod;
      case BloomLexer::PLUS: return ast::BinaryOp::Add;
      case BloomLexer::MINUS: return ast::BinaryOp::Sub;
      case BloomLexer::EQ: return ast::BinaryOp::Eq;
      case BloomLexer::NE: return ast::BinaryOp::Ne;
      case BloomLexer::LT: return ast::BinaryOp::Lt;
      case BloomLexer::LE: return ast::BinaryOp::Le;
      case BloomLexer::GT: return ast::BinaryOp::Gt;
      case BloomLexer::GE: return ast::BinaryOp::Ge;
      case BloomLexer::AND: return ast::BinaryOp::And;
      default: return ast::BinaryOp::Or;
    }
  }

  ast::Import import(BloomParser::ImportDeclContext* c) {
    ast::Import i;
    i.path = c->STRING() ? string_value(c->STRING()->getSymbol()) : "";
    i.path_span = span(c->STRING());
    i.alias = ident(c->ident());
    i.alias_span = c->ident() ? span(c->ident()) : Span{};
    i.span = span(c);
    return i;
  }

  ast::Param param(BloomParser::ParamDeclContext* c) {
    ast::Param p;
    p.name = ident(c->ident());
    p.name_span = c->ident() ? span(c->ident()) : span(c);
    if (c->type()) p.type = type(c->type());
    if (c->expr()) p.default_value = expr(c->expr());
    p.span = span(c);
    return p;
  }

  ast::Const constant(BloomParser::ConstDeclContext* c) {
    ast::Const k;
    k.name = ident(c->ident());
    k.name_span = c->ident() ? span(c->ident()) : span(c);
    k.value = c->expr() ? expr(c->expr()) : std::make_unique<ast::Expr>(ast::ExprKind::Int, span(c));
    k.span = span(c);
    return k;
  }

  ast::CollectionDecl collection(BloomParser::CollectionDeclContext* c) {
    ast::CollectionDecl d;
    switch (c->kind->getType()) {
      case BloomLexer::TABLE: d.kind = ast::CollectionKind::Table; break;
      case BloomLexer::SCRATCH: d.kind = ast::CollectionKind::Scratch; break;
      case BloomLexer::CHANNEL: d.kind = ast::CollectionKind::Channel; break;
      case BloomLexer::INPUT: d.kind = ast::CollectionKind::Input; break;
      default: d.kind = ast::CollectionKind::Output; break;
    }
    d.name = ident(c->ident());
    d.name_span = c->ident() ? span(c->ident()) : span(c);
    d.columns = columns(c->column());
    if (auto* key = c->keyClause()) {
      d.key.emplace();
      for (auto* id : key->ident()) d.key->push_back({ident(id), span(id)});
    }
    if (auto* dur = c->durable()) d.durable_span = span(dur);
    d.span = span(c);
    return d;
  }

  std::vector<ast::Column> columns(const std::vector<BloomParser::ColumnContext*>& cols) {
    std::vector<ast::Column> out;
    for (auto* col : cols) {
      ast::Column k;
      k.name = ident(col->ident());
      k.location = col->AT() != nullptr;
      if (col->type()) k.type = type(col->type());
      k.span = span(col);
      out.push_back(std::move(k));
    }
    return out;
  }

  // A periodic's period or a delay's duration: a duration literal, or an expression the checker
  // evaluates (a const or param in ms; for a delay, also one of its columns).
  void period(BloomParser::ExprContext* c, ast::CollectionDecl& d) {
    if (!c) return;
    d.period_span = span(c);
    in_period_ = true;
    auto e = expr(c);
    in_period_ = false;
    if (e && e->kind == ast::ExprKind::Duration) d.period_ms = e->int_value;
    else if (e) d.period = std::move(e);
  }

  ast::CollectionDecl periodic(BloomParser::PeriodicDeclContext* c) {
    ast::CollectionDecl d;
    d.kind = ast::CollectionKind::Periodic;
    d.name = ident(c->ident());
    d.name_span = c->ident() ? span(c->ident()) : span(c);
    period(c->expr(), d);
    d.span = span(c);
    return d;
  }

  ast::CollectionDecl delay(BloomParser::DelayDeclContext* c) {
    ast::CollectionDecl d;
    d.kind = ast::CollectionKind::Delay;
    d.name = ident(c->ident());
    d.name_span = c->ident() ? span(c->ident()) : span(c);
    d.columns = columns(c->column());
    period(c->expr(), d);
    d.span = span(c);
    return d;
  }

  ast::SealDecl seal(BloomParser::SealDeclContext* c) {
    ast::SealDecl d;
    if (c->sealed) {
      d.sealed = ident(c->sealed);
      d.sealed_span = span(c->sealed);
    }
    for (auto* id : c->keys) d.key.push_back({ident(id), span(id)});
    if (c->punct) {
      d.punct = ident(c->punct);
      d.punct_span = span(c->punct);
    }
    for (auto* id : c->pcols) d.punct_columns.push_back({ident(id), span(id)});
    d.span = span(c);
    return d;
  }

  ast::CollectionDecl lattice(BloomParser::LatticeDeclContext* c) {
    ast::CollectionDecl d;
    d.kind = ast::CollectionKind::Lattice;
    d.name = ident(c->ident());
    d.name_span = c->ident() ? span(c->ident()) : span(c);
    if (c->type()) d.lattice_type = type(c->type());
    if (auto* dur = c->durable()) d.durable_span = span(dur);
    d.span = span(c);
    return d;
  }

  ast::Atom atom(BloomParser::AtomContext* c) {
    ast::Atom a;
    if (!c) return a;
    a.name = qname(rule_child<BloomParser::QnameContext>(c, BloomParser::RuleQname));
    a.span = span(c);
    for (auto* ch : c->children) {
      auto* r = as_rule(ch);
      if (!r || r->getRuleIndex() != BloomParser::RuleArg) continue;
      ast::Arg x;
      x.span = span(r);
      if (auto* loc = alt<BloomParser::LocationArgContext>(r)) {
        x.location = true;
        x.expr = expr(rule_child<BloomParser::ExprContext>(loc, BloomParser::RuleExpr));
      } else if (auto* plain = alt<BloomParser::PlainArgContext>(r)) {
        x.expr = expr(rule_child<BloomParser::ExprContext>(plain, BloomParser::RuleExpr));
      } else {
        x.expr = std::make_unique<ast::Expr>(ast::ExprKind::Wildcard, x.span);
      }
      a.args.push_back(std::move(x));
    }
    return a;
  }

  // An atom whose name is `v.m` with v not an import alias is really a method-call condition.
  bool is_method_condition(BloomParser::AtomContext* c) const {
    auto* q = rule_child<BloomParser::QnameContext>(c, BloomParser::RuleQname);
    if (!q) return false;
    auto ids = rule_children<BloomParser::IdentContext>(q, BloomParser::RuleIdent);
    return ids.size() == 2 && !aliases_.count(ident(ids[0]));
  }

  ast::ExprPtr atom_as_method(BloomParser::AtomContext* c) {
    Span s = span(c);
    auto ids =
        rule_children<BloomParser::IdentContext>(rule_child<BloomParser::QnameContext>(c, BloomParser::RuleQname), BloomParser::RuleIdent);
    auto e = std::make_unique<ast::Expr>(ast::ExprKind::Method, s);
    auto recv = std::make_unique<ast::Expr>(ast::ExprKind::Name, span(ids[0]));
    recv->name.parts = {ident(ids[0])};
    recv->name.span = recv->span;
    e->args.push_back(std::move(recv));
    for (auto* arg : rule_children<BloomParser::ArgContext>(c, BloomParser::RuleArg)) {
      if (auto* loc = alt<BloomParser::LocationArgContext>(arg)) {
        diags_.error("syntax", span(arg), "`@` marks a channel's location and cannot appear in a method call");
        e->args.push_back(expr(rule_child<BloomParser::ExprContext>(loc, BloomParser::RuleExpr)));
      } else if (auto* plain = alt<BloomParser::PlainArgContext>(arg)) {
        e->args.push_back(expr(rule_child<BloomParser::ExprContext>(plain, BloomParser::RuleExpr)));
      }
    }
    e->text = ident(ids[1]);
    e->op_span = span(ids[1]);
    return e;
  }

  void clause(BloomParser::ClauseContext* c, ast::Module& m) {
    auto* head = rule_child<BloomParser::AtomContext>(c, BloomParser::RuleAtom);
    if (!head) return;
    auto* merge = rule_child<BloomParser::MergeOpContext>(c, BloomParser::RuleMergeOp);
    if (!merge) {
      m.facts.push_back({atom(head), span(c)});
      return;
    }
    ast::Rule r;
    r.head = atom(head);
    switch (merge->getStart()->getType()) {
      case BloomLexer::LE: r.op = ast::MergeOp::Instant; break;
      case BloomLexer::DEFER_INSERT: r.op = ast::MergeOp::DeferredInsert; break;
      case BloomLexer::DEFER_DELETE: r.op = ast::MergeOp::DeferredDelete; break;
      case BloomLexer::DEFER_UPSERT: r.op = ast::MergeOp::DeferredUpsert; break;
      default: r.op = ast::MergeOp::Async; break;
    }
    r.op_span = span(merge);
    r.span = span(c);
    for (uint32_t line : {r.span.line - 1, r.span.end_line})
      if (auto it = suppressions_.find(line); it != suppressions_.end())
        for (const auto& sup : it->second) r.suppressions.push_back(sup);
    if (auto* body = rule_child<BloomParser::BodyContext>(c, BloomParser::RuleBody)) {
      auto literals = rule_children<BloomParser::LiteralContext>(body, BloomParser::RuleLiteral);
      r.body.reserve(literals.size());
      for (auto* lit : literals) r.body.push_back(literal(lit));
    }
    m.rules.push_back(std::move(r));
  }

  ast::BodyLiteral literal(BloomParser::LiteralContext* c) {
    ast::BodyLiteral l;
    l.span = span(c);
    if (auto* n = alt<BloomParser::NegatedAtomContext>(c)) {
      auto* a = rule_child<BloomParser::AtomContext>(n, BloomParser::RuleAtom);
      if (is_method_condition(a)) {  // `not s.contains(x)` is `!s.contains(x)`
        l.kind = ast::LiteralKind::Condition;
        auto e = std::make_unique<ast::Expr>(ast::ExprKind::Unary, l.span);
        e->unary_op = ast::UnaryOp::Not;
        e->op_span = span(n->NOT());
        e->args.push_back(atom_as_method(a));
        l.expr = std::move(e);
        return l;
      }
      l.kind = ast::LiteralKind::Negated;
      l.atom = atom(a);
      l.not_span = span(n->NOT());
    } else if (auto* p = alt<BloomParser::PositiveAtomContext>(c)) {
      auto* a = rule_child<BloomParser::AtomContext>(p, BloomParser::RuleAtom);
      if (is_method_condition(a)) {
        l.kind = ast::LiteralKind::Condition;
        l.expr = atom_as_method(a);
        return l;
      }
      l.kind = ast::LiteralKind::Positive;
      l.atom = atom(a);
    } else if (auto* as = alt<BloomParser::AssignmentContext>(c)) {
      auto* var = rule_child<BloomParser::IdentContext>(as, BloomParser::RuleIdent);
      l.kind = ast::LiteralKind::Assign;
      l.var = ident(var);
      l.var_span = span(var);
      l.expr = expr(rule_child<BloomParser::ExprContext>(as, BloomParser::RuleExpr));
    } else if (auto* i = alt<BloomParser::MembershipContext>(c)) {
      auto* var = rule_child<BloomParser::IdentContext>(i, BloomParser::RuleIdent);
      l.kind = ast::LiteralKind::In;
      l.var = ident(var);
      l.var_span = span(var);
      l.expr = expr(rule_child<BloomParser::ExprContext>(i, BloomParser::RuleExpr));
    } else if (auto* nc = alt<BloomParser::NegatedConditionContext>(c)) {
      l.kind = ast::LiteralKind::Condition;
      auto e = std::make_unique<ast::Expr>(ast::ExprKind::Unary, l.span);
      e->unary_op = ast::UnaryOp::Not;
      e->op_span = span(nc->NOT());
      e->args.push_back(expr(rule_child<BloomParser::ExprContext>(nc, BloomParser::RuleExpr)));
      l.expr = std::move(e);
    } else if (auto* cond = alt<BloomParser::ConditionContext>(c)) {
      l.kind = ast::LiteralKind::Condition;
      l.expr = expr(rule_child<BloomParser::ExprContext>(cond, BloomParser::RuleExpr));
    } else {
      l.kind = ast::LiteralKind::Condition;
      l.expr = std::make_unique<ast::Expr>(ast::ExprKind::Bool, l.span);
    }
    return l;
  }

  const SourceManager& sm_;
  FileId file_;
  DiagnosticEngine& diags_;
  std::unordered_set<std::string> aliases_;
  std::map<uint32_t, std::vector<ast::Suppression>> suppressions_;  // by line
  bool depth_reported_ = false;
  std::string_view input_;
  bool ascii_ = false;
};

// Byte offset of the first invalid UTF-8 sequence (overlong forms, surrogates and values past
// U+10FFFF included), or npos. ANTLR's input stream throws on such input, so it is checked first.
size_t invalid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t n = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return i;
    uint32_t cp = c & (0x7F >> n);
    for (size_t k = 1; k < n; ++k) {
      auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return i;
      cp = (cp << 6) | (cc & 0x3F);
    }
    static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return i;
    i += n;
  }
  return std::string_view::npos;
}

// Rejects nesting deep enough to exhaust the stack of a recursive-descent parser.
bool nesting_ok(antlr4::CommonTokenStream& tokens, FileId file, DiagnosticEngine& diags) {
  // `<` opens a type argument list (`lset<lset<...>>`) as well as a comparison, so it counts as
  // nesting until a `>` or the end of the statement; 200 per statement is far beyond real use.
  int depth = 0, prefix_run = 0, angles = 0;
  for (antlr4::Token* t : tokens.getTokens()) {
    size_t type = t->getType();
    if (type == BloomLexer::LPAREN) ++depth;
    else if (type == BloomLexer::RPAREN) depth = std::max(0, depth - 1);
    else if (type == BloomLexer::LT) ++angles;
    else if (type == BloomLexer::GT) angles = std::max(0, angles - 1);
    else if (type == BloomLexer::SEMI) depth = angles = 0;
    if (angles > kMaxNesting) {
      diags.error("too-deep", token_span(file, t),
                  "types or comparisons nested more than " + std::to_string(kMaxNesting) + " levels deep in one statement");
      return false;
    }
    bool prefix = type == BloomLexer::MINUS || type == BloomLexer::BANG || type == BloomLexer::NOT;
    prefix_run = prefix ? prefix_run + 1 : 0;
    if (depth + prefix_run > kMaxNesting) {
      diags.error("too-deep", token_span(file, t), "expression is nested more than " + std::to_string(kMaxNesting) + " levels deep");
      return false;
    }
  }
  return true;
}

// A large file is parsed in chunks of about this many statements, each with its own token stream
// and parse tree, freed once its AST is built: ANTLR keeps every token and tree node of a parse
// alive until the parser goes, about 20 KB per rule, which dominated the front end's memory.
constexpr size_t kChunkStatements = 256;

// Byte offsets where `text` can be cut into chunks: the first is 0; each other is the start of a
// line after a `;` (outside strings and comments, with only comments after it on its line, so a
// trailing suppression comment stays with its rule). No cut comes before an `import`, so every
// alias is known before the first clause is built. Only a guess at the lexer's view: a cut it
// disagrees with makes a chunk fail to parse, and the file is then parsed whole.
std::vector<std::pair<size_t, uint32_t>> chunk_starts(std::string_view text) {
  std::vector<std::pair<size_t, uint32_t>> cuts{{0, 1}};  // (offset, line)
  size_t n = text.size(), statements = 0, last_import = 0;
  uint32_t line = 1;
  bool after_semi = false;
  auto ident = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
  for (size_t i = 0; i < n; ++i) {
    char c = text[i];
    if (c == '\n') {
      ++line;
      if (after_semi && statements >= kChunkStatements) {
        cuts.push_back({i + 1, line});
        statements = 0;
      }
      after_semi = false;
    } else if (c == '"') {  // a string ends at its quote or, unterminated, at the end of the line
      size_t j = i + 1;
      while (j < n && text[j] != '"' && text[j] != '\n' && text[j] != '\r')
        j += text[j] == '\\' && j + 1 < n && text[j + 1] != '\n' && text[j + 1] != '\r' ? 2 : 1;
      i = j < n && text[j] == '"' ? j : j - 1;
      after_semi = false;
    } else if (c == '/' && i + 1 < n && text[i + 1] == '/') {
      while (i + 1 < n && text[i + 1] != '\n') ++i;
    } else if (c == '/' && i + 1 < n && text[i + 1] == '*') {
      size_t end = text.find("*/", i + 2);
      size_t stop = end == std::string_view::npos ? n : end + 2;
      line += static_cast<uint32_t>(
          std::count(text.begin() + static_cast<std::ptrdiff_t>(i), text.begin() + static_cast<std::ptrdiff_t>(stop), '\n'));
      i = stop - 1;
    } else if (c == ';') {
      ++statements;
      after_semi = true;
    } else if (c != ' ' && c != '\t' && c != '\r') {
      after_semi = false;
      if (ident(c) && (i == 0 || !ident(text[i - 1]))) {
        if (text.substr(i, 6) == "import" && (i + 6 >= n || !ident(text[i + 6]))) last_import = i;
        while (i + 1 < n && ident(text[i + 1])) ++i;
      }
    }
  }
  while (cuts.size() > 1 && cuts[1].first <= last_import) cuts.erase(cuts.begin() + 1);
  return cuts;
}

// Parses `text` (a chunk of the file starting at `first_line`) with SLL prediction only and adds
// its items to `m`. False when the chunk does not parse that way or reports an error: the caller
// then parses the whole file the usual way, so diagnostics never depend on the chunking.
bool parse_chunk(std::string_view text, uint32_t first_line, FileId file, Builder& builder, ast::Module& m, DiagnosticEngine& diags) {
  antlr4::ANTLRInputStream input(text.data(), text.size());
  BloomLexer lexer(&input);
  lexer.setLine(first_line);
  SilentListener silent;
  lexer.removeErrorListeners();
  lexer.addErrorListener(&silent);
  antlr4::CommonTokenStream tokens(&lexer);
  tokens.fill();
  if (!nesting_ok(tokens, file, diags)) return false;
  BloomParser parser(&tokens);
  parser.removeErrorListeners();
  parser.addErrorListener(&silent);
  parser.getInterpreter<antlr4::atn::ParserATNSimulator>()->setPredictionMode(antlr4::atn::PredictionMode::SLL);
  parser.setErrorHandler(std::make_shared<antlr4::BailErrorStrategy>());
  BloomParser::ProgramContext* tree = nullptr;
  try {
    tree = parser.program();
  } catch (const antlr4::ParseCancellationException&) {
    return false;
  }
  builder.set_input(text);
  builder.collect_suppressions(tokens);
  builder.build(tree, m);
  return !diags.has_errors();
}

// The chunked parse of a large file, or null when it is small or a chunk needs the full parse.
std::unique_ptr<ast::Module> parse_chunked(const SourceManager& sm, FileId file, DiagnosticEngine& diags) {
  std::string_view text = sm.file(file).text;
  auto cuts = chunk_starts(text);
  if (cuts.size() < 2) return nullptr;
  DiagnosticEngine local;  // kept only if every chunk parses: warnings such as unknown suppressions
  Builder builder(sm, file, local);
  auto m = std::make_unique<ast::Module>();
  m->file = file;
  for (size_t k = 0; k < cuts.size(); ++k) {
    size_t end = k + 1 < cuts.size() ? cuts[k + 1].first : text.size();
    if (!parse_chunk(text.substr(cuts[k].first, end - cuts[k].first), cuts[k].second, file, builder, *m, local)) return nullptr;
  }
  for (const auto& d : local.all()) diags.add(d);
  return m;
}

}  // namespace

std::unique_ptr<ast::Module> parse_module(const SourceManager& sm, FileId file, DiagnosticEngine& diags) {
  const SourceFile& src = sm.file(file);
  auto empty = [&] {
    auto m = std::make_unique<ast::Module>();
    m->file = file;
    return m;
  };
  if (size_t bad = invalid_utf8(src.text); bad != std::string_view::npos) {
    auto line_it = std::upper_bound(src.line_starts.begin(), src.line_starts.end(), static_cast<uint32_t>(bad));
    uint32_t line = static_cast<uint32_t>(line_it - src.line_starts.begin());
    uint32_t col = 1;
    for (size_t i = src.line_starts[line - 1]; i < bad; ++i)
      if ((static_cast<unsigned char>(src.text[i]) & 0xC0) != 0x80) ++col;
    diags.error("syntax", Span{file, line, col, line, col + 1}, "the file is not valid UTF-8")
        .with_help("bloom sources are UTF-8 text; this byte sequence is not");
    return empty();
  }
  if (auto m = parse_chunked(sm, file, diags)) return m;
  antlr4::ANTLRInputStream input(src.text);
  BloomLexer lexer(&input);
  SilentListener silent;
  lexer.removeErrorListeners();
  lexer.addErrorListener(&silent);
  antlr4::CommonTokenStream tokens(&lexer);
  tokens.fill();
  if (!nesting_ok(tokens, file, diags)) return empty();

  BloomParser parser(&tokens);
  parser.removeErrorListeners();
  parser.addErrorListener(&silent);
  BloomParser::ProgramContext* tree = nullptr;
  // Stage 1: SLL, bail out on the first error.
  parser.getInterpreter<antlr4::atn::ParserATNSimulator>()->setPredictionMode(antlr4::atn::PredictionMode::SLL);
  parser.setErrorHandler(std::make_shared<antlr4::BailErrorStrategy>());
  try {
    tree = parser.program();
  } catch (const antlr4::ParseCancellationException&) {
    tree = nullptr;
  }
  if (!tree) {
    // Stage 2: full LL with recovery and our messages.
    tokens.seek(0);
    parser.reset();
    parser.getInterpreter<antlr4::atn::ParserATNSimulator>()->setPredictionMode(antlr4::atn::PredictionMode::LL);
    auto strategy = std::make_shared<BloomErrorStrategy>(file, diags);
    strategy->set_stream(&tokens);
    parser.setErrorHandler(strategy);
    try {
      tree = parser.program();
    } catch (const std::exception& e) {
      diags.error("syntax", Span{file, 1, 1, 1, 2}, std::string("the parser gave up: ") + e.what());
      return empty();
    }
  }
  Builder builder(sm, file, diags);
  builder.set_input(src.text);
  builder.collect_suppressions(tokens);
  auto m = empty();
  builder.build(tree, *m);
  return m;
}

}  // namespace bloom
