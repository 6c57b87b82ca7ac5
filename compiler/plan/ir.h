// The Plan IR: the only thing the runtime reads from the compiler (and, later, what the JIT
// compiles). It is plain data with no reference to the AST, sema or ANTLR, so the runtime links
// this header and its printers and nothing else of the compiler.
//
// A program is a list of relations, the ground facts of tick 0, and the rules lowered into
// pipelines of steps. Each `<=` rule sits in a group (one strongly connected component of the
// instantaneous rules, in dependency order inside its stratum); a recursive group is evaluated
// semi-naively: first every rule over the full relations, then, until nothing new appears, one
// delta variant per body atom that reads a relation of the group.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace bloom::plan {

// ---------------------------------------------------------------- types and constants
enum class TypeKind : uint8_t { Int, Float, String, Bool, Addr, LMax, LMin, LBool, LSet, LMap };

struct ValueType {
  TypeKind kind = TypeKind::Int;
  std::vector<ValueType> args;  // LMax, LMin, LSet: {element}; LMap: {key, value lattice}
  bool is_lattice() const { return kind >= TypeKind::LMax; }
  bool is_symbol() const { return kind == TypeKind::String || kind == TypeKind::Addr; }
  std::string str() const;
  friend bool operator==(const ValueType&, const ValueType&) = default;
};

// A value known to the compiler. Strings (and addrs) are interned by the runtime when it loads
// the plan; lattice constants are the lift of a plain constant.
using Constant = std::variant<int64_t, double, std::string, bool>;
std::string constant_str(const Constant& c);  // as source would write it

// ---------------------------------------------------------------- relations
enum class RelationKind : uint8_t { Table, Scratch, Channel, Input, Output, Periodic, Delay, Lattice, Stdout, Halt };
const char* to_string(RelationKind k);

struct Relation {
  uint32_t id = 0;
  std::string name;  // qualified: "q.votes"
  RelationKind kind = RelationKind::Table;
  std::vector<std::string> column_names;
  std::vector<ValueType> column_types;
  std::vector<uint32_t> key;  // key columns; every non-lattice column when the relation is a set
  bool keyed = false;         // declared key(...) or implied by lattice columns: inserts merge/check
  int location = -1;          // channel: the `@` column
  int64_t period_ms = 0;      // periodic: its period; delay: its delay (unless delay_column >= 0)
  int delay_column = -1;      // delay `after COLUMN`: the int column holding each tuple's delay in ms
  bool durable = false;       // table/lattice kept in the node's data directory (runtime/node/durable.h)
  std::string where;          // "file:line:col" of the declaration ("" for built-ins)
  // Hash indexes the rules look up, chosen by the planner (each a list of column positions).
  // The key index always exists and is not listed here.
  std::vector<std::vector<uint32_t>> indexes;
  // A scratch: why it is emptied and derived again every tick, or "" when it is kept across
  // ticks (scratch_recomputed_because; set by the planner).
  std::string rederived_because;
  // The keys of the partitions a seal has released (a table the planner adds after sema's
  // collections, named `NAME[released]`): a negation of a sealed collection first looks its key
  // up here, so it waits for the partition (docs/language.md, seals).
  bool released_keys = false;
  // A channel kept as a stream (Hydro's word): its rows are stored as they arrive, duplicates
  // included, with no key index, because no rule that reads it could see a duplicate (each
  // scans it and inserts into a collection, with no aggregate, or only negates it). Set by the
  // planner (mark_streams); a node still deduplicates it when it records provenance. Nothing
  // else may read a stream's rows as a set.
  bool stream = false;
  uint32_t arity() const { return static_cast<uint32_t>(column_types.size()); }
  bool has_lattice_column() const;
};

// ---------------------------------------------------------------- expressions
// Opcodes are resolved to their operand types by the planner, so the interpreter never looks at
// a type in its inner loop.
enum class Op : uint8_t {
  Const,
  Reg,
  AddI,
  SubI,
  MulI,
  DivI,
  ModI,
  NegI,
  AddF,
  SubF,
  MulF,
  DivF,
  ModF,
  NegF,
  IntToFloat,
  Concat,
  Eq,
  Ne,  // word equality (ints, bools, interned strings, addrs, lattice handles)
  EqF,
  NeF,  // floats (so 0.0 == -0.0)
  LtI,
  LeI,
  GtI,
  GeI,
  LtF,
  LeF,
  GtF,
  GeF,
  LtS,
  LeS,
  GtS,
  GeS,
  And,
  Or,
  Not,
  ToStrI,
  ToStrF,
  ToStrB,
  ToStrS,
  ToIntS,
  ToIntF,
  Len,
  Substr,
  Hash,
  LeastI,
  GreatestI,
  LeastF,
  GreatestF,
  LeastS,
  GreatestS,
  Self,
  Tick,
  Now,
  // Lattices: `type` of the expression (or of args[0]) tells which lattice.
  Lift,          // args[0] plain value -> the lattice `type`
  Reveal,        // x.value(): lattice args[0] -> plain; an lmax/lmin at bottom has no value
  LatAdd,        // lmax/lmin + plain (bottom stays bottom)
  LatThreshold,  // lmax >= / > c, lmin <= / < c -> lbool; `cmp` holds the comparison opcode
  LatCompare,    // any other comparison of a lattice with a value: reveal, then compare (`cmp`)
  SetSize,
  SetContains,
  SetUnion,
  SetIntersect,
  MapAt,
  MapKeys,
  MapSize,
  MapOf,      // lmap(k, v): the one-entry map of the lmap `type` (v already in its value lattice)
  LatCovers,  // x.covers(y): merging y into the lattice x (of args[0]'s type) leaves x as it is
  LBoolAnd,
  LBoolOr,
  If,       // args[0] ? args[1] : args[2], evaluating only the one chosen
  LatWord,  // a threshold's lattice operand as a plain value, bottom included (-inf < every c)
  Members,  // members(): the deployment's node names, an lset<addr>
  SetOf,    // lset(x, ...) and lset params: the set of the plain args (none: the empty set)
  Find,     // find(s, t): the byte offset of the first t in s, -1 when there is none
};
const char* to_string(Op op);

struct Expr {
  Op op = Op::Const;
  ValueType type;    // result type
  Constant value;    // Const
  uint32_t reg = 0;  // Reg
  Op cmp = Op::Eq;   // LatThreshold, LatCompare: the plain comparison applied
  std::vector<Expr> args;
  friend bool operator==(const Expr&, const Expr&) = default;
};

// ---------------------------------------------------------------- rule pipelines
// Which rows of a relation a step reads while a group iterates. Rows are append-only within a
// tick, so each version is a range of row numbers: Old = before the current delta, Delta = the
// rows new in the previous iteration, Full = both. Across ticks (RulePlan::variants) the delta
// is what is new since the previous tick. On a negation: Full = no matching row at all, Old = no
// matching old row, Delta = a matching new row and no matching old one.
enum class Version : uint8_t { Full, Delta, Old };
const char* to_string(Version v);

enum class StepKind : uint8_t {
  Scan,      // every row of `relation` (version), binding columns to registers
  Lookup,    // rows whose `index` columns equal `key`
  AntiJoin,  // continue only if no row matches `key` on `index` (negation)
  Filter,    // continue if `expr` is true (bool, or lbool)
  Assign,    // register `target` = expr
  InSet,     // for each element of the lset `expr`: register `target` = element
};
const char* to_string(StepKind k);

inline constexpr int32_t kKeyIndex = -1;  // Lookup/AntiJoin on the relation's key columns

struct Step;
// A step that matches rows of a relation: a positive body atom (scan or lookup).
bool is_positive_atom(const Step& s);

struct Step {
  StepKind kind = StepKind::Scan;
  uint32_t relation = 0;  // Scan, Lookup, AntiJoin
  Version version = Version::Full;
  int32_t index = kKeyIndex;  // Lookup, AntiJoin: position in Relation::indexes, or kKeyIndex
  std::vector<Expr> key;      // Lookup, AntiJoin: one value per index column
  // Scan, Lookup: per column, the register it binds (-1: not bound here).
  std::vector<int32_t> bind;
  // Scan, Lookup: columns that must equal a register bound earlier in this row (a variable
  // repeated inside the atom and not part of the index key).
  std::vector<std::pair<uint32_t, uint32_t>> equal;  // (column, register)
  Expr expr;                                         // Filter, Assign, InSet
  uint32_t target = 0;                               // Assign, InSet
  std::string text;                                  // the body literal this step comes from, for printers
};

enum class HeadOp : uint8_t { Insert, DeferredInsert, DeferredDelete, DeferredUpsert, Send };
const char* to_string(HeadOp op);

enum class AggKind : uint8_t { None, Count, Sum, Min, Max, Avg, Collect, ArgMax, ArgMin };
const char* to_string(AggKind k);

struct HeadColumn {
  AggKind agg = AggKind::None;  // None: a group-by column (or a plain column)
  Expr value;                   // the column's value (the aggregate's argument; unused for count)
  ValueType result;             // aggregates: the column's type (the aggregate is converted to it)
  // ArgMax, ArgMin: the value is the payload of the match with the greatest (least) `key`. The
  // arg columns of one head with the same direction and the same key expression form one tie
  // group, led by its first column (`tie`, a column index): they take their payloads from one
  // match, among those of the best key the one whose payloads, in column order, are least.
  Expr key;
  uint32_t tie = 0;
};

struct RulePlan {
  uint32_t rule = 0;        // index among the program's rules (for messages)
  std::string where;        // "file:line:col" of the rule
  std::string text;         // the rule's source text (first line), for messages and printers
  int32_t delta_atom = -1;  // delta variant: the body atom read as Delta; -1 for the full rule
  uint32_t registers = 0;
  std::vector<Step> steps;
  uint32_t head = 0;  // relation
  HeadOp op = HeadOp::Insert;
  std::vector<HeadColumn> columns;
  // Across ticks (docs/architecture.md, "Incremental ticks"): the rule planned once per positive
  // literal, that literal first over the rows new since the previous tick (delta_atom), the
  // literals before it over the old rows; for a kept scratch also once per negated literal, with
  // `retracts` set: its matches are derivations that the negated collection's new rows take back.
  // Empty when the rule runs in full every tick.
  std::vector<RulePlan> variants;
  bool retracts = false;
  bool aggregates() const;
};

struct Group {
  std::vector<uint32_t> relations;  // the relations this group derives
  bool recursive = false;
  std::vector<RulePlan> rules;   // evaluated once over Full
  std::vector<RulePlan> deltas;  // recursive groups: evaluated until no delta remains
};

// `seal vote(round) by done(round, n);` (docs/language.md, seals). Before the groups of its
// stratum run, the node's engine moves the rows of `sealed` into a buffer that persists across
// ticks, and releases into `view` (a table, what every rule reads instead of `sealed`) each
// partition, all at once, once `punct` holds its seal and the buffer holds `count` distinct rows
// with that key. A row of a released partition that is not in `view` already, a seal whose
// count is below the rows that arrived, and two counts for one key are run-time errors.
struct Seal {
  uint32_t sealed = 0, punct = 0, view = 0;  // relations
  uint32_t released = 0;                     // relation: the keys released (Relation::released_keys)
  std::vector<uint32_t> key;                 // partition columns of `sealed`
  std::vector<uint32_t> punct_key;           // the matching columns of `punct`
  uint32_t count = 0;                        // the count column of `punct`
  std::string where;                         // "file:line:col" of the declaration
  std::string text;                          // its source text
};

struct Stratum {
  std::vector<Seal> seals;    // released before the groups run
  std::vector<Group> groups;  // in dependency order
};

struct Fact {
  uint32_t relation = 0;
  std::vector<Constant> values;  // lifted into lattice columns at load; Self() is a string "" flag
  std::vector<bool> is_self;     // per value: `self()`, known only when the node starts
  // Columns whose value is a lattice built by constructors (`lmap("a", 3)`): an expression of
  // constants and self(), evaluated when the node loads the facts; its `values` entry is unused.
  std::vector<std::pair<uint32_t, Expr>> built;
  std::string where;
};

struct Program {
  std::string source;               // main file path
  std::vector<Relation> relations;  // [0] stdout, [1] halt, as in sema
  std::vector<Fact> facts;
  std::vector<Stratum> strata;
  std::vector<RulePlan> transitions;  // `<+ <- <+- <~` rules, run once after the fixpoint
  uint32_t rule_count = 0;
  bool uses_now = false;
  const Relation* find(const std::string& name) const;
};

// Across ticks, a rule that inserts into a table can skip what it derived in earlier ticks and
// run over the rows new since the previous tick (docs/architecture.md, "Incremental ticks").
// Returns why `rule` must still run over whole relations in every tick, or "" if it need not.
std::string_view recomputed_because(const Program& program, const RulePlan& rule);

// A scratch is emptied every tick and derived again, unless it can be kept: every rule that
// derives it joins and negates tables that only grow between ticks (no lattice column), with no
// aggregate, no recursion and no tick() or now(), and nothing else writes it. Then it keeps its
// rows with the number of derivations of each, and a tick only adds what the new rows of the
// tables derive and takes back what the new rows of the negated tables block. Returns why
// each scratch is derived again every tick, or "" if it is kept (indexed by relation id; ""
// for relations that are not scratches).
std::vector<std::string> scratch_recomputed_because(const Program& program);

}  // namespace bloom::plan
