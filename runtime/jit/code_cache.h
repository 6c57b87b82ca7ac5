// Inside the JIT library: compiled segments kept on disk (docs/jit.md, "the code cache"), so the
// second run of a program compiles nothing. An object file holds the segments compiled together;
// an entry per segment, named by a hash of what it computes, says which object and symbol hold
// it, and repeats the segment's whole key so that a hash collision is a miss, never wrong code.
// Everything is written to a temporary name and renamed, so a reader sees whole files or none;
// a file that cannot be read or is not what it should be is a miss. A cache that cannot be
// written is no cache: nothing fails because of it.
#pragma once
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <llvm/ADT/StringRef.h>

namespace bloom::rt::jit {

class CodeCache {
 public:
  // `root`: the cache's folder ("" turns it off). Entries go into a subfolder named by `tag`
  // (what makes an object usable: bloom's build, LLVM's version, the target and its CPU).
  CodeCache(const std::string& root, const std::string& tag);
  bool on() const { return !dir_.empty(); }
  const std::string& dir() const { return dir_; }

  struct Entry {
    std::string object;  // the object file's path
    std::string symbol;  // the segment's function in it
  };
  std::optional<Entry> find(const std::string& key) const;
  // Stores an object file and an entry for each (key, symbol) it holds.
  void store(llvm::StringRef object, const std::vector<std::pair<std::string, std::string>>& segments);

 private:
  std::string dir_;
};

// A hex digest of `text` (SHA-256, the first `chars` characters).
std::string digest(llvm::StringRef text, size_t chars = 32);

}  // namespace bloom::rt::jit
