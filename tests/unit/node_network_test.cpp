// A Node's sends to an addr its network does not know (runtime/node/node.h, NodeNetwork): a
// deployed node's network drops and counts them (the addr may come from a forged message), a
// network that declines (the simulator's) makes them a runtime error, as a single-node run does.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "node/node.h"
#include "test_util.h"

namespace bloom::test {
namespace {

// Knows node "b" only; records what it is given.
class Recorder : public rt::NodeNetwork {
 public:
  explicit Recorder(bool drops) : drops_(drops) {}
  bool knows(std::string_view node) const override { return node == "b"; }
  void send(std::string_view node, uint32_t, const rt::Word*, size_t count) override { sent.emplace_back(std::string(node), count); }
  bool drop_undeliverable(std::string_view node, uint32_t) override {
    undeliverable.emplace_back(node);
    return drops_;
  }
  std::vector<std::pair<std::string, size_t>> sent;
  std::vector<std::string> undeliverable;

 private:
  bool drops_;
};

constexpr const char* kProgram = R"(
channel hello(@dst: addr, n: int);
table to(d: addr);
to("b");
to("nobody");
to("nobody2");
hello(@d, 1) <~ to(d);
)";

TEST(NodeNetwork, AnUnknownAddrIsDroppedWhenTheNetworkSaysSoAndTheTickGoesOn) {
  auto plan = plan_for(kProgram);
  ASSERT_NE(plan, nullptr);
  Recorder net(true);
  rt::NodeOptions o;
  o.name = "a";
  o.network = &net;
  rt::Node node(*plan, o);
  EXPECT_FALSE(node.step());
  ASSERT_EQ(net.sent.size(), 1u);
  EXPECT_EQ(net.sent[0], (std::pair<std::string, size_t>{"b", 1}));
  EXPECT_EQ(net.undeliverable, (std::vector<std::string>{"nobody", "nobody2"}));
  // Unknown addrs are asked about again each time (not remembered: an outsider may send many).
  EXPECT_FALSE(node.step());
  EXPECT_EQ(net.undeliverable.size(), 4u);
  EXPECT_EQ(net.sent.size(), 2u);
}

TEST(NodeNetwork, AnUnknownAddrIsARuntimeErrorWhenTheNetworkDeclines) {
  auto plan = plan_for(kProgram);
  ASSERT_NE(plan, nullptr);
  Recorder net(false);
  rt::NodeOptions o;
  o.name = "a";
  o.network = &net;
  rt::Node node(*plan, o);
  try {
    node.step();
    FAIL() << "no runtime error";
  } catch (const rt::RuntimeError& e) {
    EXPECT_NE(std::string(e.what()).find("unknown destination addr \"nobody"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(net.sent.empty()) << "a failed tick sends nothing";
}

}  // namespace
}  // namespace bloom::test
