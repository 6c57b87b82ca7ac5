// Delta debugging over a failing run's decisions (Zeller's ddmin, as DEMi applies it to message
// schedules): remove chunks of decisions, replay what is left (runtime/sim/simulator.cpp,
// replay_lenient), keep a removal when the run still fails the same way, and refine the chunks
// until no single decision can go. Faults go first (a schedule without them is easier to read),
// then the deliveries and ticks.
#include <functional>

#include "sim/simulator.h"

namespace bloom::rt::sim {

namespace {

bool is_fault(const Event& e) {
  return e.kind == EventKind::Drop || e.kind == EventKind::Dup || e.kind == EventKind::Crash || e.kind == EventKind::Restart ||
         e.kind == EventKind::Partition || e.kind == EventKind::Heal;
}

struct Search {
  const SimOptions& options;
  const Trace& original;
  const std::function<bool(const RunResult&)>& keep;
  int max_trials;
  int trials = 0;
  std::vector<Event> best;
  std::optional<RunResult> best_run;

  bool test(const std::vector<Event>& candidate) {
    ++trials;
    RunResult r = replay_lenient(options, original, candidate);
    if (!keep(r)) return false;
    best = candidate;
    best_run = std::move(r);
    return true;
  }

  // ddmin over the decisions of `best` for which `removable` holds.
  void reduce(const std::function<bool(const Event&)>& removable) {
    size_t parts = 2;
    while (trials < max_trials) {
      std::vector<size_t> at;
      for (size_t i = 0; i < best.size(); ++i)
        if (removable(best[i])) at.push_back(i);
      if (at.empty()) return;
      parts = std::min(parts, at.size());
      size_t chunk = (at.size() + parts - 1) / parts;
      bool reduced = false;
      for (size_t start = 0; start < at.size() && trials < max_trials; start += chunk) {
        std::vector<bool> drop(best.size(), false);
        for (size_t k = start; k < std::min(at.size(), start + chunk); ++k) drop[at[k]] = true;
        std::vector<Event> candidate;
        for (size_t i = 0; i < best.size(); ++i)
          if (!drop[i]) candidate.push_back(best[i]);
        if (test(candidate)) {
          reduced = true;
          parts = std::max<size_t>(parts - 1, 2);
          break;
        }
      }
      if (reduced) continue;
      if (parts >= at.size()) return;
      parts = std::min(at.size(), parts * 2);
    }
  }
};

}  // namespace

Minimized minimize(const SimOptions& options, const RunResult& failing, const std::function<bool(const RunResult&)>& keep, int max_trials) {
  Minimized out;
  std::vector<Event> all = decisions_of(failing.trace);
  out.events_before = all.size();
  Search s{options, failing.trace, keep, max_trials, 0, {}, std::nullopt};
  // The decisions as they are, replayed, must fail: otherwise the failure depends on something a
  // replay does not reproduce and the original run is the best report.
  if (!s.test(all)) {
    out.run = failing;
    out.events_after = out.events_before;
    out.trials = s.trials;
    return out;
  }
  // Without any fault at all, then fault by fault, then the ticks and deliveries.
  std::vector<Event> no_faults;
  for (const auto& e : all)
    if (!is_fault(e)) no_faults.push_back(e);
  if (no_faults.size() < all.size()) s.test(no_faults);
  s.reduce(is_fault);
  s.reduce([](const Event& e) { return e.kind == EventKind::Tick; });
  out.run = std::move(*s.best_run);
  out.events_after = decisions_of(out.run.trace).size();
  out.trials = s.trials;
  return out;
}

}  // namespace bloom::rt::sim
