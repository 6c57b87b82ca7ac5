// Inside the JIT library (its header free of LLVM, for tests): compiled segments kept on disk
// (docs/jit.md, "the code cache"), so the second run of a program compiles nothing. An object
// file holds the segments compiled together; an entry per segment, named by a hash of what it
// computes, says which object and symbol hold it, and repeats the segment's whole key so that a
// hash collision is a miss, never wrong code. Everything is written to a temporary name and
// renamed, so a reader sees whole files or none; a file that cannot be read or is not what it
// should be is a miss. A cache that cannot be written is no cache: nothing fails because of it.
// The cache has a size limit: when a store takes the whole cache (the folders of every build of
// bloom under the root) above it, the files used longest ago are removed. Only files named as
// this class names them are ever removed, so a root pointed at a folder of other files is safe.
#pragma once
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace bloom::rt::jit {

class CodeCache {
 public:
  // `root`: the cache's folder ("" turns it off). Entries go into a subfolder named by `tag`
  // (what makes an object usable: bloom's build, LLVM's version, the target and its CPU), a
  // hex digest. `max_bytes`: the size limit (0: none); a store that goes above it removes the
  // files used longest ago until the cache is at three quarters of it.
  CodeCache(const std::string& root, const std::string& tag, uint64_t max_bytes = 0);
  bool on() const { return !dir_.empty(); }
  const std::string& dir() const { return dir_; }

  struct Entry {
    std::string object;  // the object file's path
    std::string symbol;  // the segment's function in it
  };
  // A hit marks the entry and its object used (their modification time), for the size limit.
  std::optional<Entry> find(const std::string& key) const;
  // Stores an object file and an entry for each (key, symbol) it holds.
  void store(std::string_view object, const std::vector<std::pair<std::string, std::string>>& segments);

 private:
  // Adds `bytes` just written to what the cache is known to hold; at the first store of the
  // process, or above the limit, measures the cache and removes the least recently used files.
  void account(uint64_t bytes);

  std::string root_, dir_;
  uint64_t max_bytes_ = 0;
  std::mutex mu_;  // for what follows
  bool measured_ = false;
  uint64_t known_bytes_ = 0;
};

// A hex digest of `text` (SHA-256, the first `chars` characters).
std::string digest(std::string_view text, size_t chars = 32);

}  // namespace bloom::rt::jit
