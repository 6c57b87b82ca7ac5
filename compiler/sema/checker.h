// Semantic checks: loads the imported modules, resolves names, checks declarations, types,
// safety and operator legality, and flattens module instances into one sema::Program.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "sema/program.h"
#include "syntax/diagnostics.h"
#include "syntax/source.h"

namespace bloom::sema {

struct CheckOptions {
  std::vector<std::pair<std::string, std::string>> params;  // --param NAME=VALUE
  // The folder `import "std/NAME"` reads from ("" when no standard library was found), and the
  // places searched for it, for the error that says so (driver.h: find_stdlib).
  std::string stdlib_dir;
  std::vector<std::string> stdlib_searched;
  // Reads an imported file (CompileOptions::read_source); default: read_source_file.
  std::function<bool(const std::string& path, std::string& text, std::string& why)> read_source;
};

// Whether an import names a module of the standard library (`import "std/quorum" as q;`).
bool is_stdlib_import(const std::string& path);

// The file `import "import_path"` in the file `importer` reads, as diagnostics name it (lexically
// normalised): `std/NAME` is NAME in `stdlib_dir` (NAME.bloom when NAME has no extension; "" when
// there is no standard library folder), any other path is relative to the importer's folder.
std::string import_file(const std::string& importer, const std::string& import_path, const std::string& stdlib_dir);

// Largest module file read (a guard against importing a device or a huge file by mistake).
inline constexpr size_t kMaxSourceBytes = 64u << 20;

// Reads a source file for the compiler: a regular file no larger than kMaxSourceBytes.
// On failure returns false and sets `why` ("no such file", "is a directory", ...).
bool read_source_file(const std::string& path, std::string& text, std::string& why);

// Checks `main` (already parsed from file `main_file` of `sm`) with its imports, which are read
// and parsed here. Returns null when any error was reported.
std::unique_ptr<Program> check_program(SourceManager& sm, FileId main_file, std::unique_ptr<ast::Module> main, DiagnosticEngine& diags,
                                       const CheckOptions& opts = {});

}  // namespace bloom::sema
