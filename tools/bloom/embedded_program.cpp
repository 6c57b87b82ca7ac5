#include "embedded_program.h"

#include <cstdint>

namespace bloom::cli {
namespace {

constexpr const char* kMagic = "bloom-program 2\n";

void put(std::string& out, const std::string& field) {
  out += std::to_string(field.size());
  out += '\n';
  out += field;
}

// Reads one field at `at`; false when the bytes end early or are malformed.
bool get(const std::string& in, size_t& at, std::string& field) {
  size_t nl = in.find('\n', at);
  if (nl == std::string::npos || nl == at || nl - at > 19) return false;
  uint64_t n = 0;
  for (size_t i = at; i < nl; ++i) {
    if (in[i] < '0' || in[i] > '9') return false;
    n = n * 10 + static_cast<uint64_t>(in[i] - '0');
  }
  if (n > in.size() - nl - 1) return false;
  field = in.substr(nl + 1, n);
  at = nl + 1 + n;
  return true;
}

bool get_count(const std::string& in, size_t& at, size_t& n) {
  std::string f;
  if (!get(in, at, f) || f.empty() || f.size() > 9 || f.find_first_not_of("0123456789") != std::string::npos) return false;
  n = std::stoul(f);
  return true;
}

}  // namespace

std::string encode(const EmbeddedProgram& p) {
  std::string out = kMagic;
  put(out, p.main);
  put(out, std::to_string(p.files.size()));
  for (const auto& [path, text] : p.files) {
    put(out, path);
    put(out, text);
  }
  put(out, std::to_string(p.params.size()));
  for (const auto& param : p.params) put(out, param);
  put(out, p.stdlib_dir);
  return out;
}

std::optional<EmbeddedProgram> decode(const std::string& bytes) {
  const std::string magic = kMagic;
  if (bytes.compare(0, magic.size(), magic) != 0) return std::nullopt;
  size_t at = magic.size(), n = 0;
  EmbeddedProgram p;
  if (!get(bytes, at, p.main) || !get_count(bytes, at, n)) return std::nullopt;
  for (size_t i = 0; i < n; ++i) {
    std::string path, text;
    if (!get(bytes, at, path) || !get(bytes, at, text)) return std::nullopt;
    p.files[path] = std::move(text);
  }
  if (!get_count(bytes, at, n)) return std::nullopt;
  for (size_t i = 0; i < n; ++i)
    if (!get(bytes, at, p.params.emplace_back())) return std::nullopt;
  if (!get(bytes, at, p.stdlib_dir)) return std::nullopt;
  if (at != bytes.size()) return std::nullopt;
  return p;
}

}  // namespace bloom::cli
