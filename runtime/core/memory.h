// Memory for the big, randomly probed structures (hash index tables, row chunks). Blocks of
// 256 KiB or more are mapped directly (mmap, so a freed one goes back to the system at once);
// from 1 MiB on they are aligned and advised to use transparent huge pages: a probe into
// a large table is a random access, and with 4 KiB pages nearly every one also misses the TLB
// (measured: sg depth 11 and tc chain 2000 run about 25% faster with huge pages); below 2 MiB
// their pages are made when they are mapped (MAP_POPULATE), since every page of a row chunk or
// a table gets written, instead of one page fault each. Smaller ones come from malloc.
// release_block must get the size allocate_block was given.
#pragma once
#include <cstddef>
#include <algorithm>
#include <cstring>
#include <new>
#include <utility>

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

// Address space set aside while a node runs and given back when an allocation fails, so that
// the outputs of the completed ticks can still be written however close to its limit (ulimit
// -v) the failed tick left the process: that tick's rows are not freed. Mapped without
// reserving memory, never touched. Both are idempotent and thread-safe.
void reserve_emergency_memory();
void release_emergency_memory();

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
  bool operator==(const BlockAllocator<U>&) const {
    return true;
  }
};

// Memory mapped with small pages, exactly as much as asked (rounded to 4 KiB), never cached or
// kept after release: for buffers that are big only for a while (a batch of rows waiting for a
// big relation), which neither a 2 MiB page (allocate_block rounds a 1-2 MiB block up to one)
// nor malloc's heap (which keeps freed blocks resident) should outlive.
void* map_pages(size_t bytes);
void unmap_pages(void* p, size_t bytes);

// A growable array of trivially copyable T in map_pages memory: reserve maps exactly, a buffer
// that must grow is copied into a new mapping and the old one goes back to the system.
template <class T>
class PageBuffer {
 public:
  PageBuffer() = default;
  PageBuffer(const PageBuffer&) = delete;
  PageBuffer& operator=(const PageBuffer&) = delete;
  PageBuffer(PageBuffer&& o) noexcept { swap(o); }
  PageBuffer& operator=(PageBuffer&& o) noexcept {
    PageBuffer t(std::move(o));
    swap(t);
    return *this;
  }
  ~PageBuffer() { unmap_pages(data_, cap_ * sizeof(T)); }

  T* data() { return data_; }
  const T* data() const { return data_; }
  size_t size() const { return size_; }
  size_t capacity() const { return cap_; }
  bool empty() const { return size_ == 0; }
  T& operator[](size_t i) { return data_[i]; }
  const T& operator[](size_t i) const { return data_[i]; }
  void clear() { size_ = 0; }
  // Room for n elements in all (keeps the first size() ones).
  void reserve(size_t n) {
    if (n <= cap_) return;
    T* fresh = static_cast<T*>(map_pages(n * sizeof(T)));
    if (size_) std::memcpy(fresh, data_, size_ * sizeof(T));
    unmap_pages(data_, cap_ * sizeof(T));
    data_ = fresh;
    cap_ = n;
  }
  // Makes the size n (new elements uninitialized), growing by half at least when it must grow.
  T* resize(size_t n) {
    if (n > cap_) reserve(std::max(n, cap_ + cap_ / 2));
    size_ = n;
    return data_;
  }
  // Appends n uninitialized elements, returning the first.
  T* grow_by(size_t n) { return resize(size_ + n) + (size_ - n); }

 private:
  void swap(PageBuffer& o) noexcept {
    std::swap(data_, o.data_);
    std::swap(size_, o.size_);
    std::swap(cap_, o.cap_);
  }
  T* data_ = nullptr;
  size_t size_ = 0, cap_ = 0;
};

}  // namespace bloom::rt
