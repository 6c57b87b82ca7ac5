// The plan interpreter: holds a node's relations and evaluates the Plan IR over them.
// Pipelines run a batch at a time: each step turns a batch of register frames into the next
// batch (up to kBatch frames) before handing it on, so the dispatch on step and expression kinds
// is paid per batch and per frame, never per virtual call. Strata run in order; a recursive
// group runs its rules once over the full relations and then its delta variants until no
// relation of the group grows.
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/lattice.h"
#include "core/value.h"
#include "eval/native.h"
#include "plan/ir.h"
#include "storage/relation.h"

namespace bloom::rt {

// A runtime error: a key violation, a division by zero, a bad conversion. Carries a message
// that names the rule and the data involved; the node stops and nothing of the tick is applied.
struct RuntimeError : std::runtime_error {
  // `located`: the message already starts at the rule, fact or input line it is about (a key
  // violation names both the inserting rule and the table), so no caller prefixes another place.
  explicit RuntimeError(const std::string& what, bool located = false) : std::runtime_error(what), located(located) {}
  bool located;
};

// Where the heads that leave the fixpoint go: deferred changes and asynchronous sends.
class TransitionSink {
 public:
  virtual ~TransitionSink() = default;
  virtual void deferred(plan::HeadOp op, uint32_t relation, const Word* row, const plan::RulePlan& rule) = 0;
  virtual void send(uint32_t relation, const Word* row, const plan::RulePlan& rule) = 0;
};

// Progress of a long evaluation, for the node's progress line.
struct Progress {
  uint64_t derived = 0;  // tuples added or merged so far in this run
  uint32_t stratum = 0;
  uint32_t iteration = 0;
};

class Engine {
 public:
  // `native`: the JIT's code for the rules (eval/native.h), or null to interpret everything. It
  // must outlive the engine.
  Engine(const plan::Program& plan, SymbolTable& symbols, Lattices& lattices, NativeCode* native = nullptr);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  const plan::Program& plan() const { return plan_; }
  Relation& relation(uint32_t id) { return *relations_[id]; }
  // Hands over a relation's storage, leaving an empty one with the same indexes in its place
  // (an output's rows become its log without a copy).
  std::unique_ptr<Relation> take_relation(uint32_t id);
  const Relation& relation(uint32_t id) const { return *relations_[id]; }
  size_t relation_count() const { return relations_.size(); }
  SymbolTable& symbols() { return symbols_; }
  Lattices& lattices() { return lattices_; }

  // What self(), tick() and now() return while evaluating: now() is the time the tick started
  // (milliseconds since the Unix epoch), the same for every rule of the tick.
  void set_context(Word self, int64_t tick, int64_t now_ms) {
    self_ = self;
    tick_ = tick;
    now_ms_ = now_ms;
  }

  // What members() returns: the deployment's node names (an interned lset, Lattices::set_of).
  void set_members(Word set) { members_ = set; }

  // Whether relation `id`, a scratch, keeps its rows from one tick to the next (the engine keeps
  // it up to date itself; the node must not empty it).
  bool keeps(uint32_t id) const;

  // Evaluates `e` over the registers of `frame` as a rule's step would: the reference other
  // evaluators (the JIT) are compared with. False when the value has none (an lmax or lmin at
  // bottom revealed); throws RuntimeError on a run-time error (division by zero, ...).
  bool evaluate(const plan::Expr& e, const Word* frame, Word& out);

  // Compiles every rule's semi-naive variants now (they are otherwise compiled when a rule first
  // runs incrementally), so that a NativeCode of threshold 0 is handed every segment of the
  // program before anything runs: `bloom build` collects them this way, without running a tick.
  void prepare_all_rules();

  // Every `<=` rule to a fixpoint, stratum by stratum.
  void run_fixpoint();
  // The `<+ <- <+- <~` rules over the final state of the tick.
  void run_transitions(TransitionSink& sink);

  // Inserts one row into a relation (facts, inputs, deliveries) with the key check. A key
  // violation message starts with `where` (file:line) and says the row came from `what`.
  void insert_checked(uint32_t relation, const Word* row, const std::string& where, const std::string& what);
  // The same for `count` rows (arity words each; one word each for a relation of no columns),
  // inserted as a batch (Relation::insert_many) with the outcome of inserting them one by one in
  // this order: the first key violation in that order is the one reported.
  // Rows of a stream (plan::Relation::stream) are appended as they come, duplicates included.
  void insert_all_checked(uint32_t relation, const Word* rows, size_t count, const std::string& where, const std::string& what);

  // Why-provenance (bloom sim --explain): when set, called for every row a rule derives, before
  // it is inserted, sent or queued, with the registers of the body match that derived it (null
  // for an aggregate's row, which comes from all the matches of its group). Null, the default,
  // costs a test per batch; set, rules no longer write head rows straight from their last step.
  std::function<void(const plan::RulePlan& rule, const Word* row, const Word* frame)> on_derive;
  // The same for a seal's release (docs/language.md, seals): called for every row of a partition
  // as it is released into the view, with the seal's tuple that completed it.
  std::function<void(const plan::Seal& seal, const Word* row, const Word* seal_row)> on_release;

  const Progress& progress() const { return progress_; }
  // Called every so often during long evaluations (at most every ~64k derivations).
  std::function<void(const Progress&)> on_progress;

  // Evaluates an expression that reads no register (a fact's lattice built by constructors);
  // self(), tick() and now() are those of set_context.
  Word eval_constant(const plan::Expr& x);

  // Formats a value of type `t` as source would write it (strings quoted) or raw (for CSV).
  std::string format(const plan::ValueType& t, Word v, bool quoted) const;
  std::string format_row(const plan::Relation& r, const Word* row, bool quoted) const;

  struct CompiledRule;  // the runtime form of a RulePlan (engine.cpp)

 private:
  struct Impl;
  void run_rules(std::vector<std::unique_ptr<CompiledRule>>& rules, TransitionSink* sink);

  bool takes_as_stream(uint32_t relation) const;

  const plan::Program& plan_;
  SymbolTable& symbols_;
  Lattices& lattices_;
  NativeCode* native_ = nullptr;
  std::vector<std::unique_ptr<Relation>> relations_;
  Word self_ = 0;
  Word members_ = 0;  // members(): an interned lset of addrs
  int64_t tick_ = 0;
  int64_t now_ms_ = 0;
  Progress progress_;
  std::unique_ptr<Impl> impl_;
  friend struct Impl;
};

}  // namespace bloom::rt
