#include "sim/trace.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace bloom::rt::sim {

using ojson = nlohmann::ordered_json;
using json = nlohmann::json;

namespace {
constexpr const char* kFormat = "bloom-sim-trace";
constexpr int kVersion = 1;
constexpr const char* kKinds[] = {"tick", "send", "drop", "dup", "lost", "crash", "restart", "partition", "heal", "violation", "error"};

ojson event_json(const Event& e) {
  ojson j;
  j["step"] = e.step;
  j["time_us"] = e.time_us;
  j["kind"] = to_string(e.kind);
  if (!e.node.empty()) j["node"] = e.node;
  if (e.tick >= 0) j["tick"] = e.tick;
  if (e.kind == EventKind::Tick) j["deliver"] = e.deliver;
  if (e.kind == EventKind::Send || e.kind == EventKind::Drop || e.kind == EventKind::Dup || e.kind == EventKind::Lost)
    j["message"] = e.message;
  if (e.kind == EventKind::Dup) j["of"] = e.of;
  if (!e.to.empty()) j["to"] = e.to;
  if (!e.channel.empty()) j["channel"] = e.channel;
  if (!e.tuples.empty() || e.kind == EventKind::Send) j["tuples"] = e.tuples;
  if (!e.groups.empty()) j["groups"] = e.groups;
  if (!e.detail.empty()) j["detail"] = e.detail;
  if (!e.timers.empty()) j["timers"] = e.timers;
  if (!e.stdout_lines.empty()) j["stdout"] = e.stdout_lines;
  return j;
}

// Reads field `name` of an event, naming the event and the field when it has the wrong type.
template <class T>
bool field(const json& j, const char* name, T& out, size_t index, std::string& error, bool required = false) {
  auto it = j.find(name);
  if (it == j.end()) {
    if (required) error = fmt::format("event {}: no `{}`", index, name);
    return !required;
  }
  try {
    out = it->get<T>();
    return true;
  } catch (const json::exception&) {
    error = fmt::format("event {}: `{}` has the wrong type ({})", index, name, it->type_name());
    return false;
  }
}

}  // namespace

const char* to_string(EventKind k) { return kKinds[static_cast<int>(k)]; }

std::optional<EventKind> event_kind(const std::string& name) {
  for (size_t i = 0; i < std::size(kKinds); ++i)
    if (name == kKinds[i]) return static_cast<EventKind>(i);
  return std::nullopt;
}

std::string trace_to_json(const Trace& t) {
  ojson head;
  head["format"] = kFormat;
  head["version"] = kVersion;
  head["deployment"] = t.deployment;
  head["nodes"] = t.nodes;
  head["plans"] = t.plans;
  head["skew_us"] = t.skew_us;
  head["seed"] = t.seed;
  head["faults"] = t.faults;
  head["max_steps"] = t.max_steps;
  head["invariant"] = t.invariant;
  head["invariant_plan"] = t.invariant_plan;
  ojson tail;
  tail["end"] = t.end;
  tail["end_time_us"] = t.end_time_us;
  tail["violations"] = t.violations;
  tail["outputs"] = t.outputs;
  // One event per line: a trace reads (and diffs) event by event.
  std::string s = head.dump(2);
  s.resize(s.size() - 2);  // the closing newline and brace
  s += ",\n  \"events\": [";
  for (size_t i = 0; i < t.events.size(); ++i)
    s += (i ? ",\n    " : "\n    ") + event_json(t.events[i]).dump(-1, ' ', false, ojson::error_handler_t::replace);
  s += t.events.empty() ? "],\n" : "\n  ],\n";
  std::string rest = tail.dump(2);
  s += rest.substr(2);  // without the opening brace and its newline
  s += "\n";
  return s;
}

std::optional<Trace> trace_from_json(const std::string& text, std::string& error) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded()) {
    error = "not valid JSON (truncated or edited?)";
    return std::nullopt;
  }
  if (!j.is_object() || j.value("format", "") != kFormat) {
    error = fmt::format("not a bloom simulation trace (no \"format\": \"{}\")", kFormat);
    return std::nullopt;
  }
  if (!j.contains("version") || !j["version"].is_number_integer() || j["version"].get<int>() != kVersion) {
    error = fmt::format("trace format version {}, this bloom reads version {}", j.contains("version") ? j["version"].dump() : "(none)",
                        kVersion);
    return std::nullopt;
  }
  Trace t;
  try {
    t.deployment = j.at("deployment").get<std::string>();
    t.nodes = j.at("nodes").get<std::vector<std::string>>();
    t.plans = j.at("plans").get<std::map<std::string, std::string>>();
    t.skew_us = j.at("skew_us").get<std::map<std::string, int64_t>>();
    t.seed = j.at("seed").get<uint64_t>();
    t.faults = j.at("faults").get<std::string>();
    t.max_steps = j.at("max_steps").get<int64_t>();
    t.invariant = j.at("invariant").get<std::string>();
    t.invariant_plan = j.at("invariant_plan").get<std::string>();
    t.end = j.at("end").get<std::string>();
    t.end_time_us = j.at("end_time_us").get<int64_t>();
    t.violations = j.at("violations").get<std::vector<std::string>>();
    t.outputs = j.at("outputs").get<std::map<std::string, std::map<std::string, std::string>>>();
    if (!j.at("events").is_array()) throw std::runtime_error("`events` is not an array");
  } catch (const std::exception& e) {
    error = fmt::format("a field of the trace is missing or has the wrong type: {}", e.what());
    return std::nullopt;
  }
  int64_t last_step = -1, last_time = 0;
  const auto& events = j["events"];
  for (size_t i = 0; i < events.size(); ++i) {
    const json& ej = events[i];
    if (!ej.is_object()) {
      error = fmt::format("event {}: not an object", i);
      return std::nullopt;
    }
    Event e;
    std::string kind;
    if (!field(ej, "kind", kind, i, error, true)) return std::nullopt;
    auto k = event_kind(kind);
    if (!k) {
      error = fmt::format("event {}: unknown kind `{}`", i, kind);
      return std::nullopt;
    }
    e.kind = *k;
    if (!field(ej, "step", e.step, i, error, true) || !field(ej, "time_us", e.time_us, i, error, true) ||
        !field(ej, "node", e.node, i, error) || !field(ej, "tick", e.tick, i, error) || !field(ej, "deliver", e.deliver, i, error) ||
        !field(ej, "message", e.message, i, error) || !field(ej, "of", e.of, i, error) || !field(ej, "to", e.to, i, error) ||
        !field(ej, "channel", e.channel, i, error) || !field(ej, "tuples", e.tuples, i, error) ||
        !field(ej, "groups", e.groups, i, error) || !field(ej, "detail", e.detail, i, error) ||
        !field(ej, "stdout", e.stdout_lines, i, error) || !field(ej, "timers", e.timers, i, error))
      return std::nullopt;
    if (e.step < last_step || e.time_us < last_time) {
      error = fmt::format("event {}: step {} at {} us comes after step {} at {} us (events out of order)", i, e.step, e.time_us, last_step,
                          last_time);
      return std::nullopt;
    }
    last_step = e.step;
    last_time = e.time_us;
    bool needs_node = e.kind == EventKind::Tick || e.kind == EventKind::Send || e.kind == EventKind::Crash || e.kind == EventKind::Restart;
    if (needs_node && std::find(t.nodes.begin(), t.nodes.end(), e.node) == t.nodes.end()) {
      error = fmt::format("event {} ({}): `{}` is not a node of the trace", i, kind, e.node);
      return std::nullopt;
    }
    t.events.push_back(std::move(e));
  }
  return t;
}

}  // namespace bloom::rt::sim
