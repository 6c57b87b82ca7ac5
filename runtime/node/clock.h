// Where a node reads time. A node never reads a clock directly: its periodic timers and the
// `now()` of its rules go through a NodeClock, so the same node loop runs on the machine's
// clocks (bloom run, bloom node) and on the simulator's virtual clock (bloom sim), where time
// advances only when the simulator says so and every run is reproducible from its seed.
#pragma once
#include <chrono>
#include <cstdint>

namespace bloom::rt {

class NodeClock {
 public:
  using time_point = std::chrono::steady_clock::time_point;
  virtual ~NodeClock() = default;
  // Monotonic time: when periodic timers fire.
  virtual time_point monotonic() const = 0;
  // Milliseconds since the Unix epoch: what `now()` returns (read once at the start of a tick).
  virtual int64_t wall_ms() const = 0;
};

// The machine's clocks (std::chrono::steady_clock and system_clock).
class SystemClock final : public NodeClock {
 public:
  time_point monotonic() const override { return std::chrono::steady_clock::now(); }
  int64_t wall_ms() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  }
  static const SystemClock& instance() {
    static const SystemClock clock;
    return clock;
  }
};

}  // namespace bloom::rt
