#include "syntax/source.h"

#include <algorithm>

namespace bloom {

Span Span::cover(const Span& a, const Span& b) {
  if (!a.valid()) return b;
  if (!b.valid()) return a;
  Span r = a;
  if (std::pair(b.line, b.col) < std::pair(a.line, a.col)) {
    r.line = b.line;
    r.col = b.col;
  }
  if (std::pair(b.end_line, b.end_col) > std::pair(a.end_line, a.end_col)) {
    r.end_line = b.end_line;
    r.end_col = b.end_col;
  }
  return r;
}

SourceFile::SourceFile(std::string p, std::string t) : path(std::move(p)), text(std::move(t)) {
  line_starts.push_back(0);
  for (uint32_t i = 0; i < text.size(); ++i)
    if (text[i] == '\n') line_starts.push_back(i + 1);
}

std::string_view SourceFile::line(uint32_t n) const {
  if (n == 0 || n > line_starts.size()) return {};
  uint32_t begin = line_starts[n - 1];
  uint32_t end = n < line_starts.size() ? line_starts[n] - 1 : static_cast<uint32_t>(text.size());
  std::string_view v(text.data() + begin, end - begin);
  if (!v.empty() && v.back() == '\r') v.remove_suffix(1);
  return v;
}

FileId SourceManager::add(std::string path, std::string text) {
  files_.push_back(std::make_unique<SourceFile>(std::move(path), std::move(text)));
  return static_cast<FileId>(files_.size() - 1);
}

std::string SourceManager::location(const Span& s) const {
  if (!s.valid() || s.file >= files_.size()) return "<unknown>";
  return files_[s.file]->path + ":" + std::to_string(s.line) + ":" + std::to_string(s.col);
}

}  // namespace bloom
