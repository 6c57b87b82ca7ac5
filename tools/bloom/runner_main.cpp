// The `main` of a binary made by `bloom build` (docs/jit.md, "bloom build"): it compiles the
// program embedded in the binary (the front end takes milliseconds) and runs it as `bloom run`
// does, with the same options, outputs, errors and exit statuses, its rules' segments taken from
// the table of code compiled ahead of time. Never loads LLVM or the JIT module: a segment not in
// the table (a --param that changes a constant, say) is interpreted.
#include <CLI/CLI.hpp>
#include <exception>
#include <iostream>
#include <new>
#include <string>
#include <string_view>
#include <unordered_map>

#include "embedded_program.h"
#include "jit/aot_table.h"
#include "jit/supported.h"
#include "run_command.h"

extern "C" {
extern const BloomAotSegment bloom_aot_segments[];
extern const uint64_t bloom_aot_segment_count;
extern const char bloom_aot_program[];
extern const uint64_t bloom_aot_program_size;
}

namespace {

using namespace bloom;

// The engine's native code: a lookup in the binary's table by segment key. Threshold 0: the
// engine asks for every segment before its rules first run.
class TableNativeCode : public rt::NativeCode {
 public:
  TableNativeCode() {
    for (uint64_t i = 0; i < bloom_aot_segment_count; ++i)
      fns_.emplace(std::string_view(bloom_aot_segments[i].key, bloom_aot_segments[i].key_size), bloom_aot_segments[i].fn);
  }
  bool supports_step(const plan::Expr& e) const override { return rt::jit::supported(e); }
  bool supports_joins() const override { return true; }
  bool supports_head_column(const plan::Expr& e) const override { return rt::jit::head_column_supported(e); }
  std::vector<rt::SegmentFn> compile(const std::vector<rt::SegmentSpec>& specs) override {
    std::vector<rt::SegmentFn> out;
    for (const auto& spec : specs) out.push_back(find(spec));
    return out;
  }
  void compile_later(rt::SegmentSpec spec, rt::SegmentSlot slot) override { slot->store(find(spec), std::memory_order_release); }
  uint64_t threshold() const override { return 0; }

 private:
  rt::SegmentFn find(const rt::SegmentSpec& spec) const {
    auto it = fns_.find(rt::jit::segment_key(spec));
    return it == fns_.end() ? nullptr : it->second;
  }
  std::unordered_map<std::string_view, rt::SegmentFn> fns_;
};

class TableRunEngine : public cli::RunEngine {
 public:
  bool init(bool, int&) override { return true; }
  rt::NativeCode* native() override { return &table_; }

 private:
  TableNativeCode table_;
};

}  // namespace

int main(int argc, char** argv) {
  using namespace bloom::cli;
  auto program = decode(std::string(bloom_aot_program, bloom_aot_program_size));
  if (!program) {
    std::cerr << argv[0] << ": internal error: the embedded program is damaged; build the binary again with `bloom build`\n";
    return 70;
  }
  CLI::App app{"Runs " + program->main + " (built by `bloom build`) on one node, in this process, as\n`bloom run " + program->main +
                   "` would: until it is quiescent, derives halt(), or reaches --max-ticks.\n"
                   "Inputs come from facts files, outputs are every tuple an output collection held in any tick.",
               argv[0]};
  RunOptions ro;
  add_run_options(&app, ro);
  app.footer(
      "Without -D or --sizes the outputs are printed at the end as `name(v1, v2)` lines. stdout lines\n"
      "(`stdout(line) <~ ...`) are printed as each tick ends, sorted within the tick.\n"
      "The program's sources are part of this binary; --param settings come after the ones given to `bloom build`.\n"
      "Exit status: 0 done, 1 compile error, 2 usage error, 3 runtime error or bad facts file.");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kUsage;
  }
  ro.file = program->main;
  ro.params.insert(ro.params.begin(), program->params.begin(), program->params.end());
  ro.source.stdlib_dir = program->stdlib_dir;
  ro.source.read = [&](const std::string& path, std::string& text, std::string& why) {
    auto it = program->files.find(path);
    if (it == program->files.end()) {
      why = "not part of this binary (bloom build embeds the files the program imported when it was built)";
      return false;
    }
    text = it->second;
    return true;
  };
  try {
    TableRunEngine engine;
    return run_program(ro, engine);
  } catch (const std::bad_alloc&) {
    std::cerr << "bloom: error: out of memory\n";
    return kRuntimeError;
  } catch (const std::exception& e) {
    std::cerr << "bloom: internal error: " << e.what() << "\n";
    return 70;
  }
}
