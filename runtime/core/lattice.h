// Lattice values and their laws. lmax, lmin and lbool live inline in a word; lset and lmap
// values are immutable, interned handles (so equal sets are equal words, which keeps rows
// comparable word by word). Every merge is the least upper bound: associative, commutative and
// idempotent (tests/unit/lattice_test.cpp checks this on random values).
#pragma once
#include <cstdint>
#include <deque>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/value.h"
#include "plan/ir.h"

namespace bloom::rt {

// The bottom of lmin<string>: above every string (symbol ids never reach it).
inline constexpr Word kTopString = ~Word{0};

// A lattice type's bottom word: an lmax's least value, an lmin's greatest, or 0 (lbool false,
// the empty set, the empty map). A constant of the type, so compiled code tests it inline.
inline Word lattice_bottom(const plan::ValueType& l) {
  const bool lmax = l.kind == plan::TypeKind::LMax;
  if (!lmax && l.kind != plan::TypeKind::LMin) return 0;
  switch (l.args[0].kind) {
    case plan::TypeKind::Float:
      return from_float(lmax ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity());
    case plan::TypeKind::String: return lmax ? 0 : kTopString;  // "" is below every other string
    default: return from_int(lmax ? std::numeric_limits<int64_t>::min() : std::numeric_limits<int64_t>::max());
  }
}

class Lattices {
 public:
  explicit Lattices(SymbolTable& symbols);
  Lattices(const Lattices&) = delete;
  Lattices& operator=(const Lattices&) = delete;

  SymbolTable& symbols() { return symbols_; }

  // Orders two plain values of type `t` (numbers by value, strings by content).
  int compare(const plan::ValueType& t, Word a, Word b) const;

  Word bottom(const plan::ValueType& lattice) const;
  bool is_bottom(const plan::ValueType& lattice, Word v) const { return v == lattice_bottom(lattice); }
  // A plain value of the element type into the lattice (`3` into lmax<int>, "a" into lset).
  Word lift(const plan::ValueType& lattice, Word plain);
  Word merge(const plan::ValueType& lattice, Word a, Word b);

  // Sets: elements kept sorted by word, so a set has one canonical form.
  Word set_of(std::vector<Word> elements);
  std::span<const Word> set_elements(Word set) const;
  size_t set_size(Word set) const { return set_elements(set).size(); }
  bool set_contains(Word set, Word element) const;
  Word set_union(Word a, Word b);
  Word set_intersect(Word a, Word b);

  // Maps: entries kept sorted by key word; the value lattice merges entries with equal keys.
  Word map_of(const plan::ValueType& value_lattice, std::vector<std::pair<Word, Word>> entries);
  size_t map_size(Word map) const { return map_words(map).size() / 2; }
  std::vector<std::pair<Word, Word>> map_entries(Word map) const;
  Word map_at(const plan::ValueType& map_type, Word map, Word key) const;  // bottom when absent
  Word map_keys(Word map);

  size_t interned_sets() const { return sets_.size(); }
  size_t interned_maps() const { return maps_.size(); }

 private:
  struct Store {
    std::deque<std::vector<Word>> values;             // [0] is empty
    absl::flat_hash_map<std::string_view, Word> ids;  // the bytes of a stored vector -> handle
    Word intern(std::vector<Word>&& words);
    size_t size() const { return values.size(); }
  };
  std::span<const Word> map_words(Word map) const { return maps_.values[map]; }

  SymbolTable& symbols_;
  Store sets_, maps_;
};

}  // namespace bloom::rt
