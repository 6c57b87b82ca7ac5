// Runtime values: every value is one 64-bit word. Ints and doubles are their bits, bools 0/1,
// strings and addrs interned symbol ids, and lattices either inline (lmax, lmin, lbool) or a
// handle to an interned immutable set or map (runtime/core/lattice.h). Equal values are equal
// words, so rows compare and hash as plain words.
#pragma once
#include <bit>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

#include <absl/container/flat_hash_map.h>

namespace bloom::rt {

using Word = uint64_t;

inline Word from_int(int64_t v) { return static_cast<Word>(v); }
inline int64_t as_int(Word w) { return static_cast<int64_t>(w); }
inline Word from_float(double v) { return std::bit_cast<Word>(v); }
inline double as_float(Word w) { return std::bit_cast<double>(w); }
inline Word from_bool(bool v) { return v ? 1 : 0; }
// The NaN that float arithmetic yields, whatever NaN the machine made (docs/language.md).
inline constexpr Word kCanonicalNaN = 0x7ff8000000000000ULL;

// Interned strings. Ids are dense and stable for the life of the table; id 0 is "". Not
// thread-safe: one table per node.
class SymbolTable {
 public:
  SymbolTable() { intern(""); }
  SymbolTable(const SymbolTable&) = delete;
  SymbolTable& operator=(const SymbolTable&) = delete;

  Word intern(std::string_view s) {
    auto it = ids_.find(s);
    if (it != ids_.end()) return it->second;
    Word id = strings_.size();
    strings_.emplace_back(s);
    ids_.emplace(std::string_view(strings_.back()), id);
    return id;
  }
  const std::string& str(Word id) const { return strings_[id]; }
  size_t size() const { return strings_.size(); }
  // Orders by content (ids are in arrival order).
  int compare(Word a, Word b) const { return a == b ? 0 : strings_[a].compare(strings_[b]); }

 private:
  std::deque<std::string> strings_;  // a deque keeps the views in ids_ valid as it grows
  absl::flat_hash_map<std::string_view, Word> ids_;
};

// A few words gathered for a probe (a key taken from a row or a frame): on the stack up to 16,
// on the heap beyond, so inner loops never allocate for ordinary keys.
class SmallWords {
 public:
  explicit SmallWords(size_t n) : heap_(n > kInline ? n : 0), data_(n > kInline ? heap_.data() : inline_) {}
  Word* data() { return data_; }
  Word& operator[](size_t i) { return data_[i]; }

 private:
  static constexpr size_t kInline = 16;
  Word inline_[kInline];
  std::vector<Word> heap_;
  Word* data_;
};

// Copies n words. Rows and frames are a few words long and n is known only at run time, where
// std::copy calls memmove, whose set-up costs more than the copy (sg: 6% of the time in memmove).
inline void copy_words(const Word* from, size_t n, Word* to) {
  for (size_t i = 0; i < n; ++i) to[i] = from[i];
}
// Whether two short word arrays are equal: a loop, since std::equal calls memcmp (7% of sg).
inline bool equal_words(const Word* a, const Word* b, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (a[i] != b[i]) return false;
  return true;
}

// 64-bit mixing for hashing rows of words (the finaliser of MurmurHash3/splitmix64).
inline uint64_t mix(uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}
// The 32-bit finaliser of MurmurHash3: a bijection of 32-bit values (storage/relation.h indexes
// packed rows by it).
inline uint32_t mix32(uint32_t h) {
  h ^= h >> 16;
  h *= 0x85ebca6bU;
  h ^= h >> 13;
  h *= 0xc2b2ae35U;
  h ^= h >> 16;
  return h;
}
// The inverse of mix32: unmix32(mix32(h)) == h.
inline uint32_t unmix32(uint32_t h) {
  h ^= h >> 16;
  h *= 0x7ed1b41dU;  // the inverse of 0xc2b2ae35 modulo 2^32
  h ^= (h >> 13) ^ (h >> 26);
  h *= 0xa5cb9243U;  // of 0x85ebca6b
  h ^= h >> 16;
  return h;
}
inline uint64_t hash_combine(uint64_t seed, Word w) { return mix(seed ^ (w + 0x9e3779b97f4a7c15ULL + (seed << 6))); }

}  // namespace bloom::rt
