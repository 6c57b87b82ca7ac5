// The checked program: what sema produces from the parsed modules and every later layer reads.
// Module instances are flattened: a collection `votes` of the instance imported as `q` is the
// collection named `q.votes`. ASTs are shared by all instances of one file.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "sema/consteval.h"
#include "sema/types.h"
#include "syntax/ast.h"

namespace bloom::sema {

using CollectionId = uint32_t;
inline constexpr CollectionId kNoCollection = UINT32_MAX;

// Table..Lattice in the order of ast::CollectionKind (program.cpp checks it), then the built-ins.
enum class CollectionKind { Table, Scratch, Channel, Input, Output, Periodic, Delay, Lattice, Stdout, Halt };
const char* to_string(CollectionKind k);
// Collections whose contents arrive from outside the node or over time (sources of asynchrony).
bool is_persistent(CollectionKind k);  // table and lattice keep their contents across ticks

struct Column {
  std::string name;
  Type type;
  Span span;
};

struct Collection {
  CollectionId id = kNoCollection;
  std::string name;  // qualified: "q.votes"
  CollectionKind kind = CollectionKind::Table;
  std::vector<Column> columns;
  // Key column indexes. Empty with `keyed == false` means the key is every column (a set).
  std::vector<uint32_t> key;
  bool keyed = false;     // key(...) written, or implied by lattice columns
  int location = -1;      // channel: index of the `@` column
  int64_t period_ms = 0;  // periodic: its period; delay: its delay, unless delay_column >= 0
  int delay_column = -1;  // delay `after COLUMN`: the int column holding each tuple's delay in ms
  bool durable = false;   // `durable`: kept in the node's data directory across restarts
  uint32_t instance = 0;  // the module instance that declares it (0 = main)
  // Seals (docs/language.md): a sealed collection's index in Program::seals; rules read it only
  // through its view, the hidden collection `NAME[sealed]` (a table of released partitions),
  // whose `view_of` is that same index.
  int sealed_by = -1;
  int view_of = -1;
  Span span, name_span;  // invalid for built-ins
  bool has_lattice_column() const;
};

struct ModuleInstance {
  std::string prefix;  // "" for the main program, "q." for `import ... as q`
  const ast::Module* module = nullptr;
  uint32_t parent = UINT32_MAX;
  std::map<std::string, uint32_t> children;         // import alias -> instance
  std::map<std::string, CollectionId> collections;  // local name -> id
  std::map<std::string, ConstValue> params;         // param values (monostate when unset)
  std::map<std::string, ConstValue> consts;         // the module's consts
};

// Why an edge of the dependency graph is not monotone.
// Seal: the release of a sealed collection's complete partitions into its view (it reads the
// sealed collection and its seals whole, so it is stratified like a negation; the CALM analysis
// treats it as confluent per key, docs/lint.md).
enum class NonMonotone : uint8_t { None, Negation, Aggregate, Reveal, Delete, Upsert, Seal };
const char* to_string(NonMonotone n);
// Whether `name` is an aggregate function of a rule head (count, sum, min, max, avg, collect,
// argmax, argmin).
bool is_aggregate(const std::string& name);

// One body atom read by a rule, with how its data reaches the head.
struct RuleInput {
  CollectionId collection;
  uint32_t literal;  // index in the rule's body
  bool negated = false;
  std::vector<Span> reveals;  // places where a lattice bound by this atom is revealed
  Span span;                  // the atom (for a negation: from `not` to the end)
};

struct CheckedRule {
  const ast::Rule* ast = nullptr;
  uint32_t instance = 0;
  CollectionId head = kNoCollection;
  ast::MergeOp op = ast::MergeOp::Instant;
  std::vector<RuleInput> inputs;
  std::vector<Span> aggregates;  // aggregate calls in the head
  bool uses_now = false;         // reads the wall clock
  bool uses_tick = false;        // reads tick() (other than the `tick() == 0` idiom)
  std::map<std::string, Type> variables;
  int seal = -1;  // the release of Program::seals[seal]: not a rule of the source (ast is synthesized)
};

// `seal vote(round) by done(round, n);` of one module instance.
struct Seal {
  CollectionId sealed = kNoCollection;  // vote
  CollectionId punct = kNoCollection;   // done
  CollectionId view = kNoCollection;    // vote[sealed]: what rules read instead of vote
  std::vector<uint32_t> key;            // partition columns of `sealed`
  std::vector<uint32_t> punct_key;      // the matching columns of `punct`, in the same order
  uint32_t count = 0;                   // the count column of `punct` (an int)
  uint32_t rule = 0;                    // the release rule (view <= sealed, punct) in Program::rules
  uint32_t instance = 0;
  const ast::SealDecl* ast = nullptr;
};

struct CheckedFact {
  const ast::Fact* ast = nullptr;
  uint32_t instance = 0;
  CollectionId collection = kNoCollection;
  std::vector<ConstValue> values;  // one per column; monostate where not known until run time
};

// The types of the checked expressions. A hash map from each node's address was 7% of the time
// of `bloom check` of a large program (a node allocated per expression); instead each ast::Expr
// holds the index of its entry here. The entry names its node, so an index set by another
// Program's check is never mistaken for one of ours.
class ExprTypes {
 public:
  // Null when `e` has no recorded type.
  const Type* find(const ast::Expr* e) const {
    uint32_t s = e->type_slot;
    return s < entries_.size() && entries_[s].expr == e ? &entries_[s].type : nullptr;
  }
  void set(const ast::Expr& e, const Type& t) {
    uint32_t s = e.type_slot;
    if (s < entries_.size() && entries_[s].expr == &e) {
      entries_[s].type = t;
      return;
    }
    e.type_slot = static_cast<uint32_t>(entries_.size());
    entries_.push_back({&e, t});
  }
  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    const ast::Expr* expr;
    Type type;
  };
  std::vector<Entry> entries_;
};

struct Program {
  std::vector<std::unique_ptr<ast::Module>> modules;  // one per distinct file, [0] is the main file
  std::vector<ModuleInstance> instances;              // [0] is the main program
  std::vector<Collection> collections;
  std::vector<CheckedRule> rules;
  std::vector<CheckedFact> facts;
  std::vector<Seal> seals;
  std::vector<std::unique_ptr<ast::Rule>> synthesized;  // the ASTs of the seals' release rules
  // Types of every checked expression (identical in all instances of a module).
  ExprTypes expr_types;

  const Collection* find(const std::string& qualified_name) const;
  // The value of a const or param named `name` as seen from `instance` (`m.LIMIT` follows the
  // import alias m). False if the name is neither (it is a variable).
  bool constant(uint32_t instance, const ast::QualifiedName& name, ConstValue& out) const;
};

}  // namespace bloom::sema
