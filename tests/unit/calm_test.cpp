// The CALM analysis: the label algebra, labels of collections over paths and cycles, points of
// order with their paths and remedies, races, and suppressions.
#include "analysis/calm.h"

#include <nlohmann/json.hpp>
#include <set>

#include "analysis/lint_report.h"
#include "test_util.h"

namespace bloom::test {
namespace {

using analysis::compose;
using analysis::Label;

struct Linted {
  std::unique_ptr<Compilation> c;
  analysis::CalmReport r;
  Label label(const std::string& name) const { return r.collection_label.at(c->program->find(name)->id); }
  std::vector<std::string> kinds() const {
    std::vector<std::string> out;
    for (const auto& f : r.findings) out.push_back(std::string(analysis::to_string(f.kind)) + ":" + f.operation);
    return out;
  }
};

Linted lint(const std::string& text) {
  Linted l;
  l.c = compile(text);
  EXPECT_TRUE(l.c->ok()) << all_messages(*l.c);
  if (l.c->ok()) l.r = analysis::analyze_calm(*l.c->program, *l.c->graph);
  return l;
}

TEST(LabelAlgebra, MonotoneIsTheIdentity) {
  for (Label l : {Label::M, Label::A, Label::N, Label::D}) {
    EXPECT_EQ(compose(l, Label::M), l);
    EXPECT_EQ(compose(Label::M, l), l);
  }
}

TEST(LabelAlgebra, BudComposition) {
  EXPECT_EQ(compose(Label::A, Label::N), Label::D);  // async then non-monotone: diffluent
  EXPECT_EQ(compose(Label::N, Label::A), Label::A);  // local non-monotone result, then sent
  EXPECT_EQ(compose(Label::A, Label::A), Label::A);
  EXPECT_EQ(compose(Label::N, Label::N), Label::N);
  for (Label l : {Label::M, Label::A, Label::N, Label::D}) {
    EXPECT_EQ(compose(Label::D, l), Label::D);
    EXPECT_EQ(compose(l, Label::D), Label::D);
  }
}

TEST(Calm, InputsAreLocalDataDeliveredInTickZero) {
  // Every input is there, complete, in tick 0: recursion over it and a negation of it are local.
  auto l = lint(
      "input e(a: int, b: int);\ninput cut(a: int);\noutput p(a: int, b: int);\noutput q(a: int);\n"
      "p(x, y) <= e(x, y);\np(x, z) <= p(x, y), e(y, z);\nq(x) <= e(x, _), not cut(x);\n");
  EXPECT_EQ(l.label("p"), Label::M);
  EXPECT_EQ(l.label("q"), Label::N);
  EXPECT_TRUE(l.r.findings.empty());
  EXPECT_FALSE(l.r.needs_coordination());
  EXPECT_EQ(l.r.verdict(), analysis::Verdict::CoordinationFree);
}

TEST(Calm, RecursionOverMessagesIsARace) {
  // The same closure over a channel: edges that arrive in different ticks never meet.
  auto l =
      lint("channel e(@to: addr, a: int, b: int);\noutput p(a: int, b: int);\np(x, y) <= e(_, x, y);\np(x, z) <= p(x, y), e(_, y, z);\n");
  EXPECT_EQ(l.kinds(), std::vector<std::string>{"race:join"});
  EXPECT_EQ(l.label("p"), Label::D);
}

TEST(Calm, AFindingNamesTheNearestAsynchronousSource) {
  // `t` is reached from the timer (declared first) through `stamp`, and from `msg` directly: the
  // negation of `t` is blamed on `msg`, with the one-hop path, and no now() remedy mentions tick().
  auto l = lint(
      "periodic beat every 1s;\nchannel msg(@to: addr, x: int);\ntable stamp(n: int);\nstamp(n) <= beat(n);\n"
      "table t(x: int, n: int);\nt(x, n) <= msg(_, x), stamp(n);\nscratch got(x: int);\ngot(x) <= msg(_, x);\n"
      "output bad(x: int);\nbad(x) <= got(x), not t(x, _);\n"
      "output late(x: int);\nlate(x) <= msg(_, x), now() > 5;\n");
  ASSERT_FALSE(l.r.findings.empty());
  bool negation = false;
  for (const auto& f : l.r.findings) {
    if (f.operation == "negation") {
      negation = true;
      EXPECT_EQ(l.c->program->collections[f.source].name, "msg");
      EXPECT_EQ(l.r.path_of(f).size(), 2u);  // msg, then the rule into t
    }
    for (const auto& r : f.remedies) EXPECT_EQ(r.find("tick()"), std::string::npos) << r;
  }
  EXPECT_TRUE(negation);
}

TEST(Calm, FindingsDownstreamOfEachOtherShareTheHopsOfTheirPaths) {
  // msg -> a -> b, with a negation of a and of b: the second path extends the first, so the
  // report holds 3 hops (msg, a, b), not 2 + 3, and each finding names only its last one.
  auto l = lint(
      "channel msg(@to: addr, x: int);\ntable z(x: int);\nz(1);\ntable a(x: int);\ntable b(x: int);\n"
      "output o1(x: int);\noutput o2(x: int);\na(x) <= msg(_, x);\nb(x) <= a(x);\n"
      "o1(x) <= z(x), not a(x);\no2(x) <= z(x), not b(x);\n");
  ASSERT_EQ(l.r.findings.size(), 2u);
  const auto& not_a = l.r.findings[0];
  const auto& not_b = l.r.findings[1];
  EXPECT_EQ(not_a.span.line, 10u);
  EXPECT_EQ(not_b.span.line, 11u);
  EXPECT_EQ(l.r.hops.size(), 3u);
  ASSERT_NE(not_b.path, analysis::kNoHop);
  EXPECT_EQ(l.r.hops[not_b.path].parent, not_a.path);  // b's path continues a's
  EXPECT_EQ(l.r.hops[not_b.path].length, 3u);
  const auto path = l.r.path_of(not_b);
  ASSERT_EQ(path.size(), 3u);
  EXPECT_EQ(l.c->program->collections[path[0].collection].name, "msg");
  EXPECT_EQ(l.c->program->collections[path[2].collection].name, "b");
  // Each finding affects its own output: two sets of sinks.
  EXPECT_NE(not_a.taints, not_b.taints);
  EXPECT_EQ(l.c->program->collections[l.r.taints_of(not_b).at(0)].name, "o2");
}

TEST(Calm, AChannelThatArrivesDiffluentMakesWhatItFeedsDiffluent) {
  // bloom lint DEPLOY.toml: a sender derives `c` D, so it arrives D here instead of A.
  const std::string text = "channel c(@to: addr, x: int);\ntable t(x: int);\nt(x) <= c(_, x);\noutput o(x: int);\no(x) <= t(x);\n";
  auto alone = lint(text);
  EXPECT_EQ(alone.label("o"), Label::A);
  EXPECT_FALSE(alone.r.needs_coordination());
  auto c = compile(text);
  ASSERT_TRUE(c->ok());
  auto r = analysis::analyze_calm(*c->program, *c->graph, {"c"});
  EXPECT_EQ(r.collection_label.at(c->program->find("o")->id), Label::D);
  EXPECT_TRUE(r.needs_coordination());
  EXPECT_EQ(r.unsuppressed(), 0u);  // the finding is the sender's, not this program's
}

TEST(Calm, AChannelThatIsOnlySentToIsASinkNotASource) {
  auto l = lint("table t(x: int);\nchannel c(@to: addr, x: int);\nt(1);\nc(@\"p\", x) <~ t(x);\n");
  EXPECT_TRUE(l.r.sources.empty());
  const auto& paths = l.r.paths.at(l.c->program->find("c")->id);
  ASSERT_EQ(paths.size(), 1u);
  EXPECT_EQ(paths[0].origin, analysis::kLocalOrigin);
  EXPECT_EQ(paths[0].label, Label::A);
}

TEST(Calm, LocalNegationOverFactsIsNonMonotoneButNoPointOfOrder) {
  auto l = lint("table a(x: int);\ntable b(x: int);\noutput o(x: int);\na(1); a(2); b(1);\no(x) <= a(x), not b(x);\n");
  EXPECT_EQ(l.label("o"), Label::N);
  EXPECT_TRUE(l.r.findings.empty());
}

TEST(Calm, CountOverAChannelIsAPointOfOrderWithPathAndRemedies) {
  auto l = lint(
      "channel vote(@to: addr, v: string);\n"
      "table seen(v: string);\n"
      "output n(c: int);\n"
      "seen(v) <= vote(_, v);\n"
      "n(count()) <= seen(_);\n");
  ASSERT_EQ(l.r.findings.size(), 1u);
  const auto& f = l.r.findings[0];
  EXPECT_EQ(f.kind, analysis::FindingKind::PointOfOrder);
  EXPECT_EQ(f.operation, "aggregate");
  EXPECT_EQ(f.span.line, 5u);
  EXPECT_EQ(f.span.col, 3u);
  EXPECT_EQ(l.c->program->collections[f.source].name, "vote");
  const auto path = l.r.path_of(f);
  ASSERT_EQ(path.size(), 2u);  // vote (source) -> seen
  EXPECT_EQ(l.c->program->collections[path[1].collection].name, "seen");
  EXPECT_EQ(path[1].span.line, 4u);
  const auto& taints = l.r.taints_of(f);
  ASSERT_EQ(taints.size(), 1u);
  EXPECT_EQ(l.c->program->collections[taints[0]].name, "n");
  ASSERT_FALSE(f.remedies.empty());
  EXPECT_NE(f.remedies[0].find("threshold"), std::string::npos);
  EXPECT_NE(f.remedies.back().find("vote"), std::string::npos);  // the coordination boundary
  EXPECT_EQ(l.label("n"), Label::D);
  EXPECT_TRUE(l.r.needs_coordination());
  EXPECT_EQ(l.r.verdict(), analysis::Verdict::NeedsCoordination);
}

TEST(Calm, LatticeThresholdStaysMonotoneButRevealIsAPointOfOrder) {
  auto threshold = lint(
      "channel vote(@to: addr, v: string);\nlattice votes: lset<string>;\nlattice done: lbool;\noutput ok(x: int);\n"
      "votes(v) <= vote(_, v);\ndone(true) <= votes(s), s.size() >= 3;\nok(1) <= done(b), b;\n");
  EXPECT_TRUE(threshold.r.findings.empty());
  EXPECT_EQ(threshold.label("ok"), Label::A);
  auto reveal = lint(
      "channel vote(@to: addr, v: string);\nlattice votes: lset<string>;\noutput n(x: int);\n"
      "votes(v) <= vote(_, v);\nn(s.size().value()) <= votes(s);\n");
  EXPECT_EQ(reveal.kinds(), std::vector<std::string>{"point-of-order:lattice reveal"});
  EXPECT_EQ(reveal.label("n"), Label::D);
}

TEST(Calm, AThresholdOnTheValueIsStillAThreshold) {
  // `m.value() >= 10` on an lmax only ever becomes true, as `m >= 10` does; `m.value() <= 10`
  // and storing the value are reveals.
  const std::string decls =
      "channel put(@to: addr, k: int, v: int);\ntable best(k: int, m: lmax<int>) key(k);\n"
      "best(k, v) <= put(_, k, v);\noutput o(k: int);\n";
  auto ge = lint(decls + "o(k) <= best(k, m), m.value() >= 10;\n");
  EXPECT_TRUE(ge.r.findings.empty());
  EXPECT_EQ(ge.label("o"), Label::A);
  auto mirrored = lint(decls + "o(k) <= best(k, m), 10 < m.value();\n");
  EXPECT_TRUE(mirrored.r.findings.empty());
  auto le = lint(decls + "o(k) <= best(k, m), m.value() <= 10;\n");
  EXPECT_EQ(le.kinds(), std::vector<std::string>{"point-of-order:lattice reveal"});
  EXPECT_EQ(le.label("o"), Label::D);
}

TEST(Calm, LocalAggregateThenSendIsAsynchronous) {
  auto l = lint(
      "table t(x: int);\nchannel out(@to: addr, n: int);\nt(1); t(2);\n"
      "out(@\"peer\", count()) <~ t(_);\n");
  EXPECT_TRUE(l.r.findings.empty());
  EXPECT_EQ(l.label("out"), Label::A);  // N then A
}

TEST(Calm, JoinOfTwoChannelsIsARaceUnlessEveryMatchIsFound) {
  auto race = lint(
      "channel a(@to: addr, k: int);\nchannel b(@to: addr, k: int);\noutput o(k: int);\n"
      "o(k) <= a(_, k), b(_, k);\n");
  EXPECT_EQ(race.kinds(), std::vector<std::string>{"race:join"});
  EXPECT_EQ(race.label("o"), Label::D);
  // One side logged is not enough: a `b` that arrives before its `a` never meets it.
  const std::string decls =
      "channel a(@to: addr, k: int);\nchannel b(@to: addr, k: int);\ntable ka(k: int);\ntable kb(k: int);\n"
      "output o(k: int);\nka(k) <= a(_, k);\nkb(k) <= b(_, k);\n";
  auto one_side = lint(decls + "o(k) <= ka(k), b(_, k);\n");
  EXPECT_EQ(one_side.kinds(), std::vector<std::string>{"race:join"});
  EXPECT_EQ(one_side.label("o"), Label::D);
  auto both_logged = lint(decls + "o(k) <= ka(k), kb(k);\n");
  EXPECT_TRUE(both_logged.r.findings.empty());
  EXPECT_EQ(both_logged.label("o"), Label::A);
  auto both_ways = lint(decls + "o(k) <= ka(k), b(_, k);\no(k) <= a(_, k), kb(k);\n");
  EXPECT_TRUE(both_ways.r.findings.empty()) << both_ways.kinds().size();
  EXPECT_EQ(both_ways.label("o"), Label::A);
  // Joining a channel with its own log instead of the other's finds only one order of pairs.
  auto own_log = lint(decls + "o(k) <= ka(k), a(_, k), b(_, k);\n");
  EXPECT_EQ(own_log.kinds(), std::vector<std::string>{"race:join"});
}

TEST(Calm, StateThatChangesBetweenTicksRacesWithMessages) {
  // `phase` is rewritten by a local `<+-`: which value a message meets depends on its tick.
  auto upsert = lint(
      "channel m(@to: addr, x: int);\ntable phase(k: int, n: int) key(k);\noutput o(x: int, n: int);\nphase(0, 0);\n"
      "phase(k, n + 1) <+- phase(k, n), n < 3;\no(x, n) <= m(_, x), phase(0, n);\n");
  EXPECT_EQ(upsert.kinds(), std::vector<std::string>{"race:join"});
  EXPECT_EQ(upsert.label("o"), Label::D);
  // The same table negated: the message passes or not depending on its tick.
  auto negated = lint(
      "channel m(@to: addr, x: int);\ntable closed(x: int);\ntable go(x: int);\noutput o(x: int);\ngo(1);\n"
      "closed(x) <+ go(x);\no(x) <= m(_, x), not closed(x);\n");
  EXPECT_EQ(negated.kinds(), std::vector<std::string>{"race:join"});
  // Facts and what instant rules derive from them are the same in every tick: no race.
  auto fixed = lint(
      "channel m(@to: addr, x: int);\ntable ok(x: int);\nscratch ok2(x: int);\noutput o(x: int);\nok(1);\n"
      "ok2(x) <= ok(x);\no(x) <= m(_, x), ok2(x), not ok(x + 1);\n");
  EXPECT_TRUE(fixed.r.findings.empty());
  EXPECT_EQ(fixed.label("o"), Label::N);  // A from m, N from the negation of local `ok`
}

TEST(Calm, ReadingTimeIsAPointOfOrder) {
  // now() differs between runs even over local data, and with no body atom at all.
  auto now = lint("table t(x: int);\nt(x) <= x = now();\noutput o(x: int);\no(x) <= t(x);\n");
  EXPECT_EQ(now.kinds(), std::vector<std::string>{"point-of-order:now"});
  EXPECT_EQ(now.label("o"), Label::D);
  EXPECT_EQ(now.r.findings[0].source, analysis::kClockOrigin);
  // tick() is deterministic in a node nothing arrives at...
  auto local_tick = lint("table t(x: int);\nt(x) <+ x = tick(), x < 3;\noutput o(x: int);\no(x) <= t(x);\n");
  EXPECT_TRUE(local_tick.r.findings.empty());
  // ...and not once messages decide when ticks happen, except for `tick() == 0`.
  auto async_tick = lint(
      "channel m(@to: addr, x: int);\nchannel hi(@to: addr, x: int);\noutput o(x: int, t: int);\n"
      "o(x, t) <= m(_, x), t = tick();\nhi(@\"p\", 1) <~ tick() == 0;\n");
  EXPECT_EQ(async_tick.kinds(), std::vector<std::string>{"point-of-order:tick"});
  EXPECT_EQ(async_tick.label("hi"), Label::M);
  // A periodic's count says how long the run has lasted; the periodic as a bare trigger does not.
  auto count = lint(
      "periodic p every 1s;\nchannel m(@to: addr, x: int);\ntable got(x: int);\ngot(x) <= m(_, x);\n"
      "output snap(n: int, x: int);\nsnap(n, x) <= p(n), got(x);\nchannel g(@to: addr, x: int);\ng(@\"q\", x) <~ p(_), got(x);\n");
  EXPECT_EQ(count.kinds(), std::vector<std::string>{"point-of-order:timer count"});
  EXPECT_EQ(count.label("snap"), Label::D);
  EXPECT_EQ(count.label("g"), Label::A);
}

TEST(Calm, KeyedInsertsAndLatticeValuesThatCanDisagree) {
  auto keyed = lint(
      "channel w(@to: addr, k: int, v: int);\ntable t(k: int, v: int) key(k);\ntable m(k: int, v: lmax<int>) key(k);\n"
      "output o(k: int, v: int);\nt(k, v) <= w(_, k, v);\nm(k, v) <= w(_, k, v);\no(k, v) <= t(k, v);\n");
  EXPECT_EQ(keyed.kinds(), std::vector<std::string>{"point-of-order:keyed insert"});  // not `m`: lmax merges
  auto equal = lint(
      "channel w(@to: addr, k: int, v: int);\ntable a(k: int, v: lmax<int>) key(k);\ntable b(k: int, v: lmax<int>) key(k);\n"
      "output o(k: int);\na(k, v) <= w(_, k, v);\nb(k, v) <= w(_, k, v);\no(k) <= a(k, m), b(k, m);\n");
  EXPECT_EQ(equal.kinds(), std::vector<std::string>{"point-of-order:lattice reveal"});
  auto output = lint("channel w(@to: addr, k: int, v: int);\noutput o(k: int, v: lmax<int>);\no(k, v) <= w(_, k, v);\n");
  EXPECT_EQ(output.kinds(), std::vector<std::string>{"point-of-order:lattice output"});
  EXPECT_EQ(output.label("o"), Label::D);
}

TEST(Calm, TwoNegationsOfGrowingDataCancelThroughAView) {
  const std::string decls =
      "channel m(@dst: addr, x: int);\ntable seen(x: int);\ntable want(x: int);\ntable found(x: int);\noutput got(x: int);\n"
      "seen(x) <= m(_, x);\nfound(x) <= want(x), not missing(x);\ngot(x) <= found(x);\n";
  // `missing` a view (scratch): found = want and seen, which only grows.
  auto view = lint(decls + "scratch missing(x: int);\nmissing(x) <= want(x), not seen(x);\n");
  EXPECT_TRUE(view.r.findings.empty()) << view.kinds().size();
  EXPECT_EQ(view.label("got"), Label::N);  // N from the local `want`; from `m`, A:
  bool async_a = false;
  for (const auto& pl : view.r.paths[view.c->program->find("got")->id])
    if (pl.origin == view.c->program->find("m")->id) async_a = pl.label == Label::A;
  EXPECT_TRUE(async_a);
  EXPECT_EQ(
      view.label("missing"),
      Label::A);  // its path from `m` is shown A: it only loses rows, and ends the same  // shown A: it only loses rows, and ends the same
  ASSERT_EQ(view.r.cancelled.size(), 1u);
  EXPECT_EQ(view.c->program->collections[view.r.cancelled[0].negated].name, "seen");
  EXPECT_EQ(view.c->program->collections[view.r.cancelled[0].result].name, "found");
  EXPECT_EQ(view.r.verdict(), analysis::Verdict::CoordinationFree);
  // `missing` a table keeps what was once missing: both negations are points of order.
  auto table = lint(decls + "table missing(x: int);\nmissing(x) <= want(x), not seen(x);\n");
  EXPECT_EQ(table.kinds(), (std::vector<std::string>{"point-of-order:negation", "point-of-order:negation"}));
  EXPECT_EQ(table.label("got"), Label::D);
  EXPECT_TRUE(table.r.cancelled.empty());
  // A view that is also read positively: what it lost shows, so nothing cancels.
  auto leak = lint(decls + "scratch missing(x: int);\noutput late(x: int);\nmissing(x) <= want(x), not seen(x);\nlate(x) <= missing(x);\n");
  EXPECT_EQ(leak.label("late"), Label::D);
  EXPECT_EQ(leak.label("got"), Label::D);
  EXPECT_TRUE(leak.r.cancelled.empty());
  // The view's own positive input comes through the second negation: that path is a point of
  // order of its own (the cancelling applies only to what went through the first negation).
  auto async_want = lint(decls +
                         "channel w(@dst: addr, x: int);\nscratch missing(x: int);\nwant(x) <= w(_, x);\n"
                         "missing(x) <= want(x), not seen(x);\n");
  ASSERT_EQ(async_want.r.findings.size(), 1u);
  EXPECT_EQ(async_want.c->program->collections[async_want.r.findings[0].source].name, "w");
  EXPECT_EQ(async_want.label("got"), Label::D);
}

TEST(Calm, CyclesThroughDeferredRulesReachAFixpoint) {
  // ch feeds t, t's count is deferred into u, u is sent back into ch: every label converges.
  auto l = lint(
      "channel ch(@to: addr, n: int);\ntable t(n: int);\ntable u(n: int);\noutput o(n: int);\n"
      "t(n) <= ch(_, n);\nu(count()) <+ t(_);\nch(@self(), n + 1) <~ u(n), n < 5;\no(n) <= u(n);\n");
  EXPECT_EQ(l.kinds(), std::vector<std::string>{"point-of-order:aggregate"});
  EXPECT_EQ(l.label("o"), Label::D);
  EXPECT_EQ(l.label("ch"), Label::D);  // the diffluent count flows back around the cycle
}

TEST(Calm, UpsertAndDeleteFromAChannelArePointsOfOrder) {
  auto l = lint(
      "channel put(@to: addr, k: string, v: int);\ntable kv(k: string, v: int) key(k);\noutput o(k: string, v: int);\n"
      "kv(k, v) <+- put(_, k, v);\nkv(k, v) <- kv(k, v), put(_, k, _);\no(k, v) <= kv(k, v);\n");
  EXPECT_EQ(l.kinds(), (std::vector<std::string>{"point-of-order:deferred upsert", "point-of-order:deferred delete"}));
}

TEST(Calm, NowIsNonDeterministic) {
  auto l = lint("input i(x: int);\noutput o(x: int, t: int);\no(x, now()) <= i(x);\n");
  EXPECT_EQ(l.kinds(), std::vector<std::string>{"point-of-order:now"});
}

TEST(Calm, SuppressionKeepsTheFindingAndVerdictButNotTheFailure) {
  auto l = lint(
      "channel i(@to: addr, x: int);\ntable seen(x: int);\nseen(x) <= i(_, x);\noutput o(n: int);\n"
      "// bloom:allow(point-of-order) a dashboard: a count so far is what it shows\n"
      "o(count()) <= seen(_);\n");
  ASSERT_EQ(l.r.findings.size(), 1u);
  EXPECT_TRUE(l.r.findings[0].suppressed);
  EXPECT_EQ(l.r.findings[0].suppression_reason, "a dashboard: a count so far is what it shows");
  EXPECT_FALSE(l.r.fails());              // `bloom lint` exits 0: the finding is acknowledged
  EXPECT_TRUE(l.r.needs_coordination());  // but the output is still diffluent, and the verdict says so
  EXPECT_EQ(l.r.verdict(), analysis::Verdict::Acknowledged);
  EXPECT_STREQ(analysis::to_string(l.r.verdict()), "coordination-acknowledged");
}

TEST(Calm, UnknownSuppressionKindIsAWarning) {
  auto c = compile("table t(x: int);\n// bloom:allow(typo) no\nt(x) <= t(x);\n");
  EXPECT_EQ(codes(*c, Severity::Warning), std::vector<std::string>{"unknown-suppression"});
}

TEST(Calm, SinksAreOutputsChannelsSentToAndStdout) {
  auto l = lint(
      "table t(x: int);\nchannel c(@to: addr, x: int);\nchannel unused(@to: addr, x: int);\noutput o(x: int);\nt(1);\n"
      "c(@\"p\", x) <~ t(x);\nstdout(to_string(x)) <~ t(x);\no(x) <= t(x);\n");
  std::vector<std::string> names;
  for (auto id : l.r.sinks) names.push_back(l.c->program->collections[id].name);
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"c", "o", "stdout"}));
}

// SARIF thread flows refer to their steps by index into the run's threadFlowLocations, where
// each distinct step is written once: the three findings of a chain share the steps before them.
TEST(LintSarif, ThreadFlowStepsAreSharedThroughTheRunsTable) {
  auto l = lint(
      "channel inbox(@dst: addr, x: int);\ntable z(x: int);\nz(1);\ntable c0(x: int);\nc0(x) <= inbox(_, x);\n"
      "table c1(x: int);\nc1(x) <= c0(x);\noutput d1(x: int);\nd1(x) <= z(x), not c1(x);\n"
      "table c2(x: int);\nc2(x) <= c1(x);\noutput d2(x: int);\nd2(x) <= z(x), not c2(x);\n"
      "table c3(x: int);\nc3(x) <= c2(x);\noutput d3(x: int);\nd3(x) <= z(x), not c3(x);\n");
  ASSERT_EQ(l.r.findings.size(), 3u);
  auto doc = nlohmann::json::parse(analysis::render_lint_sarif(l.c->sources, *l.c->program, l.r, "test"));
  const auto& run = doc["runs"][0];
  const auto& steps = run["threadFlowLocations"];
  std::set<std::string> distinct;
  for (const auto& s : steps) distinct.insert(s.dump());
  EXPECT_EQ(distinct.size(), steps.size());
  size_t refs = 0;
  std::vector<std::string> last_path;
  for (const auto& res : run["results"]) {
    std::vector<std::string> path;
    for (const auto& tl : res["codeFlows"][0]["threadFlows"][0]["locations"]) {
      ASSERT_TRUE(tl.contains("index")) << tl.dump();
      EXPECT_FALSE(tl.contains("location"));
      size_t i = tl["index"].get<size_t>();
      ASSERT_LT(i, steps.size());
      path.push_back(steps[i]["location"]["message"]["text"].get<std::string>());
      ++refs;
    }
    ASSERT_GE(path.size(), 2u);
    EXPECT_EQ(path.front(), "`inbox`");
    last_path = path;
  }
  // inbox, c0..c3 and the three negations: 8 steps for 4 + 5 + 6 references.
  EXPECT_EQ(refs, 15u);
  EXPECT_EQ(steps.size(), 8u);
  EXPECT_EQ(last_path, (std::vector<std::string>{"`inbox`", "`c0`", "`c1`", "`c2`", "`c3`", last_path.back()}));
}

}  // namespace
}  // namespace bloom::test
