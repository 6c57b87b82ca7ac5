// A Node's sends to an addr its network does not know (runtime/node/node.h, NodeNetwork): a
// deployed node's network drops and counts them (the addr may come from a forged message), a
// network that declines (the simulator's) makes them a runtime error, as a single-node run does.
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <utility>
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

// Arrived rows: appended to Node::inbox (where runtime/dist decodes a message) or given to
// deliver, they reach the next tick alike, and the tick inserts them as one batch
// (Engine::insert_all_checked) with the outcome of one insert after the other. `c` is a stream
// (its one rule scans it into a table), so its rows are kept as they came; `s` is read
// under an aggregate, so it stays a set.
constexpr const char* kReceiver = R"(
channel c(@dst: addr, x: int, y: int);
channel s(@dst: addr, x: int, y: int);
table got(x: int, y: int);
table kv(k: int, v: int) key(k);
table sizes(n: int);
got(x, y) <= c(_, x, y);
got(x, y) <= s(_, x, y);
sizes(count()) <= s(_, _, _);
)";

TEST(NodeInbox, RowsAppendedToTheInboxAndDeliveredRowsReachTheNextTickAsABatch) {
  auto plan = plan_for(kReceiver);
  ASSERT_NE(plan, nullptr);
  EXPECT_TRUE(plan->find("c")->stream);
  EXPECT_FALSE(plan->find("s")->stream);
  for (const char* channel : {"c", "s"}) {
    SCOPED_TRACE(channel);
    rt::NodeOptions o;
    o.name = "a";
    rt::Node node(*plan, o);
    const uint32_t c = plan->find(channel)->id, got = plan->find("got")->id;
    EXPECT_FALSE(node.step());  // tick 0
    std::vector<rt::Word>* inbox = node.inbox(c);
    ASSERT_NE(inbox, nullptr);
    const rt::Word self = node.symbols().intern("a");
    // Many rows, with duplicates within and across the two ways in: the batch is sorted by hash.
    const int n = 20000;
    for (int i = 0; i < n; ++i) inbox->insert(inbox->end(), {self, rt::from_int(i % 5000), rt::from_int(i % 7)});
    std::vector<rt::Word> more;
    for (int i = 0; i < 100; ++i) more.insert(more.end(), {self, rt::from_int(i), rt::from_int(i % 7)});
    node.deliver(c, more.data(), 100);
    EXPECT_TRUE(node.work_pending());
    EXPECT_FALSE(node.step());
    std::set<std::pair<int64_t, int64_t>> expected;
    for (int i = 0; i < n; ++i) expected.insert({i % 5000, i % 7});
    for (int i = 0; i < 100; ++i) expected.insert({i, i % 7});
    // A stream holds every row that arrived; what it shows (current_rows) is the set.
    EXPECT_EQ(node.engine().relation(c).live(), plan->relations[c].stream ? size_t{n + 100} : expected.size());
    EXPECT_EQ(node.current_rows(c).size(), expected.size());
    const rt::Relation& g = node.engine().relation(got);
    ASSERT_EQ(g.live(), expected.size());
    std::set<std::pair<int64_t, int64_t>> stored;
    for (rt::RowId r = 0; r < g.end(); ++r)
      if (g.alive(r)) stored.insert({rt::as_int(g.row(r)[0]), rt::as_int(g.row(r)[1])});
    EXPECT_EQ(stored, expected);
    EXPECT_TRUE(inbox->empty());  // taken by the tick
    EXPECT_FALSE(node.work_pending());
    EXPECT_EQ(node.inbox(plan->find("got")->id + 1000), nullptr);  // no such relation
  }
}

TEST(NodeInbox, ABatchReportsItsFirstKeyViolationInBatchOrder) {
  auto plan = plan_for(kReceiver);
  ASSERT_NE(plan, nullptr);
  rt::NodeOptions o;
  o.name = "a";
  rt::Node node(*plan, o);
  const uint32_t kv = plan->find("kv")->id;
  std::vector<rt::Word> rows;
  for (int i = 0; i < 3000; ++i) rows.insert(rows.end(), {rt::from_int(i), rt::from_int(10 * i)});
  rows.insert(rows.end(), {rt::from_int(2), rt::from_int(20)});  // a duplicate: no violation
  rows.insert(rows.end(), {rt::from_int(7), rt::from_int(71)});  // the first violation
  rows.insert(rows.end(), {rt::from_int(3), rt::from_int(31)});
  node.engine().insert_all_checked(kv, rows.data(), 0, "", "a message");  // nothing: no error
  EXPECT_EQ(node.engine().relation(kv).live(), 0u);
  try {
    node.engine().insert_all_checked(kv, rows.data(), rows.size() / 2, "", "a message");
    FAIL() << "no key violation";
  } catch (const rt::RuntimeError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("kv(7, 70)"), std::string::npos) << what;
    EXPECT_NE(what.find("kv(7, 71)"), std::string::npos) << what;
    EXPECT_NE(what.find("a message"), std::string::npos) << what;
  }
}

}  // namespace
}  // namespace bloom::test
