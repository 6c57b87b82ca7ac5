#include "driver/driver.h"

#include <cstdlib>
#include <filesystem>
#include <stdexcept>

#include "plan/lower.h"
#include "plan/verify.h"
#include "sema/checker.h"
#include "syntax/parser.h"

namespace bloom {
namespace {

std::unique_ptr<Compilation> compile(std::unique_ptr<Compilation> c, FileId file, const CompileOptions& opts) {
  auto module = parse_module(c->sources, file, c->diags);
  if (!c->diags.has_errors()) {
    sema::CheckOptions so;
    so.params = opts.params;
    if (opts.stdlib_dir) so.stdlib_dir = *opts.stdlib_dir;
    else so.stdlib_dir = find_stdlib(&so.stdlib_searched);
    so.read_source = opts.read_source;
    c->program = sema::check_program(c->sources, file, std::move(module), c->diags, so);
  }
  if (c->program) {
    c->graph = std::make_unique<analysis::DependencyGraph>(*c->program);
    c->strata = analysis::stratify(*c->program, *c->graph, c->diags);
  }
  c->diags.sort_and_dedupe();
  return c;
}

}  // namespace

std::string find_stdlib(std::vector<std::string>* searched) {
  namespace fs = std::filesystem;
  auto is_dir = [](const fs::path& p) {
    std::error_code ec;
    return fs::is_directory(p, ec);
  };
  if (const char* env = std::getenv("BLOOM_STDLIB"); env && *env) {
    if (searched) searched->push_back(std::string("$BLOOM_STDLIB (") + env + ")");
    return is_dir(env) ? fs::path(env).lexically_normal().string() : "";
  }
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return "";
  for (fs::path dir : {exe.parent_path() / ".." / "share" / "bloom" / "stdlib", exe.parent_path() / "stdlib"}) {
    dir = dir.lexically_normal();
    if (searched) searched->push_back(dir.string());
    if (is_dir(dir)) return dir.string();
  }
  return "";
}

std::unique_ptr<Compilation> compile_text(const std::string& path, std::string text, const CompileOptions& opts) {
  auto c = std::make_unique<Compilation>();
  FileId file = c->sources.add(path, std::move(text));
  return compile(std::move(c), file, opts);
}

std::unique_ptr<plan::Program> plan_of(const Compilation& c, std::string& error) {
  std::unique_ptr<plan::Program> plan;
  try {
    plan = plan::lower(*c.program, *c.strata, c.sources);
  } catch (const std::exception& e) {
    error = e.what();
    return nullptr;
  }
  // A plan that breaks what the engines assume would be a wrong answer or a crash at run time:
  // it is an internal error here, naming where (plan/verify.h).
  if (auto problems = plan::verify(*plan); !problems.empty()) {
    error = "internal error: the plan of " + plan->source + " breaks the engines' contract (plan::verify), please report it:";
    for (size_t i = 0; i < problems.size() && i < 10; ++i) error += "\n  " + problems[i];
    if (problems.size() > 10) error += "\n  and " + std::to_string(problems.size() - 10) + " more";
    return nullptr;
  }
  return plan;
}

std::unique_ptr<Compilation> compile_file(const std::string& path, const CompileOptions& opts) {
  std::string text, why;
  if (!(opts.read_source ? opts.read_source(path, text, why) : sema::read_source_file(path, text, why))) {
    auto c = std::make_unique<Compilation>();
    c->diags.error("cannot-read", Span{}, "cannot read " + path + ": " + why);
    return c;
  }
  return compile_text(path, std::move(text), opts);
}

}  // namespace bloom
