#include "jit/code_cache.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string_view>

#include <llvm/ADT/ArrayRef.h>
#include <llvm/Support/SHA256.h>

#include "core/files.h"

namespace bloom::rt::jit {
namespace {

namespace fs = std::filesystem;

// A cache file, replaced whole (a reader finds the old file, the new one or none) and not synced:
// a file lost or cut short by a crash is a miss, compiled again.
bool write_atomically(const fs::path& path, std::string_view data) {
  std::string why;
  return replace_file(path.string(), data, ReplaceOptions{.mode = std::nullopt, .sync = false}, why);
}

bool all_hex(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// Whether a file of ROOT is one this class writes: TAG/HASH.o, TAG/HASH.seg, or a temporary of
// either (HASH.o.tmpPID.N), with TAG 16 and HASH 32 hex digits.
bool cache_file(const fs::path& root, const fs::path& file) {
  const fs::path rel = file.lexically_relative(root);
  auto part = rel.begin();
  if (part == rel.end() || part->string().size() != 16 || !all_hex(part->string())) return false;
  if (++part == rel.end()) return false;
  const std::string name = part->string();
  if (++part != rel.end()) return false;
  if (name.size() < 34 || !all_hex(std::string_view(name).substr(0, 32))) return false;
  std::string_view rest = std::string_view(name).substr(32);
  for (std::string_view ext : {".o", ".seg"})
    if (rest == ext || rest.substr(0, ext.size() + 4) == std::string(ext) + ".tmp") return true;
  return false;
}

}  // namespace

std::string digest(std::string_view text, size_t chars) {
  auto hash = llvm::SHA256::hash(llvm::ArrayRef<uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (uint8_t b : hash) {
    out += hex[b >> 4];
    out += hex[b & 15];
  }
  return out.substr(0, chars);
}

CodeCache::CodeCache(const std::string& root, const std::string& tag, uint64_t max_bytes) : root_(root), max_bytes_(max_bytes) {
  if (root.empty()) return;
  std::error_code ec;
  fs::path dir = fs::path(root) / tag;
  fs::create_directories(dir, ec);
  if (!ec && fs::is_directory(dir, ec)) dir_ = dir.string();
}

void CodeCache::account(uint64_t bytes) {
  if (max_bytes_ == 0) return;
  std::lock_guard lock(mu_);
  known_bytes_ += bytes;
  if (measured_ && known_bytes_ <= max_bytes_) return;
  struct File {
    fs::path path;
    fs::file_time_type used;
    uint64_t size;
  };
  std::vector<File> files;
  uint64_t total = 0;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(root_, fs::directory_options::skip_permission_denied, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    std::error_code fec;
    if (it.depth() > 1 || !it->is_regular_file(fec) || !cache_file(root_, it->path())) continue;
    uint64_t size = it->file_size(fec);
    if (fec) continue;
    auto used = it->last_write_time(fec);
    if (fec) continue;
    files.push_back({it->path(), used, size});
    total += size;
  }
  if (total > max_bytes_) {
    std::sort(files.begin(), files.end(), [](const File& a, const File& b) { return a.used < b.used; });
    const uint64_t goal = max_bytes_ / 4 * 3;
    // Another process's temporary younger than a minute is a store under way: left alone.
    const auto in_flight = fs::file_time_type::clock::now() - std::chrono::minutes(1);
    for (const File& f : files) {
      if (total <= goal) break;
      if (f.path.filename().string().find(".tmp") != std::string::npos && f.used > in_flight) continue;
      std::error_code rec;
      if (fs::remove(f.path, rec)) total -= f.size;
    }
    // The folders of other builds, once empty (never this one's, nor the root).
    for (auto it = fs::directory_iterator(root_, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
      std::error_code dec;
      const std::string name = it->path().filename().string();
      if (it->path() != fs::path(dir_) && name.size() == 16 && all_hex(name) && it->is_directory(dec) && fs::is_empty(it->path(), dec))
        fs::remove(it->path(), dec);
    }
  }
  known_bytes_ = total;
  measured_ = true;
}

std::optional<CodeCache::Entry> CodeCache::find(const std::string& key) const {
  if (dir_.empty()) return std::nullopt;
  std::ifstream in(fs::path(dir_) / (digest(key) + ".seg"), std::ios::binary);
  if (!in) return std::nullopt;
  std::string stored_key, object, symbol;
  if (!std::getline(in, stored_key) || !std::getline(in, object) || !std::getline(in, symbol)) return std::nullopt;
  if (stored_key != key || object.find('/') != std::string::npos || object.empty() || symbol.empty()) return std::nullopt;
  in.close();
  std::error_code ec;
  if (!fs::is_regular_file(fs::path(dir_) / object, ec)) return std::nullopt;  // removed by the size limit
  if (max_bytes_ != 0) {
    const auto now = fs::file_time_type::clock::now();
    fs::last_write_time(fs::path(dir_) / (digest(key) + ".seg"), now, ec);
    fs::last_write_time(fs::path(dir_) / object, now, ec);
  }
  return Entry{(fs::path(dir_) / object).string(), symbol};
}

void CodeCache::store(std::string_view object, const std::vector<std::pair<std::string, std::string>>& segments) {
  if (dir_.empty() || segments.empty()) return;
  const std::string name = digest(object) + ".o";
  if (!write_atomically(fs::path(dir_) / name, object)) return;
  uint64_t bytes = object.size();
  for (const auto& [key, symbol] : segments) {
    const std::string entry = key + "\n" + name + "\n" + symbol + "\n";
    if (write_atomically(fs::path(dir_) / (digest(key) + ".seg"), entry)) bytes += entry.size();
  }
  account(bytes);
}

}  // namespace bloom::rt::jit
