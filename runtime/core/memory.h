// Memory for the big, randomly probed structures (hash index tables, row chunks). Blocks of
// 256 KiB or more are mapped directly (mmap, so a freed one goes back to the system at once);
// from 1 MiB on they are aligned and advised to use transparent huge pages: a probe into
// a large table is a random access, and with 4 KiB pages nearly every one also misses the TLB
// (measured: sg depth 11 and tc chain 2000 run about 25% faster with huge pages). Smaller ones
// come from malloc. release_block must get the size allocate_block was given.
#pragma once
#include <cstddef>
#include <new>

namespace bloom::rt {

inline constexpr size_t kHugePage = size_t{2} << 20;

// `huge = false` for a block that is often mostly unused (the first row chunk of a relation,
// which a small relation never fills): it is always mapped, with 4 KiB pages that exist only
// once touched, instead of 2 MiB pages cleared on the first touch or a malloc'd block that
// grows and trims the heap (a simulation of many small nodes spent 30% of its time clearing
// huge pages and 25% in malloc's heap growth and trimming).
void* allocate_block(size_t bytes, bool huge = true);
void release_block(void* p, size_t bytes, bool huge = true);
// Gives the memory of the first `prefix` bytes of a block of allocate_block(bytes) back to the
// system, in whole 2 MiB pages (whole 4 KiB pages for a block below 2 MiB), for a block read
// once from start to end while its contents move elsewhere: the block stays mapped, and what
// was given back reads as zeros if touched again. Does nothing for a block from malloc
// (below 256 KiB).
void discard_block_prefix(void* p, size_t bytes, size_t prefix);

// A standard allocator over allocate_block, for absl's tables.
template <class T>
struct BlockAllocator {
  using value_type = T;
  BlockAllocator() = default;
  template <class U>
  BlockAllocator(const BlockAllocator<U>&) {}
  T* allocate(size_t n) { return static_cast<T*>(allocate_block(n * sizeof(T))); }
  void deallocate(T* p, size_t n) { release_block(p, n * sizeof(T)); }
  template <class U>
  bool operator==(const BlockAllocator<U>&) const { return true; }
};

}  // namespace bloom::rt
