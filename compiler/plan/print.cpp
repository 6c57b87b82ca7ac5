#include "plan/print.h"

#include <fmt/format.h>

namespace bloom::plan {

namespace {

std::string cols_text(const Relation& r, const std::vector<uint32_t>& cols) {
  std::string s;
  for (size_t i = 0; i < cols.size(); ++i) s += (i ? ", " : "") + (cols[i] < r.column_names.size() ? r.column_names[cols[i]] : "?");
  return s;
}

std::string index_name(const Program& p, uint32_t rel, int32_t index) {
  const Relation& r = p.relations[rel];
  if (index == kKeyIndex) return r.name + "[key(" + cols_text(r, r.key) + ")]";
  return r.name + "[" + cols_text(r, r.indexes[index]) + "]";
}

std::string binds_text(const Step& s, const Relation& r) {
  std::string out;
  for (size_t c = 0; c < s.bind.size(); ++c)
    if (s.bind[c] >= 0) out += (out.empty() ? "" : ", ") + r.column_names[c] + "->r" + std::to_string(s.bind[c]);
  for (auto [c, reg] : s.equal) out += (out.empty() ? "" : ", ") + r.column_names[c] + "==r" + std::to_string(reg);
  return out;
}

std::string head_text(const RulePlan& r, const Program& p) {
  std::string t = std::string(to_string(r.op)) + " " + p.relations[r.head].name + "(";
  for (size_t i = 0; i < r.columns.size(); ++i) {
    const auto& c = r.columns[i];
    t += i ? ", " : "";
    if (c.agg == AggKind::None) t += expr_text(c.value, p);
    else if (c.agg == AggKind::ArgMax || c.agg == AggKind::ArgMin)
      t += std::string(to_string(c.agg)) + "(" + expr_text(c.key, p) + ", " + expr_text(c.value, p) + ")";
    else t += std::string(to_string(c.agg)) + "(" + (c.agg == AggKind::Count ? "" : expr_text(c.value, p)) + ")";
  }
  return t + ")";
}

void rule_text(std::string& out, const RulePlan& r, const Program& p, const char* indent) {
  out += fmt::format("{}rule {} at {}{}: {}\n", indent, r.rule, r.where,
                     r.delta_atom >= 0 ? fmt::format(" (delta on literal {})", r.delta_atom + 1) : "", r.text);
  for (const auto& s : r.steps) out += fmt::format("{}  {}\n", indent, step_text(s, p));
  out += fmt::format("{}  {}\n", indent, head_text(r, p));
  if (r.delta_atom < 0) {
    std::string_view why = recomputed_because(p, r);
    std::string how = !why.empty() ? fmt::format("in full ({})", why)
                      : p.relations[r.head].kind == RelationKind::Scratch
                          ? "the scratch is kept: rows new since the last tick add derivations, new rows of negated tables take them back"
                          : "only the rows new since the last tick";
    out += fmt::format("{}  across ticks: {}\n", indent, how);
  }
}

nlohmann::json type_json(const ValueType& t) { return t.str(); }

nlohmann::json expr_json(const Expr& e) {
  nlohmann::json j = {{"op", to_string(e.op)}, {"type", e.type.str()}};
  if (e.op == Op::Const) j["value"] = constant_str(e.value);
  if (e.op == Op::Reg) j["reg"] = e.reg;
  if (!e.args.empty()) {
    j["args"] = nlohmann::json::array();
    for (const auto& a : e.args) j["args"].push_back(expr_json(a));
  }
  return j;
}

nlohmann::json rule_json(const RulePlan& r, const Program& p) {
  nlohmann::json steps = nlohmann::json::array();
  for (const auto& s : r.steps) {
    nlohmann::json j = {{"kind", to_string(s.kind)}, {"text", s.text}};
    if (s.kind == StepKind::Scan || s.kind == StepKind::Lookup || s.kind == StepKind::AntiJoin) {
      j["relation"] = p.relations[s.relation].name;
      j["version"] = to_string(s.version);
      if (s.kind != StepKind::Scan) j["index"] = s.index == kKeyIndex ? nlohmann::json("key") : nlohmann::json(s.index);
      j["key"] = nlohmann::json::array();
      for (const auto& k : s.key) j["key"].push_back(expr_json(k));
      j["bind"] = s.bind;
      if (!s.equal.empty()) j["equal"] = s.equal;
    } else {
      j["expr"] = expr_json(s.expr);
      if (s.kind != StepKind::Filter) j["target"] = s.target;
    }
    steps.push_back(std::move(j));
  }
  nlohmann::json cols = nlohmann::json::array();
  for (const auto& c : r.columns) {
    nlohmann::json j;
    if (c.agg != AggKind::None) j["aggregate"] = to_string(c.agg);
    if (c.agg != AggKind::Count) j["value"] = expr_json(c.value);
    if (c.agg == AggKind::ArgMax || c.agg == AggKind::ArgMin) {
      j["key"] = expr_json(c.key);
      j["tie"] = c.tie;
    }
    cols.push_back(std::move(j));
  }
  nlohmann::json j = {{"rule", r.rule},           {"where", r.where}, {"text", r.text},
                      {"registers", r.registers}, {"steps", steps},   {"head", p.relations[r.head].name},
                      {"op", to_string(r.op)},    {"columns", cols}};
  if (r.delta_atom >= 0) j["delta_literal"] = r.delta_atom + 1;
  else j["recomputed_because"] = std::string(recomputed_because(p, r));  // "": incremental across ticks
  return j;
}

std::string dot_escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '"' || c == '\\') o += '\\';
    if (c == '\n') {
      o += "\\l";
      continue;
    }
    o += c;
  }
  return o;
}

}  // namespace

std::string step_text(const Step& s, const Program& p) {
  switch (s.kind) {
    case StepKind::Scan:
    case StepKind::Lookup:
    case StepKind::AntiJoin: {
      const Relation& r = p.relations[s.relation];
      std::string t = to_string(s.kind);
      t += ' ';
      t += s.kind == StepKind::Scan ? r.name : index_name(p, s.relation, s.index);
      if (s.kind != StepKind::AntiJoin) t += std::string(" (") + to_string(s.version) + ")";
      if (!s.key.empty()) {
        t += " key(";
        for (size_t i = 0; i < s.key.size(); ++i) t += (i ? ", " : "") + expr_text(s.key[i], p);
        t += ")";
      }
      std::string b = binds_text(s, r);
      if (!b.empty()) t += " bind " + b;
      return t;
    }
    case StepKind::Filter: return "filter " + expr_text(s.expr, p);
    case StepKind::Assign: return "assign r" + std::to_string(s.target) + " = " + expr_text(s.expr, p);
    case StepKind::InSet: return "for r" + std::to_string(s.target) + " in " + expr_text(s.expr, p);
  }
  return "";
}

std::string expr_text(const Expr& e, const Program& p) {
  switch (e.op) {
    case Op::Const: return constant_str(e.value);
    case Op::Reg: return "r" + std::to_string(e.reg);
    default: break;
  }
  std::string s = to_string(e.op);
  s += '(';
  for (size_t i = 0; i < e.args.size(); ++i) s += (i ? ", " : "") + expr_text(e.args[i], p);
  return s + ')';
}

std::string to_text(const Program& p) {
  std::string out = fmt::format("plan of {}: {} relations, {} strata, {} transition rules\n\nrelations\n", p.source, p.relations.size(),
                                p.strata.size(), p.transitions.size());
  for (const auto& r : p.relations) {
    std::string cols;
    for (size_t i = 0; i < r.arity(); ++i) cols += (i ? ", " : "") + r.column_names[i] + ": " + r.column_types[i].str();
    out += fmt::format("  {} {}({})", to_string(r.kind), r.name, cols);
    if (r.keyed) out += " key(" + cols_text(r, r.key) + ")";
    if (r.kind == RelationKind::Periodic) out += fmt::format(" every {}ms", r.period_ms);
    if (r.kind == RelationKind::Delay)
      out +=
          r.delay_column >= 0 ? " after " + r.column_names[static_cast<size_t>(r.delay_column)] : fmt::format(" after {}ms", r.period_ms);
    if (r.durable) out += " durable";
    if (r.stream) out += " stream (not deduplicated: no rule reading it could see a duplicate)";
    for (const auto& ix : r.indexes) out += " index[" + cols_text(r, ix) + "]";
    out += "\n";
  }
  if (!p.facts.empty()) out += fmt::format("\nfacts: {}\n", p.facts.size());
  for (size_t s = 0; s < p.strata.size(); ++s) {
    out += fmt::format("\nstratum {}\n", s);
    for (const auto& sl : p.strata[s].seals) {
      const Relation& sr = p.relations[sl.sealed];
      const Relation& pr = p.relations[sl.punct];
      out += fmt::format("  release {} <- {}: partitions ({}) of {}, sealed by {}({}) with count {}, buffered until complete   # {} {}\n",
                         p.relations[sl.view].name, sr.name, cols_text(sr, sl.key), sr.name, pr.name, cols_text(pr, sl.punct_key),
                         pr.column_names[sl.count], sl.where, sl.text);
    }
    for (const auto& g : p.strata[s].groups) {
      std::string rels;
      for (uint32_t r : g.relations) rels += (rels.empty() ? "" : ", ") + p.relations[r].name;
      out += fmt::format("  group {{{}}}{}\n", rels, g.recursive ? " recursive (semi-naive)" : "");
      for (const auto& r : g.rules) rule_text(out, r, p, "    ");
      for (const auto& r : g.deltas) rule_text(out, r, p, "    ");
    }
  }
  if (!p.transitions.empty()) {
    out += "\ntransition (after the fixpoint)\n";
    for (const auto& r : p.transitions) rule_text(out, r, p, "  ");
  }
  return out;
}

nlohmann::json to_json(const Program& p) {
  nlohmann::json rels = nlohmann::json::array();
  for (const auto& r : p.relations) {
    nlohmann::json cols = nlohmann::json::array();
    for (size_t i = 0; i < r.arity(); ++i) cols.push_back({{"name", r.column_names[i]}, {"type", type_json(r.column_types[i])}});
    nlohmann::json j = {{"id", r.id},   {"name", r.name},   {"kind", to_string(r.kind)}, {"columns", cols},
                        {"key", r.key}, {"keyed", r.keyed}, {"indexes", r.indexes}};
    if (r.durable) j["durable"] = true;
    if (r.stream) j["stream"] = true;
    if (r.location >= 0) j["location"] = r.location;
    if (r.period_ms) j["period_ms"] = r.period_ms;
    if (r.delay_column >= 0) j["delay_column"] = r.delay_column;
    rels.push_back(std::move(j));
  }
  nlohmann::json strata = nlohmann::json::array();
  for (const auto& s : p.strata) {
    nlohmann::json groups = nlohmann::json::array();
    for (const auto& g : s.groups) {
      nlohmann::json rules = nlohmann::json::array(), deltas = nlohmann::json::array(), names = nlohmann::json::array();
      for (uint32_t r : g.relations) names.push_back(p.relations[r].name);
      for (const auto& r : g.rules) rules.push_back(rule_json(r, p));
      for (const auto& r : g.deltas) deltas.push_back(rule_json(r, p));
      groups.push_back({{"relations", names}, {"recursive", g.recursive}, {"rules", rules}, {"deltas", deltas}});
    }
    nlohmann::json seals = nlohmann::json::array();
    for (const auto& sl : s.seals)
      seals.push_back({{"sealed", p.relations[sl.sealed].name},
                       {"punct", p.relations[sl.punct].name},
                       {"view", p.relations[sl.view].name},
                       {"key", sl.key},
                       {"punct_key", sl.punct_key},
                       {"count", sl.count},
                       {"where", sl.where},
                       {"text", sl.text}});
    nlohmann::json st = {{"groups", groups}};
    if (!seals.empty()) st["seals"] = seals;
    strata.push_back(std::move(st));
  }
  nlohmann::json trans = nlohmann::json::array();
  for (const auto& r : p.transitions) trans.push_back(rule_json(r, p));
  return {{"version", 1}, {"source", p.source}, {"relations", rels}, {"facts", p.facts.size()}, {"strata", strata}, {"transitions", trans}};
}

std::string to_dot(const Program& p) {
  std::string out = "digraph plan {\n  rankdir=LR;\n  node [fontname=\"monospace\", fontsize=10];\n";
  for (const auto& r : p.relations) {
    if (r.kind == RelationKind::Stdout || r.kind == RelationKind::Halt) continue;
    out += fmt::format("  rel{} [shape=ellipse, label=\"{}\\n{}\"];\n", r.id, dot_escape(r.name), to_string(r.kind));
  }
  bool used_builtin[2] = {false, false};
  int n = 0;
  auto rule_node = [&](const RulePlan& r, const std::string& indent) {
    int id = n++;
    std::string label = dot_escape(r.text) + "\\l";
    for (const auto& s : r.steps) label += dot_escape(step_text(s, p)) + "\\l";
    label += dot_escape(head_text(r, p)) + "\\l";
    out += fmt::format("{}r{} [shape=box, label=\"{}\"];\n", indent, id, label);
    for (const auto& s : r.steps)
      if (s.kind == StepKind::Scan || s.kind == StepKind::Lookup || s.kind == StepKind::AntiJoin)
        out += fmt::format("  rel{} -> r{} [{}];\n", s.relation, id,
                           s.kind == StepKind::AntiJoin  ? "style=dashed, label=\"not\""
                           : s.version == Version::Delta ? "color=blue, label=\"delta\""
                                                         : "");
    if (r.head < 2) used_builtin[r.head] = true;
    out += fmt::format("  r{} -> rel{} [label=\"{}\"];\n", id, r.head, to_string(r.op));
  };
  for (size_t s = 0; s < p.strata.size(); ++s) {
    out += fmt::format("  subgraph cluster_s{} {{\n    label=\"stratum {}\";\n", s, s);
    for (const auto& sl : p.strata[s].seals) {
      int id = n++;
      out += fmt::format("    r{} [shape=box, style=rounded, label=\"{}\\lrelease complete partitions\\l\"];\n", id, dot_escape(sl.text));
      out += fmt::format("  rel{} -> r{} [];\n  rel{} -> r{} [label=\"seals\"];\n  r{} -> rel{} [label=\"release\"];\n", sl.sealed, id,
                         sl.punct, id, id, sl.view);
    }
    for (const auto& g : p.strata[s].groups) {
      for (const auto& r : g.rules) rule_node(r, "    ");
      for (const auto& r : g.deltas) rule_node(r, "    ");
    }
    out += "  }\n";
  }
  if (!p.transitions.empty()) {
    out += "  subgraph cluster_transition {\n    label=\"transition\";\n";
    for (const auto& r : p.transitions) rule_node(r, "    ");
    out += "  }\n";
  }
  for (uint32_t b = 0; b < 2 && b < p.relations.size(); ++b)
    if (used_builtin[b]) out += fmt::format("  rel{} [shape=ellipse, label=\"{}\"];\n", b, p.relations[b].name);
  return out + "}\n";
}

}  // namespace bloom::plan
