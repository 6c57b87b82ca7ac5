#include "core/memory.h"

#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <vector>

namespace bloom::rt {

namespace {
constexpr size_t kPage = 4096;
size_t rounded_to_pages(size_t bytes) { return (bytes + kPage - 1) / kPage * kPage; }
// Blocks from this size up are mapped, so that a freed one goes back to the system at once:
// malloc keeps freed blocks in its heap, resident, and a key table that grows leaves a trail of
// them (tc on a chain of 2,000, whose 16 key index parts grow through 256 KiB-1 MiB: 48 MB of
// tables at its peak for 16 MB of entries). With 4 KiB pages either way, like malloc's heap.
constexpr size_t kMapBytes = size_t{256} << 10;

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
  // From kMapBytes up: mapped, with huge pages for every whole 2 MiB of it.
  if (bytes < kMapBytes) {
    void* p = std::malloc(bytes ? bytes : 1);
    if (!p) throw std::bad_alloc();
    return p;
  }
  // Big blocks are mapped directly, not taken from malloc: malloc serves blocks of up to 32 MiB
  // from its heap once a few were freed (its mmap threshold rises), and a freed hash table left
  // between row chunks there stays resident (tc on the random graph: 1.38 GB peak instead of 1.15).
  // The mapping starts on a huge page and ends on the first 4 KiB page past the block: the kernel
  // backs the whole 2 MiB pages inside it with huge pages and the tail with small ones. Rounding
  // the mapping up to whole huge pages instead made a key table of 2 MiB and its 32 KiB
  // overflow area cost 4 MiB (tc on a chain of 2,000: 16 such tables, 32 MiB of the 88).
  // Map one huge page more than needed and unmap the ends, so the block is 2 MiB-aligned.
  size_t size = rounded_to_pages(bytes);
  // From 1 MiB to 2 MiB: one huge page (probes into a table of that size miss the TLB with small
  // pages: tc on a chain of 2,000, whose key index parts are 1 MiB for a while, took 25% longer).
  if (size >= kHugePage / 2 && size < kHugePage) size = kHugePage;
  if (size < kHugePage) {  // no whole huge page in it
    // Its pages are made at once (a row chunk is filled from start to end, a table's slots are
    // all written when it is cleared), not one page fault at a time: a fault costs a trap into
    // the kernel, about 2.5 us on this VM (net_bench --only-node: 25.8 -> 28.5 M tuples/s).
    void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    return p;
  }
  void* raw = mmap(nullptr, size + kHugePage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) throw std::bad_alloc();
  uintptr_t begin = reinterpret_cast<uintptr_t>(raw);
  uintptr_t aligned = (begin + kHugePage - 1) / kHugePage * kHugePage;
  if (aligned > begin) munmap(raw, aligned - begin);
  uintptr_t end = begin + size + kHugePage;
  if (end > aligned + size) munmap(reinterpret_cast<void*>(aligned + size), end - (aligned + size));
  void* p = reinterpret_cast<void*>(aligned);
#ifdef MADV_HUGEPAGE
  madvise(p, size, MADV_HUGEPAGE);  // advice only: without THP it is a no-op
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
  if (bytes < kMapBytes) {
    std::free(p);
    return;
  }
  size_t size = rounded_to_pages(bytes);
  if (size >= kHugePage / 2 && size < kHugePage) size = kHugePage;
  munmap(p, size);
}

void discard_block_prefix(void* p, size_t bytes, size_t prefix) {
  if (!p || bytes < kMapBytes) return;
  prefix = std::min(prefix, bytes);
  size_t unit = rounded_to_pages(bytes) >= kHugePage ? kHugePage : kPage;
  size_t len = prefix / unit * unit;
  if (len) madvise(p, len, MADV_DONTNEED);
}

void* map_pages(size_t bytes) {
  void* p = mmap(nullptr, rounded_to_pages(bytes ? bytes : 1), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
#ifdef MADV_NOHUGEPAGE
  madvise(p, rounded_to_pages(bytes ? bytes : 1), MADV_NOHUGEPAGE);
#endif
  return p;
}

void unmap_pages(void* p, size_t bytes) {
  if (p) munmap(p, rounded_to_pages(bytes ? bytes : 1));
}

namespace {
constexpr size_t kEmergencyBytes = size_t{16} << 20;  // writing outputs needs buffers, not rows
std::atomic<void*> emergency{nullptr};
}  // namespace

void reserve_emergency_memory() {
  if (emergency.load()) return;
  void* p = mmap(nullptr, kEmergencyBytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return;  // nothing to set aside: the outputs are written if memory allows
  void* none = nullptr;
  if (!emergency.compare_exchange_strong(none, p)) munmap(p, kEmergencyBytes);
}

void release_emergency_memory() {
  if (void* p = emergency.exchange(nullptr)) munmap(p, kEmergencyBytes);
}

}  // namespace bloom::rt
