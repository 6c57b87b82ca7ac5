#include "plan/verify.h"

#include <algorithm>
#include <set>
#include <string_view>

namespace bloom::plan {
namespace {

bool symbol(const ValueType& t) { return t.is_symbol(); }
bool is(const ValueType& t, TypeKind k) { return t.kind == k; }

// What an opcode takes and gives. `args` is the argument count (-1: any); `operand` and `result`
// are checked when set (kAny: not checked here).
constexpr int kAny = -1;
struct Signature {
  int args;
  int operand;  // a TypeKind every argument has, kAny, or kSymbol (string or addr)
  int result;   // a TypeKind, kAny or kSymbol
};
constexpr int kSymbol = 100;
constexpr int kTruth = 101;  // bool, or lbool: a threshold on a lattice is lowered to a comparison of its word

Signature signature(Op op) {
  auto k = [](TypeKind t) { return static_cast<int>(t); };
  const int I = k(TypeKind::Int), F = k(TypeKind::Float), B = k(TypeKind::Bool), S = k(TypeKind::String);
  switch (op) {
    case Op::Const:
    case Op::Reg:
    case Op::Self:
    case Op::Tick:
    case Op::Now:
    case Op::Members: return {0, kAny, kAny};
    case Op::AddI:
    case Op::SubI:
    case Op::MulI:
    case Op::DivI:
    case Op::ModI:
    case Op::LeastI:
    case Op::GreatestI: return {2, I, I};
    case Op::NegI: return {1, I, I};
    case Op::AddF:
    case Op::SubF:
    case Op::MulF:
    case Op::DivF:
    case Op::ModF:
    case Op::LeastF:
    case Op::GreatestF: return {2, F, F};
    case Op::NegF: return {1, F, F};
    case Op::IntToFloat: return {1, I, F};
    case Op::Concat: return {2, kSymbol, kSymbol};
    case Op::Eq:
    case Op::Ne: return {2, kAny, kTruth};
    case Op::EqF:
    case Op::NeF:
    case Op::LtF:
    case Op::LeF:
    case Op::GtF:
    case Op::GeF: return {2, F, kTruth};
    case Op::LtI:
    case Op::LeI:
    case Op::GtI:
    case Op::GeI: return {2, I, kTruth};
    case Op::LtS:
    case Op::LeS:
    case Op::GtS:
    case Op::GeS: return {2, kSymbol, kTruth};
    case Op::LeastS:
    case Op::GreatestS: return {2, kSymbol, kSymbol};
    case Op::And:
    case Op::Or: return {2, B, B};
    case Op::Not: return {1, B, B};
    case Op::ToStrI: return {1, I, S};
    case Op::ToStrF: return {1, F, S};
    case Op::ToStrB: return {1, B, S};
    case Op::ToStrS: return {1, kSymbol, S};
    case Op::ToIntS: return {1, kSymbol, I};
    case Op::ToIntF: return {1, F, I};
    case Op::Len: return {1, kSymbol, I};
    case Op::Find: return {2, kSymbol, I};
    case Op::Substr: return {3, kAny, kSymbol};
    case Op::Hash: return {1, kAny, I};
    case Op::If: return {3, kAny, kAny};
    case Op::Lift:
    case Op::Reveal:
    case Op::LatWord:
    case Op::SetSize:
    case Op::MapKeys:
    case Op::MapSize: return {1, kAny, kAny};
    case Op::LatAdd:
    case Op::SetContains:
    case Op::SetUnion:
    case Op::SetIntersect:
    case Op::MapAt:
    case Op::MapOf:
    case Op::LatCovers:
    case Op::LBoolAnd:
    case Op::LBoolOr: return {2, kAny, kAny};
    case Op::SetOf: return {kAny, kAny, k(TypeKind::LSet)};
    case Op::LatThreshold:
    case Op::LatCompare: return {kAny, kAny, kAny};  // refused before the signature is read
  }
  return {kAny, kAny, kAny};
}

bool matches(const ValueType& t, int want) {
  if (want == kAny) return true;
  if (want == kSymbol) return symbol(t);
  if (want == kTruth) return t.kind == TypeKind::Bool || t.kind == TypeKind::LBool;
  return static_cast<int>(t.kind) == want;
}

class Verifier {
 public:
  explicit Verifier(const Program& p) : p_(p) {}

  std::vector<std::string> run() {
    relations();
    for (size_t i = 0; i < p_.facts.size(); ++i) fact(p_.facts[i]);
    for (size_t s = 0; s < p_.strata.size(); ++s) {
      for (const Seal& seal : p_.strata[s].seals) check_seal(seal);
      for (const Group& g : p_.strata[s].groups) {
        for (uint32_t r : g.relations)
          if (r >= p_.relations.size())
            problem("stratum " + std::to_string(s), "a group derives relation " + std::to_string(r) + ", which does not exist");
        for (const RulePlan& r : g.rules) rule(r, false);
        for (const RulePlan& r : g.deltas) rule(r, false);
        if (!g.recursive && !g.deltas.empty()) problem("stratum " + std::to_string(s), "a group that is not recursive has delta rules");
      }
    }
    for (const RulePlan& r : p_.transitions) rule(r, true);
    return std::move(problems_);
  }

 private:
  void problem(const std::string& where, const std::string& what) { problems_.push_back(where + ": " + what); }

  bool relation_id(uint32_t id) const { return id < p_.relations.size(); }

  void relations() {
    const auto& rels = p_.relations;
    if (rels.size() < 2 || rels[0].kind != RelationKind::Stdout || rels[1].kind != RelationKind::Halt) {
      problem("relations", "relations 0 and 1 must be stdout and halt");
      return;
    }
    for (uint32_t i = 0; i < rels.size(); ++i) {
      const Relation& r = rels[i];
      const std::string where = "relation `" + r.name + "`" + (r.where.empty() ? "" : " (" + r.where + ")");
      if (r.id != i) problem(where, "its id is " + std::to_string(r.id) + " at position " + std::to_string(i));
      if (r.column_names.size() != r.column_types.size())
        problem(where, std::to_string(r.column_names.size()) + " column names for " + std::to_string(r.column_types.size()) + " columns");
      for (const auto& t : r.column_types) type(where, t);
      columns(where, "key", r.key, r.arity());
      for (const auto& ix : r.indexes) {
        columns(where, "index", ix, r.arity());
      }
      if (r.location >= 0 &&
          (static_cast<uint32_t>(r.location) >= r.arity() || !is(r.column_types[static_cast<size_t>(r.location)], TypeKind::Addr)))
        problem(where, "its `@` column " + std::to_string(r.location) + " is not an addr column");
      if (r.location >= 0 && r.kind != RelationKind::Channel) problem(where, "an `@` column outside a channel");
      if (r.stream && (r.kind != RelationKind::Channel || r.keyed)) problem(where, "a stream that is not a channel without a key");
      if (r.delay_column >= 0 && (r.kind != RelationKind::Delay || static_cast<uint32_t>(r.delay_column) >= r.arity() ||
                                  !is(r.column_types[static_cast<size_t>(r.delay_column)], TypeKind::Int)))
        problem(where, "its delay column " + std::to_string(r.delay_column) + " is not an int column of a delay");
    }
  }

  void type(const std::string& where, const ValueType& t) {
    size_t want = t.kind == TypeKind::LMap ? 2 : (t.kind == TypeKind::LMax || t.kind == TypeKind::LMin || t.kind == TypeKind::LSet) ? 1 : 0;
    if (t.args.size() != want) problem(where, "type " + t.str() + " has " + std::to_string(t.args.size()) + " type arguments");
    if (t.kind == TypeKind::LMap && t.args.size() == 2 && !t.args[1].is_lattice()) problem(where, "an lmap whose values are not a lattice");
  }

  void columns(const std::string& where, const char* what, const std::vector<uint32_t>& cols, uint32_t arity) {
    std::set<uint32_t> seen;
    for (uint32_t c : cols) {
      if (c >= arity) problem(where, std::string(what) + " column " + std::to_string(c) + " of " + std::to_string(arity));
      if (!seen.insert(c).second) problem(where, std::string(what) + " column " + std::to_string(c) + " twice");
    }
  }

  void fact(const Fact& f) {
    const std::string where = "fact" + (f.where.empty() ? "" : " (" + f.where + ")");
    if (!relation_id(f.relation)) {
      problem(where, "relation " + std::to_string(f.relation) + " does not exist");
      return;
    }
    uint32_t arity = p_.relations[f.relation].arity();
    if (f.values.size() != arity) problem(where, std::to_string(f.values.size()) + " values for " + std::to_string(arity) + " columns");
    if (f.is_self.size() != f.values.size())
      problem(where, "is_self has " + std::to_string(f.is_self.size()) + " entries for " + std::to_string(f.values.size()) + " values");
    for (const auto& [column, e] : f.built) {
      if (column >= arity) problem(where, "a built value for column " + std::to_string(column) + " of " + std::to_string(arity));
      else if (!(e.type == p_.relations[f.relation].column_types[column]))
        problem(where,
                "a built value of type " + e.type.str() + " for a column of type " + p_.relations[f.relation].column_types[column].str());
      std::vector<bool> none;
      expr(where, e, none);
    }
  }

  void check_seal(const Seal& s) {
    const std::string where = "seal" + (s.where.empty() ? "" : " (" + s.where + ")");
    if (!relation_id(s.sealed) || !relation_id(s.punct) || !relation_id(s.view) || !relation_id(s.released)) {
      problem(where, "names a relation that does not exist");
      return;
    }
    if (s.key.size() != s.punct_key.size()) problem(where, "partition columns and seal columns differ in number");
    columns(where, "partition", s.key, p_.relations[s.sealed].arity());
    columns(where, "seal", s.punct_key, p_.relations[s.punct].arity());
    const Relation& punct = p_.relations[s.punct];
    if (s.count >= punct.arity() || !is(punct.column_types[s.count], TypeKind::Int))
      problem(where, "its count column is not an int column of the seals");
    if (!p_.relations[s.released].released_keys) problem(where, "its released keys are in a relation not marked released_keys");
    if (p_.relations[s.view].arity() != p_.relations[s.sealed].arity()) problem(where, "its view and the sealed relation differ in width");
  }

  void rule(const RulePlan& r, bool transition) {
    const std::string where = "rule" + (r.where.empty() ? "" : " " + r.where) + (r.text.empty() ? "" : " `" + r.text + "`");
    if (r.rule >= p_.rule_count) problem(where, "rule number " + std::to_string(r.rule) + " of " + std::to_string(p_.rule_count));
    if (!relation_id(r.head)) {
      problem(where, "its head relation " + std::to_string(r.head) + " does not exist");
      return;
    }
    if (transition == (r.op == HeadOp::Insert))
      problem(where, std::string("a `") + to_string(r.op) + "` rule " + (transition ? "among the transitions" : "in a group"));
    const Relation& head = p_.relations[r.head];
    std::vector<bool> bound(r.registers, false);
    for (size_t i = 0; i < r.steps.size(); ++i) step(where + ", step " + std::to_string(i + 1), r.steps[i], bound);
    if (r.delta_atom >= 0 && static_cast<size_t>(r.delta_atom) >= r.steps.size())
      problem(where, "delta atom " + std::to_string(r.delta_atom) + " of " + std::to_string(r.steps.size()) + " steps");
    if (r.columns.size() != head.arity())
      problem(where, std::to_string(r.columns.size()) + " head columns for `" + head.name + "` of " + std::to_string(head.arity()));
    for (size_t c = 0; c < r.columns.size(); ++c) {
      const HeadColumn& h = r.columns[c];
      const std::string at = where + ", head column " + std::to_string(c + 1);
      if (h.agg != AggKind::Count) expr(at, h.value, bound);
      if (h.agg == AggKind::ArgMax || h.agg == AggKind::ArgMin) {
        expr(at, h.key, bound);
        if (h.tie >= r.columns.size())
          problem(at, "tie group led by column " + std::to_string(h.tie) + " of " + std::to_string(r.columns.size()));
      }
    }
    for (const RulePlan& v : r.variants) rule(v, transition);
  }

  void step(const std::string& where, const Step& s, std::vector<bool>& bound) {
    switch (s.kind) {
      case StepKind::Scan:
      case StepKind::Lookup:
      case StepKind::AntiJoin: {
        if (!relation_id(s.relation)) {
          problem(where, "relation " + std::to_string(s.relation) + " does not exist");
          return;
        }
        const Relation& rel = p_.relations[s.relation];
        if (s.kind != StepKind::Scan) {
          size_t width = 0;
          if (s.index == kKeyIndex) width = rel.key.size();
          else if (s.index >= 0 && static_cast<size_t>(s.index) < rel.indexes.size())
            width = rel.indexes[static_cast<size_t>(s.index)].size();
          else
            problem(where, "index " + std::to_string(s.index) + " of `" + rel.name + "`, which has " + std::to_string(rel.indexes.size()));
          if (width && s.key.size() != width)
            problem(where, std::to_string(s.key.size()) + " key values for an index of " + std::to_string(width) + " columns");
          for (const Expr& k : s.key) expr(where, k, bound);
        }
        if (s.kind == StepKind::AntiJoin) {
          if (!s.bind.empty() && s.bind.size() != rel.arity())
            problem(where, "a negation binds " + std::to_string(s.bind.size()) + " columns");
          for (int32_t b : s.bind)
            if (b >= 0) problem(where, "a negation binds register " + std::to_string(b));
          return;
        }
        if (s.bind.size() != rel.arity()) {
          problem(where, std::to_string(s.bind.size()) + " bindings for `" + rel.name + "` of " + std::to_string(rel.arity()) + " columns");
          return;
        }
        for (int32_t b : s.bind) {
          if (b < -1 || (b >= 0 && static_cast<size_t>(b) >= bound.size()))
            problem(where, "binds register " + std::to_string(b) + " of " + std::to_string(bound.size()));
          else if (b >= 0) bound[static_cast<size_t>(b)] = true;
        }
        for (auto [column, reg] : s.equal) {
          if (column >= rel.arity()) problem(where, "compares column " + std::to_string(column) + " of " + std::to_string(rel.arity()));
          if (reg >= bound.size() || !bound[reg]) problem(where, "compares with register " + std::to_string(reg) + ", which is not bound");
        }
        return;
      }
      case StepKind::Filter:
        expr(where, s.expr, bound);
        if (!is(s.expr.type, TypeKind::Bool) && !is(s.expr.type, TypeKind::LBool)) problem(where, "a filter of type " + s.expr.type.str());
        return;
      case StepKind::Assign:
      case StepKind::InSet:
        expr(where, s.expr, bound);
        if (s.kind == StepKind::InSet && !is(s.expr.type, TypeKind::LSet)) problem(where, "`in` over a value of type " + s.expr.type.str());
        if (s.target >= bound.size())
          problem(where, "assigns register " + std::to_string(s.target) + " of " + std::to_string(bound.size()));
        else bound[s.target] = true;
        return;
    }
    problem(where, "a step of unknown kind");
  }

  void expr(const std::string& where, const Expr& e, const std::vector<bool>& bound) {
    if (e.op == Op::LatThreshold || e.op == Op::LatCompare) {
      problem(where, std::string("opcode ") + to_string(e.op) + " is left for the engine (the planner lowers it)");
      return;
    }
    Signature sig = signature(e.op);
    if (sig.args != kAny && e.args.size() != static_cast<size_t>(sig.args)) {
      problem(where, std::string(to_string(e.op)) + " with " + std::to_string(e.args.size()) +
                         (e.args.size() == 1 ? " argument" : " arguments") + ", expected " + std::to_string(sig.args));
      return;
    }
    if (e.op == Op::Reg && (e.reg >= bound.size() || !bound[e.reg]))
      problem(where, "reads register " + std::to_string(e.reg) + ", which is not bound before");
    if (e.op == Op::Const && !e.type.is_lattice()) {
      bool ok = std::visit(
          [&](const auto& v) {
            using T = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<T, int64_t>) return is(e.type, TypeKind::Int);
            else if constexpr (std::is_same_v<T, double>) return is(e.type, TypeKind::Float);
            else if constexpr (std::is_same_v<T, std::string>) return symbol(e.type);
            else return is(e.type, TypeKind::Bool);
          },
          e.value);
      if (!ok) problem(where, "a constant " + constant_str(e.value) + " of type " + e.type.str());
    }
    for (const Expr& a : e.args) {
      if (!matches(a.type, sig.operand)) problem(where, std::string(to_string(e.op)) + " of an operand of type " + a.type.str());
      expr(where, a, bound);
    }
    if (!matches(e.type, sig.result)) problem(where, std::string(to_string(e.op)) + " giving a value of type " + e.type.str());
    if ((e.op == Op::Eq || e.op == Op::Ne) && e.args.size() == 2 && e.args[0].type.kind != e.args[1].type.kind &&
        !(symbol(e.args[0].type) && symbol(e.args[1].type)))
      problem(where, std::string(to_string(e.op)) + " of " + e.args[0].type.str() + " and " + e.args[1].type.str());
    if (e.op == Op::If && e.args.size() == 3 && !(is(e.args[0].type, TypeKind::Bool) || is(e.args[0].type, TypeKind::LBool)))
      problem(where, "if on a condition of type " + e.args[0].type.str());
  }

  const Program& p_;
  std::vector<std::string> problems_;
};

}  // namespace

std::vector<std::string> verify(const Program& program) { return Verifier(program).run(); }

}  // namespace bloom::plan
