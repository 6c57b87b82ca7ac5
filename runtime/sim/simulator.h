// Deterministic simulation of a whole deployment (`bloom sim`, docs/sim.md). Every node runs in
// this thread on the same node loop as `bloom node` (runtime/node/node.h), with a virtual clock
// and a simulated network in place of ZeroMQ. A policy decides each step: which node ticks next
// and which of the messages in flight to it it receives, and which faults happen. The seeded
// policy draws these from a PRNG, so one seed is one reproducible run; the replay policies follow
// a recorded trace. Nothing here reads the wall clock, starts a thread or opens a socket.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/value.h"
#include "eval/native.h"
#include "plan/ir.h"
#include "sim/faults.h"
#include "sim/trace.h"

namespace bloom::rt {
class Node;
}

namespace bloom::rt::sim {

class InvariantChecker;

// Sees inside a run (bloom sim --explain): each node as it starts (again after a crash) and
// each message as it arrives, before the node's tick takes it in.
class Observer {
 public:
  virtual ~Observer() = default;
  virtual void started(const std::string& node, Node& n) = 0;
  virtual void received(const std::string& node, Node& n, uint64_t message, const std::string& from, uint32_t relation, const Word* rows,
                        size_t count) = 0;
};

// One node of the simulated deployment.
struct SimNode {
  std::string name;
  const plan::Program* plan = nullptr;
  std::string facts_dir;    // "" for none
  std::string fingerprint;  // plan_fingerprint(*plan), recorded in traces ("": computed per run)
};

struct SimOptions {
  std::vector<SimNode> nodes;
  int64_t max_steps = 100000;
  Faults faults;
  const InvariantChecker* invariant = nullptr;  // checked after every tick, and at the end
  // Nodes with periodic timers never run out of work: a run also ends when, for this long, only
  // timer ticks happened and none of them changed a node's state or sent anything. 0: twice the
  // longest timer period of the deployment.
  int64_t idle_us = 0;
  // false: keep no events and format no tuples (a search over many seeds). Running a seed again
  // with recording gives the same run, with its trace.
  bool record = true;
  // false: RunResult::outputs stays empty unless recording (a search that only looks for
  // violations has no use for them).
  bool outputs = true;
  Observer* observer = nullptr;
  NativeCode* native = nullptr;  // the JIT's code for every node's rules (NodeOptions::native), or null
};

// Outputs of one run: node -> output collection -> its rows, sorted, one `name(v1, v2)` per
// line (`text`) and tab-separated as in NAME.csv (`csv`).
struct NodeOutput {
  std::string text, csv;
};
using Outputs = std::map<std::string, std::map<std::string, NodeOutput>>;

enum class End {
  Quiescent,  // nothing in flight, no work left but timers that have stayed idle (SimOptions::idle_us)
  MaxSteps,   // --max-steps reached with work pending
  Violation,  // an invariant derived a violation
  Error,      // a runtime error on a node, a refused message, a bad facts file
  Mismatch,   // a strict replay whose run departed from the trace
};
const char* to_string(End e);

struct RunResult {
  End end = End::Quiescent;
  Trace trace;                          // every event of the run
  std::vector<std::string> violations;  // rows of violation / final_violation
  std::string error;                    // End::Error / End::Mismatch: what happened
  std::string pending;                  // End::MaxSteps: what was still pending
  Outputs outputs;                      // of the nodes up at the end
  int64_t steps = 0;
  uint64_t delivered = 0;  // messages delivered
};

// One run with the seeded policy: seed, options and inputs give a byte-identical trace.
RunResult run_seeded(const SimOptions& options, uint64_t seed);

// Re-executes a recorded trace exactly: every event must happen as recorded (End::Mismatch
// naming the first step that differs otherwise).
RunResult replay_strict(const SimOptions& options, const Trace& trace);

// Follows the decisions of `decisions` (ticks, faults) where they still apply to the run,
// skips those that do not, then finishes the run with a fixed fair schedule (partitions
// healed, crashed nodes restarted, every message delivered) until quiescence. Messages are
// matched to the original trace's by content (sender, receiver, channel, tuples), so dropping a
// decision never shifts the others. The minimizer's replay.
RunResult replay_lenient(const SimOptions& options, const Trace& original, const std::vector<Event>& decisions);

// Shrinks a failing run (a violation, a runtime error, or outputs that differ from another
// run's) to a run that fails the same way with as few decisions as it can find: faults first,
// then deliveries (delta debugging, as DEMi does). `keep` says whether a candidate run still
// fails the same way. At most `max_trials` replays.
struct Minimized {
  RunResult run;
  size_t events_before = 0, events_after = 0;  // decisions (ticks and faults) before and after
  int trials = 0;
};
Minimized minimize(const SimOptions& options, const RunResult& failing, const std::function<bool(const RunResult&)>& keep,
                   int max_trials = 400);

// The decisions of a trace: the events a policy chooses (ticks, drops, duplicates, crashes,
// restarts, partitions, heals); sends, losses and violations follow from them.
std::vector<Event> decisions_of(const Trace& trace);

// The plan fingerprint recorded in traces (FNV-1a 64 of the plan's JSON): a replay refuses a
// trace recorded with a different program.
std::string plan_fingerprint(const plan::Program& plan);

}  // namespace bloom::rt::sim
