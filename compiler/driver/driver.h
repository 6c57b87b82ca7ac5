// The compiler front end as one call: parse a file and its imports, check them, build the
// dependency graph and strata. Used by the CLI, the tests and the fuzzer.
#pragma once
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "analysis/stratify.h"
#include "plan/ir.h"
#include "sema/program.h"
#include "syntax/diagnostics.h"
#include "syntax/source.h"

namespace bloom {

struct CompileOptions {
  // `--param NAME=VALUE` settings; NAME may be qualified (`q.rounds`) for an imported instance.
  std::vector<std::pair<std::string, std::string>> params;
  // Where `import "std/NAME"` looks; unset: find_stdlib().
  std::optional<std::string> stdlib_dir;
  // Reads the main file and every import (by the path diagnostics show); default: from disk
  // (sema::read_source_file). A binary made by `bloom build` reads its embedded sources.
  std::function<bool(const std::string& path, std::string& text, std::string& why)> read_source;
};

// The standard library's folder for `import "std/NAME"` (docs/language.md, "Modules"):
// $BLOOM_STDLIB when it is set; else EXE/../share/bloom/stdlib, where `cmake --install` and the
// .deb put it beside EXE/bloom; else EXE/stdlib, the link CMake makes in the build tree. "" when
// none is a folder; `searched` (if given) gets the places looked at.
std::string find_stdlib(std::vector<std::string>* searched = nullptr);

struct Compilation {
  SourceManager sources;
  DiagnosticEngine diags;
  std::unique_ptr<sema::Program> program;            // null if parsing or checking failed
  std::unique_ptr<analysis::DependencyGraph> graph;  // null if program is null
  std::unique_ptr<analysis::Strata> strata;          // null if the program is unstratifiable
  bool ok() const { return !diags.has_errors() && program && strata; }
};

// Lowers a compilation that is ok() to the Plan IR. Returns null with `error` set if a rule
// cannot be planned (an unset param a rule needs, or an internal inconsistency).
std::unique_ptr<plan::Program> plan_of(const Compilation& c, std::string& error);

// Reads `path` from disk; imports are resolved relative to the importing file.
std::unique_ptr<Compilation> compile_file(const std::string& path, const CompileOptions& opts = {});
// Compiles `text` as if it were the file `path` (imports still come from disk).
std::unique_ptr<Compilation> compile_text(const std::string& path, std::string text, const CompileOptions& opts = {});

}  // namespace bloom
