#include "node/facts.h"

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <fstream>

#include <fmt/format.h>

namespace bloom::rt {

using plan::TypeKind;

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
      if (!parse_field(s, t.args[0], lattices, out, expected)) return false;
      return true;
    case TypeKind::LBool:
      return parse_field(s, plan::ValueType{TypeKind::Bool, {}}, lattices, out, expected);
    case TypeKind::LSet:
      if (!parse_field(s, t.args[0], lattices, out, expected)) return false;
      out = lattices.lift(t, out);
      return true;
    case TypeKind::LMap: expected = "nothing: lmap columns cannot be read from a facts file"; return false;
  }
  return false;
}

void read_facts(const std::string& path, const plan::Relation& rel, Lattices& lattices,
                const std::function<void(const Word*, size_t)>& row) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw FactsError(fmt::format("{}: cannot open: {}", path, std::strerror(errno)));
  std::string line;
  std::vector<Word> values(rel.arity());
  size_t n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (!line.empty() && line.back() == '\r') line.pop_back();
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
        throw FactsError(fmt::format("{}:{}:{}: too many columns: `{}` has {} ({}), this line has more", path, n, start + 1,
                                     rel.name, rel.arity(), fmt::join(rel.column_names, ", ")));
      std::string expected;
      if (!parse_field(field, rel.column_types[col], lattices, values[col], expected))
        throw FactsError(fmt::format("{}:{}:{}: expected {} for column `{}` ({}) of `{}`, found `{}`", path, n, start + 1, expected,
                                     rel.column_names[col], rel.column_types[col].str(), rel.name, field));
      ++col;
      if (tab == std::string::npos) break;
      start = tab + 1;
    }
    if (col < rel.arity())
      throw FactsError(fmt::format("{}:{}:{}: too few columns: `{}` has {} ({}), this line has {} (columns are separated by tabs)",
                                   path, n, line.size() + 1, rel.name, rel.arity(), fmt::join(rel.column_names, ", "), col));
    row(values.data(), n);
  }
  if (in.bad()) throw FactsError(fmt::format("{}: read error", path));
}

void write_file_atomically(const std::string& path, const std::string& text) {
  write_file_atomically(path, [&](std::ostream& out) { out << text; });
}

void write_file_atomically(const std::string& path, const std::function<void(std::ostream&)>& write) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw std::runtime_error(fmt::format("{}: cannot write: {}", tmp, std::strerror(errno)));
    write(out);
    out.flush();
    if (!out) {
      std::remove(tmp.c_str());
      throw std::runtime_error(fmt::format("{}: write failed: {}", tmp, std::strerror(errno)));
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    std::remove(tmp.c_str());
    throw std::runtime_error(fmt::format("{}: cannot replace: {}", path, std::strerror(err)));
  }
}

}  // namespace bloom::rt
