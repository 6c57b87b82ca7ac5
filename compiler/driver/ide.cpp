#include "driver/ide.h"

#include <algorithm>
#include <cctype>
#include <filesystem>

#include "sema/checker.h"

namespace bloom::ide {
namespace {

namespace fs = std::filesystem;

// The end is included: a cursor just after a name (where typing leaves it) still names it.
bool at(const Span& s, uint32_t line, uint32_t col) {
  if (!s.valid()) return false;
  if (line < s.line || line > s.end_line) return false;
  if (line == s.line && col < s.col) return false;
  if (line == s.end_line && col > s.end_col) return false;
  return true;
}

// The source text of a span of one file.
std::string text_of(const SourceManager& sm, const Span& s) {
  if (!s.valid() || s.file >= sm.size()) return "";
  const SourceFile& f = sm.file(s.file);
  if (s.line > f.line_count() || s.end_line > f.line_count()) return "";
  // Columns count code points: walk the UTF-8 bytes of each end's line.
  auto offset = [&](uint32_t line, uint32_t col) {
    size_t o = f.line_starts[line - 1];
    for (uint32_t c = 1; c < col && o < f.text.size() && f.text[o] != '\n'; ++c) {
      ++o;
      while (o < f.text.size() && (static_cast<unsigned char>(f.text[o]) & 0xC0) == 0x80) ++o;
    }
    return o;
  };
  size_t b = offset(s.line, s.col), e = offset(s.end_line, s.end_col);
  return e > b ? f.text.substr(b, e - b) : "";
}

std::string code(const std::string& s) { return "`" + s + "`"; }

// What the name at a position is.
struct Found {
  enum Kind { None, Collection, Import, Param, Const, Variable } kind = None;
  Span span;                        // the name as written
  std::string name;                 // as written (`q.votes`)
  const ast::Rule* rule = nullptr;  // Variable: its rule
};

struct Finder {
  uint32_t line, col;
  Found found;

  bool hit(const Span& s) const { return at(s, line, col); }

  void name(const ast::QualifiedName& n, Found::Kind k, const ast::Rule* r = nullptr) {
    if (found.kind == Found::None && hit(n.span)) found = {k, n.span, n.str(), r};
  }
  void expr(const ast::Expr* e, const ast::Rule* r) {
    if (!e || found.kind != Found::None || !hit(e->span)) return;
    if (e->kind == ast::ExprKind::Name) name(e->name, Found::Variable, r);  // or a param/const: resolved later
    for (const auto& a : e->args) expr(a.get(), r);
  }
  void atom(const ast::Atom& a, const ast::Rule* r) {
    name(a.name, Found::Collection);
    for (const auto& arg : a.args) expr(arg.expr.get(), r);
  }
  void module(const ast::Module& m) {
    for (const auto& i : m.imports) {
      if (hit(i.path_span) || hit(i.alias_span)) found = {Found::Import, i.path_span, i.alias};
    }
    for (const auto& p : m.params)
      if (hit(p.name_span)) found = {Found::Param, p.name_span, p.name};
    for (const auto& c : m.consts)
      if (hit(c.name_span)) found = {Found::Const, c.name_span, c.name};
    for (const auto& d : m.decls)
      if (hit(d.name_span)) found = {Found::Collection, d.name_span, d.name};
    for (const auto& s : m.seals) {
      if (hit(s.sealed_span)) found = {Found::Collection, s.sealed_span, s.sealed};
      if (hit(s.punct_span)) found = {Found::Collection, s.punct_span, s.punct};
    }
    if (found.kind != Found::None) return;
    for (const auto& f : m.facts)
      if (hit(f.span)) atom(f.atom, nullptr);
    for (const auto& r : m.rules) {
      if (found.kind != Found::None) return;
      if (!hit(r.span)) continue;
      atom(r.head, &r);
      for (const auto& l : r.body) {
        if (!hit(l.span)) continue;
        if ((l.kind == ast::LiteralKind::Assign || l.kind == ast::LiteralKind::In) && hit(l.var_span))
          found = {Found::Variable, l.var_span, l.var, &r};
        if (l.kind == ast::LiteralKind::Positive || l.kind == ast::LiteralKind::Negated) atom(l.atom, &r);
        expr(l.expr.get(), &r);
      }
    }
  }
};

const ast::Param* find_param(const ast::Module& m, const std::string& n) {
  for (const auto& p : m.params)
    if (p.name == n) return &p;
  return nullptr;
}
const ast::Const* find_const(const ast::Module& m, const std::string& n) {
  for (const auto& c : m.consts)
    if (c.name == n) return &c;
  return nullptr;
}
const ast::Import* find_import(const ast::Module& m, const std::string& alias) {
  for (const auto& i : m.imports)
    if (i.alias == alias) return &i;
  return nullptr;
}

// The module and instance a (possibly qualified) name of the main file lives in, and its last
// part: `q.LIMIT` is LIMIT of the instance imported as q. Null when the alias is unknown.
const ast::Module* owner(const View& v, const std::string& name, uint32_t& instance, std::string& last) {
  instance = 0;
  const ast::Module* m = &v.module;
  size_t start = 0, dot;
  while ((dot = name.find('.', start)) != std::string::npos) {
    if (!v.program) return nullptr;
    const auto& kids = v.program->instances[instance].children;
    auto it = kids.find(name.substr(start, dot - start));
    if (it == kids.end()) return nullptr;
    instance = it->second;
    m = v.program->instances[instance].module;
    start = dot + 1;
  }
  last = name.substr(start);
  return m;
}

// The file an import of the main file names.
std::string import_path(const View& v, const ast::Import& i) {
  if (v.program) {
    auto it = v.program->instances[0].children.find(i.alias);
    if (it != v.program->instances[0].children.end()) {
      FileId f = v.program->instances[it->second].module->file;
      if (f < v.sources.size()) return v.sources.file(f).path;
    }
  }
  return sema::import_file(v.sources.file(v.module.file).path, i.path, "");  // "" for a stdlib module
}

const sema::CheckedRule* checked(const View& v, const ast::Rule* r) {
  if (!v.program || !r) return nullptr;
  for (const auto& c : v.program->rules)
    if (c.ast == r && c.instance == 0) return &c;
  return nullptr;
}

std::string collection_hover(const View& v, const std::string& name) {
  std::string out;
  const sema::Collection* c = v.program ? v.program->find(name) : nullptr;
  if (c) {
    std::string decl = text_of(v.sources, c->span);
    if (decl.empty()) decl = std::string(sema::to_string(c->kind)) + " " + c->name;
    out += "```bloom\n" + decl + "\n```\n\n";
    out += "**" + std::string(sema::to_string(c->kind)) + "** " + code(c->name);
    if (!c->columns.empty()) {
      out += "(";
      for (size_t i = 0; i < c->columns.size(); ++i) out += (i ? ", " : "") + c->columns[i].name + ": " + c->columns[i].type.str();
      out += ")";
    }
    if (c->keyed) {
      out += ", key (";
      for (size_t i = 0; i < c->key.size(); ++i) out += (i ? ", " : "") + c->columns[c->key[i]].name;
      out += ")";
    }
    out += "\n";
    if (v.calm && c->id < v.calm->collection_label.size()) {
      analysis::Label l = v.calm->collection_label[c->id];
      bool sink = std::find(v.calm->sinks.begin(), v.calm->sinks.end(), c->id) != v.calm->sinks.end();
      out += "\nCALM label" + std::string(sink ? " (an output of the program)" : "") + ": **" + analysis::to_string(l) + "**, " +
             analysis::meaning(l) + "\n";
    }
    if (c->name_span.valid()) out += "\nDeclared at " + v.sources.location(c->name_span) + "\n";
    return out;
  }
  for (const auto& d : v.module.decls)
    if (d.name == name) return "```bloom\n" + text_of(v.sources, d.span) + "\n```\n\n(the program does not check: no types or labels)\n";
  return "";
}

}  // namespace

std::vector<Symbol> document_symbols(const SourceManager& sm, const ast::Module& m) {
  std::vector<Symbol> out;
  for (const auto& i : m.imports) out.push_back({SymbolKind::Import, i.alias, "import \"" + i.path + "\"", i.span, i.alias_span});
  for (const auto& p : m.params) out.push_back({SymbolKind::Param, p.name, "param " + p.type.str(), p.span, p.name_span});
  for (const auto& c : m.consts) out.push_back({SymbolKind::Const, c.name, "const", c.span, c.name_span});
  for (const auto& d : m.decls) out.push_back({SymbolKind::Collection, d.name, ast::to_string(d.kind), d.span, d.name_span});
  for (const auto& s : m.seals) out.push_back({SymbolKind::Seal, "seal " + s.sealed, "by " + s.punct, s.span, s.sealed_span});
  for (const auto& r : m.rules) {
    std::string head = text_of(sm, r.head.span);
    out.push_back(
        {SymbolKind::Rule, (head.empty() ? r.head.name.str() : head) + " " + ast::to_string(r.op), "rule", r.span, r.head.name.span});
  }
  // Source order, as an outline shows them.
  std::stable_sort(out.begin(), out.end(), [](const Symbol& a, const Symbol& b) {
    return std::pair(a.span.line, a.span.col) < std::pair(b.span.line, b.span.col);
  });
  return out;
}

std::optional<Hover> hover(const View& v, uint32_t line, uint32_t col) {
  Finder f{line, col, {}};
  f.module(v.module);
  const Found& x = f.found;
  std::string md;
  uint32_t instance = 0;
  std::string last;
  const ast::Module* m = nullptr;
  switch (x.kind) {
    case Found::None: return std::nullopt;
    case Found::Collection: md = collection_hover(v, x.name); break;
    case Found::Import: {
      const ast::Import* i = find_import(v.module, x.name);
      if (!i) return std::nullopt;
      std::string p = import_path(v, *i);
      md = "import " + code(i->path) + " as " + code(i->alias) + (p.empty() ? "" : "\n\nfile: " + p) + "\n";
      break;
    }
    case Found::Variable:
    case Found::Param:
    case Found::Const:
      m = owner(v, x.name, instance, last);
      if (m && (x.kind != Found::Variable || x.name.find('.') != std::string::npos || find_param(*m, last) || find_const(*m, last))) {
        if (const ast::Param* p = find_param(*m, last)) {
          md = "param " + code(x.name) + ": " + p->type.str();
          if (p->default_value) md += " = " + text_of(v.sources, p->default_value->span);
          if (v.program) {
            auto it = v.program->instances[instance].params.find(last);
            if (it != v.program->instances[instance].params.end())
              md += "\n\nvalue: " + (sema::is_known(it->second) ? sema::const_to_string(it->second) : std::string("unset"));
          }
        } else if (const ast::Const* c = find_const(*m, last)) {
          md = "const " + code(x.name) + " = " + text_of(v.sources, c->value->span);
        }
        break;
      }
      if (x.name == "_") return std::nullopt;
      if (const auto* r = checked(v, x.rule)) {
        auto it = r->variables.find(x.name);
        if (it != r->variables.end()) md = "variable " + code(x.name) + ": " + it->second.str();
      }
      if (md.empty()) md = "variable " + code(x.name) + (v.program ? "" : " (the program does not check: no type)");
      break;
  }
  if (md.empty()) return std::nullopt;
  return Hover{x.span, md};
}

std::optional<Target> definition(const View& v, uint32_t line, uint32_t col) {
  Finder f{line, col, {}};
  f.module(v.module);
  const Found& x = f.found;
  uint32_t instance = 0;
  std::string last;
  switch (x.kind) {
    case Found::None: return std::nullopt;
    case Found::Collection: {
      if (const sema::Collection* c = v.program ? v.program->find(x.name) : nullptr) {
        if (c->name_span.valid()) return Target{c->name_span, ""};
        return std::nullopt;  // a built-in: stdout, halt
      }
      for (const auto& d : v.module.decls)
        if (d.name == x.name) return Target{d.name_span, ""};
      return std::nullopt;
    }
    case Found::Import: {
      const ast::Import* i = find_import(v.module, x.name);
      if (!i) return std::nullopt;
      std::string p = import_path(v, *i);
      if (p.empty()) return std::nullopt;
      return Target{Span{}, p};
    }
    case Found::Variable:
    case Found::Param:
    case Found::Const: {
      const ast::Module* m = owner(v, x.name, instance, last);
      if (!m) return std::nullopt;
      if (const ast::Param* p = find_param(*m, last)) return Target{p->name_span, ""};
      if (const ast::Const* c = find_const(*m, last)) return Target{c->name_span, ""};
      if (x.kind != Found::Variable || !x.rule) return std::nullopt;
      // A variable: its first occurrence in the rule, where a reader starts.
      for (const auto& l : x.rule->body) {
        if ((l.kind == ast::LiteralKind::Assign || l.kind == ast::LiteralKind::In) && l.var == x.name) return Target{l.var_span, ""};
        std::vector<const ast::Expr*> todo;
        for (const auto& a : l.atom.args) todo.push_back(a.expr.get());
        if (l.expr) todo.push_back(l.expr.get());
        while (!todo.empty()) {
          const ast::Expr* e = todo.back();
          todo.pop_back();
          if (!e) continue;
          if (e->kind == ast::ExprKind::Name && e->name.str() == x.name) return Target{e->name.span, ""};
          for (const auto& a : e->args) todo.push_back(a.get());
        }
      }
      return std::nullopt;
    }
  }
  return std::nullopt;
}

std::vector<Fix> suppression_fixes(const View& v) {
  std::vector<Fix> out;
  if (!v.program || !v.calm) return out;
  for (const auto& finding : v.calm->findings) {
    if (finding.suppressed || finding.rule >= v.program->rules.size()) continue;
    const sema::CheckedRule& r = v.program->rules[finding.rule];
    if (!r.ast || r.seal >= 0 || r.ast->span.file != v.module.file) continue;
    const SourceFile& f = v.sources.file(v.module.file);
    std::string_view first = f.line(r.ast->span.line);
    std::string indent(first.substr(0, first.find_first_not_of(" \t") == std::string_view::npos ? 0 : first.find_first_not_of(" \t")));
    std::string kind = analysis::to_string(finding.kind);
    Span where{v.module.file, r.ast->span.line, 1, r.ast->span.line, 1};
    out.push_back({"Suppress this " + kind + " (// bloom:allow, with a reason)", finding.span, where,
                   indent + "// bloom:allow(" + kind + ") REASON: why the order of arrival does not matter here\n"});
  }
  return out;
}

std::vector<Fix> spelling_fixes(const SourceManager& sm, const DiagnosticEngine& diags, FileId file) {
  static const std::string kPrefix = "did you mean `";
  std::vector<Fix> out;
  for (const auto& d : diags.all()) {
    if (d.span.file != file || d.help.rfind(kPrefix, 0) != 0 || d.help.size() < kPrefix.size() + 3) continue;
    if (d.help.compare(d.help.size() - 2, 2, "`?") != 0) continue;
    std::string name = d.help.substr(kPrefix.size(), d.help.size() - kPrefix.size() - 2);
    // Only where the diagnostic underlines just the misspelt name.
    std::string old = text_of(sm, d.span);
    if (old.empty() || d.span.line != d.span.end_line) continue;
    bool word = true;
    for (char ch : old) word = word && (std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '.');
    if (!word) continue;
    out.push_back({"Change " + code(old) + " to " + code(name), d.span, d.span, name});
  }
  return out;
}

}  // namespace bloom::ide
