// What an editor asks about a program (`bloom lsp`, docs/tools.md): the symbols of a file, what
// the name at a position is, where it is declared, and the lint's mechanical fixes. Positions are
// the compiler's (1-based lines, columns in code points); the protocol converts them.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "analysis/calm.h"
#include "sema/program.h"
#include "syntax/ast.h"
#include "syntax/diagnostics.h"
#include "syntax/source.h"

namespace bloom::ide {

enum class SymbolKind { Import, Param, Const, Collection, Seal, Rule };

struct Symbol {
  SymbolKind kind;
  std::string name;      // `link`, or for a rule its head as written and its operator
  std::string detail;    // `table`, `channel`, a param's type, ...
  Span span, selection;  // the whole item, and its name
};

// The items of one parsed file, in source order. Works on a module that failed to check (or to
// parse: then on what could be built).
std::vector<Symbol> document_symbols(const SourceManager& sm, const ast::Module& m);

// The file's program, as far as it was checked. `program` and `calm` may be null (the program
// does not check, or is not stratifiable): answers then come from the syntax of `module` alone.
struct View {
  const SourceManager& sources;
  const ast::Module& module;  // the main file's, instance 0 of `program` when there is one
  const sema::Program* program = nullptr;
  const analysis::CalmReport* calm = nullptr;
};

// A place in a file of `sources`, or a file as a whole (span invalid, `path` set).
struct Target {
  Span span;
  std::string path;
};

struct Hover {
  Span span;             // the name hovered
  std::string markdown;  // what it is
};

std::optional<Hover> hover(const View& v, uint32_t line, uint32_t col);
std::optional<Target> definition(const View& v, uint32_t line, uint32_t col);

// A mechanical edit that answers a diagnostic: replace `replace` (empty: insert at its start)
// with `text`.
struct Fix {
  std::string title;
  Span diagnostic;  // the diagnostic or lint finding it answers
  Span replace;
  std::string text;
};
// The lint's one mechanical remedy: the suppression comment on the line before a finding's rule
// (docs/lint.md, "Suppressing a finding"), whose reason the user then writes.
std::vector<Fix> suppression_fixes(const View& v);
// The checker's "did you mean `x`?": the misspelt name replaced by `x`, for diagnostics in `file`.
std::vector<Fix> spelling_fixes(const SourceManager& sm, const DiagnosticEngine& diags, FileId file);

}  // namespace bloom::ide
