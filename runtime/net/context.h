// A ZeroMQ context (libzmq's I/O thread and its inproc:// namespace), opaque outside runtime/net:
// code that only starts nodes holds one without seeing ZeroMQ. Sockets reach each other over
// inproc:// only within one Context, so the launcher of an in-process deployment and all its node
// threads share one.
#pragma once
#include <memory>

namespace zmq {
class context_t;
}

namespace bloom::rt::net {

class Context {
 public:
  Context();
  // Waits until the messages its sockets still hold are sent or their ZMQ_LINGER ran out.
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  // For runtime/net's sockets (and tests that put raw sockets beside them).
  zmq::context_t& native() { return *zmq_; }

 private:
  std::unique_ptr<zmq::context_t> zmq_;
};

}  // namespace bloom::rt::net
