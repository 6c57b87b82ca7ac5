// `bloom fmt` (compiler/syntax/format.h): spacing, wrapping, comments in every position, odd
// inputs, and a round trip over every .bloom file of the repository (and the shared
// conformance cases): the output parses, has the input's tokens and comments, and formatting
// it again changes nothing.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "syntax/format.h"

namespace bloom {
namespace {

// Formats `text`; fails the test if it does not parse or the safety check trips.
std::string fmt(const std::string& text, int width = 100) {
  SourceManager sm;
  FileId f = sm.add("test.bloom", text);
  DiagnosticEngine diags;
  auto r = format_file(sm, f, diags, {width});
  if (!r) {
    ADD_FAILURE() << "does not parse:\n" << text;
    return "";
  }
  EXPECT_EQ(r->bug, "") << text;
  return r->text;
}

// Formats and checks that formatting the result again changes nothing.
std::string fmt2(const std::string& text) {
  std::string once = fmt(text);
  EXPECT_EQ(fmt(once), once) << "not idempotent on:\n" << text;
  return once;
}

TEST(Format, SpacingAroundOperatorsCommasAndColons) {
  EXPECT_EQ(fmt2("table a(x:int,y : string);a(1 ,2);b(x)<=a(x,_),x>-1,not c(-x),y=x*2+1;"),
            "table a(x: int, y: string);\na(1, 2);\nb(x) <= a(x, _), x > -1, not c(-x), y = x * 2 + 1;\n");
  EXPECT_EQ(fmt2("b(x)<+a(x);b(x)<-a(x);b(x)<+-a(x);c(@d,x)<~a(x),d=\"n\";"),
            "b(x) <+ a(x);\nb(x) <- a(x);\nb(x) <+- a(x);\nc(@d, x) <~ a(x), d = \"n\";\n");
  // Types keep their brackets tight; method calls and qualified names have no spaces.
  EXPECT_EQ(fmt2("lattice  v : lmap < addr , lmax < int > > durable ;"), "lattice v: lmap<addr, lmax<int>> durable;\n");
  EXPECT_EQ(fmt2("x(n) <= m . a ( v ) , n = v . value ( ) , ! ( n == 1 ) ;"), "x(n) <= m.a(v), n = v.value(), !(n == 1);\n");
  EXPECT_EQ(fmt2("param p:int=-5;const C=1.5e3;import \"a.bloom\" as m;periodic t every 200ms;seal v(r) by done(r,n);"),
            "param p: int = -5;\nconst C = 1.5e3;\nimport \"a.bloom\" as m;\nperiodic t every 200ms;\nseal v(r) by done(r, n);\n");
  // Soft keywords used as names are names.
  EXPECT_EQ(fmt2("table key(key:int) key(key);key(1);"), "table key(key: int) key(key);\nkey(1);\n");
}

TEST(Format, StringsAndNumbersVerbatim) {
  EXPECT_EQ(fmt2("a(\"  two  spaces \\\" \", 1.50, 007, 2e10, 30s);"), "a(\"  two  spaces \\\" \", 1.50, 007, 2e10, 30s);\n");
}

TEST(Format, OneStatementPerLineAndBlankLinesCollapsed) {
  EXPECT_EQ(fmt2("\n\n a(1); a(2);\n\n\n\na(3);\n\n\n"), "a(1);\na(2);\n\na(3);\n");
}

TEST(Format, DeclarationNamesAlignedPerRun) {
  EXPECT_EQ(fmt2("table a(x: int);\nscratch b(x: int);\noutput c(x: int);\n\ninput d(x: int);\noutput e(x: int);\n"),
            "table   a(x: int);\nscratch b(x: int);\noutput  c(x: int);\n\ninput  d(x: int);\noutput e(x: int);\n");
  // A lone declaration, and `periodic`, get one space.
  EXPECT_EQ(fmt2("table    a(x: int);\n"), "table a(x: int);\n");
  EXPECT_EQ(fmt2("periodic t every 1s;\ntable a(x: int);\n"), "periodic t every 1s;\ntable   a(x: int);\n");
}

TEST(Format, LongRulesWrapAfterCommasAlignedWithTheBody) {
  std::string in =
      "result(aaaaaaaa, bbbbbbbbb, ccccccccc) <= first_relation(aaaaaaaa, x), second_relation(x, bbbbbbbbb), "
      "third(ccccccccc, y), y > 10, not fourth(y);";
  EXPECT_EQ(fmt2(in),
            "result(aaaaaaaa, bbbbbbbbb, ccccccccc) <= first_relation(aaaaaaaa, x),\n"
            "                                          second_relation(x, bbbbbbbbb), third(ccccccccc, y),\n"
            "                                          y > 10, not fourth(y);\n");
  // Already-wrapped input gets the same layout as the one-line form.
  std::string wrapped = in;
  std::replace(wrapped.begin(), wrapped.end(), ' ', '\n');
  EXPECT_EQ(fmt2(wrapped), fmt2(in));
  // A long head: the body goes on the next lines, indented by 2.
  EXPECT_EQ(fmt2("very_long_head_relation_name(aaaaaaaaaaaa, bbbbbbbbbbbbbb, cccccccccccc, dddddddddd) <~ "
                 "first_relation(aaaaaaaaaaaa), second(bbbbbbbbbbbbbb, cccccccccccc, dddddddddd);"),
            "very_long_head_relation_name(aaaaaaaaaaaa, bbbbbbbbbbbbbb, cccccccccccc, dddddddddd) <~\n"
            "  first_relation(aaaaaaaaaaaa), second(bbbbbbbbbbbbbb, cccccccccccc, dddddddddd);\n");
  // Declarations wrap between columns, aligned after `(`; never inside a type.
  EXPECT_EQ(fmt2("table got(src: addr, seq: int, id: int, payload: string, deps: lmap<addr, lmax<int>>, more: int) "
                 "key(src, seq) durable;"),
            "table got(src: addr, seq: int, id: int, payload: string, deps: lmap<addr, lmax<int>>,\n"
            "          more: int) key(src, seq) durable;\n");
  // A narrower width wraps more.
  EXPECT_EQ(fmt("b(x) <= a(x), c(x), d(x), e(x), f(x), g(x), h(x), i(x), j(x);", 40),
            "b(x) <= a(x), c(x), d(x), e(x), f(x),\n        g(x), h(x), i(x), j(x);\n");
}

TEST(Format, CommentsBeforeAndAtEndOfLine) {
  EXPECT_EQ(fmt2("// about a\n  table a(x: int);  // trailing\n"), "// about a\ntable a(x: int);   // trailing\n");
  // Trailing comments of consecutive lines share a column, three spaces after the longest code.
  EXPECT_EQ(fmt2("a(1); // one\na(22222); // two\n\na(3); // three\n"), "a(1);       // one\na(22222);   // two\n\na(3);   // three\n");
  // A trailing comment stays on its line even when another statement followed on it.
  EXPECT_EQ(fmt2("a(2); /* trail */ a(3);\n"), "a(2);   /* trail */\na(3);\n");
}

TEST(Format, CommentsInsideARule) {
  EXPECT_EQ(fmt2("b(x) <= a(x), // after comma\n  x > 2;\n"), "b(x) <= a(x),   // after comma\n        x > 2;\n");
  EXPECT_EQ(fmt2("b(x) <= a(x), /* inline */ x > 3;\n"), "b(x) <= a(x), /* inline */ x > 3;\n");
  EXPECT_EQ(fmt2("b(x) <= a(x),\n      // own line\n x > 4;\n"), "b(x) <= a(x),\n        // own line\n        x > 4;\n");
  EXPECT_EQ(fmt2("b(x) // head\n <= a(x);\n"), "b(x)   // head\n  <= a(x);\n");
  EXPECT_EQ(fmt2("b(x /* in an atom */, y) <= a(x, y);\n"), "b(x /* in an atom */, y) <= a(x, y);\n");
}

TEST(Format, BlockCommentsVerbatim) {
  std::string block = "/* a block\n     keeps   its  spacing\n  *  and lines */\n";
  EXPECT_EQ(fmt2(block + "a(1);\n"), block + "a(1);\n");
  EXPECT_EQ(fmt2("/* lead */   a(1);\n"), "/* lead */ a(1);\n");
}

TEST(Format, OddInputs) {
  EXPECT_EQ(fmt2(""), "");
  EXPECT_EQ(fmt2(" \n\t\n"), "");
  EXPECT_EQ(fmt2("// only\n\n\n/* comments */"), "// only\n\n/* comments */\n");
  EXPECT_EQ(fmt2("a(1);"), "a(1);\n");                                         // no trailing newline
  EXPECT_EQ(fmt2("table a(x: int);\r\n// c  \r\na(1);\r\n/* x\r\n y */\r\n"),  // CRLF: LF out
            "table a(x: int);\n// c\na(1);\n/* x\n y */\n");
  EXPECT_EQ(fmt2("\ttable a(x:\tint);\ta(1);\t// tab\t\n"), "table a(x: int);\na(1);   // tab\n");
  EXPECT_EQ(fmt2("a(\"é\"); // ünïcode\na(1);    // two\n"), "a(\"é\");   // ünïcode\na(1);     // two\n");
}

TEST(Format, FileThatDoesNotParseIsNotFormatted) {
  SourceManager sm;
  FileId f = sm.add("bad.bloom", "table t(a: int)\nt(1);\n");
  DiagnosticEngine diags;
  EXPECT_FALSE(format_file(sm, f, diags).has_value());
  ASSERT_TRUE(diags.has_errors());
  EXPECT_EQ(sm.location(diags.all().front().span), "bad.bloom:1:16");
}

TEST(Format, SafetyCheckSeesTokenAndCommentChanges) {
  EXPECT_EQ(token_difference("a(1);", "a( 1 ) ;\n"), "");
  EXPECT_EQ(token_difference("a(1); // x  ", "a(1);\n// x"), "");
  EXPECT_NE(token_difference("a(1);", "a(2);"), "");
  EXPECT_NE(token_difference("a(1); // x", "a(1);"), "");
  EXPECT_NE(token_difference("x(a) <= b(a), a < -1;", "x(a) <= b(a), a <-1;"), "");
  EXPECT_NE(token_difference("/* a */", "/*  a */"), "");
}

// `text` without its comments, with `space` for each run of whitespace outside strings but
// those that make a blank line (they decide where declarations are aligned).
std::string respace(const std::string& text, const std::string& space) {
  std::string bare;  // the comments out first, so that the whitespace around one is one run
  for (size_t i = 0; i < text.size();) {
    if (text[i] == '"') {
      size_t j = i + 1;
      while (j < text.size() && text[j] != '"') j += text[j] == '\\' ? 2 : 1;
      bare += text.substr(i, j + 1 - i);
      i = j + 1;
    } else if (text.compare(i, 2, "//") == 0) {
      i = std::min(text.find('\n', i), text.size());
    } else if (text.compare(i, 2, "/*") == 0) {
      i = text.find("*/", i + 2) + 2;
      bare += ' ';
    } else {
      bare += text[i++];
    }
  }
  std::string out;
  for (size_t i = 0; i < bare.size();) {
    char c = bare[i];
    if (c == '"') {
      size_t j = i + 1;
      while (j < bare.size() && bare[j] != '"') j += bare[j] == '\\' ? 2 : 1;
      out += bare.substr(i, j + 1 - i);
      i = j + 1;
    } else if (c == ' ' || c == '\n' || c == '\t' || c == '\r') {
      size_t lines = 0;
      for (; i < bare.size() && (bare[i] == ' ' || bare[i] == '\n' || bare[i] == '\t' || bare[i] == '\r'); ++i) lines += bare[i] == '\n';
      out += lines > 1 ? "\n\n" : space;
    } else {
      out += c, ++i;
    }
  }
  return out;
}

// The layout does not depend on the input's but for blank lines: every example and stdlib
// module (comments taken out) formats the same with a space, or a line break and a tab, or a
// CRLF, wherever it had whitespace.
TEST(Format, LayoutIndependentOfInputWhitespace) {
  namespace fs = std::filesystem;
  const fs::path root = BLOOM_SOURCE_DIR;
  size_t files = 0;
  for (const fs::path& dir : {root / "examples", root / "stdlib"}) {
    for (const auto& entry : fs::recursive_directory_iterator(dir)) {
      if (!entry.is_regular_file() || entry.path().extension() != ".bloom") continue;
      std::ifstream in(entry.path(), std::ios::binary);
      std::stringstream text;
      text << in.rdbuf();
      std::string canonical = fmt(respace(text.str(), " "));
      EXPECT_EQ(fmt(respace(text.str(), "\n\t ")), canonical) << entry.path();
      EXPECT_EQ(fmt(respace(text.str(), "\r\n")), canonical) << entry.path();
      ++files;
    }
  }
  EXPECT_GT(files, 30u);
}

// Every .bloom file we have: those that parse round-trip, and formatting is idempotent.
TEST(Format, RoundTripEveryBloomFile) {
  namespace fs = std::filesystem;
  const fs::path root = BLOOM_SOURCE_DIR;
  size_t formatted = 0, unparsable = 0;
  for (const fs::path& dir : {root / "examples", root / "stdlib", root / "tests", root / ".." / "shared" / "conformance"}) {
    if (!fs::is_directory(dir)) continue;
    for (const auto& entry : fs::recursive_directory_iterator(dir)) {
      if (!entry.is_regular_file() || entry.path().extension() != ".bloom") continue;
      std::ifstream in(entry.path(), std::ios::binary);
      std::stringstream text;
      text << in.rdbuf();
      SourceManager sm;
      FileId f = sm.add(entry.path().string(), text.str());
      DiagnosticEngine diags;
      auto once = format_file(sm, f, diags);
      if (!once) {
        ++unparsable;  // the golden tests' bad programs
        continue;
      }
      ++formatted;
      ASSERT_EQ(once->bug, "") << entry.path();
      EXPECT_EQ(token_difference(text.str(), once->text), "") << entry.path();
      SourceManager sm2;
      FileId f2 = sm2.add(entry.path().string(), once->text);
      DiagnosticEngine diags2;
      auto twice = format_file(sm2, f2, diags2);
      ASSERT_TRUE(twice.has_value()) << entry.path() << " does not parse once formatted";
      EXPECT_EQ(twice->text, once->text) << entry.path() << ": formatting is not idempotent";
    }
  }
  EXPECT_GT(formatted, 50u);
  std::cout << formatted << " files formatted, " << unparsable << " that do not parse skipped\n";
}

}  // namespace
}  // namespace bloom
