// `bloom fmt`: one canonical layout for .bloom source (docs/tools.md gives the rules). The layout
// is decided from the token stream alone, comments included, so only whitespace ever changes:
// every token and every comment is kept, in order, and formatting is idempotent.
#pragma once
#include <optional>
#include <string>
#include <string_view>

#include "syntax/diagnostics.h"
#include "syntax/source.h"

namespace bloom {

struct FormatOptions {
  int width = 100;  // rules and lists longer than this are wrapped (an atom or expression never is)
};

struct Formatted {
  std::string text;
  // Not empty: the safety check failed (the output does not parse, or its tokens or comments
  // differ from the input's). That is a formatter bug; `text` must not be written anywhere.
  std::string bug;
};

// Formats file `file` of `sm`. A file that does not parse gets its diagnostics in `diags` and
// nullopt: it is never formatted. The result has passed the safety check unless `bug` says so.
std::optional<Formatted> format_file(const SourceManager& sm, FileId file, DiagnosticEngine& diags, const FormatOptions& opts = {});

// The safety check: "" when `a` and `b` have the same tokens and the same comments in the same
// order (whitespace ignored; comments compared without trailing blanks and with CRLF as LF),
// else what the first difference is.
std::string token_difference(std::string_view a, std::string_view b);

}  // namespace bloom
