// Warnings caused by what arrives from the network (garbage, forged senders, undeliverable
// tuples) are logged in bounded memory and at a bounded rate: an outsider who can reach a node's
// port chooses their text and how many there are. Each distinct line is logged once; at most
// `max_distinct` distinct lines are remembered (later new ones are counted, not logged); at most
// `burst` lines go out per `window`, and the number held back is said when the next one goes out.
// Lines are cut to `max_line` bytes with control bytes escaped. No clock of its own: the caller
// passes the time, so tests need no waiting.
#pragma once
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <absl/container/flat_hash_set.h>
#include <fmt/format.h>

namespace bloom::rt {

// `text` as it may be shown: printable ASCII as it is, other bytes as \xNN, cut after `max`
// bytes of input with the full length said.
inline std::string excerpt(std::string_view text, size_t max = 64) {
  std::string out;
  const size_t n = std::min(text.size(), max);
  out.reserve(n + 16);
  for (size_t i = 0; i < n; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7f) out += static_cast<char>(c);
    else out += fmt::format("\\x{:02x}", c);
  }
  if (text.size() > max) out += fmt::format("... ({} bytes)", text.size());
  return out;
}

class LogLimiter {
 public:
  using Clock = std::chrono::steady_clock;
  struct Limits {
    size_t max_distinct = 100;  // distinct lines remembered
    size_t max_line = 400;      // bytes of a line kept and shown
    size_t burst = 20;          // lines per window
    Clock::duration window = std::chrono::seconds(10);
  };
  LogLimiter() = default;
  explicit LogLimiter(Limits limits) : limits_(limits) {}

  // The lines to log now for `line` (none, the line, or a note of what was held back first).
  std::vector<std::string> admit(std::string_view line, Clock::time_point now) {
    std::vector<std::string> out;
    std::string text = excerpt(line, limits_.max_line);
    if (seen_.contains(text)) return out;  // logged once already
    if (seen_.size() >= limits_.max_distinct) {
      ++held_back_;
      return out;
    }
    if (!window_start_ || now - *window_start_ >= limits_.window) {
      window_start_ = now;
      in_window_ = 0;
    }
    if (in_window_ >= limits_.burst) {
      ++held_back_;  // not remembered either: it may be logged once the rate allows
      return out;
    }
    if (held_back_ > 0) {
      out.push_back(fmt::format("{} more warning{} of this kind not shown (too many)", held_back_, held_back_ == 1 ? "" : "s"));
      held_back_ = 0;
    }
    ++in_window_;
    seen_.insert(text);
    out.push_back(std::move(text));
    return out;
  }
  uint64_t held_back() const { return held_back_; }
  size_t remembered() const { return seen_.size(); }

 private:
  Limits limits_;
  absl::flat_hash_set<std::string> seen_;
  std::optional<Clock::time_point> window_start_;
  size_t in_window_ = 0;
  uint64_t held_back_ = 0;
};

}  // namespace bloom::rt
