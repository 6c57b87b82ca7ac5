// Diagnostics: the text and JSON renderers, "did you mean", ordering, deduplication and the cap.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "syntax/diagnostics.h"
#include "syntax/source.h"

namespace bloom {
namespace {

std::string render(const SourceManager& sm, const DiagnosticEngine& d) {
  std::ostringstream out;
  render_text(sm, d, out);
  return out.str();
}

std::string render_one(const SourceManager& sm, const Diagnostic& d) {
  std::ostringstream out;
  render_text(sm, d, out);
  return out.str();
}

// The caret line (the second snippet line) of a single rendered diagnostic.
std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

TEST(Diagnostics, RenderTextExactFormat) {
  SourceManager sm;
  FileId f = sm.add("test.bloom", "table a(x: int);\nr(x) <= q(x);\n");
  DiagnosticEngine diags;
  diags.error("unknown-collection", Span{f, 2, 9, 2, 13}, "unknown collection `q`")
      .note(Span{f, 1, 7, 1, 8}, "`a` is declared here")
      .with_help("did you mean `a`?");
  const std::string expected =
      "test.bloom:2:9: error: unknown collection `q` [unknown-collection]\n"
      " 2 | r(x) <= q(x);\n"
      "   |         ^~~~\n"
      "test.bloom:1:7: note: `a` is declared here\n"
      " 1 | table a(x: int);\n"
      "   |       ^\n"
      "help: did you mean `a`?\n"
      "1 error generated.\n";
  EXPECT_EQ(render(sm, diags), expected);
}

TEST(Diagnostics, RenderTextLabelAndPlainNote) {
  SourceManager sm;
  FileId f = sm.add("x.bloom", "out(y) <= a(x);\n");
  DiagnosticEngine diags;
  diags.error("unbound-variable", Span{f, 1, 5, 1, 6}, "variable `y` is not bound")
      .with_label("`y` is never bound")
      .note(Span{}, "a plain note");
  const std::string expected =
      "x.bloom:1:5: error: variable `y` is not bound [unbound-variable]\n"
      " 1 | out(y) <= a(x);\n"
      "   |     ^ `y` is never bound\n"
      "note: a plain note\n"
      "1 error generated.\n";
  EXPECT_EQ(render(sm, diags), expected);
}

TEST(Diagnostics, SummaryCountsErrorsAndWarnings) {
  SourceManager sm;
  FileId f = sm.add("x.bloom", "a\nb\nc\n");
  DiagnosticEngine diags;
  diags.error("e1", Span{f, 1, 1, 1, 2}, "first");
  diags.error("e2", Span{f, 2, 1, 2, 2}, "second");
  diags.warning("w1", Span{f, 3, 1, 3, 2}, "third");
  std::string text = render(sm, diags);
  EXPECT_NE(text.find("x.bloom:3:1: warning: third [w1]\n"), std::string::npos) << text;
  EXPECT_NE(text.find("2 errors and 1 warning generated.\n"), std::string::npos) << text;

  DiagnosticEngine only_warnings;
  only_warnings.warning("w", Span{f, 1, 1, 1, 2}, "w");
  only_warnings.warning("w", Span{f, 2, 1, 2, 2}, "w");
  EXPECT_NE(render(sm, only_warnings).find("2 warnings generated.\n"), std::string::npos);

  DiagnosticEngine none;
  EXPECT_EQ(render(sm, none), "");
}

TEST(Diagnostics, LineNumberPaddingForWideLineNumbers) {
  std::string text;
  for (int i = 1; i <= 120; ++i) text += "line" + std::to_string(i) + "\n";
  SourceManager sm;
  FileId f = sm.add("x.bloom", text);
  DiagnosticEngine diags;
  diags.error("c", Span{f, 100, 1, 100, 8}, "m");
  auto lines = lines_of(render_one(sm, diags.all()[0]));
  ASSERT_GE(lines.size(), 3u);
  EXPECT_EQ(lines[1], " 100 | line100");
  EXPECT_EQ(lines[2], "     | ^~~~~~~");
}

TEST(Diagnostics, CaretAfterTabsStaysAligned) {
  SourceManager sm;
  FileId f = sm.add("t.bloom", "\tr(x) <=\tq(x);\n");
  DiagnosticEngine diags;
  // `q` is at column 10: tab(1) r(2) ((3) x(4) )(5) space(6) <(7) =(8) tab(9) q(10).
  diags.error("c", Span{f, 1, 10, 1, 11}, "m");
  auto lines = lines_of(render_one(sm, diags.all()[0]));
  ASSERT_GE(lines.size(), 3u);
  EXPECT_EQ(lines[1], " 1 | \tr(x) <=\tq(x);");
  // Tabs in the source are copied as tabs, so the caret lands under `q` whatever the tab width.
  EXPECT_EQ(lines[2], "   | \t       \t^");
}

TEST(Diagnostics, CaretAfterMultibyteUtf8) {
  SourceManager sm;
  // "é" and "→" are multi-byte but one column each; `q` is at column 10.
  FileId f = sm.add("u.bloom", "a(\"é→\") <= q(x);\n");
  DiagnosticEngine diags;
  // a(1) ((2) "(3) é(4) →(5) "(6) )(7) space(8) <(9) =(10) space(11) q(12)
  diags.error("c", Span{f, 1, 12, 1, 16}, "m");
  auto lines = lines_of(render_one(sm, diags.all()[0]));
  ASSERT_GE(lines.size(), 3u);
  EXPECT_EQ(lines[2], "   | " + std::string(11, ' ') + "^~~~");
}

TEST(Diagnostics, MultiLineSpanUnderlinesToEndOfFirstLine) {
  SourceManager sm;
  FileId f = sm.add("m.bloom", "out(x) <=\n  a(x);\n");
  DiagnosticEngine diags;
  diags.error("c", Span{f, 1, 1, 2, 8}, "m");
  auto lines = lines_of(render_one(sm, diags.all()[0]));
  ASSERT_GE(lines.size(), 3u);
  EXPECT_EQ(lines[2], "   | ^~~~~~~~~");
}

TEST(Diagnostics, InvalidSpanHasNoLocationOrSnippet) {
  SourceManager sm;
  DiagnosticEngine diags;
  diags.error("unknown-param", Span{}, "--param x: no such param");
  EXPECT_EQ(render(sm, diags), "error: --param x: no such param [unknown-param]\n1 error generated.\n");
}

TEST(Diagnostics, RenderJsonSchema) {
  SourceManager sm;
  FileId f = sm.add("test.bloom", "table a(x: int);\nr(x) <= q(x);\n");
  DiagnosticEngine diags;
  diags.error("unknown-collection", Span{f, 2, 9, 2, 13}, "unknown collection `q`")
      .note(Span{f, 1, 7, 1, 8}, "`a` is declared here")
      .with_help("did you mean `a`?");
  diags.warning("singleton-variable", Span{f, 2, 3, 2, 4}, "variable `x` is used only once");
  auto j = nlohmann::json::parse(render_json(sm, diags));
  EXPECT_EQ(j["errors"], 1);
  EXPECT_EQ(j["warnings"], 1);
  ASSERT_TRUE(j["diagnostics"].is_array());
  ASSERT_EQ(j["diagnostics"].size(), 2u);
  const auto& d = j["diagnostics"][0];
  EXPECT_EQ(d["severity"], "error");
  EXPECT_EQ(d["code"], "unknown-collection");
  EXPECT_EQ(d["message"], "unknown collection `q`");
  EXPECT_EQ(d["help"], "did you mean `a`?");
  EXPECT_EQ(d["span"]["file"], "test.bloom");
  EXPECT_EQ(d["span"]["line"], 2);
  EXPECT_EQ(d["span"]["column"], 9);
  EXPECT_EQ(d["span"]["end_line"], 2);
  EXPECT_EQ(d["span"]["end_column"], 13);
  ASSERT_EQ(d["notes"].size(), 1u);
  EXPECT_EQ(d["notes"][0]["message"], "`a` is declared here");
  EXPECT_EQ(d["notes"][0]["span"]["line"], 1);
  EXPECT_EQ(d["notes"][0]["span"]["column"], 7);
  EXPECT_EQ(j["diagnostics"][1]["severity"], "warning");
}

TEST(Diagnostics, RenderJsonNullSpanAndInvalidUtf8) {
  SourceManager sm;
  DiagnosticEngine diags;
  diags.error("x", Span{}, std::string("bad \xff byte"));
  std::string text;
  ASSERT_NO_THROW(text = render_json(sm, diags));
  auto j = nlohmann::json::parse(text);
  EXPECT_TRUE(j["diagnostics"][0]["span"].is_null());
  EXPECT_TRUE(j["diagnostics"][0]["notes"].is_array());
}

TEST(Diagnostics, ClosestMatchFindsTypo) {
  std::vector<std::string> names = {"link", "path", "reach_count"};
  EXPECT_EQ(closest_match("lnik", names), "link");  // transposition
  EXPECT_EQ(closest_match("pth", names), "path");   // deletion
  EXPECT_EQ(closest_match("reach_cont", names), "reach_count");
  EXPECT_EQ(closest_match("LINK", names), "link");  // case-insensitive
}

TEST(Diagnostics, ClosestMatchShortNamesGiveNoSuggestion) {
  EXPECT_EQ(closest_match("ab", {"abc", "ab_", "b"}), "");
  EXPECT_EQ(closest_match("x", {"y", "xx"}), "");
}

TEST(Diagnostics, ClosestMatchNothingClose) {
  EXPECT_EQ(closest_match("zzzzzz", {"link", "path"}), "");
  EXPECT_EQ(closest_match("link", {}), "");
  // The name itself is not a suggestion.
  EXPECT_EQ(closest_match("link", {"link"}), "");
}

TEST(Diagnostics, SortAndDedupe) {
  SourceManager sm;
  FileId f = sm.add("x.bloom", "a\nb\nc\n");
  DiagnosticEngine diags;
  diags.error("late", Span{f, 3, 1, 3, 2}, "third line");
  diags.error("dup", Span{f, 2, 1, 2, 2}, "second line");
  diags.warning("w", Span{f, 1, 1, 1, 2}, "first line");
  diags.error("dup", Span{f, 2, 1, 2, 2}, "second line");
  diags.warning("w", Span{f, 1, 1, 1, 2}, "first line");
  // Same place and code but another message is not a repeat.
  diags.error("dup", Span{f, 2, 1, 2, 2}, "other message");
  EXPECT_EQ(diags.error_count(), 4u);
  EXPECT_EQ(diags.warning_count(), 2u);
  diags.sort_and_dedupe();
  ASSERT_EQ(diags.all().size(), 4u);
  EXPECT_EQ(diags.error_count(), 3u);
  EXPECT_EQ(diags.warning_count(), 1u);
  EXPECT_EQ(diags.all()[0].span.line, 1u);
  EXPECT_EQ(diags.all()[1].message, "second line");
  EXPECT_EQ(diags.all()[2].message, "other message");  // stable within one position
  EXPECT_EQ(diags.all()[3].span.line, 3u);
}

TEST(Diagnostics, ErrorCapDropsAndCounts) {
  SourceManager sm;
  FileId f = sm.add("x.bloom", "a\n");
  DiagnosticEngine diags;
  const size_t extra = 7;
  for (size_t i = 0; i < DiagnosticEngine::kMaxErrors + extra; ++i)
    diags.error("e", Span{f, 1, 1, 1, 2}, "error " + std::to_string(i)).with_help("chaining is safe");
  EXPECT_EQ(diags.all().size(), DiagnosticEngine::kMaxErrors);
  EXPECT_EQ(diags.error_count(), DiagnosticEngine::kMaxErrors + extra);
  EXPECT_EQ(diags.dropped(), extra);
  EXPECT_TRUE(diags.has_errors());
  std::string text = render(sm, diags);
  EXPECT_NE(text.find(std::to_string(extra) + " more diagnostics not shown"), std::string::npos) << text.substr(text.size() - 200);
  EXPECT_NE(text.find(std::to_string(DiagnosticEngine::kMaxErrors + extra) + " errors generated."), std::string::npos);
}

TEST(Diagnostics, SeverityNames) {
  EXPECT_EQ(severity_name(Severity::Error), "error");
  EXPECT_EQ(severity_name(Severity::Warning), "warning");
  EXPECT_EQ(severity_name(Severity::Note), "note");
}

TEST(Diagnostics, SourceManagerLocationAndLines) {
  SourceManager sm;
  FileId f = sm.add("dir/x.bloom", "one\r\ntwo\nthree");
  EXPECT_EQ(sm.location(Span{f, 2, 3, 2, 4}), "dir/x.bloom:2:3");
  EXPECT_EQ(sm.location(Span{}), "<unknown>");
  EXPECT_EQ(sm.file(f).line_count(), 3u);
  EXPECT_EQ(sm.file(f).line(1), "one");  // no '\r'
  EXPECT_EQ(sm.file(f).line(3), "three");
  EXPECT_EQ(sm.file(f).line(4), "");
}

TEST(Diagnostics, SpanCover) {
  Span a{0, 1, 5, 1, 9}, b{0, 2, 1, 2, 4};
  Span c = Span::cover(a, b);
  EXPECT_EQ(c.line, 1u);
  EXPECT_EQ(c.col, 5u);
  EXPECT_EQ(c.end_line, 2u);
  EXPECT_EQ(c.end_col, 4u);
  EXPECT_EQ(Span::cover(Span{}, b), b);
  EXPECT_EQ(Span::cover(a, Span{}), a);
}

}  // namespace
}  // namespace bloom
