// This process and the programs it runs: the path of the running executable (where bloom finds
// its JIT module, link manifest and standard library), and another program run to completion
// with its output captured (the C++ driver that links `bloom build`'s binaries, Graphviz's `dot`
// for the svg and html formats).
#pragma once
#include <filesystem>
#include <string>
#include <vector>

namespace bloom::cli {

// The running executable's path, from /proc/self/exe; empty if the system does not say.
std::filesystem::path self_executable();

struct ProgramRun {
  std::string error;  // why the program did not run (not found, no temporary folder...); "" if it ran
  int status = 0;     // its exit status, or 128 + the signal that ended it
  std::string out;    // what it wrote on stdout, and on stderr too with merge_stderr
  std::string err;    // what it wrote on stderr, without merge_stderr
};

// Runs argv (argv[0] looked up on PATH) to completion, with `input` on its stdin. Its input and
// output go through files in a private temporary folder, removed after: no deadlock on big
// outputs, no threads, and no fork of a process that may have threads (posix_spawn).
ProgramRun run_program(const std::vector<std::string>& argv, const std::string& input = {}, bool merge_stderr = false);

}  // namespace bloom::cli
