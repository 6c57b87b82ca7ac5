// The control protocol between the launcher (`bloom run D.toml`) and each node it started, one
// message per frame of the control channel (runtime/net/control_channel.h). docs/deploy.md tells
// the story; in order:
//
//   node -> launcher   Hello              set up (endpoint bound, facts loaded), about to tick
//   launcher -> node   Poll{wave}         answer with a Status between two ticks
//   node -> launcher   Status{wave, ...}  a consistent snapshot of the node's counters
//   node -> launcher   Error{message}     a runtime error: the node stops ticking, still counts
//   launcher -> node   Finish             write your outputs and stop
//   node -> launcher   Done{..., outputs} final counters and, without -D, the outputs as text
//   node -> launcher   Fatal{message}     the node cannot run (bad endpoint, bad facts)
//   launcher -> node   Bye                your last message arrived: exit now
//
// After Done or Fatal a node waits for Bye before it exits, so its exit never overtakes its last
// message and an exit the launcher sees without one is a death. The bytes are JSON objects with a
// "type"; decode validates every field, so a message of another shape (a foreign program on the
// TCP fallback, a bug) is refused as a whole and never reaches the code that acts on it.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "dist/node_report.h"

namespace bloom::rt::control {

struct Hello {
  bool operator==(const Hello&) const = default;
};
struct Poll {
  uint64_t wave = 0;
  bool operator==(const Poll&) const = default;
};
struct Status {
  uint64_t wave = 0;  // the Poll it answers
  NodeReport report;
  bool operator==(const Status&) const = default;
};
struct Error {
  std::string message;
  bool operator==(const Error&) const = default;
};
struct Finish {
  bool operator==(const Finish&) const = default;
};
struct Done {
  NodeReport report;    // idle: a finished node does nothing more
  std::string outputs;  // `name(...)` lines when the node has no -D; "" otherwise
  bool operator==(const Done&) const = default;
};
struct Fatal {
  std::string message;
  bool operator==(const Fatal&) const = default;
};
struct Bye {
  bool operator==(const Bye&) const = default;
};

using Message = std::variant<Hello, Poll, Status, Error, Finish, Done, Fatal, Bye>;

// The bytes of one message. Text that is not valid UTF-8 (an output string) is replaced by U+FFFD.
std::string encode(const Message& message);
// The message in `bytes`, or nullopt when they are not exactly one well-formed message: never
// throws, whatever the bytes.
std::optional<Message> decode(std::string_view bytes);

}  // namespace bloom::rt::control
