#include "sema/program.h"

#include <algorithm>

namespace bloom::sema {

const char* to_string(CollectionKind k) {
  switch (k) {
    case CollectionKind::Table: return "table";
    case CollectionKind::Scratch: return "scratch";
    case CollectionKind::Channel: return "channel";
    case CollectionKind::Input: return "input";
    case CollectionKind::Output: return "output";
    case CollectionKind::Periodic: return "periodic";
    case CollectionKind::Lattice: return "lattice";
    case CollectionKind::Stdout: return "stdout";
    case CollectionKind::Halt: return "halt";
  }
  return "?";
}

bool is_persistent(CollectionKind k) { return k == CollectionKind::Table || k == CollectionKind::Lattice; }

const char* to_string(NonMonotone n) {
  switch (n) {
    case NonMonotone::None: return "monotone";
    case NonMonotone::Negation: return "negation";
    case NonMonotone::Aggregate: return "aggregate";
    case NonMonotone::Reveal: return "lattice reveal";
    case NonMonotone::Delete: return "deferred delete";
    case NonMonotone::Upsert: return "deferred upsert";
  }
  return "?";
}

bool Collection::has_lattice_column() const {
  return std::any_of(columns.begin(), columns.end(), [](const Column& c) { return c.type.is_lattice(); });
}

const Collection* Program::find(const std::string& name) const {
  for (const auto& c : collections)
    if (c.name == name) return &c;
  return nullptr;
}

}  // namespace bloom::sema
