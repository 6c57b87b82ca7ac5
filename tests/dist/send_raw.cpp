// send_raw ENDPOINT HEX...: sends each HEX string, decoded, as one ZeroMQ message through a PUSH
// socket connected to ENDPOINT (what a foreign or broken peer would send to a node). For tests.
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <zmq.hpp>

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: send_raw ENDPOINT HEX...\n");
    return 2;
  }
  zmq::context_t ctx;
  zmq::socket_t s(ctx, zmq::socket_type::push);
  s.set(zmq::sockopt::linger, 10000);  // waits for the node to listen
  s.connect(argv[1]);
  for (int i = 2; i < argc; ++i) {
    std::string hex = argv[i], bytes;
    for (size_t k = 0; k + 1 < hex.size(); k += 2) bytes.push_back(static_cast<char>(std::stoi(hex.substr(k, 2), nullptr, 16)));
    s.send(zmq::buffer(bytes), zmq::send_flags::none);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  return 0;
}
