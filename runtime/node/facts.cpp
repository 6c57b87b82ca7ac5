#include "node/facts.h"

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string_view>

#include <fmt/format.h>

#include "core/files.h"

namespace bloom::rt {

using plan::TypeKind;

namespace {

// A value nested in a map, written as `bloom run -D` writes it: `{"n1": 3, "n2": 5}`, sets
// `{"a", "b"}`, lmax bottom `-inf`, lmin bottom `+inf`. Strings are quoted (with the escapes
// \" \\ \n \t) or, for readability, bare words without spaces, quotes or `{},:`.
class NestedText {
 public:
  NestedText(std::string_view s, Lattices& lattices) : s_(s), lattices_(lattices) {}

  // The whole text as one value of `t`; on failure `why` says what was expected where.
  bool parse(const plan::ValueType& t, Word& out, std::string& why) {
    if (!value(t, out) || (skip(), i_ != s_.size() && !fail("the end of the value"))) {
      why = why_;
      return false;
    }
    return true;
  }

 private:
  bool fail(const std::string& what) {
    if (why_.empty()) why_ = fmt::format("{} at character {}", what, i_ + 1);
    return false;
  }
  void skip() {
    while (i_ < s_.size() && s_[i_] == ' ') ++i_;
  }
  bool eat(char c) {
    skip();
    if (i_ >= s_.size() || s_[i_] != c) return false;
    ++i_;
    return true;
  }
  std::string_view word() {
    skip();
    size_t from = i_;
    while (i_ < s_.size() && std::string_view(" ,:{}\"").find(s_[i_]) == std::string_view::npos) ++i_;
    return s_.substr(from, i_ - from);
  }
  bool quoted(std::string& out) {
    ++i_;  // the opening quote
    for (; i_ < s_.size(); ++i_) {
      char c = s_[i_];
      if (c == '"') {
        ++i_;
        return true;
      }
      if (c != '\\') {
        out += c;
        continue;
      }
      if (++i_ == s_.size()) break;
      switch (s_[i_]) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case 'n': out += '\n'; break;
        case 't': out += '\t'; break;
        default: return fail("one of the escapes \\\" \\\\ \\n \\t");
      }
    }
    return fail("a closing `\"`");
  }

  // Recursion follows the type, never the text, so its depth is the type's.
  bool value(const plan::ValueType& t, Word& out) {
    skip();
    switch (t.kind) {
      case TypeKind::String:
      case TypeKind::Addr: {
        std::string text;
        if (i_ < s_.size() && s_[i_] == '"') {
          if (!quoted(text)) return false;
        } else {
          text = word();
          if (text.empty()) return fail("a string");
        }
        out = lattices_.symbols().intern(text);
        return true;
      }
      case TypeKind::Int:
      case TypeKind::Float:
      case TypeKind::Bool:
      case TypeKind::LBool: {
        size_t at = i_;
        std::string_view w = word();
        std::string expected;
        if (parse_field(w, t, lattices_, out, expected)) return true;
        i_ = at;
        return fail(expected);
      }
      case TypeKind::LMax:
      case TypeKind::LMin: {
        size_t at = i_;
        std::string_view w = word();
        if (w == (t.kind == TypeKind::LMax ? "-inf" : "+inf")) {
          out = lattices_.bottom(t);
          return true;
        }
        i_ = at;
        return value(t.args[0], out);
      }
      case TypeKind::LSet:
      case TypeKind::LMap: {
        bool map = t.kind == TypeKind::LMap;
        if (!eat('{')) return fail(map ? "a map `{key: value, ...}`" : "a set `{element, ...}`");
        std::vector<Word> elements;
        std::vector<std::pair<Word, Word>> entries;
        if (eat('}')) {
          out = map ? lattices_.map_of(t.args[1], {}) : lattices_.set_of({});
          return true;
        }
        do {
          Word k = 0, v = 0;
          if (!value(t.args[0], k)) return false;
          if (map && !eat(':')) return fail("`:` after a key");
          if (map && !value(t.args[1], v)) return false;
          if (map) entries.emplace_back(k, v);
          else elements.push_back(k);
        } while (eat(','));
        if (!eat('}')) return fail("`,` or `}`");
        out = map ? lattices_.map_of(t.args[1], std::move(entries)) : lattices_.set_of(std::move(elements));
        return true;
      }
    }
    return fail("a value");
  }

  std::string_view s_;
  size_t i_ = 0;
  Lattices& lattices_;
  std::string why_;
};

}  // namespace

bool parse_field(std::string_view s, const plan::ValueType& t, Lattices& lattices, Word& out, std::string& expected) {
  switch (t.kind) {
    case TypeKind::Int: {
      int64_t v = 0;
      auto r = std::from_chars(s.data(), s.data() + s.size(), v);
      if (s.empty() || r.ec != std::errc() || r.ptr != s.data() + s.size()) {
        expected = r.ec == std::errc::result_out_of_range ? "a 64-bit int (this one is out of range)" : "an int";
        return false;
      }
      out = from_int(v);
      return true;
    }
    case TypeKind::Float: {
      double v = 0;
      auto r = std::from_chars(s.data(), s.data() + s.size(), v);
      if (s.empty() || r.ec != std::errc() || r.ptr != s.data() + s.size()) {
        expected = "a float";
        return false;
      }
      out = from_float(v);
      return true;
    }
    case TypeKind::Bool:
      if (s == "true" || s == "1") out = 1;
      else if (s == "false" || s == "0") out = 0;
      else {
        expected = "a bool (true or false)";
        return false;
      }
      return true;
    case TypeKind::String:
    case TypeKind::Addr: out = lattices.symbols().intern(s); return true;
    case TypeKind::LMax:
    case TypeKind::LMin:
      // Bottom as `-D` writes it, so that an output reads back as a facts file.
      if (s == (t.kind == TypeKind::LMax ? "-inf" : "+inf")) {
        out = lattices.bottom(t);
        return true;
      }
      return parse_field(s, t.args[0], lattices, out, expected);
    case TypeKind::LBool: return parse_field(s, plan::ValueType{TypeKind::Bool, {}}, lattices, out, expected);
    case TypeKind::LSet: {
      // `{...}` is a whole set, as `-D` writes it; anything else is one element.
      if (s.empty() || s.front() != '{') {
        if (!parse_field(s, t.args[0], lattices, out, expected)) return false;
        out = lattices.lift(t, out);
        return true;
      }
      std::string why;
      if (NestedText(s, lattices).parse(t, out, why)) return true;
      expected = fmt::format("a set such as {{\"a\", \"b\"}} ({})", why);
      return false;
    }
    case TypeKind::LMap: {
      std::string why;
      if (NestedText(s, lattices).parse(t, out, why)) return true;
      expected = fmt::format("a map such as {{\"a\": {}}} ({})",
                             t.args[1].kind == TypeKind::LSet || t.args[1].kind == TypeKind::LMap ? "{...}" : "1", why);
      return false;
    }
  }
  return false;
}

namespace {

// The byte offset of the first byte of `line` that is not well-formed UTF-8 or is NUL, or npos.
// Overlong forms, surrogates and code points above U+10FFFF are not well-formed.
size_t bad_text_at(std::string_view line, bool& nul) {
  const auto* p = reinterpret_cast<const unsigned char*>(line.data());
  const size_t n = line.size();
  for (size_t i = 0; i < n;) {
    const unsigned char c = p[i];
    if (c == 0) {
      nul = true;
      return i;
    }
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    unsigned char lo = 0x80, hi = 0xbf;  // the range of the second byte
    if (c >= 0xc2 && c <= 0xdf) len = 2;
    else if (c == 0xe0) len = 3, lo = 0xa0;
    else if (c >= 0xe1 && c <= 0xef) len = 3, hi = c == 0xed ? 0x9f : 0xbf;
    else if (c == 0xf0) len = 4, lo = 0x90;
    else if (c >= 0xf1 && c <= 0xf3) len = 4;
    else if (c == 0xf4) len = 4, hi = 0x8f;
    else return i;
    if (i + len > n || p[i + 1] < lo || p[i + 1] > hi) return i;
    for (size_t k = 2; k < len; ++k)
      if (p[i + k] < 0x80 || p[i + k] > 0xbf) return i;
    i += len;
  }
  return std::string_view::npos;
}

// The column (in code points, from 1) of byte offset `at` of a line that is valid before it.
size_t column_of(std::string_view line, size_t at) {
  size_t col = 1;
  for (size_t i = 0; i < at && i < line.size(); ++i)
    if ((static_cast<unsigned char>(line[i]) & 0xc0) != 0x80) ++col;
  return col;
}

}  // namespace

void read_facts(const std::string& path, const plan::Relation& rel, Lattices& lattices,
                const std::function<void(const Word*, size_t)>& row) {
  // A FIFO would block the run, a device (a link to /dev/zero) would be read forever.
  std::error_code ec;
  auto status = std::filesystem::status(path, ec);
  if (!ec && std::filesystem::exists(status) && !std::filesystem::is_regular_file(status))
    throw FactsError(fmt::format("{}: not a regular file ({}): a facts file must be a regular file", path,
                                 std::filesystem::is_directory(status) ? "a directory"
                                 : std::filesystem::is_fifo(status)    ? "a FIFO"
                                 : std::filesystem::is_socket(status)  ? "a socket"
                                                                       : "a device"));
  std::ifstream in(path, std::ios::binary);
  if (!in) throw FactsError(fmt::format("{}: cannot open: {}", path, std::strerror(errno)));
  std::string line;
  std::vector<Word> values(rel.arity());
  size_t n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (n == 1 && line.starts_with("\xef\xbb\xbf")) line.erase(0, 3);  // a UTF-8 byte order mark (editors on Windows)
    bool nul = false;
    if (size_t bad = bad_text_at(line, nul); bad != std::string::npos)
      throw FactsError(fmt::format(
          "{}:{}:{}: {}: facts files are UTF-8 text", path, n, column_of(line, bad),
          nul ? std::string("a NUL byte") : fmt::format("invalid UTF-8 (byte 0x{:02x})", static_cast<unsigned char>(line[bad]))));
    if (rel.arity() == 0) {
      row(values.data(), n);
      return;
    }
    if (line.empty()) continue;
    size_t col = 0, start = 0;
    for (;;) {
      size_t tab = line.find('\t', start);
      std::string_view field(line.data() + start, (tab == std::string::npos ? line.size() : tab) - start);
      if (col >= rel.arity())
        throw FactsError(fmt::format("{}:{}:{}: too many columns: `{}` has {} ({}), this line has more", path, n, start + 1, rel.name,
                                     rel.arity(), fmt::join(rel.column_names, ", ")));
      std::string expected;
      if (!parse_field(field, rel.column_types[col], lattices, values[col], expected))
        throw FactsError(fmt::format("{}:{}:{}: expected {} for column `{}` ({}) of `{}`, found `{}`", path, n, start + 1, expected,
                                     rel.column_names[col], rel.column_types[col].str(), rel.name, field));
      ++col;
      if (tab == std::string::npos) break;
      start = tab + 1;
    }
    if (col < rel.arity())
      throw FactsError(fmt::format("{}:{}:{}: too few columns: `{}` has {} ({}), this line has {} (columns are separated by tabs)", path, n,
                                   line.size() + 1, rel.name, rel.arity(), fmt::join(rel.column_names, ", "), col));
    row(values.data(), n);
  }
  if (in.bad()) throw FactsError(fmt::format("{}: read error", path));
}

// Outputs are derived again by the next run: atomic for readers, not synced (a sync per tick and
// file would cost more than it saves).
void write_file_atomically(const std::string& path, const std::string& text) {
  std::string why;
  if (!replace_file(path, text, ReplaceOptions{.mode = std::nullopt, .sync = false}, why))
    throw std::runtime_error(fmt::format("{}: {}", path, why));
}

void write_file_atomically(const std::string& path, const std::function<void(std::ostream&)>& write) {
  std::string why;
  if (!replace_file(path, write, ReplaceOptions{.mode = std::nullopt, .sync = false}, why))
    throw std::runtime_error(fmt::format("{}: {}", path, why));
}

}  // namespace bloom::rt
