// `bloom lint --format html`: one self-contained page (no network, no other file) for people
// who would rather look than read. The dependency graph (render_lint_dot, drawn as SVG by the
// caller) with every collection coloured by its label and each point of order outlined; the
// findings, each linked to its source line, with the path from the source and the remedies;
// the program's files with line numbers. Clicking a finding lights its path in the graph and
// its lines in the source. The page carries the report as the JSON of `--format json`, so what
// it shows is exactly what the other formats say.
#pragma once
#include <string>

#include "analysis/calm.h"
#include "syntax/source.h"

namespace bloom::analysis {

// `graph_svg`: Graphviz's SVG of render_lint_dot (its XML prologue is dropped); "" leaves the
// graph out, with a note saying so.
std::string render_lint_html(const SourceManager& sm, const sema::Program& p, const CalmReport& r, const std::string& graph_svg,
                             const std::string& tool_version);

}  // namespace bloom::analysis
