// Message-level why-provenance (`bloom sim --replay TRACE --explain 'node.collection(v1, v2)'`):
// replays a trace exactly while recording how each tuple first came to exist at each node (the
// rule and the body tuples of its first derivation, or the message it arrived in), then explains
// a tuple as a tree: the rule that derived it, each tuple of that rule's body explained in turn,
// and a tuple that arrived in a message explained at the node and tick that sent it.
#pragma once
#include <optional>
#include <string>
#include <string_view>

#include "sim/simulator.h"
#include "sim/timeline.h"
#include "sim/trace.h"

namespace bloom::rt::sim {

// The explanation as text, one line per tuple, indented by depth. nullopt with `error` when the
// replay departs from the trace, the target is malformed, or its node never held the tuple
// (the error then lists tuples of that collection it did hold).
std::optional<std::string> explain(const SimOptions& options, const Trace& trace, std::string_view target, std::string& error);

// The same replay, giving per tick of each node what each rule produced in it that the node did
// not hold before (for the timeline). nullopt with `error` when the replay departs from the trace.
std::optional<TickDerivations> derived_by_tick(const SimOptions& options, const Trace& trace, std::string& error);

}  // namespace bloom::rt::sim
