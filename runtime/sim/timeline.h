// The timeline page of a simulated run: the message-level debugger's space-time diagram. One lane
// per node, each tick a mark on its lane in step order, each message an arrow from the tick that
// sent it to the tick that received it (or to an X where the network dropped or lost it), and
// the faults and violations marked across the lanes. Clicking a tick or a message shows its
// details (tuples, stdout) in a side panel.
#pragma once
#include <string>

#include "sim/trace.h"

namespace bloom::rt::sim {

// One self-contained HTML page (inline CSS and script, nothing fetched): the run's data is
// embedded as JSON and drawn into SVG when the page loads. When drawing finishes the page sets
// `#render-status` to `data-status="ok"` (to "error" with the message if a script error
// happened), and each node's lane is the element with `data-lane="NODE"`: tests rely on both.
std::string timeline_html(const Trace& trace);

}  // namespace bloom::rt::sim
