#include "plan/ir.h"

#include <algorithm>

#include <charconv>

namespace bloom::plan {

std::string ValueType::str() const {
  static const char* names[] = {"int", "float", "string", "bool", "addr", "lmax", "lmin", "lbool", "lset", "lmap"};
  std::string s = names[static_cast<int>(kind)];
  if (!args.empty()) {
    s += '<';
    for (size_t i = 0; i < args.size(); ++i) s += (i ? ", " : "") + args[i].str();
    s += '>';
  }
  return s;
}

std::string constant_str(const Constant& c) {
  if (auto* i = std::get_if<int64_t>(&c)) return std::to_string(*i);
  if (auto* d = std::get_if<double>(&c)) {
    char buf[32];
    auto r = std::to_chars(buf, buf + sizeof buf, *d);
    std::string s(buf, r.ptr);
    if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
    return s;
  }
  if (auto* b = std::get_if<bool>(&c)) return *b ? "true" : "false";
  std::string out = "\"";
  for (char ch : std::get<std::string>(c)) {
    if (ch == '"' || ch == '\\') out += '\\', out += ch;
    else if (ch == '\n') out += "\\n";
    else if (ch == '\t') out += "\\t";
    else out += ch;
  }
  return out + "\"";
}

const char* to_string(RelationKind k) {
  static const char* n[] = {"table", "scratch", "channel", "input", "output", "periodic", "delay", "lattice", "stdout", "halt"};
  return n[static_cast<int>(k)];
}

bool Relation::has_lattice_column() const {
  for (const auto& t : column_types)
    if (t.is_lattice()) return true;
  return false;
}

const char* to_string(Op op) {
  static const char* n[] = {"const",        "reg",
                            "add",          "sub",
                            "mul",          "div",
                            "mod",          "neg",
                            "fadd",         "fsub",
                            "fmul",         "fdiv",
                            "fmod",         "fneg",
                            "float",        "concat",
                            "eq",           "ne",
                            "feq",          "fne",
                            "lt",           "le",
                            "gt",           "ge",
                            "flt",          "fle",
                            "fgt",          "fge",
                            "slt",          "sle",
                            "sgt",          "sge",
                            "and",          "or",
                            "not",          "to_string",
                            "to_string",    "to_string",
                            "to_string",    "to_int",
                            "to_int",       "len",
                            "substr",       "hash",
                            "least",        "greatest",
                            "least",        "greatest",
                            "least",        "greatest",
                            "self",         "tick",
                            "now",          "lift",
                            "value",        "lattice_add",
                            "threshold",    "lattice_compare",
                            "size",         "contains",
                            "union",        "intersect",
                            "at",           "keys",
                            "map_size",     "lmap",
                            "covers",       "lbool_and",
                            "lbool_or",     "if",
                            "lattice_word", "members",
                            "lset",         "find"};
  static_assert(sizeof n / sizeof n[0] == static_cast<size_t>(Op::Find) + 1, "one name per opcode");
  return n[static_cast<int>(op)];
}

const char* to_string(Version v) {
  static const char* n[] = {"full", "delta", "old"};
  return n[static_cast<int>(v)];
}

const char* to_string(StepKind k) {
  static const char* n[] = {"scan", "lookup", "antijoin", "filter", "assign", "in"};
  return n[static_cast<int>(k)];
}

const char* to_string(HeadOp op) {
  static const char* n[] = {"insert", "defer-insert", "defer-delete", "defer-upsert", "send"};
  return n[static_cast<int>(op)];
}

const char* to_string(AggKind k) {
  static const char* n[] = {"", "count", "sum", "min", "max", "avg", "collect", "argmax", "argmin"};
  return n[static_cast<int>(k)];
}

bool is_positive_atom(const Step& s) { return s.kind == StepKind::Scan || s.kind == StepKind::Lookup; }

namespace {
bool reads_time(const Expr& x) {
  if (x.op == Op::Tick || x.op == Op::Now) return true;
  return std::any_of(x.args.begin(), x.args.end(), [](const Expr& a) { return reads_time(a); });
}
bool step_reads_time(const Step& s) {
  return reads_time(s.expr) || std::any_of(s.key.begin(), s.key.end(), [](const Expr& x) { return reads_time(x); });
}
bool head_reads_time(const RulePlan& r) {
  return std::any_of(r.columns.begin(), r.columns.end(), [](const HeadColumn& c) { return reads_time(c.value) || reads_time(c.key); });
}
// A table without lattice columns: between ticks it loses rows only when it is rebuilt.
bool grows_only(const Relation& r) { return r.kind == RelationKind::Table && !r.has_lattice_column(); }
bool reads(const Program& p, uint32_t relation) {
  auto in = [&](const RulePlan& r) {
    return std::any_of(r.steps.begin(), r.steps.end(),
                       [&](const Step& s) { return (is_positive_atom(s) || s.kind == StepKind::AntiJoin) && s.relation == relation; });
  };
  for (const auto& st : p.strata) {
    for (const auto& sl : st.seals)
      if (sl.sealed == relation || sl.punct == relation) return true;
    for (const auto& g : st.groups)
      if (std::any_of(g.rules.begin(), g.rules.end(), in)) return true;
  }
  return std::any_of(p.transitions.begin(), p.transitions.end(), in);
}
}  // namespace

// Re-deriving an old row must change nothing: the rule inserts (now or in the next tick) into a
// table or lattice, which keeps its rows; no aggregate (a group's value depends on all of its
// rows) and no negation of a collection that can lose rows (one that goes away lets old matches
// through); no tick() or now(), whose values change for old rows too. A `<+` queues its rows for the start of the next
// tick, where deletes and upserts come first: a row that a `<-` removes comes back at once when
// the `<+` queues it again, as it does in full, so `<+` into a table that is deleted from or
// overwritten runs in full.
std::string_view recomputed_because(const Program& p, const RulePlan& r) {
  if (r.delta_atom >= 0) return "a variant of a recursive rule";
  if (r.op == HeadOp::Send) return "it sends";
  if (r.op == HeadOp::DeferredDelete || r.op == HeadOp::DeferredUpsert) return "it deletes or overwrites";
  const Relation& head = p.relations[r.head];
  RelationKind k = head.kind;
  // An output is emptied every tick, but what a run reports is every row it held in any tick:
  // the rows new in a tick are all that can add to that, provided no rule reads the output
  // (it would see only those), it has no lattice column (each tick shows the merged value of
  // that tick's rows) and no key of its own (two rows of one key in one tick conflict).
  if (k == RelationKind::Output) {
    if (head.has_lattice_column() || head.keyed) return "its head is emptied every tick";
    if (reads(p, r.head)) return "its head is an output that rules read";
  } else if (k == RelationKind::Scratch) {
    return head.rederived_because;  // "": a kept scratch (scratch_recomputed_because)
  } else if (k != RelationKind::Table && k != RelationKind::Lattice) {
    return "its head is emptied every tick";
  }
  // An aggregate's groups fold in the matches new in a tick, and only the groups they touch
  // are derived again; the others would give the rows they gave before. That needs every match
  // to stay: inputs that only grow, no negation.
  if (r.aggregates()) {
    for (const auto& c : r.columns)
      if ((c.agg == AggKind::Sum || c.agg == AggKind::Avg) && c.value.type.kind == TypeKind::Float)
        return "a float sum or average (its rounding depends on the order of the rows)";
    for (const auto& s : r.steps) {
      if (s.kind == StepKind::AntiJoin) return "an aggregate with a negation";
      if (is_positive_atom(s) && !grows_only(p.relations[s.relation])) return "an aggregate over a collection that can lose rows";
    }
  }
  for (const auto& s : r.steps)
    if (s.kind == StepKind::Lookup && p.relations[s.relation].released_keys)
      return "a negation of a sealed collection (it waits for each partition's release)";
  for (const auto& s : r.steps) {
    // A negated table only grows between ticks, or is rebuilt (a new generation: the engine then
    // runs the rule in full once), so a match it blocked stays blocked, and a row derived while
    // unblocked stays in the head as it does in full.
    if (s.kind == StepKind::AntiJoin && !grows_only(p.relations[s.relation])) return "a negation of a collection that can lose rows";
    if (is_positive_atom(s) && s.version != Version::Full) return "a variant of a recursive rule";
    if (step_reads_time(s)) return "it reads tick() or now()";
  }
  if (head_reads_time(r)) return "it reads tick() or now()";
  if (r.op == HeadOp::DeferredInsert)
    for (const auto& t : p.transitions)
      if (t.head == r.head && (t.op == HeadOp::DeferredDelete || t.op == HeadOp::DeferredUpsert))
        return "its table is also deleted from or overwritten";
  return "";
}

namespace {
// Why a rule that derives a scratch keeps the scratch from being kept across ticks, or "".
std::string_view blocks_keeping(const Program& p, const RulePlan& r) {
  if (r.op != HeadOp::Insert) return "a `<+` writes it";
  if (r.aggregates()) return "a rule that derives it aggregates";
  for (const auto& s : r.steps) {
    if (step_reads_time(s)) return "a rule that derives it reads tick() or now()";
    if (s.kind == StepKind::Lookup && p.relations[s.relation].released_keys) return "a rule that derives it negates a sealed collection";
    if (!is_positive_atom(s) && s.kind != StepKind::AntiJoin) continue;
    if (!grows_only(p.relations[s.relation]))
      return "a rule that derives it reads a collection that is not a table without lattice columns";
  }
  if (head_reads_time(r)) return "a rule that derives it reads tick() or now()";
  return "";
}
}  // namespace

std::vector<std::string> scratch_recomputed_because(const Program& p) {
  std::vector<std::string> why(p.relations.size());
  std::vector<bool> derived(p.relations.size(), false);
  auto set = [&](uint32_t rel, std::string_view reason) {
    if (why[rel].empty() && !reason.empty()) why[rel] = reason;
  };
  for (const auto& st : p.strata)
    for (const auto& g : st.groups)
      for (const auto& r : g.rules) {
        if (p.relations[r.head].kind != RelationKind::Scratch) continue;
        derived[r.head] = true;
        if (g.recursive) set(r.head, "it is recursive");
        set(r.head, blocks_keeping(p, r));
      }
  for (const auto& r : p.transitions) set(r.head, blocks_keeping(p, r));
  for (const auto& f : p.facts) set(f.relation, "it has facts");
  for (const auto& rel : p.relations) {
    if (rel.kind != RelationKind::Scratch) {
      why[rel.id].clear();
      continue;
    }
    if (rel.keyed) set(rel.id, "it has a key or a lattice column");
    if (!derived[rel.id]) set(rel.id, "no rule derives it");
  }
  return why;
}

bool RulePlan::aggregates() const {
  for (const auto& c : columns)
    if (c.agg != AggKind::None) return true;
  return false;
}

const Relation* Program::find(const std::string& name) const {
  for (const auto& r : relations)
    if (r.name == name) return &r;
  return nullptr;
}

}  // namespace bloom::plan
