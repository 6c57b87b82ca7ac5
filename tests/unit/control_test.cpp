// The control protocol between the launcher and its nodes (runtime/dist/control.h): every message
// survives encode/decode, and anything else, however broken, decodes to nullopt.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "dist/control.h"
#include "rt_test_util.h"

namespace {

using namespace bloom::rt;
using namespace bloom::rt::control;

NodeReport full_report() {
  NodeReport r;
  r.idle = true;
  r.state = NodeState::Failed;
  r.ticks = 12;
  r.messages.sent = {{"b", 3}, {"c-1.x", 18446744073709551615ull}};
  r.messages.received = {{"b", 2}};
  r.dropped = 1;
  r.refused = 2;
  r.undeliverable = 5;
  r.send_waits = 4;
  r.error = "key violation: \"x\" \xc3\xa9\n";
  r.refusals = {"refused a message from `b`: channel `vote` has a different schema", "second"};
  return r;
}

std::vector<Message> every_kind() {
  NodeReport halted;
  halted.state = NodeState::Halted;
  return {Hello{},
          Poll{7},
          Status{7, full_report()},
          Status{1, NodeReport{}},
          Error{"division by zero in rule 3"},
          Finish{},
          Done{full_report(), "seen(\"b\", 1)\nseen(\"b\", 3)\n"},
          Done{halted, ""},
          Fatal{"node `b` cannot listen on tcp://127.0.0.1:7102: Address already in use"},
          Bye{}};
}

TEST(ControlProtocol, EveryMessageSurvivesARoundTrip) {
  for (const Message& m : every_kind()) {
    std::string bytes = encode(m);
    auto back = decode(bytes);
    ASSERT_TRUE(back.has_value()) << bytes;
    EXPECT_EQ(*back, m) << bytes;
  }
}

TEST(ControlProtocol, TheBytesAreJsonWithAType) {
  EXPECT_EQ(encode(Poll{3}), R"({"type":"poll","wave":3})");
  EXPECT_EQ(encode(Bye{}), R"({"type":"bye"})");
  EXPECT_EQ(encode(Fatal{"x"}), R"({"error":"x","type":"fatal"})");
}

TEST(ControlProtocol, TextThatIsNotUtf8IsReplacedNotLost) {
  auto back = decode(encode(Done{NodeReport{},
                                 "a\xff"
                                 "b\n"}));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(std::get<Done>(*back).outputs,
            "a\xef\xbf\xbd"
            "b\n");
}

TEST(ControlProtocol, MalformedMessagesAreRefused) {
  const std::vector<std::string> bad = {
      "",
      "not json",
      "\xff\xfe",
      "[]",
      "{}",
      "null",
      R"("poll")",
      R"({"type":5})",
      R"({"type":"unknown"})",
      R"({"Type":"hello"})",
      R"({"type":"hello"} trailing)",
      R"({"type":"hello"}{"type":"hello"})",
      R"({"type":"poll"})",
      R"({"type":"poll","wave":-1})",
      R"({"type":"poll","wave":2.5})",
      R"({"type":"poll","wave":"3"})",
      R"({"type":"poll","wave":18446744073709551616})",
      R"({"type":"error"})",
      R"({"type":"error","error":3})",
      R"({"type":"fatal","error":null})",
      R"({"type":"status","wave":1})",
      R"({"type":"done","idle":true})",
  };
  for (const auto& bytes : bad) EXPECT_FALSE(decode(bytes).has_value()) << bytes;
}

// A valid status with one field broken at a time is refused as a whole.
TEST(ControlProtocol, AStatusWithAnyBadFieldIsRefused) {
  const std::string good = encode(Status{2, full_report()});
  ASSERT_TRUE(decode(good).has_value());
  auto with = [&](const std::string& from, const std::string& to) {
    std::string s = good;
    size_t at = s.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return s.replace(at, from.size(), to);
  };
  const std::vector<std::pair<std::string, std::string>> edits = {
      {R"("idle":true)", R"("idle":1)"},
      {R"("idle":true)", R"("idle_":true)"},
      {R"("state":"failed")", R"("state":"sleeping")"},
      {R"("ticks":12)", R"("ticks":-12)"},
      {R"("sent":{"b":3,)", R"("sent":{"b":-3,)"},
      {R"("sent":{"b":3,)", R"("sent":{"b":"3",)"},
      {R"("received":{"b":2})", R"("received":[2])"},
      {R"("dropped":1)", R"("dropped":1.5)"},
      {R"("refused":2)", R"("refused":null)"},
      {R"("send_waits":4)", R"("send_waits":true)"},
      {R"("undeliverable":5)", R"("undeliverable":-5)"},
      {R"("refusals":[)", R"("refusals":[7,)"},
      {R"("wave":2)", R"("wave":{})"},
  };
  for (const auto& [from, to] : edits) EXPECT_FALSE(decode(with(from, to)).has_value()) << to;
}

TEST(ControlProtocol, TruncatedAndMutatedBytesNeverCrash) {
  const std::string good = encode(Done{full_report(), "seen(\"b\", 1)\n"});
  for (size_t n = 0; n < good.size(); ++n) EXPECT_FALSE(decode(good.substr(0, n)).has_value()) << n;
  std::mt19937_64 rng(bloom::test::test_seed());
  for (int i = 0; i < 20000; ++i) {
    std::string s = good;
    for (int k = 1 + static_cast<int>(rng() % 4); k > 0; --k) s[rng() % s.size()] = static_cast<char>(rng());
    // Whatever it decodes to must be usable: encoding it again works.
    if (auto m = decode(s)) {
      EXPECT_TRUE(decode(encode(*m)).has_value());
    }
  }
  EXPECT_FALSE(decode(std::string(100000, '[') + std::string(100000, ']')).has_value());
}

}  // namespace
