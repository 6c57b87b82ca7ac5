#include "sim/invariant.h"

#include <algorithm>
#include <sstream>

#include <fmt/format.h>

#include "node/node.h"

namespace bloom::rt::sim {

using plan::RelationKind;
using plan::TypeKind;

namespace {

std::string signature(const std::vector<plan::ValueType>& cols) {
  std::string s = "(";
  for (size_t i = 0; i < cols.size(); ++i) s += (i ? ", " : "") + cols[i].str();
  return s + ")";
}

// A value of type `t` from one node's symbols and lattices into another's: words of strings and
// of sets/maps are per-node handles, the values they stand for are not.
Word transfer(const plan::ValueType& t, Word w, Lattices& from, Lattices& to) {
  switch (t.kind) {
    case TypeKind::String:
    case TypeKind::Addr: return to.symbols().intern(from.symbols().str(w));
    case TypeKind::LMax:
    case TypeKind::LMin:
      if (!t.args[0].is_symbol()) return w;
      if (w == from.bottom(t)) return to.bottom(t);
      return transfer(t.args[0], w, from, to);
    case TypeKind::LSet: {
      std::vector<Word> elements;
      for (Word e : from.set_elements(w)) elements.push_back(transfer(t.args[0], e, from, to));
      return to.set_of(std::move(elements));
    }
    case TypeKind::LMap: {
      std::vector<std::pair<Word, Word>> entries;
      for (auto [k, v] : from.map_entries(w)) entries.emplace_back(transfer(t.args[0], k, from, to), transfer(t.args[1], v, from, to));
      return to.map_of(t.args[1], std::move(entries));
    }
    default: return w;
  }
}

const plan::Relation* find_relation(const plan::Program& p, std::string_view name) {
  for (const auto& r : p.relations)
    if (r.name == name) return &r;
  return nullptr;
}

}  // namespace

std::unique_ptr<InvariantChecker> InvariantChecker::make(const plan::Program& inv, const std::vector<SimNode>& nodes,
                                                         std::vector<std::string>& errors, const Suggest& suggest) {
  auto checker = std::unique_ptr<InvariantChecker>(new InvariantChecker());
  checker->plan_ = &inv;
  for (const auto& n : nodes) checker->node_names_.push_back(n.name);
  size_t before = errors.size();
  std::vector<std::string> all_names;
  for (const auto& n : nodes)
    for (const auto& r : n.plan->relations)
      if (r.kind != RelationKind::Stdout && r.kind != RelationKind::Halt &&
          std::find(all_names.begin(), all_names.end(), r.name) == all_names.end())
        all_names.push_back(r.name);
  for (const auto& r : inv.relations) {
    if (r.name == "violation" && r.kind == RelationKind::Output) checker->violation_ = static_cast<int>(r.id);
    if (r.name == "final_violation" && r.kind == RelationKind::Output) checker->final_violation_ = static_cast<int>(r.id);
    if (r.kind != RelationKind::Input) continue;
    if (r.arity() == 0 || r.column_types[0].kind != TypeKind::Addr) {
      errors.push_back(
          fmt::format("{}: error: input `{}` of the invariant must start with the node's addr, as in `input {}(node: addr, ...)`", r.where,
                      r.name, r.name));
      continue;
    }
    bool found = false;
    std::vector<std::string> reported;  // one error per declaration, not per node running it
    for (size_t i = 0; i < nodes.size(); ++i) {
      const plan::Relation* d = find_relation(*nodes[i].plan, r.name);
      if (!d || d->kind == RelationKind::Stdout || d->kind == RelationKind::Halt) continue;
      found = true;
      std::vector<plan::ValueType> want(r.column_types.begin() + 1, r.column_types.end());
      if (want != d->column_types) {
        if (std::find(reported.begin(), reported.end(), d->where) != reported.end()) continue;
        reported.push_back(d->where);
        std::string theirs = signature(d->column_types);
        std::string expected = d->column_types.empty() ? "(addr)" : "(addr, " + theirs.substr(1);
        errors.push_back(fmt::format(
            "{}: error: input `{}` has the columns {} here, but node `{}` declares `{}` with {}: the "
            "invariant's input must be {}\n{}: note: node `{}`'s `{}` is declared here",
            r.where, r.name, signature(r.column_types), nodes[i].name, r.name, theirs, expected, d->where, nodes[i].name, r.name));
        continue;
      }
      checker->sources_.push_back({r.id, i, d->id});
    }
    if (!found) {
      std::string near = suggest ? suggest(r.name, all_names) : "";
      errors.push_back(fmt::format("{}: error: input `{}` of the invariant is not a collection of any program of the deployment{}", r.where,
                                   r.name, near.empty() ? "" : fmt::format(" (did you mean `{}`?)", near)));
    }
  }
  if (checker->violation_ < 0 && checker->final_violation_ < 0)
    errors.push_back("error: the invariant declares neither `output violation(...)` nor `output final_violation(...)`: it can never fail");
  if (errors.size() > before) return nullptr;
  return checker;
}

std::vector<std::string> InvariantChecker::check(const std::vector<Node*>& nodes, bool final) const {
  NodeOptions opts;
  opts.name = "invariant";
  opts.print_line = [](const std::string&) {};
  Node inv(*plan_, opts);
  std::vector<Word> row, in;
  for (const auto& s : sources_) {
    Node* n = nodes[s.node];
    if (!n) continue;
    const auto& decl = n->plan().relations[s.relation];
    const Relation& rel = decl.kind == RelationKind::Output ? n->output_log(s.relation) : n->engine().relation(s.relation);
    in.resize(decl.arity() + 1);
    row.resize(decl.arity() + 2);
    row[0] = inv.symbols().intern(node_names_[s.node]);
    for (RowId r = 0; r < rel.end(); ++r) {
      if (!rel.alive(r)) continue;
      rel.read(r, in.data());
      for (uint32_t c = 0; c < decl.arity(); ++c) row[c + 1] = transfer(decl.column_types[c], in[c], n->lattices(), inv.lattices());
      inv.add_input(s.input, row.data(), "node `" + node_names_[s.node] + "`");
    }
  }
  inv.step();
  std::vector<std::string> out;
  auto collect = [&](int id) {
    if (id < 0) return;
    std::istringstream lines(inv.output_text(static_cast<uint32_t>(id), false));
    for (std::string l; std::getline(lines, l);) out.push_back(l);
  };
  collect(violation_);
  if (final) collect(final_violation_);
  return out;
}

}  // namespace bloom::rt::sim
