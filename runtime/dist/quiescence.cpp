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

void QuiescenceDetector::node_restarted(const std::string& node) {
  node_lost(node);
  if (std::find(rebase_.begin(), rebase_.end(), node) == rebase_.end()) rebase_.push_back(node);
}

// Takes the bases of restarted nodes that answered this wave and applies every base to `counts`.
// true when a base was taken now (the wave cannot be the quiescent one).
bool QuiescenceDetector::rebase(std::map<std::string, NodeCounts>& counts) {
  auto get = [](const std::map<std::string, uint64_t>& m, const std::string& key) {
    auto it = m.find(key);
    return it == m.end() ? uint64_t{0} : it->second;
  };
  bool taken = false;
  for (auto it = rebase_.begin(); it != rebase_.end();) {
    const std::string r = *it;
    if (!counts.contains(r)) {
      ++it;
      continue;
    }
    // Its own counts started again: bases where it is the peer are void.
    std::erase_if(base_, [&](const auto& b) { return b.first.first == r; });
    const NodeCounts& rc = counts.at(r);
    for (const auto& [x, c] : counts)
      if (x != r) base_[{x, r}] = Base{get(c.sent, r), get(c.received, r), get(rc.sent, x), get(rc.received, x)};
    it = rebase_.erase(it);
    taken = true;
  }
  // Both sides count from the base. At least as many arrived as were sent since then: balanced
  // (the extra ones were on their way at the base). Fewer: some are still on their way.
  auto since = [](uint64_t now, uint64_t base) { return now > base ? now - base : 0; };
  for (const auto& [key, b] : base_) {
    const auto& [x, r] = key;
    auto xi = counts.find(x), ri = counts.find(r);
    if (xi == counts.end() || ri == counts.end()) continue;
    NodeCounts &xc = xi->second, &rc = ri->second;
    uint64_t x_sent = since(get(xc.sent, r), b.peer_sent), r_received = since(get(rc.received, x), b.node_received);
    uint64_t r_sent = since(get(rc.sent, x), b.node_sent), x_received = since(get(xc.received, r), b.peer_received);
    if (r_received >= x_sent) x_sent = r_received;
    if (x_received >= r_sent) r_sent = x_received;
    xc.sent[r] = x_sent;
    rc.received[x] = r_received;
    rc.sent[x] = r_sent;
    xc.received[r] = x_received;
  }
  return taken;
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
  const bool rebased = rebase(counts);
  if (all_idle && !rebased && snapshot == previous_ && messages_balance(counts)) return Verdict::Quiescent;
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
