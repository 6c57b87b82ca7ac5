// Lattice values (runtime/core/lattice.h): the merge laws on random values, lifting, the set and
// map operations against std::set / std::map, and interning (equal values are equal words).
#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "core/lattice.h"
#include "rt_test_util.h"

namespace bloom::test {
namespace {

using rt::Word;

class LatticeTest : public testing::Test {
 protected:
  rt::SymbolTable symbols;
  rt::Lattices lat{symbols};
  uint64_t seed = test_seed();
  std::mt19937_64 rng{seed};

  size_t below(size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng); }
  bool one_in(size_t n) { return below(n) == 0; }

  // A random plain value of type `t`, from a small domain so that random values often collide.
  Word plain(const ValueType& t) {
    switch (t.kind) {
      case TypeKind::Int: {
        static const int64_t edges[] = {std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max(), -1, 0};
        if (one_in(8)) return rt::from_int(edges[below(4)]);
        return rt::from_int(static_cast<int64_t>(below(41)) - 20);
      }
      case TypeKind::Float: {
        if (one_in(10)) return rt::from_float(one_in(2) ? INFINITY : -INFINITY);
        return rt::from_float((static_cast<double>(below(81)) - 40) / 4);
      }
      case TypeKind::Bool: return below(2);
      default: {  // strings: "", "a", "b", "ab", "ba", ... up to three letters
        std::string s;
        for (size_t n = below(4); n > 0; --n) s += "ab"[below(2)];
        return symbols.intern(s);
      }
    }
  }

  // A random value of lattice `t` (bottom included now and then).
  Word value(const ValueType& t) {
    switch (t.kind) {
      case TypeKind::LMax:
      case TypeKind::LMin: return one_in(10) ? lat.bottom(t) : lat.lift(t, plain(t.args[0]));
      case TypeKind::LBool: return below(2);
      case TypeKind::LSet: {
        std::vector<Word> e;
        for (size_t n = below(5); n > 0; --n) e.push_back(plain(t.args[0]));
        return lat.set_of(e);
      }
      case TypeKind::LMap: {
        std::vector<std::pair<Word, Word>> e;
        for (size_t n = below(4); n > 0; --n) e.emplace_back(plain(t.args[0]), value(t.args[1]));
        return lat.map_of(t.args[1], e);
      }
      default: return plain(t);
    }
  }

  // A readable rendering for failure messages.
  std::string show(const ValueType& t, Word w) {
    switch (t.kind) {
      case TypeKind::Int: return std::to_string(rt::as_int(w));
      case TypeKind::Float: return std::to_string(rt::as_float(w));
      case TypeKind::Bool:
      case TypeKind::LBool: return w ? "true" : "false";
      case TypeKind::String: return w == rt::kTopString ? "<top>" : '"' + symbols.str(w) + '"';
      case TypeKind::LMax:
      case TypeKind::LMin: return show(t.args[0], w);
      case TypeKind::LSet: {
        std::string s = "{";
        for (Word e : lat.set_elements(w)) s += show(t.args[0], e) + " ";
        return s + "}";
      }
      case TypeKind::LMap: {
        std::string s = "{";
        for (auto [k, v] : lat.map_entries(w)) s += show(t.args[0], k) + ": " + show(t.args[1], v) + " ";
        return s + "}";
      }
      default: return std::to_string(w);
    }
  }

  std::set<Word> elements(Word set) {
    auto e = lat.set_elements(set);
    return {e.begin(), e.end()};
  }

  // Checks that `m` is the least upper bound of `a` and `b` by the lattice's own definition
  // (max, min, or, union, key-wise merge), independently of how merge() computes it.
  void expect_join(const ValueType& t, Word a, Word b, Word m) {
    SCOPED_TRACE(show(t, a) + " merge " + show(t, b) + " = " + show(t, m));
    switch (t.kind) {
      case TypeKind::LMax:
      case TypeKind::LMin: {
        EXPECT_TRUE(m == a || m == b);
        int sign = t.kind == TypeKind::LMax ? 1 : -1;
        EXPECT_GE(sign * lat.compare(t.args[0], m, a), 0);
        EXPECT_GE(sign * lat.compare(t.args[0], m, b), 0);
        break;
      }
      case TypeKind::LBool: EXPECT_EQ(m, a | b); break;
      case TypeKind::LSet: {
        std::set<Word> u = elements(a);
        u.merge(elements(b));
        EXPECT_EQ(elements(m), u);
        break;
      }
      case TypeKind::LMap: {
        std::set<Word> keys = elements(lat.map_keys(a));
        keys.merge(elements(lat.map_keys(b)));
        EXPECT_EQ(elements(lat.map_keys(m)), keys);
        for (Word k : keys) EXPECT_EQ(lat.map_at(t, m, k), lat.merge(t.args[1], lat.map_at(t, a, k), lat.map_at(t, b, k)));
        break;
      }
      default: FAIL() << "not a lattice: " << t.str();
    }
  }
};

// ------------------------------------------------------------------ merge laws, per lattice

struct LatticeCase {
  const char* name;
  ValueType type;
};

void PrintTo(const LatticeCase& c, std::ostream* os) { *os << c.type.str(); }

class LatticeLaws : public LatticeTest, public testing::WithParamInterface<LatticeCase> {};

TEST_P(LatticeLaws, MergeIsAssociativeCommutativeIdempotentWithBottomAsIdentity) {
  SCOPED_TRACE("seed " + std::to_string(seed) + " (replay with BLOOM_TEST_SEED)");
  const ValueType& t = GetParam().type;
  const Word bottom = lat.bottom(t);
  EXPECT_TRUE(lat.is_bottom(t, bottom));
  auto merge = [&](Word x, Word y) { return lat.merge(t, x, y); };
  for (int i = 0; i < 300; ++i) {
    Word a = value(t), b = value(t), c = value(t);
    SCOPED_TRACE("a = " + show(t, a) + ", b = " + show(t, b) + ", c = " + show(t, c));
    ASSERT_EQ(merge(merge(a, b), c), merge(a, merge(b, c))) << "associativity";
    ASSERT_EQ(merge(a, b), merge(b, a)) << "commutativity";
    ASSERT_EQ(merge(a, a), a) << "idempotence";
    ASSERT_EQ(merge(bottom, a), a) << "bottom is a left identity";
    ASSERT_EQ(merge(a, bottom), a) << "bottom is a right identity";
    expect_join(t, a, b, merge(a, b));
    if (HasFailure()) return;
  }
}

INSTANTIATE_TEST_SUITE_P(AllLattices, LatticeLaws,
                         testing::Values(LatticeCase{"lmax_int", lmax(kInt)}, LatticeCase{"lmax_float", lmax(kFloat)},
                                         LatticeCase{"lmax_string", lmax(kString)}, LatticeCase{"lmin_int", lmin(kInt)},
                                         LatticeCase{"lmin_float", lmin(kFloat)}, LatticeCase{"lmin_string", lmin(kString)},
                                         LatticeCase{"lbool", kLBool}, LatticeCase{"lset_int", lset(kInt)},
                                         LatticeCase{"lset_string", lset(kString)},
                                         LatticeCase{"lmap_string_lmax_int", lmap(kString, lmax(kInt))},
                                         LatticeCase{"lmap_int_lset_int", lmap(kInt, lset(kInt))},
                                         LatticeCase{"lmap_string_lmap_int_lmax_int", lmap(kString, lmap(kInt, lmax(kInt)))},
                                         LatticeCase{"lmap_bool_lmap_string_lmin_float", lmap(kBool, lmap(kString, lmin(kFloat)))}),
                         [](const testing::TestParamInfo<LatticeCase>& p) { return std::string(p.param.name); });

// ------------------------------------------------------------------ bottoms and lifting

TEST_F(LatticeTest, BottomsAreTheDocumentedExtremes) {
  EXPECT_EQ(rt::as_int(lat.bottom(lmax(kInt))), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(rt::as_int(lat.bottom(lmin(kInt))), std::numeric_limits<int64_t>::max());
  EXPECT_EQ(rt::as_float(lat.bottom(lmax(kFloat))), -INFINITY);
  EXPECT_EQ(rt::as_float(lat.bottom(lmin(kFloat))), INFINITY);
  EXPECT_EQ(lat.bottom(lmax(kString)), symbols.intern(""));
  EXPECT_EQ(lat.bottom(lmin(kString)), rt::kTopString);
  EXPECT_EQ(lat.bottom(kLBool), rt::from_bool(false));
  EXPECT_EQ(lat.set_size(lat.bottom(lset(kInt))), 0u);
  EXPECT_EQ(lat.map_size(lat.bottom(lmap(kInt, lset(kInt)))), 0u);
}

TEST_F(LatticeTest, LiftPutsAPlainValueIntoTheLattice) {
  EXPECT_EQ(rt::as_int(lat.lift(lmax(kInt), rt::from_int(3))), 3);
  EXPECT_EQ(rt::as_float(lat.lift(lmin(kFloat), rt::from_float(2.5))), 2.5);
  EXPECT_EQ(lat.lift(kLBool, rt::from_bool(true)), rt::from_bool(true));
  Word a = symbols.intern("a");
  EXPECT_EQ(lat.lift(lmin(kString), a), a);
  Word single = lat.lift(lset(kString), a);
  EXPECT_EQ(single, lat.set_of({a}));
  EXPECT_EQ(elements(single), std::set<Word>{a});
  // Lifted values merge like the lattice: max, min, union.
  EXPECT_EQ(rt::as_int(lat.merge(lmax(kInt), lat.lift(lmax(kInt), rt::from_int(3)), lat.lift(lmax(kInt), rt::from_int(5)))), 5);
  EXPECT_EQ(rt::as_int(lat.merge(lmin(kInt), lat.lift(lmin(kInt), rt::from_int(3)), lat.lift(lmin(kInt), rt::from_int(5)))), 3);
  Word b = symbols.intern("b");
  EXPECT_EQ(lat.merge(lset(kString), single, lat.lift(lset(kString), b)), lat.set_of({b, a}));
}

TEST_F(LatticeTest, StringsCompareByContentNotByInterningOrder) {
  Word zeta = symbols.intern("zeta"), alpha = symbols.intern("alpha");  // zeta gets the smaller id
  EXPECT_GT(lat.compare(kString, zeta, alpha), 0);
  EXPECT_EQ(lat.merge(lmax(kString), alpha, zeta), zeta);
  EXPECT_EQ(lat.merge(lmin(kString), zeta, alpha), alpha);
  EXPECT_EQ(lat.merge(lmin(kString), lat.bottom(lmin(kString)), zeta), zeta);
}

// ------------------------------------------------------------------ sets against std::set

TEST_F(LatticeTest, SetOperationsAgreeWithStdSet) {
  SCOPED_TRACE("seed " + std::to_string(seed));
  for (const ValueType& elem : {kInt, kString}) {
    SCOPED_TRACE(elem.str());
    for (int i = 0; i < 200; ++i) {
      std::set<Word> x, y;
      std::vector<Word> xs, ys;
      for (size_t n = below(8); n > 0; --n) xs.push_back(plain(elem));
      for (size_t n = below(8); n > 0; --n) ys.push_back(plain(elem));
      x.insert(xs.begin(), xs.end());
      y.insert(ys.begin(), ys.end());
      Word a = lat.set_of(xs), b = lat.set_of(ys);
      ASSERT_EQ(elements(a), x);
      ASSERT_EQ(lat.set_size(a), x.size());
      std::set<Word> u = x, in;
      u.insert(y.begin(), y.end());
      std::set_intersection(x.begin(), x.end(), y.begin(), y.end(), std::inserter(in, in.end()));
      ASSERT_EQ(elements(lat.set_union(a, b)), u) << show(lset(elem), a) << " union " << show(lset(elem), b);
      ASSERT_EQ(elements(lat.set_intersect(a, b)), in) << show(lset(elem), a) << " intersect " << show(lset(elem), b);
      for (int probe = 0; probe < 4; ++probe) {
        Word v = plain(elem);
        ASSERT_EQ(lat.set_contains(a, v), x.count(v) > 0) << show(lset(elem), a) << " contains " << show(elem, v);
      }
    }
  }
}

TEST_F(LatticeTest, SetElementsAreSortedAndUnique) {
  Word s = lat.set_of({rt::from_int(3), rt::from_int(1), rt::from_int(3), rt::from_int(2)});
  auto e = lat.set_elements(s);
  EXPECT_EQ(std::vector<Word>(e.begin(), e.end()), (std::vector<Word>{1, 2, 3}));
  EXPECT_TRUE(lat.set_contains(s, 2));
  EXPECT_FALSE(lat.set_contains(s, 4));
  EXPECT_FALSE(lat.set_contains(lat.set_of({}), 0));
}

// ------------------------------------------------------------------ maps

TEST_F(LatticeTest, MapAtAnAbsentKeyIsTheValueLatticesBottom) {
  const ValueType counts = lmap(kString, lmax(kInt));
  Word a = symbols.intern("a"), b = symbols.intern("b");
  Word empty = lat.map_of(counts.args[1], {});
  EXPECT_EQ(lat.map_at(counts, empty, a), lat.bottom(lmax(kInt)));
  Word m = lat.map_of(counts.args[1], {{a, rt::from_int(3)}, {a, rt::from_int(7)}, {symbols.intern("c"), rt::from_int(1)}});
  EXPECT_EQ(lat.map_size(m), 2u);
  EXPECT_EQ(rt::as_int(lat.map_at(counts, m, a)), 7) << "entries with equal keys merge";
  EXPECT_EQ(lat.map_at(counts, m, b), lat.bottom(lmax(kInt)));

  const ValueType groups = lmap(kInt, lset(kInt));
  Word g = lat.map_of(groups.args[1], {{rt::from_int(1), lat.set_of({5})}, {rt::from_int(1), lat.set_of({6})}});
  EXPECT_EQ(lat.map_at(groups, g, rt::from_int(1)), lat.set_of({5, 6}));
  EXPECT_EQ(lat.map_at(groups, g, rt::from_int(2)), lat.bottom(lset(kInt)));
  EXPECT_EQ(lat.map_at(groups, g, rt::from_int(-1)), lat.bottom(lset(kInt)));
}

TEST_F(LatticeTest, MapKeysAndSizeAgreeWithStdMap) {
  SCOPED_TRACE("seed " + std::to_string(seed));
  const ValueType t = lmap(kInt, lmax(kInt));
  for (int i = 0; i < 200; ++i) {
    std::vector<std::pair<Word, Word>> entries;
    std::map<Word, int64_t> model;
    for (size_t n = below(6); n > 0; --n) {
      Word k = plain(kInt);
      int64_t v = static_cast<int64_t>(below(100));
      entries.emplace_back(k, rt::from_int(v));
      auto [it, fresh] = model.emplace(k, v);
      if (!fresh) it->second = std::max(it->second, v);
    }
    Word m = lat.map_of(t.args[1], entries);
    ASSERT_EQ(lat.map_size(m), model.size());
    std::set<Word> keys;
    for (auto& [k, v] : model) {
      keys.insert(k);
      ASSERT_EQ(rt::as_int(lat.map_at(t, m, k)), v);
    }
    ASSERT_EQ(elements(lat.map_keys(m)), keys);
  }
}

// ------------------------------------------------------------------ interning

TEST_F(LatticeTest, EqualSetsAreEqualWords) {
  Word a = lat.set_of({3, 1, 2}), b = lat.set_of({2, 3, 3, 1});
  EXPECT_EQ(a, b);
  EXPECT_NE(a, lat.set_of({1, 2}));
  EXPECT_EQ(lat.set_union(lat.set_of({1}), lat.set_of({3, 2})), a);
  EXPECT_EQ(lat.set_intersect(lat.set_of({1, 2, 3, 4}), lat.set_of({0, 1, 2, 3})), a);
  EXPECT_EQ(lat.set_of({}), lat.bottom(lset(kInt)));
  EXPECT_EQ(lat.set_intersect(lat.set_of({1}), lat.set_of({2})), lat.bottom(lset(kInt)));
  size_t interned = lat.interned_sets();
  lat.set_of({1, 2, 3});
  lat.set_union(a, lat.set_of({2}));
  EXPECT_EQ(lat.interned_sets(), interned) << "re-creating existing sets must not store new ones";
}

TEST_F(LatticeTest, KeysAtBottomAreNotKept) {
  // {a: bottom} and {} are one value: the same word, size 0, no keys; a key at bottom that
  // merges with a real value keeps the value.
  const ValueType counts = lmap(kString, lmax(kInt));
  Word a = symbols.intern("a"), b = symbols.intern("b");
  const Word bot = lat.bottom(counts.args[1]);
  EXPECT_EQ(lat.map_of(counts.args[1], {{a, bot}}), lat.bottom(counts));
  Word m = lat.map_of(counts.args[1], {{a, bot}, {b, rt::from_int(2)}, {a, rt::from_int(-5)}, {b, bot}});
  EXPECT_EQ(m, lat.map_of(counts.args[1], {{a, rt::from_int(-5)}, {b, rt::from_int(2)}}));
  EXPECT_EQ(lat.map_size(lat.map_of(counts.args[1], {{a, bot}, {b, rt::from_int(1)}})), 1u);
  const ValueType nested = lmap(kInt, lmap(kInt, lset(kInt)));
  Word inner_empty = lat.map_of(nested.args[1].args[1], {{rt::from_int(1), lat.set_of({})}});
  EXPECT_EQ(inner_empty, lat.bottom(nested.args[1]));
  EXPECT_EQ(lat.map_size(lat.map_of(nested.args[1], {{rt::from_int(7), inner_empty}})), 0u);
}

TEST_F(LatticeTest, EqualMapsAreEqualWords) {
  const ValueType v = lmax(kInt);
  Word m1 = lat.map_of(v, {{1, 10}, {2, 20}});
  Word m2 = lat.map_of(v, {{2, 20}, {1, 5}, {1, 10}});
  EXPECT_EQ(m1, m2);
  EXPECT_NE(m1, lat.map_of(v, {{1, 10}, {2, 21}}));
  EXPECT_EQ(lat.merge(lmap(kInt, v), lat.map_of(v, {{1, 10}}), lat.map_of(v, {{2, 20}})), m1);
  size_t interned = lat.interned_maps();
  lat.map_of(v, {{1, 10}, {2, 20}});
  EXPECT_EQ(lat.interned_maps(), interned);
}

// ------------------------------------------------------------------ float edge cases

// -0.0 and 0.0 compare equal, so which one lmax keeps depends on the argument order; NaN
// compares equal to everything, so merge(NaN, x) keeps whichever came first. Either makes the
// word a program ends up with depend on derivation order (0.0 * -1.0 and 0.0 / 0.0 produce them).
TEST_F(LatticeTest, FloatMergeIsCommutativeOnSignedZeroAndNaN) {
  for (const ValueType& t : {lmax(kFloat), lmin(kFloat)}) {
    Word pz = rt::from_float(0.0), nz = rt::from_float(-0.0), nan = rt::from_float(NAN), one = rt::from_float(1.0);
    EXPECT_EQ(lat.merge(t, pz, nz), lat.merge(t, nz, pz)) << t.str();
    EXPECT_EQ(lat.merge(t, nan, one), lat.merge(t, one, nan)) << t.str();
  }
}

}  // namespace
}  // namespace bloom::test
