#include "net/control_channel.h"

#include <stdlib.h>

#include <cerrno>
#include <cstdint>
#include <filesystem>
#include <iterator>
#include <stdexcept>

#include <zmq.hpp>
#include <zmq_addon.hpp>

namespace bloom::rt::net {

ControlServer::ControlServer(Context& ctx, Reach reach) : router_(std::make_unique<zmq::socket_t>(ctx.native(), zmq::socket_type::router)) {
  router_->set(zmq::sockopt::linger, 0);
  // A send to a node that is not connected fails instead of vanishing: see send().
  router_->set(zmq::sockopt::router_mandatory, 1);
  try {
    if (reach == Reach::ThisProcess) {
      router_->bind("inproc://bloom-control-" + std::to_string(reinterpret_cast<uintptr_t>(this)));
    } else {
      std::string dir = (std::filesystem::temp_directory_path() / "bloom-control-XXXXXX").string();
      bool bound = false;
      // A Unix socket's path is limited to about 100 bytes.
      if (dir.size() < 90 && mkdtemp(dir.data()) != nullptr) {
        socket_dir_ = dir;
        try {
          router_->bind("ipc://" + dir + "/launcher");
          bound = true;
        } catch (const zmq::error_t&) {
        }
      }
      if (!bound) router_->bind("tcp://127.0.0.1:*");
    }
  } catch (const zmq::error_t& e) {
    remove_socket_file();
    throw std::runtime_error(std::string("cannot bind the launcher's control socket: ") + e.what());
  }
  endpoint_ = router_->get(zmq::sockopt::last_endpoint);
}

ControlServer::~ControlServer() { remove_socket_file(); }

void ControlServer::remove_socket_file() {
  if (socket_dir_.empty()) return;
  std::error_code ec;
  std::filesystem::remove_all(socket_dir_, ec);
  socket_dir_.clear();
}

bool ControlServer::send(std::string_view node, std::string_view bytes) {
  try {
    router_->send(zmq::const_buffer(node.data(), node.size()), zmq::send_flags::sndmore);
    router_->send(zmq::const_buffer(bytes.data(), bytes.size()), zmq::send_flags::none);
    return true;
  } catch (const zmq::error_t&) {
    return false;  // EHOSTUNREACH (ZMQ_ROUTER_MANDATORY): no such node is connected
  }
}

bool ControlServer::receive(std::string& node, std::string& bytes) {
  while (true) {
    std::vector<zmq::message_t> parts;
    if (!zmq::recv_multipart(*router_, std::back_inserter(parts), zmq::recv_flags::dontwait)) return false;
    if (parts.size() != 2) continue;  // the sender's name, then one frame
    node = parts[0].to_string();
    bytes = parts[1].to_string();
    return true;
  }
}

std::vector<bool> ControlServer::wait(const std::vector<int>& fds, std::chrono::milliseconds timeout) {
  std::vector<zmq::pollitem_t> items;
  items.push_back({router_->handle(), 0, ZMQ_POLLIN, 0});
  for (int fd : fds) items.push_back({nullptr, fd, ZMQ_POLLIN, 0});
  try {
    zmq::poll(items, timeout);
  } catch (const zmq::error_t& e) {
    if (e.num() != EINTR) throw;
  }
  std::vector<bool> ready(fds.size());
  for (size_t i = 0; i < fds.size(); ++i) ready[i] = (items[i + 1].revents & (ZMQ_POLLIN | ZMQ_POLLERR)) != 0;
  return ready;
}

ControlClient::ControlClient(Context& ctx, const std::string& node, const std::string& endpoint)
    : dealer_(std::make_unique<zmq::socket_t>(ctx.native(), zmq::socket_type::dealer)) {
  dealer_->set(zmq::sockopt::routing_id, node);  // how the launcher knows who speaks
  dealer_->set(zmq::sockopt::linger, 1000);
  try {
    dealer_->connect(endpoint);
  } catch (const zmq::error_t& e) {
    throw std::runtime_error(e.what());
  }
}

ControlClient::~ControlClient() = default;

void ControlClient::send(std::string_view bytes) {
  dealer_->send(zmq::const_buffer(bytes.data(), bytes.size()), zmq::send_flags::dontwait);
}

bool ControlClient::receive(std::string& bytes, std::chrono::milliseconds timeout) {
  zmq::message_t message;
  try {
    if (timeout.count() > 0) {
      zmq::pollitem_t item{dealer_->handle(), 0, ZMQ_POLLIN, 0};
      if (zmq::poll(&item, 1, timeout) == 0) return false;
    }
    if (!dealer_->recv(message, zmq::recv_flags::dontwait)) return false;
  } catch (const zmq::error_t& e) {
    if (e.num() == EINTR) return false;  // a signal: the caller's loop checks its stop flag
    throw std::runtime_error(std::string("the control channel failed: ") + e.what());
  }
  bytes = message.to_string();
  return true;
}

}  // namespace bloom::rt::net
