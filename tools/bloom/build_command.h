// `bloom build FILE -o BINARY` (tools/bloom/build_command.cpp, docs/jit.md).
#pragma once
#include <string>
#include <vector>

#include "run_command.h"

namespace bloom::cli {

struct BuildCommand {
  std::string file, output, color = "auto";
  std::vector<std::string> params;
  bool quiet = false;
  bool debug = false;  // keep the debug information of the runtime's libraries (a slower link)
};
// 0 built; 1 the program does not compile; 2 usage (bad -o, no JIT module, no compiler, no
// link manifest); 3 LLVM or the link failed (the linker's output shown).
int run_build(const BuildCommand& cmd);

}  // namespace bloom::cli
