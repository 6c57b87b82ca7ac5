#include "syntax/diagnostics.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <ostream>
#include <tuple>

namespace bloom {

std::string_view severity_name(Severity s) {
  switch (s) {
    case Severity::Error: return "error";
    case Severity::Warning: return "warning";
    case Severity::Note: return "note";
  }
  return "error";
}

Diagnostic& DiagnosticEngine::push(Diagnostic d) {
  if (d.severity == Severity::Error) ++errors_;
  if (d.severity == Severity::Warning) ++warnings_;
  if (errors_ > kMaxErrors) {
    ++dropped_;
    overflow_ = std::move(d);
    return overflow_;
  }
  diags_.push_back(std::move(d));
  return diags_.back();
}

Diagnostic& DiagnosticEngine::error(std::string code, Span span, std::string message) {
  return push({Severity::Error, std::move(code), span, std::move(message), {}, {}, {}});
}
Diagnostic& DiagnosticEngine::warning(std::string code, Span span, std::string message) {
  return push({Severity::Warning, std::move(code), span, std::move(message), {}, {}, {}});
}
void DiagnosticEngine::add(Diagnostic d) { push(std::move(d)); }

void DiagnosticEngine::sort_and_dedupe() {
  auto key = [](const Diagnostic& d) { return std::tuple(d.span.file, d.span.line, d.span.col); };
  std::stable_sort(diags_.begin(), diags_.end(), [&](const Diagnostic& a, const Diagnostic& b) { return key(a) < key(b); });
  std::vector<Diagnostic> kept;
  for (auto& d : diags_) {
    bool repeat = std::any_of(kept.begin(), kept.end(),
                              [&](const Diagnostic& k) { return k.span == d.span && k.message == d.message && k.code == d.code; });
    if (!repeat) {
      kept.push_back(std::move(d));
    } else if (d.severity == Severity::Error) {
      --errors_;
    } else if (d.severity == Severity::Warning) {
      --warnings_;
    }
  }
  diags_ = std::move(kept);
}

namespace {

struct Style {
  bool on;
  const char* bold() const { return on ? "\033[1m" : ""; }
  const char* reset() const { return on ? "\033[0m" : ""; }
  const char* of(Severity s) const {
    if (!on) return "";
    switch (s) {
      case Severity::Error: return "\033[1;31m";
      case Severity::Warning: return "\033[1;35m";
      case Severity::Note: return "\033[1;36m";
    }
    return "";
  }
  const char* green() const { return on ? "\033[1;32m" : ""; }
};

// Number of code points in a UTF-8 string (continuation bytes are not counted).
size_t code_points(std::string_view s) {
  return static_cast<size_t>(std::count_if(s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

void render_snippet(const SourceManager& sm, const Span& span, const std::string& label, const Style& st, Severity sev, std::ostream& out) {
  if (!span.valid() || span.file >= sm.size()) return;
  const SourceFile& f = sm.file(span.file);
  if (span.line > f.line_count()) return;
  std::string_view text = f.line(span.line);
  std::string num = std::to_string(span.line);
  std::string pad(num.size(), ' ');
  out << " " << num << " | " << text << "\n";
  out << " " << pad << " | ";
  // Walk the line by code point so the caret lands under the right character; tabs stay tabs.
  uint32_t col = 1;
  size_t line_cps = code_points(text);
  uint32_t end_col = span.end_line == span.line ? span.end_col : static_cast<uint32_t>(line_cps + 1);
  if (end_col <= span.col) end_col = span.col + 1;
  std::string marker;
  for (size_t i = 0; i < text.size() && col < span.col; ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if ((c & 0xC0) == 0x80) continue;
    marker += c == '\t' ? '\t' : ' ';
    ++col;
  }
  while (col < span.col) {
    marker += ' ';
    ++col;
  }
  out << marker << st.of(sev) << '^';
  for (uint32_t c = span.col + 1; c < end_col; ++c) out << '~';
  if (!label.empty()) out << ' ' << label;
  out << st.reset() << "\n";
}

void render_header(const SourceManager& sm, const Span& span, Severity sev, std::string_view msg, std::string_view code, const Style& st,
                   std::ostream& out) {
  out << st.bold();
  if (span.valid()) out << sm.location(span) << ": ";
  out << st.of(sev) << severity_name(sev) << ": " << st.reset() << st.bold() << msg;
  if (!code.empty()) out << " [" << code << "]";
  out << st.reset() << "\n";
}

}  // namespace

void render_text(const SourceManager& sm, const Diagnostic& d, std::ostream& out, const RenderOptions& opts) {
  Style st{opts.color};
  render_header(sm, d.span, d.severity, d.message, d.code, st, out);
  render_snippet(sm, d.span, d.label, st, d.severity, out);
  for (const auto& n : d.notes) {
    render_header(sm, n.span, Severity::Note, n.message, "", st, out);
    render_snippet(sm, n.span, "", st, Severity::Note, out);
  }
  if (!d.help.empty()) out << st.green() << "help: " << st.reset() << d.help << "\n";
}

void render_text(const SourceManager& sm, const DiagnosticEngine& diags, std::ostream& out, const RenderOptions& opts) {
  for (const auto& d : diags.all()) render_text(sm, d, out, opts);
  if (diags.dropped() > 0)
    out << "note: " << diags.dropped() << " more diagnostics not shown (limit " << DiagnosticEngine::kMaxErrors << " errors)\n";
  if (diags.error_count() + diags.warning_count() > 0) {
    auto plural = [](size_t n, const char* w) { return std::to_string(n) + " " + w + (n == 1 ? "" : "s"); };
    if (diags.error_count() && diags.warning_count())
      out << plural(diags.error_count(), "error") << " and " << plural(diags.warning_count(), "warning") << " generated.\n";
    else if (diags.error_count()) out << plural(diags.error_count(), "error") << " generated.\n";
    else out << plural(diags.warning_count(), "warning") << " generated.\n";
  }
}

nlohmann::json span_json(const SourceManager& sm, const Span& s) {
  if (!s.valid() || s.file >= sm.size()) return nullptr;
  return {{"file", sm.file(s.file).path}, {"line", s.line}, {"column", s.col}, {"end_line", s.end_line}, {"end_column", s.end_col}};
}

std::string render_json(const SourceManager& sm, const DiagnosticEngine& diags) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& d : diags.all()) {
    nlohmann::json notes = nlohmann::json::array();
    for (const auto& n : d.notes) notes.push_back({{"message", n.message}, {"span", span_json(sm, n.span)}});
    nlohmann::json j = {{"severity", severity_name(d.severity)},
                        {"code", d.code},
                        {"message", d.message},
                        {"span", span_json(sm, d.span)},
                        {"notes", notes}};
    if (!d.label.empty()) j["label"] = d.label;
    if (!d.help.empty()) j["help"] = d.help;
    list.push_back(std::move(j));
  }
  nlohmann::json root = {{"diagnostics", list}, {"errors", diags.error_count()}, {"warnings", diags.warning_count()}};
  // Invalid UTF-8 in a user's file must not make the JSON writer throw: replace it.
  return root.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string closest_match(std::string_view name, const std::vector<std::string>& candidates) {
  auto distance = [](std::string_view a, std::string_view b) {
    // Damerau-Levenshtein (optimal string alignment), case-insensitive.
    auto low = [](char c) { return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c); };
    std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
    for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
    for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
    for (size_t i = 1; i <= a.size(); ++i)
      for (size_t j = 1; j <= b.size(); ++j) {
        size_t cost = low(a[i - 1]) == low(b[j - 1]) ? 0 : 1;
        d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
        if (i > 1 && j > 1 && low(a[i - 1]) == low(b[j - 2]) && low(a[i - 2]) == low(b[j - 1]))
          d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    return d[a.size()][b.size()];
  };
  // Very short names are too close to everything for a suggestion to help.
  if (name.size() < 3) return {};
  size_t limit = std::max<size_t>(1, name.size() / 3);
  std::string best;
  size_t best_d = limit + 1;
  // A name that is the start of exactly one candidate (`to_str`) is a suggestion too.
  std::string prefix_of;
  int prefixes = 0;
  for (const auto& c : candidates)
    if (c.size() > name.size() && c.compare(0, name.size(), name) == 0) {
      prefix_of = c;
      ++prefixes;
    }
  for (const auto& c : candidates) {
    if (c == name) continue;
    size_t lim_len = c.size() > name.size() ? c.size() - name.size() : name.size() - c.size();
    if (lim_len > limit) continue;
    size_t dist = distance(name, c);
    if (dist < best_d) {
      best_d = dist;
      best = c;
    }
  }
  if (best.empty() && prefixes == 1) return prefix_of;
  return best;
}

}  // namespace bloom
