// Replacing a file whole (runtime/core/files.h): the new contents or the old, never a part, and
// no temporary file left behind, whatever step fails.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/files.h"

namespace bloom::rt {
namespace {

namespace fs = std::filesystem;

class ReplaceFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = fs::temp_directory_path() / ("bloom_files_" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    path = (dir / "f.txt").string();
  }
  void TearDown() override { fs::remove_all(dir); }

  static std::string read(const std::string& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  static mode_t mode_of(const std::string& p) {
    struct stat st {};
    EXPECT_EQ(::stat(p.c_str(), &st), 0);
    return st.st_mode & 07777;
  }
  // The names in the folder: after any call, only what the test made there.
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
  }

  fs::path dir;
  std::string path;
};

TEST_F(ReplaceFileTest, WritesANewFileAndReplacesAnOldOne) {
  std::string why;
  ASSERT_TRUE(replace_file(path, "first\n", {}, why)) << why;
  EXPECT_EQ(read(path), "first\n");
  ASSERT_TRUE(replace_file(path, "second, longer\n", {.mode = std::nullopt, .sync = false}, why)) << why;
  EXPECT_EQ(read(path), "second, longer\n");
  ASSERT_TRUE(replace_file(path, "", {}, why)) << why;
  EXPECT_EQ(read(path), "");
  EXPECT_EQ(names(), std::vector<std::string>{"f.txt"});
}

TEST_F(ReplaceFileTest, StreamsLargeContents) {
  std::string expected;
  for (int i = 0; i < 100000; ++i) expected += std::to_string(i) + "\t" + std::to_string(i * 7) + "\n";  // > 64 KiB buffers
  std::string why;
  ASSERT_TRUE(replace_file(
      path,
      [](std::ostream& out) {
        for (int i = 0; i < 100000; ++i) out << i << '\t' << i * 7 << '\n';
      },
      {}, why))
      << why;
  EXPECT_EQ(read(path), expected);
  EXPECT_EQ(names(), std::vector<std::string>{"f.txt"});
}

TEST_F(ReplaceFileTest, AnExplicitModeIsExactAndTheDefaultFollowsTheUmask) {
  std::string why;
  ASSERT_TRUE(replace_file(path, "secret", {.mode = 0600, .sync = true}, why)) << why;
  EXPECT_EQ(mode_of(path), 0600u);
  ASSERT_TRUE(replace_file(path, "shared", {.mode = 0664, .sync = true}, why)) << why;  // wider than a 022 umask allows
  EXPECT_EQ(mode_of(path), 0664u);
  const mode_t mask = ::umask(022);
  ::umask(mask);
  ASSERT_TRUE(replace_file(path, "plain", {}, why)) << why;
  EXPECT_EQ(mode_of(path), 0666u & ~mask);
}

TEST_F(ReplaceFileTest, AMissingFolderFailsNamingTheStep) {
  std::string why;
  const std::string p = (dir / "no" / "f.txt").string();
  EXPECT_FALSE(replace_file(p, "x", {}, why));
  EXPECT_NE(why.find("cannot create a temporary file next to it: No such file or directory"), std::string::npos) << why;
  EXPECT_EQ(names(), std::vector<std::string>{});
}

TEST_F(ReplaceFileTest, AFailedRenameKeepsTheOldFileAndLeavesNothing) {
  // A folder where the file should go: the rename fails after the contents were written.
  fs::create_directories(dir / "d");
  std::string why;
  EXPECT_FALSE(replace_file((dir / "d").string(), "x", {}, why));
  EXPECT_NE(why.find("cannot replace it"), std::string::npos) << why;
  EXPECT_TRUE(fs::is_directory(dir / "d"));
  EXPECT_EQ(names(), std::vector<std::string>{"d"});
}

TEST_F(ReplaceFileTest, AFailedStreamKeepsTheOldFile) {
  std::string why;
  ASSERT_TRUE(replace_file(path, "old\n", {}, why)) << why;
  EXPECT_FALSE(replace_file(
      path,
      [](std::ostream& out) {
        out << "half";
        out.setstate(std::ios::badbit);
      },
      {}, why));
  EXPECT_NE(why.find("write failed"), std::string::npos) << why;
  EXPECT_EQ(read(path), "old\n");
  EXPECT_EQ(names(), std::vector<std::string>{"f.txt"});
}

TEST_F(ReplaceFileTest, AWriterThatThrowsKeepsTheOldFile) {
  std::string why;
  ASSERT_TRUE(replace_file(path, "old\n", {}, why)) << why;
  EXPECT_THROW(replace_file(
                   path,
                   [](std::ostream& out) {
                     out << std::string(200000, 'x');  // some of it already flushed to the temporary file
                     throw std::runtime_error("the writer failed");
                   },
                   {}, why),
               std::runtime_error);
  EXPECT_EQ(read(path), "old\n");
  EXPECT_EQ(names(), std::vector<std::string>{"f.txt"});
}

TEST_F(ReplaceFileTest, ADeviceThatIsFullFailsTheWrite) {
  if (!fs::exists("/dev/full")) GTEST_SKIP() << "no /dev/full";
  // write_all reports the device's error (ENOSPC) rather than losing it.
  int fd = ::open("/dev/full", O_WRONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  errno = 0;
  EXPECT_FALSE(write_all(fd, "x"));
  EXPECT_EQ(errno, ENOSPC);
  ::close(fd);
}

}  // namespace
}  // namespace bloom::rt
