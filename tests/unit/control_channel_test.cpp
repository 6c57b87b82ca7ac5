// runtime/net's control channel (net/control_channel.h): a launcher's ControlServer and its nodes'
// ControlClients over inproc:// and over a private Unix socket.
#include <gtest/gtest.h>

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <stdexcept>
#include <string>

#include "net/context.h"
#include "net/control_channel.h"

namespace {

using bloom::rt::net::Context;
using bloom::rt::net::ControlClient;
using bloom::rt::net::ControlServer;
using namespace std::chrono_literals;

// Waits up to 5 s for the server's next message.
bool receive_within(ControlServer& server, std::string& node, std::string& bytes) {
  for (int i = 0; i < 500; ++i) {
    if (server.receive(node, bytes)) return true;
    server.wait({}, 10ms);
  }
  return false;
}

// A node says hello, the launcher answers it by name; a name nobody connected under is refused.
void talk(Context& ctx, ControlServer& server) {
  ControlClient alice(ctx, "alice", server.endpoint());
  alice.send("hello");
  std::string node, bytes;
  ASSERT_TRUE(receive_within(server, node, bytes));
  EXPECT_EQ(node, "alice");
  EXPECT_EQ(bytes, "hello");
  EXPECT_TRUE(server.send("alice", "poll 1"));
  ASSERT_TRUE(alice.receive(bytes, 5000ms));
  EXPECT_EQ(bytes, "poll 1");
  EXPECT_FALSE(alice.receive(bytes, 0ms));
  EXPECT_FALSE(server.send("bob", "poll 1"));
}

TEST(ControlChannel, InProcess) {
  Context ctx;
  ControlServer server(ctx, ControlServer::Reach::ThisProcess);
  EXPECT_EQ(server.endpoint().rfind("inproc://", 0), 0u) << server.endpoint();
  talk(ctx, server);
}

TEST(ControlChannel, AUnixSocketInAPrivateDirectoryRemovedEarly) {
  Context ctx;
  std::filesystem::path dir;
  {
    ControlServer server(ctx, ControlServer::Reach::ThisMachine);
    ASSERT_EQ(server.endpoint().rfind("ipc://", 0), 0u) << server.endpoint();
    dir = std::filesystem::path(server.endpoint().substr(6)).parent_path();
    EXPECT_TRUE(std::filesystem::is_directory(dir));
    ControlClient early(ctx, "early", server.endpoint());
    early.send("hello");
    std::string node, bytes;
    ASSERT_TRUE(receive_within(server, node, bytes));
    server.remove_socket_file();  // connected nodes keep talking
    EXPECT_FALSE(std::filesystem::exists(dir));
    EXPECT_TRUE(server.send("early", "finish"));
    ASSERT_TRUE(early.receive(bytes, 5000ms));
    EXPECT_EQ(bytes, "finish");
  }
  {
    ControlServer server(ctx, ControlServer::Reach::ThisMachine);
    dir = std::filesystem::path(server.endpoint().substr(6)).parent_path();
    talk(ctx, server);
  }
  EXPECT_FALSE(std::filesystem::exists(dir));  // the server removes it when it goes
}

TEST(ControlChannel, AMalformedEndpointIsRefusedWithTheReason) {
  Context ctx;
  EXPECT_THROW(ControlClient(ctx, "a", "nonsense"), std::runtime_error);
}

TEST(ControlChannel, WaitSeesAReadablePipe) {
  Context ctx;
  ControlServer server(ctx, ControlServer::Reach::ThisProcess);
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  EXPECT_EQ(server.wait({fds[0]}, 0ms), std::vector<bool>{false});
  ASSERT_EQ(write(fds[1], "x", 1), 1);
  EXPECT_EQ(server.wait({fds[0]}, 1000ms), std::vector<bool>{true});
  close(fds[0]);
  close(fds[1]);
}

}  // namespace
