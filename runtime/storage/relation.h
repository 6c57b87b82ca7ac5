// A relation at run time: fixed-arity rows stored contiguously in chunks (rows never move, so
// row numbers are stable and growth never copies). Cells are 16 bits while every value fits
// (ints in int16, symbol ids below 32 K, bools), then 32 bits (ints in int32), then 64 bits;
// the first value that does not fit widens the relation once to the width it needs. Reading a
// cell always gives the full word (sign-extended). A unique hash index on the key
// columns, and the secondary hash indexes the planner chose. Within a tick rows are only
// appended, so the semi-naive versions (old / delta / full) are ranges of row numbers. A lattice
// merge that changes a row appends the merged row and marks the old one dead, so the change
// shows up in the next delta like any new row.
#pragma once
#include <algorithm>
#include <cstdint>
#include <memory>
#include <vector>

#include <absl/container/flat_hash_map.h>
#include <absl/container/flat_hash_set.h>

#include "core/lattice.h"
#include "core/memory.h"
#include "core/value.h"
#include "plan/ir.h"
#include "storage/key_table.h"

namespace bloom::rt {

using RowId = uint32_t;
inline constexpr RowId kNoRow = UINT32_MAX;

class Relation {
 public:
  Relation(const plan::Relation& decl, Lattices& lattices);
  Relation(const Relation&) = delete;
  Relation& operator=(const Relation&) = delete;

  const plan::Relation& decl() const { return decl_; }
  uint32_t arity() const { return arity_; }
  RowId end() const { return rows_; }  // one past the last row (dead rows included)
  // Changes whenever row numbers stop meaning what they meant (clear, rebuild), and differs
  // between any two Relation objects: rows below an end() seen at the same generation are the
  // same rows still (the engine's cross-tick deltas rely on it).
  uint64_t generation() const { return generation_; }
  size_t live() const { return live_; }
  // A stored row: operator[] reads one cell as a full word.
  class RowRef {
   public:
    RowRef(const void* p, uint32_t shift) : p_(p), shift_(shift) {}
    Word operator[](uint32_t c) const {
      if (shift_ == 1) return static_cast<Word>(static_cast<int64_t>(static_cast<const int16_t*>(p_)[c]));
      if (shift_ == 2) return static_cast<Word>(static_cast<int64_t>(static_cast<const int32_t*>(p_)[c]));
      return static_cast<const Word*>(p_)[c];
    }

   private:
    const void* p_;
    uint32_t shift_;  // log2 of the cell size in bytes: 1, 2 or 3
  };
  RowRef row(RowId r) const { return RowRef(cell_ptr(r), cell_shift_); }
  // Copies row `r` into `out` (arity words).
  void read(RowId r, Word* out) const;
  // Whether row `r` equals `values` in every column.
  bool row_equals(RowId r, const Word* values) const;
  bool narrow() const { return cell_shift_ < 3; }  // cells narrower than a word
  uint32_t cell_bytes() const { return 1u << cell_shift_; }  // 2, 4 or 8
  bool alive(RowId r) const { return dead_.empty() || !dead_[r]; }
  bool has_dead_rows() const { return live_ != rows_; }

  enum class Outcome : uint8_t { Added, Duplicate, Merged, Conflict };
  struct InsertResult {
    Outcome outcome;
    RowId row;  // Added/Merged: the new row; Duplicate: the row already there; Conflict: the clashing row
  };
  // Inserts `values` (arity words). A key equal to a live row's key: the same plain columns is a
  // duplicate (lattice columns merge), different plain columns is a conflict (nothing changes).
  InsertResult insert(const Word* values);
  // The same, with key_hash(values) computed already.
  InsertResult insert(const Word* values, uint32_t hash);

  // The hash of a row's key columns, and a read of the key index slot an insert of a row with
  // that hash probes first: done for a whole batch of rows before inserting them, the cache misses
  // of the probes overlap instead of coming one after the other.
  uint32_t key_hash(const Word* values) const {
    if (key_is_prefix_) return hash_values(values, key_cols_.size());
    SmallWords key(key_cols_.size());
    key_of(values, key.data());
    return hash_values(key.data(), key_cols_.size());
  }
  void touch_key_slot(uint32_t h) const { key_part(h).touch(h); }

  // Whether the key index is so big that its probes miss the cache: then rows are best inserted
  // many at once (insert_many).
  bool key_index_is_big() const;
  // Scratch memory of insert_many, kept by the caller from one batch to the next.
  struct BatchScratch {
    std::vector<uint64_t> keys, tmp;
    std::vector<InsertResult> results;
  };
  // Inserts the n rows of `rows` (arity words each; hashes[i] = key_hash of row i) as if one by
  // one in this order, then calls done(row, result) for each in this order. A batch that is
  // large against the key index (one row for at most kSortedGap slots) probes the index in hash
  // order (insert_sorted); otherwise the home slots of each group of rows are loaded before the
  // group is inserted, so that their cache misses overlap.
  template <class F>
  void insert_many(const Word* rows, const uint32_t* hashes, size_t n, BatchScratch& scratch, F&& done) {
    if (lattice_cols_.empty() && n * kSortedGap >= key_slots() && rows_ + n < size_t{kNoRow}) {
      const InsertResult* results = insert_sorted(rows, hashes, n, scratch);
      for (size_t i = 0; i < n; ++i) done(rows + i * arity_, results[i]);
      return;
    }
    // Once even the largest batch sorted so far would not be sorted, free the sort's memory (a
    // relation grows; freeing it after every small batch instead made sg map and clear pages anew
    // for each big one: 16% of its time).
    if (scratch.keys.capacity() && key_slots() > kSortedGap * scratch.keys.capacity()) scratch = BatchScratch{};
    insert_grouped(rows, hashes, n, done);
  }
  // insert_many without the sort: the key index slots that each group of up to 256 rows probes
  // first are loaded in a tight loop before the group is inserted, so that many cache misses
  // are in flight at once. done(row, result) for each row, in batch order.
  template <class F>
  void insert_grouped(const Word* rows, const uint32_t* hashes, size_t n, F&& done) {
    constexpr size_t kGroup = 256;
    for (size_t g = 0; g < n; g += kGroup) {
      size_t end = std::min(n, g + kGroup);
      for (size_t i = g; i < end; ++i) touch_key_slot(hashes[i]);
      for (size_t i = g; i < end; ++i) done(rows + i * arity_, insert(rows + i * arity_, hashes[i]));
    }
  }

  // The live row with this key (values in key-column order), or kNoRow.
  RowId find_key(const Word* key) const;
  // The live row whose key equals the key columns of `row` (arity words), or kNoRow.
  RowId find_key_of_row(const Word* row) const {
    SmallWords key(key_cols_.size());
    key_of(row, key.data());
    return find_key(key.data());
  }
  // Whether a live row has these plain columns (and lattice columns at least as large: used to
  // know whether a deferred insert would change anything).
  bool contains(const Word* values) const;

  // Rows whose index columns equal `key` (values in index-column order), newest first.
  // Calls f(row) for each (dead rows included: the caller checks alive()).
  template <class F>
  void for_each_match(uint32_t index, const Word* key, F&& f) const {
    for (RowId r = first_match(index, key); r != kNoRow; r = next_match(index, r)) f(r);
  }
  // The same as a chain: the first row (kNoRow if none), then next_match until kNoRow. A chain
  // stays valid while rows are appended (they join it after its first row, if at all).
  RowId first_match(uint32_t index, const Word* key) const {
    Index& ix = *indexes_[index];
    if (ix.built < rows_) catch_up(ix);
    if (ix.cols.size() == 1) {
      auto it = ix.single.find(key[0]);
      return it == ix.single.end() ? kNoRow : it->second;
    }
    auto it = ix.heads.find(Probe{key, hash_values(key, ix.cols.size())});
    return it == ix.heads.end() ? kNoRow : row_of(*it);
  }
  RowId next_match(uint32_t index, RowId r) const { return indexes_[index]->next[r]; }
  size_t index_count() const { return indexes_.size(); }

  // Marks live row `r` dead and takes it out of the key index (a kept scratch's row that lost
  // its last derivation): its number stays taken, and an equal row inserted later is a new row.
  void kill(RowId r);
  // Empties the relation, keeping its allocations for the next tick.
  void clear();
  // Rebuilds without the rows `drop` marks (between ticks: deferred deletes and upserts).
  void rebuild(const std::vector<bool>& drop);
  size_t memory_bytes() const;

 private:
  static constexpr uint32_t kChunkBits = 16;  // 64k rows a chunk: 512 KiB for two 32-bit columns
  static constexpr uint32_t kChunkMask = (1u << kChunkBits) - 1;

  struct Probe {
    const Word* values;  // in index-column order
    uint32_t hash;       // hash_values(values)
  };
  // A set element: a row number with 32 bits of its hash, so growing a table and rejecting
  // most non-matching slots never touch the rows themselves (which would miss the cache).
  using Entry = uint64_t;
  static RowId row_of(Entry e) { return static_cast<RowId>(e); }
  static uint32_t hash_of(Entry e) { return static_cast<uint32_t>(e >> 32); }
  static Entry entry(RowId r, uint32_t h) { return (static_cast<uint64_t>(h) << 32) | r; }
  // Hashes and compares entries and probes on a column list of the relation.
  struct Hasher {
    using is_transparent = void;
    size_t operator()(Entry e) const { return mix(hash_of(e)); }
    size_t operator()(const Probe& p) const { return mix(p.hash); }
  };
  struct Equal {
    using is_transparent = void;
    const Relation* rel;
    const std::vector<uint32_t>* cols;
    bool operator()(Entry a, Entry b) const { return a == b; }
    bool operator()(Entry a, const Probe& p) const {
      if (hash_of(a) != p.hash) return false;
      RowRef x = rel->row(row_of(a));
      for (size_t i = 0; i < cols->size(); ++i)
        if (x[(*cols)[i]] != p.values[i]) return false;
      return true;
    }
    bool operator()(const Probe& p, Entry a) const { return (*this)(a, p); }
  };
  using RowSet = absl::flat_hash_set<Entry, Hasher, Equal, BlockAllocator<Entry>>;
  struct WordHash {
    size_t operator()(Word w) const { return mix(w); }
  };
  // Multiply-rotate per word, one full mix at the end: cheaper than mixing every word, and the
  // table's own hash (Hasher) mixes the 32 bits again. Inline: it runs for every lookup.
  static uint32_t hash_values(const Word* values, size_t n) {
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ n;
    for (size_t i = 0; i < n; ++i) {
      h ^= values[i];
      h *= 0xbf58476d1ce4e5b9ULL;
      h = (h << 31) | (h >> 33);
    }
    return static_cast<uint32_t>(mix(h) >> 32);
  }
  struct Index {
    std::vector<uint32_t> cols;
    RowSet heads;               // one row per distinct key: the head of its chain
    // The same for a one-column index, keyed by the value itself: a lookup never reads a row
    // (sg depth 11 looks up 8 M keys in par[p], half of them absent).
    absl::flat_hash_map<Word, RowId, WordHash, std::equal_to<Word>, BlockAllocator<std::pair<const Word, RowId>>> single;
    std::vector<RowId> next;    // per row: the next row with the same key
    RowId built = 0;            // rows [0, built) are indexed: indexes catch up when looked up,
                                // so one used only early in a fixpoint costs nothing later
    Index(const Relation* rel, std::vector<uint32_t> c);
  };

  RowId append(const Word* values);
  void append_many(const Word* rows, size_t n);  // n rows of arity words, in order (append: one)
  void catch_up(Index& ix) const;
  const void* cell_ptr(RowId r) const {
    return chunks_[r >> kChunkBits].get() + (static_cast<size_t>(r & kChunkMask) * arity_ << cell_shift_);
  }
  // Rewrites every row with cells of 1 << shift bytes (wider than now; row numbers and indexes
  // stay valid).
  void widen(uint32_t shift);

  const plan::Relation& decl_;
  Lattices& lattices_;
  uint32_t arity_;
  std::vector<uint32_t> key_cols_;
  bool key_is_prefix_ = false;  // key_cols_ is 0, 1, ..., k-1: a row's key is its first k words
  std::vector<uint32_t> lattice_cols_;  // lattice columns (never key columns)
  std::vector<uint32_t> plain_nonkey_;  // plain columns outside the key: a differing one is a conflict
  struct ChunkFree {
    size_t bytes;
    bool huge;
    void operator()(uint8_t* p) const { release_block(p, bytes, huge); }
  };
  using Chunk = std::unique_ptr<uint8_t[], ChunkFree>;
  // Chunk k of a relation; the first gets small pages, since most relations never fill it (see
  // allocate_block).
  static Chunk new_chunk(size_t bytes, size_t k) {
    return Chunk(static_cast<uint8_t*>(allocate_block(bytes, k > 0)), ChunkFree{bytes, k > 0});
  }
  std::vector<Chunk> chunks_;
  uint32_t cell_shift_ = 3;   // log2 of the cell size in bytes: 1 (16 bits), 2 (32) or 3 (64)
  RowId rows_ = 0;
  uint64_t generation_ = next_generation();
  static uint64_t next_generation();
  size_t live_ = 0;
  std::vector<bool> dead_;  // when the relation has lattice columns or a row was killed
  // Live rows by key columns (storage/key_table.h). A big relation's key index is split into
  // kParts tables by the top bits of the hash, so growing it never holds two copies of the whole
  // index at once (the parts grow one after the other): the peak is 1/16 of the index above its size.
  static constexpr RowId kSplitRows = 1u << 20;
  static constexpr uint32_t kPartBits = 4, kParts = 1u << kPartBits;
  std::vector<KeyTable> key_parts_;
  KeyTable& key_part(uint32_t h) { return key_parts_.size() == 1 ? key_parts_[0] : key_parts_[h >> (32 - kPartBits)]; }
  const KeyTable& key_part(uint32_t h) const { return key_parts_.size() == 1 ? key_parts_[0] : key_parts_[h >> (32 - kPartBits)]; }
  // Copies the key columns of a row (arity words) into `key`, in key-column order.
  void key_of(const Word* values, Word* key) const {
    for (size_t i = 0; i < key_cols_.size(); ++i) key[i] = values[key_cols_[i]];
  }
  // Whether row `r`'s key columns equal `key` (in key-column order).
  bool key_equals(RowId r, const Word* key) const {
    RowRef x = row(r);
    for (size_t i = 0; i < key_cols_.size(); ++i)
      if (x[key_cols_[i]] != key[i]) return false;
    return true;
  }
  // Whether row `r`'s key columns equal those of the row `values` (arity words).
  bool same_key(RowId r, const Word* values) const {
    RowRef x = row(r);
    for (uint32_t c : key_cols_)
      if (x[c] != values[c]) return false;
    return true;
  }
  // Whether row `r` and the row `values`, which have the same key, differ in a plain column.
  bool conflicts(RowId r, const Word* values) const {
    RowRef x = row(r);
    for (uint32_t c : plain_nonkey_)
      if (x[c] != values[c]) return true;
    return false;
  }
  void split_key_index();
  // Sorting a batch pays when its probes land a few cache lines apart: sg depth 11 (batches of
  // 256 K rows into tables of up to 7 M slots) 1.37 -> 1.07 s. Since a sorted batch walks the
  // table once (insert_sorted), one row per 64 slots is enough: sg's last batches, into 8.5 M
  // slots, are sorted too (ab_bench, 11 rounds: median 0.84 -> 0.82 s, lower quartile 0.81 ->
  // 0.75 s; 128 was no better). Into a bigger table (tc on the random graph: 63 M slots) every
  // probe is still a miss, and the sort is extra work.
  static constexpr size_t kSortedGap = 64;
  size_t key_slots() const;
  // insert_many for a batch in hash order, for relations without lattice columns (no row is
  // ever merged): every row is appended in batch order first, then the rows are probed in hash
  // order, each new key entered with its final row number. Duplicates and conflicts leave holes
  // that are closed afterwards (the later added rows move down and their entries are renumbered),
  // so the rows end numbered as if inserted one by one - appending them in hash order instead
  // scattered rows derived together, and tc on the random graph, whose duplicates read the
  // stored rows, took 40% longer. Returns the results in batch order.
  const InsertResult* insert_sorted(const Word* rows, const uint32_t* hashes, size_t n, BatchScratch& scratch);
  // Makes room in the key index for n more keys (keys: hash << 32 | anything, in hash order): a
  // batch inserted in hash order fills the low end of a table first, so a table that grew only
  // when its total load reached the limit would be far over it there, with runs as long as the
  // batch (a 1 M-row batch into a 100 K-entry table took 10x longer than the same rows in 256 K
  // ones).
  void reserve_keys(const uint64_t* keys, size_t n);
  mutable std::vector<std::unique_ptr<Index>> indexes_;  // built lazily by lookups
};

}  // namespace bloom::rt
