// Source files and positions. Every AST node and diagnostic carries a Span into a SourceManager.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace bloom {

using FileId = uint32_t;
inline constexpr FileId kNoFile = UINT32_MAX;

// A half-open region of one file. Lines and columns are 1-based; columns count Unicode code
// points (what ANTLR reports and what an editor shows); end_col is one past the last character.
struct Span {
  FileId file = kNoFile;
  uint32_t line = 0, col = 0, end_line = 0, end_col = 0;

  bool valid() const { return file != kNoFile && line != 0; }
  // The smallest span covering both (they must be in one file; an invalid side is ignored).
  static Span cover(const Span& a, const Span& b);
  friend bool operator==(const Span&, const Span&) = default;
};

struct SourceFile {
  std::string path;  // as the user named it (relative paths stay relative, for messages)
  std::string text;
  std::vector<uint32_t> line_starts;  // byte offset of each line's first character

  SourceFile(std::string p, std::string t);
  uint32_t line_count() const { return static_cast<uint32_t>(line_starts.size()); }
  // Line `n` (1-based) without its newline; empty past the end.
  std::string_view line(uint32_t n) const;
};

class SourceManager {
 public:
  FileId add(std::string path, std::string text);
  const SourceFile& file(FileId id) const { return *files_.at(id); }
  size_t size() const { return files_.size(); }
  // "path:line:col" for messages; "<unknown>" for an invalid span.
  std::string location(const Span& s) const;

 private:
  std::vector<std::unique_ptr<SourceFile>> files_;  // stable addresses
};

}  // namespace bloom
