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
//   golden SCM FILE EXPECTED       the captures of FILE are EXPECTED (BLOOM_UPDATE_GOLDEN=1 rewrites)
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

struct Query {
  TSQuery *query = nullptr;
  explicit Query(const std::string &source) {
    uint32_t offset = 0;
    TSQueryError error = TSQueryErrorNone;
    query = ts_query_new(tree_sitter_bloom(), source.data(), static_cast<uint32_t>(source.size()), &offset, &error);
    if (!query) {
      size_t line = 1 + std::count(source.begin(), source.begin() + offset, '\n');
      std::cout << "FAIL highlights.scm:" << line << ": query error " << error << "\n";
      std::exit(1);
    }
    for (uint32_t i = 0; i < ts_query_pattern_count(query); ++i) {
      uint32_t steps = 0;
      ts_query_predicates_for_pattern(query, i, &steps);
      if (steps != 0) {
        std::cout << "FAIL highlights.scm: pattern " << i << " has a predicate, which this test does not evaluate\n";
        std::exit(1);
      }
    }
  }
  ~Query() { ts_query_delete(query); }
};

struct Capture {
  TSNode node;
  std::string name;
};

std::vector<Capture> captures(const Query &q, const Tree &t) {
  std::vector<Capture> out;
  TSQueryCursor *cursor = ts_query_cursor_new();
  ts_query_cursor_exec(cursor, q.query, t.root());
  TSQueryMatch match;
  uint32_t index;
  while (ts_query_cursor_next_capture(cursor, &match, &index)) {
    const TSQueryCapture &c = match.captures[index];
    uint32_t len;
    const char *name = ts_query_capture_name_for_id(q.query, c.index, &len);
    out.push_back({c.node, std::string(name, len)});
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

bool starts_with(const std::string &s, const char *prefix) { return s.rfind(prefix, 0) == 0; }

int highlight(int argc, char **argv) {
  Query q(read_file(argv[0]));
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
  Query q(read_file(argv[0]));
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
  if (mode == "recover") return recover();
  if (mode == "incremental" && argc > 2) return incremental(argc - 2, argv + 2);
  std::cerr << "usage: ts_check corpus FILE... | parse INVALID_LIST ROOT PATH... | highlight SCM G4 PATH...\n"
               "       | golden SCM FILE EXPECTED | recover | incremental PATH...\n";
  return 2;
}
