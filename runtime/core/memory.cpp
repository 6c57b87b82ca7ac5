#include "core/memory.h"

#include <sys/mman.h>

#include <cstdint>
#include <cstdlib>

namespace bloom::rt {

namespace {
size_t rounded_size(size_t bytes) { return (bytes + kHugePage - 1) / kHugePage * kHugePage; }
}  // namespace

void* allocate_block(size_t bytes) {
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

void release_block(void* p, size_t bytes) {
  if (!p) return;
  if (bytes < kHugePage / 2) {
    std::free(p);
    return;
  }
  munmap(p, rounded_size(bytes));
}

}  // namespace bloom::rt
