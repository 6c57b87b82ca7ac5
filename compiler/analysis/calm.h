// The CALM monotonicity analysis behind `bloom lint` (docs/lint.md): labels every collection and
// rule M/A/N/D by composing edge labels along every path from where data enters (asynchronous
// sources, or local facts), and reports each point of order (a non-monotone operation that sees
// asynchronous input) and each race (a join of transient inputs from different arrivals).
#pragma once
#include <set>
#include <string>
#include <vector>

#include "analysis/depgraph.h"

namespace bloom::analysis {

// M monotone; A asynchronous (contents deterministic, timing not); N non-monotone over local,
// complete data; D diffluent (contents may differ between runs). Ordered by severity.
enum class Label : uint8_t { M = 0, A = 1, N = 2, D = 3 };
const char* to_string(Label l);
const char* meaning(Label l);
// Bud's algebra: the label of a path with label `path` extended by an edge labelled `edge`.
// A then N gives D; N then A gives A; anything with D is D; M is the identity.
Label compose(Label path, Label edge);
inline Label worst(Label a, Label b) { return a > b ? a : b; }

inline constexpr sema::CollectionId kLocalOrigin = sema::kNoCollection;
// The origin of what a rule reads from time: now(), tick() in a node that receives messages or
// runs a timer, or the count of a periodic. Its paths start at D: the value differs between runs.
inline constexpr sema::CollectionId kClockOrigin = sema::kNoCollection - 1;

// One way data reaches a collection: where it entered, and the label of the path.
struct PathLabel {
  sema::CollectionId origin = kLocalOrigin;  // an asynchronous source, or local facts
  Label label = Label::M;
};

struct Hop {
  sema::CollectionId collection = sema::kNoCollection;
  Span span;                   // the declaration of the source, then each rule that carries the data
  uint32_t rule = UINT32_MAX;  // UINT32_MAX for the source itself
  Timing timing = Timing::Instant;
  bool reads_clock = false;  // the rule reads time into `collection` (a path from kClockOrigin)
};

inline constexpr uint32_t kNoHop = UINT32_MAX;
// A hop in the report's shared table of paths. The paths from one source are branches of one
// shortest-path tree, so each hop names the hop before it and a finding names only its last hop:
// the report (and its JSON) grows with the hops used, not with findings times path length.
struct PathHop {
  Hop hop;
  uint32_t parent = kNoHop;  // the previous hop, kNoHop at the start (the source, or a clock read)
  uint32_t length = 1;       // hops from the start to this one, both included
};

enum class FindingKind { PointOfOrder, Race };
const char* to_string(FindingKind k);

struct Finding {
  FindingKind kind = FindingKind::PointOfOrder;
  std::string operation;  // "negation", "aggregate", "lattice reveal", "keyed insert", "now", ... or "join"
  std::string message;    // what is order-dependent, in words (the diagnostic's text)
  uint32_t rule = 0;
  sema::CollectionId collection = sema::kNoCollection;  // the rule's head
  Span span;                                            // the operation itself (the `not` atom, the aggregate, the operator)
  Span other;                                           // a race: the other transient atom
  sema::CollectionId source = sema::kNoCollection;      // the asynchronous source reaching it, or kClockOrigin
  uint32_t path = kNoHop;                               // its last hop in CalmReport::hops (from the source to the operation's input)
  uint32_t taints = 0;                                  // the sinks whose contents it affects: an index in CalmReport::taint_sets
  std::vector<std::string> remedies;
  bool suppressed = false;
  std::string suppression_reason;
};

// A non-monotone operation that reads a sealed collection one complete partition at a time
// (docs/lint.md, seals): in Blazes' terms its input carries Seal(key) and the operation is
// confluent per key, so it is no point of order. The report lists them so a reader sees why.
struct SealedRead {
  uint32_t rule = 0;
  sema::CollectionId collection = sema::kNoCollection;  // the rule's head
  sema::CollectionId sealed = sema::kNoCollection;      // the sealed collection it reads
  sema::CollectionId punct = sema::kNoCollection;       // the collection of seals
  std::string operation;                                // "aggregate", "negation"
  std::string key;                                      // the partition columns, "round, site"
  Span span;
};

// A negation of data that only grows into a view that is itself read only under a second
// negation (docs/lint.md, "Negations that cancel"): `missing(x) <= want(x), not seen(x)` and
// `found(x) <= want(x), not missing(x)`. `found` only gains rows as `seen` grows, so neither
// negation is a point of order from what reaches `seen`. The report lists them.
struct CancelledNegation {
  uint32_t rule = 0;                                    // the first negation's rule
  sema::CollectionId collection = sema::kNoCollection;  // its head, a view (`missing`)
  sema::CollectionId negated = sema::kNoCollection;     // what it negates, which only grows (`seen`)
  Span span;                                            // the first `not` atom
  sema::CollectionId result = sema::kNoCollection;      // the head of the second negation's rule (`found`)
  Span by;                                              // the second `not` atom
};

// The lint's answer. Acknowledged: a sink is diffluent (D), but every finding behind it was
// suppressed with a reason, so `bloom lint` exits 0 while the report still says what is true.
enum class Verdict { CoordinationFree, Acknowledged, NeedsCoordination };
// The machine word (JSON, SARIF): coordination-free, coordination-acknowledged, needs-coordination.
const char* to_string(Verdict v);
// The words of the text report: coordination-free, needs coordination, acknowledged, needs coordination.
const char* describe(Verdict v);

struct CalmReport {
  std::vector<std::vector<PathLabel>> paths;  // per collection
  std::vector<Label> collection_label;        // worst over its paths (M when none)
  std::vector<Label> rule_label;              // per Program::rules
  std::vector<sema::CollectionId> sources;    // where data enters: inputs (tick 0), channels received, periodics
  std::vector<sema::CollectionId> sinks;      // outputs, channels sent to, stdout if written
  std::vector<Finding> findings;
  std::vector<PathHop> hops;                                // the findings' paths, shared (see PathHop)
  std::vector<std::vector<sema::CollectionId>> taint_sets;  // distinct sets of sinks, sorted, shared by findings
  std::vector<SealedRead> sealed_reads;                     // operations made confluent per key by a seal
  std::vector<CancelledNegation> cancelled;                 // negations a second negation makes monotone
  // The hops of a finding's path, from the source to the operation's input.
  std::vector<Hop> path_of(const Finding& f) const;
  const std::vector<sema::CollectionId>& taints_of(const Finding& f) const { return taint_sets.at(f.taints); }
  size_t unsuppressed() const;
  // Some sink is diffluent, or a finding was not suppressed. A suppressed finding is
  // acknowledged, not fixed: the verdict stays honest while the exit status ignores it.
  bool needs_coordination() const;
  // What `bloom lint` exits 4 for: a finding nobody has acknowledged.
  bool fails() const { return unsuppressed() > 0; }
  Verdict verdict() const {
    return fails() ? Verdict::NeedsCoordination : needs_coordination() ? Verdict::Acknowledged : Verdict::CoordinationFree;
  }
};

// `diffluent_channels`: channels (by name) that arrive diffluent, because a sender in the same
// deployment derives them D (bloom lint DEPLOY.toml): such a channel starts its paths with D
// instead of A, so what this program derives from it is D too.
CalmReport analyze_calm(const sema::Program& program, const DependencyGraph& graph, const std::set<std::string>& diffluent_channels = {});

}  // namespace bloom::analysis
