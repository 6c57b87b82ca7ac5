// `bloom`: the command-line front door. Each subcommand composes library layers; no compiler
// logic lives here.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iostream>
#include <nlohmann/json.hpp>

#include "analysis/calm.h"
#include "analysis/lint_report.h"
#include "driver/driver.h"

namespace {

enum Exit { kOk = 0, kCompileError = 1, kUsage = 2, kNeedsCoordination = 4 };

// `--color auto` colours a stream only when it is a terminal (and NO_COLOR is unset).
bool want_color(const std::string& mode, int fd = STDERR_FILENO) {
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

void print_strata(const bloom::Compilation& c) {
  const auto& prog = *c.program;
  const auto& s = *c.strata;
  for (size_t k = 0; k < s.count(); ++k) {
    std::cout << "stratum " << k << ":";
    for (const auto& col : prog.collections)
      if (s.stratum_of[col.id] == k && (!c.graph->in(col.id).empty() || !c.graph->out(col.id).empty()))
        std::cout << " " << col.name << (s.recursive[col.id] ? "*" : "");
    std::cout << "  (" << s.rules[k].size() << " rule" << (s.rules[k].size() == 1 ? "" : "s") << ")\n";
  }
  if (!s.transition_rules.empty())
    std::cout << "end of tick: " << s.transition_rules.size() << " deferred/async rule"
              << (s.transition_rules.size() == 1 ? "" : "s") << "\n";
}

int run_check(const std::vector<std::string>& files, const std::string& format, const std::string& color,
              const std::vector<std::string>& raw_params, bool strata, bool quiet) {
  auto opts = parse_params(raw_params);
  if (!opts) return kUsage;
  bool failed = false, usage = false;
  nlohmann::json report = {{"files", nlohmann::json::array()}, {"errors", 0}, {"warnings", 0}};
  for (const auto& file : files) {
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
        size_t user = p.collections.size() - 2;  // stdout and halt are built in
        std::cout << file << ": ok (" << user << " collection" << (user == 1 ? "" : "s") << ", " << p.rules.size()
                  << " rule" << (p.rules.size() == 1 ? "" : "s") << ", " << c->strata->count() << " strat"
                  << (c->strata->count() == 1 ? "um" : "a") << ")\n";
      }
      if (strata) print_strata(*c);
    }
  }
  if (format == "json") std::cout << report.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  if (usage) return kUsage;
  return failed ? kCompileError : kOk;
}

int run_lint(const std::string& file, const std::string& format, const std::string& color,
             const std::vector<std::string>& raw_params) {
  auto opts = parse_params(raw_params);
  if (!opts) return kUsage;
  auto c = bloom::compile_file(file, *opts);
  bool tty_color = want_color(color);
  if (!c->ok()) {
    bloom::render_text(c->sources, c->diags, std::cerr, {tty_color});
    return usage_error(*c) ? kUsage : kCompileError;
  }
  // Warnings of the front end still matter to someone reading a lint report.
  if (c->diags.warning_count() > 0) bloom::render_text(c->sources, c->diags, std::cerr, {tty_color});
  auto report = bloom::analysis::analyze_calm(*c->program, *c->graph);
  if (format == "json") std::cout << bloom::analysis::render_lint_json(c->sources, *c->program, report) << "\n";
  else if (format == "sarif") std::cout << bloom::analysis::render_lint_sarif(c->sources, *c->program, report, BLOOM_VERSION) << "\n";
  else if (format == "dot") std::cout << bloom::analysis::render_lint_dot(*c->program, *c->graph, report);
  else bloom::analysis::render_lint_text(c->sources, *c->program, report, std::cout, {want_color(color, STDOUT_FILENO)});
  return report.fails() ? kNeedsCoordination : kOk;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"bloom: compiler, analyzer and runtime for the Bloom language of distributed programs.\n"
               "A program is a set of unordered rules over collections, evaluated in ticks.",
               "bloom"};
  app.set_version_flag("--version", std::string("bloom ") + BLOOM_VERSION);
  app.require_subcommand(1);
  app.footer("Exit status: 0 success, 1 compile error, 2 usage error (bad options, unreadable file, unknown --param),\n"
             "4 (lint) the program needs coordination.\n"
             "The `run`, `plan` and `node` subcommands arrive in later releases (docs/architecture.md).");

  std::vector<std::string> files, params;
  std::string format = "text", color = "auto";
  bool strata = false, quiet = false;
  auto* check = app.add_subcommand("check", "Parse and check programs: syntax, names, types, safety, operators, strata.\n"
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
  auto* lint = app.add_subcommand("lint", "CALM analysis: label every output M/A/N/D and report each point of order (a\n"
                                          "non-monotone operation that sees asynchronous input) and each race, with the\n"
                                          "path from the source and the remedies (docs/lint.md). Exits 4 when the program\n"
                                          "needs coordination (an unsuppressed finding), 0 when it is coordination-free.");
  lint->add_option("file", lint_file, "The .bloom program to analyse")->required()->type_name("FILE");
  lint->add_option("--format", lint_format, "text (people), json (tools), sarif (code scanning, editors), dot (Graphviz)")
      ->check(CLI::IsMember({"text", "json", "sarif", "dot"}))
      ->capture_default_str();
  lint->add_option("--param", params, "Set a param: NAME=VALUE")->type_name("NAME=VALUE");
  lint->add_option("--color", color, "Colour the report")->check(CLI::IsMember({"auto", "always", "never"}))->capture_default_str();

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
    if (check->parsed()) return run_check(files, format, color, params, strata, quiet);
    if (lint->parsed()) return run_lint(lint_file, lint_format, color, params);
  } catch (const std::exception& e) {
    // A bug, not a user error: say so plainly rather than crash.
    std::cerr << "bloom: internal error: " << e.what() << "\n";
    return 70;
  }
  return kUsage;
}
