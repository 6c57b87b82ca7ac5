// `bloom`: the command-line front door. Each subcommand composes library layers; no compiler
// logic lives here.
#include <unistd.h>

#if defined(__GLIBC__) && !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
#include <malloc.h>
#include <sys/mman.h>
#define BLOOM_HUGE_HEAP 1
#endif

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <atomic>
#include <climits>
#include <cstdint>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <map>
#include <optional>
#include <set>
#include <string_view>

#include "analysis/calm.h"
#include "analysis/lint_html.h"
#include "analysis/lint_report.h"
#include "driver/driver.h"

#include "dist/cluster.h"
#include "jit/plugin.h"
#include "net/wire.h"
#include "node/deployment.h"
#include "node/facts.h"
#include "node/node.h"
#include "node/output_files.h"
#include "plan/print.h"
#include "build_command.h"
#include "segment_recorder.h"
#include "cli.h"
#include "graphviz.h"
#include "lsp/server.h"
#include "process.h"

namespace bloom::cli {

namespace {

// "4096", "64K", "256M", "2G" (powers of 1024); nullopt if not a size.
std::optional<uint64_t> parse_size(std::string_view text) {
  uint64_t n = 0;
  size_t i = 0;
  for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
    if (n > (UINT64_MAX - 9) / 10) return std::nullopt;
    n = n * 10 + static_cast<uint64_t>(text[i] - '0');
  }
  if (i == 0) return std::nullopt;
  int shift = 0;
  if (i + 1 == text.size()) {
    switch (text[i]) {
      case 'K':
      case 'k': shift = 10; break;
      case 'M':
      case 'm': shift = 20; break;
      case 'G':
      case 'g': shift = 30; break;
      default: return std::nullopt;
    }
  } else if (i != text.size()) {
    return std::nullopt;
  }
  if (shift && n > (UINT64_MAX >> shift)) return std::nullopt;
  return n << shift;
}

}  // namespace

bool EngineSetup::init(const EngineChoice& choice, bool quiet, int& exit, bool load) {
  auto fail = [&](const std::string& why) {
    std::cerr << "bloom: error: " << why << "\n";
    exit = kUsage;
    return false;
  };
  const char* env_engine = std::getenv("BLOOM_ENGINE");
  const std::string engine = !choice.engine.empty() ? choice.engine : env_engine ? env_engine : "jit";
  const std::string source = !choice.engine.empty() ? "--engine " : "BLOOM_ENGINE=";
  if (engine != "jit" && engine != "interp") return fail(source + engine + ": expected jit or interp");
  const char* env_threshold = std::getenv("BLOOM_JIT_THRESHOLD");
  const std::string threshold = !choice.threshold.empty() ? choice.threshold : env_threshold ? env_threshold : "";
  rt::jit::SegmentJitOptions options;
  if (!threshold.empty()) {
    const std::string what = (!choice.threshold.empty() ? "--jit-threshold " : "BLOOM_JIT_THRESHOLD=") + threshold;
    size_t used = 0;
    try {
      if (threshold[0] == '-') throw std::invalid_argument("negative");
      options.threshold = std::stoull(threshold, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != threshold.size()) return fail(what + ": expected a number of frames (0: compile before the first)");
    options.weigh = false;  // the threshold alone decides
  }
  // The code cache on disk: $BLOOM_JIT_CACHE (off: none), else the user's cache folder.
  if (const char* dir = std::getenv("BLOOM_JIT_CACHE")) {
    options.cache_dir = std::string(dir) == "off" ? "" : dir;
  } else if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg) {
    options.cache_dir = std::string(xdg) + "/bloom/jit";
  } else if (const char* home = std::getenv("HOME"); home && *home) {
    options.cache_dir = std::string(home) + "/.cache/bloom/jit";
  }
  if (const char* max = std::getenv("BLOOM_JIT_CACHE_MAX")) {
    auto bytes = parse_size(max);
    if (!bytes) return fail(std::string("BLOOM_JIT_CACHE_MAX=") + max + ": expected a size in bytes, or with K, M or G (0: no limit)");
    options.cache_max_bytes = *bytes;
  }
  stats_ = choice.stats;
  if (!choice.engine.empty()) args_ = {"--engine", choice.engine};
  if (!choice.threshold.empty()) args_.insert(args_.end(), {"--jit-threshold", choice.threshold});
  if (stats_) args_.push_back("--jit-stats");
  if (engine == "interp" || !load) return true;
  std::string error;
  if (!rt::jit::plugin_present(error)) {
    if (choice.explicit_choice()) return fail(source + "jit: " + error);
    if (!quiet) std::cerr << "bloom: note: " << error << "; the rules are interpreted (--engine interp)\n";
    return true;
  }
  native_ = rt::jit::make_lazy_native_code(options, [quiet](const std::string& why) {
    if (!quiet) std::cerr << "bloom: note: " << why << "; the rules are interpreted\n";
  });
  return true;
}

void EngineSetup::print_stats(const std::string& prefix) const {
  if (!stats_) return;
  bool loaded = false;
  auto s = native_ ? rt::jit::lazy_native_stats(*native_, loaded) : rt::jit::SegmentJitStats{};
  if (!native_) {
    std::cerr << prefix << "bloom: jit: off (the rules were interpreted)\n";
    return;
  }
  if (!loaded) {
    std::cerr << prefix << "bloom: jit: nothing compiled (no segment did enough work to be worth it; LLVM was not loaded)\n";
    return;
  }
  std::cerr << prefix
            << fmt::format(
                   "bloom: jit: {} segment{} compiled in {:.1f} ms (median {:.2f} ms, max {:.2f} ms), {} loaded from the code cache, "
                   "{} shared, {} failed\n",
                   s.compiled, s.compiled == 1 ? "" : "s", s.total_ms, s.median_ms, s.max_ms, s.from_disk, s.cached, s.failed);
}

void print_strata(const bloom::Compilation& c) {
  const auto& prog = *c.program;
  const auto& s = *c.strata;
  for (size_t k = 0; k < s.count(); ++k) {
    std::cout << "stratum " << k << ":";
    for (const auto& col : prog.collections)
      if (s.stratum_of[col.id] == k && (!c.graph->in(col.id).empty() || !c.graph->out(col.id).empty()))
        std::cout << " " << col.name << (s.recursive[col.id] ? "*" : "");
    // A seal's release is a rule sema adds (docs/language.md, seals): counted apart.
    size_t releases =
        static_cast<size_t>(std::count_if(s.rules[k].begin(), s.rules[k].end(), [&](uint32_t r) { return prog.rules[r].seal >= 0; }));
    size_t written = s.rules[k].size() - releases;
    std::cout << "  (";
    if (written || !releases) std::cout << written << " rule" << (written == 1 ? "" : "s") << (releases ? ", " : "");
    if (releases) std::cout << "the release of " << releases << " seal" << (releases == 1 ? "" : "s");
    std::cout << ")\n";
  }
  if (!s.transition_rules.empty())
    std::cout << "end of tick: " << s.transition_rules.size() << " deferred/async rule" << (s.transition_rules.size() == 1 ? "" : "s")
              << "\n";
}

// Leaves a compilation to the end of the process instead of freeing it: a large program is
// millions of small objects, and freeing them one by one takes longer than the operating system
// reclaiming the pages. Kept reachable, so leak checkers do not count it.
void keep_until_exit(std::unique_ptr<bloom::Compilation> c) {
  static auto* kept = new std::vector<std::unique_ptr<bloom::Compilation>>;
  kept->push_back(std::move(c));
}

// The front end allocates about 100 bytes of heap per byte of a large program, in small objects,
// and the page faults on that much fresh memory were a fifth of `bloom lint`'s time on 50,000
// rules. So for a large input the heap is grown once, up front, and advised to be backed by huge
// pages (as GLIBC_TUNABLES=glibc.malloc.hugetlb=1 would): one fault then maps 2 MB, not 4 KB.
// Only check and lint do this: they exit when done, and the heap is not given back before.
void prepare_heap(const std::vector<std::string>& files) {
#ifdef BLOOM_HUGE_HEAP
  constexpr uintmax_t kMinSource = 1 << 20;  // smaller programs take well under a second anyway
  constexpr size_t kBlock = 16 << 20;        // below the mmap threshold set here: heap memory
  uintmax_t bytes = 0;
  for (const auto& f : files) {
    std::error_code ec;
    uintmax_t n = std::filesystem::file_size(f, ec);
    if (!ec) bytes += n;
  }
  if (bytes < kMinSource) return;
  size_t want = static_cast<size_t>(std::min<uintmax_t>(bytes * 100, uintmax_t{4} << 30));
  mallopt(M_MMAP_THRESHOLD, 2 * kBlock);  // blocks this large come from the heap, and stay there
  mallopt(M_TRIM_THRESHOLD, INT_MAX);     // free keeps the memory for the next malloc
  long page = sysconf(_SC_PAGESIZE);
  std::vector<void*> blocks;
  for (size_t got = 0; got < want; got += kBlock) {
    void* p = std::malloc(kBlock);
    if (!p) break;
    blocks.push_back(p);
    auto begin = (reinterpret_cast<uintptr_t>(p) + page - 1) / page * page;
    auto end = (reinterpret_cast<uintptr_t>(p) + kBlock) / page * page;
    madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);  // only advice: errors do not matter
  }
  for (void* p : blocks) std::free(p);  // back to the heap's top, still advised, not yet touched
#else
  (void)files;
#endif
}

int run_check(const std::vector<std::string>& files, const std::string& format, const std::string& color,
              const std::vector<std::string>& raw_params, bool strata, bool quiet) {
  auto opts = parse_params(raw_params);
  if (!opts) return kUsage;
  prepare_heap(files);
  bool failed = false, usage = false;
  nlohmann::json report = {{"files", nlohmann::json::array()}, {"errors", 0}, {"warnings", 0}};
  int deployments = kOk;  // the worst status of the deployment files among `files`
  for (const auto& file : files) {
    if (is_deployment(file)) {
      deployments = std::max(deployments, check_deployment(file, format, color, quiet));
      continue;
    }
    auto c = bloom::compile_file(file, *opts);
    failed = failed || !c->ok();
    // A bad command line (unreadable file, unknown or malformed --param) is a usage error.
    usage = usage || usage_error(*c);
    if (format == "json") {
      auto one = nlohmann::json::parse(bloom::render_json(c->sources, c->diags));
      one["file"] = file;
      report["errors"] = report["errors"].get<size_t>() + c->diags.error_count();
      report["warnings"] = report["warnings"].get<size_t>() + c->diags.warning_count();
      report["files"].push_back(std::move(one));
      continue;
    }
    bloom::render_text(c->sources, c->diags, std::cerr, {want_color(color)});
    if (c->ok()) {
      if (!quiet) {
        const auto& p = *c->program;
        // stdout and halt are built in; a seal adds a hidden table and its release rule.
        size_t seals = p.seals.size();
        size_t user = p.collections.size() - 2 - seals, rules = p.rules.size() - seals;
        std::cout << file << ": ok (" << user << " collection" << (user == 1 ? "" : "s") << ", " << rules << " rule"
                  << (rules == 1 ? "" : "s") << ", " << c->strata->count() << " strat" << (c->strata->count() == 1 ? "um" : "a");
        if (seals) std::cout << ", " << seals << " seal" << (seals == 1 ? "" : "s");
        std::cout << ")\n";
      }
      if (strata) print_strata(*c);
    }
    if (&file == &files.back()) keep_until_exit(std::move(c));
  }
  if (format == "json" && report["files"].size() > 0)
    std::cout << report.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  if (usage || deployments == kUsage) return kUsage;
  return failed || deployments != kOk ? kCompileError : kOk;
}

int run_lint(const std::string& file, const std::string& format, const std::string& color, const std::vector<std::string>& raw_params) {
  if (is_deployment(file)) {
    if (!raw_params.empty()) {
      std::cerr << "bloom: error: --param does not apply to a deployment: set `params` per node in " << file << "\n";
      return kUsage;
    }
    return lint_deployment(file, format, color);
  }
  auto opts = parse_params(raw_params);
  if (!opts) return kUsage;
  prepare_heap({file});
  auto c = bloom::compile_file(file, *opts);
  bool tty_color = want_color(color);
  if (!c->ok()) {
    bloom::render_text(c->sources, c->diags, std::cerr, {tty_color});
    return usage_error(*c) ? kUsage : kCompileError;
  }
  // Warnings of the front end still matter to someone reading a lint report.
  if (c->diags.warning_count() > 0) bloom::render_text(c->sources, c->diags, std::cerr, {tty_color});
  auto report = bloom::analysis::analyze_calm(*c->program, *c->graph);
  if (format == "json") {
    bloom::analysis::write_lint_json(c->sources, *c->program, report, std::cout);
    std::cout << "\n";
  } else if (format == "sarif") std::cout << bloom::analysis::render_lint_sarif(c->sources, *c->program, report, BLOOM_VERSION) << "\n";
  else if (format == "dot") std::cout << bloom::analysis::render_lint_dot(*c->program, *c->graph, report);
  else if (format == "svg" || format == "html") {
    std::string svg, error;
    if (!bloom::cli::render_svg(bloom::analysis::render_lint_dot(*c->program, *c->graph, report), svg, error)) {
      std::cerr << "bloom: error: " << error << "\n";
      return kRuntimeError;
    }
    if (format == "svg") std::cout << svg;
    else std::cout << bloom::analysis::render_lint_html(c->sources, *c->program, report, svg, BLOOM_VERSION);
  } else bloom::analysis::render_lint_text(c->sources, *c->program, report, std::cout, {want_color(color, STDOUT_FILENO)});
  keep_until_exit(std::move(c));
  return report.fails() ? kNeedsCoordination : kOk;
}

// `bloom plan --format llvm` (docs/jit.md): every segment the JIT would compile, each described
// in a comment (its rule, variant and steps, as `bloom plan` prints them), then their LLVM IR
// after the optimization passes. Equal segments are one function, as in the JIT's caches.
bool segments_llvm(const bloom::plan::Program& plan, const bloom::rt::jit::Plugin& jit, std::string& out) {
  std::vector<bloom::rt::SegmentSpec> specs;
  std::vector<std::string> names;
  std::map<std::string, size_t> by_key;
  std::set<std::pair<std::string, std::string>> listed;  // (origin, key): a variant made twice is listed once
  std::string text = "; bloom plan --format llvm: " + plan.source +
                     "\n; The segments of the rules the JIT compiles (docs/jit.md), one function each:\n"
                     "; i32 status = f(ptr frames, i64 n, ptr out, ptr m, ptr ctx). The other steps are interpreted.\n";
  for (auto& spec : bloom::cli::program_segments(plan)) {
    std::string key = bloom::rt::jit::segment_key(spec);
    if (!listed.emplace(spec.origin, key).second) continue;
    auto [at, fresh] = by_key.emplace(std::move(key), specs.size());
    if (fresh) names.push_back("seg" + std::to_string(specs.size()));
    text += ";\n; @" + names[at->second] + ": " + spec.origin + "\n";
    for (const auto& step : spec.steps) text += ";   " + bloom::plan::step_text(step, plan) + "\n";
    if (spec.head) {
      text += ";   head row (";
      for (size_t c = 0; c < spec.head_columns.size(); ++c) text += (c ? ", " : "") + bloom::plan::expr_text(spec.head_columns[c], plan);
      text += ")\n";
    }
    if (fresh) specs.push_back(std::move(spec));
  }
  if (specs.empty()) {
    out = text + "; (nothing to compile)\n";
    return true;
  }
  std::string ir;
  if (!jit.segments_llvm_ir(specs, names, ir)) {
    out = ir;
    return false;
  }
  out = text + "\n" + ir;
  return true;
}

int run_plan(const std::string& file, const std::string& format, const std::vector<std::string>& raw_params, const std::string& color) {
  std::unique_ptr<bloom::Compilation> c;
  int exit = kOk;
  auto plan = compile_plan(file, raw_params, color, c, exit);
  if (!plan) return exit;
  if (format == "json") std::cout << bloom::plan::to_json(*plan).dump(2) << "\n";
  else if (format == "dot") std::cout << bloom::plan::to_dot(*plan);
  else if (format == "svg") {
    std::string svg, error;
    if (!bloom::cli::render_svg(bloom::plan::to_dot(*plan), svg, error)) {
      std::cerr << "bloom: error: " << error << "\n";
      return kRuntimeError;
    }
    std::cout << svg;
  } else if (format == "llvm") {
    std::string error;
    const auto* jit = bloom::rt::jit::load_plugin(error);
    if (!jit) {
      std::cerr << "bloom: error: " << error << "\n";
      return kUsage;
    }
    std::string ir;
    if (!segments_llvm(*plan, *jit, ir)) {
      std::cerr << "bloom: error: " << ir << "\n";
      return kCompileError;
    }
    std::cout << ir;
  } else std::cout << bloom::plan::to_text(*plan);
  return kOk;
}

// ---------------------------------------------------------------- deployments (docs/deploy.md)

std::atomic<bool> g_stop{false};
extern "C" void on_stop_signal(int) { g_stop = true; }

std::optional<bloom::rt::Deployment> load_deployment(const std::string& path) {
  std::vector<std::string> errors;
  auto d = bloom::rt::read_deployment(path, errors);
  for (const auto& e : errors) std::cerr << e << "\n";
  return d;
}

std::vector<std::string> node_params(const bloom::rt::DeploymentNode& n, const std::vector<std::string>& extra) {
  std::vector<std::string> params;
  for (const auto& [k, v] : n.params) params.push_back(k + "=" + v);
  params.insert(params.end(), extra.begin(), extra.end());
  return params;
}

struct DeployOptions {
  double timeout = 60;
  bool in_process = false;
  std::string deployment, control;
  uint64_t run_id = 0, incarnation = 0;
};

// A deployment's params are typed TOML values: each must have its param's type in the program
// (`nick = 5` for a string param is a mistake the text form `--param nick=5` cannot see). An
// integer fits a float param. false after saying which one does not, and where.
bool deployment_params_fit(const std::string& file, const rt::DeploymentNode& n, const Compilation& c) {
  using Kind = rt::DeploymentNode::ParamKind;
  bool ok = true;
  for (size_t i = 0; i < n.params.size() && i < n.param_sources.size(); ++i) {
    const auto& [name, text] = n.params[i];
    const auto& src = n.param_sources[i];
    for (const auto& inst : c.program->instances) {
      if (!inst.module || name.compare(0, inst.prefix.size(), inst.prefix) != 0) continue;
      for (const auto& p : inst.module->params) {
        if (inst.prefix + p.name != name) continue;
        auto fits_kind = [](const std::string& type, Kind kind) {
          return (type == "int" && kind == Kind::Integer) || (type == "float" && (kind == Kind::Float || kind == Kind::Integer)) ||
                 (type == "bool" && kind == Kind::Boolean) || ((type == "string" || type == "addr") && kind == Kind::String);
        };
        const std::string& type = p.type.name;
        // An lset param takes an array of its elements (an empty one fits any).
        const bool fits = type == "lset" && p.type.args.size() == 1
                              ? src.kind == Kind::Array && (text.empty() || fits_kind(p.type.args[0].name, src.element))
                              : fits_kind(type, src.kind);
        if (fits) continue;
        ok = false;
        std::cerr << file << ":" << src.line << ":" << src.column << ": error: param `" << name << "` of node `" << n.name << "` is "
                  << p.type.str() << " in " << n.program << ", but the deployment gives " << rt::param_kind_name(src.kind) << " ("
                  << (src.kind == Kind::String ? "\"" + text + "\"" : text) << ")"
                  << (type == "string" || type == "addr" ? ": write it in quotes, \"" + text + "\"" : "") << "\n";
      }
    }
  }
  return ok;
}

std::unique_ptr<plan::Program> compile_node(const std::string& file, const rt::DeploymentNode& n, const std::string& color,
                                            std::unique_ptr<Compilation>& c, int& worst) {
  int exit = kOk;
  auto plan = compile_plan(n.program, node_params(n, {}), color, c, exit);
  if (!plan) {
    std::cerr << file << ":" << n.line << ":" << n.column << ": error: the program of node `" << n.name << "` (" << n.program << ") "
              << (exit == kUsage && c && !c->program ? "cannot be used" : "does not compile") << ": see above\n";
    worst = std::max(worst, exit == kUsage ? kCompileError : exit);
    return plan;
  }
  if (!deployment_params_fit(file, n, *c)) {
    worst = std::max(worst, int(kUsage));
    return nullptr;
  }
  return plan;
}

int compile_deployment(const std::string& file, const bloom::rt::Deployment& dep, const std::string& color, bool quiet,
                       std::vector<std::unique_ptr<bloom::plan::Program>>& plans) {
  int worst = kOk;
  for (const auto& n : dep.nodes) {
    std::unique_ptr<bloom::Compilation> c;
    auto plan = compile_node(file, n, color, c, worst);
    if (!plan) continue;
    if (!n.facts.empty() && !std::filesystem::is_directory(n.facts)) {
      std::cerr << file << ":" << n.line << ":" << n.column << ": error: the facts directory of node `" << n.name << "` (" << n.facts
                << ") is not a directory\n";
      worst = std::max(worst, int(kUsage));
      continue;
    }
    plans.push_back(std::move(plan));
  }
  if (worst != kOk) return worst;
  // Different roles may declare different channels, but one channel name with different columns
  // in two programs means their messages will be refused: say so before anything starts.
  if (!quiet) {
    std::map<std::string, std::pair<std::string, std::string>> first;  // channel -> (node, columns)
    std::set<std::string> warned;
    for (size_t i = 0; i < plans.size(); ++i)
      for (const auto& r : plans[i]->relations) {
        if (r.kind != bloom::plan::RelationKind::Channel) continue;
        std::string cols = bloom::rt::net::schema_signature(r.column_types);
        auto [it, fresh] = first.emplace(r.name, std::pair(dep.nodes[i].name, cols));
        if (!fresh && it->second.second != cols && warned.insert(r.name).second)
          std::cerr << "bloom: warning: channel `" << r.name << "` is " << it->second.second << " in node `" << it->second.first << "` but "
                    << cols << " in node `" << dep.nodes[i].name << "`: messages between them will be refused\n";
      }
  }
  return kOk;
}

int run_deployment(const RunOptions& o, const DeployOptions& d) {
  if (!o.facts_dir.empty() || !o.params.empty() || o.max_ticks >= 0 || o.sizes || o.name != "local" || !o.data_dir.empty()) {
    std::cerr << "bloom: error: -F, --param, --max-ticks, --sizes, --name and --data-dir do not apply to a deployment: set `facts`, "
                 "`params` and `data_dir` per node in "
              << o.file << "\n";
    return kUsage;
  }
  auto dep = load_deployment(o.file);
  if (!dep) return kUsage;
  std::vector<std::unique_ptr<bloom::plan::Program>> plans;
  if (int exit = compile_deployment(o.file, *dep, o.color, o.quiet, plans); exit != kOk) return exit;
  // Node threads share this process's JIT; node processes load their own, given the same choice.
  EngineSetup engine;
  int exit = kOk;
  if (!engine.init(o.engine, o.quiet, exit, d.in_process)) return exit;
  bloom::rt::LaunchOptions lo;
  lo.native = engine.native();
  lo.node_args = engine.node_args();
  lo.deployment = *dep;
  lo.out_dir = o.out_dir;
  lo.timeout_s = d.timeout;
  lo.quiet = o.quiet;
  lo.in_process = d.in_process;
  lo.exe = bloom::cli::self_executable().string();
  for (const auto& p : plans) lo.plans.push_back(p.get());
  int status = bloom::rt::launch_deployment(lo);
  if (d.in_process) engine.print_stats();
  return status;
}

int run_node(const RunOptions& o, const DeployOptions& d) {
  auto dep = load_deployment(d.deployment);
  if (!dep) return kUsage;
  const bloom::rt::DeploymentNode* me = dep->find(o.name);
  if (!me) {
    std::cerr << "bloom: error: --name " << o.name << ": the deployment " << d.deployment << " has no such node (it has:";
    for (const auto& n : dep->nodes) std::cerr << " " << n.name;
    std::cerr << ")\n";
    return kUsage;
  }
  std::unique_ptr<bloom::Compilation> c;
  int exit = kOk;
  auto plan = compile_plan(o.file, node_params(*me, o.params), o.color, c, exit, d.control.empty());
  if (!plan) return exit;
  c.reset();
  bloom::rt::DeployedNodeOptions no;
  no.name = o.name;
  no.deployment = *dep;
  no.control = d.control;
  no.run_id = d.run_id;
  no.incarnation = d.incarnation;
  no.facts_dir = o.facts_dir.empty() ? me->facts : o.facts_dir;
  no.data_dir = o.data_dir.empty() ? me->data_dir : o.data_dir;
  no.out_dir = o.out_dir;
  no.quiet = o.quiet;
  no.stop = &g_stop;
  std::string key_error;
  auto keys = bloom::rt::keys_for_node(*dep, o.name, key_error);
  if (!keys) {
    std::cerr << "bloom: error: " << key_error << "\n";
    return kUsage;
  }
  no.keys = *keys;
  if (!prepare_dirs(no.facts_dir, "facts directory", o.out_dir)) return kUsage;
  EngineSetup engine;
  if (!engine.init(o.engine, o.quiet, exit)) return exit;
  no.native = engine.native();
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  // Started by a launcher, Ctrl-C in the terminal is the launcher's to handle: it asks each
  // node to write its outputs and stop. SIGTERM (also sent if the launcher dies) stops it.
  if (!d.control.empty()) sa.sa_handler = SIG_IGN;
  sigaction(SIGINT, &sa, nullptr);
  sa.sa_handler = on_stop_signal;
  sigaction(SIGTERM, &sa, nullptr);
  int status = bloom::rt::run_deployed_node(*plan, no);
  engine.print_stats(o.name + ": ");
  return status;
}

// `bloom run FILE`'s native code: the JIT module, as --engine and its environment say.
class JitRunEngine : public RunEngine {
 public:
  explicit JitRunEngine(const EngineChoice& choice) : choice_(choice) {}
  bool init(bool quiet, int& exit) override { return setup_.init(choice_, quiet, exit); }
  bloom::rt::NativeCode* native() override { return setup_.native(); }
  void finish() override { setup_.print_stats(); }

 private:
  EngineChoice choice_;
  EngineSetup setup_;
};

void add_engine_options(CLI::App* cmd, EngineChoice& e) {
  cmd->add_option("--engine", e.engine,
                  "jit: compile the rules' filters, assignments and heads with LLVM once they have done\n"
                  "enough work to pay for it (default; the rest is interpreted); interp: interpret everything.\n"
                  "Default: $BLOOM_ENGINE, else jit. Compiled code is kept in $BLOOM_JIT_CACHE (off: nowhere),\n"
                  "else ~/.cache/bloom/jit, kept under $BLOOM_JIT_CACHE_MAX (default 256M; docs/jit.md)")
      ->check(CLI::IsMember({"jit", "interp"}))
      ->type_name("ENGINE");
  cmd->add_option("--jit-threshold", e.threshold,
                  "Compile every segment of a rule once it has seen N frames (0: before the first),\n"
                  "whatever it weighs. Default: $BLOOM_JIT_THRESHOLD, else weigh each segment: 4096\n"
                  "frames and a million operators evaluated, and at least 3 operators a frame (docs/jit.md)")
      ->type_name("N");
  cmd->add_flag("--jit-stats", e.stats, "At the end, print on stderr what the JIT compiled and how long it took");
}

bool is_deployment(const std::string& file) { return file.size() > 5 && file.compare(file.size() - 5, 5, ".toml") == 0; }

}  // namespace bloom::cli

int main(int argc, char** argv) {
  using namespace bloom::cli;
  CLI::App app{
      "bloom: compiler, analyzer and runtime for the Bloom language of distributed programs.\n"
      "A program is a set of unordered rules over collections, evaluated in ticks.",
      "bloom"};
  app.set_version_flag("--version", std::string("bloom ") + BLOOM_VERSION);
  app.require_subcommand(1);
  app.footer(
      "Exit status: 0 success, 1 compile error, 2 usage error (bad options, unreadable file, unknown --param),\n"
      "3 (run) runtime error, bad facts file or out of memory, (fmt) a formatter bug caught by its safety\n"
      "check, 4 (lint) the program needs coordination, 5 (sim) a violation or divergence was found.\n"
      "Multi-node deployments: `bloom run DEPLOYMENT.toml` and `bloom node`; on Kubernetes or systemd:\n"
      "`bloom deploy` (docs/deploy.md).");

  std::vector<std::string> files, params;
  std::string format = "text", color = "auto";
  bool strata = false, quiet = false;
  auto* check = app.add_subcommand("check",
                                   "Parse and check programs: syntax, names, types, safety, operators, strata.\n"
                                   "Prints diagnostics to stderr; exits 0 when there is no error.");
  check->add_option("files", files, "The .bloom files to check (each with its imports)")->required()->type_name("FILE");
  check->add_option("--format", format, "Diagnostics as human-readable text (stderr) or JSON (stdout)")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  check->add_option("--param", params, "Set a param: NAME=VALUE (NAME may be qualified, e.g. q.rounds)")->type_name("NAME=VALUE");
  check->add_option("--color", color, "Colour the diagnostics")->check(CLI::IsMember({"auto", "always", "never"}))->capture_default_str();
  check->add_flag("--strata", strata, "Also print the strata the program's rules fall into");
  check->add_flag("-q,--quiet", quiet, "Print nothing for a clean file");

  std::string lint_file, lint_format = "text";
  auto* lint = app.add_subcommand("lint",
                                  "CALM analysis: label every output M/A/N/D and report each point of order (a\n"
                                  "non-monotone operation that sees asynchronous input) and each race, with the\n"
                                  "path from the source and the remedies (docs/lint.md). Exits 4 when the program\n"
                                  "needs coordination (an unsuppressed finding), 0 when it is coordination-free or\n"
                                  "every finding is suppressed (verdict: needs coordination, acknowledged).");
  lint->add_option("file", lint_file, "The .bloom program to analyse")->required()->type_name("FILE");
  lint->add_option("--format", lint_format,
                   "text (people), json (tools), sarif (code scanning, editors), dot (Graphviz), svg (the\n"
                   "graph drawn by Graphviz's dot), html (one page: the graph coloured by label, the\n"
                   "findings linked to the source lines; needs dot)")
      ->check(CLI::IsMember({"text", "json", "sarif", "dot", "svg", "html"}))
      ->capture_default_str();
  lint->add_option("--param", params, "Set a param: NAME=VALUE")->type_name("NAME=VALUE");
  lint->add_option("--color", color, "Colour the report")->check(CLI::IsMember({"auto", "always", "never"}))->capture_default_str();

  std::string plan_file, plan_format = "text";
  auto* plan = app.add_subcommand("plan",
                                  "Print the Plan IR the runtime executes: per stratum, groups of rules with their\n"
                                  "join order, index lookups and semi-naive delta variants, and the indexes chosen.");
  plan->add_option("file", plan_file, "The .bloom program")->required()->type_name("FILE");
  plan->add_option("--format", plan_format,
                   "text, json, dot (Graphviz), svg (the dot drawn by Graphviz's dot), or llvm (the segments\n"
                   "of the rules the JIT compiles, each with its rule and steps, then their optimized LLVM IR)")
      ->check(CLI::IsMember({"text", "json", "dot", "svg", "llvm"}))
      ->capture_default_str();
  plan->add_option("--param", params, "Set a param: NAME=VALUE")->type_name("NAME=VALUE");

  RunOptions ro;
  DeployOptions dopts;
  auto* run = app.add_subcommand("run",
                                 "Run a program on one node, in this process, until it is quiescent (nothing\n"
                                 "pending), derives halt(), or reaches --max-ticks. Inputs come from facts files,\n"
                                 "outputs are every tuple an output collection held in any tick.\n"
                                 "Given a deployment (a .toml file, docs/deploy.md), start every node of it and run\n"
                                 "them until global quiescence: all idle and no message in flight.");
  run->add_option("file", ro.file, "The .bloom program, or a deployment DEPLOYMENT.toml")->required()->type_name("FILE");
  run->add_option("--timeout", dopts.timeout, "Deployment: stop (exit 3) when not quiescent after S seconds")
      ->type_name("S")
      ->check(CLI::PositiveNumber)
      ->check(CLI::Validator(
          [](std::string& v) -> std::string {
            double d = std::strtod(v.c_str(), nullptr);
            return std::isfinite(d) && d <= 1e9 ? "" : "--timeout " + v + ": expected a number of seconds up to 1e9";
          },
          "", "finite"))
      ->capture_default_str();
  run->add_flag("--in-process", dopts.in_process, "Deployment: run the nodes as threads of this process over inproc://");
  add_run_options(run, ro);
  add_engine_options(run, ro.engine);
  run->footer(
      "Without -D or --sizes the outputs are printed at the end as `name(v1, v2)` lines. stdout lines\n"
      "(`stdout(line) <~ ...`) are printed as each tick ends, sorted within the tick.\n"
      "Exit status: 0 done, 1 compile error, 2 usage error, 3 runtime error or bad facts file.");

  BuildCommand bc;
  auto* build = app.add_subcommand("build",
                                   "Compile a program ahead of time into one executable that runs it as `bloom run FILE`\n"
                                   "does, with the same options (-F, -D, --sizes, --param, ...; `BINARY --help`): every\n"
                                   "segment of its rules the JIT supports as machine code for this machine's CPU, the\n"
                                   "rest interpreted, and the sources of the program and its imports inside (the .bloom\n"
                                   "files are not needed to run it). Links with $CXX, else c++, with gold where there is one\n"
                                   "(docs/jit.md). Prints what it compiled and how long each phase took on stderr.");
  build->add_option("file", bc.file, "The .bloom program")->required()->type_name("FILE");
  build->add_option("-o,--output", bc.output, "The executable to write (replaced atomically)")->required()->type_name("BINARY");
  build
      ->add_option("--param", bc.params,
                   "Set a param: NAME=VALUE; the code is compiled for these values, and the binary\n"
                   "starts from them (its own --param settings come after)")
      ->type_name("NAME=VALUE");
  build->add_flag("-q,--quiet", bc.quiet, "No summary line on stderr");
  build->add_flag("-g,--debug", bc.debug, "Keep the debug information of bloom's libraries in BINARY (a slower link)");
  build->add_option("--color", bc.color, "Colour the diagnostics")
      ->check(CLI::IsMember({"auto", "always", "never"}))
      ->capture_default_str();
  build->footer(
      "Exit status: 0 built, 1 compile error, 2 usage error (bad -o, no JIT module, no C++ compiler),\n"
      "3 LLVM or the link failed (the linker's messages are shown).");

  RunOptions no;
  no.name = "";
  auto* node = app.add_subcommand("node",
                                  "Run one node of a deployment (the form used on separate machines): it listens at\n"
                                  "its endpoint, sends to the others', and runs until it derives halt() or is\n"
                                  "interrupted (SIGINT/SIGTERM), then writes its outputs.");
  node->add_option("file", no.file, "The node's .bloom program")->required()->type_name("FILE");
  node->add_option("--deployment", dopts.deployment, "The deployment file")->required()->type_name("D.toml");
  node->add_option("--name", no.name, "This node's name in the deployment")->required()->type_name("NAME");
  node->add_option("--control", dopts.control, "The launcher's control endpoint (set by `bloom run D.toml`)")->type_name("ENDPOINT");
  node->add_option("--run-id", dopts.run_id,
                   "Tells this run of the deployment from other runs of the same file: messages of another run are\n"
                   "dropped. Every node of a run needs the same N (`bloom run D.toml` picks one; default 0)")
      ->type_name("N");
  node->add_option("--incarnation", dopts.incarnation,
                   "How often this node was started again (set by `bloom run D.toml` for `restart = true`)")
      ->type_name("N");
  node->add_option("-F,--facts", no.facts_dir, "Inputs from DIR/NAME.facts (default: the node's `facts` in the deployment)")
      ->type_name("DIR");
  node->add_option("-D,--output-dir", no.out_dir, "Write each output NAME to DIR/NAME.csv as ticks complete, sorted when the node stops")
      ->type_name("DIR");
  node->add_option("--data-dir", no.data_dir, "Keep the durable tables in DIR (default: the node's `data_dir` in the deployment)")
      ->type_name("DIR");
  node->add_option("--param", no.params, "Set a param: NAME=VALUE (after the deployment's)")->type_name("NAME=VALUE");
  node->add_flag("-q,--quiet", no.quiet, "No notes on stderr");
  node->add_option("--color", no.color, "Colour the diagnostics")->check(CLI::IsMember({"auto", "always", "never"}))->capture_default_str();
  add_engine_options(node, no.engine);

  SimCommand sc;
  std::string keygen_name, keygen_dir;
  auto* keygen = app.add_subcommand("keygen",
                                    "Make a CURVE key pair for a node of a deployment (docs/security.md): writes its\n"
                                    "secret key to NAME.secret (mode 0600) and prints the `public_key` and\n"
                                    "`secret_key_file` lines for its [node.NAME] table");
  keygen->add_option("name", keygen_name, "The node's name")->required()->type_name("NAME");
  keygen->add_option("--dir", keygen_dir, "Write NAME.secret into DIR (default: the current directory)")->type_name("DIR");
  auto* simc = app.add_subcommand("sim",
                                  "Run a whole deployment in this process under the deterministic simulator: virtual\n"
                                  "time, a seeded scheduler that picks which node ticks next and which messages in\n"
                                  "flight it receives, optional faults, and invariants written in Bloom checked after\n"
                                  "every tick. A failing schedule is shrunk and written as a trace that --replay\n"
                                  "re-executes exactly (docs/sim.md).");
  simc->add_option("deployment", sc.deployment, "The deployment (DEPLOY.toml); with --replay, default: the one the trace names")
      ->type_name("DEPLOY.toml");
  simc->add_option("--seed", sc.seed, "Seed of the first run; run i uses seed S+i")->type_name("S")->capture_default_str();
  simc->add_option("--runs", sc.runs, "How many runs (schedules) to try")
      ->type_name("N")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  simc->add_option("--max-steps", sc.max_steps, "Stop a run that is not quiescent after K steps (exit 3, with what is pending)")
      ->type_name("K")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  simc->add_option("--faults", sc.faults, "Faults to inject, e.g. drop=0.05,dup=0.02,crash=1,partition=1,skew=50ms (docs/sim.md)")
      ->type_name("SPEC");
  simc->add_option("--invariant", sc.invariant,
                   "A Bloom program over the nodes' collections; rows it derives into `violation`\n"
                   "(after any tick) or `final_violation` (at the end) fail the run")
      ->type_name("INV.bloom");
  simc->add_option("--trace", sc.trace,
                   "Write the (minimized) failing schedule here as JSON (default bloom-sim-seedS.json);\n"
                   "with one run, the run's trace even when it passes")
      ->type_name("FILE");
  simc->add_option("-D,--output-dir", sc.out_dir, "Write the outputs of the first (or the failing) run as DIR/NODE/NAME.csv")
      ->type_name("DIR");
  simc->add_flag("--diverge", sc.diverge, "Compare every node's final outputs across the runs (no faults); exit 5 on a difference");
  simc->add_option("--replay", sc.replay, "Re-execute a trace exactly; ends with the same violation or outputs")->type_name("TRACE");
  simc->add_option("--timeline", sc.timeline, "With --replay: write the run as a self-contained HTML space-time diagram")
      ->type_name("OUT.html");
  simc->add_option("--explain", sc.explain,
                   "With --replay: print the chain of messages and rules that produced a tuple,\n"
                   "e.g. --explain 'p1.committed(2)'")
      ->type_name("NODE.TUPLE");
  simc->add_flag("--no-minimize", sc.no_minimize, "Report a failing schedule as it ran, without shrinking it");
  simc->add_flag("-q,--quiet", sc.quiet, "No outputs, no summary line");
  simc->add_option("--color", sc.color, "Colour the diagnostics")->check(CLI::IsMember({"auto", "always", "never"}))->capture_default_str();
  add_engine_options(simc, sc.engine);
  simc->footer(
      "Exit status: 0 every run passed, 1 compile error (a program or the invariant), 2 usage error or a bad\n"
      "trace file, 3 runtime error or no quiescence within --max-steps, 5 a violation or a divergence was found.");

  K8sOptions ko;
  SystemdOptions so;
  auto* deploy = app.add_subcommand("deploy",
                                    "Write what runs a deployment's nodes past one machine, each as `bloom node`\n"
                                    "(docs/deploy.md): Kubernetes manifests, or systemd units");
  deploy->require_subcommand(1);
  auto* k8s = deploy->add_subcommand("k8s",
                                     "Kubernetes manifests for a deployment: a headless Service (each node's pod\n"
                                     "resolves as POD.SERVICE.NAMESPACE.svc.DOMAIN, and the endpoints are rewritten\n"
                                     "to those names, same ports), a ConfigMap with the programs, their imports, the\n"
                                     "facts and the rewritten deployment file, a Secret with the nodes' CURVE secret\n"
                                     "keys (the file's, or fresh ones when it names none; none when insecure), and\n"
                                     "one StatefulSet of one pod per node (pod NAME-NODE-0) with TCP probes on its\n"
                                     "port, resource requests and limits, and a volume for its `data_dir`.\n"
                                     "Written as YAML, to stdout (one multi-document stream) or one file per object.");
  k8s->add_option("deployment", ko.file, "The deployment file")->required()->type_name("DEPLOY.toml");
  k8s->add_option("-o,--output-dir", ko.out_dir,
                  "Write NAME-service.yaml, NAME-files.yaml, NAME-keys.yaml (mode 0600) and\n"
                  "NAME-NODE.yaml into DIR (each replaced atomically)")
      ->type_name("DIR");
  k8s->add_option("--name", ko.name,
                  "Names the objects (default: the file's name without .toml, or its directory's\n"
                  "name for a deploy.toml)")
      ->type_name("NAME");
  k8s->add_option("--image", ko.image, std::string("A container image with `bloom` on its PATH (default bloom:") + BLOOM_VERSION + ")")
      ->type_name("IMAGE");
  k8s->add_option("--namespace", ko.ns, "The namespace of the objects, and of the nodes' DNS names")
      ->type_name("NS")
      ->capture_default_str();
  k8s->add_option("--cluster-domain", ko.cluster_domain, "The cluster's DNS domain")->type_name("DOMAIN")->capture_default_str();
  k8s->add_option("--cpu", ko.cpu, "CPU request of each node")->type_name("Q")->capture_default_str();
  k8s->add_option("--memory", ko.memory, "Memory request of each node")->type_name("Q")->capture_default_str();
  k8s->add_option("--cpu-limit", ko.cpu_limit, "CPU limit of each node")->type_name("Q")->capture_default_str();
  k8s->add_option("--memory-limit", ko.memory_limit, "Memory limit of each node")->type_name("Q")->capture_default_str();
  k8s->add_option("--storage", ko.storage, "Size of the volume of a node with a `data_dir`")->type_name("Q")->capture_default_str();
  k8s->add_flag("--show-secrets", ko.show_secrets,
                "Print the Secret with the secret keys on stdout too (without -o, a secured\n"
                "deployment is refused unless this is given)");
  k8s->add_flag("-q,--quiet", ko.quiet, "No summary line on stderr");
  auto* systemd = deploy->add_subcommand("systemd",
                                         "systemd units for plain machines, one per node: bloom-NAME-NODE.service running\n"
                                         "`bloom node` with the deployment file, restarted on failure, hardened, with a\n"
                                         "state directory for a node's `data_dir`. The endpoints are used as they are\n"
                                         "(the machines' addresses). Each machine needs bloom, the deployment's directory\n"
                                         "(at --root) and its node's secret key file.");
  systemd->add_option("deployment", so.file, "The deployment file (its nodes need keys, or `insecure = true`)")
      ->required()
      ->type_name("DEPLOY.toml");
  systemd->add_option("-o,--output-dir", so.out_dir, "Write one bloom-NAME-NODE.service per node into DIR (default: all on stdout)")
      ->type_name("DIR");
  systemd->add_option("--name", so.name, "The NAME in the units' names (default as for k8s)")->type_name("NAME");
  systemd->add_option("--root", so.root, "Where the deployment file's directory is on the machines (default: where it is here)")
      ->type_name("DIR");
  systemd->add_option("--bloom", so.bloom, "The bloom executable on the machines")->type_name("PATH")->capture_default_str();
  systemd
      ->add_option("--user", so.user,
                   "Run the nodes as this user (default: DynamicUser=yes, or the user `bloom` when\n"
                   "the nodes read secret key files)")
      ->type_name("USER");
  systemd->add_flag("-q,--quiet", so.quiet, "No summary line on stderr");
  for (auto* sub : {deploy, k8s, systemd})
    sub->footer(
        "Exit status: 0 written, 1 a program does not compile, 2 usage error, a bad deployment file or an\n"
        "output that cannot be written (nothing half-written: each file is replaced atomically).");

  FmtOptions fo;
  auto* fmtc = app.add_subcommand("fmt",
                                  "Format .bloom files in the one canonical layout (docs/tools.md): to stdout (one\n"
                                  "file, or stdin when the file is - or missing), in place (-i), or --check that they\n"
                                  "are formatted. Only whitespace changes; every comment is kept. A file that does not\n"
                                  "parse gets its diagnostics and is left alone.");
  fmtc->add_option("files", fo.files, "The .bloom files (- or none: stdin)")->type_name("FILE");
  fmtc->add_flag("-i,--in-place", fo.in_place, "Rewrite each file that is not formatted (a temporary file renamed over it)");
  fmtc->add_flag("--check", fo.check,
                 "Print the files that are not formatted (and their first differing line on stderr);\n"
                 "exit 1 if there is one");
  fmtc->add_option("--width", fo.width, "Wrap rules and lists longer than this")->check(CLI::Range(40, 1000))->capture_default_str();
  fmtc->add_option("--color", fo.color, "Colour the diagnostics")->check(CLI::IsMember({"auto", "always", "never"}))->capture_default_str();
  fmtc->footer(
      "Exit status: 0 formatted (or, with --check, already formatted), 1 a file does not parse or (--check) is\n"
      "not formatted, 2 usage error or unreadable file, 3 a formatter bug was caught by its safety check (the\n"
      "output would not have the input's tokens and comments): nothing was written.");

  bool lsp_stdio = false;
  auto* lspc = app.add_subcommand("lsp",
                                  "A Language Server (LSP 3.17, JSON-RPC on stdin/stdout) for editors (docs/tools.md):\n"
                                  "diagnostics of the checker and the lint as you type, hover, go to definition,\n"
                                  "document symbols, quick fixes and formatting. Started by the editor, not by hand.");
  lspc->add_flag("--stdio", lsp_stdio, "Talk over stdin/stdout (the only transport; accepted because clients pass it)");
  lspc->footer("Exit status: 0 after the client's shutdown then exit, 1 on exit (or end of input) without shutdown.");

  ReplOptions rep;
  auto* repl = app.add_subcommand("repl",
                                  "Grow a program interactively on one node, in this process: type declarations, facts\n"
                                  "and rules (each is compiled with the program at once, and rejected with its\n"
                                  "diagnostics if it does not compile), run ticks, query any collection, show the plan\n"
                                  "and the lint report; `:help` lists the commands. Tables keep their rows when the\n"
                                  "program changes, unless their columns or key changed. Line editing and history\n"
                                  "($XDG_STATE_HOME/bloom/repl_history, else ~/.local/state/bloom/repl_history) on a\n"
                                  "terminal; otherwise it reads plain lines from stdin without prompts, so\n"
                                  "`bloom repl prog.bloom < script` is a test (docs/tools.md).\n"
                                  "The rules are interpreted.");
  repl->add_option("file", rep.file, "A .bloom program to start from (default: an empty one)")->type_name("FILE");
  repl->add_option("--param", rep.params, "Set a param: NAME=VALUE")->type_name("NAME=VALUE");
  repl->add_option("--color", rep.color, "Colour the diagnostics")
      ->check(CLI::IsMember({"auto", "always", "never"}))
      ->capture_default_str();
  repl->footer(
      "Exit status: 0 every line succeeded (always, on a terminal), 1 FILE does not compile or, reading a\n"
      "script, a line failed (rejected program text, an unknown command, a runtime error), 2 usage error.");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kUsage;
  }
  try {
    if (fmtc->parsed()) return run_fmt(fo);
    if (k8s->parsed()) return deploy_k8s(ko);
    if (systemd->parsed()) return deploy_systemd(so);
    if (lspc->parsed()) return bloom::lsp::run_server(STDIN_FILENO, STDOUT_FILENO, BLOOM_VERSION);
    if (repl->parsed()) return run_repl(rep);
    if (check->parsed()) return run_check(files, format, color, params, strata, quiet);
    if (lint->parsed()) return run_lint(lint_file, lint_format, color, params);
    if (plan->parsed()) return run_plan(plan_file, plan_format, params, color);
    if (run->parsed()) {
      if (is_deployment(ro.file)) return run_deployment(ro, dopts);
      if (dopts.in_process || run->count("--timeout")) {
        std::cerr << "bloom: error: --timeout and --in-process apply to a deployment (a .toml file), not to " << ro.file << "\n";
        return kUsage;
      }
      JitRunEngine engine(ro.engine);
      return run_program(ro, engine);
    }
    if (build->parsed()) return run_build(bc);
    if (node->parsed()) return run_node(no, dopts);
    if (simc->parsed()) return run_sim(sc);
    if (keygen->parsed()) return bloom::rt::keygen(keygen_name, keygen_dir);
  } catch (const std::bad_alloc&) {
    // Not a bug: the program (or its input) needs more memory than the machine gives it.
    std::cerr << "bloom: error: out of memory\n";
    return kRuntimeError;
  } catch (const std::exception& e) {
    // A bug, not a user error: say so plainly rather than crash.
    std::cerr << "bloom: internal error: " << e.what() << "\n";
    return 70;
  }
  return kUsage;
}
