// Tests of the tree-sitter grammar of Bloom (editors/tree-sitter-bloom) against libtree-sitter,
// with the parser.c that editors/tree-sitter-bloom/generate/ wrote for this build
// (tests/tree-sitter/CMakeLists.txt). Modes:
//   corpus FILE...                 tree-sitter's corpus format: each source parses to its tree
//   parse INVALID_LIST ROOT PATH...  every .bloom file under PATH parses without ERROR/MISSING,
//                                  except those INVALID_LIST names (paths under ROOT), which must
//                                  give a syntax error; in the others, each node's children by
//                                  field name agree with the field names of its children
//   highlight SCM G4 PATH...       the query compiles; every keyword of G4's lexer, comment,
//                                  string and number of the files (and corpus sources) is captured
//   golden SCM FILE EXPECTED       the captures of FILE by any query file are EXPECTED
//                                  (BLOOM_UPDATE_GOLDEN=1 rewrites)
//   queries QUERY_DIR PATH...      each .scm compiles, uses its convention's capture names, and each
//                                  of its patterns matches somewhere in the files
//   locals SCM PATH...             every @local.reference resolves; rules are the scopes; every
//                                  declared name is a definition, every name in a rule captured
//   folds SCM PATH...              every item or comment over several lines is a @fold
//   indents SCM PATH...            the lines the query indents (as nvim-treesitter reads it) are
//                                  the lines the files indent
//   recover                        a syntax error gives an ERROR node and the parse goes on after it
//   incremental PATH...            reparsing after an edit, with the old tree, gives the tree of a
//                                  fresh parse
#include <tree_sitter/api.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

extern "C" const TSLanguage *tree_sitter_bloom(void);

namespace fs = std::filesystem;

namespace {

std::string read_file(const fs::path &path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::cerr << "cannot read " << path << "\n";
    std::exit(1);
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct Tree {
  std::string text;
  TSParser *parser = ts_parser_new();
  TSTree *tree = nullptr;
  explicit Tree(std::string source) : text(std::move(source)) {
    if (!ts_parser_set_language(parser, tree_sitter_bloom())) {
      std::cerr << "libtree-sitter refuses the generated language (version " << ts_language_version(tree_sitter_bloom()) << ")\n";
      std::exit(1);
    }
    tree = ts_parser_parse_string(parser, nullptr, text.data(), static_cast<uint32_t>(text.size()));
  }
  ~Tree() {
    ts_tree_delete(tree);
    ts_parser_delete(parser);
  }
  TSNode root() const { return ts_tree_root_node(tree); }
  std::string sexp() const {
    char *s = ts_node_string(root());
    std::string out = s;
    std::free(s);
    return out;
  }
};

template <class F>
void walk(TSNode node, F &&f) {
  f(node);
  for (uint32_t i = 0, n = ts_node_child_count(node); i < n; ++i) walk(ts_node_child(node, i), f);
}

bool starts_with(const std::string &s, const char *prefix) { return s.rfind(prefix, 0) == 0; }

bool is_error(TSNode n) { return ts_node_symbol(n) == static_cast<TSSymbol>(-1) || ts_node_is_missing(n); }

// The first ERROR or MISSING node, as "line:column: ERROR" (1-based), or "".
std::string first_error(const Tree &t) {
  std::string where;
  walk(t.root(), [&](TSNode n) {
    if (!where.empty() || !is_error(n)) return;
    TSPoint p = ts_node_start_point(n);
    where = std::to_string(p.row + 1) + ":" + std::to_string(p.column + 1) + ": " +
            (ts_node_is_missing(n) ? std::string("MISSING ") + ts_node_type(n) : "ERROR");
  });
  return where;
}

// Whitespace-insensitive S-expression, as tree-sitter compares corpus trees.
std::string normalize(const std::string &s) {
  std::string out;
  for (char c : s) {
    if (std::isspace(static_cast<unsigned char>(c))) {
      if (!out.empty() && out.back() != ' ' && out.back() != '(') out += ' ';
    } else {
      if (c == ')' && !out.empty() && out.back() == ' ') out.pop_back();
      out += c;
    }
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

struct CorpusEntry {
  std::string file, name, source, expected;
};

bool all_of_char(const std::string &line, char c, size_t min) {
  return line.size() >= min && std::all_of(line.begin(), line.end(), [c](char x) { return x == c; });
}

std::vector<CorpusEntry> read_corpus(const fs::path &path) {
  std::vector<std::string> lines;
  std::istringstream in(read_file(path));
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(line);
  }
  std::vector<CorpusEntry> out;
  size_t i = 0;
  while (i < lines.size()) {
    if (!all_of_char(lines[i], '=', 3)) {
      ++i;
      continue;
    }
    CorpusEntry e{path.string(), i + 1 < lines.size() ? lines[i + 1] : "", "", ""};
    i += 3;  // ===, name, ===
    std::vector<std::string> src;
    while (i < lines.size() && !all_of_char(lines[i], '-', 3)) src.push_back(lines[i++]);
    ++i;
    std::string expected;
    while (i < lines.size() && !all_of_char(lines[i], '=', 3)) expected += lines[i++] + "\n";
    while (!src.empty() && src.back().empty()) src.pop_back();
    size_t first = 0;
    while (first < src.size() && src[first].empty()) ++first;
    for (size_t k = first; k < src.size(); ++k) e.source += src[k] + "\n";
    e.expected = expected;
    out.push_back(e);
  }
  return out;
}

int corpus(int argc, char **argv) {
  int failures = 0, count = 0;
  for (int a = 0; a < argc; ++a) {
    for (const auto &e : read_corpus(argv[a])) {
      ++count;
      Tree t(e.source);
      std::string got = normalize(t.sexp()), want = normalize(e.expected);
      if (got != want) {
        ++failures;
        std::cout << "FAIL " << fs::path(e.file).filename().string() << ": " << e.name << "\n  expected: " << want
                  << "\n  actual:   " << got << "\n";
      }
    }
  }
  std::cout << count - failures << "/" << count << " corpus entries pass\n";
  return failures || count == 0 ? 1 : 0;
}

std::vector<fs::path> bloom_files(const std::vector<std::string> &paths, bool with_corpus = false) {
  std::vector<fs::path> out;
  for (const auto &p : paths) {
    if (fs::is_regular_file(p)) {
      out.push_back(p);
      continue;
    }
    if (!fs::is_directory(p)) {
      std::cerr << "no such file or folder: " << p << "\n";
      std::exit(1);
    }
    for (const auto &e : fs::recursive_directory_iterator(p)) {
      const auto ext = e.path().extension();
      bool corpus = with_corpus && ext == ".txt" && e.path().parent_path().filename() == "corpus";
      if (e.is_regular_file() && (ext == ".bloom" || corpus)) out.push_back(e.path());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

// What an editor asks of a node (Neovim's node:field(), Emacs's treesit-node-child-by-field-name):
// ts_node_child_by_field_name must give the first child that ts_node_field_name_for_child labels
// with that field, and no node for a field none of its children has. "" or the first mismatch.
std::string field_mismatch(const Tree &t) {
  const TSLanguage *lang = tree_sitter_bloom();
  std::string out;
  walk(t.root(), [&](TSNode n) {
    if (!out.empty()) return;
    for (uint32_t f = 1, count = ts_language_field_count(lang); f <= count; ++f) {
      const char *field = ts_language_field_name_for_id(lang, static_cast<TSFieldId>(f));
      TSNode want = {};
      bool found = false;
      for (uint32_t i = 0, k = ts_node_child_count(n); i < k && !found; ++i) {
        const char *name = ts_node_field_name_for_child(n, i);
        if (name && std::strcmp(name, field) == 0) {
          want = ts_node_child(n, i);
          found = true;
        }
      }
      TSNode got = ts_node_child_by_field_name(n, field, static_cast<uint32_t>(std::strlen(field)));
      if (found ? !ts_node_eq(got, want) : !ts_node_is_null(got)) {
        TSPoint p = ts_node_start_point(n);
        out = std::to_string(p.row + 1) + ":" + std::to_string(p.column + 1) + ": field " + field + " of " + ts_node_type(n) + " is " +
              (ts_node_is_null(got) ? "null" : ts_node_type(got)) + ", its children say " + (found ? ts_node_type(want) : "null");
        return;
      }
    }
  });
  return out;
}

int parse(int argc, char **argv) {
  fs::path root = argv[1];
  std::set<fs::path> invalid;
  std::istringstream list(read_file(argv[0]));
  for (std::string line; std::getline(list, line);) {
    if (line.empty() || line[0] == '#') continue;
    fs::path p = fs::weakly_canonical(root / line);
    if (!fs::exists(p)) {
      std::cout << "FAIL " << argv[0] << ": " << line << " does not exist\n";
      return 1;
    }
    invalid.insert(p);
  }
  int failures = 0, valid = 0, errors = 0;
  for (const auto &f : bloom_files(std::vector<std::string>(argv + 2, argv + argc))) {
    Tree t(read_file(f));
    std::string err = first_error(t);
    bool expect_error = invalid.count(fs::weakly_canonical(f)) > 0;
    if (expect_error) {
      ++errors;
      if (err.empty()) {
        ++failures;
        std::cout << "FAIL " << f.string() << ": listed as invalid but parses without error\n";
      }
    } else {
      ++valid;
      if (!err.empty()) {
        ++failures;
        std::cout << "FAIL " << f.string() << ":" << err << "\n";
      } else if (std::string bad = field_mismatch(t); !bad.empty()) {
        ++failures;
        std::cout << "FAIL " << f.string() << ":" << bad << "\n";
      }
    }
  }
  std::cout << valid << " files parse without error, " << errors << " listed invalid ones give one, " << failures << " failures\n";
  return failures || valid == 0 ? 1 : 0;
}

const char *query_error_name(TSQueryError e) {
  switch (e) {
    case TSQueryErrorSyntax: return "syntax";
    case TSQueryErrorNodeType: return "unknown node type";
    case TSQueryErrorField: return "unknown field";
    case TSQueryErrorCapture: return "unknown capture";
    case TSQueryErrorStructure: return "impossible structure";
    case TSQueryErrorLanguage: return "language";
    default: return "unknown";
  }
}

// A query with its text predicates. libtree-sitter leaves predicates to the caller: the filters
// editors share (#eq?, #not-eq?, #match?, #not-match?, #any-of?, #not-any-of?) are evaluated
// here; directives (#set! and the like, ending in `!`) set properties and filter nothing; any
// other predicate is an error, as its meaning would be unknown to this test.
struct Query {
  struct Arg {
    bool capture;
    uint32_t id;
    std::string value;
  };
  struct Predicate {
    std::string op;
    std::vector<Arg> args;
  };
  std::string path;
  TSQuery *query = nullptr;
  std::vector<std::vector<Predicate>> predicates;  // by pattern

  explicit Query(const fs::path &file) : path(file.string()) {
    const std::string source = read_file(file);
    uint32_t offset = 0;
    TSQueryError error = TSQueryErrorNone;
    query = ts_query_new(tree_sitter_bloom(), source.data(), static_cast<uint32_t>(source.size()), &offset, &error);
    if (!query) {
      offset = std::min<uint32_t>(offset, static_cast<uint32_t>(source.size()));
      size_t line_start = source.rfind('\n', offset == 0 ? 0 : offset - 1);
      line_start = line_start == std::string::npos || offset == 0 ? 0 : line_start + 1;
      size_t line_end = source.find('\n', offset);
      std::string text = source.substr(line_start, line_end == std::string::npos ? std::string::npos : line_end - line_start);
      size_t line = 1 + std::count(source.begin(), source.begin() + offset, '\n');
      std::cout << "FAIL " << path << ":" << line << ":" << offset - line_start + 1 << ": query error (" << query_error_name(error)
                << ") at byte " << offset << "\n  " << text << "\n";
      std::exit(1);
    }
    for (uint32_t i = 0; i < ts_query_pattern_count(query); ++i) {
      uint32_t steps = 0;
      const TSQueryPredicateStep *s = ts_query_predicates_for_pattern(query, i, &steps);
      std::vector<Predicate> preds;
      Predicate cur;
      for (uint32_t k = 0; k < steps; ++k) {
        uint32_t len = 0;
        if (s[k].type == TSQueryPredicateStepTypeDone) {
          preds.push_back(cur);
          cur = Predicate{};
        } else if (s[k].type == TSQueryPredicateStepTypeString) {
          std::string v = ts_query_string_value_for_id(query, s[k].value_id, &len);
          if (cur.op.empty()) cur.op = v;
          else cur.args.push_back({false, 0, v});
        } else {
          cur.args.push_back({true, s[k].value_id, ""});
        }
      }
      for (const auto &p : preds) {
        static const std::set<std::string> filters = {"eq?", "not-eq?", "match?", "not-match?", "any-of?", "not-any-of?"};
        bool ok = !p.op.empty() && (p.op.back() == '!' || (filters.count(p.op) && p.args.size() >= 2 && p.args[0].capture));
        if (!ok) {
          std::cout << "FAIL " << path << ": pattern " << i << " has a predicate #" << p.op << " this test cannot evaluate\n";
          std::exit(1);
        }
      }
      predicates.push_back(preds);
    }
  }
  ~Query() { ts_query_delete(query); }
  Query(const Query &) = delete;
  Query &operator=(const Query &) = delete;

  std::string capture_name(uint32_t id) const {
    uint32_t len = 0;
    const char *name = ts_query_capture_name_for_id(query, id, &len);
    return std::string(name, len);
  }

  // Whether the text predicates of the match hold.
  bool holds(const TSQueryMatch &m, const std::string &text) const {
    auto node_text = [&](uint32_t id, std::string &out) {
      for (uint16_t i = 0; i < m.capture_count; ++i) {
        if (m.captures[i].index == id) {
          uint32_t b = ts_node_start_byte(m.captures[i].node);
          out = text.substr(b, ts_node_end_byte(m.captures[i].node) - b);
          return true;
        }
      }
      return false;
    };
    for (const auto &p : predicates[m.pattern_index]) {
      if (p.op.back() == '!') continue;
      std::string subject;
      if (!node_text(p.args[0].id, subject)) continue;
      std::vector<std::string> values;
      for (size_t i = 1; i < p.args.size(); ++i) {
        std::string v = p.args[i].value;
        if (p.args[i].capture && !node_text(p.args[i].id, v)) continue;
        values.push_back(v);
      }
      bool negate = starts_with(p.op, "not-");
      std::string op = negate ? p.op.substr(4) : p.op;
      bool result = false;
      if (op == "eq?") {
        result = !values.empty() && subject == values[0];
      } else if (op == "match?") {
        result = !values.empty() && std::regex_search(subject, std::regex(values[0], std::regex::ECMAScript));
      } else {  // any-of?
        result = std::find(values.begin(), values.end(), subject) != values.end();
      }
      if (result == negate) return false;
    }
    return true;
  }
};

struct Capture {
  TSNode node;
  std::string name;
  uint32_t pattern;
};

// The captures of the query over the tree, in tree-sitter's order, those whose match fails a text
// predicate left out.
std::vector<Capture> captures(const Query &q, const Tree &t) {
  std::vector<Capture> out;
  TSQueryCursor *cursor = ts_query_cursor_new();
  ts_query_cursor_exec(cursor, q.query, t.root());
  TSQueryMatch match;
  uint32_t index;
  while (ts_query_cursor_next_capture(cursor, &match, &index)) {
    if (!q.holds(match, t.text)) continue;
    const TSQueryCapture &c = match.captures[index];
    out.push_back({c.node, q.capture_name(c.index), match.pattern_index});
  }
  ts_query_cursor_delete(cursor);
  return out;
}

std::vector<std::string> g4_keywords(const fs::path &g4) {
  std::vector<std::string> out;
  std::istringstream in(read_file(g4));
  const std::regex rule(R"(^\s*[A-Z_]+\s*:\s*'([a-z]+)'\s*;)");
  std::smatch m;
  for (std::string line; std::getline(in, line);)
    if (std::regex_search(line, m, rule)) out.push_back(m[1]);
  return out;
}

int highlight(int argc, char **argv) {
  Query q(argv[0]);
  const auto keywords = g4_keywords(argv[1]);
  int failures = 0;
  if (keywords.size() < 10) {
    std::cout << "FAIL " << argv[1] << ": only " << keywords.size() << " keywords found\n";
    return 1;
  }
  const TSLanguage *lang = tree_sitter_bloom();
  for (const auto &k : keywords) {
    if (ts_language_symbol_for_name(lang, k.data(), static_cast<uint32_t>(k.size()), false) == 0) {
      ++failures;
      std::cout << "FAIL keyword '" << k << "' of Bloom.g4 is no token of grammar.js\n";
    }
  }
  std::map<std::string, int> seen;
  int files = 0, checked = 0;
  auto check = [&](const std::string &label, const std::string &source) {
    Tree t(source);
    ++files;
    std::map<std::pair<uint32_t, uint32_t>, std::set<std::string>> by_range;
    for (const auto &c : captures(q, t)) by_range[{ts_node_start_byte(c.node), ts_node_end_byte(c.node)}].insert(c.name);
    walk(t.root(), [&](TSNode n) {
      std::string type = ts_node_type(n);
      const char *want = nullptr;
      bool named = ts_node_is_named(n);
      if (!named && std::find(keywords.begin(), keywords.end(), type) != keywords.end()) {
        want = "keyword";
        ++seen[type];
      } else if (named && type == "comment") {
        want = "comment";
      } else if (named && type == "string") {
        want = "string";
      } else if (named && (type == "integer" || type == "float" || type == "duration")) {
        want = "number";
      }
      if (!want) return;
      ++checked;
      const auto &names = by_range[{ts_node_start_byte(n), ts_node_end_byte(n)}];
      bool ok = std::any_of(names.begin(), names.end(), [&](const std::string &c) {
        if (std::strcmp(want, "keyword") == 0) return starts_with(c, "keyword") || starts_with(c, "constant.builtin");
        return starts_with(c, want);
      });
      if (!ok) {
        ++failures;
        TSPoint p = ts_node_start_point(n);
        std::cout << "FAIL " << label << ":" << p.row + 1 << ":" << p.column + 1 << ": " << type << " is not captured as @" << want << "\n";
      }
    });
  };
  for (const auto &f : bloom_files(std::vector<std::string>(argv + 2, argv + argc), true)) {
    if (f.extension() == ".txt") {
      for (const auto &e : read_corpus(f)) check(f.filename().string() + " (" + e.name + ")", e.source);
    } else {
      check(f.string(), read_file(f));
    }
  }
  for (const auto &k : keywords) {
    if (!seen.count(k)) {
      ++failures;
      std::cout << "FAIL keyword '" << k << "' occurs as a keyword in no file checked: add a corpus entry\n";
    }
  }
  std::cout << files << " sources, " << checked << " keywords/comments/strings/numbers checked, " << keywords.size()
            << " keywords from Bloom.g4, " << failures << " failures\n";
  return failures ? 1 : 0;
}

int golden(char **argv) {
  Query q(argv[0]);
  Tree t(read_file(argv[1]));
  std::ostringstream out;
  for (const auto &c : captures(q, t)) {
    TSPoint s = ts_node_start_point(c.node), e = ts_node_end_point(c.node);
    uint32_t b = ts_node_start_byte(c.node);
    std::string text = t.text.substr(b, std::min<uint32_t>(ts_node_end_byte(c.node) - b, 40));
    std::replace(text.begin(), text.end(), '\n', ' ');
    out << s.row + 1 << ":" << s.column + 1 << "-" << e.row + 1 << ":" << e.column + 1 << " @" << c.name << " " << text << "\n";
  }
  const char *update = std::getenv("BLOOM_UPDATE_GOLDEN");
  if (update && std::string(update) == "1") {
    std::ofstream(argv[2], std::ios::binary) << out.str();
    std::cout << "wrote " << argv[2] << "\n";
    return 0;
  }
  std::string want = read_file(argv[2]);
  if (want == out.str()) {
    std::cout << "captures of " << argv[1] << " match " << argv[2] << "\n";
    return 0;
  }
  std::istringstream a(want), b(out.str());
  std::string la, lb;
  for (int line = 1;; ++line) {
    bool ha = static_cast<bool>(std::getline(a, la)), hb = static_cast<bool>(std::getline(b, lb));
    if (!ha && !hb) break;
    if (!ha || !hb || la != lb) {
      std::cout << "FAIL captures differ at line " << line << " of " << argv[2] << "\n  expected: " << (ha ? la : "(end)")
                << "\n  actual:   " << (hb ? lb : "(end)") << "\n(BLOOM_UPDATE_GOLDEN=1 rewrites the expectation)\n";
      break;
    }
  }
  return 1;
}

// Every source a check reads: the .bloom files of PATHs and the corpus entries among them.
std::vector<std::pair<std::string, std::string>> sources(const std::vector<std::string> &paths) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto &f : bloom_files(paths, true)) {
    if (f.extension() == ".txt") {
      for (const auto &e : read_corpus(f)) out.push_back({f.filename().string() + " (" + e.name + ")", e.source});
    } else {
      out.push_back({f.string(), read_file(f)});
    }
  }
  return out;
}

std::string where(const std::string &label, TSNode n) {
  TSPoint p = ts_node_start_point(n);
  return label + ":" + std::to_string(p.row + 1) + ":" + std::to_string(p.column + 1);
}

std::string node_text(const Tree &t, TSNode n) {
  uint32_t b = ts_node_start_byte(n);
  return t.text.substr(b, ts_node_end_byte(n) - b);
}

using NodeKey = std::pair<const void *, uint32_t>;
NodeKey key_of(TSNode n) { return {n.id, ts_node_start_byte(n)}; }

bool inside(TSNode inner, TSNode outer) {
  return ts_node_start_byte(outer) <= ts_node_start_byte(inner) && ts_node_end_byte(inner) <= ts_node_end_byte(outer);
}

// The capture names each query file may use: those of the editor convention it follows
// (docs/tools.md). highlights.scm is free; any other file name is unknown and fails.
bool capture_allowed(const std::string &file, const std::string &name) {
  if (starts_with(name, "_")) return true;  // a private capture, for predicates
  if (file == "highlights.scm") return true;
  if (file == "locals.scm")
    return name == "local.scope" || name == "local.reference" || name == "local.definition" || starts_with(name, "local.definition.");
  if (file == "folds.scm") return name == "fold";
  if (file == "indents.scm") {
    static const std::set<std::string> ok = {"indent.begin",  "indent.end",    "indent.align", "indent.dedent",
                                             "indent.branch", "indent.ignore", "indent.auto",  "indent.zero"};
    return ok.count(name) > 0;
  }
  if (file == "textobjects.scm") {
    static const std::set<std::string> objects = {"function",    "class", "parameter", "call",      "comment",    "block",
                                                  "conditional", "loop",  "statement", "attribute", "assignment", "return"};
    size_t dot = name.rfind('.');
    if (dot == std::string::npos) return false;
    std::string kind = name.substr(dot + 1);
    return objects.count(name.substr(0, dot)) && (kind == "inner" || kind == "outer");
  }
  return false;
}

// Every .scm file of QUERY_DIR compiles, uses only the capture names of its convention, and each
// of its patterns matches somewhere in the sources (a pattern that never matches is dead, or
// wrong: a misplaced field or child).
int queries(int argc, char **argv) {
  std::vector<fs::path> files;
  for (const auto &e : fs::directory_iterator(argv[0]))
    if (e.path().extension() == ".scm") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  const auto srcs = sources(std::vector<std::string>(argv + 1, argv + argc));
  std::vector<std::unique_ptr<Tree>> trees;
  for (const auto &s : srcs) trees.push_back(std::make_unique<Tree>(s.second));
  int failures = 0, patterns = 0;
  for (const auto &f : files) {
    Query q(f);
    const std::string name = f.filename().string();
    const std::string source = read_file(f);
    for (uint32_t i = 0; i < ts_query_capture_count(q.query); ++i) {
      if (!capture_allowed(name, q.capture_name(i))) {
        ++failures;
        std::cout << "FAIL " << f.string() << ": capture @" << q.capture_name(i) << " is not a name of the convention of " << name << "\n";
      }
    }
    std::vector<bool> matched(ts_query_pattern_count(q.query));
    for (const auto &t : trees) {
      TSQueryCursor *cursor = ts_query_cursor_new();
      ts_query_cursor_exec(cursor, q.query, t->root());
      TSQueryMatch m;
      while (ts_query_cursor_next_match(cursor, &m))
        if (q.holds(m, t->text)) matched[m.pattern_index] = true;
      ts_query_cursor_delete(cursor);
    }
    for (uint32_t i = 0; i < matched.size(); ++i) {
      ++patterns;
      if (matched[i]) continue;
      ++failures;
      uint32_t b = ts_query_start_byte_for_pattern(q.query, i);
      size_t line = 1 + std::count(source.begin(), source.begin() + b, '\n');
      std::cout << "FAIL " << f.string() << ":" << line << ": pattern " << i << " matches nothing in " << srcs.size() << " sources\n";
    }
    std::cout << name << ": " << ts_query_pattern_count(q.query) << " patterns, " << ts_query_capture_count(q.query) << " capture names\n";
  }
  std::cout << files.size() << " query files, " << patterns << " patterns over " << srcs.size() << " sources, " << failures
            << " failures\n";
  return failures || files.empty() ? 1 : 0;
}

// locals.scm over valid programs. The compiler's safety rule (docs/language.md) makes every
// variable of a rule bound in its body, so each @local.reference must resolve: to a definition of
// the same name in the innermost @local.scope around it, else to a definition at file scope, else
// it is a built-in collection (stdout, halt) used as an atom. Also: the scopes are exactly the
// rules; variables are defined only inside a rule; every name a top-level declaration introduces
// is a definition; and inside a rule every identifier is a definition or a reference, except `_`,
// the names of methods and of built-in functions, and the later parts of `m.f`.
struct LocalsStats {
  int scopes = 0, defs = 0, refs = 0;
};

// The failures of the checks below over one source, printed if `print`.
int check_locals(const Query &q, const std::string &label, const std::string &text, LocalsStats &stats, bool print) {
  int failures = 0;
  const std::set<std::string> builtin_collections = {"stdout", "halt"};
  Tree t(text);
  auto fail = [&](TSNode n, const std::string &what) {
    ++failures;
    if (print) std::cout << "FAIL " << where(label, n) << ": " << what << "\n";
  };
  std::vector<TSNode> scopes;
  std::vector<std::pair<TSNode, std::string>> definitions;  // node, kind
  std::vector<TSNode> references;
  std::set<NodeKey> captured;
  for (const auto &c : captures(q, t)) {
    if (c.name == "local.scope") {
      scopes.push_back(c.node);
    } else if (c.name == "local.reference") {
      references.push_back(c.node);
      captured.insert(key_of(c.node));
    } else if (starts_with(c.name, "local.definition")) {
      definitions.push_back({c.node, c.name});
      captured.insert(key_of(c.node));
    }
  }
  stats.scopes += static_cast<int>(scopes.size());
  stats.defs += static_cast<int>(definitions.size());
  stats.refs += static_cast<int>(references.size());
  auto scope_of = [&](TSNode n) -> const TSNode * {
    const TSNode *best = nullptr;
    for (const auto &s : scopes)
      if (inside(n, s) && (!best || inside(s, *best))) best = &s;
    return best;
  };
  std::set<NodeKey> scope_keys;
  for (const auto &s : scopes) {
    scope_keys.insert(key_of(s));
    if (std::string(ts_node_type(s)) != "rule") fail(s, std::string("@local.scope on a ") + ts_node_type(s) + ", not a rule");
  }
  for (const auto &[d, kind] : definitions) {
    if (std::string(ts_node_type(d)) != "identifier") fail(d, "@" + kind + " on a " + ts_node_type(d));
    bool var = kind == "local.definition.var";
    if (var != (scope_of(d) != nullptr)) fail(d, "@" + kind + " " + node_text(t, d) + (var ? " outside a rule" : " inside a rule"));
  }
  for (const auto &r : references) {
    const std::string name = node_text(t, r);
    const TSNode *scope = scope_of(r);
    bool found = false;
    for (const auto &[d, kind] : definitions) {
      if (node_text(t, d) != name) continue;
      const TSNode *ds = scope_of(d);
      if (!ds || (scope && ts_node_eq(*ds, *scope))) found = true;
    }
    TSNode parent = ts_node_parent(r);
    if (!found && builtin_collections.count(name) && std::string(ts_node_type(parent)) == "atom") found = true;
    if (!found) fail(r, "reference " + name + " resolves to no definition" + (scope ? " in its rule" : "") + " or at file scope");
  }
  // The tree's side: declarations, rules.
  walk(t.root(), [&](TSNode n) {
    const std::string type = ts_node_type(n);
    if (type == "rule" && !scope_keys.count(key_of(n))) fail(n, "rule is no @local.scope");
    if (ts_node_eq(ts_node_parent(n), t.root()) && type.size() > 12 && type.compare(type.size() - 12, 12, "_declaration") == 0) {
      for (const char *field : {"name", "alias"}) {
        TSNode name = ts_node_child_by_field_name(n, field, static_cast<uint32_t>(std::strlen(field)));
        if (!ts_node_is_null(name) && !captured.count(key_of(name)))
          fail(name, type + " " + node_text(t, name) + " is no @local.definition");
      }
    }
    if (type != "identifier" || node_text(t, n) == "_" || captured.count(key_of(n))) return;
    TSNode rule = ts_node_parent(n);
    while (!ts_node_is_null(rule) && std::string(ts_node_type(rule)) != "rule") rule = ts_node_parent(rule);
    if (ts_node_is_null(rule)) return;
    TSNode parent = ts_node_parent(n);
    const std::string ptype = ts_node_type(parent);
    auto is_field = [&](TSNode p, const char *field) {
      TSNode c = ts_node_child_by_field_name(p, field, static_cast<uint32_t>(std::strlen(field)));
      return !ts_node_is_null(c) && ts_node_eq(c, n);
    };
    if (ptype == "method_call" && is_field(parent, "method")) return;
    if (ptype == "call_expression" && is_field(parent, "function")) return;
    if (ptype == "qualified_name" && !ts_node_eq(ts_node_named_child(parent, 0), n)) return;
    fail(n, "identifier " + node_text(t, n) + " in a rule is neither a definition nor a reference");
  });
  return failures;
}

int locals(int argc, char **argv) {
  Query q(argv[0]);
  // First, that the check can fail: `y` of the first head is bound nowhere (the compiler rejects
  // it), and `z` of the second rule is bound nowhere either (twice unresolved).
  LocalsStats unused;
  const int self_test = check_locals(
      q, "(self-test)", "table b(x: int);\ntable h(x: int, y: int);\nh(x, y) <= b(x);\nh(x, z) <= b(x), x > z;\n", unused, false);
  if (self_test != 3) {
    std::cout << "FAIL the self-test finds " << self_test << " unresolved references, not 3\n";
    return 1;
  }
  int failures = 0, files = 0;
  LocalsStats stats;
  for (const auto &[label, text] : sources(std::vector<std::string>(argv + 1, argv + argc))) {
    ++files;
    failures += check_locals(q, label, text, stats, true);
  }
  std::cout << files << " sources: " << stats.scopes << " scopes, " << stats.defs << " definitions, " << stats.refs
            << " references resolved, " << failures << " failures (the self-test's 3 unbound variables found)\n";
  return failures || stats.refs == 0 ? 1 : 0;
}

// folds.scm: every declaration, fact, rule and comment that spans several lines is a @fold (an
// editor ignores one-line folds), and every @fold is one of those nodes.
int folds(int argc, char **argv) {
  Query q(argv[0]);
  int failures = 0, multi = 0, files = 0;
  for (const auto &[label, text] : sources(std::vector<std::string>(argv + 1, argv + argc))) {
    Tree t(text);
    ++files;
    std::set<NodeKey> folded;
    for (const auto &c : captures(q, t)) {
      folded.insert(key_of(c.node));
      const std::string type = ts_node_type(c.node);
      if (!ts_node_eq(ts_node_parent(c.node), t.root()) && type != "comment") {
        ++failures;
        std::cout << "FAIL " << where(label, c.node) << ": @fold on a " << type << " inside an item\n";
      }
    }
    walk(t.root(), [&](TSNode n) {
      bool item = ts_node_eq(ts_node_parent(n), t.root()) && ts_node_is_named(n) && !is_error(n);
      bool comment = std::string(ts_node_type(n)) == "comment";
      if (!(item || comment) || ts_node_start_point(n).row == ts_node_end_point(n).row) return;
      ++multi;
      if (!folded.count(key_of(n))) {
        ++failures;
        std::cout << "FAIL " << where(label, n) << ": " << ts_node_type(n) << " over "
                  << ts_node_end_point(n).row - ts_node_start_point(n).row + 1 << " lines is no @fold\n";
      }
    });
  }
  std::cout << files << " sources, " << multi << " items and comments over several lines, " << failures << " failures\n";
  return failures || multi == 0 ? 1 : 0;
}

// indents.scm, read as nvim-treesitter's indent module reads it (lua/nvim-treesitter/indent.lua),
// for a line that is not blank: from the smallest node at its first character up to the root, each
// @indent.begin that spans several lines and starts on an earlier line adds a level, a
// @indent.branch that starts the line removes one, at most once per starting line. The files
// are indented by hand (continuation lines are aligned rather than indented one level), so the
// check is on the sign: a line the query indents is indented in the file, and a line the query
// leaves at column 0 is at column 0. Lines inside a block comment (@indent.auto) are left out.
struct IndentStats {
  int lines = 0, indented = 0;
};

int check_indents(const Query &q, const std::string &label, const std::string &text, IndentStats &stats, bool print) {
  int failures = 0;
  Tree t(text);
  std::map<NodeKey, std::set<std::string>> caps;
  for (const auto &c : captures(q, t)) caps[key_of(c.node)].insert(c.name);
  auto has = [&](TSNode n, const char *name) {
    auto it = caps.find(key_of(n));
    return it != caps.end() && it->second.count(name) > 0;
  };
  size_t line_start = 0;
  for (uint32_t row = 0; line_start < text.size(); ++row) {
    size_t line_end = text.find('\n', line_start);
    if (line_end == std::string::npos) line_end = text.size();
    size_t first = text.find_first_not_of(" \t\r", line_start);
    size_t next = line_end + 1;
    if (first == std::string::npos || first >= line_end) {
      line_start = next;
      continue;
    }
    TSNode node = ts_node_descendant_for_byte_range(t.root(), static_cast<uint32_t>(first), static_cast<uint32_t>(first + 1));
    if (has(node, "indent.auto") && ts_node_start_point(node).row < row) {
      line_start = next;
      continue;
    }
    int level = 0;
    std::set<uint32_t> processed;
    for (TSNode n = node; !ts_node_is_null(n); n = ts_node_parent(n)) {
      uint32_t srow = ts_node_start_point(n).row, erow = ts_node_end_point(n).row;
      if (processed.count(srow)) continue;
      bool done = false;
      if (has(n, "indent.branch") && srow == row) {
        --level;
        done = true;
      }
      if (has(n, "indent.begin") && srow != erow && srow != row) {
        ++level;
        done = true;
      }
      if (done) processed.insert(srow);
    }
    ++stats.lines;
    bool file_indented = first > line_start;
    if (level > 0) ++stats.indented;
    if ((level > 0) != file_indented) {
      ++failures;
      if (print)
        std::cout << "FAIL " << label << ":" << row + 1 << ": the query gives " << level << " levels, the line is "
                  << (file_indented ? "indented" : "at column 0") << ": " << text.substr(line_start, line_end - line_start) << "\n";
    }
    line_start = next;
  }
  return failures;
}

int indents(int argc, char **argv) {
  Query q(argv[0]);
  // First, that the check can fail: a rule's body at column 0, a declaration indented.
  IndentStats unused;
  const int self_test = check_indents(q, "(self-test)", "h(x) <=\nb(x);\n  table t(a: int);\n", unused, false);
  if (self_test != 2) {
    std::cout << "FAIL the self-test finds " << self_test << " misindented lines, not 2\n";
    return 1;
  }
  int failures = 0, files = 0;
  IndentStats stats;
  for (const auto &[label, text] : sources(std::vector<std::string>(argv + 1, argv + argc))) {
    ++files;
    failures += check_indents(q, label, text, stats, true);
  }
  std::cout << files << " sources, " << stats.lines << " lines, " << stats.indented << " of them indented, " << failures
            << " failures (the self-test's 2 misindented lines found)\n";
  return failures || stats.indented == 0 ? 1 : 0;
}

int recover() {
  // Line 2 has a rule without a body; the declarations before and after must still be there.
  Tree t("table t(a: int);\nt(1) <= ;\ntable u(b: int);\n");
  std::string err = first_error(t);
  std::vector<std::string> kinds;
  for (uint32_t i = 0, n = ts_node_named_child_count(t.root()); i < n; ++i) {
    TSNode c = ts_node_named_child(t.root(), i);
    kinds.push_back(std::string(ts_node_type(c)) + "@" + std::to_string(ts_node_start_point(c).row + 1));
  }
  std::string got;
  for (const auto &k : kinds) got += k + " ";
  std::cout << "tree: " << t.sexp() << "\n";
  bool first = !kinds.empty() && kinds.front() == "collection_declaration@1";
  bool last = !kinds.empty() && kinds.back() == "collection_declaration@3";
  if (err.empty() || !first || !last) {
    std::cout << "FAIL expected an ERROR on line 2 between two collection_declarations, got " << (err.empty() ? "no error" : err)
              << "; children: " << got << "\n";
    return 1;
  }
  std::cout << "syntax error at " << err << ", declarations on lines 1 and 3 kept\n";
  return 0;
}

TSPoint point_at(const std::string &text, size_t byte) {
  TSPoint p{0, 0};
  for (size_t i = 0; i < byte; ++i) {
    if (text[i] == '\n') {
      ++p.row;
      p.column = 0;
    } else {
      ++p.column;
    }
  }
  return p;
}

// Editors reparse after each change, reusing the old tree: the result must be the tree a fresh
// parse of the new text gives. Edits at positions spread over each file: insert a name, a
// comment, a space or a stray token, delete a few bytes, then undo the edit.
int incremental(int argc, char **argv) {
  const std::vector<std::pair<int, std::string>> edits = {{0, "x"}, {0, " "}, {0, "/* c */"}, {0, "// c\n"}, {0, "("},
                                                          {0, ";"}, {1, ""},  {3, ""},        {12, ""}};
  int failures = 0, count = 0;
  for (const auto &f : bloom_files(std::vector<std::string>(argv, argv + argc))) {
    const std::string text = read_file(f);
    const size_t positions = 16;
    for (size_t k = 0; k < positions && !text.empty(); ++k) {
      for (const auto &[removed, inserted] : edits) {
        size_t at = (text.size() * (2 * k + 1)) / (2 * positions);
        size_t del = std::min<size_t>(removed, text.size() - at);
        std::string changed = text.substr(0, at) + inserted + text.substr(at + del);
        auto check = [&](const std::string &before, const std::string &after, size_t start, size_t old_len, size_t new_len) {
          Tree old_tree(before);
          TSInputEdit edit{static_cast<uint32_t>(start), static_cast<uint32_t>(start + old_len), static_cast<uint32_t>(start + new_len),
                           point_at(before, start),      point_at(before, start + old_len),      point_at(after, start + new_len)};
          ts_tree_edit(old_tree.tree, &edit);
          TSTree *re = ts_parser_parse_string(old_tree.parser, old_tree.tree, after.data(), static_cast<uint32_t>(after.size()));
          char *got = ts_node_string(ts_tree_root_node(re));
          Tree fresh(after);
          ++count;
          if (fresh.sexp() != got) {
            ++failures;
            TSPoint p = point_at(before, start);
            std::cout << "FAIL " << f.string() << ":" << p.row + 1 << ":" << p.column + 1 << ": replacing " << old_len << " bytes by \""
                      << after.substr(start, new_len) << "\", the reparse differs from a fresh parse\n  fresh:       " << fresh.sexp()
                      << "\n  incremental: " << got << "\n";
          }
          std::free(got);
          ts_tree_delete(re);
        };
        check(text, changed, at, del, inserted.size());
        check(changed, text, at, inserted.size(), del);
      }
    }
  }
  std::cout << count << " edits reparsed, " << failures << " differ from a fresh parse\n";
  return failures || count == 0 ? 1 : 0;
}

}  // namespace

int main(int argc, char **argv) {
  std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "corpus" && argc > 2) return corpus(argc - 2, argv + 2);
  if (mode == "parse" && argc > 4) return parse(argc - 2, argv + 2);
  if (mode == "highlight" && argc > 4) return highlight(argc - 2, argv + 2);
  if (mode == "golden" && argc == 5) return golden(argv + 2);
  if (mode == "queries" && argc > 3) return queries(argc - 2, argv + 2);
  if (mode == "locals" && argc > 3) return locals(argc - 2, argv + 2);
  if (mode == "folds" && argc > 3) return folds(argc - 2, argv + 2);
  if (mode == "indents" && argc > 3) return indents(argc - 2, argv + 2);
  if (mode == "recover") return recover();
  if (mode == "incremental" && argc > 2) return incremental(argc - 2, argv + 2);
  std::cerr << "usage: ts_check corpus FILE... | parse INVALID_LIST ROOT PATH... | highlight SCM G4 PATH...\n"
               "       | golden SCM FILE EXPECTED | queries QUERY_DIR PATH... | locals SCM PATH... | folds SCM PATH...\n"
               "       | indents SCM PATH... | recover | incremental PATH...\n";
  return 2;
}
