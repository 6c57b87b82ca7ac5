// A simulated run as a list of events, and its JSON form (the `--trace` file, docs/sim.md has the
// schema). A trace holds everything needed to re-execute the run exactly: the scheduler's
// decisions (which node ticked when, with which messages; every fault) and what followed from
// them (the messages sent, the losses, the violations), so a replay can check each step.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace bloom::rt::sim {

enum class EventKind {
  Tick,       // `node` ran tick `tick` at `time_us`, receiving the messages `deliver`; its
              // periodic timers that fired are `timers`
  Send,       // `node` sent message `message` to `to` on `channel`: `tuples`
  Drop,       // the network lost message `message` (fault)
  Dup,        // the network duplicated message `of`: the copy is `message` (fault)
  Lost,       // message `message` could not be delivered: `detail` says why (node down, halted,
              // partitioned)
  Crash,      // `node` crashed: its state is gone (fault)
  Restart,    // `node` restarted from its facts
  Partition,  // the network split into `groups` (fault)
  Heal,       // the partition ended
  Violation,  // the invariant derived `tuples` (rows of `detail`: violation or final_violation)
  Error,      // the run stopped: `detail`
};
const char* to_string(EventKind k);
std::optional<EventKind> event_kind(const std::string& name);

struct Event {
  EventKind kind = EventKind::Tick;
  int64_t step = 0;
  int64_t time_us = 0;
  std::string node;
  int64_t tick = -1;
  std::vector<uint64_t> deliver;
  uint64_t message = 0, of = 0;
  std::string to, channel;
  std::vector<std::string> tuples;
  std::vector<std::vector<std::string>> groups;
  std::string detail;
  std::vector<std::string> stdout_lines;
  std::vector<std::string> timers;
  bool operator==(const Event&) const = default;
};

struct Trace {
  std::string deployment;                    // the deployment file, as given
  std::vector<std::string> nodes;            // in deployment order
  std::map<std::string, std::string> plans;  // node -> plan fingerprint
  std::map<std::string, int64_t> skew_us;    // node -> now() offset
  uint64_t seed = 0;
  std::string faults;  // the SPEC
  int64_t max_steps = 0;
  std::string invariant;  // the invariant file, "" for none
  std::string invariant_plan;
  std::vector<Event> events;
  // How the run ended.
  std::string end;
  int64_t end_time_us = 0;  // the virtual time it ended at (idle timers end a run after a while)
  std::vector<std::string> violations;
  std::map<std::string, std::map<std::string, std::string>> outputs;  // node -> output -> rows
};

// The JSON document (schema "bloom-sim-trace", version 1): fields in a fixed order, so equal
// traces are equal bytes.
std::string trace_to_json(const Trace& t);
// Parses and validates a trace file's text: nullopt and `error` (naming the field or event) when
// it is not valid JSON, not a bloom trace, of another version, or inconsistent.
std::optional<Trace> trace_from_json(const std::string& text, std::string& error);

}  // namespace bloom::rt::sim
