#include "core/memory.h"

#include <sys/mman.h>

#include <cstdint>
#include <cstdlib>
#include <vector>

namespace bloom::rt {

namespace {
constexpr size_t kPage = 4096;
size_t rounded_size(size_t bytes) { return (bytes + kHugePage - 1) / kHugePage * kHugePage; }
size_t rounded_to_pages(size_t bytes) { return (bytes + kPage - 1) / kPage * kPage; }

// Small-page blocks freed lately, kept mapped for the next allocation of the same size: many
// short-lived small relations (a simulation starts every node afresh on every run) would
// otherwise each cost an mmap, a page fault and a munmap with its TLB shootdown. Per thread, so
// no lock; bounded, so it never holds more than kCacheBytes of address space.
struct SmallBlockCache {
  static constexpr size_t kCacheBytes = size_t{64} << 20;
  std::vector<std::pair<void*, size_t>> blocks;
  size_t bytes = 0;
  void* take(size_t size) {
    for (size_t i = blocks.size(); i-- > 0;)
      if (blocks[i].second == size) {
        void* p = blocks[i].first;
        blocks[i] = blocks.back();
        blocks.pop_back();
        bytes -= size;
        return p;
      }
    return nullptr;
  }
  bool keep(void* p, size_t size) {
    if (bytes + size > kCacheBytes || blocks.size() >= 4096) return false;
    blocks.emplace_back(p, size);
    bytes += size;
    return true;
  }
  ~SmallBlockCache() {
    for (auto [p, size] : blocks) munmap(p, size);
  }
};
thread_local SmallBlockCache small_blocks;
}  // namespace

void* allocate_block(size_t bytes, bool huge) {
  if (!huge) {
    size_t size = rounded_to_pages(bytes ? bytes : 1);
    if (void* cached = small_blocks.take(size)) return cached;
    void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
#ifdef MADV_NOHUGEPAGE
    madvise(p, size, MADV_NOHUGEPAGE);  // also where THP is on for every mapping
#endif
    return p;
  }
  // From half a huge page up, round up to whole huge pages: at most 2x for the few blocks
  // between 1 and 2 MiB, and every big table gets huge pages.
  if (bytes < kHugePage / 2) {
    void* p = std::malloc(bytes ? bytes : 1);
    if (!p) throw std::bad_alloc();
    return p;
  }
  // Big blocks are mapped directly, not taken from malloc: malloc serves blocks of up to 32 MiB
  // from its heap once a few were freed (its mmap threshold rises), and a freed hash table left
  // between row chunks there stays resident (tc on the random graph: 1.38 GB peak instead of 1.15).
  // Map one huge page more than needed and unmap the ends, so the block is 2 MiB-aligned.
  size_t rounded = rounded_size(bytes);
  void* raw = mmap(nullptr, rounded + kHugePage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) throw std::bad_alloc();
  uintptr_t begin = reinterpret_cast<uintptr_t>(raw);
  uintptr_t aligned = (begin + kHugePage - 1) / kHugePage * kHugePage;
  if (aligned > begin) munmap(raw, aligned - begin);
  uintptr_t end = begin + rounded + kHugePage;
  if (end > aligned + rounded) munmap(reinterpret_cast<void*>(aligned + rounded), end - (aligned + rounded));
  void* p = reinterpret_cast<void*>(aligned);
#ifdef MADV_HUGEPAGE
  madvise(p, rounded, MADV_HUGEPAGE);  // advice only: without THP it is a no-op
#endif
  return p;
}

void release_block(void* p, size_t bytes, bool huge) {
  if (!p) return;
  if (!huge) {
    size_t size = rounded_to_pages(bytes ? bytes : 1);
    if (!small_blocks.keep(p, size)) munmap(p, size);
    return;
  }
  if (bytes < kHugePage / 2) {
    std::free(p);
    return;
  }
  munmap(p, rounded_size(bytes));
}

}  // namespace bloom::rt
