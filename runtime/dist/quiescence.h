// Global quiescence of a deployment by Mattern's counting method (docs/deploy.md). The launcher
// polls every live node in waves and each node answers between two ticks with a NodeReport. The
// deployment is quiescent when two consecutive complete waves gave identical reports, every node
// was idle, and on every link the receiver has every message the sender sent
// (messages_on_their_way). Identical answers mean no node sent, received or ticked between its
// two answers; as every answer of the first wave comes before every poll of the second, at that
// instant every node was idle and no message was in flight, so nothing can ever happen again.
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

// A link of a snapshot with messages still on their way: `from` sent `sent` messages to `to` in
// its current incarnation, and `to` has `arrived` of them.
struct Backlog {
  std::string from, to;
  uint64_t sent = 0, arrived = 0;
  bool operator==(const Backlog&) const = default;
};

// Messages a restarted node will never get, and nobody waits for: what `from` (in incarnation
// `from_incarnation`) had sent to `to` when `to`, in incarnation `to_incarnation`, first
// answered a wave. Each of them was taken by an earlier incarnation of `to` or lost with it, or
// it waited in `from`'s queue for the new connection: then it arrives soon after `to` is up,
// which is why the launcher lets some time pass after a restart before it believes a quiet
// snapshot (docs/deploy.md).
struct Forgiven {
  uint64_t from_incarnation = 0, to_incarnation = 0, sent = 0;
};
using ForgivenLinks = std::map<std::pair<std::string, std::string>, Forgiven>;  // (from, to)

// The links of `reports` with messages on their way, link by link. Messages of one link arrive
// in order (one ZeroMQ connection at a time, a reconnection resends what waited), so `to` has
// every message of `from` up to the last number it heard from `from`'s current incarnation:
// the link is settled when that number, or the forgiven count, is what `from` sent. Between two
// nodes never started again, the received count must also equal the sent count (Mattern's
// counting, which a gap in the numbers would fail). Judged link by link, never in sum: a
// message counted as received from `a` that `a` never sent (bytes forging its name) must not
// hide one still on its way elsewhere. Links involving nodes outside `reports` (dead ones) are
// left out.
std::vector<Backlog> messages_on_their_way(const std::map<std::string, NodeReport>& reports, const ForgivenLinks& forgiven = {});

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
  // Once every polled node has answered: closes the wave and judges it. Waiting before that.
  Verdict conclude();
  // Whether the current wave polled `node` and still waits for its answer.
  bool awaiting(const std::string& node) const;
  // The node's report in the last complete wave it took part in; null if none.
  const NodeReport* latest(const std::string& node) const;
  // Its answer to the current wave if it gave one (newer), else latest().
  const NodeReport* freshest(const std::string& node) const;
  // The links with messages on their way in the last complete wave.
  const std::vector<Backlog>& backlog() const { return backlog_; }

 private:
  uint64_t wave_ = 0;
  bool in_wave_ = false;
  std::map<std::string, std::optional<NodeReport>> answers_;   // this wave's polled nodes
  std::optional<std::map<std::string, NodeReport>> previous_;  // the last complete snapshot
  std::map<std::string, NodeReport> latest_;
  std::vector<Backlog> backlog_;
  // A node answering in an incarnation other than the one seen last (or its first answer, in an
  // incarnation after 0) was started again: its peers' links to it get what they sent forgiven.
  std::map<std::string, uint64_t> incarnation_;
  ForgivenLinks forgiven_;
  bool note_restarts(const std::map<std::string, NodeReport>& snapshot);
};

}  // namespace bloom::rt
