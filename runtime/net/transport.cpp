#include "net/transport.h"

#include <sched.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <iostream>
#include <map>
#include <stdexcept>
#include <thread>

#include <zmq.hpp>
#include <zmq_addon.hpp>

namespace bloom::rt::net {

KeyPair generate_keypair() {
  char pub[41], sec[41];
  if (!zmq_has("curve") || zmq_curve_keypair(pub, sec) != 0)
    throw std::runtime_error("this libzmq has no CURVE (built without libsodium): run with `insecure = true` in the deployment");
  return {pub, sec};
}

bool valid_curve_key(std::string_view key) {
  if (key.size() != 40) return false;
  uint8_t bin[32];
  return zmq_z85_decode(bin, std::string(key).c_str()) != nullptr;
}

std::string public_key_of(std::string_view secret_key) {
  if (!valid_curve_key(secret_key)) return "";
  char pub[41];
  if (zmq_curve_public(pub, std::string(secret_key).c_str()) != 0) return "";
  return pub;
}

// ZeroMQ's authentication hook (ZAP, RFC 27): libzmq asks the REP socket bound at
// inproc://zeromq.zap.01 in the socket's context about each CURVE handshake. This one accepts a
// client key of the deployment and names the node that owns it as the connection's User-Id,
// which every message that arrives over it carries. Any other key is refused: that peer never
// gets a message through.
class Transport::Zap {
 public:
  Zap(zmq::context_t& ctx, const std::vector<std::pair<std::string, std::string>>& peers) : sock_(ctx, zmq::socket_type::rep) {
    for (const auto& [name, key] : peers) {
      std::string bin(32, '\0');
      if (zmq_z85_decode(reinterpret_cast<uint8_t*>(bin.data()), key.c_str())) names_[bin] = name;
    }
    sock_.set(zmq::sockopt::linger, 0);
    sock_.bind("inproc://zeromq.zap.01");
    thread_ = std::thread([this] { run(); });
  }
  ~Zap() {
    stop_ = true;
    thread_.join();
  }

 private:
  void run() {
    try {
      while (!stop_) {
        zmq::pollitem_t item{sock_.handle(), 0, ZMQ_POLLIN, 0};
        if (zmq::poll(&item, 1, std::chrono::milliseconds(100)) <= 0) continue;  // a short wait: the stop flag
        std::vector<zmq::message_t> req;
        if (!zmq::recv_multipart(sock_, std::back_inserter(req))) continue;
        // version, request id, domain, address, identity, mechanism, credentials (the key)
        std::string user;
        bool ok = false;
        if (req.size() >= 7 && req[5].to_string_view() == "CURVE" && req[6].size() == 32) {
          auto it = names_.find(req[6].to_string());
          if (it != names_.end()) ok = true, user = it->second;
        }
        std::array<zmq::const_buffer, 6> reply = {zmq::str_buffer("1.0"),
                                                  zmq::buffer(req.size() > 1 ? req[1].data() : nullptr, req.size() > 1 ? req[1].size() : 0),
                                                  ok ? zmq::str_buffer("200") : zmq::str_buffer("400"),
                                                  ok ? zmq::str_buffer("OK") : zmq::str_buffer("not a key of the deployment"),
                                                  zmq::buffer(user),
                                                  zmq::const_buffer()};
        zmq::send_multipart(sock_, reply);
      }
    } catch (const zmq::error_t&) {
      // ETERM: the context is going away.
    }
  }

  zmq::socket_t sock_;
  std::map<std::string, std::string> names_;  // binary public key -> node
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

Transport::Transport(Context& ctx, TransportOptions options) : Transport(ctx.native(), std::move(options)) {}

Transport::Transport(zmq::context_t& ctx, TransportOptions options)
    : ctx_(ctx), opts_(std::move(options)), in_(std::make_unique<zmq::socket_t>(ctx_, zmq::socket_type::pull)) {
  if (!opts_.warn) opts_.warn = [](const std::string& m) { std::cerr << "bloom: warning: " << m << "\n"; };
  if (opts_.queue_limit < 1) opts_.queue_limit = 1;
  try {
    if (opts_.curve.on) {
      zap_ = std::make_unique<Zap>(ctx_, opts_.curve.peers);  // before the first connection can come
      in_->set(zmq::sockopt::curve_server, true);
      in_->set(zmq::sockopt::curve_secretkey, opts_.curve.self.secret_key);
      in_->set(zmq::sockopt::zap_domain, "bloom");
    }
    in_->set(zmq::sockopt::linger, opts_.linger_ms);
    in_->set(zmq::sockopt::rcvhwm, opts_.queue_limit);
    in_->set(zmq::sockopt::maxmsgsize, opts_.max_message_bytes);
    if (opts_.bind.find('[') != std::string::npos) in_->set(zmq::sockopt::ipv6, true);  // tcp://[::1]:PORT
    in_->bind(opts_.bind);
  } catch (const zmq::error_t& e) {
    throw std::runtime_error("node `" + opts_.self + "` cannot listen on " + opts_.bind + ": " + e.what());
  }
  peers_.reserve(opts_.peers.size());
  for (const auto& p : opts_.peers) {
    if (by_name_.contains(p.name)) continue;  // the first endpoint given for a name wins
    by_name_.emplace(p.name, peers_.size());
    peers_.push_back(Out{p.name, p.endpoint, nullptr});
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
  peers_.push_back(Out{std::move(peer.name), std::move(peer.endpoint), nullptr});
  return true;
}

void Transport::connect(Out& out, const std::function<void(zmq::socket_t&)>& before_connect) {
  auto s = std::make_unique<zmq::socket_t>(ctx_, zmq::socket_type::push);
  try {
    s->set(zmq::sockopt::linger, opts_.linger_ms);
    s->set(zmq::sockopt::sndhwm, opts_.queue_limit);
    s->set(zmq::sockopt::immediate, false);
    if (out.endpoint.find('[') != std::string::npos) s->set(zmq::sockopt::ipv6, true);
    if (opts_.curve.on) {
      auto key = std::find_if(opts_.curve.peers.begin(), opts_.curve.peers.end(), [&](const auto& p) { return p.first == out.name; });
      if (key == opts_.curve.peers.end())
        throw std::runtime_error("node `" + opts_.self + "` has no public key for peer `" + out.name + "`");
      s->set(zmq::sockopt::curve_serverkey, key->second);
      s->set(zmq::sockopt::curve_publickey, opts_.curve.self.public_key);
      s->set(zmq::sockopt::curve_secretkey, opts_.curve.self.secret_key);
    }
    if (before_connect) before_connect(*s);
    s->connect(out.endpoint);
  } catch (const zmq::error_t& e) {
    throw std::runtime_error("node `" + opts_.self + "` cannot connect to peer `" + out.name + "` at " + out.endpoint + ": " + e.what());
  }
  out.socket = std::move(s);
}

std::vector<std::string> Transport::connect_all(std::chrono::milliseconds wait) {
  // A monitor per connection reports its handshake (ZMQ_EVENT_HANDSHAKE_SUCCEEDED, for every
  // security mechanism since libzmq 4.3). It must be attached before connect(), or the event may
  // come first. inproc:// has no handshake and connects at once.
  static std::atomic<uint64_t> monitors{0};
  struct Watch {
    std::string peer;
    zmq::socket_t* socket;
    std::unique_ptr<zmq::socket_t> events;
    bool done = false;
  };
  std::vector<Watch> watches;
  for (Out& out : peers_) {
    if (out.socket) continue;
    try {
      connect(out, [&](zmq::socket_t& s) {
        if (wait.count() <= 0 || out.endpoint.starts_with("inproc://")) return;
        std::string at = "inproc://bloom-connect-" + std::to_string(monitors++);
        if (zmq_socket_monitor(s.handle(), at.c_str(), ZMQ_EVENT_HANDSHAKE_SUCCEEDED) != 0) return;
        auto events = std::make_unique<zmq::socket_t>(ctx_, zmq::socket_type::pair);
        events->set(zmq::sockopt::linger, 0);
        events->connect(at);
        watches.push_back({out.name, &s, std::move(events)});
      });
    } catch (const std::exception&) {
      // The first send to it connects again and reports the endpoint.
      if (!watches.empty() && watches.back().peer == out.name) watches.pop_back();  // its socket is gone
    }
  }
  const auto until = std::chrono::steady_clock::now() + wait;
  for (;;) {
    std::vector<zmq::pollitem_t> items;
    std::vector<Watch*> open;
    for (auto& w : watches)
      if (!w.done) {
        items.push_back({w.events->handle(), 0, ZMQ_POLLIN, 0});
        open.push_back(&w);
      }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
    if (items.empty() || left.count() <= 0) break;
    try {
      if (zmq::poll(items.data(), items.size(), left) <= 0) continue;
    } catch (const zmq::error_t&) {
      break;  // a signal: stop waiting, the node's loop sees it
    }
    for (size_t i = 0; i < items.size(); ++i) {
      if (!(items[i].revents & ZMQ_POLLIN)) continue;
      std::vector<zmq::message_t> event;
      if (zmq::recv_multipart(*open[i]->events, std::back_inserter(event), zmq::recv_flags::dontwait)) open[i]->done = true;
    }
  }
  std::vector<std::string> missing;
  for (auto& w : watches) {
    zmq_socket_monitor(w.socket->handle(), nullptr, 0);
    if (!w.done) missing.push_back(w.peer);
  }
  return missing;
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
    // shuts down) is reported like a full queue (the message stays with the caller), never as an
    // exception out of the tick loop.
    ++stats_.refused;
    opts_.warn("node `" + opts_.self + "`: sending to `" + out.name + "` at " + out.endpoint + " failed: " + e.what());
    return SendResult::QueueFull;
  }
  if (!r) {
    ++stats_.full;  // EAGAIN: the caller keeps the message and waits for room
    return SendResult::QueueFull;
  }
  ++stats_.sent;
  return SendResult::Sent;
}

bool Transport::wait(const std::vector<std::string>& peers, std::chrono::milliseconds timeout) {
  std::vector<zmq::pollitem_t> items;
  items.push_back({in_->handle(), 0, ZMQ_POLLIN, 0});
  for (const auto& p : peers) {
    auto it = by_name_.find(p);
    if (it == by_name_.end()) continue;
    Out& out = peers_[it->second];
    if (!out.socket) return true;  // not connected yet: the next send connects it
    items.push_back({out.socket->handle(), 0, ZMQ_POLLOUT, 0});
  }
  try {
    return zmq::poll(items.data(), items.size(), timeout) > 0;
  } catch (const zmq::error_t&) {
    return false;  // EINTR or ETERM: the caller's loop looks at why
  }
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
  std::string_view view;
  if (!receive(view, timeout)) return false;
  bytes.assign(view);
  return true;
}

bool Transport::receive(std::string_view& bytes, std::chrono::milliseconds timeout) {
  if (!received_) received_ = std::make_unique<zmq::message_t>();
  zmq::message_t& msg = *received_;
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
  bytes = std::string_view(static_cast<const char*>(msg.data()), msg.size());
  if (zap_) {
    try {
      const char* user = msg.gets("User-Id");  // set by the ZAP handler at the handshake
      last_sender_ = user ? user : "";
    } catch (const zmq::error_t&) {
      last_sender_.clear();
    }
  }
  ++stats_.received;
  return true;
}

}  // namespace bloom::rt::net
