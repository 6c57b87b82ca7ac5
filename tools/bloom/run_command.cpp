// `bloom run FILE` (one node, in this process) as a function, shared by the `bloom` command
// and the runner of a binary made by `bloom build` (tools/bloom/runner_main.cpp).
#include "run_command.h"

#include <unistd.h>

#include <filesystem>
#include <iostream>

#include "core/memory.h"
#include "node/facts.h"
#include "node/node.h"
#include "node/output_files.h"

namespace bloom::cli {

bool want_color(const std::string& mode, int fd) {
  if (mode == "always") return true;
  if (mode == "never") return false;
  const char* term = std::getenv("TERM");
  return isatty(fd) && !std::getenv("NO_COLOR") && !(term && std::string(term) == "dumb");
}

std::optional<bloom::CompileOptions> parse_params(const std::vector<std::string>& raw) {
  bloom::CompileOptions opts;
  for (const auto& p : raw) {
    auto eq = p.find('=');
    if (eq == std::string::npos || eq == 0) {
      std::cerr << "bloom: --param expects NAME=VALUE, got '" << p << "'\n";
      return std::nullopt;
    }
    opts.params.emplace_back(p.substr(0, eq), p.substr(eq + 1));
  }
  return opts;
}

bool usage_error(const bloom::Compilation& c) {
  for (const auto& d : c.diags.all())
    if (d.code == "cannot-read" || d.code == "unknown-param" || d.code == "bad-param-value") return true;
  return false;
}

std::unique_ptr<bloom::plan::Program> compile_plan(const std::string& file, const std::vector<std::string>& raw_params,
                                                   const std::string& color, std::unique_ptr<bloom::Compilation>& c, int& exit,
                                                   bool warnings, const ProgramSource& source) {
  auto opts = parse_params(raw_params);
  if (!opts) {
    exit = kUsage;
    return nullptr;
  }
  opts->read_source = source.read;
  opts->stdlib_dir = source.stdlib_dir;
  c = bloom::compile_file(file, *opts);
  if (!c->ok() || (warnings && c->diags.warning_count() > 0)) bloom::render_text(c->sources, c->diags, std::cerr, {want_color(color)});
  if (!c->ok()) {
    exit = usage_error(*c) ? kUsage : kCompileError;
    return nullptr;
  }
  std::string error;
  auto plan = bloom::plan_of(*c, error);
  if (!plan) {
    std::cerr << "bloom: error: " << error << "\n";
    exit = kCompileError;
  }
  return plan;
}

bool prepare_dirs(const std::string& facts_dir, const std::string& facts_what, const std::string& out_dir) {
  namespace fs = std::filesystem;
  if (!facts_dir.empty() && !fs::is_directory(facts_dir)) {
    std::cerr << "bloom: error: " << facts_what << " " << facts_dir << ": not a directory\n";
    return false;
  }
  if (!out_dir.empty()) {
    std::error_code ec;
    fs::create_directories(out_dir, ec);
    if (ec || !fs::is_directory(out_dir)) {
      std::cerr << "bloom: error: -D " << out_dir << ": cannot create the directory" << (ec ? ": " + ec.message() : "") << "\n";
      return false;
    }
  }
  return true;
}

int run_program(const RunOptions& o, RunEngine& engine) {
  std::unique_ptr<bloom::Compilation> c;
  int exit = kOk;
  auto plan = compile_plan(o.file, o.params, o.color, c, exit, true, o.source);
  if (!plan) return exit;
  c.reset();  // the AST and sources are not needed while the program runs
  if (!prepare_dirs(o.facts_dir, "-F", o.out_dir)) return kUsage;
  if (!engine.init(o.quiet, exit)) return exit;
  namespace fs = std::filesystem;
  bloom::rt::NodeOptions no;
  no.name = o.name;
  no.native = engine.native();
  no.max_ticks = o.max_ticks;
  if (!o.quiet && isatty(STDERR_FILENO)) {
    no.progress = [](const std::string& line) { std::cerr << "\r\033[K" << line << std::flush; };
  }
  std::unique_ptr<bloom::rt::DurableFiles> store;
  if (!o.data_dir.empty()) {
    try {
      store = bloom::rt::open_data_dir(o.data_dir);
    } catch (const bloom::rt::DurableError& e) {
      std::cerr << "bloom: error: " << e.what() << "\n";
      return kRuntimeError;
    }
    no.durable = store.get();
  }
  // With -D and a data directory the outputs are written as ticks complete (a killed run keeps
  // them, and its rerun carries on); a batch run writes them once, at the end.
  std::unique_ptr<bloom::rt::OutputFiles> streamed;
  no.after_tick = [&streamed] {
    if (streamed) streamed->append();
  };
  bloom::rt::Node node(*plan, no);
  if (!store && node.has_durable() && !o.quiet)
    std::cerr << "bloom: note: no --data-dir: the durable tables are kept in memory only, as if not durable\n";
  bloom::rt::RunSummary summary;
  bool failed = false;
  try {
    if (store) {
      auto rec = node.recover_durable();
      for (const auto& w : rec.warnings) std::cerr << "bloom: warning: " << w << "\n";
      if (!o.out_dir.empty()) {
        try {
          streamed = std::make_unique<bloom::rt::OutputFiles>(node, o.out_dir, rec.found);
        } catch (const std::runtime_error& e) {
          std::cerr << "bloom: error: -D " << o.out_dir << ": " << e.what() << "\n";
          return kRuntimeError;
        }
      }
    }
    if (!o.facts_dir.empty()) {
      std::vector<std::string> missing;
      node.load_inputs(o.facts_dir, missing);
      if (!o.quiet)
        for (const auto& m : missing) std::cerr << "bloom: note: no " << m << "; that input starts empty\n";
    }
    bloom::rt::reserve_emergency_memory();
    summary = node.run();
  } catch (const bloom::rt::FactsError& e) {
    std::cerr << "bloom: error: " << e.what() << "\n";
    return kRuntimeError;
  } catch (const bloom::rt::DurableError& e) {
    std::cerr << "bloom: error: " << e.what() << "\n";
    return kRuntimeError;
  } catch (const bloom::rt::RuntimeError& e) {
    std::cerr << "bloom: runtime error: " << e.what() << "\n";
    failed = true;
  } catch (const std::bad_alloc&) {
    // The tick that ran out added nothing to the output logs (they grow at its end); what the
    // completed ticks produced is still written below, with the memory set aside for it.
    bloom::rt::release_emergency_memory();
    std::cerr << "bloom: error: out of memory in tick " << node.ticks() << "; writing the outputs of the completed ticks\n";
    failed = true;
  }
  // Outputs of the completed ticks are written even after a runtime error (the failing tick
  // contributed nothing), each file atomically.
  try {
    for (uint32_t id : node.outputs()) {
      const auto& r = plan->relations[id];
      if (!o.out_dir.empty() && !streamed)
        bloom::rt::write_file_atomically((fs::path(o.out_dir) / (r.name + ".csv")).string(),
                                         [&](std::ostream& out) { node.write_output(id, true, out); });
      if (o.sizes) std::cout << r.name << "\t" << node.output_size(id) << "\n";
      else if (o.out_dir.empty() && !failed) node.write_output(id, false, std::cout);
    }
    if (streamed) streamed->finish();
  } catch (const std::exception& e) {
    std::cerr << "bloom: error: " << e.what() << "\n";
    return kRuntimeError;
  }
  engine.finish();
  if (failed) return kRuntimeError;
  if (summary.tick_limit && !o.quiet)
    std::cerr << "bloom: note: stopped after " << summary.ticks << " tick" << (summary.ticks == 1 ? "" : "s")
              << " (--max-ticks) with work still pending\n";
  return kOk;
}

}  // namespace bloom::cli
