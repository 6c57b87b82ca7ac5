#include "plan/ir.h"

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
  static const char* n[] = {"table", "scratch", "channel", "input", "output", "periodic", "lattice", "stdout", "halt"};
  return n[static_cast<int>(k)];
}

bool Relation::has_lattice_column() const {
  for (const auto& t : column_types)
    if (t.is_lattice()) return true;
  return false;
}

const char* to_string(Op op) {
  static const char* n[] = {
      "const", "reg", "add", "sub", "mul", "div", "mod", "neg", "fadd", "fsub", "fmul", "fdiv", "fmod", "fneg", "float",
      "concat", "eq", "ne", "feq", "fne", "lt", "le", "gt", "ge", "flt", "fle", "fgt", "fge", "slt", "sle", "sgt", "sge",
      "and", "or", "not", "to_string", "to_string", "to_string", "to_string", "to_int", "to_int", "len", "substr", "hash",
      "least", "greatest", "least", "greatest", "least", "greatest", "self", "tick", "now",
      "lift", "value", "lattice_add", "threshold", "lattice_compare", "size", "contains", "union", "intersect",
      "at", "keys", "map_size", "lbool_and", "lbool_or"};
  static_assert(sizeof n / sizeof n[0] == static_cast<size_t>(Op::LBoolOr) + 1, "one name per opcode");
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
  static const char* n[] = {"", "count", "sum", "min", "max", "avg", "collect"};
  return n[static_cast<int>(k)];
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
