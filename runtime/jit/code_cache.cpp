#include "jit/code_cache.h"

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include <llvm/ADT/ArrayRef.h>
#include <llvm/Support/SHA256.h>

namespace bloom::rt::jit {
namespace {

namespace fs = std::filesystem;

// Writes `data` to `path` through a temporary file in the same folder and a rename; false if
// any step fails (the temporary is removed).
bool write_atomically(const fs::path& path, llvm::StringRef data) {
  static std::atomic<uint64_t> counter{0};
  fs::path tmp = path;
  tmp += ".tmp" + std::to_string(getpid()) + "." + std::to_string(counter++);
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return false;
    out.write(data.data(), static_cast<std::streamsize>(data.size()));
    out.flush();
    if (!out) {
      out.close();
      std::error_code ec;
      fs::remove(tmp, ec);
      return false;
    }
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) fs::remove(tmp, ec);
  return !ec;
}

}  // namespace

std::string digest(llvm::StringRef text, size_t chars) {
  auto hash = llvm::SHA256::hash(llvm::ArrayRef<uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (uint8_t b : hash) {
    out += hex[b >> 4];
    out += hex[b & 15];
  }
  return out.substr(0, chars);
}

CodeCache::CodeCache(const std::string& root, const std::string& tag) {
  if (root.empty()) return;
  std::error_code ec;
  fs::path dir = fs::path(root) / tag;
  fs::create_directories(dir, ec);
  if (!ec && fs::is_directory(dir, ec)) dir_ = dir.string();
}

std::optional<CodeCache::Entry> CodeCache::find(const std::string& key) const {
  if (dir_.empty()) return std::nullopt;
  std::ifstream in(fs::path(dir_) / (digest(key) + ".seg"), std::ios::binary);
  if (!in) return std::nullopt;
  std::string stored_key, object, symbol;
  if (!std::getline(in, stored_key) || !std::getline(in, object) || !std::getline(in, symbol)) return std::nullopt;
  if (stored_key != key || object.find('/') != std::string::npos || object.empty() || symbol.empty()) return std::nullopt;
  return Entry{(fs::path(dir_) / object).string(), symbol};
}

void CodeCache::store(llvm::StringRef object, const std::vector<std::pair<std::string, std::string>>& segments) {
  if (dir_.empty() || segments.empty()) return;
  const std::string name = digest(object) + ".o";
  if (!write_atomically(fs::path(dir_) / name, object)) return;
  for (const auto& [key, symbol] : segments)
    write_atomically(fs::path(dir_) / (digest(key) + ".seg"), key + "\n" + name + "\n" + symbol + "\n");
}

}  // namespace bloom::rt::jit
