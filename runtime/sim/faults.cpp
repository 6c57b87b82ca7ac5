#include "sim/faults.h"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <vector>

#include <fmt/format.h>

namespace bloom::rt::sim {

namespace {

std::optional<double> parse_probability(std::string_view v) {
  std::string s(v);
  char* end = nullptr;
  double p = std::strtod(s.c_str(), &end);
  if (s.empty() || end != s.c_str() + s.size() || !std::isfinite(p) || p < 0 || p > 1) return std::nullopt;
  return p;
}

std::optional<int> parse_count(std::string_view v) {
  int n = 0;
  auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || ptr != v.data() + v.size() || n < 0 || n > 1000000) return std::nullopt;
  return n;
}

// "50ms" -> 50000 (microseconds). Units are required: a bare number is ambiguous.
std::optional<int64_t> parse_duration(std::string_view v) {
  int64_t n = 0;
  auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || n < 0 || n > int64_t{1} << 40) return std::nullopt;
  std::string_view unit(ptr, static_cast<size_t>(v.data() + v.size() - ptr));
  if (unit == "us") return n;
  if (unit == "ms") return n * 1000;
  if (unit == "s") return n * 1000000;
  if (unit == "m") return n * 60000000;
  return std::nullopt;
}

std::string duration_str(int64_t us) {
  if (us % 1000000 == 0) return fmt::format("{}s", us / 1000000);
  if (us % 1000 == 0) return fmt::format("{}ms", us / 1000);
  return fmt::format("{}us", us);
}

}  // namespace

std::string Faults::str() const {
  std::vector<std::string> items;
  if (drop > 0) items.push_back(fmt::format("drop={}", drop));
  if (dup > 0) items.push_back(fmt::format("dup={}", dup));
  if (crashes > 0) items.push_back(fmt::format("crash={},downtime={}", crashes, duration_str(downtime_us)));
  if (partitions > 0) items.push_back(fmt::format("partition={},heal={}", partitions, duration_str(heal_us)));
  if (skew_us > 0) items.push_back("skew=" + duration_str(skew_us));
  if (crashes > 0 || partitions > 0) items.push_back(fmt::format("rate={}", rate));
  return fmt::format("{}", fmt::join(items, ","));
}

std::optional<Faults> parse_faults(std::string_view spec, std::string& error) {
  Faults f;
  size_t at = 0;
  while (at <= spec.size() && !spec.empty()) {
    size_t comma = spec.find(',', at);
    std::string_view item = spec.substr(at, comma == std::string_view::npos ? std::string_view::npos : comma - at);
    at = comma == std::string_view::npos ? spec.size() + 1 : comma + 1;
    size_t eq = item.find('=');
    if (eq == std::string_view::npos) {
      error = fmt::format("`{}`: expected NAME=VALUE (e.g. drop=0.05)", item);
      return std::nullopt;
    }
    std::string_view name = item.substr(0, eq), value = item.substr(eq + 1);
    bool ok = true;
    if (name == "drop" || name == "dup" || name == "rate") {
      auto p = parse_probability(value);
      ok = p.has_value();
      if (ok) (name == "drop" ? f.drop : name == "dup" ? f.dup : f.rate) = *p;
      if (!ok) error = fmt::format("`{}`: {} must be a probability between 0 and 1", item, name);
    } else if (name == "crash" || name == "partition") {
      auto n = parse_count(value);
      ok = n.has_value();
      if (ok) (name == "crash" ? f.crashes : f.partitions) = *n;
      if (!ok) error = fmt::format("`{}`: {} must be a count (0 to 1000000)", item, name);
    } else if (name == "skew" || name == "downtime" || name == "heal") {
      auto d = parse_duration(value);
      ok = d.has_value() && (name == "skew" || *d > 0);
      if (ok) (name == "skew" ? f.skew_us : name == "downtime" ? f.downtime_us : f.heal_us) = *d;
      if (!ok) error = fmt::format("`{}`: {} must be a duration with a unit, e.g. 50ms, 2s, 300us", item, name);
    } else {
      error = fmt::format("`{}`: unknown fault `{}` (known: drop, dup, crash, downtime, partition, heal, skew, rate)", item, name);
      ok = false;
    }
    if (!ok) return std::nullopt;
  }
  return f;
}

}  // namespace bloom::rt::sim
