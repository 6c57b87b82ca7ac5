#include "graphviz.h"

#include <cstdlib>

#include "process.h"

namespace bloom::cli {

bool render_svg(const std::string& dot_text, std::string& svg, std::string& error) {
  const char* env = std::getenv("BLOOM_DOT");
  std::string program = env && *env ? env : "dot";
  ProgramRun run = run_program({program, "-Tsvg"}, dot_text);
  if (!run.error.empty()) {
    error = "cannot run Graphviz's `" + program + "` (" + run.error + "): the svg and html formats need it (apt-get install graphviz)";
    return false;
  }
  if (run.status != 0) {
    while (!run.err.empty() && run.err.back() == '\n') run.err.pop_back();
    error = "Graphviz's `" + program + "` failed" + (run.err.empty() ? std::string() : ": " + run.err);
    return false;
  }
  if (run.out.find("<svg") == std::string::npos) {
    error = "Graphviz's `" + program + "` wrote no SVG";
    return false;
  }
  svg = std::move(run.out);
  return true;
}

}  // namespace bloom::cli
