// What a node of a deployment reports about itself to its launcher, between two ticks: the
// counters of Mattern's method (docs/deploy.md) and what the final summary prints. Plain data:
// the control protocol (dist/control.h) carries it, the quiescence detector
// (dist/quiescence.h) judges it.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace bloom::rt {

enum class NodeState { Running, Halted, Failed };

inline std::string_view state_name(NodeState state) {
  switch (state) {
    case NodeState::Running: return "running";
    case NodeState::Halted: return "halted";
    case NodeState::Failed: return "failed";
  }
  return "?";
}

// The last message a node took in from a peer: the peer's incarnation and the message's number
// on that link (net/wire.h). The latest incarnation's highest number is kept.
struct Heard {
  uint64_t incarnation = 0, sequence = 0;
  bool operator==(const Heard&) const = default;
  auto operator<=>(const Heard&) const = default;
};

// One node's message counts, by peer. A message is everything one tick sent to one node over one
// channel. `sent` counts this incarnation's messages, so it is also the number of the last one
// sent on the link; `received` counts whatever came in, from any incarnation of the peer.
struct NodeCounts {
  std::map<std::string, uint64_t> sent, received;
  std::map<std::string, Heard> heard;
  bool operator==(const NodeCounts&) const = default;
};

struct NodeReport {
  bool idle = false;         // nothing pending and no periodic timer; or halted, or failed
  uint64_t incarnation = 0;  // how often the launcher started the node again (`restart = true`)
  NodeState state = NodeState::Running;
  uint64_t ticks = 0;
  NodeCounts messages;
  uint64_t dropped = 0;                      // inbound bytes that no node of the deployment sent
  uint64_t foreign = 0;                      // messages of another deployment or run (dropped, net::deployment_id)
  std::vector<std::string> foreign_senders;  // the first few distinct "`node` of `deployment`"
  uint64_t refused = 0;                      // messages from a node of the deployment that failed validation
  uint64_t undeliverable = 0;                // tuples addressed to an addr that is no node of the deployment (dropped)
  uint64_t send_waits = 0;                   // times it held back its next tick because a peer's queue was full
  std::string error;                         // the runtime error, when failed
  std::vector<std::string> refusals;         // the first few distinct refusal lines
  bool operator==(const NodeReport&) const = default;
};

}  // namespace bloom::rt
