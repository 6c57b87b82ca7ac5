// A set of 32-bit keys kept as a bitmap: 4,096-bit leaves (512 bytes), made only for the ranges
// of keys that hold one, found through a two-level directory of leaf numbers. A relation whose
// rows pack into 32 bits keeps its key index by value in one of these instead of a hash table
// when its rows are dense (Relation::consider_dense): many rows share each leaf, so a row costs
// a few bits instead of a 4-byte entry in a table at most 80% full (tc on a chain of 4,000: 8 M
// rows in 4,000 leaves, 2 MiB, instead of 40 MiB of table), and an insert tests a bit in a
// small structure instead of probing a large one. Souffle's Brie does the same for dense
// relations.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace bloom::rt {

class DenseSet {
 public:
  static constexpr uint32_t kLeafShift = 12;                            // 4,096 keys a leaf
  static constexpr size_t kLeafWords = (size_t{1} << kLeafShift) / 64;  // 64 words, 512 bytes
  static constexpr size_t kLeafBytes = kLeafWords * sizeof(uint64_t);
  // The directory: per 64 leaves, a page of their leaf numbers (256 bytes), made when one of them
  // is. Small pages, so that rows spread over a column's values (reach(s, y) for s = 0, 100,
  // 200, ...) do not each cost a big page; the top array has a page number for every 64 leaves.
  static constexpr uint32_t kMidShift = 6;
  static constexpr size_t kMidBytes = (size_t{1} << kMidShift) * sizeof(uint32_t);
  // The leaf of key k is k >> kLeafShift (20 bits); its directory page, that >> kMidShift.
  static uint32_t leaf_of(uint32_t k) { return k >> kLeafShift; }
  static uint32_t page_of_leaf(uint32_t leaf) { return leaf >> kMidShift; }

  bool contains(uint32_t k) const {
    const uint64_t* w = word(k);
    return w && ((*w >> (k & 63)) & 1);
  }
  // Adds k; false if it was there.
  bool insert(uint32_t k) {
    uint64_t& w = word_for_write(k);
    const uint64_t bit = uint64_t{1} << (k & 63);
    if (w & bit) return false;
    w |= bit;
    ++size_;
    return true;
  }
  // Removes k; false if it was not there. Its leaf stays.
  bool erase(uint32_t k) {
    uint64_t* w = const_cast<uint64_t*>(word(k));
    const uint64_t bit = uint64_t{1} << (k & 63);
    if (!w || !(*w & bit)) return false;
    *w &= ~bit;
    --size_;
    return true;
  }
  // Reads the word of key k, so that an insert or lookup that follows finds it in the cache.
  void touch(uint32_t k) const {
    if (const uint64_t* w = word(k)) {
      uint64_t v = *w;
      asm volatile("" : : "r"(v));
    }
  }

  size_t size() const { return size_; }
  size_t leaves() const { return leaves_; }
  size_t memory_bytes() const { return bytes_for(leaves_, pages_.size() >> kMidShift); }
  // The bytes a set of these keys would take: `leaves` leaves over `pages` directory pages.
  static size_t bytes_for(size_t leaves, size_t pages) {
    return sizeof(DenseSet) + kPages * sizeof(uint32_t) + pages * kMidBytes + (leaves + kBlockLeaves - 1) / kBlockLeaves * kBlockBytes;
  }

  // Calls f(k) for every key, in ascending order.
  template <class F>
  void for_each(F&& f) const {
    for (uint32_t page = 0; page < kPages; ++page) {
      if (!top_[page]) continue;
      const uint32_t* mid = &pages_[static_cast<size_t>(top_[page] - 1) << kMidShift];
      for (uint32_t i = 0; i < (1u << kMidShift); ++i) {
        if (!mid[i]) continue;
        const uint64_t* leaf = leaf_words(mid[i] - 1);
        const uint32_t base = ((page << kMidShift) | i) << kLeafShift;
        for (uint32_t w = 0; w < kLeafWords; ++w)
          for (uint64_t bits = leaf[w]; bits; bits &= bits - 1) f(base | (w << 6) | static_cast<uint32_t>(__builtin_ctzll(bits)));
      }
    }
  }

 private:
  static constexpr uint32_t kPages = 1u << (32 - kLeafShift - kMidShift);
  static constexpr uint32_t kBlockShift = 6;  // 64 leaves a block (32 KiB), allocated as needed
  static constexpr uint32_t kBlockLeaves = 1u << kBlockShift;
  static constexpr size_t kBlockBytes = kBlockLeaves * kLeafBytes;

  const uint64_t* leaf_words(uint32_t n) const { return blocks_[n >> kBlockShift].get() + (n & (kBlockLeaves - 1)) * kLeafWords; }
  // The word of key k, or nullptr if its leaf was never made.
  const uint64_t* word(uint32_t k) const {
    const uint32_t leaf = leaf_of(k);
    if (leaf == hot_leaf_) return hot_words_ + ((k >> 6) & (kLeafWords - 1));
    const uint32_t page = top_[page_of_leaf(leaf)];
    if (!page) return nullptr;
    const uint32_t n = pages_[(static_cast<size_t>(page - 1) << kMidShift) | (leaf & ((1u << kMidShift) - 1))];
    if (!n) return nullptr;
    hot_leaf_ = leaf;
    hot_words_ = leaf_words(n - 1);
    return hot_words_ + ((k >> 6) & (kLeafWords - 1));
  }
  uint64_t& word_for_write(uint32_t k) {
    const uint32_t leaf = leaf_of(k);
    if (leaf == hot_leaf_) return const_cast<uint64_t&>(hot_words_[(k >> 6) & (kLeafWords - 1)]);
    uint32_t& page = top_[page_of_leaf(leaf)];
    if (!page) {
      pages_.resize(pages_.size() + (size_t{1} << kMidShift), 0);  // zeros: no leaf
      page = static_cast<uint32_t>(pages_.size() >> kMidShift);
    }
    uint32_t& n = pages_[(static_cast<size_t>(page - 1) << kMidShift) | (leaf & ((1u << kMidShift) - 1))];
    if (!n) {
      if (leaves_ % kBlockLeaves == 0) blocks_.push_back(std::make_unique<uint64_t[]>(kBlockLeaves * kLeafWords));
      n = ++leaves_;  // leaf numbers from 1: 0 is none
    }
    hot_leaf_ = leaf;
    hot_words_ = leaf_words(n - 1);
    return const_cast<uint64_t&>(hot_words_[(k >> 6) & (kLeafWords - 1)]);
  }

  // Per 64 leaves, its page's number + 1 (0: none); the pages, each 64 leaf numbers + 1 (0: none).
  std::unique_ptr<uint32_t[]> top_ = std::make_unique<uint32_t[]>(kPages);
  std::vector<uint32_t> pages_;
  std::vector<std::unique_ptr<uint64_t[]>> blocks_;  // the leaves, kBlockLeaves at a time
  uint32_t leaves_ = 0;
  // The leaf found last (leaves never move): rows that come in order, as a message's or a
  // join's often do, find their leaf without the two loads of the directory. Changed by const
  // lookups too: a relation is used by one thread at a time.
  mutable uint32_t hot_leaf_ = UINT32_MAX;
  mutable const uint64_t* hot_words_ = nullptr;
  size_t size_ = 0;
};

}  // namespace bloom::rt
