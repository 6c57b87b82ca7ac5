#include "dist/quiescence.h"

#include <algorithm>
#include <set>
#include <type_traits>

namespace bloom::rt {

std::vector<Backlog> messages_on_their_way(const std::map<std::string, NodeReport>& reports, const ForgivenLinks& forgiven) {
  auto get = [](const auto& m, const std::string& key) -> std::optional<typename std::decay_t<decltype(m)>::mapped_type> {
    auto it = m.find(key);
    if (it == m.end()) return std::nullopt;
    return it->second;
  };
  // Every link some count of a live node names: sent by `from`, or heard or received by `to`.
  std::set<std::pair<std::string, std::string>> links;
  for (const auto& [node, r] : reports) {
    for (const auto& [to, n] : r.messages.sent)
      if (to != node && reports.contains(to)) links.emplace(node, to);
    for (const auto& [from, h] : r.messages.heard)
      if (from != node && reports.contains(from)) links.emplace(from, node);
    for (const auto& [from, n] : r.messages.received)
      if (from != node && reports.contains(from)) links.emplace(from, node);
  }
  std::vector<Backlog> backlog;
  for (const auto& [from, to] : links) {
    const NodeReport &f = reports.at(from), &t = reports.at(to);
    const uint64_t sent = get(f.messages.sent, to).value_or(0);
    uint64_t arrived = 0;
    if (auto h = get(t.messages.heard, from); h && h->incarnation == f.incarnation) arrived = h->sequence;
    bool restarted = f.incarnation != 0 || t.incarnation != 0;
    if (auto g = forgiven.find({from, to});
        g != forgiven.end() && g->second.from_incarnation == f.incarnation && g->second.to_incarnation == t.incarnation) {
      arrived = std::max(arrived, g->second.sent);
      restarted = true;
    }
    // Never started again: the exact count too.
    if (!restarted) arrived = std::min(arrived, get(t.messages.received, from).value_or(0));
    const bool exact = restarted || get(t.messages.received, from).value_or(0) == sent;
    if (arrived != sent || !exact) backlog.push_back(Backlog{from, to, sent, arrived});
  }
  return backlog;
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

// For each node that answers in another incarnation than before: the messages each peer had sent
// to it by now are forgiven (ForgivenLinks). true when there was one (the wave cannot be the
// quiescent one: its counts are the first of that incarnation).
bool QuiescenceDetector::note_restarts(const std::map<std::string, NodeReport>& snapshot) {
  bool restarted = false;
  for (const auto& [node, report] : snapshot) {
    auto seen = incarnation_.find(node);
    if (seen == incarnation_.end() ? report.incarnation == 0 : seen->second == report.incarnation) continue;
    incarnation_[node] = report.incarnation;
    restarted = true;
    for (const auto& [peer, peer_report] : snapshot) {
      if (peer == node) continue;
      auto sent = peer_report.messages.sent.find(node);
      forgiven_[{peer, node}] =
          Forgiven{peer_report.incarnation, report.incarnation, sent == peer_report.messages.sent.end() ? 0 : sent->second};
    }
  }
  for (const auto& [node, report] : snapshot) incarnation_.try_emplace(node, report.incarnation);
  return restarted;
}

QuiescenceDetector::Verdict QuiescenceDetector::conclude() {
  if (!in_wave_ || !std::all_of(answers_.begin(), answers_.end(), [](const auto& a) { return a.second.has_value(); }))
    return Verdict::Waiting;
  in_wave_ = false;
  std::map<std::string, NodeReport> snapshot;
  bool all_idle = true;
  for (const auto& [node, report] : answers_) {
    snapshot[node] = *report;
    all_idle = all_idle && report->idle;
    latest_[node] = *report;
  }
  const bool restarted = note_restarts(snapshot);
  backlog_ = messages_on_their_way(snapshot, forgiven_);
  if (all_idle && !restarted && snapshot == previous_ && backlog_.empty()) return Verdict::Quiescent;
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
