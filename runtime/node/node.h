// One node: the tick loop of the language spec, section 3. A tick empties the transient
// collections, delivers what arrived (messages, timer firings, the inputs of tick 0), applies
// the deferred changes of the previous tick, runs the rules to a fixpoint, then queues the
// heads of `<+ <- <+- <~`, emits outputs and stdout lines, and honours halt. The node ticks
// again only while something is pending; with nothing pending it is quiescent and stops.
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>
#include <ostream>
#include <string>
#include <vector>

#include "core/lattice.h"
#include "core/value.h"
#include "eval/engine.h"
#include "node/clock.h"
#include "node/durable.h"
#include "plan/ir.h"

namespace bloom::rt {

// A node's link to the other nodes of a deployment (runtime/dist/deployed_node.cpp implements it over
// runtime/net). A single-node run has none: sending to another addr is then a runtime error.
class NodeNetwork {
 public:
  virtual ~NodeNetwork() = default;
  // Whether `node` is a node of the deployment.
  virtual bool knows(std::string_view node) const = 0;
  // All rows (`count` rows of the channel's arity each) that one tick sent to `node` on channel
  // `relation`: one message.
  virtual void send(std::string_view node, uint32_t relation, const Word* rows, size_t count) = 0;
  // A row for `node`, which knows() said is not a node of the deployment. true: the network
  // counted and dropped it (a deployed node: the addr may come from a message an outsider sent,
  // and nothing from the network may stop a node). false: it is a runtime error of the tick (the
  // simulator, where every input is the program's own).
  virtual bool drop_undeliverable(std::string_view node, uint32_t relation) {
    (void)node, (void)relation;
    return false;
  }
};

struct NodeOptions {
  std::string name = "local";  // the node's addr: what self() returns
  // What members() returns: the names of the deployment's nodes (empty: a lone node, {name}).
  std::vector<std::string> members;
  int64_t max_ticks = -1;                              // stop after this many ticks (<0: no limit)
  std::function<void(const std::string&)> print_line;  // stdout lines (default: std::cout)
  std::function<void(const std::string&)> progress;    // a progress line for a terminal, "" to clear
  NodeNetwork* network = nullptr;                      // messages to other nodes go here (null: a single-node run)
  const NodeClock* clock = nullptr;                    // timers and now() (null: the machine's clocks)
  // Where the durable tables live (open_data_dir, or MemoryFiles in the simulator). Null: they
  // are kept in memory like any table.
  DurableFiles* durable = nullptr;
  uint64_t durable_compact_bytes = DurableStore::kDefaultCompactBytes;
  // Called at the end of every completed tick, before its stdout lines (OutputFiles::append). An
  // exception from it fails the node like a runtime error.
  std::function<void()> after_tick;
  // The JIT's native code for the rules (eval/native.h; bloom run --engine jit), or null to
  // interpret. It must outlive the node.
  NativeCode* native = nullptr;
};

struct RunSummary {
  int64_t ticks = 0;
  bool halted = false;
  bool quiescent = false;   // stopped because nothing was pending
  bool tick_limit = false;  // stopped by max_ticks with work pending
  uint64_t derived = 0;
};

class Node : private TransitionSink {
 public:
  Node(const plan::Program& plan, NodeOptions options);
  ~Node() override;

  // Reads DIR/NAME.facts for every `input` relation into tick 0. A missing file leaves the input
  // empty and is reported in `missing` (unless rules derive into that input: an imported
  // module's input filled by its importer). Throws FactsError or RuntimeError (a key violation).
  void load_inputs(const std::string& dir, std::vector<std::string>& missing);
  // Adds one tuple to an input relation for tick 0 (before run()); `where` names its source.
  void add_input(uint32_t relation, const Word* row, const std::string& where);

  // Loads the durable tables from options.durable (docs/deploy.md): the snapshot, the log's
  // complete records and the deferred changes the last one queued, then writes a fresh snapshot.
  // A node that recovered something starts at tick 0 without the facts of its durable
  // relations (they are in the store already). Called by the first tick if not before; does
  // nothing without a store. Throws DurableError (bad files) or RuntimeError.
  DurableStore::Recovery recover_durable();
  bool has_durable() const { return !durable_ids_.empty(); }

  // Runs ticks until quiescent, halted or the tick limit. Throws RuntimeError (the failing tick's
  // changes are not applied to the output logs or tables).
  RunSummary run();

  // Every tuple an output relation held in any tick, each once: rows of output_log(), sorted.
  std::vector<RowId> output_rows(uint32_t relation) const;
  // The rows a relation holds now (engine().relation()), in the order output_rows sorts (a
  // stream's duplicates once).
  std::vector<RowId> current_rows(uint32_t relation) const;
  const Relation& output_log(uint32_t relation) const { return *logs_[relation]; }
  size_t output_size(uint32_t relation) const;
  std::vector<uint32_t> outputs() const;  // output relations in declaration order
  // Writes the sorted tuples as `name(a, b)` lines (strings quoted), or tab-separated raw
  // values for CSV; output_text returns the same as a string.
  void write_output(uint32_t relation, bool csv, std::ostream& out) const;
  // One row of an output's log as a CSV line (tab-separated raw values, no newline).
  std::string csv_line(uint32_t relation, RowId row) const;
  std::string output_text(uint32_t relation, bool csv) const;

  // Network mode: the caller's loop (runtime/dist/deployed_node.cpp, runtime/sim) drives the ticks.
  // Runs the next tick; true if it derived halt(). Rows sent to other nodes leave through the
  // network at its end. Throws RuntimeError (then nothing of that tick is sent).
  bool step();
  // Something is pending for the next tick (arrived messages, deferred changes).
  bool work_pending();
  // The earliest timer firing: a periodic's or a delayed tuple's, if there is one.
  std::optional<NodeClock::time_point> next_timer() const;
  // Whether a periodic timer or a delayed tuple is due now (the next tick would deliver it).
  bool timer_due() const;
  // Tuples written into delays that have not arrived yet: the node has work in its future even
  // when it has no periodics (it is not quiescent).
  size_t delays_pending() const { return delayed_.size(); }
  // The periodic and delay relations that fired in the last tick.
  const std::vector<uint32_t>& fired_timers() const { return fired_; }
  // A message's rows (`count` rows of the channel's arity) arrive for the next tick.
  void deliver(uint32_t relation, const Word* rows, size_t count);
  // The rows of channel `relation` that arrive for the next tick (arity words each): rows appended
  // here are delivered like deliver's, so a decoder can write a message's rows in place instead
  // of into a buffer of its own (net::Codec::decode's RowTarget). nullptr for a relation of no
  // columns (its rows are counted, not stored: use deliver).
  std::vector<Word>* inbox(uint32_t relation);
  int64_t ticks() const { return next_tick_; }
  // A hash of the state that outlives a tick (tables, lattices, the output logs), independent of
  // row order: equal before and after a tick when the tick changed none of it.
  uint64_t state_digest() const;

  SymbolTable& symbols() { return symbols_; }
  Lattices& lattices() { return lattices_; }
  Engine& engine() { return engine_; }
  const plan::Program& plan() const { return plan_; }

 private:
  // The live rows of `rel` (relation's contents or its output log), sorted for printing.
  std::vector<RowId> sorted_rows(const Relation& rel, uint32_t relation) const;
  void deferred(plan::HeadOp op, uint32_t relation, const Word* row, const plan::RulePlan& rule) override;
  void send(uint32_t relation, const Word* row, const plan::RulePlan& rule) override;
  void setup_tick(int64_t tick);
  void apply_deferred();
  void finish_tick();
  void send_remote(Word dest, uint32_t relation, const Word* row);
  // A delay relation's delay for `row` in ms (its column's value, or the declared one). Throws
  // RuntimeError for a negative one.
  int64_t delay_ms(const plan::Relation& r, const Word* row) const;
  // Queues `row` to arrive its delay_ms from now (throws as delay_ms does).
  void schedule_delay(uint32_t relation, const Word* row);
  // Schedules the rows the tick wrote into delays, once it has completed.
  void commit_delays();
  void flush_remote();
  // One tick, from its context to its outputs: step() and run() number the ticks around it.
  void run_tick(int64_t tick);
  void begin_durable_tick();
  void commit_durable_tick();
  std::vector<DurableDelta> durable_state() const;
  // Appends relation d.relation's live rows from row `from` on to d.added, and sets its queued
  // deferred changes.
  void fill_delta(DurableDelta& d, RowId from) const;

  struct Pending {
    std::vector<Word> inserts, deletes, upserts;
    std::vector<const plan::RulePlan*> insert_rules, upsert_rules;
  };

  const plan::Program& plan_;
  NodeOptions opts_;
  const NodeClock& clock_;
  SymbolTable symbols_;
  Lattices lattices_;
  Engine engine_;
  Word self_ = 0;
  std::vector<Pending> pending_;          // per relation
  std::vector<std::vector<Word>> inbox_;  // per channel: rows arriving next tick
  bool started_ = false;
  std::vector<std::string> stdout_lines_;
  std::vector<std::unique_ptr<plan::Relation>> log_decls_;
  std::vector<std::unique_ptr<Relation>> logs_;  // per output relation: every tuple it held
  struct Timer {
    uint32_t relation;
    NodeClock::time_point next;
    std::chrono::milliseconds period;
    int64_t fired = 0;
  };
  std::vector<Timer> timers_;
  struct Delayed {  // a tuple written into a delay, waiting for its time
    NodeClock::time_point due;
    uint64_t seq;  // ties arrive in the order they were written
    uint32_t relation;
    std::vector<Word> row;
    static bool later(const Delayed& a, const Delayed& b) { return a.due != b.due ? a.due > b.due : a.seq > b.seq; }
  };
  std::vector<Delayed> delayed_;  // a min-heap by (due, seq)
  uint64_t next_delay_seq_ = 0;
  std::vector<std::vector<Word>> tick_delays_;  // per delay relation: rows the running tick wrote
  std::vector<uint32_t> fired_;
  int64_t next_tick_ = 0;
  struct Outgoing {  // one tick's rows for one (destination, channel): one message
    Word dest;
    uint32_t relation;
    std::vector<Word> rows;
    size_t count = 0;
  };
  std::vector<Outgoing> outgoing_;
  // Durable relations: what the running tick changed, found without scanning them. Rows are only
  // appended within a tick (a lattice merge appends the merged row), so the rows added are those
  // from `base` on; deferred deletes and upserts rebuild the relation, and apply_deferred records
  // the rows it drops and the rows of this tick it keeps.
  struct DurableTrack {
    RowId base = 0;
    uint64_t generation = 0;
    bool full = false;  // rebuilt by something else than apply_deferred: log it whole
    std::vector<Word> removed, added;
  };
  std::vector<uint32_t> durable_ids_;
  std::vector<DurableTrack> track_;  // per relation (only durable ones used)
  std::unique_ptr<DurableStore> store_;
  bool durable_ready_ = false, tracking_ = false, recovered_ = false;
  plan::RulePlan recovered_rule_;  // names the store in a key violation of a recovered change
  std::vector<Word> known_;        // destinations the network knows (at most its nodes: addrs it does not
                                   // know may come from outsiders, so they are not remembered)
};

}  // namespace bloom::rt
