// The unique index of a relation's key columns: an open-addressing hash table of 64-bit entries
// (32 bits of the key's hash above the row number), kept in hash order ("ordered linear probing").
//
// Why not absl::flat_hash_set (used before): its control bytes and its slots are two arrays, so a
// probe into a big table misses the cache twice, and its capacities are powers of two with a
// 7/8 maximum load, so a table is between 44% and 87% full: at 63 M rows (tc on the random graph)
// the index alone was 1.2 GB. Here:
//  - an entry carries its hash, so a probe reads one cache line of entries and touches the row
//    only when the 32 hash bits agree (almost always a real match);
//  - a hash h has its home slot at (h * capacity) >> 32 (after the bits that chose the part are
//    shifted out), and the entries are kept sorted by hash: a lookup starts at the home slot and
//    stops at the first empty slot or larger hash, and growing is one streaming pass over the old
//    table (the entries arrive in hash order, so they are written in order too);
//  - the capacity is any size (a ladder of them, see next_rung): a big table (4 M slots and more)
//    grows by 1/8 at 90% load, so it is 80-90% full; a smaller one grows at 80%, where shorter
//    runs of full slots make inserts faster (sg depth 11: 1.40 -> 1.29 s; 0.7 was no faster) for
//    little memory.
//  - a table of a relation whose key is its whole row and packs into 32 bits (ValueTable) keeps
//    no row numbers: its entry is a 32-bit hash that is a bijection of the packed row, 4 bytes a
//    slot instead of 8, and equal hashes are equal rows, so no row is ever read to compare.
#pragma once
#include <algorithm>
#include <cassert>
#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

#include "core/memory.h"

namespace bloom::rt {

// The two layouts of an entry. RowEntries: 32 bits of the key's hash above the row number.
// HashEntries: the hash alone, which the relation makes a bijection of its (packed) key, so an
// equal hash is an equal key. Its empty marker is also a hash: that one key is kept beside the
// table (BasicKeyTable::top_).
struct RowEntries {
  using Entry = uint64_t;
  static constexpr bool kHashOnly = false;
  static constexpr uint32_t kNone = UINT32_MAX;  // the row number of an empty slot
  static constexpr Entry kEmpty = ~Entry{0};
  static uint32_t row_of(Entry e) { return static_cast<uint32_t>(e); }
  static uint32_t hash_of(Entry e) { return static_cast<uint32_t>(e >> 32); }
  static Entry entry(uint32_t row, uint32_t h) { return (static_cast<uint64_t>(h) << 32) | row; }
  static bool empty(Entry e) { return row_of(e) == kNone; }
};
struct HashEntries {
  using Entry = uint32_t;
  static constexpr bool kHashOnly = true;
  static constexpr Entry kEmpty = ~Entry{0};
  static uint32_t hash_of(Entry e) { return e; }
  static Entry entry(uint32_t /*row*/, uint32_t h) { return h; }
  static bool empty(Entry e) { return e == kEmpty; }
};

template <class Layout>
class BasicKeyTable : public Layout {
 public:
  using Entry = typename Layout::Entry;
  using Layout::empty;
  using Layout::entry;
  using Layout::hash_of;
  using Layout::kEmpty;
  static constexpr bool kHashOnly = Layout::kHashOnly;

  // `shift`: how many top bits of every hash in this table are the same (they chose the table
  // among a relation's parts), so the home slot is computed from the bits below them.
  explicit BasicKeyTable(uint32_t shift = 0) : shift_(shift) {}
  BasicKeyTable(BasicKeyTable&& o) noexcept { swap(o); }
  BasicKeyTable& operator=(BasicKeyTable&& o) noexcept {
    BasicKeyTable t(std::move(o));
    swap(t);
    return *this;
  }
  BasicKeyTable(const BasicKeyTable&) = delete;
  BasicKeyTable& operator=(const BasicKeyTable&) = delete;
  ~BasicKeyTable() { release(); }

  size_t size() const { return size_; }
  size_t capacity() const { return slots_; }  // allocated slots (overflow area included)
  size_t memory_bytes() const { return slots_ * sizeof(Entry); }

  // The entry of hash `h` whose row `same(row)` accepts, or nullptr. HashEntries: the entry of
  // hash `h` (`same` is not called).
  template <class Same>
  const Entry* find(uint32_t h, Same&& same) const {
    if constexpr (kHashOnly)
      if (h == kEmpty) return top_ ? &top_entry_ : nullptr;
    if (size_ == 0 || !table_) return nullptr;
    const Entry* p = table_ + home(h);
    for (;; ++p) {
      Entry e = *p;
      if (empty(e)) return nullptr;
      uint32_t eh = hash_of(e);
      if (eh < h) continue;
      if (eh > h) return nullptr;
      if constexpr (kHashOnly) return p;
      else if (same(Layout::row_of(e))) return p;
    }
  }

  // Finds the entry of hash `h` that `same` accepts; if there is none, inserts entry(row, h).
  // Returns the entry and whether it was inserted. The pointer is valid until the next insert.
  template <class Same>
  std::pair<Entry*, bool> insert(uint32_t h, uint32_t row, Same&& same) {
    if constexpr (kHashOnly) {
      if (h == kEmpty) {
        if (top_) return {&top_entry_, false};
        top_ = true;
        ++size_;
        return {&top_entry_, true};
      }
    }
    if (size_ >= limit_) grow();
    for (;;) {
      Entry* p = table_ + home(h);
      for (;; ++p) {
        Entry e = *p;
        if (empty(e)) break;
        uint32_t eh = hash_of(e);
        if (eh < h) continue;
        if (eh > h) break;
        if constexpr (kHashOnly) return {p, false};
        else if (same(Layout::row_of(e))) return {p, false};
      }
      // p is where the entry goes: shift the occupied run from p up to the next empty slot.
      // The last slot stays empty: every scan stops there at the latest.
      Entry* last = table_ + slots_ - 1;
      Entry* q = p;
      while (q < last && !empty(*q)) ++q;
      if (q == last) {  // the run reaches the end of the overflow area: rare, grow and retry
        grow();
        continue;
      }
      // Runs are short (a few entries at 80-90% load): a loop, not a memmove call.
      for (Entry* x = q; x != p; --x) *x = x[-1];
      *p = entry(row, h);
      ++size_;
      return {p, true};
    }
  }

  // Reads the home slot of hash `h`, so that the insert or lookup that follows finds it in the
  // cache. A real load, not __builtin_prefetch: on sg depth 11 (loaded machine, median of 5)
  // prefetching a batch's home slots gave no gain (1.96 s), loading them did (1.80 s).
  void touch(uint32_t h) const {
    if (!table_) return;
    Entry e = table_[home(h)];
    asm volatile("" : : "r"(e));
  }

  // Prefetches the home slot of hash `h`, to be written.
  void prefetch(uint32_t h) const {
    if (table_) __builtin_prefetch(table_ + home(h), 1, 3);
  }

  // Inserts an entry known to be absent (rebuilding): no comparison with the rows.
  void insert_new(uint32_t h, uint32_t row) {
    insert(h, row, [](uint32_t) { return false; });
  }

  // Inserts an entry known to be absent whose hash is at least that of every entry in the table,
  // as rehash does: straight after the previous one, or at its home slot, with no probing.
  // `cursor` is one past the slot of the previous such entry (0 for the first, into an empty
  // table); kNoCursor after an entry that had to be inserted the usual way (its table grew), for
  // the rest too.
  static constexpr size_t kNoCursor = SIZE_MAX;
  void append_in_order(Entry e, size_t& cursor) {
    const uint32_t h = hash_of(e);
    bool in_order = cursor != kNoCursor && size_ < limit_ && table_;
    if constexpr (kHashOnly) in_order &= h != kEmpty;
    if (in_order) {
      const size_t at = std::max(cursor, home(h));
      assert(at >= slots_ - 1 || empty(table_[at]));
      if (at < slots_ - 1) {  // the last slot stays empty
        table_[at] = e;
        ++size_;
        cursor = at + 1;
        return;
      }
    }
    cursor = kNoCursor;
    if constexpr (kHashOnly) insert_new(h, 0);
    else insert_new(h, Layout::row_of(e));
  }

  // Calls f(entry) for every entry, in hash order.
  template <class F>
  void for_each(F&& f) const {
    for (size_t i = 0; i < slots_; ++i)
      if (!empty(table_[i])) f(table_[i]);
    if (top_) f(top_entry_);
  }

  // The same, emptying the table as it goes: every 2 MiB of entries read goes back to the system
  // at once (discard_block_prefix), so moving the entries into other tables (a relation's key
  // index splitting into parts) never holds both copies in full. The table is empty after.
  template <class F>
  void drain(F&& f) {
    constexpr size_t kStep = kHugePage / sizeof(Entry);
    for (size_t i = 0; i < slots_; ++i) {
      if (!empty(table_[i])) f(table_[i]);
      if ((i + 1) % kStep == 0) discard_block_prefix(table_, slots_ * sizeof(Entry), (i + 1) * sizeof(Entry));
    }
    release();
    if (top_) f(top_entry_);
    top_ = false;
    size_ = 0;
    limit_ = 0;
  }

  // Removes the entry `at` (from find). The entries after it in its run move back one slot
  // while that keeps each at or after its home slot, so that no lookup meets an empty slot
  // before its entry and the entries stay in hash order.
  void erase(const Entry* at) {
    if (at == &top_entry_) {
      top_ = false;
      --size_;
      return;
    }
    size_t i = static_cast<size_t>(at - table_);
    while (i + 1 < slots_ && !empty(table_[i + 1]) && home(hash_of(table_[i + 1])) <= i) {
      table_[i] = table_[i + 1];
      ++i;
    }
    table_[i] = kEmpty;
    --size_;
  }

  // Empties the table; a small one keeps its memory.
  void clear() {
    if (slots_ > 4096) {
      release();
      limit_ = 0;
    } else if (table_) {
      std::memset(table_, 0xff, slots_ * sizeof(Entry));
    }
    size_ = 0;
    top_ = false;
  }
  // Room for n entries without growing.
  void reserve(size_t n) {
    if (n > limit_) rehash(capacity_for(n));
  }

 private:
  // The maximum load: 80% below 4 M slots (32 MiB), where memory is cheap and shorter runs make
  // inserts faster; 90% from there on, where the index is most of a relation's memory.
  static constexpr double kMaxLoad = 0.9;
  static constexpr double kMaxLoadSmall = 0.8;
  static constexpr size_t kSmallSlots = size_t{1} << 22;
  static constexpr size_t kDoublingSlots = size_t{1} << 19;
  static constexpr size_t kStepSlots = kDoublingSlots / 4;  // the step from 512 K to 1 M slots
 public:
  // The capacities a table takes as it grows: the next one after `cap` (for tests and sizing).
  static size_t next_capacity(size_t cap) { return next_rung(cap); }

 private:
  static double max_load(size_t cap) { return cap < kSmallSlots ? kMaxLoadSmall : kMaxLoad; }
  static size_t limit_of(size_t cap) { return static_cast<size_t>(static_cast<double>(cap) * max_load(cap)); }
  static size_t overflow(size_t cap) { return 16 + cap / 64; }

  // Capacities come from one ladder, so a table's size depends only on how many entries it has
  // had, not on how it grew (entry by entry, or by reserve for a batch): tables below 512 K
  // slots (4 MiB) double, so each entry is moved about twice in all (growing by a quarter there
  // moved them about five times: sg depth 11 spent 7% in rehash, 2% after); from 512 K to 1 M
  // slots they grow by 128 K (512 K, 640 K, 768 K, 896 K, 1 M: doubling from 512 K left a
  // table of 420-840 K keys 40-80% full, e.g. tc on a chain of 4000 nodes: 16 parts of 500 K
  // keys in 1 M slots each, 128 MiB, now 640 K slots, 80 MiB; the rungs from 1 M on are the same
  // as before); from 1 M slots by a quarter; and a table that would reach 4 M slots that way,
  // where the index is most of a big relation's memory, grows by an eighth, so big tables stay
  // 80-90% full (tc on the random graph: 16 tables of 4.5 M slots, 549 MiB, for 63 M rows).
  static size_t next_rung(size_t cap) {
    if (cap < 16) return 16;
    if (cap < kDoublingSlots) return cap * 2;
    if (cap < 2 * kDoublingSlots) return cap + kStepSlots;
    return cap + cap / 4 < kSmallSlots ? cap + cap / 4 : cap + cap / 8;
  }
  // The smallest capacity of the ladder that holds n entries.
  static size_t capacity_for(size_t n) {
    size_t cap = 16;
    while (limit_of(cap) < n) cap = next_rung(cap);
    return cap;
  }

  size_t home(uint32_t h) const { return static_cast<size_t>((static_cast<uint64_t>(h << shift_) * cap_) >> 32); }

  void grow() { rehash(next_rung(cap_)); }

  // Moves every entry into a table of `cap` home slots: the old entries are in hash order, so
  // each goes to max(its home, one past the previous one), in one pass over both tables.
  void rehash(size_t cap) {
    for (;;) {
      size_t slots = cap + overflow(cap);
      Entry* t = static_cast<Entry*>(allocate_block(slots * sizeof(Entry)));
      std::memset(t, 0xff, slots * sizeof(Entry));
      BasicKeyTable fresh(shift_);
      fresh.table_ = t;
      fresh.cap_ = cap;
      fresh.slots_ = slots;
      size_t next = 0;
      bool fits = true;
      for (size_t i = 0; i < slots_ && fits; ++i) {
        Entry e = table_[i];
        if (empty(e)) continue;
        size_t at = std::max(next, fresh.home(hash_of(e)));
        if (at >= slots - 1) fits = false;  // the last slot stays empty
        else t[at] = e, next = at + 1;
      }
      if (!fits) {  // the last run overflowed the new table: try a larger one
        cap = next_rung(cap);
        continue;
      }
      fresh.size_ = size_;
      fresh.top_ = top_;
      fresh.limit_ = limit_of(cap);
      swap(fresh);
      return;
    }
  }

  void release() {
    if (table_) release_block(table_, slots_ * sizeof(Entry));
    table_ = nullptr;
    cap_ = slots_ = 0;
  }
  void swap(BasicKeyTable& o) noexcept {
    std::swap(top_, o.top_);
    std::swap(table_, o.table_);
    std::swap(cap_, o.cap_);
    std::swap(slots_, o.slots_);
    std::swap(size_, o.size_);
    std::swap(limit_, o.limit_);
    std::swap(shift_, o.shift_);
  }

  Entry* table_ = nullptr;
  size_t cap_ = 0;    // home slots: homes are in [0, cap_)
  size_t slots_ = 0;  // cap_ plus the overflow area after it
  size_t size_ = 0;
  size_t limit_ = 0;  // grow before inserting beyond this many entries
  uint32_t shift_ = 0;
  // HashEntries: whether the key whose hash is kEmpty is in the table, and its entry.
  bool top_ = false;
  Entry top_entry_ = kEmpty;
};

using KeyTable = BasicKeyTable<RowEntries>;
using ValueTable = BasicKeyTable<HashEntries>;

// Sorts keys (hash << 32 | position in the batch) by the top 16 bits of the hash, positions
// ascending among equal ones if they were ascending before (two stable counting-sort passes of 8
// bits, from keys into tmp and back: tmp has room for n). A key index's home slots ascend with
// the hash (the part in the top bits, the slot below), so probing a big table in this order walks
// it in one direction and the hardware prefetches ahead, where probes in arrival order each miss
// the cache; below 16 bits, neighbours are a few cache lines apart in any order (a full sort,
// four passes, was no faster).
inline void sort_keys(uint64_t* keys, size_t n, uint64_t* tmp) {
  size_t start[2][256] = {};
  for (size_t i = 0; i < n; ++i) {
    const uint32_t h = static_cast<uint32_t>(keys[i] >> 32);
    ++start[0][(h >> 16) & 0xff];
    ++start[1][h >> 24];
  }
  uint64_t* from = keys;
  uint64_t* to = tmp;
  for (unsigned pass = 0; pass < 2; ++pass) {
    const unsigned shift = 48 + 8 * pass;
    size_t sum = 0;
    for (size_t& c : start[pass]) sum += std::exchange(c, sum);
    for (size_t i = 0; i < n; ++i) to[start[pass][(from[i] >> shift) & 0xff]++] = from[i];
    std::swap(from, to);
  }
  // two passes: back in keys
}

// Sorts a batch's hashes, with each one's position in the batch (sort_keys): returns the keys.
inline const uint64_t* sort_by_hash(const uint32_t* hashes, size_t n, std::vector<uint64_t>& keys, std::vector<uint64_t>& tmp) {
  keys.resize(n);
  tmp.resize(n);
  for (size_t i = 0; i < n; ++i) keys[i] = (static_cast<uint64_t>(hashes[i]) << 32) | i;
  sort_keys(keys.data(), n, tmp.data());
  return keys.data();
}

}  // namespace bloom::rt
