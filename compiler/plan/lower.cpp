#include "plan/lower.h"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <set>
#include <stdexcept>
#include <string>

namespace bloom::plan {

using ST = sema::TypeKind;

ValueType plan_type(const sema::Type& t) {
  ValueType v;
  switch (t.kind) {
    case ST::Error:
    case ST::Int: v.kind = plan::TypeKind::Int; break;
    case ST::Float: v.kind = plan::TypeKind::Float; break;
    case ST::String: v.kind = plan::TypeKind::String; break;
    case ST::Bool: v.kind = plan::TypeKind::Bool; break;
    case ST::Addr: v.kind = plan::TypeKind::Addr; break;
    case ST::LMax: v.kind = plan::TypeKind::LMax; break;
    case ST::LMin: v.kind = plan::TypeKind::LMin; break;
    case ST::LBool: v.kind = plan::TypeKind::LBool; break;
    case ST::LSet: v.kind = plan::TypeKind::LSet; break;
    case ST::LMap: v.kind = plan::TypeKind::LMap; break;
  }
  for (const auto& a : t.args) v.args.push_back(plan_type(a));
  return v;
}

namespace {

using K = plan::TypeKind;

// A failure the checker should have caught: lowering stops and reports it as an internal error.
struct LowerError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

ValueType scalar(K k) { return ValueType{k, {}}; }
bool is_float(const ValueType& t) { return t.kind == K::Float; }
bool is_symbol(const ValueType& t) { return t.kind == K::String || t.kind == K::Addr; }

// What `value()` gives (lmax<T> -> T, lbool -> bool; sets and maps stay themselves).
ValueType revealed(const ValueType& t) {
  switch (t.kind) {
    case K::LMax:
    case K::LMin: return t.args[0];
    case K::LBool: return scalar(K::Bool);
    default: return t;
  }
}

// A new node's arguments, moved in. With a std::vector<Expr> parameter, make(op, t, {a, b}) built
// the vector from an initializer_list, whose elements are const, so every argument was copied,
// and each level of a nested expression copied the whole tree below it: lowering a chain of 1,000
// `+` took 3 s in the sanitizer build (found by bloom_fuzz). Implicit on purpose, so that call
// sites keep the braces.
struct Args {
  std::vector<Expr> all;
  Args() = default;
  Args(std::vector<Expr> v) : all(std::move(v)) {}
  Args(Expr a) { all.push_back(std::move(a)); }
  Args(Expr a, Expr b) {
    all.reserve(2);
    all.push_back(std::move(a));
    all.push_back(std::move(b));
  }
  Args(Expr a, Expr b, Expr c) {
    all.reserve(3);
    all.push_back(std::move(a));
    all.push_back(std::move(b));
    all.push_back(std::move(c));
  }
};

Expr make(Op op, ValueType type, Args args = {}) {
  Expr e;
  e.op = op;
  e.type = std::move(type);
  e.args = std::move(args.all);
  return e;
}

Expr constant(const sema::ConstValue& v) {
  Expr e;
  e.op = Op::Const;
  if (auto* i = std::get_if<int64_t>(&v)) {
    e.value = *i;
    e.type = scalar(K::Int);
  } else if (auto* d = std::get_if<double>(&v)) {
    e.value = *d;
    e.type = scalar(K::Float);
  } else if (auto* s = std::get_if<std::string>(&v)) {
    e.value = *s;
    e.type = scalar(K::String);
  } else if (auto* b = std::get_if<bool>(&v)) {
    e.value = *b;
    e.type = scalar(K::Bool);
  } else {
    throw LowerError("a param used by a rule has no value");
  }
  return e;
}

// Converts `e` to type `to` where the checker allows it implicitly: int -> float, plain ->
// lattice (a lift), lattice -> plain (a reveal), string <-> addr.
Expr convert(Expr e, const ValueType& to) {
  if (e.type == to) return e;
  if (to.is_lattice() && !e.type.is_lattice()) {
    ValueType elem = to.kind == K::LBool ? scalar(K::Bool) : to.kind == K::LMap ? e.type : to.args[0];
    return make(Op::Lift, to, {convert(std::move(e), elem)});
  }
  if (e.type.is_lattice() && !to.is_lattice()) {
    ValueType r = revealed(e.type);
    return convert(make(Op::Reveal, r, {std::move(e)}), to);
  }
  if (e.type.kind == K::Int && to.kind == K::Float) return make(Op::IntToFloat, to, {std::move(e)});
  if (is_symbol(e.type) && is_symbol(to)) {
    e.type = to;
    return e;
  }
  if (e.type.kind == K::Bool && to.kind == K::LBool) {
    e.type = to;
    return e;
  }
  e.type = to;  // lattices of the same kind with converted elements (lmax<int> into lmax<float> never checks)
  return e;
}

std::string trim_lines(const SourceManager& sm, const Span& s) {
  if (!s.valid()) return "";
  const SourceFile& f = sm.file(s.file);
  std::string out;
  for (uint32_t l = s.line; l <= s.end_line && l <= f.line_count(); ++l) {
    std::string_view line = f.line(l);
    size_t from = l == s.line ? s.col - 1 : 0;
    size_t to = l == s.end_line ? std::min<size_t>(s.end_col - 1, line.size()) : line.size();
    if (from > line.size()) from = line.size();
    if (to < from) to = from;
    std::string_view part = line.substr(from, to - from);
    while (!part.empty() && (part.front() == ' ' || part.front() == '\t')) part.remove_prefix(1);
    if (!out.empty() && !part.empty()) out += ' ';
    out += part;
  }
  while (!out.empty() && (out.back() == ' ' || out.back() == '\t' || out.back() == '\r')) out.pop_back();
  return out;
}

class Lowerer {
 public:
  Lowerer(const sema::Program& p, const analysis::Strata& s, const SourceManager& sm) : prog_(p), strata_(s), sm_(sm) {}

  std::unique_ptr<Program> run() {
    out_ = std::make_unique<Program>();
    out_->rule_count = static_cast<uint32_t>(prog_.rules.size());
    if (!prog_.modules.empty()) out_->source = sm_.file(prog_.modules[0]->file).path;
    relations();
    facts();
    for (size_t s = 0; s < strata_.count(); ++s) stratum(strata_.rules[s]);
    for (uint32_t r : strata_.transition_rules) out_->transitions.push_back(lower_rule(r, -1, {}));
    for (const auto& r : prog_.rules) out_->uses_now |= r.uses_now;
    across_ticks();
    mark_streams();
    return std::move(out_);
  }

 private:
  // ------------------------------------------------------------ relations and facts
  void relations() {
    for (const auto& c : prog_.collections) {
      Relation r;
      r.id = c.id;
      r.name = c.name;
      r.kind = static_cast<RelationKind>(static_cast<int>(c.kind));
      for (const auto& col : c.columns) {
        r.column_names.push_back(col.name);
        r.column_types.push_back(plan_type(col.type));
      }
      bool lattice_cols = false;
      for (const auto& t : r.column_types) lattice_cols |= t.is_lattice();
      r.keyed = c.keyed || lattice_cols;
      if (c.keyed) {
        r.key = c.key;
      } else {
        for (uint32_t i = 0; i < r.arity(); ++i)
          if (!r.column_types[i].is_lattice()) r.key.push_back(i);
      }
      r.location = c.location;
      r.period_ms = c.period_ms;
      r.delay_column = c.delay_column;
      r.durable = c.durable;
      if (c.span.valid()) r.where = sm_.location(c.span);
      out_->relations.push_back(std::move(r));
    }
    // Per seal, the keys of its released partitions (plan::Relation::released_keys).
    for (const auto& s : prog_.seals) {
      const Relation& sealed = out_->relations[s.sealed];
      Relation r;
      r.id = static_cast<uint32_t>(out_->relations.size());
      r.name = sealed.name + "[released]";
      r.kind = RelationKind::Table;
      for (uint32_t i = 0; i < s.key.size(); ++i) {
        r.column_names.push_back(sealed.column_names[s.key[i]]);
        r.column_types.push_back(sealed.column_types[s.key[i]]);
        r.key.push_back(i);
      }
      r.released_keys = true;
      r.where = out_->relations[s.view].where;
      released_.push_back(r.id);
      out_->relations.push_back(std::move(r));
    }
  }

  void facts() {
    for (const auto& f : prog_.facts) {
      Fact out;
      out.relation = f.collection;
      const Relation& rel = out_->relations[f.collection];
      for (size_t i = 0; i < f.values.size(); ++i) {
        const auto& v = f.values[i];
        ValueType col = i < rel.arity() ? rel.column_types[i] : scalar(K::Int);
        ValueType elem = col.is_lattice() && !col.args.empty() ? col.args[0] : col;
        bool self = std::holds_alternative<std::monostate>(v);
        out.is_self.push_back(self);
        if (self) out.values.emplace_back(std::string());
        else if (auto* n = std::get_if<int64_t>(&v); n && elem.kind == K::Float) out.values.emplace_back(static_cast<double>(*n));
        else if (auto* n2 = std::get_if<int64_t>(&v)) out.values.emplace_back(*n2);
        else if (auto* d = std::get_if<double>(&v)) out.values.emplace_back(*d);
        else if (auto* s = std::get_if<std::string>(&v)) out.values.emplace_back(*s);
        else out.values.emplace_back(std::get<bool>(v));
      }
      if (f.ast)
        for (size_t i = 0; i < f.ast->atom.args.size() && i < rel.arity(); ++i) {
          const ast::Expr& a = *f.ast->atom.args[i].expr;
          if (a.kind != ast::ExprKind::Call || a.name.qualified() || !sema::is_lattice_constructor(a.name.str())) continue;
          sema::CheckedRule none;  // the fact's module instance, for its consts and params
          none.instance = f.instance;
          RuleState st;
          st.rule = &none;
          out.built.emplace_back(static_cast<uint32_t>(i), convert(lower_expr(st, a), rel.column_types[i]));
          out.is_self[i] = false;
        }
      out.where = f.ast ? sm_.location(f.ast->span) : "";
      out_->facts.push_back(std::move(out));
    }
  }

  // ------------------------------------------------------------ strata and groups
  void stratum(const std::vector<uint32_t>& rules) {
    // One group per strongly connected component of heads; components are numbered in reverse
    // topological order, so higher numbers are evaluated first.
    std::map<uint32_t, std::vector<uint32_t>, std::greater<>> by_scc;
    Stratum st;
    for (uint32_t r : rules) {
      if (prog_.rules[r].seal >= 0) {
        st.seals.push_back(seal(prog_.rules[r]));
        continue;
      }
      by_scc[strata_.scc_of[prog_.rules[r].head]].push_back(r);
    }
    for (auto& [scc, members] : by_scc) {
      Group g;
      std::set<uint32_t> rels;
      for (uint32_t r : members) {
        rels.insert(prog_.rules[r].head);
        g.recursive |= strata_.recursive[prog_.rules[r].head];
      }
      g.relations.assign(rels.begin(), rels.end());
      for (uint32_t r : members) {
        g.rules.push_back(lower_rule(r, -1, rels));
        if (!g.recursive) continue;
        const auto& body = prog_.rules[r].ast->body;
        for (const auto& in : prog_.rules[r].inputs)
          if (!in.negated && rels.count(in.collection) && body[in.literal].kind == ast::LiteralKind::Positive)
            g.deltas.push_back(lower_rule(r, static_cast<int32_t>(in.literal), rels));
      }
      st.groups.push_back(std::move(g));
    }
    out_->strata.push_back(std::move(st));
  }

  // A seal's release rule (sema synthesizes one per seal) is a release step, not a pipeline.
  Seal seal(const sema::CheckedRule& rule) const {
    const sema::Seal& s = prog_.seals[static_cast<size_t>(rule.seal)];
    Seal out;
    out.sealed = s.sealed;
    out.punct = s.punct;
    out.view = s.view;
    out.key = s.key;
    out.punct_key = s.punct_key;
    out.count = s.count;
    out.released = released_[static_cast<size_t>(rule.seal)];
    out.where = sm_.location(s.ast->span);
    out.text = trim_lines(sm_, s.ast->span);
    return out;
  }

  // ------------------------------------------------------------ one rule
  struct RuleState {
    const sema::CheckedRule* rule = nullptr;
    std::map<std::string, uint32_t> regs;
    std::set<std::string> bound;
    uint32_t next_reg = 0;
    bool distinct_matches = false;                           // aggregates: every atom column is bound, wildcards too
    std::map<uint32_t, sema::CollectionId> atom_collection;  // body literal -> collection
    // Equalities left over from atom arguments that are expressions of variables not yet bound.
    std::vector<std::pair<uint32_t, const ast::Expr*>> late_equalities;
    std::vector<bool> late_placed;
    const std::vector<Version>* versions = nullptr;  // a variant across ticks: per body literal
  };

  uint32_t reg_of(RuleState& st, const std::string& v) {
    auto [it, fresh] = st.regs.try_emplace(v, st.next_reg);
    if (fresh) ++st.next_reg;
    return it->second;
  }

  bool is_variable(const RuleState& st, const ast::Expr& e) const {
    if (e.kind != ast::ExprKind::Name || e.name.qualified()) return false;
    sema::ConstValue v;
    return !prog_.constant(st.rule->instance, e.name, v);
  }

  void vars_of(const RuleState& st, const ast::Expr& e, std::set<std::string>& out) const {
    if (e.kind == ast::ExprKind::Name) {
      if (is_variable(st, e)) out.insert(e.name.parts[0]);
      return;
    }
    for (const auto& a : e.args) vars_of(st, *a, out);
  }

  bool all_bound(const RuleState& st, const ast::Expr& e) const {
    std::set<std::string> vs;
    vars_of(st, e, vs);
    for (const auto& v : vs)
      if (!st.bound.count(v)) return false;
    return true;
  }

  ValueType type_of(const RuleState& st, const ast::Expr& e) const {
    if (const sema::Type* t = prog_.expr_types.find(&e)) return plan_type(*t);
    if (e.kind == ast::ExprKind::Name)
      if (auto it = st.rule->variables.find(e.name.parts[0]); it != st.rule->variables.end()) return plan_type(it->second);
    throw LowerError("no type recorded for an expression");
  }

  Expr lower_expr(RuleState& st, const ast::Expr& e) {
    using ast::ExprKind;
    switch (e.kind) {
      case ExprKind::Int:
      case ExprKind::Duration: return constant(sema::ConstValue{e.int_value});
      case ExprKind::Float: return constant(sema::ConstValue{e.float_value});
      case ExprKind::String: return constant(sema::ConstValue{e.text});
      case ExprKind::Bool: return constant(sema::ConstValue{e.bool_value});
      case ExprKind::Wildcard: throw LowerError("`_` inside an expression");
      case ExprKind::Name: {
        sema::ConstValue v;
        if (prog_.constant(st.rule->instance, e.name, v)) {
          ValueType want = type_of(st, e);
          if (want.kind == K::LSet) return set_param(v, want);
          Expr c = constant(v);
          return convert(std::move(c), want);
        }
        Expr r = make(Op::Reg, type_of(st, e));
        r.reg = reg_of(st, e.name.parts[0]);
        return r;
      }
      case ExprKind::Unary: {
        Expr a = lower_expr(st, *e.args[0]);
        ValueType t = type_of(st, e);
        if (e.unary_op == ast::UnaryOp::Neg) return make(is_float(a.type) ? Op::NegF : Op::NegI, a.type, {std::move(a)});
        return make(Op::Not, t, {convert(std::move(a), scalar(K::Bool))});
      }
      case ExprKind::Binary: return binary(st, e);
      case ExprKind::Call: return call(st, e);
      case ExprKind::Method: return method(st, e);
    }
    throw LowerError("unknown expression");
  }

  // An lset param: the elements of its text, separated by commas (sema checked them; unset is
  // empty), as one SetOf of constants, which the engine folds into one set at load.
  static Expr set_param(const sema::ConstValue& v, const ValueType& t) {
    const ValueType& elem = t.args[0];
    std::vector<std::string> texts;
    if (auto* s = std::get_if<std::string>(&v); s && !s->empty())
      for (size_t at = 0; at <= s->size();) {
        size_t end = std::min(s->find(',', at), s->size());
        texts.push_back(s->substr(at, end - at));
        at = end + 1;
      }
    auto element = [&](const std::string& text) {
      Expr c;
      c.op = Op::Const;
      c.type = elem;
      switch (elem.kind) {
        case K::Int: c.value = int64_t{std::stoll(text)}; break;
        case K::Float: c.value = std::strtod(text.c_str(), nullptr); break;
        case K::Bool: c.value = text == "true"; break;
        default: c.value = text; break;
      }
      return c;
    };
    std::vector<Expr> elements;
    for (const auto& text : texts) elements.push_back(element(text));
    return make(Op::SetOf, t, std::move(elements));
  }

  Expr binary(RuleState& st, const ast::Expr& e) {
    using B = ast::BinaryOp;
    Expr a = lower_expr(st, *e.args[0]);
    Expr b = lower_expr(st, *e.args[1]);
    ValueType t = type_of(st, e);
    switch (e.binary_op) {
      case B::Add:
      case B::Sub:
      case B::Mul:
      case B::Div:
      case B::Mod: {
        if (t.kind == K::LMax || t.kind == K::LMin) {  // lattice + c: monotone, bottom stays bottom
          if (!a.type.is_lattice()) std::swap(a, b);
          ValueType elem = t.args[0];
          return make(Op::LatAdd, t, {std::move(a), convert(std::move(b), elem)});
        }
        if (t.kind == K::String) return make(Op::Concat, t, {convert(std::move(a), t), convert(std::move(b), t)});
        bool f = is_float(t);
        static const Op ints[] = {Op::AddI, Op::SubI, Op::MulI, Op::DivI, Op::ModI};
        static const Op floats[] = {Op::AddF, Op::SubF, Op::MulF, Op::DivF, Op::ModF};
        Op op = (f ? floats : ints)[static_cast<int>(e.binary_op)];
        return make(op, t, {convert(std::move(a), t), convert(std::move(b), t)});
      }
      case B::And:
      case B::Or:
        return make(e.binary_op == B::And ? Op::And : Op::Or, t,
                    {convert(std::move(a), scalar(K::Bool)), convert(std::move(b), scalar(K::Bool))});
      default: break;
    }
    // Comparisons: compare revealed values (for lattices a threshold and a reveal compare the
    // same words; the type says whether the result is a growing lbool or a plain bool).
    ValueType ta = revealed(a.type), tb = revealed(b.type);
    if (t.kind == K::LBool) {  // a threshold: bottom is below (lmin: above) every value, not "no value"
      if (a.type.is_lattice()) a = make(Op::LatWord, ta, {std::move(a)});
      if (b.type.is_lattice()) b = make(Op::LatWord, tb, {std::move(b)});
    }
    ValueType common = ta;
    if (ta.kind == K::Float || tb.kind == K::Float) common = scalar(K::Float);
    else if (is_symbol(ta)) common = scalar(K::String);
    a = convert(std::move(a), common);
    b = convert(std::move(b), common);
    int which = static_cast<int>(e.binary_op) - static_cast<int>(B::Eq);  // Eq Ne Lt Le Gt Ge
    Op op;
    if (which <= 1) op = common.kind == K::Float ? (which == 0 ? Op::EqF : Op::NeF) : (which == 0 ? Op::Eq : Op::Ne);
    else if (common.kind == K::Float) op = static_cast<Op>(static_cast<int>(Op::LtF) + which - 2);
    else if (is_symbol(common)) op = static_cast<Op>(static_cast<int>(Op::LtS) + which - 2);
    else op = static_cast<Op>(static_cast<int>(Op::LtI) + which - 2);
    return make(op, t, {std::move(a), std::move(b)});
  }

  Expr call(RuleState& st, const ast::Expr& e) {
    const std::string f = e.name.str();
    ValueType t = type_of(st, e);
    std::vector<Expr> args;
    for (const auto& a : e.args) args.push_back(lower_expr(st, *a));
    if (f == "self") return make(Op::Self, t);
    if (f == "members") return make(Op::Members, t);
    if (f == "tick") return make(Op::Tick, t);
    if (f == "now") return make(Op::Now, t);
    if (!e.name.qualified() && sema::is_lattice_constructor(f)) {
      // The checker typed the constructor from its column: convert its arguments into it.
      if (f == "lmap") return make(Op::MapOf, t, {convert(std::move(args[0]), t.args[0]), convert(std::move(args[1]), t.args[1])});
      if (f == "lset") {
        for (auto& a : args) a = convert(std::move(a), t.args[0]);
        return make(Op::SetOf, t, std::move(args));
      }
      return convert(std::move(args[0]), t);
    }
    if (!args.empty() && args[0].type.is_lattice() && f != "hash") args[0] = convert(std::move(args[0]), revealed(args[0].type));
    if (f == "to_string") {
      K k = args[0].type.kind;
      Op op = k == K::Int ? Op::ToStrI : k == K::Float ? Op::ToStrF : k == K::Bool ? Op::ToStrB : Op::ToStrS;
      return make(op, t, std::move(args));
    }
    if (f == "if") return make(Op::If, t, {std::move(args[0]), convert(std::move(args[1]), t), convert(std::move(args[2]), t)});
    if (f == "to_int") {
      K k = args[0].type.kind;
      if (k == K::Int) return std::move(args[0]);
      if (k == K::Bool)
        return make(Op::If, t, {std::move(args[0]), constant(sema::ConstValue{int64_t{1}}), constant(sema::ConstValue{int64_t{0}})});
      return make(k == K::Float ? Op::ToIntF : Op::ToIntS, t, std::move(args));
    }
    if (f == "len") return make(Op::Len, t, std::move(args));
    if (f == "find") return make(Op::Find, t, std::move(args));
    if (f == "substr")
      return make(Op::Substr, t,
                  {std::move(args[0]), convert(std::move(args[1]), scalar(K::Int)), convert(std::move(args[2]), scalar(K::Int))});
    if (f == "hash") return make(Op::Hash, t, std::move(args));
    if (f == "least" || f == "greatest") {
      bool least = f == "least";
      ValueType common = t;
      Op op = is_float(common)    ? (least ? Op::LeastF : Op::GreatestF)
              : is_symbol(common) ? (least ? Op::LeastS : Op::GreatestS)
                                  : (least ? Op::LeastI : Op::GreatestI);
      return make(op, t, {convert(std::move(args[0]), common), convert(std::move(args[1]), common)});
    }
    throw LowerError("unknown function " + f);
  }

  Expr method(RuleState& st, const ast::Expr& e) {
    const std::string& m = e.text;
    ValueType t = type_of(st, e);
    Expr recv = lower_expr(st, *e.args[0]);
    std::vector<Expr> args;
    for (size_t i = 1; i < e.args.size(); ++i) args.push_back(lower_expr(st, *e.args[i]));
    ValueType rt = recv.type;
    if (m == "value") return make(Op::Reveal, t, {std::move(recv)});
    if (m == "size") return make(rt.kind == K::LMap ? Op::MapSize : Op::SetSize, t, {std::move(recv)});
    if (m == "contains") return make(Op::SetContains, t, {std::move(recv), convert(std::move(args[0]), rt.args[0])});
    if (m == "union" || m == "intersect")
      return make(m == "union" ? Op::SetUnion : Op::SetIntersect, t, {std::move(recv), convert(std::move(args[0]), rt)});
    if (m == "at") return make(Op::MapAt, t, {std::move(recv), convert(std::move(args[0]), rt.args[0])});
    if (m == "keys") return make(Op::MapKeys, t, {std::move(recv)});
    if (m == "covers") return make(Op::LatCovers, t, {std::move(recv), convert(std::move(args[0]), rt)});
    throw LowerError("unknown method " + m);
  }

  // Registers an index on `cols` (sorted) of relation `rel`, or picks the key index when the
  // columns are exactly the key. Returns the index and fills `order` with the columns in the
  // order the step's key values must come.
  int32_t choose_index(uint32_t rel, std::vector<uint32_t> cols, std::vector<uint32_t>& order) {
    Relation& r = out_->relations[rel];
    std::sort(cols.begin(), cols.end());
    std::vector<uint32_t> key = r.key;
    std::sort(key.begin(), key.end());
    if (!cols.empty() && cols == key) {
      order = r.key;
      return kKeyIndex;
    }
    order = cols;
    for (size_t i = 0; i < r.indexes.size(); ++i)
      if (r.indexes[i] == cols) return static_cast<int32_t>(i);
    r.indexes.push_back(cols);
    return static_cast<int32_t>(r.indexes.size() - 1);
  }

  void place_atom(RuleState& st, RulePlan& plan, const ast::BodyLiteral& lit, uint32_t li, Version version) {
    uint32_t rel = st.atom_collection.at(li);
    const Relation& r = out_->relations[rel];
    Step step;
    step.relation = rel;
    step.version = version;
    step.bind.assign(r.arity(), -1);
    step.text = trim_lines(sm_, lit.span);
    std::vector<uint32_t> key_cols;
    std::map<uint32_t, Expr> key_values;
    std::set<std::string> here;  // variables first bound by this atom
    for (uint32_t c = 0; c < lit.atom.args.size() && c < r.arity(); ++c) {
      const ast::Expr& a = *lit.atom.args[c].expr;
      if (a.kind == ast::ExprKind::Wildcard) {
        if (st.distinct_matches) step.bind[c] = static_cast<int32_t>(st.next_reg++);
        continue;
      }
      if (is_variable(st, a)) {
        const std::string& v = a.name.parts[0];
        if (st.bound.count(v)) {
          Expr reg = make(Op::Reg, type_of(st, a));
          reg.reg = reg_of(st, v);
          key_cols.push_back(c);
          key_values[c] = convert(std::move(reg), r.column_types[c]);
        } else if (here.count(v)) {
          step.equal.emplace_back(c, reg_of(st, v));
        } else {
          step.bind[c] = static_cast<int32_t>(reg_of(st, v));
          here.insert(v);
        }
        continue;
      }
      if (all_bound(st, a)) {
        key_cols.push_back(c);
        key_values[c] = convert(lower_expr(st, a), r.column_types[c]);
      } else {  // bind a temporary and compare once the expression's variables are bound
        uint32_t tmp = st.next_reg++;
        step.bind[c] = static_cast<int32_t>(tmp);
        st.late_equalities.emplace_back(tmp, &a);
        st.late_placed.push_back(false);
      }
    }
    if (key_cols.empty()) {
      step.kind = StepKind::Scan;
    } else {
      step.kind = StepKind::Lookup;
      std::vector<uint32_t> order;
      step.index = choose_index(rel, key_cols, order);
      for (uint32_t c : order) step.key.push_back(std::move(key_values[c]));
    }
    for (const auto& v : here) st.bound.insert(v);
    plan.steps.push_back(std::move(step));
  }

  void place_negation(RuleState& st, RulePlan& plan, const ast::BodyLiteral& lit, uint32_t li) {
    uint32_t rel = st.atom_collection.at(li);
    if (int seal = prog_.collections[rel].view_of; seal >= 0) {
      // `not vote(r, ...)` of a sealed collection, with every partition column given: true only
      // once partition r is released and holds no match, so it waits for the partition instead
      // of answering early (docs/language.md, seals). With a partition column left `_` it reads
      // the released partitions as they are (the lint flags it).
      const sema::Seal& s = prog_.seals[static_cast<size_t>(seal)];
      const Relation& keys = out_->relations[released_[static_cast<size_t>(seal)]];
      bool all = std::all_of(s.key.begin(), s.key.end(), [&](uint32_t c) {
        return c < lit.atom.args.size() && lit.atom.args[c].expr->kind != ast::ExprKind::Wildcard;
      });
      if (all) {
        Step guard;
        guard.kind = StepKind::Lookup;
        guard.relation = keys.id;
        guard.index = kKeyIndex;
        guard.bind.assign(keys.arity(), -1);
        for (uint32_t i = 0; i < s.key.size(); ++i)
          guard.key.push_back(convert(lower_expr(st, *lit.atom.args[s.key[i]].expr), keys.column_types[i]));
        guard.text = "partition released: " + keys.name;
        plan.steps.push_back(std::move(guard));
      }
    }
    const Relation& r = out_->relations[rel];
    Step step;
    step.kind = StepKind::AntiJoin;
    if (st.versions) step.version = (*st.versions)[li];
    step.relation = rel;
    step.text = trim_lines(sm_, lit.span);
    std::vector<uint32_t> cols;
    std::map<uint32_t, Expr> values;
    for (uint32_t c = 0; c < lit.atom.args.size() && c < r.arity(); ++c) {
      const ast::Expr& a = *lit.atom.args[c].expr;
      if (a.kind == ast::ExprKind::Wildcard) continue;
      cols.push_back(c);
      values[c] = convert(lower_expr(st, a), r.column_types[c]);
    }
    std::vector<uint32_t> order;
    if (cols.empty()) {
      // `not p(_, _)`: any row at all. An index on no columns chains every row.
      Relation& w = out_->relations[rel];
      auto it = std::find(w.indexes.begin(), w.indexes.end(), std::vector<uint32_t>{});
      if (it == w.indexes.end()) {
        w.indexes.emplace_back();
        it = w.indexes.end() - 1;
      }
      step.index = static_cast<int32_t>(it - w.indexes.begin());
    } else {
      step.index = choose_index(rel, cols, order);
      for (uint32_t c : order) step.key.push_back(std::move(values[c]));
    }
    plan.steps.push_back(std::move(step));
  }

  // Places every literal other than a positive atom whose variables are now bound.
  void place_ready(RuleState& st, RulePlan& plan, const std::vector<ast::BodyLiteral>& body, std::vector<bool>& placed) {
    for (bool progress = true; progress;) {
      progress = false;
      for (size_t i = 0; i < st.late_equalities.size(); ++i) {
        if (st.late_placed[i] || !all_bound(st, *st.late_equalities[i].second)) continue;
        Expr v = lower_expr(st, *st.late_equalities[i].second);
        Expr tmp = make(Op::Reg, v.type);
        tmp.reg = st.late_equalities[i].first;
        Step f;
        f.kind = StepKind::Filter;
        f.expr = make(is_float(v.type) ? Op::EqF : Op::Eq, scalar(K::Bool), {std::move(tmp), std::move(v)});
        f.text = trim_lines(sm_, st.late_equalities[i].second->span);
        plan.steps.push_back(std::move(f));
        st.late_placed[i] = true;
        progress = true;
      }
      for (uint32_t i = 0; i < body.size(); ++i) {
        if (placed[i]) continue;
        const auto& lit = body[i];
        Step s;
        s.text = trim_lines(sm_, lit.span);
        switch (lit.kind) {
          case ast::LiteralKind::Positive: continue;
          case ast::LiteralKind::Negated: {
            std::set<std::string> vs;
            for (const auto& a : lit.atom.args)
              if (a.expr->kind != ast::ExprKind::Wildcard) vars_of(st, *a.expr, vs);
            bool ready = std::all_of(vs.begin(), vs.end(), [&](const std::string& v) { return st.bound.count(v) > 0; });
            if (!ready) continue;
            place_negation(st, plan, lit, i);
            placed[i] = progress = true;
            continue;
          }
          case ast::LiteralKind::Condition:
            if (!all_bound(st, *lit.expr)) continue;
            s.kind = StepKind::Filter;
            s.expr = lower_expr(st, *lit.expr);
            break;
          case ast::LiteralKind::Assign:
            if (!all_bound(st, *lit.expr)) continue;
            if (st.bound.count(lit.var)) {  // `x = e` with x bound: an equality
              Expr v = lower_expr(st, *lit.expr);
              Expr x = make(Op::Reg, st.rule->variables.count(lit.var) ? plan_type(st.rule->variables.at(lit.var)) : v.type);
              x.reg = reg_of(st, lit.var);
              ValueType common = is_float(x.type) || is_float(v.type) ? scalar(K::Float) : x.type;
              s.kind = StepKind::Filter;
              s.expr = make(is_float(common) ? Op::EqF : Op::Eq, scalar(K::Bool),
                            {convert(std::move(x), common), convert(std::move(v), common)});
            } else {
              s.kind = StepKind::Assign;
              s.expr = lower_expr(st, *lit.expr);
              if (auto it = st.rule->variables.find(lit.var); it != st.rule->variables.end())
                s.expr = convert(std::move(s.expr), plan_type(it->second));
              s.target = reg_of(st, lit.var);
              st.bound.insert(lit.var);
            }
            break;
          case ast::LiteralKind::In: {
            if (!all_bound(st, *lit.expr)) continue;
            Expr set = lower_expr(st, *lit.expr);
            if (st.bound.count(lit.var)) {
              Expr x = make(Op::Reg, set.type.args[0]);
              x.reg = reg_of(st, lit.var);
              s.kind = StepKind::Filter;
              s.expr = make(Op::SetContains, scalar(K::Bool), {std::move(set), std::move(x)});
            } else {
              s.kind = StepKind::InSet;
              s.expr = std::move(set);
              s.target = reg_of(st, lit.var);
              st.bound.insert(lit.var);
            }
            break;
          }
        }
        plan.steps.push_back(std::move(s));
        placed[i] = progress = true;
      }
    }
  }

  bool holds_one_tick(uint32_t relation) const {
    RelationKind k = out_->relations[relation].kind;
    return k == RelationKind::Scratch || k == RelationKind::Channel || k == RelationKind::Periodic || k == RelationKind::Delay;
  }

  // How many of an atom's columns are bound at this point (constants and bound expressions).
  int bound_columns(const RuleState& st, const ast::Atom& atom) const {
    int n = 0;
    for (const auto& a : atom.args) {
      if (a.expr->kind == ast::ExprKind::Wildcard) continue;
      std::set<std::string> vs;
      vars_of(st, *a.expr, vs);
      bool ok = std::all_of(vs.begin(), vs.end(), [&](const std::string& v) { return st.bound.count(v) > 0; });
      n += ok ? 1 : 0;
    }
    return n;
  }

  // ------------------------------------------------------------ variants across ticks
  // Plans the variants of every rule that need not run in full each tick (RulePlan::variants),
  // after all the full rules, so that those keep the index numbers they had.
  void across_ticks() {
    std::vector<std::string> why = scratch_recomputed_because(*out_);
    for (auto& rel : out_->relations) rel.rederived_because = std::move(why[rel.id]);
    for (auto& st : out_->strata)
      for (auto& g : st.groups)
        for (auto& r : g.rules) add_variants(r);
    for (auto& r : out_->transitions) add_variants(r);
  }

  // ------------------------------------------------------------ streams
  // A channel holds only the rows that arrived for this tick, and is derived by no rule of the
  // node, so when every rule that reads it inserts what it derives into a collection (which
  // deduplicates), nothing can tell whether the channel held a row once or twice: its rows need
  // no key index (plan::Relation::stream). Not for a channel with lattice columns (its inserts
  // merge), a sealed one (a seal counts rows), one read under an aggregate (a single scan of it
  // is taken for distinct matches) or by a send or deferred write (a duplicate would be sent or
  // queued twice), or one looked up through an index: a chain lists a key's rows newest first
  // after the first, so a duplicate would change the order distinct rows come in, and with it
  // a float sum's rounding or which clash a key violation names. A scan meets distinct rows in
  // the order they first arrived either way, and a negation only asks whether a row exists.
  void mark_streams() {
    std::vector<bool> stream(out_->relations.size());
    for (const auto& r : out_->relations) stream[r.id] = r.kind == RelationKind::Channel && !r.keyed && !r.has_lattice_column();
    for (const auto& st : out_->strata)
      for (const auto& sl : st.seals) stream[sl.sealed] = stream[sl.punct] = false;
    auto reads = [&](const RulePlan& r, auto& self) -> void {
      const bool dedups = r.op == HeadOp::Insert && !r.aggregates();
      for (const auto& s : r.steps) {
        if (s.kind != StepKind::Scan && s.kind != StepKind::Lookup && s.kind != StepKind::AntiJoin) continue;
        if (s.kind == StepKind::Lookup || (s.kind == StepKind::AntiJoin && s.index == kKeyIndex)) stream[s.relation] = false;
        if (s.kind == StepKind::Scan && !dedups) stream[s.relation] = false;
      }
      for (const auto& v : r.variants) self(v, self);
    };
    for (const auto& st : out_->strata)
      for (const auto& g : st.groups) {
        for (const auto& r : g.rules) reads(r, reads);
        for (const auto& r : g.deltas) reads(r, reads);
      }
    for (const auto& r : out_->transitions) reads(r, reads);
    for (auto& r : out_->relations) r.stream = stream[r.id];
  }

  void add_variants(RulePlan& r) {
    if (!recomputed_because(*out_, r).empty()) return;
    const sema::CheckedRule& rule = prog_.rules[r.rule];
    const auto& body = rule.ast->body;
    std::set<uint32_t> positive;
    std::vector<uint32_t> negated;
    for (const auto& in : rule.inputs) {
      if (!in.negated && body[in.literal].kind == ast::LiteralKind::Positive) positive.insert(in.collection);
      if (in.negated) negated.push_back(in.literal);
    }
    // What new rows derive: one variant per positive literal, driven by its new rows.
    for (const auto& in : rule.inputs)
      if (!in.negated && body[in.literal].kind == ast::LiteralKind::Positive)
        r.variants.push_back(lower_rule(r.rule, static_cast<int32_t>(in.literal), positive));
    if (out_->relations[r.head].kind != RelationKind::Scratch) return;
    // A kept scratch also loses the derivations that the new rows of a negated table block. The
    // variant for negated literal i finds each once: the match is old (every positive literal
    // Old), no negated literal before i matches at all, i matches only new rows, and the
    // literals after i match no old row. It is driven by the new rows of i when every argument
    // of i is bound by them (then each match meets exactly one of them); with a wildcard, from
    // the old matches.
    std::sort(negated.begin(), negated.end());
    for (size_t k = 0; k < negated.size(); ++k) {
      std::vector<Version> versions(body.size(), Version::Old);
      for (size_t j = 0; j < k; ++j) versions[negated[j]] = Version::Full;
      versions[negated[k]] = Version::Delta;
      const auto& args = body[negated[k]].atom.args;
      bool drives = std::none_of(args.begin(), args.end(), [](const ast::Arg& a) { return a.expr->kind == ast::ExprKind::Wildcard; });
      RulePlan v = lower_rule(r.rule, drives ? static_cast<int32_t>(negated[k]) : -1, positive, &versions);
      v.delta_atom = static_cast<int32_t>(negated[k]);
      v.retracts = true;
      r.variants.push_back(std::move(v));
    }
  }

  RulePlan lower_rule(uint32_t index, int32_t delta_literal, const std::set<uint32_t>& group,
                      const std::vector<Version>* versions = nullptr) {
    const sema::CheckedRule& rule = prog_.rules[index];
    RulePlan plan;
    plan.rule = index;
    plan.where = sm_.location(rule.ast->span);
    plan.text = trim_lines(sm_, rule.ast->span);
    plan.delta_atom = delta_literal;
    plan.head = rule.head;
    switch (rule.op) {
      case ast::MergeOp::Instant: plan.op = HeadOp::Insert; break;
      case ast::MergeOp::DeferredInsert: plan.op = HeadOp::DeferredInsert; break;
      case ast::MergeOp::DeferredDelete: plan.op = HeadOp::DeferredDelete; break;
      case ast::MergeOp::DeferredUpsert: plan.op = HeadOp::DeferredUpsert; break;
      case ast::MergeOp::Async: plan.op = HeadOp::Send; break;
    }
    try {
      RuleState st;
      st.rule = &rule;
      st.versions = versions;
      st.distinct_matches = !rule.aggregates.empty();
      for (const auto& in : rule.inputs) st.atom_collection[in.literal] = in.collection;
      const auto& body = rule.ast->body;
      std::vector<bool> placed(body.size(), false);
      // Atoms earlier (in source order) than the delta atom that read the group read Old, so
      // each derivation is found by exactly one variant.
      auto version_of = [&](uint32_t li) {
        if (versions) return (*versions)[li];
        if (delta_literal < 0 || !group.count(st.atom_collection.at(li))) return Version::Full;
        if (static_cast<int32_t>(li) == delta_literal) return Version::Delta;
        return static_cast<int32_t>(li) < delta_literal ? Version::Old : Version::Full;
      };
      if (delta_literal >= 0) {
        place_atom(st, plan, body[delta_literal], static_cast<uint32_t>(delta_literal), Version::Delta);
        placed[delta_literal] = true;
      }
      // The first atom: one of a collection that holds only this tick's rows (a scratch, a
      // channel, a periodic, a delay), if there is one. In a long-running node those stay small while
      // tables grow: a send driven by a lookup of the table `script` on a constant read every
      // step of the script in every tick (kvs, 8,000 steps); driven by the scratch `start`,
      // one row.
      bool first = delta_literal < 0;
      for (;;) {
        place_ready(st, plan, body, placed);
        int best = -1, best_score = -1;
        for (uint32_t i = 0; i < body.size(); ++i) {
          if (placed[i] || body[i].kind != ast::LiteralKind::Positive) continue;
          int score = bound_columns(st, body[i].atom);
          if (first && holds_one_tick(st.atom_collection.at(i))) score += 1 << 20;
          if (score > best_score) best = static_cast<int>(i), best_score = score;
        }
        first = false;
        if (best < 0) break;
        place_atom(st, plan, body[best], static_cast<uint32_t>(best), version_of(static_cast<uint32_t>(best)));
        placed[best] = true;
      }
      for (uint32_t i = 0; i < body.size(); ++i)
        if (!placed[i]) throw LowerError("literal " + std::to_string(i + 1) + " could not be ordered (its variables are never bound)");
      // Head.
      const Relation& head = out_->relations[rule.head];
      const auto& args = rule.ast->head.args;
      for (uint32_t c = 0; c < args.size() && c < head.arity(); ++c) {
        const ast::Expr& a = *args[c].expr;
        HeadColumn col;
        col.result = head.column_types[c];
        static const std::map<std::string, AggKind> aggs = {
            {"count", AggKind::Count}, {"sum", AggKind::Sum},         {"min", AggKind::Min},       {"max", AggKind::Max},
            {"avg", AggKind::Avg},     {"collect", AggKind::Collect}, {"argmax", AggKind::ArgMax}, {"argmin", AggKind::ArgMin}};
        auto agg = a.kind == ast::ExprKind::Call && !a.name.qualified() ? aggs.find(a.name.str()) : aggs.end();
        if (agg != aggs.end() && (agg->second == AggKind::ArgMax || agg->second == AggKind::ArgMin)) {
          col.agg = agg->second;
          col.key = lower_expr(st, *a.args[0]);
          col.value = lower_expr(st, *a.args[1]);
          // The first arg column of the same direction and key leads the tie group.
          col.tie = c;
          for (uint32_t o = 0; o < c; ++o)
            if (plan.columns[o].agg == col.agg && plan.columns[o].key == col.key) {
              col.tie = o;
              break;
            }
        } else if (agg != aggs.end()) {
          col.agg = agg->second;
          if (!a.args.empty()) {
            col.value = lower_expr(st, *a.args[0]);
            if (col.value.type.is_lattice() && col.agg != AggKind::Collect)
              col.value = convert(std::move(col.value), revealed(col.value.type));
          }
        } else {
          col.value = convert(lower_expr(st, a), head.column_types[c]);
        }
        plan.columns.push_back(std::move(col));
      }
      plan.registers = st.next_reg;
    } catch (const LowerError& e) {
      throw std::runtime_error(plan.where + ": cannot plan rule `" + plan.text + "`: " + e.what());
    }
    return plan;
  }

  const sema::Program& prog_;
  const analysis::Strata& strata_;
  std::vector<uint32_t> released_;  // per seal: its released_keys relation
  const SourceManager& sm_;
  std::unique_ptr<Program> out_;
};

}  // namespace

std::unique_ptr<Program> lower(const sema::Program& program, const analysis::Strata& strata, const SourceManager& sources) {
  return Lowerer(program, strata, sources).run();
}

}  // namespace bloom::plan
