// Parsing: source text -> ast::Module. The only part of bloom that sees ANTLR types (but for
// format.cpp, which runs the same lexer to lay out its tokens).
#pragma once
#include <memory>

#include "syntax/ast.h"
#include "syntax/diagnostics.h"

namespace bloom {

// Parses file `file` of `sm`. Syntax errors are reported to `diags` (never to the console) and
// the parser recovers to report several per run; the returned module then holds what could be
// built and must not be checked further.
std::unique_ptr<ast::Module> parse_module(const SourceManager& sm, FileId file, DiagnosticEngine& diags);

}  // namespace bloom
