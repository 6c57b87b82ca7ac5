// The formatter (format.h). Works on the lexer's tokens, hidden comments included: a statement is
// the tokens up to its `;`, laid out with fixed spacing rules and wrapped only at the places a
// reader expects (after a rule's merge operator, after the commas between body literals or
// between the columns of a declaration). Comments are attached by where they were: after code
// on its line (trailing), alone on a line, or between tokens of one line (inline); layout keeps
// each in that position, which is what makes formatting a formatted file change nothing.
#include "syntax/format.h"

#include <antlr4-runtime.h>

#include <algorithm>

#include "BloomLexer.h"
#include "syntax/parser.h"

namespace bloom {
namespace {

using grammar::BloomLexer;

struct Tok {
  size_t type = 0;
  std::string text;
  size_t line = 0, end_line = 0;
  bool comment = false;
  bool line_comment = false;
};

// What a comment's text is compared and printed as: CRLF as LF, no trailing blanks on a line comment.
std::string comment_text(std::string t, bool line_comment) {
  std::string out;
  out.reserve(t.size());
  for (size_t i = 0; i < t.size(); ++i)
    if (!(t[i] == '\r' && i + 1 < t.size() && t[i + 1] == '\n')) out += t[i];
  if (line_comment)
    while (!out.empty() && (out.back() == ' ' || out.back() == '\t' || out.back() == '\r' || out.back() == '\f')) out.pop_back();
  return out;
}

std::vector<Tok> lex(std::string_view text) {
  antlr4::ANTLRInputStream input{std::string(text)};
  BloomLexer lexer(&input);
  lexer.removeErrorListeners();
  std::vector<Tok> toks;
  for (;;) {
    std::unique_ptr<antlr4::Token> t = lexer.nextToken();
    if (t->getType() == antlr4::Token::EOF) break;
    Tok k;
    k.type = t->getType();
    k.comment = k.type == BloomLexer::LINE_COMMENT || k.type == BloomLexer::BLOCK_COMMENT;
    k.line_comment = k.type == BloomLexer::LINE_COMMENT;
    k.text = k.comment ? comment_text(t->getText(), k.line_comment) : t->getText();
    k.line = t->getLine();
    k.end_line = k.line + static_cast<size_t>(std::count(k.text.begin(), k.text.end(), '\n'));
    toks.push_back(std::move(k));
  }
  return toks;
}

// Display width: code points, as columns are counted everywhere else.
size_t width(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s)
    if ((c & 0xC0) != 0x80) ++n;
  return n;
}

size_t last_line_width(std::string_view s) {
  size_t nl = s.rfind('\n');
  return width(nl == std::string_view::npos ? s : s.substr(nl + 1));
}

bool is_merge_op(size_t t) {
  return t == BloomLexer::LE || t == BloomLexer::DEFER_INSERT || t == BloomLexer::DEFER_DELETE || t == BloomLexer::DEFER_UPSERT ||
         t == BloomLexer::ASYNC;
}

// Words that are keywords only where they are used and otherwise names (grammar: `ident`).
bool is_soft_keyword(size_t t) {
  return t == BloomLexer::KEY || t == BloomLexer::EVERY || t == BloomLexer::AS || t == BloomLexer::DURABLE || t == BloomLexer::DELAY ||
         t == BloomLexer::AFTER || t == BloomLexer::SEAL || t == BloomLexer::BY;
}

// Tokens after which `-` and `!` are binary: the end of an operand.
bool ends_operand(size_t t) {
  return t == BloomLexer::ID || (is_soft_keyword(t) && t != BloomLexer::EVERY && t != BloomLexer::AFTER) || t == BloomLexer::INT ||
         t == BloomLexer::FLOAT || t == BloomLexer::STRING || t == BloomLexer::TRUE || t == BloomLexer::FALSE ||
         t == BloomLexer::DURATION || t == BloomLexer::RPAREN || t == BloomLexer::BAD_NUMBER;
}

// Declarations whose names are aligned in a run of them (`table   x(...)` under `scratch y(...)`).
bool is_aligned_decl(const std::vector<Tok>& toks, const std::vector<size_t>& code) {
  if (code.empty()) return false;
  size_t t = toks[code[0]].type;
  if (t == BloomLexer::DELAY) return code.size() > 1 && toks[code[1]].type != BloomLexer::LPAREN && toks[code[1]].type != BloomLexer::DOT;
  return t == BloomLexer::TABLE || t == BloomLexer::SCRATCH || t == BloomLexer::CHANNEL || t == BloomLexer::INPUT ||
         t == BloomLexer::OUTPUT || t == BloomLexer::LATTICE || t == BloomLexer::PERIODIC;
}
constexpr size_t kAlignCap = 7;  // `periodic` is longer than the rest: it just gets one space

// One top-level element: a statement (its tokens and the comments among them) or a comment.
struct Element {
  std::vector<size_t> toks;  // indexes into the token list, comments included
  bool statement = false;
  size_t keyword_pad = 0;  // aligned declarations: the keyword's column width
};

struct Line {
  std::string code;
  std::string trailing;  // a comment after the code on this line
};

class Formatter {
 public:
  Formatter(const std::vector<Tok>& toks, const FormatOptions& opts)
      : toks_(toks), width_(static_cast<size_t>(opts.width)), breaks_(toks.size(), false), break_after_(toks.size(), false) {}

  std::string run() {
    split();
    align_declarations();
    for (size_t e = 0; e < elems_.size(); ++e) emit_element(e);
    flush();
    while (!lines_.empty() && lines_.back().code.empty() && lines_.back().trailing.empty()) lines_.pop_back();
    align_trailing();
    std::string out;
    for (const auto& l : lines_) {
      out += l.code;
      out += l.trailing;
      out += '\n';
    }
    return out;
  }

 private:
  void split() {
    Element cur;
    for (size_t i = 0; i < toks_.size(); ++i) {
      if (toks_[i].comment && cur.toks.empty()) {
        elems_.push_back({{i}, false, 0});
        continue;
      }
      cur.toks.push_back(i);
      cur.statement = true;
      if (toks_[i].type == BloomLexer::SEMI) elems_.push_back(std::exchange(cur, Element{}));
    }
    if (!cur.toks.empty()) elems_.push_back(std::move(cur));  // unreachable for a file that parses
  }

  std::vector<size_t> code_of(const Element& e) const {
    std::vector<size_t> code;
    for (size_t i : e.toks)
      if (!toks_[i].comment) code.push_back(i);
    return code;
  }

  size_t first_line(size_t e) const { return toks_[elems_[e].toks.front()].line; }
  size_t last_line(size_t e) const { return toks_[elems_[e].toks.back()].end_line; }
  bool blank_before(size_t e) const { return e > 0 && first_line(e) > last_line(e - 1) + 1; }

  // A run of declarations with no blank line and no other statement between them (comments may
  // be) has its names in one column: after the run's longest keyword (up to `channel`, `scratch`
  // and `lattice`; `periodic` just gets one space).
  void align_declarations() {
    size_t start = 0;
    auto close = [&](size_t end) {
      size_t pad = 0, count = 0;
      for (size_t e = start; e < end; ++e)
        if (elems_[e].statement) pad = std::max(pad, std::min(kAlignCap, toks_[elems_[e].toks.front()].text.size())), ++count;
      if (count > 1)
        for (size_t e = start; e < end; ++e)
          if (elems_[e].statement) elems_[e].keyword_pad = pad;
    };
    bool in_run = false;
    for (size_t e = 0; e < elems_.size(); ++e) {
      bool decl = elems_[e].statement && is_aligned_decl(toks_, code_of(elems_[e]));
      bool breaks = blank_before(e) || (elems_[e].statement && !decl);
      if (in_run && breaks) close(e), in_run = false;
      if (decl && !in_run) start = e, in_run = true;
    }
    if (in_run) close(elems_.size());
  }

  // ---- Output lines
  void flush() {
    if (cur_.empty() && !cur_started_) return;
    lines_.push_back({rtrim(cur_), ""});
    cur_.clear();
    cur_started_ = false;
  }
  static std::string rtrim(std::string s) {
    while (!s.empty() && s.back() == ' ') s.pop_back();
    return s;
  }
  void blank_line() {
    if (!lines_.empty() && !(lines_.back().code.empty() && lines_.back().trailing.empty())) lines_.push_back({});
  }
  void trailing(const std::string& comment) {
    lines_.push_back({rtrim(cur_), comment});
    cur_.clear();
    cur_started_ = false;
  }
  void start_line(size_t indent) {
    cur_.assign(indent, ' ');
    cur_started_ = true;
  }

  void emit_element(size_t e) {
    const Element& el = elems_[e];
    if (!el.statement) {
      const Tok& c = toks_[el.toks[0]];
      bool nl_before = e == 0 || c.line > last_line(e - 1);
      bool nl_after = c.line_comment || e + 1 == elems_.size() || first_line(e + 1) > c.end_line;
      if (!nl_before && !cur_.empty()) {  // after code on its line: stays there
        trailing(c.text);
        open_comment_ = false;
        return;
      }
      flush();
      if (blank_before(e)) blank_line();
      if (nl_after) {
        lines_.push_back({c.text, ""});
      } else {
        cur_ = c.text;  // a block comment before code on the same line
        cur_started_ = true;
        open_comment_ = true;
      }
      return;
    }
    if (open_comment_) {
      cur_ += ' ';
      open_comment_ = false;
    } else {
      flush();
      if (blank_before(e)) blank_line();
    }
    emit_statement(el);
  }

  // ---- Statements
  struct Unit {
    std::vector<size_t> toks;  // comments included
  };

  void emit_statement(const Element& el) {
    const std::vector<size_t> code = code_of(el);
    // Break points: after the merge operator and the body's top-level commas of a rule; after
    // the commas of the first parenthesised list of anything else (columns, a fact's values).
    size_t first_type = toks_[code[0]].type;
    bool decl_keyword = is_aligned_decl(toks_, code) || first_type == BloomLexer::PARAM || first_type == BloomLexer::CONST ||
                        first_type == BloomLexer::IMPORT ||
                        (first_type == BloomLexer::SEAL && code.size() > 1 && toks_[code[1]].type != BloomLexer::LPAREN &&
                         toks_[code[1]].type != BloomLexer::DOT);
    std::vector<char>& break_after = break_after_;  // indexed by token; each token is in one statement
    size_t op = SIZE_MAX;
    if (!decl_keyword) {
      int depth = 0;
      for (size_t k = 0; k < code.size() && op == SIZE_MAX; ++k) {
        size_t t = toks_[code[k]].type;
        if (t == BloomLexer::LPAREN) ++depth;
        else if (t == BloomLexer::RPAREN) --depth;
        else if (depth == 0 && is_merge_op(t)) op = k;
      }
    }
    {
      int depth = 0, angle = 0;
      bool seen_paren = false, in_list = false;
      for (size_t k = 0; k < code.size(); ++k) {
        size_t i = code[k], t = toks_[i].type;
        if (t == BloomLexer::LPAREN) {
          if (depth == 0 && !seen_paren) in_list = true;
          seen_paren = true;
          ++depth;
        } else if (t == BloomLexer::RPAREN) {
          --depth;
          if (depth == 0) in_list = false;
        } else if (t == BloomLexer::COLON) {
          angle = 0;
        } else if (t == BloomLexer::LT && decl_keyword) {
          ++angle;
        } else if (t == BloomLexer::GT && decl_keyword) {
          --angle;
        }
        if (k == op) {
          break_after[i] = true;
        } else if (t == BloomLexer::COMMA) {
          if (op != SIZE_MAX ? k > op && depth == 0 : (in_list && depth == 1 && angle == 0)) break_after[i] = true;
        }
      }
    }
    // Units: what lies between break points. A comment after a break point on the same line as
    // the code that follows starts the next unit; one that ends its line stays with the previous.
    std::vector<Unit> units(1);
    for (size_t n = 0; n < el.toks.size(); ++n) {
      size_t i = el.toks[n];
      units.back().toks.push_back(i);
      if (!toks_[i].comment && break_after[i]) {
        // trailing comments of this token stay in this unit
        while (
            n + 1 < el.toks.size() && toks_[el.toks[n + 1]].comment && toks_[el.toks[n + 1]].line == toks_[i].end_line &&
            (toks_[el.toks[n + 1]].line_comment || n + 2 >= el.toks.size() || toks_[el.toks[n + 2]].line > toks_[el.toks[n + 1]].end_line))
          units.back().toks.push_back(el.toks[++n]);
        units.emplace_back();
      }
    }
    if (units.back().toks.empty()) units.pop_back();

    bool forced = false;  // a comment that needs a line of its own or ends one
    for (size_t n = 0; n < el.toks.size(); ++n)
      if (toks_[el.toks[n]].comment && comment_breaks(el.toks, n)) forced = true, breaks_[el.toks[n]] = true;

    pad_ = el.keyword_pad;
    size_t base = width(cur_);  // 0, or after a leading block comment
    size_t one_line = base;
    {
      Emitter probe(*this);
      for (const auto& u : units) one_line += probe.unit_width(u);
    }
    Emitter em(*this);
    at_line_start_ = false;
    if (!forced && one_line <= width_) {
      for (const auto& u : units) em.emit_unit(u, el.toks, 0);
      pad_ = 0;
      return;
    }
    // Wrapped: a rule's body goes after its operator if the head is short, else on the next
    // lines indented by 2; a list's items line up after its `(`.
    size_t cont = 4;
    bool body_below = false;  // a long head: the body starts on the next line
    if (op != SIZE_MAX) {
      Emitter probe(*this);
      size_t head = base + probe.unit_width(units[0]);
      bool head_broken = std::any_of(units[0].toks.begin(), units[0].toks.end(), [&](size_t i) { return breaks_[i]; });
      cont = head + 1 <= width_ / 2 && !head_broken ? head + 1 : 2;
      body_below = cont == 2 && !head_broken;
    } else {
      Emitter probe(*this);
      size_t upto = base;
      probe.reset_state();
      for (size_t i : code) {
        upto += probe.token_width(i);
        if (toks_[i].type == BloomLexer::LPAREN) {
          if (upto <= width_ / 2) cont = upto;
          break;
        }
      }
    }
    for (size_t u = 0; u < units.size(); ++u) {
      if (u > 0 && !at_line_start_) {
        Emitter probe(*this);
        probe.copy_state(em);
        size_t w = probe.unit_width(units[u]);
        bool break_now = width(cur_) + w > width_ || (u == 1 && body_below);
        if (break_now) {
          flush();
          start_line(cont);
          at_line_start_ = true;
        }
      }
      em.emit_unit(units[u], el.toks, cont);
    }
    pad_ = 0;
  }

  // Whether the comment at position n of a statement's tokens breaks the line (is not inline).
  bool comment_breaks(const std::vector<size_t>& ts, size_t n) const {
    const Tok& c = toks_[ts[n]];
    bool nl_before = n == 0 || c.line > toks_[ts[n - 1]].end_line;
    bool nl_after = c.line_comment || n + 1 >= ts.size() || toks_[ts[n + 1]].line > c.end_line;
    return nl_before || nl_after;
  }

  // Spacing between tokens, with the little context it needs (unary operators, type brackets,
  // the aligned declaration keyword).
  class Emitter {
   public:
    explicit Emitter(Formatter& f) : f_(f) {}
    void reset_state() { prev_ = prev2_ = SIZE_MAX, type_state_ = 0, depth_ = 0, prev_unary_ = false, first_ = true; }
    void copy_state(const Emitter& o) {
      prev_ = o.prev_, prev2_ = o.prev2_, type_state_ = o.type_state_, depth_ = o.depth_, prev_unary_ = o.prev_unary_, first_ = o.first_;
    }

    // The width a unit takes on the current line: up to its first line break when it has one.
    size_t unit_width(const Unit& u) {
      size_t w = 0;
      for (size_t i : u.toks) {
        if (f_.breaks_[i]) return w;
        if (f_.toks_[i].comment) {
          if (f_.toks_[i].text.find('\n') != std::string::npos)
            return w + 1 + width(f_.toks_[i].text.substr(0, f_.toks_[i].text.find('\n')));
          w += 1 + width(f_.toks_[i].text);
          continue;
        }
        w += token_width(i);
      }
      return w;
    }

    size_t token_width(size_t i) {
      std::string sp = space_before(i);
      advance(i);
      return sp.size() + width(f_.toks_[i].text);
    }

    void emit_unit(const Unit& u, const std::vector<size_t>& all, size_t cont) {
      for (size_t i : u.toks) {
        const Tok& t = f_.toks_[i];
        if (!t.comment) {
          std::string sp = space_before(i);
          advance(i);
          if (f_.at_line_start_) {
            if (!f_.cur_started_) f_.start_line(cont);
            sp.clear();
            f_.at_line_start_ = false;
          }
          f_.cur_ += sp;
          f_.cur_ += t.text;
          continue;
        }
        size_t n = static_cast<size_t>(std::find(all.begin(), all.end(), i) - all.begin());
        bool nl_before = n == 0 || t.line > f_.toks_[all[n - 1]].end_line;
        bool nl_after = t.line_comment || n + 1 >= all.size() || f_.toks_[all[n + 1]].line > t.end_line;
        if (nl_before && n > 0) {
          if (f_.cur_.find_first_not_of(' ') != std::string::npos) f_.flush();
          f_.start_line(cont);
          f_.cur_ += t.text;
          if (nl_after) {
            f_.flush();
            f_.at_line_start_ = true;
          } else {
            f_.at_line_start_ = false;
            pending_space_ = true;
          }
        } else if (nl_after) {
          f_.trailing(t.text);
          f_.at_line_start_ = true;
        } else {
          if (!f_.cur_.empty() && f_.cur_.back() != ' ') f_.cur_ += ' ';
          f_.cur_ += t.text;
          pending_space_ = true;
        }
      }
    }

   private:
    std::string space_before(size_t i) {
      const auto& toks = f_.toks_;
      size_t t = toks[i].type;
      bool force = std::exchange(pending_space_, false) && t != BloomLexer::COMMA && t != BloomLexer::SEMI && t != BloomLexer::RPAREN;
      if (first_) return force ? " " : "";
      size_t p = toks[prev_].type;
      std::string sp = " ";
      if (type_state_ == 2 && t == BloomLexer::LT) return "";
      if (type_state_ == 3) {
        if (t == BloomLexer::LT || t == BloomLexer::GT || t == BloomLexer::COMMA) return "";
        return p == BloomLexer::COMMA ? " " : "";
      }
      if (t == BloomLexer::COMMA || t == BloomLexer::SEMI || t == BloomLexer::RPAREN || t == BloomLexer::DOT || t == BloomLexer::COLON)
        sp = "";
      else if (p == BloomLexer::LPAREN || p == BloomLexer::DOT || p == BloomLexer::AT || prev_unary_) sp = "";
      else if (t == BloomLexer::LPAREN && (p == BloomLexer::ID || (is_soft_keyword(p) && p != BloomLexer::EVERY && p != BloomLexer::AFTER)))
        sp = "";
      if (prev2_ == SIZE_MAX && f_.pad_ > 0 && !sp.empty()) sp.assign(f_.pad_ + 1 - std::min(f_.pad_, width(toks[prev_].text)), ' ');
      if (force && sp.empty()) sp = " ";
      return sp;
    }

    void advance(size_t i) {
      size_t t = f_.toks_[i].type;
      bool unary = (t == BloomLexer::MINUS || t == BloomLexer::BANG) && (first_ || !ends_operand(f_.toks_[prev_].type));
      if (t == BloomLexer::COLON) {
        type_state_ = 1;
      } else if (type_state_ == 1) {
        type_state_ = 2;
      } else if (type_state_ == 2) {
        if (t == BloomLexer::LT) type_state_ = 3, depth_ = 1;
        else type_state_ = 0;
      } else if (type_state_ == 3) {
        if (t == BloomLexer::LT) ++depth_;
        else if (t == BloomLexer::GT && --depth_ == 0) type_state_ = 0;
      }
      prev_unary_ = unary;
      prev2_ = first_ ? SIZE_MAX : prev_;
      prev_ = i;
      first_ = false;
    }

    Formatter& f_;
    size_t prev_ = SIZE_MAX, prev2_ = SIZE_MAX;
    int type_state_ = 0, depth_ = 0;
    bool prev_unary_ = false, first_ = true, pending_space_ = false;
  };

  size_t width_of_cur() const { return width(cur_); }

  // Trailing comments of consecutive lines start in one column, three spaces after the longest code.
  void align_trailing() {
    for (size_t i = 0; i < lines_.size();) {
      if (lines_[i].trailing.empty() || lines_[i].code.empty()) {
        ++i;
        continue;
      }
      size_t j = i, col = 0;
      while (j < lines_.size() && !lines_[j].trailing.empty() && !lines_[j].code.empty())
        col = std::max(col, last_line_width(lines_[j].code)), ++j;
      for (size_t k = i; k < j; ++k) lines_[k].trailing = std::string(col + 3 - last_line_width(lines_[k].code), ' ') + lines_[k].trailing;
      i = j;
    }
  }

  const std::vector<Tok>& toks_;
  size_t width_;
  std::vector<Element> elems_;
  std::vector<char> breaks_;       // comments that end a line or stand on their own
  std::vector<char> break_after_;  // tokens a statement may wrap after
  std::vector<Line> lines_;
  std::string cur_;
  bool cur_started_ = false, open_comment_ = false, at_line_start_ = false;
  size_t pad_ = 0;
};

}  // namespace

std::string token_difference(std::string_view a, std::string_view b) {
  std::vector<Tok> ta = lex(a), tb = lex(b);
  size_t n = std::min(ta.size(), tb.size());
  for (size_t i = 0; i < n; ++i)
    if (ta[i].type != tb[i].type || ta[i].text != tb[i].text)
      return "token " + std::to_string(i + 1) + " (line " + std::to_string(ta[i].line) + ") was `" + ta[i].text + "` and became `" +
             tb[i].text + "` (line " + std::to_string(tb[i].line) + ")";
  if (ta.size() != tb.size())
    return "the input has " + std::to_string(ta.size()) + " tokens and comments, the output " + std::to_string(tb.size());
  return "";
}

std::optional<Formatted> format_file(const SourceManager& sm, FileId file, DiagnosticEngine& diags, const FormatOptions& opts) {
  size_t before = diags.error_count();
  parse_module(sm, file, diags);
  if (diags.error_count() != before) return std::nullopt;
  const std::string& text = sm.file(file).text;
  std::vector<Tok> toks = lex(text);
  Formatted out;
  out.text = Formatter(toks, opts).run();
  // The safety check: the output parses and has the input's tokens and comments.
  SourceManager check_sm;
  FileId again = check_sm.add(sm.file(file).path + " (formatted)", out.text);
  DiagnosticEngine check_diags;
  parse_module(check_sm, again, check_diags);
  if (check_diags.has_errors()) {
    const auto& d = check_diags.all().front();
    out.bug = "the formatted text does not parse: " + check_sm.location(d.span) + ": " + d.message;
  } else {
    out.bug = token_difference(text, out.text);
  }
  return out;
}

}  // namespace bloom
