// `bloom lint` output formats for a CalmReport: compiler-style text, JSON with stable keys,
// SARIF 2.1.0 for code-scanning tools and editors, and a Graphviz dependency graph.
#pragma once
#include <filesystem>
#include <iosfwd>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "analysis/calm.h"
#include "syntax/diagnostics.h"

namespace bloom::analysis {

void render_lint_text(const SourceManager& sm, const sema::Program& p, const CalmReport& r, std::ostream& out,
                      const RenderOptions& opts = {});
// One JSON object (docs/lint.md), streamed: `level` is how deep it is nested in the document
// being written (0 on its own), for the indentation.
void write_lint_json(const SourceManager& sm, const sema::Program& p, const CalmReport& r, std::ostream& out, int level = 0);
std::string render_lint_sarif(const SourceManager& sm, const sema::Program& p, const CalmReport& r, const std::string& tool_version);

// SARIF artifact locations relative to a base: SRCROOT (the current directory) for files under
// it, PROGRAMROOT (the program's directory) for the others under that one, an absolute file URI
// otherwise. The bases used go in the run's `originalUriBaseIds`.
class SarifUris {
 public:
  explicit SarifUris(const std::string& program);
  nlohmann::json artifact(const std::string& path) const;
  nlohmann::json original_uri_base_ids() const;

 private:
  std::vector<std::pair<std::string, std::filesystem::path>> bases_;
  mutable std::set<std::string> used_;
};
// One SARIF run for a report (its results, and the verdict and output labels in its
// properties), and the log around runs: `bloom lint DEPLOY.toml` writes one run per program.
nlohmann::json sarif_run(const SourceManager& sm, const sema::Program& p, const CalmReport& r, const std::string& tool_version,
                         SarifUris& uris);
nlohmann::json sarif_log(nlohmann::json runs);
std::string render_lint_dot(const sema::Program& p, const DependencyGraph& g, const CalmReport& r);

}  // namespace bloom::analysis
