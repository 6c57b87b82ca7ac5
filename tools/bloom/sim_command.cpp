// `bloom sim`: runs a deployment under the deterministic simulator (runtime/sim, docs/sim.md),
// checks invariants, shrinks a failing schedule and writes it as a trace; replays traces.
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include <fmt/format.h>

#include "cli.h"
#include "node/facts.h"
#include "sim/explain.h"
#include "sim/invariant.h"
#include "sim/simulator.h"
#include "sim/timeline.h"
#include "syntax/diagnostics.h"

namespace bloom::cli {

namespace {

namespace sim = bloom::rt::sim;
namespace fs = std::filesystem;

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

// The rows of one output in which two runs differ, as `+`/`-` lines, "" when they agree.
std::string output_diff(const sim::Outputs& a, const sim::Outputs& b, uint64_t seed_a, uint64_t seed_b) {
  std::string out;
  std::set<std::pair<std::string, std::string>> names;
  for (const auto* o : {&a, &b})
    for (const auto& [node, outs] : *o)
      for (const auto& [name, _] : outs) names.insert({node, name});
  for (const auto& [node, name] : names) {
    auto text_of = [&](const sim::Outputs& o) -> std::string {
      auto n = o.find(node);
      if (n == o.end()) return "";
      auto r = n->second.find(name);
      return r == n->second.end() ? "" : r->second.text;
    };
    std::string ta = text_of(a), tb = text_of(b);
    if (ta == tb) continue;
    auto la = lines_of(ta), lb = lines_of(tb);
    std::set<std::string> sa(la.begin(), la.end()), sb(lb.begin(), lb.end());
    out += fmt::format("  node `{}`, output `{}`:\n", node, name);
    for (const auto& l : la)
      if (!sb.count(l)) out += fmt::format("    only with seed {}: {}\n", seed_a, l);
    for (const auto& l : lb)
      if (!sa.count(l)) out += fmt::format("    only with seed {}: {}\n", seed_b, l);
  }
  return out;
}

bool same_outputs(const sim::Outputs& a, const sim::Outputs& b) { return output_diff(a, b, 0, 0).empty(); }

bool write_outputs(const sim::Outputs& outputs, const std::string& dir) {
  try {
    for (const auto& [node, outs] : outputs) {
      fs::path d = fs::path(dir) / node;
      fs::create_directories(d);
      for (const auto& [name, o] : outs) rt::write_file_atomically((d / (name + ".csv")).string(), o.csv);
    }
  } catch (const std::exception& e) {
    std::cerr << "bloom: error: -D " << dir << ": " << e.what() << "\n";
    return false;
  }
  return true;
}

struct Session {
  explicit Session(const SimCommand& c) : cmd(c) {}
  ~Session() { engine.print_stats(); }
  const SimCommand& cmd;
  EngineSetup engine;  // first: destroyed after everything that runs rules with its code
  std::optional<rt::Deployment> dep;
  std::vector<std::unique_ptr<plan::Program>> plans;
  std::unique_ptr<plan::Program> invariant_plan;
  std::unique_ptr<sim::InvariantChecker> invariant;
  sim::SimOptions options;

  // Compiles the deployment and the invariant. The exit status (kOk when all is well).
  int load(const std::string& deployment, const std::string& invariant_file) {
    dep = load_deployment(deployment);
    if (!dep) return kUsage;
    if (int exit = compile_deployment(deployment, *dep, cmd.color, cmd.quiet, plans); exit != kOk) return exit;
    for (size_t i = 0; i < dep->nodes.size(); ++i)
      options.nodes.push_back({dep->nodes[i].name, plans[i].get(), dep->nodes[i].facts, sim::plan_fingerprint(*plans[i])});
    options.max_steps = cmd.max_steps;
    if (int exit = kOk; !engine.init(cmd.engine, cmd.quiet, exit)) return exit;
    options.native = engine.native();
    if (!invariant_file.empty()) {
      std::unique_ptr<Compilation> c;
      int exit = kOk;
      invariant_plan = compile_plan(invariant_file, {}, cmd.color, c, exit);
      if (!invariant_plan) return exit;
      std::vector<std::string> errors;
      invariant = sim::InvariantChecker::make(*invariant_plan, options.nodes, errors, closest_match);
      for (const auto& e : errors) std::cerr << e << "\n";
      if (!invariant) return kCompileError;
      options.invariant = invariant.get();
    }
    return kOk;
  }

  // Writes a run's trace, naming the deployment and invariant it needs for a replay.
  bool write_trace(sim::RunResult r, const std::string& path) const {
    r.trace.deployment = cmd.deployment;
    r.trace.invariant = cmd.invariant;
    r.trace.invariant_plan = invariant_plan ? sim::plan_fingerprint(*invariant_plan) : "";
    try {
      rt::write_file_atomically(path, sim::trace_to_json(r.trace));
    } catch (const std::exception& e) {
      std::cerr << "bloom: error: --trace " << path << ": " << e.what() << "\n";
      return false;
    }
    return true;
  }

  // Shrinks a failing run unless --no-minimize; says by how much.
  sim::RunResult shrink(const sim::RunResult& failing, const std::function<bool(const sim::RunResult&)>& keep) const {
    if (cmd.no_minimize) return failing;
    auto m = sim::minimize(options, failing, keep);
    std::cerr << fmt::format("bloom: minimized the schedule from {} to {} decisions (ticks and faults) in {} replays\n", m.events_before,
                             m.events_after, m.trials);
    return std::move(m.run);
  }

  std::string trace_path(uint64_t seed, const char* suffix = "") const {
    if (!cmd.trace.empty()) {
      if (!*suffix) return cmd.trace;
      fs::path p(cmd.trace);
      return (p.parent_path() / (p.stem().string() + suffix + p.extension().string())).string();
    }
    return fmt::format("bloom-sim-seed{}{}.json", seed, suffix);
  }

  void print_outputs(const sim::Outputs& outputs) const {
    for (const auto& [node, outs] : outputs)
      for (const auto& [name, o] : outs)
        for (const auto& l : lines_of(o.text)) std::cout << "[" << node << "] " << l << "\n";
  }
};

int replay(const SimCommand& cmd) {
  std::ifstream in(cmd.replay, std::ios::binary);
  if (!in) {
    std::cerr << "bloom: error: --replay " << cmd.replay << ": cannot read the file\n";
    return kUsage;
  }
  std::stringstream buf;
  buf << in.rdbuf();
  std::string error;
  auto trace = sim::trace_from_json(buf.str(), error);
  if (!trace) {
    std::cerr << "bloom: error: " << cmd.replay << ": " << error << "\n";
    return kUsage;
  }
  std::string deployment = cmd.deployment.empty() ? trace->deployment : cmd.deployment;
  std::string invariant_file = cmd.invariant.empty() ? trace->invariant : cmd.invariant;
  Session s(cmd);
  if (int exit = s.load(deployment, invariant_file); exit != kOk) return exit;
  // The trace must be of these nodes and programs: a schedule of another program means nothing.
  if (trace->nodes.size() != s.options.nodes.size() || !std::equal(trace->nodes.begin(), trace->nodes.end(), s.options.nodes.begin(),
                                                                   [](const auto& a, const auto& b) { return a == b.name; })) {
    std::cerr << "bloom: error: " << cmd.replay << ": the trace's nodes (" << fmt::format("{}", fmt::join(trace->nodes, ", "))
              << ") are not those of " << deployment << "\n";
    return kUsage;
  }
  for (const auto& n : s.options.nodes) {
    auto it = trace->plans.find(n.name);
    if (it == trace->plans.end() || it->second != n.fingerprint) {
      std::cerr << "bloom: error: " << cmd.replay << ": node `" << n.name
                << "` runs another program than when the trace was recorded (plan " << (it == trace->plans.end() ? "?" : it->second)
                << ", now " << n.fingerprint << ")\n";
      return kUsage;
    }
  }
  if ((s.invariant_plan ? sim::plan_fingerprint(*s.invariant_plan) : "") != trace->invariant_plan) {
    std::cerr << "bloom: error: " << cmd.replay << ": the invariant " << (invariant_file.empty() ? "(none)" : invariant_file)
              << " is not the one the trace was recorded with\n";
    return kUsage;
  }
  auto faults = sim::parse_faults(trace->faults, error);
  if (!faults) {
    std::cerr << "bloom: error: " << cmd.replay << ": `faults`: " << error << "\n";
    return kUsage;
  }
  s.options.faults = *faults;
  if (!cmd.explain.empty()) {
    auto text = sim::explain(s.options, *trace, cmd.explain, error);
    if (!text) {
      std::cerr << "bloom: error: " << error << "\n";
      return error.rfind("the replay departed", 0) == 0 ? kRuntimeError : kUsage;
    }
    std::cout << *text;
    return kOk;
  }
  sim::RunResult r = sim::replay_strict(s.options, *trace);
  if (r.end == sim::End::Mismatch) {
    std::cerr << "bloom: error: " << cmd.replay << ": the replay departed from the trace: " << r.error << "\n";
    return kRuntimeError;
  }
  if (r.trace.outputs != trace->outputs || r.violations != trace->violations) {
    std::cerr << "bloom: error: " << cmd.replay << ": the replay ended with other outputs or violations than the trace records\n";
    return kRuntimeError;
  }
  if (!cmd.timeline.empty()) {
    r.trace.deployment = trace->deployment;
    r.trace.invariant = trace->invariant;
    auto derived = sim::derived_by_tick(s.options, *trace, error);
    if (!derived) {
      std::cerr << "bloom: error: " << cmd.replay << ": " << error << "\n";
      return kRuntimeError;
    }
    try {
      rt::write_file_atomically(cmd.timeline, sim::timeline_html(r.trace, &*derived));
    } catch (const std::exception& e) {
      std::cerr << "bloom: error: --timeline " << cmd.timeline << ": " << e.what() << "\n";
      return kRuntimeError;
    }
    if (!cmd.quiet) std::cerr << "bloom: timeline written to " << cmd.timeline << "\n";
  }
  if (!cmd.out_dir.empty() && !write_outputs(r.outputs, cmd.out_dir)) return kRuntimeError;
  if (cmd.out_dir.empty() && !cmd.quiet && r.end != sim::End::Violation) s.print_outputs(r.outputs);
  std::cerr << fmt::format("bloom: replayed {} ({} steps, {} events): {}\n", cmd.replay, r.steps, r.trace.events.size(),
                           sim::to_string(r.end));
  if (r.end == sim::End::Violation) {
    for (const auto& v : r.violations) std::cerr << "  " << v << "\n";
    return kFoundFailure;
  }
  if (r.end == sim::End::Error) {
    std::cerr << "  " << r.error << "\n";
    return kRuntimeError;
  }
  return kOk;
}

}  // namespace

int run_sim(const SimCommand& cmd) {
  if (!cmd.replay.empty()) {
    if (cmd.diverge || !cmd.faults.empty() || cmd.runs != 1) {
      std::cerr << "bloom: error: --replay re-executes one recorded run: --diverge, --faults and --runs do not apply\n";
      return kUsage;
    }
    return replay(cmd);
  }
  if (cmd.deployment.empty()) {
    std::cerr << "bloom: error: bloom sim needs a deployment (DEPLOY.toml) or --replay TRACE\n";
    return kUsage;
  }
  if (!cmd.timeline.empty() || !cmd.explain.empty()) {
    std::cerr << "bloom: error: --timeline and --explain go with --replay TRACE\n";
    return kUsage;
  }
  std::string error;
  auto faults = sim::parse_faults(cmd.faults, error);
  if (!faults) {
    std::cerr << "bloom: error: --faults " << cmd.faults << ": " << error << "\n";
    return kUsage;
  }
  if (cmd.diverge && faults->any()) {
    std::cerr << "bloom: error: --diverge compares schedules without faults: drop --faults\n";
    return kUsage;
  }
  if (!cmd.out_dir.empty() && !prepare_dirs("", "", cmd.out_dir)) return kUsage;
  Session s(cmd);
  if (int exit = s.load(cmd.deployment, cmd.invariant); exit != kOk) return exit;
  s.options.faults = *faults;
  // A search over many seeds records nothing; the seed of a failure runs again with recording,
  // which gives the same run with its trace.
  s.options.record = cmd.runs == 1;
  auto recorded = [&](sim::RunResult& r) {
    if (s.options.record) return;
    sim::SimOptions o = s.options;
    o.record = true;
    r = sim::run_seeded(o, r.trace.seed);
  };

  bool tty = isatty(STDERR_FILENO) && !cmd.quiet;
  auto started = std::chrono::steady_clock::now();
  int64_t steps = 0;
  uint64_t delivered = 0;
  std::optional<sim::RunResult> reference;
  for (int64_t i = 0; i < cmd.runs; ++i) {
    uint64_t seed = cmd.seed + static_cast<uint64_t>(i);
    if (tty) std::cerr << fmt::format("\r\033[Krun {}/{} (seed {})", i + 1, cmd.runs, seed) << std::flush;
    // Outputs are compared with --diverge, and written or printed for the first run only.
    s.options.outputs = cmd.diverge || i == 0;
    sim::RunResult r = sim::run_seeded(s.options, seed);
    steps += r.steps;
    delivered += r.delivered;
    if (tty) std::cerr << "\r\033[K" << std::flush;
    if (r.end == sim::End::Violation) {
      recorded(r);
      std::cerr << fmt::format("bloom: seed {}: invariant violated at step {}:\n", seed, r.steps);
      for (const auto& v : r.violations) std::cerr << "  " << v << "\n";
      std::set<std::string> rows(r.violations.begin(), r.violations.end());
      sim::RunResult small = s.shrink(r, [&](const sim::RunResult& c) {
        if (c.end != sim::End::Violation) return false;
        for (const auto& v : c.violations)
          if (rows.count(v)) return true;
        return false;
      });
      std::string path = s.trace_path(seed);
      if (!s.write_trace(small, path)) return kRuntimeError;
      if (!cmd.out_dir.empty() && !write_outputs(small.outputs, cmd.out_dir)) return kRuntimeError;
      std::cerr << fmt::format("bloom: trace written to {} (bloom sim --replay {})\n", path, path);
      return kFoundFailure;
    }
    if (r.end == sim::End::Error) {
      recorded(r);
      std::cerr << fmt::format("bloom: seed {}: {}\n", seed, r.error);
      std::string what = r.error;
      sim::RunResult small = s.shrink(r, [&](const sim::RunResult& c) { return c.end == sim::End::Error && c.error == what; });
      std::string path = s.trace_path(seed);
      if (!s.write_trace(small, path)) return kRuntimeError;
      std::cerr << fmt::format("bloom: trace written to {} (bloom sim --replay {})\n", path, path);
      return kRuntimeError;
    }
    if (r.end == sim::End::MaxSteps) {
      std::cerr << fmt::format("bloom: seed {}: not quiescent after {} steps (--max-steps); still pending:{}\n", seed, r.steps, r.pending);
      if (!cmd.trace.empty()) {
        recorded(r);
        if (s.write_trace(r, cmd.trace)) std::cerr << "bloom: trace written to " << cmd.trace << "\n";
      }
      return kRuntimeError;
    }
    if (cmd.diverge && reference && !same_outputs(reference->outputs, r.outputs)) {
      uint64_t seed_a = reference->trace.seed;
      std::cerr << fmt::format("bloom: the outputs diverge between seeds {} and {}:\n{}", seed_a, seed,
                               output_diff(reference->outputs, r.outputs, seed_a, seed));
      sim::Outputs out_a = reference->outputs, out_b = r.outputs;
      recorded(*reference);
      recorded(r);
      sim::RunResult small_a =
          s.shrink(*reference, [&](const sim::RunResult& c) { return c.end == sim::End::Quiescent && same_outputs(c.outputs, out_a); });
      sim::RunResult small_b =
          s.shrink(r, [&](const sim::RunResult& c) { return c.end == sim::End::Quiescent && same_outputs(c.outputs, out_b); });
      std::string path_a = s.trace_path(seed_a, ".ref"), path_b = s.trace_path(seed);
      if (!s.write_trace(small_a, path_a) || !s.write_trace(small_b, path_b)) return kRuntimeError;
      std::cerr << fmt::format("bloom: traces written to {} (seed {}) and {} (seed {})\n", path_a, seed_a, path_b, seed);
      return kFoundFailure;
    }
    if (!cmd.trace.empty() && cmd.runs == 1 && !s.write_trace(r, cmd.trace)) return kRuntimeError;
    if (!reference) {
      if (!cmd.out_dir.empty() && !write_outputs(r.outputs, cmd.out_dir)) return kRuntimeError;
      if (cmd.out_dir.empty() && cmd.runs == 1 && !cmd.quiet) s.print_outputs(r.outputs);
      reference = std::move(r);
    }
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (!cmd.quiet)
    std::cerr << fmt::format("bloom: {} run{} (seed{} {}{}): {}; {} steps, {} messages delivered ({:.0f}/s)\n", cmd.runs,
                             cmd.runs == 1 ? "" : "s", cmd.runs == 1 ? "" : "s", cmd.seed,
                             cmd.runs == 1 ? "" : fmt::format("-{}", cmd.seed + static_cast<uint64_t>(cmd.runs) - 1),
                             cmd.diverge             ? "every run has the same outputs"
                             : cmd.invariant.empty() ? "all quiescent"
                                                     : "no violation",
                             steps, delivered, secs > 0 ? static_cast<double>(delivered) / secs : 0.0);
  return kOk;
}

}  // namespace bloom::cli
