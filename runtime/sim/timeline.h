// The timeline page of a simulated run: the message-level debugger's space-time diagram. One lane
// per node, each tick a mark on its lane in step order, each message an arrow from the tick that
// sent it to the tick that received it (or to an X where the network dropped or lost it), and
// the faults and violations marked across the lanes. Clicking a tick or a message shows its
// details (tuples, stdout) in a side panel.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "sim/trace.h"

namespace bloom::rt::sim {

// One self-contained HTML page (inline CSS and script, nothing fetched): the run's data is
// embedded as JSON and drawn into SVG when the page loads. When drawing finishes the page sets
// `#render-status` to `data-status="ok"` (to "error" with the message if a script error
// happened), and each node's lane is the element with `data-lane="NODE"`: tests rely on both.
//
// With `derived` (explain.h, derived_by_tick), clicking a tick also shows the tuples each rule
// derived, sent or queued in it that the node did not hold before.
struct RuleOutput {
  std::string rule;  // the rule's text and place
  std::string how;   // "derived", "sent" or "queued for the next tick"
  std::vector<std::string> tuples;
};
// By node, incarnation (0, then 1 after its first restart, ...) and tick.
using TickDerivations = std::map<std::tuple<std::string, int, int64_t>, std::vector<RuleOutput>>;
std::string timeline_html(const Trace& trace, const TickDerivations* derived = nullptr);

}  // namespace bloom::rt::sim
