// Global quiescence of a deployment by Mattern's counting method (docs/deploy.md). The launcher
// polls every live node in waves and each node answers between two ticks with a NodeReport. The
// deployment is quiescent when two consecutive complete waves gave identical reports, every node
// was idle, and for every pair of nodes what one sent to the other equals what the other received
// from it. Identical answers mean no node sent, received or ticked between its two answers; as
// every answer of the first wave comes before every poll of the second, at that instant every
// node was idle and no message was in flight, so nothing can ever happen again.
//
// QuiescenceDetector holds that rule and the answers, nothing else: no sockets, no clock. The
// launcher sends the polls and feeds in the answers and the deaths.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "dist/node_report.h"

namespace bloom::rt {

// True when, for every pair of nodes of `counts`, what one sent to the other equals what the
// other received from it. Pair by pair, not in sum: a message counted as received from `a`
// that `a` never sent (bytes forging its name) must not hide a message still in flight
// elsewhere. Counts involving nodes outside `counts` (dead ones) are left out.
bool messages_balance(const std::map<std::string, NodeCounts>& counts);

class QuiescenceDetector {
 public:
  enum class Verdict {
    Waiting,    // the wave is not over: a polled node has not answered yet
    Busy,       // the wave is over and some node was busy
    Idle,       // the wave is over and every node idle, but this is not yet the second identical
                // balanced wave in a row (a message may be in flight)
    Quiescent,  // the deployment is quiescent
  };

  // Starts the next wave, which polls `nodes` (the live ones); returns its number, for the polls.
  uint64_t start_wave(std::vector<std::string> nodes);
  bool in_wave() const { return in_wave_; }
  // A poll of the wave did not go out: its snapshot would miss a node. The wave is dropped, and
  // so is the previous snapshot: the next one cannot be compared across the gap.
  void abandon_wave();
  // A node's answer. Ignored unless it answers the current wave and the node was polled in it (a
  // late answer to an abandoned wave, or a name that is not a node polled now).
  void record(const std::string& node, uint64_t wave, const NodeReport& report);
  // A node died (or stopped by itself). A wave that polled it is abandoned: it cannot complete.
  void node_lost(const std::string& node);
  // A node that died was started again (`restart = true`): its counters start from zero, while
  // its peers' counts of messages to and from it include its earlier life. Pairs with it are
  // compared from the first complete wave it answers in (the base), and there a message on its
  // way at the base (sent to the old node, taken by the new one) is not waited for.
  void node_restarted(const std::string& node);
  // Once every polled node has answered: closes the wave and judges it. Waiting before that.
  Verdict conclude();
  // Whether the current wave polled `node` and still waits for its answer.
  bool awaiting(const std::string& node) const;
  // The node's report in the last complete wave it took part in; null if none.
  const NodeReport* latest(const std::string& node) const;
  // Its answer to the current wave if it gave one (newer), else latest().
  const NodeReport* freshest(const std::string& node) const;

 private:
  uint64_t wave_ = 0;
  bool in_wave_ = false;
  std::map<std::string, std::optional<NodeReport>> answers_;  // this wave's polled nodes
  std::optional<std::map<std::string, NodeReport>> previous_;  // the last complete snapshot
  std::map<std::string, NodeReport> latest_;
  std::vector<std::string> rebase_;  // restarted, base not taken yet
  struct Base {  // the counts between the peer and the restarted node at the base, both sides
    uint64_t peer_sent = 0, peer_received = 0, node_sent = 0, node_received = 0;
  };
  std::map<std::pair<std::string, std::string>, Base> base_;  // (peer, restarted node)
  bool rebase(std::map<std::string, NodeCounts>& counts);
};

}  // namespace bloom::rt
