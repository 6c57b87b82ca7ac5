// The faults a simulation injects (`bloom sim --faults SPEC`, docs/sim.md). SPEC is a comma-
// separated list of NAME=VALUE:
//   drop=P        each message is lost with probability P (0 <= P <= 1)
//   dup=P         each message is delivered twice with probability P
//   crash=N       at most N node crashes per run; a crashed node loses its state and restarts
//                 (its facts read again, from tick 0) after a random time up to `downtime`
//   downtime=D    the longest a crashed node stays down (default 500ms)
//   partition=N   at most N network partitions per run, each splitting the nodes in two; a
//                 message sent across a partition is lost; it heals after up to `heal`
//   heal=D        the longest a partition lasts (default 1s)
//   skew=D        each node's now() is off by a fixed random amount within +-D
//   rate=P        the chance, at each step, that a crash or partition (while any is left) happens
//                 (default 0.02)
// D is a duration: an integer with us, ms, s or m (`50ms`). Reordering and delay are not faults:
// the scheduler always chooses the order and the grouping of deliveries.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace bloom::rt::sim {

struct Faults {
  double drop = 0, dup = 0;
  int crashes = 0, partitions = 0;
  int64_t downtime_us = 500'000, heal_us = 1'000'000, skew_us = 0;
  double rate = 0.02;
  bool any() const { return drop > 0 || dup > 0 || crashes > 0 || partitions > 0 || skew_us > 0; }
  std::string str() const;  // canonical SPEC ("" for none)
};

// nullopt and `error` (naming the item) on a malformed SPEC.
std::optional<Faults> parse_faults(std::string_view spec, std::string& error);

}  // namespace bloom::rt::sim
