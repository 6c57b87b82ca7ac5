#include "core/lattice.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace bloom::rt {

using plan::TypeKind;
using plan::ValueType;

Word Lattices::Store::intern(std::vector<Word>&& words) {
  std::string_view bytes(reinterpret_cast<const char*>(words.data()), words.size() * sizeof(Word));
  if (auto it = ids.find(bytes); it != ids.end()) return it->second;
  Word id = values.size();
  values.push_back(std::move(words));
  const auto& stored = values.back();
  ids.emplace(std::string_view(reinterpret_cast<const char*>(stored.data()), stored.size() * sizeof(Word)), id);
  return id;
}

Lattices::Lattices(SymbolTable& symbols) : symbols_(symbols) {
  sets_.intern({});
  maps_.intern({});
}

int Lattices::compare(const ValueType& t, Word a, Word b) const {
  switch (t.kind) {
    case TypeKind::Float: {
      // IEEE 754 totalOrder, not `<`: -0.0 sorts below 0.0 and NaN above +inf, so merges, min/max
      // aggregates and sorted output give the same word whatever order the values came in.
      auto key = [](Word w) {
        auto k = static_cast<int64_t>(w);
        return k < 0 ? k ^ INT64_MAX : k;
      };
      int64_t x = key(a), y = key(b);
      return x < y ? -1 : x > y ? 1 : 0;
    }
    case TypeKind::String:
    case TypeKind::Addr:
      if (a == kTopString || b == kTopString) return a == b ? 0 : a == kTopString ? 1 : -1;
      return symbols_.compare(a, b);
    case TypeKind::Bool: return a < b ? -1 : a > b ? 1 : 0;
    default: {
      int64_t x = as_int(a), y = as_int(b);
      return x < y ? -1 : x > y ? 1 : 0;
    }
  }
}

Word Lattices::bottom(const ValueType& l) const { return lattice_bottom(l); }

Word Lattices::lift(const ValueType& l, Word plain) {
  if (l.kind == TypeKind::LSet) return sets_.intern({plain});
  return plain;  // lmax, lmin, lbool hold their element inline
}

Word Lattices::merge(const ValueType& l, Word a, Word b) {
  if (a == b) return a;
  switch (l.kind) {
    case TypeKind::LMax: return compare(l.args[0], a, b) >= 0 ? a : b;
    case TypeKind::LMin: return compare(l.args[0], a, b) <= 0 ? a : b;
    case TypeKind::LBool: return a | b;
    case TypeKind::LSet: return set_union(a, b);
    case TypeKind::LMap: {
      auto x = map_words(a), y = map_words(b);
      std::vector<Word> out;
      out.reserve(x.size() + y.size());
      size_t i = 0, j = 0;
      while (i < x.size() || j < y.size()) {
        if (j >= y.size() || (i < x.size() && x[i] < y[j])) {
          out.insert(out.end(), {x[i], x[i + 1]});
          i += 2;
        } else if (i >= x.size() || y[j] < x[i]) {
          out.insert(out.end(), {y[j], y[j + 1]});
          j += 2;
        } else {
          Word k = x[i], v = merge(l.args[1], x[i + 1], y[j + 1]);
          out.insert(out.end(), {k, v});
          i += 2;
          j += 2;
        }
      }
      return maps_.intern(std::move(out));
    }
    default: return b;  // not a lattice: the planner never asks
  }
}

Word Lattices::set_of(std::vector<Word> e) {
  std::sort(e.begin(), e.end());
  e.erase(std::unique(e.begin(), e.end()), e.end());
  return sets_.intern(std::move(e));
}

std::span<const Word> Lattices::set_elements(Word set) const { return sets_.values[set]; }

bool Lattices::set_contains(Word set, Word element) const {
  auto e = set_elements(set);
  return std::binary_search(e.begin(), e.end(), element);
}

Word Lattices::set_union(Word a, Word b) {
  if (a == b || b == 0) return a;
  if (a == 0) return b;
  auto x = set_elements(a), y = set_elements(b);
  std::vector<Word> out;
  out.reserve(x.size() + y.size());
  std::set_union(x.begin(), x.end(), y.begin(), y.end(), std::back_inserter(out));
  return sets_.intern(std::move(out));
}

Word Lattices::set_intersect(Word a, Word b) {
  if (a == b) return a;
  auto x = set_elements(a), y = set_elements(b);
  std::vector<Word> out;
  std::set_intersection(x.begin(), x.end(), y.begin(), y.end(), std::back_inserter(out));
  return sets_.intern(std::move(out));
}

Word Lattices::map_of(const ValueType& value_lattice, std::vector<std::pair<Word, Word>> entries) {
  std::stable_sort(entries.begin(), entries.end(), [](auto& p, auto& q) { return p.first < q.first; });
  std::vector<Word> out;
  for (auto& [k, v] : entries) {
    if (!out.empty() && out[out.size() - 2] == k) out.back() = merge(value_lattice, out.back(), v);
    else out.insert(out.end(), {k, v});
  }
  // A key at bottom is the same map as no key (a lookup of either gives bottom), so it is not
  // kept: one canonical form, and size()/keys() count only keys that hold something. Merges of
  // such maps never make a bottom entry, as a join is never below its operands.
  const Word bot = bottom(value_lattice);
  size_t kept = 0;
  for (size_t i = 0; i < out.size(); i += 2)
    if (out[i + 1] != bot) {
      out[kept] = out[i];
      out[kept + 1] = out[i + 1];
      kept += 2;
    }
  out.resize(kept);
  return maps_.intern(std::move(out));
}

std::vector<std::pair<Word, Word>> Lattices::map_entries(Word map) const {
  auto w = map_words(map);
  std::vector<std::pair<Word, Word>> out;
  for (size_t i = 0; i + 1 < w.size(); i += 2) out.emplace_back(w[i], w[i + 1]);
  return out;
}

Word Lattices::map_at(const ValueType& map_type, Word map, Word key) const {
  auto w = map_words(map);
  size_t lo = 0, hi = w.size() / 2;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (w[2 * mid] < key) lo = mid + 1;
    else hi = mid;
  }
  if (lo < w.size() / 2 && w[2 * lo] == key) return w[2 * lo + 1];
  return bottom(map_type.args[1]);
}

Word Lattices::map_keys(Word map) {
  auto w = map_words(map);
  std::vector<Word> keys;
  for (size_t i = 0; i < w.size(); i += 2) keys.push_back(w[i]);
  return sets_.intern(std::move(keys));  // already sorted by word
}

}  // namespace bloom::rt
