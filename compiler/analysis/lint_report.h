// `bloom lint` output formats for a CalmReport: compiler-style text, JSON with stable keys,
// SARIF 2.1.0 for code-scanning tools and editors, and a Graphviz dependency graph.
#pragma once
#include <iosfwd>
#include <string>

#include "analysis/calm.h"
#include "syntax/diagnostics.h"

namespace bloom::analysis {

void render_lint_text(const SourceManager& sm, const sema::Program& p, const CalmReport& r, std::ostream& out,
                      const RenderOptions& opts = {});
std::string render_lint_json(const SourceManager& sm, const sema::Program& p, const CalmReport& r);
std::string render_lint_sarif(const SourceManager& sm, const sema::Program& p, const CalmReport& r,
                              const std::string& tool_version);
std::string render_lint_dot(const sema::Program& p, const DependencyGraph& g, const CalmReport& r);

}  // namespace bloom::analysis
