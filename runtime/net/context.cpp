#include "net/context.h"

#include <zmq.hpp>

namespace bloom::rt::net {

Context::Context() : zmq_(std::make_unique<zmq::context_t>()) {}

Context::~Context() = default;

}  // namespace bloom::rt::net
