#include "dist/quiescence.h"

#include <algorithm>

namespace bloom::rt {

bool messages_balance(const std::map<std::string, NodeCounts>& counts) {
  auto count = [](const std::map<std::string, uint64_t>& m, const std::string& key) {
    auto it = m.find(key);
    return it == m.end() ? uint64_t{0} : it->second;
  };
  for (const auto& [node, c] : counts) {
    for (const auto& [to, n] : c.sent)
      if (auto it = counts.find(to); it != counts.end() && count(it->second.received, node) != n) return false;
    for (const auto& [from, n] : c.received)
      if (auto it = counts.find(from); it != counts.end() && count(it->second.sent, node) != n) return false;
  }
  return true;
}

uint64_t QuiescenceDetector::start_wave(std::vector<std::string> nodes) {
  ++wave_;
  in_wave_ = true;
  answers_.clear();
  for (auto& node : nodes) answers_.emplace(std::move(node), std::nullopt);
  return wave_;
}

void QuiescenceDetector::abandon_wave() {
  in_wave_ = false;
  previous_.reset();
}

void QuiescenceDetector::record(const std::string& node, uint64_t wave, const NodeReport& report) {
  if (!in_wave_ || wave != wave_) return;
  if (auto it = answers_.find(node); it != answers_.end()) it->second = report;
}

void QuiescenceDetector::node_lost(const std::string& node) {
  if (in_wave_ && answers_.contains(node)) abandon_wave();
}

QuiescenceDetector::Verdict QuiescenceDetector::conclude() {
  if (!in_wave_ || !std::all_of(answers_.begin(), answers_.end(), [](const auto& a) { return a.second.has_value(); }))
    return Verdict::Waiting;
  in_wave_ = false;
  std::map<std::string, NodeReport> snapshot;
  std::map<std::string, NodeCounts> counts;
  bool all_idle = true;
  for (const auto& [node, report] : answers_) {
    snapshot[node] = *report;
    counts[node] = report->messages;
    all_idle = all_idle && report->idle;
    latest_[node] = *report;
  }
  if (all_idle && snapshot == previous_ && messages_balance(counts)) return Verdict::Quiescent;
  previous_ = std::move(snapshot);
  return all_idle ? Verdict::Idle : Verdict::Busy;
}

bool QuiescenceDetector::awaiting(const std::string& node) const {
  if (!in_wave_) return false;
  auto it = answers_.find(node);
  return it != answers_.end() && !it->second.has_value();
}

const NodeReport* QuiescenceDetector::latest(const std::string& node) const {
  auto it = latest_.find(node);
  return it == latest_.end() ? nullptr : &it->second;
}

const NodeReport* QuiescenceDetector::freshest(const std::string& node) const {
  if (in_wave_)
    if (auto it = answers_.find(node); it != answers_.end() && it->second) return &*it->second;
  return latest(node);
}

}  // namespace bloom::rt
