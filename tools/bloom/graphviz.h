// `--format svg` and the HTML lint report: DOT text rendered to SVG by Graphviz's `dot` program
// (Debian's graphviz package), run as a child process. A program rather than libgvc keeps
// Graphviz an optional, run-time need of these two formats only.
#pragma once
#include <string>

namespace bloom::cli {

// The SVG document `dot -Tsvg` makes of `dot_text`; false and why in `error` (dot missing,
// or what it said on stderr when it failed). `$BLOOM_DOT` names another `dot` to run.
bool render_svg(const std::string& dot_text, std::string& svg, std::string& error);

}  // namespace bloom::cli
