#include "dist/control.h"

#include <nlohmann/json.hpp>

namespace bloom::rt::control {

namespace {

using json = nlohmann::json;

json heard_json(const std::map<std::string, Heard>& heard) {
  json j = json::object();
  for (const auto& [peer, h] : heard) j[peer] = json::array({h.incarnation, h.sequence});
  return j;
}

// A message that carries a node's report (status, done): the report's fields beside the type.
json report_message(const char* type, const NodeReport& r) {
  return {{"type", type},
          {"idle", r.idle},
          {"incarnation", r.incarnation},
          {"state", state_name(r.state)},
          {"ticks", r.ticks},
          {"sent", r.messages.sent},
          {"received", r.messages.received},
          {"heard", heard_json(r.messages.heard)},
          {"dropped", r.dropped},
          {"foreign", r.foreign},
          {"foreign_senders", r.foreign_senders},
          {"refused", r.refused},
          {"undeliverable", r.undeliverable},
          {"send_waits", r.send_waits},
          {"error", r.error},
          {"refusals", r.refusals}};
}

struct ToJson {
  json operator()(const Hello&) const { return {{"type", "hello"}}; }
  json operator()(const Poll& p) const { return {{"type", "poll"}, {"wave", p.wave}}; }
  json operator()(const Status& s) const { return with(report_message("status", s.report), "wave", s.wave); }
  json operator()(const Error& e) const { return {{"type", "error"}, {"error", e.message}}; }
  json operator()(const Finish&) const { return {{"type", "finish"}}; }
  json operator()(const Done& d) const { return with(report_message("done", d.report), "outputs", d.outputs); }
  json operator()(const Fatal& f) const { return {{"type", "fatal"}, {"error", f.message}}; }
  json operator()(const Bye&) const { return {{"type", "bye"}}; }

  template <typename T>
  static json with(json j, const char* key, const T& value) {
    j[key] = value;
    return j;
  }
};

// Each read takes field `key` of the object `j` only when it has exactly the JSON type encode
// writes (a count must be an unsigned integer, not -1 or 2.5), so a value read is always usable.
bool read(const json& j, const char* key, bool& out) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_boolean()) return false;
  out = it->get<bool>();
  return true;
}

bool read(const json& j, const char* key, uint64_t& out) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number_unsigned()) return false;
  out = it->get<uint64_t>();
  return true;
}

bool read(const json& j, const char* key, std::string& out) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return false;
  out = it->get<std::string>();
  return true;
}

bool read(const json& j, const char* key, std::map<std::string, uint64_t>& out) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_object()) return false;
  for (const auto& [peer, n] : it->items()) {
    if (!n.is_number_unsigned()) return false;
    out[peer] = n.get<uint64_t>();
  }
  return true;
}

bool read(const json& j, const char* key, std::map<std::string, Heard>& out) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_object()) return false;
  for (const auto& [peer, h] : it->items()) {
    if (!h.is_array() || h.size() != 2 || !h[0].is_number_unsigned() || !h[1].is_number_unsigned()) return false;
    out[peer] = Heard{h[0].get<uint64_t>(), h[1].get<uint64_t>()};
  }
  return true;
}

bool read(const json& j, const char* key, std::vector<std::string>& out) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_array()) return false;
  for (const auto& line : *it) {
    if (!line.is_string()) return false;
    out.push_back(line.get<std::string>());
  }
  return true;
}

bool read(const json& j, const char* key, NodeState& out) {
  std::string name;
  if (!read(j, key, name)) return false;
  for (NodeState s : {NodeState::Running, NodeState::Halted, NodeState::Failed})
    if (state_name(s) == name) {
      out = s;
      return true;
    }
  return false;
}

bool read_report(const json& j, NodeReport& r) {
  return read(j, "idle", r.idle) && read(j, "incarnation", r.incarnation) && read(j, "heard", r.messages.heard) &&
         read(j, "state", r.state) && read(j, "ticks", r.ticks) && read(j, "sent", r.messages.sent) &&
         read(j, "received", r.messages.received) && read(j, "dropped", r.dropped) && read(j, "foreign", r.foreign) &&
         read(j, "foreign_senders", r.foreign_senders) && read(j, "refused", r.refused) && read(j, "undeliverable", r.undeliverable) &&
         read(j, "send_waits", r.send_waits) && read(j, "error", r.error) && read(j, "refusals", r.refusals);
}

std::optional<Message> from_json(const json& j) {
  std::string type;
  if (!j.is_object() || !read(j, "type", type)) return std::nullopt;
  if (type == "hello") return Hello{};
  if (type == "finish") return Finish{};
  if (type == "bye") return Bye{};
  if (type == "poll") {
    Poll p;
    if (read(j, "wave", p.wave)) return p;
  } else if (type == "status") {
    Status s;
    if (read(j, "wave", s.wave) && read_report(j, s.report)) return s;
  } else if (type == "done") {
    Done d;
    if (read_report(j, d.report) && read(j, "outputs", d.outputs)) return d;
  } else if (type == "error") {
    Error e;
    if (read(j, "error", e.message)) return e;
  } else if (type == "fatal") {
    Fatal f;
    if (read(j, "error", f.message)) return f;
  }
  return std::nullopt;
}

}  // namespace

std::string encode(const Message& message) { return std::visit(ToJson{}, message).dump(-1, ' ', false, json::error_handler_t::replace); }

std::optional<Message> decode(std::string_view bytes) {
  // Without exceptions: bytes that are not JSON (or not UTF-8) parse to a discarded value.
  return from_json(json::parse(bytes, nullptr, /*allow_exceptions=*/false));
}

}  // namespace bloom::rt::control
