// Facts files (runtime/node/facts.h): reading tab-separated tuples, the error messages for bad
// lines, and atomic writes.
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "node/facts.h"
#include "rt_test_util.h"

namespace bloom::test {
namespace {

namespace fs = std::filesystem;
using rt::Word;

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class FactsTest : public testing::Test {
 protected:
  rt::SymbolTable symbols;
  rt::Lattices lat{symbols};
  fs::path dir;

  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "bloom_facts_XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    fs::permissions(dir, fs::perms::owner_all, ec);
    fs::remove_all(dir, ec);
  }

  std::string write(const std::string& name, const std::string& content) {
    fs::path p = dir / name;
    std::ofstream(p, std::ios::binary) << content;
    return p.string();
  }

  struct Read {
    std::vector<std::vector<Word>> rows;
    std::vector<size_t> lines;
  };
  Read read(const std::string& path, const plan::Relation& rel) {
    Read out;
    rt::read_facts(path, rel, lat, [&](const Word* row, size_t line) {
      out.rows.emplace_back(row, row + rel.arity());
      out.lines.push_back(line);
    });
    return out;
  }

  // Reads `content` as `rel` and returns the FactsError message ("" if none was thrown).
  std::string error_of(const std::string& content, const plan::Relation& rel) {
    std::string path = write(rel.name + ".facts", content);
    try {
      read(path, rel);
    } catch (const rt::FactsError& e) {
      return e.what();
    }
    return "";
  }

  // The relation most error tests read: person(name: string, age: int).
  plan::Relation person = relation_decl("person", {{"name", kString}, {"age", kInt}});
  std::string person_path() const { return (dir / "person.facts").string(); }

  Word str(const std::string& s) { return symbols.intern(s); }
};

// Asserts that `msg` starts with `path:line:col: ` and mentions every one of `words`.
void expect_error(const std::string& msg, const std::string& where, std::vector<std::string> words) {
  ASSERT_FALSE(msg.empty()) << "no error";
  EXPECT_EQ(msg.rfind(where + ": ", 0), 0u) << "expected the message to start with `" << where << ": `: " << msg;
  for (const auto& w : words) EXPECT_NE(msg.find(w), std::string::npos) << "expected `" << w << "` in: " << msg;
}

// ------------------------------------------------------------------ good files

TEST_F(FactsTest, ReadsEveryColumnType) {
  auto rel = relation_decl("m", {{"s", kString}, {"i", kInt}, {"f", kFloat}, {"b", kBool}, {"a", ty(TypeKind::Addr)}});
  auto r = read(write("m.facts", "hello world\t-42\t2.5\ttrue\tnode1\n\t0\t1e3\t0\tx\nz\t9223372036854775807\t-0.25\tfalse\t\n"), rel);
  ASSERT_EQ(r.rows.size(), 3u);
  EXPECT_EQ(r.rows[0], (std::vector<Word>{str("hello world"), rt::from_int(-42), rt::from_float(2.5), 1, str("node1")}));
  EXPECT_EQ(r.rows[1], (std::vector<Word>{str(""), 0, rt::from_float(1000), 0, str("x")}));
  EXPECT_EQ(r.rows[2], (std::vector<Word>{str("z"), rt::from_int(INT64_MAX), rt::from_float(-0.25), 0, str("")}));
  EXPECT_EQ(r.lines, (std::vector<size_t>{1, 2, 3}));
}

TEST_F(FactsTest, LatticeColumnsReadTheirElementLifted) {
  auto rel = relation_decl("v", {{"k", kInt}, {"best", lmax(kInt)}, {"who", lset(kString)}, {"ok", kLBool}});
  auto r = read(write("v.facts", "1\t7\talice\ttrue\n"), rel);
  ASSERT_EQ(r.rows.size(), 1u);
  EXPECT_EQ(r.rows[0], (std::vector<Word>{1, 7, lat.set_of({str("alice")}), 1}));
}

TEST_F(FactsTest, LsetAndBottomColumnsReadBackAsRunWritesThem) {
  // `bloom run -D` writes an lset as `{"x", "y"}` and an lmax/lmin at bottom as -inf/+inf: a
  // column in that form reads as the whole set or the bottom, anything else as one element.
  auto rel = relation_decl("w", {{"who", lset(kString)}, {"n", lset(kInt)}, {"hi", lmax(kInt)}, {"lo", lmin(kInt)}});
  auto r = read(write("w.facts", "{\"a\", \"b c\", a}\t{3, -1}\t-inf\t+inf\n{}\t{}\t4\t-4\nx\t7\t-9\t9\n"), rel);
  ASSERT_EQ(r.rows.size(), 3u);
  EXPECT_EQ(r.rows[0], (std::vector<Word>{lat.set_of({str("a"), str("b c")}), lat.set_of({rt::from_int(3), rt::from_int(-1)}),
                                          lat.bottom(lmax(kInt)), lat.bottom(lmin(kInt))}));
  EXPECT_EQ(r.rows[1], (std::vector<Word>{lat.set_of({}), lat.set_of({}), 4, rt::from_int(-4)}));
  EXPECT_EQ(r.rows[2], (std::vector<Word>{lat.set_of({str("x")}), lat.set_of({7}), rt::from_int(-9), 9}));
  auto one = relation_decl("one", {{"s", lset(kInt)}});
  expect_error(error_of("{1, x}\n", one), (dir / "one.facts").string() + ":1:1",
               {"expected a set such as {\"a\", \"b\"}", "an int at character 5", "column `s`", "`{1, x}`"});
  expect_error(error_of("{1, 2\n", one), (dir / "one.facts").string() + ":1:1", {"`,` or `}` at character 6"});
}

TEST_F(FactsTest, LmapColumnsReadWholeMapsAsRunWritesThem) {
  const ValueType clock = lmap(ty(TypeKind::Addr), lmax(kInt));
  const ValueType nested = lmap(kString, lmap(kInt, lset(kString)));
  auto rel = relation_decl("vc", {{"node", kString}, {"vc", clock}, {"n", nested}});
  auto r = read(write("vc.facts",
                      "a\t{\"n1\": 3, n2: 5, n1: 1}\t{\"x y\": {1: {\"p\", q}, 2: {}}}\n"
                      "b\t{}\t{}\n"
                      "c\t { n1 : -inf ,\"\\\"q\\\\\": 2 } \t{z:{}}\n"),
                rel);
  ASSERT_EQ(r.rows.size(), 3u);
  EXPECT_EQ(r.rows[0][1], lat.map_of(clock.args[1], {{str("n1"), 3}, {str("n2"), 5}})) << "equal keys merge";
  Word inner = lat.map_of(nested.args[1].args[1], {{1, lat.set_of({str("p"), str("q")})}, {2, lat.set_of({})}});
  EXPECT_EQ(r.rows[0][2], lat.map_of(nested.args[1], {{str("x y"), inner}}));
  EXPECT_EQ(r.rows[1][1], lat.bottom(clock));
  EXPECT_EQ(r.rows[1][2], lat.bottom(nested));
  EXPECT_EQ(r.rows[2][1], lat.map_of(clock.args[1], {{str("n1"), lat.bottom(lmax(kInt))}, {str("\"q\\"), 2}}));
  EXPECT_EQ(r.rows[2][2], lat.map_of(nested.args[1], {{str("z"), lat.bottom(nested.args[1])}}));
}

TEST_F(FactsTest, BadMapsNameWhatWasExpectedAndWhere) {
  auto rel = relation_decl("vc", {{"node", kString}, {"vc", lmap(kString, lmax(kInt))}});
  for (auto [text, words] :
       std::vector<std::pair<std::string, std::vector<std::string>>>{{"n1: 3", {"a map `{key: value, ...}` at character 1"}},
                                                                     {"{n1 3}", {"`:` after a key at character 5"}},
                                                                     {"{n1: x}", {"an int at character 6"}},
                                                                     {"{n1: 3", {"`,` or `}` at character 7"}},
                                                                     {"{n1: 3} x", {"the end of the value at character 9"}},
                                                                     {"{\"n1: 3}", {"a closing `\"`"}},
                                                                     {"{\"\\q\": 3}", {"one of the escapes"}},
                                                                     {"{: 3}", {"a string at character 2"}}}) {
    std::string msg = error_of("a\t" + text + "\n", rel);
    words.insert(words.end(), {"expected a map such as {\"a\": 1}", "column `vc`", "`" + text + "`"});
    expect_error(msg, (dir / "vc.facts").string() + ":1:3", words);
  }
  // The parser follows the type: deep nesting in the text stops at the first brace too many.
  auto deep = relation_decl("deep", {{"m", lmap(kInt, lset(kInt))}});
  std::string msg = error_of("{1: " + std::string(100000, '{') + "\n", deep);
  expect_error(msg, (dir / "deep.facts").string() + ":1:1", {"expected a map"});
}

TEST_F(FactsTest, CrlfLineEndingsAreAccepted) {
  auto r = read(write("person.facts", "ann\t30\r\nbob\t41\r\n"), person);
  ASSERT_EQ(r.rows.size(), 2u);
  EXPECT_EQ(r.rows[0], (std::vector<Word>{str("ann"), 30}));
  EXPECT_EQ(r.rows[1], (std::vector<Word>{str("bob"), 41}));
}

TEST_F(FactsTest, BlankLinesAreSkippedButCounted) {
  auto r = read(write("person.facts", "\nann\t30\n\r\n\nbob\t41"), person);  // no final newline either
  ASSERT_EQ(r.rows.size(), 2u);
  EXPECT_EQ(r.lines, (std::vector<size_t>{2, 5}));
  EXPECT_EQ(r.rows[1], (std::vector<Word>{str("bob"), 41}));
}

TEST_F(FactsTest, EmptyFileHasNoTuples) { EXPECT_TRUE(read(write("person.facts", ""), person).rows.empty()); }

TEST_F(FactsTest, NullaryRelationHoldsItsTupleIfTheFileHasAnyLine) {
  auto flag = relation_decl("flag", {});
  EXPECT_TRUE(read(write("a.facts", ""), flag).rows.empty());
  EXPECT_EQ(read(write("b.facts", "\n"), flag).rows.size(), 1u);
  EXPECT_EQ(read(write("c.facts", "x\ny\nz\n"), flag).rows.size(), 1u) << "a nullary relation holds one tuple at most";
}

// ------------------------------------------------------------------ errors

TEST_F(FactsTest, TooFewColumns) {
  std::string msg = error_of("ann\t30\nbob\n", person);
  expect_error(msg, person_path() + ":2:4", {"too few columns", "`person`", "name, age", "has 1"});
}

TEST_F(FactsTest, TooManyColumns) {
  std::string msg = error_of("ann\t30\textra\n", person);
  expect_error(msg, person_path() + ":1:8", {"too many columns", "`person`", "name, age"});
}

TEST_F(FactsTest, BadInt) {
  std::string msg = error_of("ann\t3O\n", person);
  expect_error(msg, person_path() + ":1:5", {"expected an int", "column `age`", "`3O`"});
}

TEST_F(FactsTest, EmptyIntField) {
  std::string msg = error_of("ann\t\n", person);
  expect_error(msg, person_path() + ":1:5", {"expected an int", "column `age`"});
}

TEST_F(FactsTest, IntWithTrailingGarbage) {
  std::string msg = error_of("ann\t12 \n", person);
  expect_error(msg, person_path() + ":1:5", {"expected an int", "`12 `"});
}

TEST_F(FactsTest, OutOfRangeInt) {
  std::string msg = error_of("ann\t9223372036854775808\n", person);
  expect_error(msg, person_path() + ":1:5", {"out of range", "column `age`"});
}

TEST_F(FactsTest, BadFloat) {
  auto rel = relation_decl("temp", {{"city", kString}, {"deg", kFloat}});
  std::string msg = error_of("oslo\t-3.5\nrome\twarm\n", rel);
  expect_error(msg, (dir / "temp.facts").string() + ":2:6", {"expected a float", "column `deg`", "`warm`"});
}

TEST_F(FactsTest, BadBool) {
  auto rel = relation_decl("flags", {{"on", kBool}});
  std::string msg = error_of("true\nyes\n", rel);
  expect_error(msg, (dir / "flags.facts").string() + ":2:1", {"expected a bool", "column `on`", "`yes`"});
}

TEST_F(FactsTest, ErrorsAfterCrlfAndBlankLinesPointAtTheRightLine) {
  std::string msg = error_of("ann\t30\r\n\r\nbob\tx\r\n", person);
  expect_error(msg, person_path() + ":3:5", {"expected an int", "`x`"});
  EXPECT_EQ(msg.find('\r'), std::string::npos) << "the carriage return is not part of the field";
}

TEST_F(FactsTest, MissingFile) {
  try {
    read((dir / "absent.facts").string(), person);
    FAIL() << "no error";
  } catch (const rt::FactsError& e) {
    expect_error(e.what(), (dir / "absent.facts").string(), {"cannot open"});
  }
}

TEST_F(FactsTest, AByteOrderMarkAtTheStartIsNotPartOfTheFirstString) {
  auto r = read(write("person.facts",
                      "\xef\xbb\xbf"
                      "ann\t30\nbob\t4\n"),
                person);
  ASSERT_EQ(r.rows.size(), 2u);
  EXPECT_EQ(r.rows[0][0], str("ann"));
}

TEST_F(FactsTest, InvalidUtf8IsRefusedWithItsColumn) {
  std::string msg = error_of("ann\t30\nb\xc3\xa9\xffo\t4\n", person);  // "bé" then a stray 0xff
  expect_error(msg, person_path() + ":2:3", {"invalid UTF-8", "0xff"});
  expect_error(error_of("a\xed\xa0\x80\t1\n", person), person_path() + ":1:2", {"invalid UTF-8"});  // a surrogate
  expect_error(error_of("a\xc0\xaf\t1\n", person), person_path() + ":1:2", {"invalid UTF-8"});      // overlong
  expect_error(error_of("ab\xe2\x82\t1\n", person), person_path() + ":1:3", {"invalid UTF-8"});     // cut short
  EXPECT_EQ(error_of("\xf0\x9f\x99\x82\t1\n", person), "") << "a 4-byte code point is fine";
}

TEST_F(FactsTest, ANulByteIsRefusedWithItsColumn) {
  std::string msg = error_of(std::string("ann\t30\nbo\0b\t4\n", 15), person);
  expect_error(msg, person_path() + ":2:3", {"a NUL byte"});
}

TEST_F(FactsTest, OnlyRegularFilesAreRead) {
  const std::string fifo = (dir / "person.facts").string();
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  try {
    read(fifo, person);  // would block forever if it were opened
    FAIL() << "no error";
  } catch (const rt::FactsError& e) {
    expect_error(e.what(), fifo, {"not a regular file", "a FIFO"});
  }
  const fs::path zero = dir / "zero.facts";
  fs::create_symlink("/dev/zero", zero);
  try {
    read(zero.string(), person);
    FAIL() << "no error";
  } catch (const rt::FactsError& e) {
    expect_error(e.what(), zero.string(), {"not a regular file", "a device"});
  }
}

// ------------------------------------------------------------------ atomic writes

TEST_F(FactsTest, WriteFileAtomicallyWritesTheTextAndLeavesNoTemporary) {
  fs::path p = dir / "out.csv";
  rt::write_file_atomically(p.string(), "a\t1\nb\t2\n");
  EXPECT_EQ(slurp(p), "a\t1\nb\t2\n");
  rt::write_file_atomically(p.string(), "replaced");  // overwrites, no trailing newline added
  EXPECT_EQ(slurp(p), "replaced");
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  EXPECT_EQ(names, std::vector<std::string>{"out.csv"});
}

TEST_F(FactsTest, WriteFileAtomicallyFailsWhenTheDirectoryCannotBeWritten) {
  write("file", "not a directory");
  std::string target = (dir / "file" / "out.csv").string();
  try {
    rt::write_file_atomically(target, "x");
    FAIL() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(target), std::string::npos) << e.what();
  }
  EXPECT_EQ(slurp(dir / "file"), "not a directory");
}

TEST_F(FactsTest, WriteFileAtomicallyFailsInAReadOnlyDirectory) {
  fs::path ro = dir / "ro";
  fs::create_directory(ro);
  fs::permissions(ro, fs::perms::owner_read | fs::perms::owner_exec);
  if (access(ro.c_str(), W_OK) == 0) GTEST_SKIP() << "running with privileges that ignore directory permissions";
  EXPECT_THROW(rt::write_file_atomically((ro / "out.csv").string(), "x"), std::runtime_error);
  EXPECT_TRUE(fs::is_empty(ro));
}

TEST_F(FactsTest, WriteFileAtomicallyRemovesTheTemporaryWhenTheRenameFails) {
  fs::path target = dir / "taken";
  fs::create_directory(target);
  fs::path inside = target / "keep";
  std::ofstream(inside) << "x";
  try {
    rt::write_file_atomically(target.string(), "text");
    FAIL() << "renaming a file over a non-empty directory must fail";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(target.string()), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(target.string() + ".tmp"));
  EXPECT_TRUE(fs::exists(inside));
}

}  // namespace
}  // namespace bloom::test
