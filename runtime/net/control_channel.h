// The control channel between a launcher and the nodes it started (`bloom run D.toml`): a ZeroMQ
// ROUTER bound by the launcher (ControlServer), one DEALER per node connected to it under the
// node's name (ControlClient). Each message is one frame of opaque bytes; runtime/dist/control.h
// says what they mean. Like Transport, each end belongs to one thread, and the header does not
// include ZeroMQ's.
#pragma once
#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "net/context.h"

namespace zmq {
class socket_t;
}

namespace bloom::rt::net {

class ControlServer {
 public:
  enum class Reach {
    ThisProcess,  // inproc:// in `ctx`: the nodes are threads sharing it
    ThisMachine,  // a Unix socket in a fresh private temporary directory: no TCP port that a
                  // deployment (or another run) might want, and only this user can reach it;
                  // tcp://127.0.0.1 on a free port when that cannot be made
  };
  // Binds; throws std::runtime_error naming the endpoint when even that fails.
  ControlServer(Context& ctx, Reach reach);
  // Closes the socket and removes its directory if still there.
  ~ControlServer();
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  // What the nodes connect to (`bloom node --control ENDPOINT`).
  const std::string& endpoint() const { return endpoint_; }
  // Removes the Unix socket's directory. Once every node is connected the file is no longer
  // needed, and removing it early leaves nothing behind even if the launcher is then killed.
  void remove_socket_file();
  // Sends `bytes` to the node connected as `node`; false when no such node is connected (it has
  // not connected yet, or its connection is gone) or ZeroMQ refuses. Never blocks.
  bool send(std::string_view node, std::string_view bytes);
  // Takes one waiting message and the name of the node that sent it; false when none is waiting.
  // A message of another shape (not one frame) is skipped.
  bool receive(std::string& node, std::string& bytes);
  // Waits up to `timeout` for a message here or input on one of `fds` (a signal ends the wait
  // early). Returns, per fd, whether it is readable or in error (reading it then cannot block).
  std::vector<bool> wait(const std::vector<int>& fds, std::chrono::milliseconds timeout);

 private:
  std::unique_ptr<zmq::socket_t> router_;
  std::string endpoint_;
  std::string socket_dir_;  // the Unix socket's private directory, "" once removed (or none)
};

class ControlClient {
 public:
  // Connects to a launcher's ControlServer at `endpoint` under the name `node`. Throws
  // std::runtime_error with ZeroMQ's reason when the endpoint is malformed.
  ControlClient(Context& ctx, const std::string& node, const std::string& endpoint);
  ~ControlClient();
  ControlClient(const ControlClient&) = delete;
  ControlClient& operator=(const ControlClient&) = delete;

  // Queues `bytes` for the launcher; never blocks. The context, when it ends, waits up to 1 s
  // for what is still queued, so a node's last message goes out before it exits.
  void send(std::string_view bytes);
  // Waits up to `timeout` (0: only looks) for one message from the launcher. false on timeout or
  // when a signal interrupts the wait; throws std::runtime_error when the socket fails.
  bool receive(std::string& bytes, std::chrono::milliseconds timeout);

 private:
  std::unique_ptr<zmq::socket_t> dealer_;
};

}  // namespace bloom::rt::net
