// send_raw ENDPOINT HEX...: sends each HEX string, decoded, as one ZeroMQ message through a PUSH
// socket connected to ENDPOINT (what a foreign or broken peer would send to a node). With `-` as
// the only HEX, the messages are read from stdin, one HEX string a line (floods too big for a
// command line). For tests.
#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>
#include <thread>
#include <zmq.hpp>

namespace {
int digit(char c) { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; }
std::string unhex(const std::string& hex) {
  std::string bytes;
  bytes.reserve(hex.size() / 2);
  for (size_t k = 0; k + 1 < hex.size(); k += 2) bytes.push_back(static_cast<char>(digit(hex[k]) * 16 + digit(hex[k + 1])));
  return bytes;
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: send_raw ENDPOINT HEX... | send_raw ENDPOINT - < LINES\n");
    return 2;
  }
  zmq::context_t ctx;
  zmq::socket_t s(ctx, zmq::socket_type::push);
  s.set(zmq::sockopt::linger, 10000);  // waits for the node to listen
  s.connect(argv[1]);
  if (argc == 3 && std::string(argv[2]) == "-") {
    std::string line;
    while (std::getline(std::cin, line)) s.send(zmq::buffer(unhex(line)), zmq::send_flags::none);
  } else {
    for (int i = 2; i < argc; ++i) s.send(zmq::buffer(unhex(argv[i])), zmq::send_flags::none);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  return 0;
}
