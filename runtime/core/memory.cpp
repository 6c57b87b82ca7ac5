#include "core/memory.h"

#include <sys/mman.h>

#include <cstdlib>

namespace bloom::rt {

void* allocate_block(size_t bytes) {
  // From half a huge page up, round up to whole huge pages: at most 2x for the few blocks
  // between 1 and 2 MiB, and every big table gets huge pages.
  if (bytes < kHugePage / 2) {
    void* p = std::malloc(bytes ? bytes : 1);
    if (!p) throw std::bad_alloc();
    return p;
  }
  size_t rounded = (bytes + kHugePage - 1) / kHugePage * kHugePage;
  void* p = std::aligned_alloc(kHugePage, rounded);
  if (!p) throw std::bad_alloc();
#ifdef MADV_HUGEPAGE
  madvise(p, rounded, MADV_HUGEPAGE);  // advice only: without THP it is a no-op
#endif
  return p;
}

void release_block(void* p, size_t) { std::free(p); }

}  // namespace bloom::rt
