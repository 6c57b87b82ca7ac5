#include "sema/program.h"

#include <algorithm>

namespace bloom::sema {

// The declared kinds share their order with ast::CollectionKind; only the built-ins are new.
static_assert(static_cast<int>(CollectionKind::Lattice) == static_cast<int>(ast::CollectionKind::Lattice) &&
              static_cast<int>(CollectionKind::Table) == static_cast<int>(ast::CollectionKind::Table));

const char* to_string(CollectionKind k) {
  switch (k) {
    case CollectionKind::Stdout: return "stdout";
    case CollectionKind::Halt: return "halt";
    default: return ast::to_string(static_cast<ast::CollectionKind>(k));
  }
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
    case NonMonotone::Seal: return "seal";
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

bool Program::constant(uint32_t instance, const ast::QualifiedName& name, ConstValue& out) const {
  uint32_t at = instance;
  for (size_t i = 0; i + 1 < name.parts.size(); ++i) {
    auto it = instances[at].children.find(name.parts[i]);
    if (it == instances[at].children.end()) return false;
    at = it->second;
  }
  const ModuleInstance& inst = instances[at];
  if (auto it = inst.consts.find(name.parts.back()); it != inst.consts.end()) {
    out = it->second;
    return true;
  }
  if (auto it = inst.params.find(name.parts.back()); it != inst.params.end()) {
    out = it->second;
    return true;
  }
  return false;
}

}  // namespace bloom::sema
