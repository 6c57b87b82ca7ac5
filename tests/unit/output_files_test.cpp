// Outputs written as ticks complete (runtime/node/output_files.h): each tick appends its new rows,
// a process started again carries the file on without writing a row twice, and finish() leaves
// the file sorted (numbers by value, also for lines carried as text).
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "node/node.h"
#include "node/output_files.h"
#include "test_util.h"

namespace bloom::test {
namespace {

// One new row per tick for 12 ticks (n = 0..11), and a zero-column output that holds its tuple.
const char* kProgram = R"(
table n(v: int);
n(0);
n(v + 1) <+ n(v), v < 11;
output seen(v: int, s: string);
seen(v, to_string(v)) <= n(v);
output flag();
flag() <= n(3);
)";

std::string read(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class OutputFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    plan = plan_for(kProgram);
    ASSERT_NE(plan, nullptr);
    dir = std::filesystem::temp_directory_path() / ("bloom_output_files_" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
  }
  void TearDown() override { std::filesystem::remove_all(dir); }
  // A node whose outputs go to `dir` through OutputFiles, with `carry_on` as given.
  std::unique_ptr<rt::Node> make(bool carry_on) {
    rt::NodeOptions o;
    o.print_line = [](const std::string&) {};
    o.after_tick = [this] { files->append(); };
    auto node = std::make_unique<rt::Node>(*plan, std::move(o));
    files = std::make_unique<rt::OutputFiles>(*node, dir.string(), carry_on);
    return node;
  }
  std::unique_ptr<plan::Program> plan;
  std::filesystem::path dir;
  std::unique_ptr<rt::OutputFiles> files;
};

TEST_F(OutputFilesTest, EachTickAppendsItsNewRowsAndFinishSorts) {
  auto node = make(false);
  node->step();
  EXPECT_EQ(read(dir / "seen.csv"), "0\t0\n");
  EXPECT_EQ(read(dir / "flag.csv"), "");
  for (int i = 0; i < 3; ++i) node->step();
  EXPECT_EQ(read(dir / "seen.csv"), "0\t0\n1\t1\n2\t2\n3\t3\n") << "tick order, each row once";
  EXPECT_EQ(read(dir / "flag.csv"), "\n");
  for (int i = 0; i < 8; ++i) node->step();
  files->finish();
  std::string want;
  for (int v = 0; v < 12; ++v) want += std::to_string(v) + "\t" + std::to_string(v) + "\n";
  EXPECT_EQ(read(dir / "seen.csv"), want);
  EXPECT_EQ(read(dir / "flag.csv"), "\n");
}

TEST_F(OutputFilesTest, AFreshStartEmptiesTheFilesAndACarriedOnStartKeepsThem) {
  {
    auto node = make(false);
    for (int i = 0; i < 3; ++i) node->step();
    files.reset();  // a process killed here: its files hold ticks 0-2
  }
  EXPECT_EQ(read(dir / "seen.csv"), "0\t0\n1\t1\n2\t2\n");
  {
    // Started again and carrying on: it derives rows 0-2 again (not written twice), then more.
    auto node = make(true);
    for (int i = 0; i < 12; ++i) node->step();
    files->finish();
  }
  std::string want;
  for (int v = 0; v < 12; ++v) want += std::to_string(v) + "\t" + std::to_string(v) + "\n";
  EXPECT_EQ(read(dir / "seen.csv"), want) << "numbers by value (10 after 9), each row once";
  EXPECT_EQ(read(dir / "flag.csv"), "\n");
  {
    // A line only the earlier process wrote stays; a fresh start empties the files.
    std::ofstream(dir / "seen.csv", std::ios::app) << "40\tforty\n";
    auto node = make(true);
    node->step();
    files->finish();
    EXPECT_EQ(read(dir / "seen.csv"), want + "40\tforty\n");
    auto fresh = make(false);
    EXPECT_EQ(read(dir / "seen.csv"), "");
  }
}

TEST_F(OutputFilesTest, AnUnwritableDirectoryIsAnErrorNamingTheFile) {
  rt::NodeOptions o;
  rt::Node node(*plan, std::move(o));
  try {
    rt::OutputFiles f(node, (dir / "missing" / "deeper").string(), false);
    FAIL() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("seen.csv: cannot open the output file"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace bloom::test
