// The bounded, rate-limited log of warnings caused by the network (runtime/dist/log_limiter.h),
// driven with made-up times: no waiting.
#include <gtest/gtest.h>

#include <string>

#include "dist/log_limiter.h"

namespace {

using bloom::rt::excerpt;
using bloom::rt::LogLimiter;
using namespace std::chrono_literals;

TEST(Excerpt, EscapesControlBytesAndCutsLongText) {
  EXPECT_EQ(excerpt("mallory"), "mallory");
  EXPECT_EQ(excerpt(std::string("a\nb\0c\xff", 6)), "a\\x0ab\\x00c\\xff");
  const std::string name(70000, 'x');
  EXPECT_EQ(excerpt(name, 4), "xxxx... (70000 bytes)");
  EXPECT_LT(excerpt(name).size(), 100u);
}

TEST(LogLimiter, EachDistinctLineOnce) {
  LogLimiter log;
  const auto t = LogLimiter::Clock::time_point{};
  EXPECT_EQ(log.admit("dropped x", t), std::vector<std::string>{"dropped x"});
  EXPECT_TRUE(log.admit("dropped x", t).empty());
  EXPECT_EQ(log.admit("dropped y", t).size(), 1u);
}

TEST(LogLimiter, AtMostABurstPerWindowThenSaysHowManyWereHeldBack) {
  LogLimiter log(LogLimiter::Limits{.max_distinct = 100, .max_line = 400, .burst = 3, .window = 10s});
  const auto t = LogLimiter::Clock::time_point{};
  for (int i = 0; i < 3; ++i) EXPECT_EQ(log.admit("line " + std::to_string(i), t).size(), 1u);
  EXPECT_TRUE(log.admit("line 3", t + 1s).empty());
  EXPECT_TRUE(log.admit("line 4", t + 9s).empty());
  EXPECT_EQ(log.held_back(), 2u);
  auto next = log.admit("line 5", t + 10s);  // a new window
  ASSERT_EQ(next.size(), 2u);
  EXPECT_EQ(next[0], "2 more warnings of this kind not shown (too many)");
  EXPECT_EQ(next[1], "line 5");
  EXPECT_EQ(log.held_back(), 0u);
}

TEST(LogLimiter, RemembersABoundedNumberOfShortLines) {
  LogLimiter log(LogLimiter::Limits{.max_distinct = 10, .max_line = 50, .burst = 1000, .window = 10s});
  const auto t = LogLimiter::Clock::time_point{};
  for (int i = 0; i < 1000; ++i) {
    auto lines = log.admit("from `" + std::to_string(i) + std::string(60000, 'x') + "`", t);
    for (const auto& l : lines) EXPECT_LE(l.size(), 50u + 20u);
  }
  EXPECT_EQ(log.remembered(), 10u);
  EXPECT_EQ(log.held_back(), 990u);
}

}  // namespace
