// The program a binary made by `bloom build` carries (docs/jit.md, "bloom build"): the main
// file's path, the text of it and of every file it imports (by the paths the compiler read them
// by, so diagnostics name them as `bloom run` would), the build's --param settings and the
// folder of the standard library it imported from. Written
// by `bloom build`, read by the binary's runner, as bytes (length-prefixed fields).
#pragma once
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace bloom::cli {

struct EmbeddedProgram {
  std::string main;                          // the main file's path
  std::map<std::string, std::string> files;  // path -> source text, the main file included
  std::vector<std::string> params;           // NAME=VALUE, given to `bloom build`
  // The standard library's folder when it was built: `import "std/..."` names the embedded
  // files under it, wherever the binary runs.
  std::string stdlib_dir;
};

std::string encode(const EmbeddedProgram& p);
// nullopt if `bytes` is not an encoded program.
std::optional<EmbeddedProgram> decode(const std::string& bytes);

}  // namespace bloom::cli
