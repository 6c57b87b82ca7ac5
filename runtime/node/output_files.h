// Outputs written as ticks complete (-D DIR of `bloom node`, and of `bloom run` with a data
// directory): each output's DIR/NAME.csv grows by the tuples each completed tick added to it, so a
// killed process leaves every completed tick's outputs behind. When the node stops cleanly the file
// is rewritten sorted, as a batch run writes it. docs/deploy.md, "Outputs".
#pragma once
#include <cstdint>
#include <string>
#include <unordered_set>
#include <vector>

#include "node/node.h"

namespace bloom::rt {

class OutputFiles {
 public:
  // Opens DIR/NAME.csv for every output of `node`. A fresh node starts each file empty. With
  // `carry_on` (a node started again that recovered its state: restarted by its launcher, or
  // given its data directory again) the lines an earlier process wrote stay, and are not written
  // twice. Throws std::runtime_error naming the file.
  OutputFiles(const Node& node, std::string dir, bool carry_on);
  ~OutputFiles();
  OutputFiles(const OutputFiles&) = delete;
  OutputFiles& operator=(const OutputFiles&) = delete;

  // After each completed tick: appends the tuples new in each output since the last call, one
  // write per file. Throws std::runtime_error naming the file (a full disk).
  void append();
  // When the node stops: every file rewritten whole and sorted, atomically. With lines carried
  // from an earlier process the lines are ordered as text, field by field, numbers by value (the
  // values' order but for strings that look like numbers); otherwise by the values, as
  // everywhere else. Throws std::runtime_error naming the file.
  void finish();

 private:
  struct File {
    uint32_t relation = 0;
    std::string path;
    int fd = -1;
    RowId written = 0;                        // rows of the output's log below this are in the file
    std::unordered_set<std::string> carried;  // lines an earlier process wrote
  };
  const Node& node_;
  std::vector<File> files_;
};

}  // namespace bloom::rt
