// Compiler diagnostics in the style of clang/rustc: `file:line:col: error: message`, the source
// line with the offending region underlined, notes pointing at related places, a help line.
// Every layer of the compiler reports through a DiagnosticEngine; the CLI renders text or JSON.
#pragma once
#include <iosfwd>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "syntax/source.h"

namespace bloom {

enum class Severity { Error, Warning, Note };
std::string_view severity_name(Severity s);

struct DiagnosticNote {
  Span span;  // may be invalid: then the note is a plain line
  std::string message;
};

struct Diagnostic {
  Severity severity = Severity::Error;
  std::string code;     // stable kebab-case id, e.g. "unbound-variable" (docs/diagnostics.md)
  Span span;            // primary location
  std::string message;  // one line, no trailing period
  std::string label;    // optional text printed under the caret
  std::vector<DiagnosticNote> notes;
  std::string help;  // optional suggestion ("did you mean `path`?")

  Diagnostic& note(Span s, std::string m) {
    notes.push_back({s, std::move(m)});
    return *this;
  }
  Diagnostic& with_help(std::string h) {
    help = std::move(h);
    return *this;
  }
  Diagnostic& with_label(std::string l) {
    label = std::move(l);
    return *this;
  }
};

class DiagnosticEngine {
 public:
  // After this many errors further ones are counted but not stored (one summary is rendered).
  static constexpr size_t kMaxErrors = 100;

  Diagnostic& error(std::string code, Span span, std::string message);
  Diagnostic& warning(std::string code, Span span, std::string message);
  void add(Diagnostic d);

  size_t error_count() const { return errors_; }
  size_t warning_count() const { return warnings_; }
  bool has_errors() const { return errors_ != 0; }
  size_t dropped() const { return dropped_; }
  const std::vector<Diagnostic>& all() const { return diags_; }
  // Orders by file and position (stable), and drops exact repeats (one module imported twice
  // reports its problems once).
  void sort_and_dedupe();

 private:
  Diagnostic& push(Diagnostic d);
  std::vector<Diagnostic> diags_;
  Diagnostic overflow_;  // returned once the cap is reached, so callers can chain safely
  size_t errors_ = 0, warnings_ = 0, dropped_ = 0;
};

struct RenderOptions {
  bool color = false;
};
void render_text(const SourceManager& sm, const DiagnosticEngine& diags, std::ostream& out, const RenderOptions& opts = {});
// One diagnostic, without the trailing summary line.
void render_text(const SourceManager& sm, const Diagnostic& d, std::ostream& out, const RenderOptions& opts = {});
// {"diagnostics": [...], "errors": N, "warnings": N} (docs/diagnostics.md gives the schema).
std::string render_json(const SourceManager& sm, const DiagnosticEngine& diags);

// A span as JSON in the one schema every report uses (check and lint alike):
// {"file", "line", "column", "end_line", "end_column"}, or null for an invalid span.
nlohmann::json span_json(const SourceManager& sm, const Span& s);

// Edit distance for "did you mean" suggestions: the closest candidate within a distance that
// scales with the name's length, or "" when nothing is close.
std::string closest_match(std::string_view name, const std::vector<std::string>& candidates);

}  // namespace bloom
