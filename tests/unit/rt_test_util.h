// Helpers shared by the runtime unit tests: plan types and hand-built relation declarations.
#pragma once
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "plan/ir.h"

namespace bloom::test {

using plan::TypeKind;
using plan::ValueType;

inline ValueType ty(TypeKind k, std::vector<ValueType> args = {}) { return ValueType{k, std::move(args)}; }
inline const ValueType kInt = ty(TypeKind::Int);
inline const ValueType kFloat = ty(TypeKind::Float);
inline const ValueType kString = ty(TypeKind::String);
inline const ValueType kBool = ty(TypeKind::Bool);
inline ValueType lmax(ValueType t) { return ty(TypeKind::LMax, {std::move(t)}); }
inline ValueType lmin(ValueType t) { return ty(TypeKind::LMin, {std::move(t)}); }
inline ValueType lset(ValueType t) { return ty(TypeKind::LSet, {std::move(t)}); }
inline ValueType lmap(ValueType k, ValueType v) { return ty(TypeKind::LMap, {std::move(k), std::move(v)}); }
inline const ValueType kLBool = ty(TypeKind::LBool);

struct Column {
  std::string name;
  ValueType type;
};

// A relation declaration as the planner would produce it. Without `key`, the key is every
// non-lattice column (a set); lattice columns make it keyed.
inline plan::Relation relation_decl(std::string name, std::vector<Column> cols, std::vector<uint32_t> key = {}, bool keyed = false,
                                    std::vector<std::vector<uint32_t>> indexes = {}) {
  plan::Relation r;
  r.name = std::move(name);
  for (auto& c : cols) {
    r.column_names.push_back(c.name);
    r.column_types.push_back(c.type);
  }
  bool lattice = r.has_lattice_column();
  r.keyed = keyed || lattice;
  if (keyed) {
    r.key = std::move(key);
  } else {
    for (uint32_t i = 0; i < r.arity(); ++i)
      if (!r.column_types[i].is_lattice()) r.key.push_back(i);
  }
  r.indexes = std::move(indexes);
  return r;
}

// The seed of the random tests: BLOOM_TEST_SEED if set (to replay a failure), else a fixed one.
inline uint64_t test_seed() {
  if (const char* s = std::getenv("BLOOM_TEST_SEED")) return std::strtoull(s, nullptr, 0);
  return 0x5eed2024;
}

}  // namespace bloom::test
