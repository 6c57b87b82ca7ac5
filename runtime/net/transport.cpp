#include "net/transport.h"

#include <sched.h>

#include <cstdint>
#include <iostream>
#include <stdexcept>

#include <zmq.hpp>

namespace bloom::rt::net {

Transport::Transport(Context& ctx, TransportOptions options) : Transport(ctx.native(), std::move(options)) {}

Transport::Transport(zmq::context_t& ctx, TransportOptions options)
    : ctx_(ctx), opts_(std::move(options)), in_(std::make_unique<zmq::socket_t>(ctx_, zmq::socket_type::pull)) {
  if (!opts_.warn) opts_.warn = [](const std::string& m) { std::cerr << "bloom: warning: " << m << "\n"; };
  if (opts_.queue_limit < 1) opts_.queue_limit = 1;
  try {
    in_->set(zmq::sockopt::linger, opts_.linger_ms);
    in_->set(zmq::sockopt::rcvhwm, opts_.queue_limit);
    in_->set(zmq::sockopt::maxmsgsize, opts_.max_message_bytes);
    in_->bind(opts_.bind);
  } catch (const zmq::error_t& e) {
    throw std::runtime_error("node `" + opts_.self + "` cannot listen on " + opts_.bind + ": " + e.what());
  }
  peers_.reserve(opts_.peers.size());
  for (const auto& p : opts_.peers) {
    if (by_name_.contains(p.name)) continue;  // the first endpoint given for a name wins
    by_name_.emplace(p.name, peers_.size());
    peers_.push_back(Out{p.name, p.endpoint, nullptr, false, 0});
  }
}

Transport::~Transport() = default;

std::string Transport::endpoint() const { return in_->get(zmq::sockopt::last_endpoint); }

bool Transport::knows(std::string_view peer) const { return by_name_.contains(absl::string_view(peer.data(), peer.size())); }

bool Transport::add_peer(Peer peer) {
  if (auto it = by_name_.find(peer.name); it != by_name_.end()) {
    Out& out = peers_[it->second];
    if (out.socket) return false;
    out.endpoint = std::move(peer.endpoint);
    return true;
  }
  by_name_.emplace(peer.name, peers_.size());
  peers_.push_back(Out{std::move(peer.name), std::move(peer.endpoint), nullptr, false, 0});
  return true;
}

void Transport::connect(Out& out) {
  auto s = std::make_unique<zmq::socket_t>(ctx_, zmq::socket_type::push);
  try {
    s->set(zmq::sockopt::linger, opts_.linger_ms);
    s->set(zmq::sockopt::sndhwm, opts_.queue_limit);
    s->set(zmq::sockopt::immediate, false);
    s->connect(out.endpoint);
  } catch (const zmq::error_t& e) {
    throw std::runtime_error("node `" + opts_.self + "` cannot connect to peer `" + out.name + "` at " + out.endpoint + ": " + e.what());
  }
  out.socket = std::move(s);
}

Transport::SendResult Transport::send(std::string_view peer, std::string_view bytes) {
  auto it = by_name_.find(absl::string_view(peer.data(), peer.size()));
  if (it == by_name_.end()) {
    ++stats_.refused;
    return SendResult::UnknownPeer;
  }
  Out& out = peers_[it->second];
  if (!out.socket) connect(out);
  zmq::send_result_t r;
  try {
    r = out.socket->send(zmq::const_buffer(bytes.data(), bytes.size()), zmq::send_flags::dontwait);
  } catch (const zmq::error_t& e) {
    // EAGAIN is reported as an empty result, not thrown; anything else (ETERM while the context
    // shuts down) is a refusal too, never an exception out of the tick loop.
    ++stats_.refused;
    opts_.warn("node `" + opts_.self + "`: sending to `" + out.name + "` at " + out.endpoint + " failed: " + e.what());
    return SendResult::QueueFull;
  }
  if (!r) {
    ++stats_.refused;
    ++out.refused_in_episode;
    if (!out.overflowing) {
      out.overflowing = true;
      opts_.warn("node `" + opts_.self + "`: the queue to `" + out.name + "` (" + out.endpoint + ") is full at " +
                 std::to_string(opts_.queue_limit) + " messages (the peer is down or slow); messages to it are dropped until it drains");
    }
    return SendResult::QueueFull;
  }
  if (out.overflowing) {
    opts_.warn("node `" + opts_.self + "`: the queue to `" + out.name + "` drains again; " + std::to_string(out.refused_in_episode) +
               " messages were dropped while it was full");
    out.overflowing = false;
    out.refused_in_episode = 0;
  }
  ++stats_.sent;
  return SendResult::Sent;
}

bool Transport::spin_for_message(std::chrono::microseconds spin) {
  // zmq_poll, not a ZMQ_DONTWAIT receive: a non-blocking receive reads the socket's command queue
  // (where "a message arrived" comes from the I/O thread) at most once a millisecond or so.
  auto until = std::chrono::steady_clock::now() + spin;
  zmq::pollitem_t item{in_->handle(), 0, ZMQ_POLLIN, 0};
  do {
    try {
      if (zmq::poll(&item, 1, std::chrono::milliseconds(0)) > 0) return true;
    } catch (const zmq::error_t&) {
      return false;  // EINTR or ETERM: the caller's loop looks at why
    }
    sched_yield();
  } while (std::chrono::steady_clock::now() < until);
  return false;
}

bool Transport::receive(std::string& bytes, std::chrono::milliseconds timeout) {
  zmq::message_t msg;
  try {
    if (timeout.count() <= 0) {
      if (!in_->recv(msg, zmq::recv_flags::dontwait)) return false;
    } else {
      // A blocking receive bounded by ZMQ_RCVTIMEO (set only when the timeout changes): one call
      // into libzmq, where a zmq_poll first would be two.
      const int ms = timeout.count() > INT32_MAX ? INT32_MAX : static_cast<int>(timeout.count());
      if (ms != rcvtimeo_) {
        in_->set(zmq::sockopt::rcvtimeo, ms);
        rcvtimeo_ = ms;
      }
      if (!in_->recv(msg, zmq::recv_flags::none)) return false;
    }
  } catch (const zmq::error_t& e) {
    if (e.num() == EINTR) return false;  // a signal: the caller's loop checks its stop flag
    throw std::runtime_error("node `" + opts_.self + "`: receiving on " + opts_.bind + " failed: " + e.what());
  }
  bytes.assign(static_cast<const char*>(msg.data()), msg.size());
  ++stats_.received;
  return true;
}

}  // namespace bloom::rt::net
