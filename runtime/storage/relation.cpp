#include "storage/relation.h"

#include <algorithm>
#include <atomic>
#include <bit>
#include <cassert>
#include <cstring>

namespace bloom::rt {
namespace {

// Stores n words as cells of type T (int16_t or int32_t, read back sign-extended); false if one
// does not fit, and then the cells hold nothing meaningful.
template <class T>
bool store_cells(const Word* from, size_t n, T* cells) {
  bool fits = true;
  for (size_t k = 0; k < n; ++k) {
    int64_t v = static_cast<int64_t>(from[k]);
    cells[k] = static_cast<T>(v);
    fits &= v == static_cast<T>(v);
  }
  return fits;
}

template <class T>
bool all_fit(const Word* from, size_t n) {
  return std::all_of(from, from + n, [](Word w) { return static_cast<int64_t>(w) == static_cast<T>(static_cast<int64_t>(w)); });
}

}  // namespace

Relation::Index::Index(const Relation* rel, std::vector<uint32_t> c) : cols(std::move(c)), heads(0, Hasher{}, Equal{rel, &cols}) {}

Relation::Relation(const plan::Relation& decl, Lattices& lattices)
    : decl_(decl), lattices_(lattices), arity_(decl.arity()), key_cols_(decl.key) {
  key_is_prefix_ = true;
  for (size_t i = 0; i < key_cols_.size(); ++i) key_is_prefix_ &= key_cols_[i] == i;
  std::vector<bool> in_key(arity_, false);
  for (uint32_t c : key_cols_) in_key[c] = true;
  for (uint32_t c = 0; c < arity_; ++c) {
    if (decl.column_types[c].is_lattice()) lattice_cols_.push_back(c);
    else if (!in_key[c]) plain_nonkey_.push_back(c);
  }
  key_parts_.emplace_back(0);
  // 16-bit cells to start with when every column holds ints, strings, addrs or bools (floats
  // and lattices need the whole word); values that do not fit widen the relation (append_many).
  bool narrow = true;
  for (const auto& t : decl.column_types)
    if (t.kind == plan::TypeKind::Float || t.is_lattice()) narrow = false;
  cell_shift_ = narrow ? 1 : 3;
  value_shaped_ = narrow && lattice_cols_.empty() && key_is_prefix_ && key_cols_.size() == arity_ && (arity_ == 1 || arity_ == 2);
  by_value_ = value_shaped_;
  if (by_value_) {
    key_parts_.clear();
    value_parts_.emplace_back(0);
  }
  for (const auto& cols : decl.indexes) indexes_.push_back(std::make_unique<Index>(this, cols));
}

void Relation::catch_up(Index& ix) const {
  ix.next.resize(rows_, kNoRow);
  if (ix.cols.size() == 1) {
    const uint32_t col = ix.cols[0];
    auto splice = [&](RowId& head, RowId r) {
      if (head == kNoRow) {
        head = r;
      } else {  // in after the chain's head
        ix.next[r] = ix.next[head];
        ix.next[head] = r;
      }
    };
    RowId r = ix.built;
    // An array by value holds at most a few slots a row (and 4096 whatever the rows): values
    // beyond that (or negative ones, which are huge words) move the index to the hash map.
    const Word limit = Word{4096} + Word{4} * rows_;
    for (; ix.direct_ok && r < rows_; ++r) {
      const Word v = row(r)[col];
      if (v >= limit) {
        for (Word k = 0; k < ix.direct.size(); ++k)
          if (ix.direct[k] != kNoRow) ix.single.emplace(k, ix.direct[k]);
        ix.direct_ok = false;
        ix.direct = {};
        break;
      }
      if (v >= ix.direct.size()) ix.direct.resize(std::max<size_t>(v + 1, std::min<size_t>(ix.direct.size() * 2, limit)), kNoRow);
      splice(ix.direct[v], r);
    }
    for (; r < rows_; ++r) splice(ix.single.try_emplace(row(r)[col], kNoRow).first->second, r);
    ix.built = rows_;
    return;
  }
  SmallWords key(ix.cols.size());
  Word* k = key.data();
  for (RowId r = ix.built; r < rows_; ++r) {
    RowRef values = row(r);
    for (size_t i = 0; i < ix.cols.size(); ++i) k[i] = values[ix.cols[i]];
    uint32_t h = hash_values(k, ix.cols.size());
    auto it = ix.heads.find(Probe{k, h});
    if (it == ix.heads.end()) {
      ix.heads.insert(entry(r, h));
    } else {  // splice in after the chain's head
      RowId head = row_of(*it);
      ix.next[r] = ix.next[head];
      ix.next[head] = r;
    }
  }
  ix.built = rows_;
}

template <class Table>
void Relation::split_parts(std::vector<Table>& parts) {
  using TEntry = typename Table::Entry;
  assert(parts.size() == 1);
  Table all = std::move(parts[0]);
  constexpr uint32_t bits = part_bits<Table>(), n = 1u << bits;
  std::vector<size_t> counts(n, 0);
  all.for_each([&](TEntry e) { ++counts[Table::hash_of(e) >> (32 - bits)]; });
  parts.clear();
  parts.reserve(n);
  for (uint32_t i = 0; i < n; ++i) parts.emplace_back(bits);
  // The entries come in hash order, so the parts fill one after the other and each entry goes
  // straight after the previous one of its part (Table::append_in_order, no probing). A part's
  // table is made when its first entry comes, and the old table gives its memory back as it is
  // read (KeyTable::drain): the split holds about one copy of the index, not two (tc on a chain
  // of 2,000 reached its peak RSS here, with the whole old table and all 16 new parts resident).
  uint32_t current = n;
  size_t cursor = 0;
  all.drain([&](TEntry e) {
    const uint32_t part = Table::hash_of(e) >> (32 - bits);
    if (part != current) {
      current = part;
      cursor = 0;
      parts[part].reserve(counts[part] + counts[part] / 4);
    }
    parts[part].append_in_order(e, cursor);
  });
}

void Relation::consider_dense() {
  assert(by_value_ && !dense_);
  // The leaves and directory pages a DenseSet of these rows would take, either way round
  // (orientation 1: rotated by 16 bits), counted in bitmaps of every possible leaf and page.
  constexpr size_t kLeafIds = size_t{1} << (32 - DenseSet::kLeafShift);
  std::vector<uint64_t> seen[2] = {std::vector<uint64_t>(kLeafIds / 64), std::vector<uint64_t>(kLeafIds / 64)};
  std::vector<bool> page_seen[2] = {std::vector<bool>(kLeafIds >> DenseSet::kMidShift), std::vector<bool>(kLeafIds >> DenseSet::kMidShift)};
  size_t leaves[2] = {0, 0}, pages[2] = {0, 0};
  size_t index_bytes = 0;
  for (const ValueTable& part : value_parts_) {
    index_bytes += part.memory_bytes();
    part.for_each([&](ValueTable::Entry e) {
      const uint32_t p = unmix32(ValueTable::hash_of(e));
      for (int o = 0; o < 2; ++o) {
        const uint32_t leaf = DenseSet::leaf_of(o ? std::rotl(p, 16) : p);
        uint64_t& w = seen[o][leaf >> 6];
        const uint64_t bit = uint64_t{1} << (leaf & 63);
        if (w & bit) continue;
        w |= bit;
        ++leaves[o];
        if (!page_seen[o][DenseSet::page_of_leaf(leaf)]) page_seen[o][DenseSet::page_of_leaf(leaf)] = true, ++pages[o];
      }
    });
  }
  const size_t bytes[2] = {DenseSet::bytes_for(leaves[0], pages[0]), DenseSet::bytes_for(leaves[1], pages[1])};
  const int o = bytes[1] < bytes[0] ? 1 : 0;
  if (2 * bytes[o] > index_bytes) {
    next_dense_check_ = 2 * live_;
    return;
  }
  dense_rotated_ = o == 1;
  auto dense = std::make_unique<DenseSet>();
  for (const ValueTable& part : value_parts_) part.for_each([&](ValueTable::Entry e) { dense->insert(dense_key(ValueTable::hash_of(e))); });
  assert(dense->size() == live_);
  value_parts_.clear();
  value_parts_.emplace_back(0);
  dense_ = std::move(dense);
  next_sparse_check_ = 2 * dense_->leaves();
}

void Relation::consider_sparse() {
  assert(by_value_ && dense_);
  // What a table of these rows would take: 4 bytes a slot at about 70% load.
  const size_t table_bytes = dense_->size() * sizeof(ValueTable::Entry) * 10 / 7;
  if (dense_->memory_bytes() <= 2 * table_bytes) {
    next_sparse_check_ = 2 * dense_->leaves();
    return;
  }
  std::unique_ptr<DenseSet> dense = std::move(dense_);
  value_parts_.clear();
  value_parts_.emplace_back(0);
  split_for(value_parts_, dense->size());
  dense->for_each([&](uint32_t k) {
    const uint32_t h = dense_hash(k);
    part_of(value_parts_, h).insert_new(h, kNoRow);
  });
  next_dense_check_ = 2 * live_;
}

void Relation::index_rows(RowId limit) {
  assert(by_value_ && limit <= rows_ && !unindexed_);
  // The index by value goes first: the new one is built from the rows, not from it.
  value_parts_.clear();
  value_parts_.shrink_to_fit();
  dense_.reset();
  by_value_ = false;
  key_parts_.clear();
  key_parts_.emplace_back(0);
  size_t live = 0;
  for (RowId r = 0; r < limit; ++r) live += alive(r);
  key_parts_[0].reserve(live);
  SmallWords values(arity_);
  for (RowId r = 0; r < limit; ++r) {
    if (!alive(r)) continue;
    read(r, values.data());
    key_parts_[0].insert_new(value_hash(values.data()), r);
  }
  split_for(key_parts_, limit);
}

void Relation::reserve_keys(const uint64_t* keys, size_t n) {
  if (dense_) return;
  with_key_parts([&](auto& parts) {
    split_for(parts, rows_ + n);
    if (parts.size() == 1) {
      parts[0].reserve(parts[0].size() + n);
      return;
    }
    constexpr uint32_t bits = part_bits<typename std::decay_t<decltype(parts)>::value_type>();
    for (size_t i = 0; i < n;) {
      uint32_t part = static_cast<uint32_t>(keys[i] >> (64 - bits));
      size_t j = i;
      while (j < n && keys[j] >> (64 - bits) == part) ++j;
      parts[part].reserve(parts[part].size() + (j - i));
      i = j;
    }
  });
}

const uint64_t* Relation::insert_sorted(const void* rows, uint32_t shift, const uint64_t* order, size_t n, uint64_t* results) {
  auto position = [&](size_t j) { return static_cast<uint32_t>(order[j]); };
  auto hash = [&](size_t j) { return static_cast<uint32_t>(order[j] >> 32); };
  auto outcome = [&](size_t p) { return static_cast<Outcome>(results[p] >> 32); };
  auto row_at = [&](size_t p) { return static_cast<RowId>(results[p]); };
  assert(!unindexed_);
  const uint8_t* cells = static_cast<const uint8_t*>(rows);
  const size_t in_row_bytes = static_cast<size_t>(arity_) << shift;
  if (by_value_) check_density();
  reserve_keys(order, n);

  // Every row is appended first, in batch order, so that a new key's entry gets its final row
  // number when it is probed: a batch without duplicates (sg, tc on a chain) walks the table
  // once. Duplicates and conflicts leave holes, closed below.
  const RowId base = rows_;
  append_rows(rows, shift, n);
  if (by_value_ && !cells_pack()) {  // a row of the batch does not pack
    index_rows(base);
    reserve_keys(order, n);
  }
  std::fill_n(results, n, pack({Outcome::Added, kNoRow}));
  size_t first_hole = n, holes = 0;
  for (size_t j = 0; j < n; ++j) {
    const uint32_t p = position(j);
    assert(p < n);
    const RowRef values(cells + p * in_row_bytes, shift);
    uint32_t h = hash(j);
    // The probes walk the table upwards a few cache lines apart: the slot 8 probes ahead is
    // prefetched (sg depth 11, ab_bench medians: 0.83 -> 0.79 s in 11 rounds, 0.74 -> 0.71 s in
    // 15; 16 or 32 ahead was no better).
    if (j + 8 < n) touch_key_slot_for_write(hash(j + 8));
    if (by_value_) {  // an equal hash is an equal row: no row is read
      if (dense_ ? dense_->insert(dense_key(h)) : part_of(value_parts_, h).insert(h, kNoRow, [](RowId) { return true; }).second) continue;
      results[p] = pack({Outcome::Duplicate, kNoRow});
      first_hole = std::min<size_t>(first_hole, p);
      ++holes;
      continue;
    }
    // Rows are read only when a hash agrees (a duplicate, or rarely two keys with the same 32
    // hash bits). Equal keys have equal hashes, so they come in batch order: the first is added.
    auto [slot, added] = key_part(h).insert(h, base + p, [&](RowId r) { return same_key(r, values); });
    if (added) continue;
    RowId old = row_of(*slot);
    results[p] = pack({conflicts(old, values) ? Outcome::Conflict : Outcome::Duplicate, old});
    first_hole = std::min<size_t>(first_hole, p);
    ++holes;
  }
  if (!close_holes(base, first_hole, holes, n, results)) return results;
  if (by_value_) return results;  // entries name no rows, and duplicates no row either
  for (size_t j = 0; j < n; ++j) {
    const uint32_t p = position(j);
    const RowId was = base + p;
    if (p <= first_hole || outcome(p) != Outcome::Added || row_at(p) == was) continue;
    uint32_t h = hash(j);
    auto* slot = const_cast<KeyTable::Entry*>(key_part(h).find(h, [&](RowId r) { return r == was; }));
    assert(slot);
    *slot = entry(row_at(p), h);
  }
  // Duplicates and conflicts with a row of this batch name the number it ended with.
  for (size_t i = first_hole; i < n; ++i) {
    InsertResult res = unpack(results[i]);
    if (res.outcome != Outcome::Added && res.row >= base) {
      assert(res.row - base < i && outcome(res.row - base) == Outcome::Added);
      results[i] = pack({res.outcome, row_at(res.row - base)});
    }
  }
  return results;
}

bool Relation::close_holes(RowId base, size_t first_hole, size_t holes, size_t n, uint64_t* results) {
  for (size_t p = 0; p < first_hole; ++p) results[p] = pack({Outcome::Added, base + static_cast<RowId>(p)});
  if (holes == 0) return false;
  // The added rows after the first hole move down, keeping batch order (so the rows are
  // numbered as if inserted one by one).
  RowId next = base + static_cast<RowId>(first_hole);
  const size_t row_bytes = static_cast<size_t>(arity_) << cell_shift_;
  for (size_t p = first_hole; p < n; ++p) {
    if (static_cast<Outcome>(results[p] >> 32) != Outcome::Added) continue;
    RowId was = base + static_cast<RowId>(p);
    if (was != next) std::memcpy(const_cast<void*>(cell_ptr(next)), cell_ptr(was), row_bytes);
    results[p] = pack({Outcome::Added, next++});
  }
  rows_ = next;
  live_ -= holes;
  return true;
}

const uint64_t* Relation::insert_dense(const Word* rows, size_t n, uint64_t* results) {
  assert(!unindexed_ && lattice_cols_.empty());
  check_density();
  const size_t A = arity_;
  if (!dense_) return nullptr;
  for (size_t i = 0; i < n; ++i)
    if (!packs(rows + i * A)) return nullptr;
  const RowId base = rows_;
  append_many(rows, n);
  size_t first_hole = n, holes = 0;
  for (size_t i = 0; i < n; ++i) {
    if (dense_->insert(dense_key_of_packed(packed(rows + i * A)))) {
      results[i] = pack({Outcome::Added, kNoRow});
      continue;
    }
    results[i] = pack({Outcome::Duplicate, kNoRow});
    first_hole = std::min(first_hole, i);
    ++holes;
  }
  close_holes(base, first_hole, holes, n, results);
  return results;
}

void Relation::widen(uint32_t shift) {
  assert(shift > cell_shift_);
  const size_t chunk_cells = static_cast<size_t>(arity_) << kChunkBits;
  for (size_t k = 0; k < chunks_.size(); ++k) {
    Chunk wide = new_chunk(chunk_cells << shift, k);
    const RowRef from(chunks_[k].get(), cell_shift_);
    size_t used_cells = std::min<size_t>(size_t{1} << kChunkBits, rows_ - (k << kChunkBits)) * arity_;
    if (shift == 2) {
      int32_t* to = reinterpret_cast<int32_t*>(wide.get());
      for (size_t i = 0; i < used_cells; ++i) to[i] = static_cast<int32_t>(static_cast<int64_t>(from[static_cast<uint32_t>(i)]));
    } else {
      Word* to = reinterpret_cast<Word*>(wide.get());
      for (size_t i = 0; i < used_cells; ++i) to[i] = from[static_cast<uint32_t>(i)];
    }
    chunks_[k] = std::move(wide);
  }
  chunks_changed();
  cell_shift_ = shift;
}

RowId Relation::append(const Word* values) {
  RowId r = rows_;
  append_many(values, 1);
  return r;
}

void Relation::append_many(const Word* rows, size_t n) {
  const size_t A = arity_;
  for (size_t i = 0; i < n;) {
    RowId r = rows_;
    if ((r & kChunkMask) == 0 && (r >> kChunkBits) == chunks_.size()) add_chunk();
    // The rest of the batch, or as much as the chunk holds, in one loop over the cells.
    const size_t m = std::min<size_t>(n - i, (kChunkMask + 1) - (r & kChunkMask));
    const Word* from = rows + i * A;
    if (cell_shift_ < 3) {
      void* cells = const_cast<void*>(cell_ptr(r));
      bool fits = cell_shift_ == 1 ? store_cells(from, m * A, static_cast<int16_t*>(cells))
                                   : store_cells(from, m * A, static_cast<int32_t*>(cells));
      if (!fits) {  // a value needs wider cells: widen (rows [0, rows_) only) once, to 32 bits if
                    // all of these fit there, else to 64, then store these again
        widen(cell_shift_ == 1 && all_fit<int32_t>(from, m * A) ? 2 : 3);
        continue;
      }
    } else {
      copy_words(from, m * A, static_cast<Word*>(const_cast<void*>(cell_ptr(r))));
    }
    rows_ += static_cast<RowId>(m);
    live_ += m;
    if (!lattice_cols_.empty() || !dead_.empty()) dead_.resize(rows_, false);
    i += m;
  }
}

void Relation::read(RowId r, Word* out) const {
  RowRef row_ref = row(r);
  for (uint32_t c = 0; c < arity_; ++c) out[c] = row_ref[c];
}

bool Relation::row_equals(RowId r, const Word* values) const {
  RowRef row_ref = row(r);
  for (uint32_t c = 0; c < arity_; ++c)
    if (row_ref[c] != values[c]) return false;
  return true;
}

Relation::InsertResult Relation::insert(const Word* values) { return insert(values, key_hash(values)); }

Relation::InsertResult Relation::insert(const Word* values, uint32_t h) {
  assert(!unindexed_);
  if (by_value_) {
    if (packs(values)) {
      check_density();
      if (dense_) {
        if (!dense_->insert(dense_key(h))) return {Outcome::Duplicate, kNoRow};
        return {Outcome::Added, append(values)};
      }
      split_for(value_parts_, rows_);
      if (!part_of(value_parts_, h).insert(h, kNoRow, [](RowId) { return true; }).second) return {Outcome::Duplicate, kNoRow};
      return {Outcome::Added, append(values)};
    }
    index_rows(rows_);  // a row that does not pack: an index of row numbers from now on
  }
  // One probe: the entry for the next row is constructed only if the key is absent.
  split_for(key_parts_, rows_);
  KeyTable& keys = key_part(h);
  auto [slot, added] = keys.insert(h, rows_, [&](RowId r) { return same_key(r, values); });
  if (added) return {Outcome::Added, append(values)};
  RowId old = row_of(*slot);
  if (conflicts(old, values)) return {Outcome::Conflict, old};
  if (lattice_cols_.empty()) return {Outcome::Duplicate, old};
  RowRef have = row(old);
  // Merge the lattice columns; append the merged row if anything grew.
  SmallWords merged(arity_);
  Word* m = merged.data();
  read(old, m);
  bool changed = false;
  for (uint32_t c : lattice_cols_) {
    Word v = lattices_.merge(decl_.column_types[c], have[c], values[c]);
    if (v != have[c]) {
      m[c] = v;
      changed = true;
    }
  }
  if (!changed) return {Outcome::Duplicate, old};
  dead_[old] = true;
  --live_;
  RowId r = append(m);
  *slot = entry(r, h);  // the same key, so the same place in the index
  return {Outcome::Merged, r};
}

size_t Relation::batch_rows() const {
  // A dense index is never probed in hash order: its rows go in as they come.
  if (dense_ || !lattice_cols_.empty() || !key_index_is_big()) return 0;
  const size_t rows = (key_slots() + kSortedGap - 1) / kSortedGap;
  return std::clamp(rows, kMinBatchRows, kMaxBatchRows);
}

void Relation::stage(Pending& p, const Word* rows, const uint32_t* hashes, size_t n) {
  const size_t A = arity_;
  const size_t at = p.size();
  if (at == 0) {  // the relation's cells, and room for a whole batch: one mapping, no copy as it fills
    const size_t want = std::max(batch_rows(), n);
    // A batch probed in hash order is appended from its cells; one probed as it comes is
    // inserted row by row from words, so it is kept in words.
    p.shift_ = sorts(want) ? cell_shift_ : 3;
    p.cells_.reserve((want * A) << p.shift_);
    p.keys_.reserve(want);
  }
  const size_t cells = n * A;
  for (;;) {
    void* to = p.cells_.grow_by(cells << p.shift_);
    bool fits = true;
    if (p.shift_ == 1) fits = store_cells(rows, cells, static_cast<int16_t*>(to));
    else if (p.shift_ == 2) fits = store_cells(rows, cells, static_cast<int32_t*>(to));
    else copy_words(rows, cells, static_cast<Word*>(to));
    if (fits) break;
    p.cells_.resize(p.cells_.size() - (cells << p.shift_));  // a value needs wider cells
    widen_pending(p, arity_, p.shift_ == 1 && all_fit<int32_t>(rows, cells) ? 2 : 3);
  }
  uint64_t* keys = p.keys_.grow_by(n);
  for (size_t i = 0; i < n; ++i) keys[i] = (static_cast<uint64_t>(hashes[i]) << 32) | (at + i);
}

void Relation::widen_pending(Pending& p, uint32_t arity, uint32_t shift) {
  assert(shift > p.shift_);
  const size_t cells = p.size() * arity;
  PageBuffer<uint8_t> wide;
  wide.reserve(std::max(p.cells_.capacity() << (shift - p.shift_), size_t{1}));
  void* to = wide.resize(cells << shift);
  const RowRef from(p.cells_.data(), p.shift_);
  for (size_t i = 0; i < cells; ++i) {
    const Word w = from[static_cast<uint32_t>(i)];
    if (shift == 2) static_cast<int32_t*>(to)[i] = static_cast<int32_t>(static_cast<int64_t>(w));
    else static_cast<Word*>(to)[i] = w;
  }
  p.cells_ = std::move(wide);
  p.shift_ = shift;
}

void Relation::append_rows(const void* rows, uint32_t shift, size_t n) {
  const size_t A = arity_;
  if (shift == 3) return append_many(static_cast<const Word*>(rows), n);
  const uint8_t* from = static_cast<const uint8_t*>(rows);
  const size_t row_bytes = A << shift;
  if (shift != cell_shift_) {  // another width: through words, 256 rows at a time (append_many widens)
    constexpr size_t kRows = 256;
    std::vector<Word> words(kRows * A);
    for (size_t i = 0; i < n; i += kRows) {
      const size_t m = std::min(kRows, n - i);
      const RowRef x(from + i * row_bytes, shift);
      for (size_t k = 0; k < m * A; ++k) words[k] = x[static_cast<uint32_t>(k)];
      append_many(words.data(), m);
    }
    return;
  }
  for (size_t i = 0; i < n;) {
    RowId r = rows_;
    if ((r & kChunkMask) == 0 && (r >> kChunkBits) == chunks_.size()) add_chunk();
    const size_t m = std::min<size_t>(n - i, (kChunkMask + 1) - (r & kChunkMask));
    std::memcpy(const_cast<void*>(cell_ptr(r)), from + i * row_bytes, m * row_bytes);
    rows_ += static_cast<RowId>(m);
    live_ += m;
    if (!lattice_cols_.empty() || !dead_.empty()) dead_.resize(rows_, false);
    i += m;
  }
}

size_t Relation::key_slots() const {
  if (dense_) return dense_->memory_bytes() / sizeof(ValueTable::Entry);  // as many bytes
  return with_key_parts([](const auto& parts) {
    size_t slots = 0;
    for (const auto& part : parts) slots += part.capacity();
    return slots;
  });
}

bool Relation::key_index_is_big() const {
  // Past the last-level cache share of one core (and a part's table is past L2 long before).
  constexpr size_t kBigSlots = size_t{1} << 20;  // 8 MiB of (hash, row) entries, 4 MiB by value
  return key_slots() >= kBigSlots;
}

RowId Relation::find_key(const Word* key) const {
  assert(!unindexed_);
  // The relation is not const here, only this view of it (see the header).
  if (by_value_) const_cast<Relation*>(this)->index_rows(rows_);
  uint32_t h = value_shaped_ ? value_hash(key) : hash_values(key, key_cols_.size());
  const Entry* e = key_part(h).find(h, [&](RowId r) { return key_equals(r, key); });
  return e ? row_of(*e) : kNoRow;
}

bool Relation::contains(const Word* values) const {
  assert(!unindexed_);
  if (by_value_) {
    if (!packs(values)) return false;
    const uint32_t h = value_hash(values);
    if (dense_) return dense_->contains(dense_key(h));
    return part_of(value_parts_, h).find(h, [](RowId) { return true; }) != nullptr;
  }
  SmallWords key(key_cols_.size());
  key_of(values, key.data());
  RowId r = find_key(key.data());
  if (r == kNoRow) return false;
  RowRef have = row(r);
  for (uint32_t c : plain_nonkey_)
    if (have[c] != values[c]) return false;
  for (uint32_t c : lattice_cols_)
    if (lattices_.merge(decl_.column_types[c], have[c], values[c]) != have[c]) return false;
  return true;
}

void Relation::kill(RowId r) {
  assert(r < rows_ && alive(r) && !unindexed_);
  SmallWords values(arity_);
  read(r, values.data());
  uint32_t h = key_hash(values.data());
  if (dense_) {
    [[maybe_unused]] const bool erased = dense_->erase(dense_key(h));
    assert(erased);
  } else if (by_value_) {
    ValueTable& part = part_of(value_parts_, h);
    const ValueTable::Entry* e = part.find(h, [](RowId) { return true; });
    assert(e);
    if (e) part.erase(e);
  } else {
    const Entry* e = key_part(h).find(h, [&](RowId x) { return x == r; });
    assert(e);
    if (e) key_part(h).erase(e);
  }
  dead_.resize(rows_, false);
  dead_[r] = true;
  --live_;
}

uint64_t Relation::next_generation() {
  static std::atomic<uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

void Relation::clear() {
  if (rows_ == 0) return;  // nothing since the last clear: a scratch empty this tick costs nothing
  generation_ = next_generation();
  unindexed_ = false;
  rows_ = 0;
  live_ = 0;
  dead_.clear();
  dense_.reset();
  next_dense_check_ = kFirstDenseCheck;
  with_key_parts([](auto& parts) {
    if (parts.size() > 1) {
      parts.clear();
      parts.emplace_back(0);
    } else {
      parts[0].clear();
    }
  });
  for (auto& ix : indexes_) {
    ix->heads.clear();
    ix->single.clear();
    ix->direct.clear();
    ix->direct_ok = true;
    ix->next.clear();
    ix->built = 0;
  }
  // Keep the first chunk for the next tick; release the rest (a big scratch should not pin memory).
  if (chunks_.size() > 1) chunks_.resize(1);
  chunks_changed();
}

void Relation::rebuild(const std::vector<bool>& drop) {
  std::vector<Word> keep;
  size_t kept = 0;
  keep.reserve(static_cast<size_t>(live_) * arity_);
  for (RowId r = 0; r < rows_; ++r)
    if (alive(r) && !(r < drop.size() && drop[r])) {
      keep.resize(keep.size() + arity_);
      read(r, keep.data() + keep.size() - arity_);
      ++kept;
    }
  clear();
  chunks_.clear();
  chunks_changed();
  Word none = 0;
  for (size_t i = 0; i < kept; ++i) insert(arity_ ? keep.data() + i * arity_ : &none);
}

size_t Relation::memory_bytes() const {
  size_t b = chunks_.size() * ((static_cast<size_t>(arity_) << kChunkBits) << cell_shift_);
  with_key_parts([&](const auto& parts) {
    for (const auto& part : parts) b += part.memory_bytes();
  });
  if (dense_) b += dense_->memory_bytes();
  for (auto& ix : indexes_)
    b += ix->heads.capacity() * (sizeof(Entry) + 1) + ix->single.capacity() * (sizeof(std::pair<Word, RowId>) + 1) +
         ix->next.capacity() * sizeof(RowId) + ix->direct.capacity() * sizeof(RowId);
  return b;
}

}  // namespace bloom::rt
