// `bloom run FILE`: one program on one node, in this process, as a function that both the
// `bloom` command (tools/bloom/main.cpp) and the runner of a binary made by `bloom build`
// (tools/bloom/runner_main.cpp) call, so the two take the same options and give the same
// outputs, errors and exit statuses. Only the native code differs: the JIT, or a binary's table
// of segments compiled ahead of time.
#pragma once
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "driver/driver.h"
#include "eval/native.h"
#include "plan/ir.h"

namespace CLI {
class App;  // CLI11 costs seconds per file that includes it: only run_options.cpp does
}

namespace bloom::cli {

enum Exit { kOk = 0, kCompileError = 1, kUsage = 2, kRuntimeError = 3, kNeedsCoordination = 4, kFoundFailure = 5 };

// `--color auto` colours a stream only when it is a terminal (and NO_COLOR is unset).
bool want_color(const std::string& mode, int fd = STDERR_FILENO);

// `--param NAME=VALUE` settings as compile options; nullopt (after saying why) if malformed.
std::optional<CompileOptions> parse_params(const std::vector<std::string>& raw);
// Whether a failed compilation is the command line's fault (unreadable file, bad --param).
bool usage_error(const Compilation& c);

using SourceReader = decltype(CompileOptions::read_source);

// Where a program's files come from: by default the disk, and `import "std/..."` from the
// standard library bloom finds (driver.h: find_stdlib). A binary of `bloom build` reads the
// files it embeds, under the standard library's folder at build time.
struct ProgramSource {
  SourceReader read;
  std::optional<std::string> stdlib_dir;
};

// Compiles `file` and lowers it to the Plan IR, printing diagnostics. Null (with `exit` set)
// when it does not compile.
std::unique_ptr<plan::Program> compile_plan(const std::string& file, const std::vector<std::string>& raw_params, const std::string& color,
                                            std::unique_ptr<Compilation>& c, int& exit, bool warnings = true,
                                            const ProgramSource& source = {});

// The facts directory must exist; the output directory is created. false (after saying why) if not.
bool prepare_dirs(const std::string& facts_dir, const std::string& facts_what, const std::string& out_dir);

// `--engine interp|jit`, `--jit-threshold N` and `--jit-stats` of run, node and sim
// (docs/jit.md): which evaluator runs the rules.
struct EngineChoice {
  std::string engine;     // "" = the default: $BLOOM_ENGINE, else jit
  std::string threshold;  // "" = the default: $BLOOM_JIT_THRESHOLD, else 4096
  bool stats = false;     // print what the JIT compiled, on stderr, at the end
  bool explicit_choice() const { return !engine.empty() || std::getenv("BLOOM_ENGINE"); }
};

struct RunOptions {
  EngineChoice engine;
  std::string file, facts_dir, out_dir, data_dir, name = "local";
  std::vector<std::string> params;
  int64_t max_ticks = -1;
  bool sizes = false, quiet = false;
  std::string color = "auto";
  ProgramSource source;  // where the program's files come from (default: disk)
};

// Where run_program gets the rules' native code, set up after the program compiled.
class RunEngine {
 public:
  virtual ~RunEngine() = default;
  // false (after saying why, with `exit` set) when it cannot be set up.
  virtual bool init(bool quiet, int& exit) = 0;
  virtual rt::NativeCode* native() = 0;  // null: interpret everything
  virtual void finish() {}               // after the outputs are written (--jit-stats)
};

// Runs `o.file` as `bloom run FILE` does; returns the exit status.
int run_program(const RunOptions& o, RunEngine& engine);

// The options of `bloom run FILE` that a built binary takes too: -F, -D, --data-dir, --sizes,
// --param, --max-ticks, --name, -q, --color.
void add_run_options(CLI::App* cmd, RunOptions& o);

}  // namespace bloom::cli
