// A relation at run time: fixed-arity rows stored contiguously in chunks (rows never move, so
// row numbers are stable and growth never copies). Cells are 16 bits while every value fits
// (ints in int16, symbol ids below 32 K, bools), then 32 bits (ints in int32), then 64 bits;
// the first value that does not fit widens the relation once to the width it needs. Reading a
// cell always gives the full word (sign-extended). A unique hash index on the key
// columns, and the secondary hash indexes the planner chose. Within a tick rows are only
// appended, so the semi-naive versions (old / delta / full) are ranges of row numbers. A lattice
// merge that changes a row appends the merged row and marks the old one dead, so the change
// shows up in the next delta like any new row.
//
// A relation whose key is its whole row of one or two columns, with no lattice, is indexed by
// value while its rows pack into 32 bits (two 16-bit cells, or one 32-bit cell): its key index
// is a set of 4-byte hashes that are a bijection of the packed row (ValueTable), half the bytes
// of a (hash, row number) entry, and a duplicate is found without reading the row. Such an
// index cannot say which row holds a key, so the first caller that needs a row number
// (find_key, need_row_ids) or the first row that does not pack makes it an ordinary key index,
// built once from the stored rows; hashes are the same function either way. When the rows are
// dense (many share each range of 4,096 packed values) the set is a bitmap instead of a table
// (DenseSet, storage/dense_set.h; consider_dense decides by counting).
#pragma once
#include <algorithm>
#include <bit>
#include <cassert>
#include <cstdint>
#include <memory>
#include <vector>

#include <absl/container/flat_hash_map.h>
#include <absl/container/flat_hash_set.h>

#include "core/lattice.h"
#include "core/memory.h"
#include "core/value.h"
#include "plan/ir.h"
#include "storage/dense_set.h"
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
  // What compiled code reads rows through (eval/native.h): chunk k holds rows [k << kChunkRowBits,
  // (k + 1) << kChunkRowBits), arity cells each of 1 << cell_shift() bytes. Valid until rows are
  // added, the cells widen or the relation is cleared.
  static constexpr uint32_t kChunkRowBits = 16;
  const uint8_t* const* chunk_table() const { return chunk_ptrs_.data(); }
  uint32_t cell_shift() const { return cell_shift_; }
  // Secondary index `index`'s chains (next_match as an array), as of its last first_match.
  const RowId* match_chains(uint32_t index) const { return indexes_[index]->next.data(); }
  // Copies row `r` into `out` (arity words).
  void read(RowId r, Word* out) const;
  // Whether row `r` equals `values` in every column.
  bool row_equals(RowId r, const Word* values) const;
  bool narrow() const { return cell_shift_ < 3; }            // cells narrower than a word
  uint32_t cell_bytes() const { return 1u << cell_shift_; }  // 2, 4 or 8
  bool alive(RowId r) const { return dead_.empty() || !dead_[r]; }
  bool has_dead_rows() const { return live_ != rows_; }

  enum class Outcome : uint8_t { Added, Duplicate, Merged, Conflict };
  struct InsertResult {
    Outcome outcome;
    // Added/Merged: the new row; Duplicate: the row already there (kNoRow while the relation is
    // indexed by value: need_row_ids); Conflict: the clashing row
    RowId row;
  };
  // Inserts `values` (arity words). A key equal to a live row's key: the same plain columns is a
  // duplicate (lattice columns merge), different plain columns is a conflict (nothing changes).
  InsertResult insert(const Word* values);
  // The same, with key_hash(values) computed already.
  InsertResult insert(const Word* values, uint32_t hash);

  // Appends n rows (arity words each) to a stream (plan::Relation::stream): no duplicate
  // check, nothing in the key index. Until clear() nothing may then look up the key index or
  // insert (asserted): it does not hold these rows.
  void append_stream(const Word* rows, size_t n) {
    assert(decl_.stream);
    if (n == 0) return;
    append_many(rows, n);
    unindexed_ = true;
  }

  // The hash of a row's key columns, and a read of the key index slot an insert of a row with
  // that hash probes first: done for a whole batch of rows before inserting them, the cache misses
  // of the probes overlap instead of coming one after the other.
  uint32_t key_hash(const Word* values) const {
    if (value_shaped_) return value_hash(values);
    if (key_is_prefix_) return hash_values(values, key_cols_.size());
    SmallWords key(key_cols_.size());
    key_of(values, key.data());
    return hash_values(key.data(), key_cols_.size());
  }
  void touch_key_slot(uint32_t h) const {
    if (dense_) dense_->touch(dense_key(h));
    else if (by_value_) part_of(value_parts_, h).touch(h);
    else part_of(key_parts_, h).touch(h);
  }
  // Whether the key index is a set of values (see the top), which knows no row numbers.
  bool indexed_by_value() const { return by_value_; }
  // Whether that set is a bitmap (DenseSet), which dense rows take instead of a hash table.
  bool indexed_densely() const { return dense_ != nullptr; }
  // Makes the key index one of row numbers if it is by value: for callers that need the row of
  // a duplicate (InsertResult::row). find_key does it by itself.
  void need_row_ids() {
    if (by_value_) index_rows(rows_);
  }

  // Whether the key index is so big that its probes miss the cache: then rows are best inserted
  // many at once (insert_many).
  bool key_index_is_big() const;
  // Scratch memory of insert_many, kept by the caller from one batch to the next: the two
  // buffers of the sort by hash, the second of which then holds the results.
  struct BatchScratch {
    std::vector<uint64_t> keys, tmp;
  };
  // Inserts the n rows of `rows` (arity words each; hashes[i] = key_hash of row i) as if one by
  // one in this order, then calls done(row, result) for each in this order. A batch that is
  // large against the key index (one row for at most kSortedGap slots) probes the index in hash
  // order (insert_sorted); otherwise the home slots of each group of rows are loaded before the
  // group is inserted, so that their cache misses overlap.
  template <class F>
  void insert_many(const Word* rows, const uint32_t* hashes, size_t n, BatchScratch& scratch, F&& done) {
    if (sorts(n)) {
      const uint64_t* order = sort_by_hash(hashes, n, scratch.keys, scratch.tmp);
      const uint64_t* results = insert_sorted(rows, 3, order, n, scratch.tmp.data());
      for (size_t i = 0; i < n; ++i) done(rows + i * arity_, unpack(results[i]));
      return;
    }
    // Once even the largest batch sorted so far would not be sorted, free the sort's memory (a
    // relation grows; freeing it after every small batch instead made sg map and clear pages anew
    // for each big one: 16% of its time).
    if (scratch.keys.capacity() && key_slots() > kSortedGap * scratch.keys.capacity()) scratch = BatchScratch{};
    insert_grouped(rows, hashes, n, done);
  }

  // Rows waiting to be inserted together (insert_pending): head rows bound for a relation whose
  // key index is big wait until there are batch_rows() of them. They are kept in the relation's
  // cells (widened like the relation's when a value needs it), with their keys and the sort's
  // second buffer: 20 bytes a row for two 16-bit cells, in memory mapped for them alone, so that
  // a batch is never more than the sort needs (sg depth 11: 133 K rows at the end, 2.6 MiB; they
  // were 256 K rows of words at 44 bytes each, 11 MiB, a tenth of its peak).
  class Pending {
   public:
    size_t size() const { return keys_.size(); }
    bool empty() const { return keys_.empty(); }
    void clear() {
      cells_.clear();
      keys_.clear();
    }
    size_t memory_bytes() const { return cells_.capacity() + (keys_.capacity() + tmp_.capacity()) * sizeof(uint64_t); }
    uint32_t cell_bytes() const { return 1u << shift_; }

   private:
    friend class Relation;
    PageBuffer<uint8_t> cells_;  // arity cells of 1 << shift_ bytes a row, in arrival order
    uint32_t shift_ = 3;
    PageBuffer<uint64_t> keys_;  // per row: key_hash << 32 | its position
    PageBuffer<uint64_t> tmp_;   // the sort's second buffer, then the results
  };
  // How many rows are best inserted together (insert_pending), or 0 when rows are best inserted
  // as they come (insert_grouped: a key index small enough for the cache, or lattice columns,
  // whose batches are never sorted). As many as make one row for kSortedGap slots of the key
  // index, so that the batch is probed in hash order, within [kMinBatchRows, kMaxBatchRows]
  // (an index too big for even kMaxBatchRows to be sorted, tc on the random graph, gets batches
  // of kMaxBatchRows probed as they come, kept in words, as before).
  size_t batch_rows() const;
  // Adds n rows (arity words each; hashes[i] = key_hash of row i) to the pending rows `p`.
  void stage(Pending& p, const Word* rows, const uint32_t* hashes, size_t n);
  // insert_many of the pending rows, which are then empty: done(result, row) for each in the
  // order they came, `row` its words for a conflict (to report it) and nullptr otherwise (the
  // rows are in cells, and words for every row would be made for nothing). Gives the
  // pending rows' memory back when batches stop paying (batch_rows() is 0).
  template <class F>
  void insert_pending(Pending& p, F&& done) {
    const size_t n = p.size();
    if (n == 0) return;
    const uint8_t* cells = p.cells_.data();
    const uint32_t shift = p.shift_;
    const size_t row_bytes = static_cast<size_t>(arity_) << shift;
    assert(p.cells_.size() == n * row_bytes);  // the cells and the keys of the same rows
    SmallWords buffer(arity_);
    auto words = [&](size_t i) {  // pending row i as words
      if (shift == 3) return reinterpret_cast<const Word*>(cells + i * row_bytes);
      const RowRef x(cells + i * row_bytes, shift);
      for (uint32_t c = 0; c < arity_; ++c) buffer[c] = x[c];
      return static_cast<const Word*>(buffer.data());
    };
    if (sorts(n)) {
      p.tmp_.resize(n);
      sort_keys(p.keys_.data(), n, p.tmp_.data());
      const uint64_t* results = insert_sorted(cells, shift, p.keys_.data(), n, p.tmp_.data());
      for (size_t i = 0; i < n; ++i) {
        const InsertResult res = unpack(results[i]);
        done(res, res.outcome == Outcome::Conflict ? words(i) : nullptr);
      }
    } else {
      const uint64_t* keys = p.keys_.data();
      insert_grouped_by(
          n, [&](size_t i) { return static_cast<uint32_t>(keys[i] >> 32); }, words,
          [&](const Word* row, InsertResult res) { done(res, res.outcome == Outcome::Conflict ? row : nullptr); });
    }
    p.clear();
    if (batch_rows() == 0) p = Pending{};
  }

  // insert_many without the sort: the key index slots that each group of up to 256 rows probes
  // first are loaded in a tight loop before the group is inserted, so that many cache misses
  // are in flight at once. done(row, result) for each row, in batch order.
  template <class F>
  void insert_grouped(const Word* rows, const uint32_t* hashes, size_t n, F&& done) {
    // A dense index: the rows are appended at once and then tested against the bitmap
    // (insert_dense, or insert_sorted in batch order), not appended one call at a time.
    constexpr size_t kAtOnce = 256;
    if (dense_ && n <= kAtOnce && lattice_cols_.empty() && rows_ + n < size_t{kNoRow}) {
      uint64_t results[kAtOnce];
      const uint64_t* got = insert_dense(rows, n, results);
      if (!got) {  // a row that does not pack, or no longer dense: in batch order all the same
        uint64_t order[kAtOnce] = {};
        for (size_t i = 0; i < n; ++i) order[i] = (static_cast<uint64_t>(hashes[i]) << 32) | i;
        got = insert_sorted(rows, 3, order, n, results);
      }
      for (size_t i = 0; i < n; ++i) done(rows + i * arity_, unpack(got[i]));
      return;
    }
    insert_grouped_by(
        n, [&](size_t i) { return hashes[i]; }, [&](size_t i) { return rows + i * arity_; }, done);
  }

  // The live row with this key (values in key-column order), or kNoRow. A relation indexed by
  // value gets an index of row numbers first (need_row_ids): the relation is logically const.
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
      if (ix.direct_ok) return key[0] < ix.direct.size() ? ix.direct[key[0]] : kNoRow;
      auto it = ix.single.find(key[0]);
      return it == ix.single.end() ? kNoRow : it->second;
    }
    auto it = ix.heads.find(Probe{key, hash_values(key, ix.cols.size())});
    return it == ix.heads.end() ? kNoRow : row_of(*it);
  }
  RowId next_match(uint32_t index, RowId r) const { return indexes_[index]->next[r]; }
  // Secondary index `index` brought up to every row (first_match does it when it must).
  void catch_up(uint32_t index) const {
    if (indexes_[index]->built < rows_) catch_up(*indexes_[index]);
  }
  // A one-column index whose values are all small non-negative words keeps its chains' first rows
  // in an array by value (a lookup is one load): the array and its size, or nullptr when the
  // index is not (or no longer) kept so. As of the last catch_up.
  const RowId* direct_heads(uint32_t index, size_t& size) const {
    const Index& ix = *indexes_[index];
    size = ix.direct.size();
    return ix.cols.size() == 1 && ix.direct_ok ? ix.direct.data() : nullptr;
  }
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
  static constexpr uint32_t kChunkBits = kChunkRowBits;  // 64k rows a chunk: 512 KiB for two 32-bit columns
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
    RowSet heads;  // one row per distinct key: the head of its chain
    // The same for a one-column index, keyed by the value itself: a lookup never reads a row
    // (sg depth 11 looks up 8 M keys in par[p], half of them absent).
    absl::flat_hash_map<Word, RowId, WordHash, std::equal_to<Word>, BlockAllocator<std::pair<const Word, RowId>>> single;
    // Or, while every value is below 4096 + 4 x rows (catch_up), an array by value (kNoRow:
    // none): tc's edge(y, z) by y and sg's par(x, p) by p are looked up millions of times.
    std::vector<RowId> direct;
    bool direct_ok = true;
    std::vector<RowId> next;  // per row: the next row with the same key
    RowId built = 0;          // rows [0, built) are indexed: indexes catch up when looked up,
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
  bool key_is_prefix_ = false;          // key_cols_ is 0, 1, ..., k-1: a row's key is its first k words
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
  std::vector<const uint8_t*> chunk_ptrs_;  // chunks_[k].get(), for chunk_table()
  // The next chunk, for rows from chunks_.size() << kChunkBits on.
  void add_chunk() {
    chunks_.push_back(new_chunk((static_cast<size_t>(arity_) << kChunkBits) << cell_shift_, chunks_.size()));
    chunk_ptrs_.push_back(chunks_.back().get());
  }
  void chunks_changed() {
    chunk_ptrs_.resize(chunks_.size());
    for (size_t k = 0; k < chunks_.size(); ++k) chunk_ptrs_[k] = chunks_[k].get();
  }
  uint32_t cell_shift_ = 3;  // log2 of the cell size in bytes: 1 (16 bits), 2 (32) or 3 (64)
  RowId rows_ = 0;
  uint64_t generation_ = next_generation();
  bool unindexed_ = false;  // rows appended by append_stream since the last clear()
  static uint64_t next_generation();
  size_t live_ = 0;
  std::vector<bool> dead_;  // when the relation has lattice columns or a row was killed
  // Live rows by key columns (storage/key_table.h). A big relation's key index is split into
  // 16 tables by the top 4 bits of the hash, so growing it never holds two copies of the whole
  // index at once (the parts grow one after the other): the peak is 1/16 of the index above its
  // size. An index by value splits into 8: its entries are half the size, so its parts are as
  // big as those 16 (tc on a chain of 2,000: 16 parts of 1 MiB took a 2 MiB huge page each,
  // allocate_block; 8 parts of 2 MiB fill theirs, 49.2 -> 34.2 MB peak RSS).
  static constexpr RowId kSplitRows = 1u << 20;
  static constexpr uint32_t kPartBits = 4;
  template <class Table>
  static constexpr uint32_t part_bits() {
    return Table::kHashOnly ? kPartBits - 1 : kPartBits;
  }
  // Splits an index of one table into its parts once it holds `rows` rows past kSplitRows.
  template <class Table>
  static void split_for(std::vector<Table>& parts, size_t rows) {
    if (rows >= kSplitRows && parts.size() == 1) split_parts(parts);
  }
  std::vector<KeyTable> key_parts_;      // the index of row numbers (by_value_ false)
  std::vector<ValueTable> value_parts_;  // the index by value (by_value_ true)
  // Whether the key is the whole row of one or two plain columns that start narrow: then hashes
  // are value_hash, in either kind of index.
  bool value_shaped_ = false;
  bool by_value_ = false;  // value_parts_ is the key index (only while value_shaped_)
  // The index by value of a relation whose rows are dense (consider_dense), instead of
  // value_parts_ (then one empty table). Its keys are the packed rows (value_hash before mix32),
  // rotated by 16 bits when that makes fewer leaves (two columns: rows sharing their first
  // column then share leaves, not rows sharing their second).
  std::unique_ptr<DenseSet> dense_;
  bool dense_rotated_ = false;
  uint32_t dense_key(uint32_t h) const { return dense_key_of_packed(unmix32(h)); }
  uint32_t dense_key_of_packed(uint32_t p) const { return dense_rotated_ ? std::rotl(p, 16) : p; }
  uint32_t dense_hash(uint32_t k) const { return mix32(dense_rotated_ ? std::rotr(k, 16) : k); }
  // When to look again whether the index by value would be smaller dense (live rows), or
  // smaller as a hash table again (the dense set's leaves).
  static constexpr size_t kFirstDenseCheck = size_t{1} << 16;
  size_t next_dense_check_ = kFirstDenseCheck;
  size_t next_sparse_check_ = 0;
  // Makes the index by value a DenseSet if that takes at most half its memory now.
  void consider_dense();
  // Makes a DenseSet a hash table again if it takes more than twice what the table would.
  void consider_sparse();
  // Called before a row is added to the index by value.
  void check_density() {
    if (dense_) {
      if (dense_->leaves() >= next_sparse_check_) consider_sparse();
    } else if (live_ >= next_dense_check_) {
      consider_dense();
    }
  }
  template <class Table>
  static Table& part_of(std::vector<Table>& parts, uint32_t h) {
    return parts.size() == 1 ? parts[0] : parts[h >> (32 - part_bits<Table>())];
  }
  template <class Table>
  static const Table& part_of(const std::vector<Table>& parts, uint32_t h) {
    return parts.size() == 1 ? parts[0] : parts[h >> (32 - part_bits<Table>())];
  }
  KeyTable& key_part(uint32_t h) { return part_of(key_parts_, h); }
  const KeyTable& key_part(uint32_t h) const { return part_of(key_parts_, h); }
  // Calls f(parts) with the vector of tables that is the key index now.
  template <class F>
  decltype(auto) with_key_parts(F&& f) {
    return by_value_ ? f(value_parts_) : f(key_parts_);
  }
  template <class F>
  decltype(auto) with_key_parts(F&& f) const {
    return by_value_ ? f(value_parts_) : f(key_parts_);
  }
  // The hash of a value-shaped relation's row: for a row that packs into 32 bits (two 16-bit
  // cells, or one 32-bit cell), murmur3's 32-bit finalizer of the pack, a bijection, so that in a
  // ValueTable an equal hash is an equal row; for any other row (only ever in an index of row
  // numbers) the usual hash of its words. Whether a row packs depends on its values alone, so
  // the hash is the same function in both kinds of index.
  uint32_t value_hash(const Word* v) const {
    if (!packs(v)) return hash_values(v, arity_);
    return mix32(packed(v));
  }
  // A row that packs, as 32 bits: value_hash before its mix, the key of a dense index.
  uint32_t packed(const Word* v) const {
    return arity_ == 1 ? static_cast<uint32_t>(v[0])
                       : static_cast<uint32_t>(static_cast<uint16_t>(v[0])) | static_cast<uint32_t>(static_cast<uint16_t>(v[1])) << 16;
  }
  // Whether a row can be kept in the index by value: its values fit the pack of value_hash.
  bool packs(const Word* v) const {
    if (arity_ == 1) return static_cast<int64_t>(v[0]) == static_cast<int32_t>(static_cast<int64_t>(v[0]));
    return static_cast<int64_t>(v[0]) == static_cast<int16_t>(static_cast<int64_t>(v[0])) &&
           static_cast<int64_t>(v[1]) == static_cast<int16_t>(static_cast<int64_t>(v[1]));
  }
  // Whether the stored cells are narrow enough for the index by value.
  bool cells_pack() const { return arity_ == 1 ? cell_shift_ <= 2 : cell_shift_ == 1; }
  // Replaces the index by value with one of row numbers, built from the live rows below `limit`
  // (rows from there on are not indexed yet: a batch being inserted).
  void index_rows(RowId limit);
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
  // Whether row `r`'s key columns equal those of the row `values` (arity words, or a RowRef).
  template <class Row>
  bool same_key(RowId r, const Row& values) const {
    RowRef x = row(r);
    for (uint32_t c : key_cols_)
      if (x[c] != values[c]) return false;
    return true;
  }
  // Whether row `r` and the row `values`, which have the same key, differ in a plain column.
  template <class Row>
  bool conflicts(RowId r, const Row& values) const {
    RowRef x = row(r);
    for (uint32_t c : plain_nonkey_)
      if (x[c] != values[c]) return true;
    return false;
  }
  // Moves the entries of an index of one table into its 1 << part_bits parts.
  template <class Table>
  static void split_parts(std::vector<Table>& parts);
  // Prefetches the key index slot of hash `h`, to be written.
  void touch_key_slot_for_write(uint32_t h) const {
    if (dense_) dense_->touch(dense_key(h));
    else if (by_value_) part_of(value_parts_, h).prefetch(h);
    else part_of(key_parts_, h).prefetch(h);
  }
  // Sorting a batch pays when its probes land a few cache lines apart: sg depth 11 (batches of
  // 256 K rows into tables of up to 7 M slots) 1.37 -> 1.07 s. Since a sorted batch walks the
  // table once (insert_sorted), one row per 64 slots is enough: sg's last batches, into 8.5 M
  // slots, are sorted too (ab_bench, 11 rounds: median 0.84 -> 0.82 s, lower quartile 0.81 ->
  // 0.75 s; 128 was no better). Into a bigger table (tc on the random graph: 63 M slots) every
  // probe is still a miss, and the sort is extra work.
  static constexpr size_t kSortedGap = 64;
  // The largest batch of pending rows (Pending): 256 K rows, as many as the engine buffered in
  // 4 MiB of words before (two-column rows), enough to sort batches into 16 M slots. The
  // smallest: 128 K rows (batches of one row for 64 slots from 1 M slots on, i.e. 16 K rows and
  // more, made sg depth 11 about 10% slower than batches of 256 K: denser batches into the
  // smaller tables of the early iterations walk them more closely); the peak is at the end,
  // where sg's tables take 133 K rows.
  static constexpr size_t kMaxBatchRows = size_t{1} << 18;
  static constexpr size_t kMinBatchRows = size_t{1} << 17;
  size_t key_slots() const;
  // Whether a batch of n rows is inserted in hash order (insert_sorted).
  bool sorts(size_t n) const { return !dense_ && lattice_cols_.empty() && n * kSortedGap >= key_slots() && rows_ + n < size_t{kNoRow}; }
  // insert_grouped of n rows, row i's words given by row(i) and its hash by hash(i).
  template <class H, class R, class F>
  void insert_grouped_by(size_t n, H&& hash, R&& row, F&& done) {
    assert(!unindexed_);
    constexpr size_t kGroup = 256;
    for (size_t g = 0; g < n; g += kGroup) {
      size_t end = std::min(n, g + kGroup);
      for (size_t i = g; i < end; ++i) touch_key_slot(hash(i));
      for (size_t i = g; i < end; ++i) {
        const Word* values = row(i);
        done(values, insert(values, hash(i)));
      }
    }
  }
  // insert_sorted's results: the outcome above the row number.
  static uint64_t pack(InsertResult r) { return (static_cast<uint64_t>(r.outcome) << 32) | r.row; }
  static InsertResult unpack(uint64_t u) { return {static_cast<Outcome>(u >> 32), static_cast<RowId>(u)}; }
  // insert_many for a batch in hash order, for relations without lattice columns (no row is
  // ever merged): every row is appended in batch order first, then the rows are probed in hash
  // order, each new key entered with its final row number. Duplicates and conflicts leave holes
  // that are closed afterwards (the later added rows move down and their entries are renumbered),
  // so the rows end numbered as if inserted one by one - appending them in hash order instead
  // scattered rows derived together, and tc on the random graph, whose duplicates read the
  // stored rows, took 40% longer. Returns the results in batch order.
  // `rows`: n rows of arity cells of 1 << shift bytes (3: words); `order`: their keys (hash << 32
  // | position) sorted by sort_keys; `results`: room for n packed results (pack), returned.
  const uint64_t* insert_sorted(const void* rows, uint32_t shift, const uint64_t* order, size_t n, uint64_t* results);
  // insert_sorted of rows in batch order (words) into a dense index: each row's key is its
  // packed value, read from the row (no hash to unmix, no probe to prefetch). nullptr, having
  // changed nothing, when a row does not pack or the index stops being dense (check_density).
  const uint64_t* insert_dense(const Word* rows, size_t n, uint64_t* results);
  // After a batch of n rows appended from `base` was inserted (results[p]: Added, or the
  // outcome that left row p a hole, from first_hole on): numbers the added rows and moves those
  // after a hole down, keeping batch order. Whether there were holes.
  bool close_holes(RowId base, size_t first_hole, size_t holes, size_t n, uint64_t* results);
  // append_many of n rows of arity cells of 1 << shift bytes: copied as they are when the
  // relation's cells have that width.
  void append_rows(const void* rows, uint32_t shift, size_t n);
  // Rewrites the pending rows with cells of 1 << shift bytes (wider than now).
  static void widen_pending(Pending& p, uint32_t arity, uint32_t shift);
  // Makes room in the key index for n more keys (keys: hash << 32 | anything, in hash order): a
  // batch inserted in hash order fills the low end of a table first, so a table that grew only
  // when its total load reached the limit would be far over it there, with runs as long as the
  // batch (a 1 M-row batch into a 100 K-entry table took 10x longer than the same rows in 256 K
  // ones).
  void reserve_keys(const uint64_t* keys, size_t n);
  mutable std::vector<std::unique_ptr<Index>> indexes_;  // built lazily by lookups
};

}  // namespace bloom::rt
