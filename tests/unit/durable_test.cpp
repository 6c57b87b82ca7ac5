// Durable tables (runtime/node/durable.h): the write-ahead log and snapshot round trip through a
// Node, a torn last record, a corrupt record in the middle, a data directory of another program,
// compaction, and the data directory itself (lock, unwritable).
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "node/durable.h"
#include "node/node.h"
#include "test_util.h"

namespace bloom::test {
namespace {

// A counter replaced by `<+-` each tick, deferred inserts, a keyed table replaced by `<+-`, deletions, a
// lattice cell, a table with a lattice column (strings inside), one with nested maps (and a fact
// built by constructors), and a table that is not durable.
const char* kProgram = R"(
table cur(k: int, n: int) key(k) durable;
cur(0, 0);
cur(0, n + 1) <+- cur(0, n), n < 8;
table step(n: int) durable;
step(n) <+ cur(_, n);
table kv(k: string, v: int) key(k) durable;
kv("x", n) <+- cur(_, n);
table gone(n: int) durable;
gone(n) <+ cur(_, n);
gone(n) <- cur(_, m), gone(n), n < m - 2;
lattice hi: lmax<int> durable;
hi(n) <= step(n);
table sets(k: string, s: lset<string>) durable;
sets("k", to_string(n)) <= step(n);
table clocks(k: string, vc: lmap<string, lmap<int, lmax<int>>>) durable;
clocks("k", lmap("z", lmap(0, -1)));
clocks("k", lmap(to_string(n % 3), lmap(n % 2, n))) <= step(n);
table plain(n: int);
plain(n) <= step(n);
)";

// The rows of a relation, formatted and sorted.
std::string dump(rt::Node& node, const plan::Program& p, const std::string& name) {
  const plan::Relation* r = p.find(name);
  if (!r) return "<no " + name + ">";
  const rt::Relation& rel = node.engine().relation(r->id);
  std::vector<std::string> rows;
  std::vector<rt::Word> buf(r->arity() + 1);
  for (rt::RowId i = 0; i < rel.end(); ++i)
    if (rel.alive(i)) {
      rel.read(i, buf.data());
      rows.push_back(node.engine().format_row(*r, buf.data(), true));
    }
  std::sort(rows.begin(), rows.end());
  std::string s;
  for (const auto& x : rows) s += x + ";";
  return s;
}

std::string durable_dump(rt::Node& node, const plan::Program& p) {
  std::string s;
  for (const char* n : {"cur", "step", "kv", "gone", "hi", "sets", "clocks"}) s += dump(node, p, n) + "\n";
  return s;
}

class DurableTest : public testing::Test {
 protected:
  void SetUp() override {
    plan = plan_for(kProgram);
    ASSERT_NE(plan, nullptr);
  }
  std::unique_ptr<rt::Node> make(rt::DurableFiles* files, uint64_t compact = rt::DurableStore::kDefaultCompactBytes,
                                 const plan::Program* p = nullptr) {
    rt::NodeOptions o;
    o.durable = files;
    o.durable_compact_bytes = compact;
    o.print_line = [](const std::string&) {};
    o.max_ticks = 100;  // a bug that keeps the node ticking fails the test instead of hanging it
    return std::make_unique<rt::Node>(p ? *p : *plan, std::move(o));
  }
  // Runs `ticks` ticks with step() on a node over `files`, returning the node.
  std::unique_ptr<rt::Node> run_ticks(rt::DurableFiles& files, int ticks, uint64_t compact = rt::DurableStore::kDefaultCompactBytes) {
    auto node = make(&files, compact);
    for (int i = 0; i < ticks; ++i) node->step();
    return node;
  }
  // The durable state a node recovers from `files` (a copy: recovery rewrites them).
  std::string recovered(rt::MemoryFiles files, std::vector<std::string>* warnings = nullptr) {
    auto node = make(&files);
    auto rec = node->recover_durable();
    if (warnings) *warnings = rec.warnings;
    return durable_dump(*node, *plan);
  }
  std::unique_ptr<plan::Program> plan;
};

TEST_F(DurableTest, RecoversTheLastCompletedTickAndItsQueuedChanges) {
  rt::MemoryFiles files;
  auto a = run_ticks(files, 3);
  auto b = make(&files);
  auto rec = b->recover_durable();
  EXPECT_TRUE(rec.found);
  EXPECT_EQ(rec.records, 3u);
  EXPECT_TRUE(rec.warnings.empty());
  // Ticks 0-2 ran; the deferred cur(0, 3), step(2) and kv("x", 2) of tick 2 are applied on
  // recovery (hi and sets are derived from step by `<=`: they follow in the next tick).
  EXPECT_EQ(durable_dump(*b, *plan),
            "cur(0, 3);\n"
            "step(0);step(1);step(2);\n"
            "kv(\"x\", 2);\n"
            "gone(0);gone(1);gone(2);\n"
            "hi(1);\n"
            "sets(\"k\", {\"0\", \"1\"});\n"
            "clocks(\"k\", {\"0\": {0: 0}, \"1\": {1: 1}, \"z\": {0: -1}});\n");
  EXPECT_EQ(dump(*b, *plan, "plain"), "");  // not durable: lost
}

TEST_F(DurableTest, ContinuingAfterRestartsEndsLikeAnUninterruptedRun) {
  auto whole = make(nullptr);
  whole->run();
  std::string expected = durable_dump(*whole, *plan);
  rt::MemoryFiles files;
  // Three incarnations of two ticks each, then one to the end.
  for (int i = 0; i < 3; ++i) run_ticks(files, 2);
  auto last = make(&files);
  last->run();
  EXPECT_EQ(durable_dump(*last, *plan), expected);
}

TEST_F(DurableTest, TornLastRecordIsCutOffWithAWarning) {
  rt::MemoryFiles two, three;
  run_ticks(two, 2);
  run_ticks(three, 3);
  std::string w2, w3;
  ASSERT_TRUE(two.read("wal", w2));
  ASSERT_TRUE(three.read("wal", w3));
  ASSERT_EQ(w3.compare(0, w2.size(), w2), 0);  // the same ticks write the same records
  for (size_t cut : {size_t{3}, size_t{12}, size_t{20}, w3.size() - w2.size() - 1}) {
    rt::MemoryFiles torn;
    torn.replace("wal", w3.substr(0, w2.size() + cut));
    std::vector<std::string> warnings;
    EXPECT_EQ(recovered(torn, &warnings), recovered(two)) << "cut " << cut;
    ASSERT_EQ(warnings.size(), 1u);
    EXPECT_NE(warnings[0].find("memory:wal: byte " + std::to_string(w2.size())), std::string::npos) << warnings[0];
  }
  // Zeros where the last record should be (a file system that grew the file but lost the data).
  rt::MemoryFiles zeros;
  zeros.replace("wal", w2 + std::string(40, '\0'));
  std::vector<std::string> warnings;
  EXPECT_EQ(recovered(zeros, &warnings), recovered(two));
  EXPECT_EQ(warnings.size(), 1u);
}

TEST_F(DurableTest, CorruptRecordInTheMiddleIsAnErrorAndChangesNothing) {
  rt::MemoryFiles one, three;
  run_ticks(one, 1);
  run_ticks(three, 3);
  std::string w1, w3;
  ASSERT_TRUE(one.read("wal", w1));
  ASSERT_TRUE(three.read("wal", w3));
  for (size_t at : {w1.size() + 1, w1.size() + 6, w1.size() + 16}) {  // length, its checksum, the payload
    std::string bad = w3;
    bad[at] ^= 0x40;
    rt::MemoryFiles files;
    files.replace("wal", bad);
    auto node = make(&files);
    try {
      node->recover_durable();
      ADD_FAILURE() << "no error for a flipped byte at " << at;
    } catch (const rt::DurableError& e) {
      std::string m = e.what();
      EXPECT_NE(m.find("memory:wal: byte " + std::to_string(w1.size())), std::string::npos) << m;
      EXPECT_NE(m.find("record 2 is corrupt"), std::string::npos) << m;
    }
    std::string after;
    ASSERT_TRUE(files.read("wal", after));
    EXPECT_EQ(after, bad);  // nothing stored is changed
    EXPECT_FALSE(files.read("snapshot", after));
  }
}

TEST_F(DurableTest, DataOfAnotherProgramIsRefused) {
  rt::MemoryFiles files;
  run_ticks(files, 2);
  auto other = plan_for(R"(
table kv(k: string, v: string) key(k) durable;
kv("a", "b");
)");
  ASSERT_NE(other, nullptr);
  rt::MemoryFiles copy = files;
  auto node = make(&copy, rt::DurableStore::kDefaultCompactBytes, other.get());
  try {
    node->recover_durable();
    ADD_FAILURE() << "no error";
  } catch (const rt::DurableError& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("memory:wal: written by a program with other durable collections"), std::string::npos) << m;
    EXPECT_NE(m.find("table kv(string, int) key(0)"), std::string::npos) << m;
    EXPECT_NE(m.find("table kv(string, string) key(0)"), std::string::npos) << m;
  }
  // Not a log at all.
  rt::MemoryFiles junk;
  junk.replace("wal", "hello, this is not a log at all, but long enough");
  auto j = make(&junk);
  EXPECT_THROW(j->recover_durable(), rt::DurableError);
}

TEST_F(DurableTest, SnapshotAndCompactionKeepTheLogShort) {
  rt::MemoryFiles files, plain;
  run_ticks(files, 9, /*compact=*/64);  // a snapshot after nearly every tick
  run_ticks(plain, 9);
  std::string snap, wal, wal_plain;
  ASSERT_TRUE(files.read("snapshot", snap));
  ASSERT_TRUE(files.read("wal", wal));
  ASSERT_TRUE(plain.read("wal", wal_plain));
  EXPECT_FALSE(plain.read("snapshot", snap));
  EXPECT_LT(wal.size(), wal_plain.size());
  EXPECT_EQ(recovered(files), recovered(plain));
  // A crash after the snapshot was written but before the log was started again: the old log's
  // records are in the snapshot and are skipped.
  rt::MemoryFiles both = plain;
  {
    rt::MemoryFiles tmp = plain;
    auto n = make(&tmp);
    n->recover_durable();  // writes a snapshot of everything
    std::string s;
    ASSERT_TRUE(tmp.read("snapshot", s));
    both.replace("snapshot", s);
  }
  EXPECT_EQ(recovered(both), recovered(plain));
}

TEST_F(DurableTest, DataDirectoryIsLockedAndItsErrorsNameIt) {
  auto dir = std::filesystem::temp_directory_path() / ("bloom_durable_test_" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  {
    auto files = rt::open_data_dir(dir.string());
    run_ticks(*files, 3);
    try {
      rt::open_data_dir(dir.string());
      ADD_FAILURE() << "a second open of a locked data directory succeeded";
    } catch (const rt::DurableError& e) {
      EXPECT_NE(std::string(e.what()).find("in use by another process"), std::string::npos) << e.what();
    }
  }
  {
    auto files = rt::open_data_dir(dir.string());  // the lock went with the first
    auto node = make(files.get());
    auto rec = node->recover_durable();
    EXPECT_EQ(rec.records, 3u);
    EXPECT_EQ(dump(*node, *plan, "kv"), "kv(\"x\", 2);");
  }
  std::ofstream(dir / "file") << "x";
  try {
    rt::open_data_dir((dir / "file" / "sub").string());
    ADD_FAILURE() << "a data directory under a file";
  } catch (const rt::DurableError& e) {
    EXPECT_NE(std::string(e.what()).find((dir / "file" / "sub").string()), std::string::npos) << e.what();
  }
  std::filesystem::remove_all(dir);
}

TEST_F(DurableTest, OnlyTablesAndLatticesCanBeDurable) {
  auto c = compile("scratch s(n: int) durable;\nchannel c(@a: addr) durable;\ntable durable(durable: int) durable;\n");
  EXPECT_EQ(codes(*c), (std::vector<std::string>{"bad-durable", "bad-durable"}));
  const Diagnostic* d = find_code(*c, "bad-durable");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->span.line, 1u);
  EXPECT_EQ(d->span.col, 19u);
}

}  // namespace
}  // namespace bloom::test
