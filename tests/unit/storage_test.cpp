// Relation storage (runtime/storage/relation.h): set semantics, keyed tables, lattice-column
// merges, secondary indexes, clear/rebuild, nullary relations and growth across chunks.
#include <algorithm>
#include <cstring>
#include <deque>
#include <memory>
#include <set>
#include <vector>

#include "rt_test_util.h"
#include "storage/relation.h"

namespace bloom::test {
namespace {

using rt::kNoRow;
using rt::RowId;
using rt::Word;
using Outcome = rt::Relation::Outcome;

class StorageTest : public testing::Test {
 protected:
  rt::SymbolTable symbols;
  rt::Lattices lat{symbols};
  std::deque<plan::Relation> decls;  // a Relation keeps a reference to its declaration
  std::vector<std::unique_ptr<rt::Relation>> relations;

  rt::Relation& make(plan::Relation decl) {
    decls.push_back(std::move(decl));
    relations.push_back(std::make_unique<rt::Relation>(decls.back(), lat));
    return *relations.back();
  }

  // A set of int rows.
  rt::Relation& ints(uint32_t arity, std::vector<std::vector<uint32_t>> indexes = {}) {
    std::vector<Column> cols;
    for (uint32_t i = 0; i < arity; ++i) cols.push_back({"c" + std::to_string(i), kInt});
    return make(relation_decl("t", cols, {}, false, std::move(indexes)));
  }

  static std::vector<Word> row_of(const rt::Relation& r, RowId id) {
    std::vector<Word> out;
    for (uint32_t c = 0; c < r.arity(); ++c) out.push_back(r.row(id)[c]);
    return out;
  }

  // The live rows, sorted.
  static std::vector<std::vector<Word>> live_rows(const rt::Relation& r) {
    std::vector<std::vector<Word>> out;
    for (RowId i = 0; i < r.end(); ++i)
      if (r.alive(i)) out.push_back(row_of(r, i));
    std::sort(out.begin(), out.end());
    return out;
  }

  // The rows an index lookup reports (dead ones included), sorted.
  static std::vector<RowId> matches(const rt::Relation& r, uint32_t index, std::vector<Word> key) {
    std::vector<RowId> out;
    if (key.empty()) key.push_back(0);  // a pointer is needed even for an index on no columns
    r.for_each_match(index, key.data(), [&](RowId id) { out.push_back(id); });
    std::sort(out.begin(), out.end());
    return out;
  }

  static Outcome insert(rt::Relation& r, std::vector<Word> values) {
    if (values.empty()) values.push_back(0);
    return r.insert(values.data()).outcome;
  }
};

TEST_F(StorageTest, DuplicateInsertIntoASetIsADuplicate) {
  auto& r = ints(2);
  auto first = r.insert(std::vector<Word>{1, 2}.data());
  EXPECT_EQ(first.outcome, Outcome::Added);
  auto again = r.insert(std::vector<Word>{1, 2}.data());
  EXPECT_EQ(again.outcome, Outcome::Duplicate);
  ASSERT_TRUE(r.indexed_by_value());
  EXPECT_EQ(again.row, kNoRow) << "an index by value knows no row numbers";
  r.need_row_ids();
  EXPECT_FALSE(r.indexed_by_value());
  again = r.insert(std::vector<Word>{1, 2}.data());
  EXPECT_EQ(again.outcome, Outcome::Duplicate);
  EXPECT_EQ(again.row, first.row);
  EXPECT_EQ(insert(r, {1, 3}), Outcome::Added);
  EXPECT_EQ(insert(r, {2, 2}), Outcome::Added);
  EXPECT_EQ(r.live(), 3u);
  EXPECT_EQ(r.end(), 3u);
  EXPECT_FALSE(r.has_dead_rows());
  EXPECT_EQ(live_rows(r), (std::vector<std::vector<Word>>{{1, 2}, {1, 3}, {2, 2}}));
}

TEST_F(StorageTest, KeyConflictChangesNothing) {
  auto& r = make(relation_decl("kv", {{"k", kString}, {"v", kInt}}, {0}, true));
  Word a = symbols.intern("a");
  EXPECT_EQ(insert(r, {a, 1}), Outcome::Added);
  auto clash = r.insert(std::vector<Word>{a, 2}.data());
  EXPECT_EQ(clash.outcome, Outcome::Conflict);
  EXPECT_EQ(clash.row, 0u) << "the conflict names the row already there";
  EXPECT_EQ(r.live(), 1u);
  EXPECT_EQ(r.end(), 1u);
  EXPECT_EQ(row_of(r, 0), (std::vector<Word>{a, 1}));
  EXPECT_EQ(insert(r, {a, 1}), Outcome::Duplicate);
  EXPECT_EQ(insert(r, {symbols.intern("b"), 2}), Outcome::Added);
}

TEST_F(StorageTest, ConflictOnAPlainColumnDoesNotMergeTheLatticeColumns) {
  auto& r = make(relation_decl("t", {{"k", kInt}, {"name", kString}, {"n", lmax(kInt)}}, {0}, true));
  Word a = symbols.intern("a"), b = symbols.intern("b");
  EXPECT_EQ(insert(r, {1, a, 5}), Outcome::Added);
  EXPECT_EQ(insert(r, {1, b, 9}), Outcome::Conflict);
  EXPECT_EQ(live_rows(r), (std::vector<std::vector<Word>>{{1, a, 5}}));
  EXPECT_EQ(r.end(), 1u);
}

TEST_F(StorageTest, LatticeColumnMergeAppendsTheMergedRowAndKillsTheOld) {
  auto& r = make(relation_decl("best", {{"k", kInt}, {"v", lmax(kInt)}}));
  ASSERT_TRUE(r.decl().keyed);
  EXPECT_EQ(insert(r, {1, 5}), Outcome::Added);
  auto smaller = r.insert(std::vector<Word>{1, 3}.data());
  EXPECT_EQ(smaller.outcome, Outcome::Duplicate) << "nothing grows";
  EXPECT_EQ(smaller.row, 0u);
  EXPECT_EQ(insert(r, {1, 5}), Outcome::Duplicate);
  auto bigger = r.insert(std::vector<Word>{1, 7}.data());
  EXPECT_EQ(bigger.outcome, Outcome::Merged);
  EXPECT_EQ(bigger.row, 1u);
  EXPECT_FALSE(r.alive(0));
  EXPECT_TRUE(r.alive(1));
  EXPECT_TRUE(r.has_dead_rows());
  EXPECT_EQ(r.live(), 1u);
  EXPECT_EQ(r.end(), 2u);
  EXPECT_EQ(row_of(r, 1), (std::vector<Word>{1, 7}));
  Word key = 1;
  EXPECT_EQ(r.find_key(&key), 1u) << "the key finds the merged row";
}

TEST_F(StorageTest, SetColumnsMergeByUnion) {
  auto& r = make(relation_decl("votes", {{"round", kInt}, {"voters", lset(kString)}}, {0}, true));
  Word a = symbols.intern("a"), b = symbols.intern("b");
  EXPECT_EQ(insert(r, {1, lat.set_of({a})}), Outcome::Added);
  EXPECT_EQ(insert(r, {1, lat.set_of({b})}), Outcome::Merged);
  EXPECT_EQ(insert(r, {1, lat.set_of({a})}), Outcome::Duplicate);
  EXPECT_EQ(live_rows(r), (std::vector<std::vector<Word>>{{1, lat.set_of({a, b})}}));
}

TEST_F(StorageTest, FindKeyTakesValuesInKeyColumnOrder) {
  auto& r = make(relation_decl("t", {{"a", kInt}, {"b", kInt}, {"c", kInt}}, {2, 0}, true));
  EXPECT_EQ(insert(r, {1, 2, 3}), Outcome::Added);
  EXPECT_EQ(insert(r, {4, 5, 6}), Outcome::Added);
  Word key[] = {3, 1};  // (c, a)
  EXPECT_EQ(r.find_key(key), 0u);
  Word swapped[] = {1, 3};
  EXPECT_EQ(r.find_key(swapped), kNoRow);
  Word other[] = {6, 4};
  EXPECT_EQ(r.find_key(other), 1u);
  EXPECT_EQ(insert(r, {1, 9, 3}), Outcome::Conflict);
}

TEST_F(StorageTest, ContainsComparesPlainColumnsAndLatticeOrder) {
  auto& set = ints(2);
  insert(set, {1, 2});
  EXPECT_TRUE(set.contains(std::vector<Word>{1, 2}.data()));
  EXPECT_FALSE(set.contains(std::vector<Word>{2, 1}.data()));

  auto& kv = make(relation_decl("kv", {{"k", kInt}, {"v", kInt}}, {0}, true));
  insert(kv, {1, 10});
  EXPECT_TRUE(kv.contains(std::vector<Word>{1, 10}.data()));
  EXPECT_FALSE(kv.contains(std::vector<Word>{1, 20}.data())) << "same key, different value";
  EXPECT_FALSE(kv.contains(std::vector<Word>{2, 10}.data()));

  auto& best = make(relation_decl("best", {{"k", kInt}, {"v", lmax(kInt)}}));
  insert(best, {1, 5});
  EXPECT_TRUE(best.contains(std::vector<Word>{1, 3}.data())) << "a smaller lmax would change nothing";
  EXPECT_TRUE(best.contains(std::vector<Word>{1, 5}.data()));
  EXPECT_FALSE(best.contains(std::vector<Word>{1, 7}.data()));
}

// ------------------------------------------------------------------ secondary indexes

TEST_F(StorageTest, IndexLookupsFindEveryMatchingRow) {
  auto& r = ints(3, {{1}, {2, 0}});
  for (Word i = 0; i < 30; ++i) insert(r, {i, i % 3, i % 5});
  std::vector<RowId> expect;
  for (RowId i = 0; i < 30; ++i)
    if (i % 3 == 1) expect.push_back(i);
  EXPECT_EQ(matches(r, 0, {1}), expect);
  EXPECT_TRUE(matches(r, 0, {7}).empty());
  // Index (c2, c0): key values in index-column order.
  EXPECT_EQ(matches(r, 1, {12 % 5, 12}), std::vector<RowId>{12});
  EXPECT_TRUE(matches(r, 1, {12, 12 % 5}).empty());
}

// A one-column index of small values keeps its chains' first rows in an array by value; a value
// too big for it (or a negative one, a huge word) moves it to the hash map, with every chain as
// it was; clear() starts again by value.
TEST_F(StorageTest, OneColumnIndexByValueFindsWhatTheHashMapFinds) {
  auto& r = ints(2, {{1}});
  auto expect_by_value = [&](bool by_value) {
    size_t size = 0;
    r.catch_up(0);
    EXPECT_EQ(r.direct_heads(0, size) != nullptr, by_value);
  };
  auto expect_chains = [&](Word n) {
    for (Word k = 0; k < 10; ++k) {
      std::vector<RowId> want;
      for (RowId i = 0; i < n; ++i)
        if (row_of(r, i)[1] == k) want.push_back(i);
      EXPECT_EQ(matches(r, 0, {k}), want) << "value " << k;
    }
  };
  for (Word i = 0; i < 100; ++i) insert(r, {i, i % 7});
  expect_by_value(true);
  expect_chains(100);
  EXPECT_TRUE(matches(r, 0, {4000000}).empty());  // beyond the array: no row
  insert(r, {100, rt::from_int(-3)});
  for (Word i = 101; i < 150; ++i) insert(r, {i, i % 7});
  expect_by_value(false);
  expect_chains(150);
  EXPECT_EQ(matches(r, 0, {rt::from_int(-3)}), std::vector<RowId>{100});
  r.clear();
  for (Word i = 0; i < 20; ++i) insert(r, {i, i % 3});
  expect_by_value(true);
  expect_chains(20);
}

TEST_F(StorageTest, IndexesCatchUpWithRowsInsertedAfterALookup) {
  auto& r = ints(2, {{1}});
  insert(r, {1, 7});
  insert(r, {2, 8});
  EXPECT_EQ(matches(r, 0, {7}), std::vector<RowId>{0});
  insert(r, {3, 7});
  insert(r, {4, 9});
  EXPECT_EQ(matches(r, 0, {7}), (std::vector<RowId>{0, 2}));
  EXPECT_EQ(matches(r, 0, {9}), std::vector<RowId>{3});
  for (Word i = 10; i < 20; ++i) insert(r, {i, 7});
  EXPECT_EQ(matches(r, 0, {7}).size(), 12u);
}

TEST_F(StorageTest, IndexReportsDeadRowsForTheCallerToSkip) {
  auto& r = make(relation_decl("best", {{"k", kInt}, {"g", kInt}, {"v", lmax(kInt)}}, {}, false, {{1}}));
  insert(r, {1, 100, 5});
  insert(r, {2, 100, 5});
  insert(r, {1, 100, 8});  // merges: row 0 dies, row 2 appears
  auto found = matches(r, 0, {100});
  EXPECT_EQ(found, (std::vector<RowId>{0, 1, 2}));
  std::vector<RowId> alive;
  for (RowId id : found)
    if (r.alive(id)) alive.push_back(id);
  EXPECT_EQ(alive, (std::vector<RowId>{1, 2}));
}

TEST_F(StorageTest, AnIndexOnNoColumnsChainsEveryRow) {
  auto& r = ints(2, {{}});
  for (Word i = 0; i < 5; ++i) insert(r, {i, i});
  EXPECT_EQ(matches(r, 0, {}), (std::vector<RowId>{0, 1, 2, 3, 4}));
}

// ------------------------------------------------------------------ kill (kept scratches)

TEST_F(StorageTest, AKilledRowIsDeadGoneFromTheKeyIndexAndComesBackAsANewRow) {
  auto& r = ints(2, {{1}});
  for (Word i = 0; i < 4; ++i) insert(r, {i, 7});
  r.kill(1);
  EXPECT_FALSE(r.alive(1));
  EXPECT_EQ(r.live(), 3u);
  Word key[] = {1, 7};
  EXPECT_EQ(r.find_key(key), kNoRow);
  EXPECT_FALSE(r.contains(key));
  EXPECT_EQ(live_rows(r), (std::vector<std::vector<Word>>{{0, 7}, {2, 7}, {3, 7}}));
  auto again = r.insert(key);
  EXPECT_EQ(again.outcome, Outcome::Added) << "a killed row inserted again is a new row";
  EXPECT_EQ(again.row, 4u) << "its old number stays taken, so it shows up in the next delta";
  EXPECT_EQ(r.find_key(key), 4u);
  EXPECT_EQ(matches(r, 0, {7}), (std::vector<RowId>{0, 1, 2, 3, 4})) << "the index chain keeps the dead row for the caller to skip";
  insert(r, {9, 9});
  EXPECT_TRUE(r.alive(5)) << "rows appended after a kill are alive";
}

TEST_F(StorageTest, KillingKeysOutOfCrowdedRunsKeepsEveryOtherKeyFindable) {
  // Many keys, then every third killed: erasing from the key index shifts the rest of each run
  // back, and every key still there must be found, every killed one not.
  auto& r = ints(2);
  const Word n = 20000;
  for (Word i = 0; i < n; ++i) insert(r, {i, i * 31 % 97});
  for (Word i = 0; i < n; i += 3) r.kill(static_cast<RowId>(i));
  for (Word i = 0; i < n; ++i) {
    Word key[] = {i, i * 31 % 97};
    ASSERT_EQ(r.find_key(key), i % 3 == 0 ? kNoRow : i) << "key " << i;
  }
  EXPECT_EQ(r.live(), n - (n + 2) / 3);
  r.rebuild({});
  EXPECT_EQ(r.end(), r.live()) << "rebuild drops the killed rows";
  Word key[] = {1, 31};
  EXPECT_EQ(r.find_key(key), 0u);
}

// ------------------------------------------------------------------ clear and rebuild

TEST_F(StorageTest, ClearEmptiesRowsKeysAndIndexes) {
  auto& r = ints(2, {{1}});
  for (Word i = 0; i < 10; ++i) insert(r, {i, 1});
  EXPECT_EQ(matches(r, 0, {1}).size(), 10u);
  r.clear();
  EXPECT_EQ(r.live(), 0u);
  EXPECT_EQ(r.end(), 0u);
  Word key[] = {3, 1};
  EXPECT_EQ(r.find_key(key), kNoRow);
  EXPECT_FALSE(r.contains(key));
  EXPECT_TRUE(matches(r, 0, {1}).empty());
  EXPECT_EQ(insert(r, {3, 1}), Outcome::Added) << "a cleared row can come back";
  EXPECT_EQ(r.find_key(key), 0u);
  EXPECT_EQ(matches(r, 0, {1}), std::vector<RowId>{0});
}

TEST_F(StorageTest, RebuildDropsMarkedRows) {
  auto& r = ints(2, {{1}});
  for (Word i = 0; i < 10; ++i) insert(r, {i, i % 2});
  EXPECT_EQ(matches(r, 0, {0}).size(), 5u);  // builds the index before the rebuild
  std::vector<bool> drop(10, false);
  for (size_t i = 0; i < 10; i += 2) drop[i] = true;
  r.rebuild(drop);
  EXPECT_EQ(r.live(), 5u);
  EXPECT_EQ(r.end(), 5u);
  std::vector<std::vector<Word>> odd;
  for (Word i = 1; i < 10; i += 2) odd.push_back({i, 1});
  EXPECT_EQ(live_rows(r), odd);
  Word gone[] = {2, 0}, kept[] = {3, 1};
  EXPECT_EQ(r.find_key(gone), kNoRow);
  EXPECT_NE(r.find_key(kept), kNoRow);
  EXPECT_TRUE(matches(r, 0, {0}).empty());
  EXPECT_EQ(matches(r, 0, {1}).size(), 5u);
}

TEST_F(StorageTest, RebuildWithAShortMaskKeepsTheRestAndDropsDeadRows) {
  auto& r = make(relation_decl("best", {{"k", kInt}, {"v", lmax(kInt)}}));
  insert(r, {1, 1});
  insert(r, {2, 1});
  insert(r, {1, 5});  // row 0 dies
  ASSERT_EQ(r.end(), 3u);
  r.rebuild({false, true});  // drops row 1 (k = 2); rows past the mask are kept
  EXPECT_EQ(r.end(), 1u);
  EXPECT_FALSE(r.has_dead_rows());
  EXPECT_EQ(live_rows(r), (std::vector<std::vector<Word>>{{1, 5}}));
}

// ------------------------------------------------------------------ nullary relations

TEST_F(StorageTest, NullaryRelationHoldsAtMostOneTuple) {
  auto& r = ints(0);
  Word none = 0;
  EXPECT_FALSE(r.contains(&none));
  EXPECT_EQ(r.find_key(&none), kNoRow);
  EXPECT_EQ(insert(r, {}), Outcome::Added);
  EXPECT_EQ(insert(r, {}), Outcome::Duplicate);
  EXPECT_EQ(r.live(), 1u);
  EXPECT_TRUE(r.contains(&none));
  EXPECT_EQ(r.find_key(&none), 0u);
  r.rebuild({});
  EXPECT_EQ(r.live(), 1u) << "an empty mask drops nothing";
  r.rebuild({true});
  EXPECT_EQ(r.live(), 0u);
  EXPECT_EQ(insert(r, {}), Outcome::Added);
  r.clear();
  EXPECT_EQ(r.live(), 0u);
  EXPECT_FALSE(r.contains(&none));
}

// ------------------------------------------------------------------ growth across chunks

// Chunks hold 2^14 or 2^16 rows depending on the build of the storage; these sizes cross several
// boundaries either way.
constexpr Word kManyRows = 140000;
constexpr Word kSomeRows = 70000;

// Row i of a sparse set of pairs that pack into 32 bits: mix32 scatters them over the whole
// 32-bit space, so no two share a leaf of a DenseSet and the index by value stays a hash table.
std::vector<Word> sparse_pair(Word i) {
  const uint32_t p = rt::mix32(static_cast<uint32_t>(i));
  return {rt::from_int(static_cast<int16_t>(p & 0xffff)), rt::from_int(static_cast<int16_t>(p >> 16))};
}

// Row i of a dense set of pairs: a thousand rows share each value of the second column.
std::vector<Word> dense_pair(Word i) { return {i % 1000, i / 1000}; }

TEST_F(StorageTest, ManyRowsCrossChunkBoundaries) {
  auto& r = ints(3, {{1}});
  for (Word i = 0; i < kManyRows; ++i) ASSERT_EQ(insert(r, {i, i % 100, i * 7}), Outcome::Added);
  EXPECT_EQ(r.live(), kManyRows);
  for (Word i = 0; i < kManyRows; ++i) {
    Word key[] = {i, i % 100, i * 7};
    auto row = r.row(static_cast<RowId>(i));
    ASSERT_TRUE(row[0] == key[0] && row[1] == key[1] && row[2] == key[2]) << "row " << i;
    ASSERT_EQ(r.find_key(key), i);
  }
  auto m = matches(r, 0, {42});
  ASSERT_EQ(m.size(), kManyRows / 100);
  for (RowId id : m) EXPECT_EQ(r.row(id)[1], 42u);
  // Reuse after clear, again past the first chunk.
  r.clear();
  for (Word i = 0; i < kSomeRows; ++i) insert(r, {i + 1, 0, 0});
  EXPECT_EQ(r.live(), kSomeRows);
  EXPECT_EQ(row_of(r, kSomeRows - 1), (std::vector<Word>{kSomeRows, 0, 0}));
  EXPECT_EQ(matches(r, 0, {0}).size(), kSomeRows);
  // And after a rebuild that keeps rows on both sides of the boundaries: drop every third row.
  std::vector<bool> drop(kSomeRows, false);
  for (size_t i = 0; i < kSomeRows; i += 3) drop[i] = true;
  r.rebuild(drop);
  EXPECT_EQ(r.live(), kSomeRows - (kSomeRows + 2) / 3);
  for (Word i = 0; i < kSomeRows; ++i) {
    Word key[] = {i + 1, 0, 0};
    ASSERT_EQ(r.find_key(key) != kNoRow, i % 3 != 0) << "row that held " << i + 1;
  }
}

// The key index splits into parts past 2^20 rows and grows by a quarter at a time
// (storage/key_table.h): every key stays findable, duplicates stay duplicates, and lattice merges
// past the split replace the entry of their key.
constexpr Word kSplitRows = Word{1} << 20;

// Sparse rows keep the index by value in a hash table split into parts; dense ones turn it into
// a DenseSet. Either way, and in the index of row numbers built from the rows after, every key is
// found once.
TEST_F(StorageTest, KeyIndexPastTheSplitFindsEveryKeyOnce) {
  for (const bool dense : {false, true}) {
    SCOPED_TRACE(dense ? "dense rows" : "sparse rows");
    auto pair = dense ? dense_pair : sparse_pair;
    auto& r = ints(2);
    const Word n = kSplitRows + kSomeRows;
    for (Word i = 0; i < n; ++i) ASSERT_EQ(r.insert(pair(i).data()).outcome, Outcome::Added) << "row " << i;
    EXPECT_EQ(r.live(), n);
    ASSERT_TRUE(r.indexed_by_value());
    ASSERT_EQ(r.indexed_densely(), dense);
    for (Word i = 0; i < n; i += 7) {
      ASSERT_TRUE(r.contains(pair(i).data())) << "row " << i;
      ASSERT_EQ(r.insert(pair(i).data()).outcome, Outcome::Duplicate) << "row " << i;
    }
    Word absent[] = {1000, 0}, absent2[] = {0, 2000};
    EXPECT_FALSE(r.contains(absent));
    EXPECT_FALSE(r.contains(absent2));
    // The index of row numbers, built from the rows past the split, finds them all as well.
    r.need_row_ids();
    EXPECT_FALSE(r.indexed_densely());
    for (Word i = 0; i < n; i += 7) {
      auto again = r.insert(pair(i).data());
      ASSERT_EQ(again.outcome, Outcome::Duplicate) << "row " << i;
      ASSERT_EQ(again.row, i);
      ASSERT_EQ(r.find_key(pair(i).data()), i);
    }
    EXPECT_EQ(r.find_key(absent), kNoRow);
    EXPECT_EQ(r.find_key(absent2), kNoRow);
    EXPECT_EQ(r.end(), n) << "duplicates add no rows";
    // After clear the relation starts over with one small table.
    r.clear();
    Word first[] = {0, 0};
    EXPECT_EQ(r.find_key(first), kNoRow);
    for (Word i = 0; i < 100; ++i) ASSERT_EQ(insert(r, {i, i}), Outcome::Added);
    for (Word i = 0; i < 100; ++i) {
      Word key[] = {i, i};
      ASSERT_EQ(r.find_key(key), i);
    }
  }
}

TEST_F(StorageTest, LatticeMergesPastTheSplitMoveTheKeyToTheMergedRow) {
  auto& r = make(relation_decl("best", {{"k", kInt}, {"v", lmax(kInt)}}));
  const Word n = kSplitRows + 1000;
  for (Word i = 0; i < n; ++i) ASSERT_EQ(insert(r, {i, 1}), Outcome::Added);
  for (Word i = 0; i < n; i += 1001) {
    auto merged = r.insert(std::vector<Word>{i, 2}.data());
    ASSERT_EQ(merged.outcome, Outcome::Merged) << "key " << i;
    EXPECT_FALSE(r.alive(static_cast<RowId>(i)));
    ASSERT_EQ(r.find_key(&i), merged.row);
    EXPECT_EQ(r.insert(std::vector<Word>{i, 2}.data()).outcome, Outcome::Duplicate);
  }
  Word untouched = 1;
  EXPECT_EQ(r.find_key(&untouched), 1u);
  EXPECT_EQ(r.live(), n);
}

// Values that need all 64 bits (large and negative ints, float bits, the top string; all distinct
// words) read back exactly, also when they arrive after many rows of small values.
// allocate_block: blocks on both sides of each threshold (malloc below 256 KiB, mapped with small
// pages up to 1 MiB, one huge page for 1-2 MiB, whole huge pages and a small-page tail above)
// are writable to their last byte; mapped ones from 1 MiB on start on a 2 MiB boundary.
TEST_F(StorageTest, BlocksOfEverySizeAreWholeAndBigOnesHugePageAligned) {
  for (size_t bytes : {size_t{1000}, (size_t{256} << 10) - 8, size_t{256} << 10, size_t{700} << 10, size_t{1} << 20, (size_t{2} << 20) - 8,
                       (size_t{2} << 20) + (32 << 10), (size_t{8} << 20) + 8}) {
    auto* p = static_cast<uint8_t*>(rt::allocate_block(bytes));
    ASSERT_NE(p, nullptr);
    if (bytes >= (size_t{1} << 20)) {
      EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % rt::kHugePage, 0u) << bytes;
    }
    std::memset(p, 0xab, bytes);
    EXPECT_EQ(p[0], 0xab);
    EXPECT_EQ(p[bytes - 1], 0xab);
    rt::release_block(p, bytes);
  }
}

TEST_F(StorageTest, FullWidthValuesReadBackExactly) {
  const std::vector<Word> wide = {rt::from_int(INT64_MAX),     rt::from_int(INT64_MIN),    rt::from_int(-3),
                                  rt::from_int(-2147483649LL), rt::from_int(2147483648LL), rt::from_int(4294967295LL),
                                  rt::from_float(-2.5),        rt::from_float(1.5),        rt::kTopString};
  auto& r = ints(2, {{1}});
  for (Word i = 0; i < kSomeRows; ++i) insert(r, {i, i % 7});
  EXPECT_EQ(matches(r, 0, {3}).size(), kSomeRows / 7) << "the index is built before the wide rows come";
  for (size_t i = 0; i < wide.size(); ++i) ASSERT_EQ(insert(r, {wide[i], wide[(i + 1) % wide.size()]}), Outcome::Added);
  for (size_t i = 0; i < wide.size(); ++i) {
    RowId id = static_cast<RowId>(kSomeRows + i);
    std::vector<Word> want = {wide[i], wide[(i + 1) % wide.size()]};
    EXPECT_EQ(row_of(r, id), want) << "row " << id;
    std::vector<Word> copy(2);
    r.read(id, copy.data());
    EXPECT_EQ(copy, want);
    EXPECT_TRUE(r.row_equals(id, want.data()));
    EXPECT_EQ(r.find_key(want.data()), id);
    EXPECT_EQ(matches(r, 0, {want[1]}), std::vector<RowId>{id});
  }
  EXPECT_EQ(row_of(r, 12345), (std::vector<Word>{12345, 12345 % 7})) << "earlier rows are unchanged";
  EXPECT_FALSE(r.row_equals(12345, std::vector<Word>{12345, 12345 % 7 + 1}.data()));
  Word small[] = {kSomeRows - 1, (kSomeRows - 1) % 7};
  EXPECT_EQ(r.find_key(small), kSomeRows - 1);
  EXPECT_EQ(matches(r, 0, {3}).size(), kSomeRows / 7);
}

// Cells start at 16 bits and widen to 32, then 64 bits, each time the first value that does not
// fit arrives (storage/relation.h): every row reads back exactly before and after, and the
// indexes and the key index keep working across the rewrites.
TEST_F(StorageTest, CellsWidenFrom16To32To64BitsAsValuesNeedIt) {
  auto& r = ints(2, {{1}});
  EXPECT_EQ(r.cell_bytes(), 2u) << "ints start in 16-bit cells";
  const std::vector<Word> edge16 = {rt::from_int(32767), rt::from_int(-32768), rt::from_int(-1), rt::from_int(0)};
  for (size_t i = 0; i < edge16.size(); ++i) ASSERT_EQ(insert(r, {edge16[i], rt::from_int(static_cast<int64_t>(i))}), Outcome::Added);
  for (Word i = 0; i < kSomeRows; ++i)
    insert(r, {rt::from_int(static_cast<int64_t>(i % 30000) + 1), rt::from_int(static_cast<int64_t>(i / 30000) + 10)});
  EXPECT_EQ(r.cell_bytes(), 2u) << "every value so far fits in int16";
  EXPECT_EQ(matches(r, 0, {rt::from_int(11)}).size(), 30000u) << "the index is built on 16-bit cells";
  // One value past int16 (both ways): 32-bit cells.
  ASSERT_EQ(insert(r, {rt::from_int(32768), rt::from_int(-32769)}), Outcome::Added);
  EXPECT_EQ(r.cell_bytes(), 4u);
  EXPECT_EQ(row_of(r, static_cast<RowId>(edge16.size() + kSomeRows)), (std::vector<Word>{rt::from_int(32768), rt::from_int(-32769)}));
  // One past int32: 64-bit cells.
  ASSERT_EQ(insert(r, {rt::from_int(INT64_MIN), rt::from_int(2147483648LL)}), Outcome::Added);
  EXPECT_EQ(r.cell_bytes(), 8u);
  EXPECT_FALSE(r.narrow());
  // Everything stored before each widening is still there, found by key and by index.
  for (size_t i = 0; i < edge16.size(); ++i) {
    std::vector<Word> want = {edge16[i], rt::from_int(static_cast<int64_t>(i))};
    EXPECT_EQ(row_of(r, static_cast<RowId>(i)), want) << "row " << i;
    EXPECT_EQ(r.find_key(want.data()), i);
    EXPECT_EQ(insert(r, want), Outcome::Duplicate);
  }
  for (Word i = 0; i < kSomeRows; i += 97) {
    std::vector<Word> want = {rt::from_int(static_cast<int64_t>(i % 30000) + 1), rt::from_int(static_cast<int64_t>(i / 30000) + 10)};
    ASSERT_EQ(row_of(r, static_cast<RowId>(edge16.size() + i)), want) << "row " << edge16.size() + i;
    ASSERT_EQ(r.find_key(want.data()), edge16.size() + i);
  }
  EXPECT_EQ(matches(r, 0, {rt::from_int(11)}).size(), 30000u);
  EXPECT_EQ(matches(r, 0, {rt::from_int(-32769)}).size(), 1u);
}

TEST_F(StorageTest, AValueBeyondInt32WidensSixteenBitCellsStraightTo64Bits) {
  auto& r = ints(1);
  for (Word i = 0; i < 1000; ++i) insert(r, {i});
  ASSERT_EQ(r.cell_bytes(), 2u);
  ASSERT_EQ(insert(r, {Word{1} << 40}), Outcome::Added);
  EXPECT_EQ(r.cell_bytes(), 8u) << "no stop at 32 bits on the way";
  Word big = Word{1} << 40, small = 999;
  EXPECT_EQ(r.find_key(&big), 1000u);
  EXPECT_EQ(r.find_key(&small), 999u);
}

TEST_F(StorageTest, FloatAndLatticeColumnsUseWholeWordsFromTheStart) {
  EXPECT_EQ(make(relation_decl("f", {{"x", kFloat}})).cell_bytes(), 8u);
  EXPECT_EQ(make(relation_decl("m", {{"k", kInt}, {"v", lmax(kInt)}})).cell_bytes(), 8u);
  EXPECT_EQ(make(relation_decl("s", {{"k", kString}, {"v", kInt}})).cell_bytes(), 2u);
}

// A relation of small values takes 2 bytes a cell: the row chunks of 140 K two-column rows are
// three 64 K-row chunks of 256 KiB, not 512 KiB (memory_bytes counts chunks and the key index).
TEST_F(StorageTest, SmallValuesTakeTwoBytesACell) {
  auto& r = ints(2);
  for (Word i = 0; i < kManyRows; ++i) insert(r, {i % 1000, i / 1000});
  ASSERT_EQ(r.cell_bytes(), 2u);
  auto& wide = ints(2);
  for (Word i = 0; i < kManyRows; ++i) insert(wide, {i % 1000 + 100000, i / 1000});
  ASSERT_EQ(wide.cell_bytes(), 4u);
  EXPECT_FALSE(wide.indexed_by_value()) << "its rows do not pack into 32 bits";
  r.need_row_ids();
  EXPECT_EQ(wide.memory_bytes() - r.memory_bytes(), (wide.end() + 65535) / 65536 * 65536 * 2 * 2)
      << "the same key index, rows half the size";
}

// A set of one or two narrow columns is indexed by value (storage/relation.h): 4 bytes a slot,
// and the same rows, duplicates and lookups as an index of row numbers. A row that does not
// pack, a lookup of a row number, or the one row whose hash is the table's empty marker do not
// change what the relation holds.
TEST_F(StorageTest, ASetOfNarrowRowsIsIndexedByValueInHalfTheBytes) {
  auto& by_value = ints(2);
  auto& by_row = ints(2);
  by_row.need_row_ids();
  for (Word i = 0; i < kManyRows; ++i) {
    by_value.insert(sparse_pair(i).data());
    by_row.insert(sparse_pair(i).data());
  }
  ASSERT_TRUE(by_value.indexed_by_value());
  ASSERT_FALSE(by_value.indexed_densely()) << "sparse rows stay in a hash table";
  const size_t rows_bytes = (kManyRows + 65535) / 65536 * 65536 * 2 * 2;
  EXPECT_EQ((by_row.memory_bytes() - rows_bytes), 2 * (by_value.memory_bytes() - rows_bytes)) << "4-byte slots, not 8";
  for (Word i = 0; i < kManyRows; i += 5) {
    EXPECT_EQ(by_value.insert(sparse_pair(i).data()).outcome, Outcome::Duplicate);
    EXPECT_TRUE(by_value.contains(sparse_pair(i).data()));
  }
  Word absent[] = {1000, 0}, wide[] = {1 << 20, 0};
  EXPECT_FALSE(by_value.contains(absent));
  EXPECT_FALSE(by_value.contains(wide)) << "a row that does not pack is not there, and changes nothing";
  EXPECT_TRUE(by_value.indexed_by_value());
  // kill takes a row out of the index by value.
  const std::vector<Word> third = sparse_pair(2);
  by_value.kill(2);
  EXPECT_FALSE(by_value.contains(third.data()));
  EXPECT_EQ(by_value.insert(third.data()).outcome, Outcome::Added) << "a killed row can come back, as a new row";
  // The row whose hash is the empty marker (murmur3's finalizer of 0x331da083 is 0xffffffff).
  Word top[] = {rt::from_int(-24445), 13085};
  EXPECT_EQ(by_value.key_hash(top), 0xffffffffu);
  EXPECT_FALSE(by_value.contains(top));
  EXPECT_EQ(insert(by_value, {rt::from_int(-24445), 13085}), Outcome::Added);
  EXPECT_TRUE(by_value.contains(top));
  EXPECT_EQ(insert(by_value, {rt::from_int(-24445), 13085}), Outcome::Duplicate);
  const RowId top_row = by_value.end() - 1;
  // find_key needs a row number: the index becomes one of row numbers, and finds every live row.
  EXPECT_EQ(by_value.find_key(top), top_row);
  EXPECT_FALSE(by_value.indexed_by_value());
  EXPECT_EQ(by_value.find_key(third.data()), top_row - 1);
  for (Word i = 3; i < kManyRows; i += 7) ASSERT_EQ(by_value.find_key(sparse_pair(i).data()), static_cast<RowId>(i));
  EXPECT_EQ(by_value.find_key(absent), kNoRow);
  EXPECT_EQ(by_value.live(), static_cast<size_t>(kManyRows) + 1);
}

// A row that does not pack (a value past int16 in a two-column set, past int32 in a one-column
// one) turns the index by value into one of row numbers before it is inserted, one by one or in
// a batch (InsertManyTest covers batches).
TEST_F(StorageTest, ARowThatDoesNotPackMakesTheIndexOneOfRowNumbers) {
  auto& two = ints(2);
  for (Word i = 0; i < 1000; ++i) insert(two, {i, rt::from_int(-static_cast<int64_t>(i))});
  ASSERT_TRUE(two.indexed_by_value());
  EXPECT_EQ(insert(two, {40000, 1}), Outcome::Added);
  EXPECT_FALSE(two.indexed_by_value());
  Word row[] = {999, rt::from_int(-999)}, wide[] = {40000, 1};
  EXPECT_EQ(two.find_key(row), 999u);
  EXPECT_EQ(two.find_key(wide), 1000u);
  auto& one = ints(1);
  for (Word i = 0; i < 1000; ++i) insert(one, {i * 1000});
  EXPECT_EQ(one.cell_bytes(), 4u);
  EXPECT_TRUE(one.indexed_by_value()) << "32-bit cells still pack in one column";
  EXPECT_EQ(insert(one, {Word{1} << 40}), Outcome::Added);
  EXPECT_FALSE(one.indexed_by_value());
  EXPECT_EQ(insert(one, {5000}), Outcome::Duplicate);
  // Rows that do not pack get the usual hash of their words, not a fold of the pack: these
  // pairs would share a hash if only the bits past the pack were folded in.
  Word a[] = {5, 1}, b[] = {5, 65536}, c[] = {0}, d[] = {(Word{1} << 32) + 1};
  EXPECT_NE(two.key_hash(a), two.key_hash(b));
  EXPECT_NE(one.key_hash(c), one.key_hash(d));
  auto& three = ints(3);
  insert(three, {1, 2, 3});
  EXPECT_FALSE(three.indexed_by_value()) << "three columns do not pack into 32 bits";
}

// The key table's capacities (storage/key_table.h, next_rung): doubling up to 512 K slots, then
// steps of 128 K up to 1 M (a table of 500 K keys is 78% full in 640 K slots, not 48% in 1 M),
// then a quarter, then an eighth from 4 M slots on.
TEST(KeyTableLadder, DoublesTo512KThenStepsBy128KTo1MThenGrowsByAQuarter) {
  using rt::KeyTable;
  std::vector<size_t> rungs = {16};
  while (rungs.back() < (size_t{6} << 20)) rungs.push_back(KeyTable::next_capacity(rungs.back()));
  auto at = [&](size_t cap) { return std::find(rungs.begin(), rungs.end(), cap) != rungs.end(); };
  for (size_t cap = 16; cap <= (size_t{1} << 19); cap *= 2) EXPECT_TRUE(at(cap)) << cap;
  EXPECT_EQ(KeyTable::next_capacity(size_t{1} << 18), size_t{1} << 19);
  EXPECT_EQ(KeyTable::next_capacity(size_t{512} << 10), size_t{640} << 10);
  EXPECT_EQ(KeyTable::next_capacity(size_t{640} << 10), size_t{768} << 10);
  EXPECT_EQ(KeyTable::next_capacity(size_t{896} << 10), size_t{1} << 20);
  EXPECT_EQ(KeyTable::next_capacity(size_t{1} << 20), size_t{1280} << 10) << "the rungs from 1 M on are unchanged";
  EXPECT_EQ(KeyTable::next_capacity(size_t{4} << 20), (size_t{4} << 20) + (size_t{512} << 10)) << "an eighth from 4 M slots";
  // A table of 500 K keys (one part of tc-chain4000's path) ends in 640 K slots, and finds them all.
  KeyTable t;
  const uint32_t n = 500000;
  for (uint32_t i = 0; i < n; ++i) {
    uint32_t h = static_cast<uint32_t>((uint64_t{i} * 0x9e3779b97f4a7c15ULL) >> 32);
    t.insert(h, i, [](uint32_t) { return false; });
  }
  EXPECT_EQ(t.size(), n);
  EXPECT_GE(t.capacity(), size_t{640} << 10);
  EXPECT_LT(t.capacity(), size_t{700} << 10) << "640 K home slots plus the overflow area";
  for (uint32_t i = 0; i < n; i += 101) {
    uint32_t h = static_cast<uint32_t>((uint64_t{i} * 0x9e3779b97f4a7c15ULL) >> 32);
    const KeyTable::Entry* e = t.find(h, [&](uint32_t row) { return row == i; });
    ASSERT_NE(e, nullptr) << i;
    EXPECT_EQ(KeyTable::row_of(*e), i);
  }
}

// KeyTable::drain (used when a key index splits into parts) gives every entry once, in hash
// order, and leaves the table empty and usable; the memory it has read goes back as it goes
// (discard_block_prefix): the unread rest of the block keeps its contents.
TEST(KeyTableGrowth, KeepsEveryEntryInHashOrderAndTakesALargerRungForALongLastRun) {
  using rt::KeyTable;
  // Growing past 2 MiB pages (the old table gives them back as it is read) with entries spread
  // over the hash space, then a crowd of entries at its very end, whose last run does not fit
  // the overflow area of the rung asked for: reserve must take a larger one, and every entry
  // must be found and come in hash order.
  KeyTable t;
  const uint32_t n = 700000;
  auto spread = [](uint32_t i) { return static_cast<uint32_t>((uint64_t{i} * 0x9e3779b97f4a7c15ULL) >> 32); };
  for (uint32_t i = 0; i < n; ++i) t.insert_new(spread(i), i);
  const uint32_t crowd = 20000;
  for (uint32_t i = 0; i < crowd; ++i) t.insert_new(0xffffff00u + (i & 0xff), n + i);
  t.reserve(t.size() + 1000);
  EXPECT_GE(t.capacity(), t.size());
  for (uint32_t i = 0; i < n; ++i) ASSERT_NE(t.find(spread(i), [&](uint32_t r) { return r == i; }), nullptr) << i;
  for (uint32_t i = 0; i < crowd; ++i) ASSERT_NE(t.find(0xffffff00u + (i & 0xff), [&](uint32_t r) { return r == n + i; }), nullptr) << i;
  uint32_t last = 0;
  bool ordered = true;
  size_t count = 0;
  t.for_each([&](KeyTable::Entry e) {
    ordered &= KeyTable::hash_of(e) >= last;
    last = KeyTable::hash_of(e);
    ++count;
  });
  EXPECT_TRUE(ordered);
  EXPECT_EQ(count, size_t{n} + crowd);
}

TEST(KeyTableDrain, GivesEveryEntryInHashOrderAndEmptiesTheTable) {
  using rt::KeyTable;
  KeyTable t;
  const uint32_t n = 1100000;  // a table of 1.3 M slots (10 MiB): several 2 MiB pages given back
  for (uint32_t i = 0; i < n; ++i) t.insert_new(static_cast<uint32_t>((uint64_t{i} * 0x9e3779b97f4a7c15ULL) >> 32), i);
  std::vector<bool> seen(n, false);
  uint64_t last = 0;
  size_t count = 0;
  bool ordered = true;
  t.drain([&](KeyTable::Entry e) {
    ordered &= e >= last;
    last = e;
    ASSERT_FALSE(seen[KeyTable::row_of(e)]) << KeyTable::row_of(e);
    seen[KeyTable::row_of(e)] = true;
    ASSERT_EQ(KeyTable::hash_of(e), static_cast<uint32_t>((uint64_t{KeyTable::row_of(e)} * 0x9e3779b97f4a7c15ULL) >> 32));
    ++count;
  });
  EXPECT_EQ(count, n);
  EXPECT_TRUE(ordered) << "entries come in hash order";
  EXPECT_EQ(t.size(), 0u);
  EXPECT_EQ(t.capacity(), 0u);
  EXPECT_EQ(t.find(5, [](uint32_t) { return true; }), nullptr);
  t.insert_new(5, 7);
  EXPECT_NE(t.find(5, [](uint32_t r) { return r == 7; }), nullptr) << "usable again after";
}

TEST(BlockMemory, DiscardingAPrefixKeepsTheRestOfTheBlock) {
  for (size_t bytes : {size_t{100} << 10, size_t{700} << 10, (size_t{8} << 20) + 4096}) {
    auto* p = static_cast<uint8_t*>(rt::allocate_block(bytes));
    std::memset(p, 0xab, bytes);
    rt::discard_block_prefix(p, bytes, bytes / 2);
    for (size_t i = bytes / 2; i < bytes; i += 4096) ASSERT_EQ(p[i], 0xab) << bytes << " at " << i;
    EXPECT_EQ(p[bytes - 1], 0xab);
    if (bytes < (size_t{256} << 10)) {
      EXPECT_EQ(p[0], 0xab) << "a malloc'd block is left alone";
    }
    if (bytes > (size_t{2} << 20)) {
      EXPECT_EQ(p[0], 0) << "the first 2 MiB page went back and reads as zeros";
    }
    rt::release_block(p, bytes);
  }
}

// insert_many must give what inserting the rows one by one gives: the same outcome for each row,
// the same rows named by duplicates and conflicts, and the same row numbers (new rows are
// appended in batch order even when the batch is probed in hash order).
class InsertManyTest : public StorageTest {
 protected:
  // A table kv(k, v) keyed on k: a repeated k with another v is a conflict.
  rt::Relation& keyed() { return make(relation_decl("kv", {{"k", kInt}, {"v", kInt}}, {0}, true)); }

  void insert_both(rt::Relation& many, rt::Relation& one_by_one, const std::vector<Word>& batch) {
    const size_t n = batch.size() / 2;
    std::vector<uint32_t> hashes(n);
    for (size_t i = 0; i < n; ++i) hashes[i] = many.key_hash(batch.data() + 2 * i);
    size_t i = 0;
    many.insert_many(batch.data(), hashes.data(), n, scratch, [&](const Word* row, rt::Relation::InsertResult got) {
      ASSERT_EQ(row, batch.data() + 2 * i) << "results come in batch order";
      auto want = one_by_one.insert(row);
      ASSERT_EQ(got.outcome, want.outcome) << "row " << i << " (" << row[0] << ", " << row[1] << ")";
      ASSERT_EQ(got.row, want.row) << "row " << i;
      ++i;
    });
    ASSERT_EQ(i, n) << "done is called once per row";
    ASSERT_EQ(many.end(), one_by_one.end());
    ASSERT_EQ(many.live(), one_by_one.live());
    for (RowId r = 0; r < many.end(); ++r) ASSERT_EQ(row_of(many, r), row_of(one_by_one, r)) << "row number " << r;
    ASSERT_EQ(many.indexed_by_value(), one_by_one.indexed_by_value());
    for (size_t j = 0; j < n; ++j) {
      const Word* row = batch.data() + 2 * j;
      if (many.indexed_by_value()) {  // keep both indexed by value: find_key would change that
        ASSERT_TRUE(many.contains(row));
      } else {
        ASSERT_NE(many.find_key(row), kNoRow);
        ASSERT_EQ(many.find_key(row), one_by_one.find_key(row));
      }
    }
  }

  // Stages `batch` (two-column rows) in pieces of up to 256 rows, as the engine does, then
  // inserts the pending rows together: each row must get what inserting it one by one gives.
  void stage_both(rt::Relation& many, rt::Relation& one_by_one, const std::vector<Word>& batch, rt::Relation::Pending& pending) {
    const size_t n = batch.size() / 2;
    for (size_t g = 0; g < n; g += 256) {
      const size_t m = std::min<size_t>(256, n - g);
      std::vector<uint32_t> hashes(m);
      for (size_t i = 0; i < m; ++i) hashes[i] = many.key_hash(batch.data() + 2 * (g + i));
      many.stage(pending, batch.data() + 2 * g, hashes.data(), m);
    }
    ASSERT_EQ(pending.size(), n);
    ASSERT_EQ(many.end(), one_by_one.end()) << "staged rows are not in the relation yet";
    size_t i = 0;
    many.insert_pending(pending, [&](rt::Relation::InsertResult got, const Word* row) {
      const Word* staged = batch.data() + 2 * i;  // results come in the order the rows were staged
      auto want = one_by_one.insert(staged);
      if (got.outcome == Outcome::Conflict) {
        ASSERT_NE(row, nullptr) << "a conflict comes with its row, to report it";
        ASSERT_EQ(row[0], staged[0]);
        ASSERT_EQ(row[1], staged[1]);
      } else {
        ASSERT_EQ(row, nullptr);
      }
      ASSERT_EQ(got.outcome, want.outcome) << "row " << i << " (" << row[0] << ", " << row[1] << ")";
      ASSERT_EQ(got.row, want.row) << "row " << i;
      ++i;
    });
    ASSERT_EQ(i, n) << "done is called once per row";
    ASSERT_TRUE(pending.empty());
    ASSERT_EQ(many.end(), one_by_one.end());
    ASSERT_EQ(many.live(), one_by_one.live());
    for (RowId r = 0; r < many.end(); ++r) ASSERT_EQ(row_of(many, r), row_of(one_by_one, r)) << "row number " << r;
  }

  rt::Relation::BatchScratch scratch;
};

TEST_F(InsertManyTest, PendingRowsInsertedTogetherEqualOneByOne) {
  auto& many = keyed();
  auto& one = keyed();
  std::vector<Word> rows;
  for (Word k = 0; k < kSplitRows; ++k) rows.insert(rows.end(), {2 * k, k});
  insert_both(many, one, rows);
  const size_t batch = many.batch_rows();
  ASSERT_GT(batch, 0u) << "a key index of a million keys is big: rows wait to be inserted together";
  ASSERT_LE(batch, size_t{1} << 18);
  // A whole batch (probed in hash order), then a short one (probed as it comes): new keys,
  // duplicates of stored rows and of staged ones, conflicts with both.
  for (size_t want : {batch, size_t{1000}}) {
    rt::Relation::Pending pending;
    std::vector<Word> staged;
    for (Word k = 0; staged.size() < 2 * want; ++k) {
      const Word key = 2 * kSplitRows + 4 * k + want;  // new
      staged.insert(staged.end(), {key, 1});
      if (k % 5 == 0) staged.insert(staged.end(), {key, 1});         // a duplicate of a staged row
      if (k % 7 == 0) staged.insert(staged.end(), {key, 2});         // a conflict with a staged row
      if (k % 11 == 0) staged.insert(staged.end(), {2 * k, k});      // a duplicate of a stored row
      if (k % 13 == 0) staged.insert(staged.end(), {2 * k, k + 1});  // a conflict with a stored row
    }
    staged.resize(2 * want);
    stage_both(many, one, staged, pending);
    for (size_t j = 0; j < want; ++j) ASSERT_NE(many.find_key(staged.data() + 2 * j), kNoRow);
  }
}

TEST_F(InsertManyTest, PendingRowsInNarrowCellsWidenAsTheirValuesNeed) {
  // Pending rows start in the relation's 16-bit cells; a staged value from 32 K on widens them
  // to 32 bits, one beyond int32 to 64, and the relation widens when they are inserted.
  auto& many = keyed();
  auto& one = keyed();
  std::vector<Word> rows;
  for (Word k = 0; k < kSplitRows; ++k) rows.insert(rows.end(), {k % 20000, k / 20000});
  insert_both(many, one, rows);  // keys repeat: duplicates and conflicts, all in 16 bits
  ASSERT_EQ(many.cell_bytes(), 2u);
  ASSERT_GT(many.batch_rows(), 0u);
  rt::Relation::Pending pending;
  std::vector<Word> staged;
  for (Word k = 0; k < 3000; ++k) staged.insert(staged.end(), {k, k % 3});                              // duplicates, conflicts
  staged.insert(staged.end(), {5, 40000});                                                              // a conflict, in 32 bits
  for (Word k = 23000; k < 26000; ++k) staged.insert(staged.end(), {k, k == 24000 ? Word{40000} : 0});  // new keys
  std::vector<uint32_t> hashes(staged.size() / 2);
  for (size_t i = 0; i < hashes.size(); ++i) hashes[i] = many.key_hash(staged.data() + 2 * i);
  many.stage(pending, staged.data(), hashes.data(), 3000);
  EXPECT_EQ(pending.cell_bytes(), 2u) << "the relation's width";
  many.stage(pending, staged.data() + 2 * 3000, hashes.data() + 3000, hashes.size() - 3000);
  EXPECT_EQ(pending.cell_bytes(), 4u) << "40000 needs 32 bits";
  pending.clear();
  stage_both(many, one, staged, pending);
  EXPECT_EQ(many.cell_bytes(), 4u);
  staged.clear();
  for (Word k = 26000; k < 29000; ++k) staged.insert(staged.end(), {k, k == 28000 ? Word{1} << 40 : static_cast<Word>(int64_t{-7})});
  stage_both(many, one, staged, pending);
  EXPECT_EQ(many.cell_bytes(), 8u);
  Word wide[] = {28000, Word{1} << 40};
  EXPECT_EQ(many.find_key(wide), one.find_key(wide));
}

TEST_F(InsertManyTest, PendingRowsCostTheirCellsAndAKeyAndOnlyWhileBatchesPay) {
  auto& small = keyed();
  Word row[] = {1, 1};
  small.insert(row);
  EXPECT_EQ(small.batch_rows(), 0u) << "a small key index takes rows as they come";

  auto& big = ints(2);
  std::vector<Word> rows;
  for (Word k = 0; k < kSplitRows; ++k) rows.insert(rows.end(), {k % 20000, k / 20000});  // 16-bit cells
  std::vector<uint32_t> hashes(kSplitRows);
  for (size_t i = 0; i < kSplitRows; ++i) hashes[i] = big.key_hash(rows.data() + 2 * i);
  big.insert_many(rows.data(), hashes.data(), kSplitRows, scratch, [](const Word*, rt::Relation::InsertResult) {});
  const size_t batch = big.batch_rows();
  ASSERT_GT(batch, 0u);
  rt::Relation::Pending pending;
  std::vector<Word> more;
  for (Word k = 0; k < static_cast<Word>(batch); ++k) more.insert(more.end(), {k % 20000, 100});
  for (size_t i = 0; i < batch; i += 256) {
    const size_t m = std::min<size_t>(256, batch - i);
    big.stage(pending, more.data() + 2 * i, hashes.data(), m);  // the hashes of other rows: only the memory is measured
    if (i == 0) {
      EXPECT_LE(pending.memory_bytes(), batch * 12 + 2 * 4096) << "the first rows map room for the whole batch, no more";
    }
  }
  EXPECT_EQ(pending.size(), batch);
  EXPECT_EQ(pending.cell_bytes(), 2u);
  EXPECT_LE(pending.memory_bytes(), batch * 12 + 2 * 4096) << "two 16-bit cells and a key a row; no growth while staging a batch";
  pending.clear();
  EXPECT_TRUE(pending.empty());

  // A lattice relation's batches are never sorted, so its rows are never held back.
  auto& lat_rel = make(relation_decl("m", {{"k", kInt}, {"v", lmax(kInt)}}, {0}, true));
  for (Word k = 0; k < kSplitRows; ++k) {
    Word r[] = {k, 1};
    lat_rel.insert(r);
  }
  EXPECT_TRUE(lat_rel.key_index_is_big());
  EXPECT_EQ(lat_rel.batch_rows(), 0u);
}

TEST(PageBuffer, GrowsKeepingItsContentsAndMapsExactly) {
  rt::PageBuffer<uint64_t> b;
  EXPECT_TRUE(b.empty());
  b.reserve(1000);
  EXPECT_EQ(b.capacity(), 1000u);
  for (uint64_t i = 0; i < 1000; ++i) *b.grow_by(1) = i;
  EXPECT_EQ(b.capacity(), 1000u) << "no growth within what was reserved";
  uint64_t* more = b.grow_by(5000);
  for (uint64_t i = 0; i < 5000; ++i) more[i] = 1000 + i;
  EXPECT_EQ(b.size(), 6000u);
  for (uint64_t i = 0; i < 6000; ++i) ASSERT_EQ(b[i], i);
  rt::PageBuffer<uint64_t> moved(std::move(b));
  EXPECT_EQ(moved.size(), 6000u);
  EXPECT_EQ(moved[5999], 5999u);
  moved.clear();
  EXPECT_TRUE(moved.empty());
  EXPECT_GE(moved.capacity(), 6000u) << "clear keeps the memory for the next batch";
}

TEST_F(InsertManyTest, ABatchInHashOrderEqualsOneByOne) {
  auto& many = keyed();
  auto& one = keyed();
  // Stored before: k = 0, 3, 6, ... with v = k.
  std::vector<Word> first;
  for (Word k = 0; k < 3000; k += 3) first.insert(first.end(), {k, k});
  insert_both(many, one, first);
  // New keys, duplicates of stored rows and of rows earlier in the batch, conflicts with both.
  std::vector<Word> batch;
  for (Word k = 0; k < 6000; ++k) {
    batch.insert(batch.end(), {k, k});                      // new, or a duplicate of a stored row
    if (k % 5 == 0) batch.insert(batch.end(), {k, k});      // a duplicate within the batch
    if (k % 7 == 0) batch.insert(batch.end(), {k, k + 1});  // a conflict
  }
  insert_both(many, one, batch);
}

TEST_F(InsertManyTest, ABatchThatCrossesTheSplitEqualsOneByOne) {
  auto& many = ints(2);
  auto& one = ints(2);
  std::vector<Word> batch;
  for (Word i = 0; i < kSplitRows + kSomeRows; ++i) {
    const std::vector<Word> row = sparse_pair(i);
    batch.insert(batch.end(), row.begin(), row.end());
  }
  for (Word i = 0; i < 5000; ++i) {  // duplicates
    const std::vector<Word> row = sparse_pair(7 * i);
    batch.insert(batch.end(), row.begin(), row.end());
  }
  insert_both(many, one, batch);
  EXPECT_FALSE(many.indexed_densely());
}

// Batches of dense rows: the index by value becomes a DenseSet between two of them (and one by
// one, between two rows), and then takes rows as they come, never sorted. Both ways round: rows
// sharing their second column share leaves, or (swapped) rows sharing their first, whose keys
// the set rotates.
TEST_F(InsertManyTest, BatchesThatMakeTheIndexDenseEqualOneByOne) {
  for (bool swapped : {false, true}) {
    SCOPED_TRACE(swapped ? "swapped" : "as they are");
    auto row = [&](Word i) { return swapped ? std::vector<Word>{i / 1013, i % 1013} : std::vector<Word>{i % 1013, i / 1013}; };
    auto& many = ints(2);
    auto& one = ints(2);
    for (Word start = 0; start < 3 * kSomeRows; start += kSomeRows / 2) {
      std::vector<Word> batch;
      for (Word i = start; i < start + kSomeRows / 2; ++i) {
        for (Word w : row(i)) batch.push_back(w);
        if (i % 9 == 0)
          for (Word w : row(i / 2)) batch.push_back(w);  // a duplicate
      }
      insert_both(many, one, batch);
    }
    EXPECT_TRUE(many.indexed_densely());
    EXPECT_TRUE(one.indexed_densely());
    EXPECT_EQ(many.batch_rows(), 0u) << "a dense index takes rows as they come";
    // Batches of an engine step (up to 256 rows) go in at once, then against the bitmap
    // (Relation::insert_dense): new rows, duplicates of stored rows and of rows earlier in the
    // batch, a row that does not pack.
    for (Word start = 3 * kSomeRows; start < 3 * kSomeRows + 2000; start += 200) {
      std::vector<Word> batch;
      for (Word i = start; i < start + 100; ++i) {
        for (Word w : row(i)) batch.push_back(w);
        for (Word w : row(i - 50000)) batch.push_back(w);  // stored
        if (i % 3 == 0)
          for (Word w : row(i)) batch.push_back(w);  // in this batch
      }
      insert_both(many, one, batch);
      ASSERT_TRUE(many.indexed_densely());
    }
    insert_both(many, one, {5, 70000, 5, 1});  // does not pack: an index of row numbers after
    EXPECT_FALSE(many.indexed_by_value());
  }
}

TEST_F(InsertManyTest, ASmallBatchIntoABigIndexEqualsOneByOne) {
  auto& many = keyed();
  auto& one = keyed();
  std::vector<Word> rows;
  for (Word k = 0; k < kSplitRows; ++k) rows.insert(rows.end(), {k, 2 * k});
  insert_both(many, one, rows);
  ASSERT_TRUE(many.key_index_is_big());
  std::vector<Word> batch = {5, 10, 5, 11, kSplitRows + 1, 0, kSplitRows + 1, 0, 7, 14};
  insert_both(many, one, batch);  // a duplicate, a conflict, a new key twice, a duplicate
}

TEST_F(InsertManyTest, ABatchThatWidensTheRelationEqualsOneByOne) {
  // The batch is appended chunk by chunk in 32-bit cells until a value needs 64 bits, past the
  // first chunk: the rest is appended row by row after the relation widens.
  auto& many = ints(2);
  auto& one = ints(2);
  std::vector<Word> batch;
  for (Word i = 0; i < 100000; ++i) batch.insert(batch.end(), {i, i == 70000 ? Word{1} << 40 : i % 3});
  for (Word i = 0; i < 1000; ++i) batch.insert(batch.end(), {i, i % 3});  // duplicates
  insert_both(many, one, batch);
  EXPECT_FALSE(many.narrow());
  Word wide[] = {70000, Word{1} << 40};
  EXPECT_EQ(many.find_key(wide), 70000u);
}

TEST_F(InsertManyTest, ABatchThatWidensFrom16To32BitsPastTheFirstChunkEqualsOneByOne) {
  auto& many = ints(2);
  auto& one = ints(2);
  std::vector<Word> batch;
  for (Word i = 0; i < 100000; ++i) batch.insert(batch.end(), {i % 30000, i == 80000 ? Word{40000} : i / 30000});
  for (Word i = 0; i < 1000; ++i) batch.insert(batch.end(), {i, 0});  // duplicates
  insert_both(many, one, batch);
  EXPECT_EQ(many.cell_bytes(), 4u);
  Word w[] = {80000 % 30000, 40000};
  EXPECT_EQ(many.find_key(w), 80000u);
}

TEST_F(InsertManyTest, ABatchWhoseRunOverflowsTheTableEqualsOneByOne) {
  // Keys whose hashes all fall in the last 1/4096 of the hash space share one home slot at the
  // end of the table: their run outgrows the overflow area, the table grows in the middle of
  // the batch, and the entries must be found again after the move.
  auto& many = ints(2);
  auto& one = ints(2);
  std::vector<Word> batch;
  for (Word i = 0; batch.size() < 2 * 2000; ++i) {
    Word row[] = {i, 7};
    if (many.key_hash(row) >= 0xfff00000u) batch.insert(batch.end(), {i, 7});
  }
  batch.insert(batch.end(), batch.begin(), batch.begin() + 200);  // and some duplicates
  insert_both(many, one, batch);
}

// A relation emptied and filled again every tick (a channel: Node::setup_tick inserts each tick's
// arrived rows as one batch): the batch into the cleared relation gives the same rows,
// duplicates, conflicts and row numbers as one by one into a fresh one, and nothing of the
// previous tick is found.
TEST_F(InsertManyTest, ABatchIntoAClearedRelationEqualsOneByOneIntoAFreshOne) {
  auto& reused = keyed();
  std::vector<Word> tick1;
  for (Word k = 0; k < 60000; ++k) tick1.insert(tick1.end(), {k, k});  // one chunk of rows
  {
    auto& one = keyed();
    insert_both(reused, one, tick1);
  }
  reused.clear();
  EXPECT_EQ(reused.live(), 0u);
  for (Word k = 0; k < 60000; k += 101) EXPECT_EQ(reused.find_key(&k), kNoRow) << "cleared: " << k;
  // The next tick: keys shifted by half, duplicates within the batch and conflicts.
  std::vector<Word> tick2;
  for (Word k = 30000; k < 90000; ++k) {
    tick2.insert(tick2.end(), {k, k});
    if (k % 5 == 0) tick2.insert(tick2.end(), {k, k});      // a duplicate within the batch
    if (k % 7 == 0) tick2.insert(tick2.end(), {k, k + 1});  // a conflict with an earlier row of it
  }
  auto& fresh = keyed();
  insert_both(reused, fresh, tick2);
  EXPECT_EQ(reused.live(), 60000u);
  Word gone = 100;
  EXPECT_EQ(reused.find_key(&gone), kNoRow) << "a key of the previous tick only";
  // A tick far smaller than the one before.
  reused.clear();
  std::vector<Word> tick3 = {1, 1, 2, 2, 1, 1, 1, 3};
  auto& fresh3 = keyed();
  insert_both(reused, fresh3, tick3);
  EXPECT_EQ(reused.live(), 2u);
}

// unmix32 undoes mix32, so a row's key in a DenseSet can be found from its hash.
TEST(Mix32, UnmixUndoesMix) {
  for (uint32_t h : {0u, 1u, 0xffffffffu, 0x80000000u, 0x331da083u, 12345u}) {
    EXPECT_EQ(rt::unmix32(rt::mix32(h)), h);
    EXPECT_EQ(rt::mix32(rt::unmix32(h)), h);
  }
  uint32_t x = 7;
  for (int i = 0; i < 100000; ++i, x = x * 1664525u + 1013904223u) ASSERT_EQ(rt::unmix32(rt::mix32(x)), x) << x;
}

TEST(DenseSet, HoldsKeysInLeavesMadeAsNeeded) {
  rt::DenseSet set;
  EXPECT_FALSE(set.contains(0));
  EXPECT_FALSE(set.erase(0));
  const std::vector<uint32_t> keys = {0, 1, 63, 64, 4095, 4096, 1u << 22, (1u << 22) + 5, 0x7fffffff, 0xfffffffe, 0xffffffff};
  for (uint32_t k : keys) EXPECT_TRUE(set.insert(k)) << k;
  for (uint32_t k : keys) EXPECT_FALSE(set.insert(k)) << k;
  EXPECT_EQ(set.size(), keys.size());
  // Leaves of 4,096 keys: {0..4095}, {4096}, {1 << 22, +5}, {0x7fffffff}, {0xfffffffe, 0xffffffff}.
  EXPECT_EQ(set.leaves(), 5u);
  for (uint32_t k : keys) EXPECT_TRUE(set.contains(k)) << k;
  for (uint32_t k : {2u, 4097u, 8192u, (1u << 22) + 4u, 0xfffffffdu}) EXPECT_FALSE(set.contains(k)) << k;
  std::vector<uint32_t> seen;
  set.for_each([&](uint32_t k) { seen.push_back(k); });
  EXPECT_EQ(seen, keys) << "in ascending order";
  EXPECT_TRUE(set.erase(64));
  EXPECT_FALSE(set.erase(64));
  EXPECT_FALSE(set.contains(64));
  EXPECT_TRUE(set.contains(63));
  EXPECT_EQ(set.size(), keys.size() - 1);
  EXPECT_EQ(set.leaves(), 5u) << "a leaf stays when its last key goes";
}

TEST(DenseSet, AMillionDenseKeysTakeAFewBitsEach) {
  rt::DenseSet set;
  for (uint32_t k = 0; k < (1u << 20); ++k) ASSERT_TRUE(set.insert(k * 3));
  EXPECT_EQ(set.size(), size_t{1} << 20);
  EXPECT_EQ(set.leaves(), 768u);  // 3 M keys' range, 4,096 a leaf
  EXPECT_LT(set.memory_bytes(), size_t{1} << 19) << "under 4 bits a key";
  EXPECT_EQ(set.memory_bytes(), rt::DenseSet::bytes_for(768, 768 / 64)) << "a directory page per 64 leaves";
  for (uint32_t k = 0; k < 3 * (1u << 20); ++k) ASSERT_EQ(set.contains(k), k % 3 == 0) << k;
}

// A set of rows dense enough (many rows to each leaf of 4,096 values) keeps its index by value
// as a DenseSet: a fraction of the hash table's memory, the same answers.
TEST_F(StorageTest, DenseRowsAreIndexedByABitmap) {
  auto& dense = ints(2);
  auto& table = ints(2);
  for (Word i = 0; i < kManyRows; ++i) {
    ASSERT_EQ(dense.insert(dense_pair(i).data()).outcome, Outcome::Added);
    ASSERT_EQ(table.insert(sparse_pair(i).data()).outcome, Outcome::Added);
  }
  ASSERT_TRUE(dense.indexed_densely());
  ASSERT_FALSE(table.indexed_densely());
  const size_t rows_bytes = (kManyRows + 65535) / 65536 * 65536 * 2 * 2;
  EXPECT_LT(4 * (dense.memory_bytes() - rows_bytes), table.memory_bytes() - rows_bytes);
  for (Word i = 0; i < kManyRows; i += 3) {
    ASSERT_TRUE(dense.contains(dense_pair(i).data())) << i;
    ASSERT_EQ(dense.insert(dense_pair(i).data()).outcome, Outcome::Duplicate) << i;
  }
  Word absent[] = {1000, 0}, wide[] = {1 << 20, 0}, negative[] = {rt::from_int(-1), 5};
  EXPECT_FALSE(dense.contains(absent));
  EXPECT_FALSE(dense.contains(wide));
  EXPECT_FALSE(dense.contains(negative));
  EXPECT_EQ(insert(dense, {rt::from_int(-1), 5}), Outcome::Added) << "negative values pack too";
  EXPECT_TRUE(dense.contains(negative));
  // The row whose hash is the hash table's empty marker is an ordinary key here.
  Word top[] = {rt::from_int(-24445), 13085};
  EXPECT_EQ(insert(dense, {rt::from_int(-24445), 13085}), Outcome::Added);
  EXPECT_TRUE(dense.contains(top));
  // kill takes a row out; it can come back as a new row.
  const std::vector<Word> third = dense_pair(2);
  dense.kill(2);
  EXPECT_FALSE(dense.contains(third.data()));
  EXPECT_EQ(dense.insert(third.data()).outcome, Outcome::Added);
  EXPECT_TRUE(dense.indexed_densely());
  // find_key needs row numbers: the index becomes one of them.
  EXPECT_EQ(dense.find_key(top), dense.end() - 2);
  EXPECT_FALSE(dense.indexed_by_value());
  for (Word i = 3; i < kManyRows; i += 7) ASSERT_EQ(dense.find_key(dense_pair(i).data()), static_cast<RowId>(i));
  EXPECT_EQ(dense.find_key(third.data()), dense.end() - 1);
}

// Rows that share their first column (reach(s, y) from a hundred sources s) share leaves only
// when the packed row is rotated: the DenseSet is made that way round.
TEST_F(StorageTest, ADenseIndexTakesTheWayRoundWithFewerLeaves) {
  auto& reach = ints(2);
  for (Word s = 0; s < 100; ++s)
    for (Word y = 0; y < 2000; ++y) ASSERT_EQ(insert(reach, {s * 100, y}), Outcome::Added);
  ASSERT_TRUE(reach.indexed_densely());
  // 100 sources x 2,000 targets: a leaf per source (rotated, 50 KiB), not three per target
  // (3 MiB). The rows take 4 chunks of 64 K rows of two 16-bit cells.
  const size_t rows_bytes = 4 * 65536 * 2 * 2;
  EXPECT_LT(reach.memory_bytes(), rows_bytes + 256 * 1024);
  for (Word s = 0; s < 100; ++s) {
    Word in[] = {s * 100, 1999}, out[] = {s * 100 + 1, 0};
    ASSERT_TRUE(reach.contains(in));
    ASSERT_FALSE(reach.contains(out));
  }
}

// A dense index that then takes sparse rows becomes a hash table again, with every row in it.
TEST_F(StorageTest, ADenseIndexGoingSparseBecomesAHashTableAgain) {
  auto& r = ints(2);
  for (Word i = 0; i < kSomeRows * 2; ++i) ASSERT_EQ(r.insert(dense_pair(i).data()).outcome, Outcome::Added);
  ASSERT_TRUE(r.indexed_densely());
  // A sparse pair may be one of the dense ones: (x, y) with x < 1000 and 1000 y + x < 140,000.
  auto stored = [](const std::vector<Word>& p) { return p[0] < 1000 && p[1] < 140 && p[1] * 1000 + p[0] < kSomeRows * 2; };
  size_t added = 0;
  for (Word i = 0; i < kSplitRows; ++i) {
    const std::vector<Word> p = sparse_pair(i);
    ASSERT_EQ(r.insert(p.data()).outcome, stored(p) ? Outcome::Duplicate : Outcome::Added) << i;
    added += !stored(p);
  }
  EXPECT_FALSE(r.indexed_densely());
  EXPECT_TRUE(r.indexed_by_value());
  for (Word i = 0; i < kSomeRows * 2; i += 5) ASSERT_TRUE(r.contains(dense_pair(i).data())) << i;
  for (Word i = 0; i < kSplitRows; i += 5) ASSERT_TRUE(r.contains(sparse_pair(i).data())) << i;
  EXPECT_EQ(r.live(), kSomeRows * 2 + added);
}

// A split fills its parts in hash order with append_in_order (no probing). When a run of
// entries would pass the end of the table (hashes crowded at the top), the rest go in the usual
// way, the table growing: every entry is still found.
TEST(KeyTable, AppendInOrderFallsBackToInsertPastTheEnd) {
  rt::ValueTable values;
  rt::KeyTable rows;
  values.reserve(1000);
  rows.reserve(1000);
  const size_t slots = values.capacity();
  size_t value_cursor = 0, row_cursor = 0;
  for (uint32_t i = 0; i < 1000; ++i) {  // ascending hashes, all with a home slot near the end
    const uint32_t h = 0xfffff000u + i;
    values.append_in_order(rt::ValueTable::entry(0, h), value_cursor);
    rows.append_in_order(rt::KeyTable::entry(i, h), row_cursor);
  }
  EXPECT_EQ(value_cursor, rt::ValueTable::kNoCursor) << "the run passed the end";
  EXPECT_EQ(row_cursor, rt::KeyTable::kNoCursor);
  EXPECT_GT(values.capacity(), slots) << "the table grew";
  EXPECT_EQ(values.size(), 1000u);
  EXPECT_EQ(rows.size(), 1000u);
  for (uint32_t i = 0; i < 1000; ++i) {
    const uint32_t h = 0xfffff000u + i;
    ASSERT_NE(values.find(h, [](uint32_t) { return true; }), nullptr) << i;
    const auto* e = rows.find(h, [&](uint32_t r) { return r == i; });
    ASSERT_NE(e, nullptr) << i;
  }
  // Spread hashes fill a reserved table in order, with no growth.
  rt::ValueTable spread;
  spread.reserve(1000);
  const size_t before = spread.capacity();
  size_t cursor = 0;
  for (uint32_t i = 0; i < 1000; ++i) spread.append_in_order(rt::ValueTable::entry(0, i * 4000000u), cursor);
  EXPECT_NE(cursor, rt::ValueTable::kNoCursor);
  EXPECT_EQ(spread.capacity(), before);
  for (uint32_t i = 0; i < 1000; ++i) ASSERT_NE(spread.find(i * 4000000u, [](uint32_t) { return true; }), nullptr) << i;
}

}  // namespace
}  // namespace bloom::test
