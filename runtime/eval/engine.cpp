#include "eval/engine.h"

#include <algorithm>
#include <cassert>
#include <charconv>
#include <cstddef>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <limits>
#include <map>
#include <set>
#include <string_view>

#include <absl/container/flat_hash_map.h>
#include <fmt/format.h>

#include "plan/verify.h"

namespace bloom::rt {

using plan::Op;
using plan::StepKind;
using plan::TypeKind;
using plan::ValueType;
using plan::Version;

namespace {

constexpr size_t kBatch = 256;  // frames per batch between two steps

// Tiering (docs/jit.md): which interpreted segments are worth compiling. A segment's weight is
// the number of operators it evaluates a frame. Compiling one costs 5-30 ms, and the first compile
// of a process loads LLVM (about 100 ms of CPU and 50 MB), while the interpreter spends a few
// nanoseconds an operator (bench/README.md, "The JIT against the interpreter"). So, when the
// NativeCode weighs segments (the default; not with an explicit --jit-threshold), a segment is
// compiled once it has seen `threshold` frames and evaluated threshold * kWorkPerThresholdFrame
// operators (1 M at the default threshold, a few milliseconds of interpretation), and never when it
// evaluates fewer than kMinSegmentWeight operators a frame: a filter such as `x != y` (sg) or
// `s % 100 == 0` (negagg) runs as fast interpreted, and compiling it only loaded LLVM (sg: 98 MB
// -> 161 MB peak, 18% more CPU).
constexpr uint64_t kWorkPerThresholdFrame = 256;
constexpr uint32_t kMinSegmentWeight = 3;
// A Scan, Lookup, AntiJoin or InSet step of a segment: reading a row's cells (or probing) and
// the frame copy the interpreter makes for each match cost about as much as a few operators.
constexpr uint32_t kJoinStepWeight = 4;

// Compiled code reads relations through eval/native.h's views, laid out as 64-bit fields.
static_assert(kNativeChunkBits == Relation::kChunkRowBits && kNativeNoRow == kNoRow && sizeof(RowId) == 4);
static_assert(offsetof(NativeView, chunks) == 8 * kViewChunks && offsetof(NativeView, next) == 8 * kViewNext &&
              offsetof(NativeView, arity) == 8 * kViewArity && offsetof(NativeView, shift) == 8 * kViewShift &&
              offsetof(NativeView, begin) == 8 * kViewBegin && offsetof(NativeView, end) == 8 * kViewEnd &&
              offsetof(NativeView, has_dead) == 8 * kViewHasDead && offsetof(NativeView, heads) == 8 * kViewHeads &&
              offsetof(NativeView, heads_size) == 8 * kViewHeadsSize && offsetof(NativeView, direct) == 8 * kViewDirect &&
              offsetof(NativeView, step) == 8 * kViewStep && offsetof(NativeView, old_end) == 8 * kViewOldEnd);
static_assert(offsetof(NativeContext, views) == 8 * kCtxViews && offsetof(NativeContext, first_match) == 8 * kCtxFirstMatch &&
              offsetof(NativeContext, alive) == 8 * kCtxAlive && offsetof(NativeContext, flush) == 8 * kCtxFlush &&
              offsetof(NativeContext, capacity) == 8 * kCtxCapacity && offsetof(NativeContext, engine) == 8 * kCtxEngine &&
              offsetof(NativeContext, find_key) == 8 * kCtxFindKey && offsetof(NativeContext, absent) == 8 * kCtxAbsent &&
              offsetof(NativeContext, set_elements) == 8 * kCtxSetElements && offsetof(NativeContext, apply) == 8 * kCtxApply &&
              offsetof(NativeContext, strings) == 8 * kCtxStrings);

// Whether evaluating the expression can raise a run-time error where the JIT compiles it.
bool can_fail(const plan::Expr& x) {
  if (x.op == plan::Op::DivI || x.op == plan::Op::ModI || x.op == plan::Op::ToIntS || x.op == plan::Op::ToIntF) return true;
  return std::any_of(x.args.begin(), x.args.end(), can_fail);
}

// Whether it reveals an lmax or lmin, which at bottom has no value (CExpr::may_lack).
bool may_lack(const plan::Expr& x) {
  if (x.op == plan::Op::Reveal && (x.args[0].type.kind == TypeKind::LMax || x.args[0].type.kind == TypeKind::LMin)) return true;
  return std::any_of(x.args.begin(), x.args.end(), may_lack);
}

// The operators an expression evaluates (registers and constants are not operators).
uint32_t operator_count(const plan::Expr& x) {
  uint32_t n = x.op == plan::Op::Reg || x.op == plan::Op::Const ? 0 : 1;
  for (const auto& a : x.args) n += operator_count(a);
  return n;
}
// The operators a Lookup's or AntiJoin's computed key evaluates.
uint32_t key_weight(const plan::Step& s) {
  uint32_t n = 0;
  for (const auto& k : s.key) n += operator_count(k);
  return n;
}

// An expression with its constants interned.
struct CExpr {
  Op op = Op::Const;
  Word constant = 0;
  uint32_t reg = 0;
  const ValueType* type = nullptr;
  std::vector<CExpr> args;
  bool may_lack = false;  // it reveals an lmax or lmin somewhere, which may be at bottom (NoValue)
  // and, or, if and lset(...) evaluate their operands themselves, only as far as they need;
  // every other opcode gets them evaluated first, left to right (Impl::eval).
  bool lazy = false;
};

// Thrown by eval when a reveal meets an lmax or lmin at bottom, which has no plain value: the
// binding being evaluated does not match, as a failed join (docs/language.md). Caught where a
// frame's values are computed (Impl::value_of).
struct NoValue {};

struct CStep {
  StepKind kind = StepKind::Scan;
  uint32_t relation = 0;
  Version version = Version::Full;
  int32_t index = plan::kKeyIndex;
  std::vector<CExpr> key;
  std::vector<int32_t> key_regs;                     // per key value: its register when it is a plain register, else -1
  std::vector<std::pair<uint32_t, uint32_t>> bind;   // (column, register)
  std::vector<std::pair<uint32_t, uint32_t>> equal;  // (column, column bound earlier in this atom)
  CExpr expr;
  uint32_t target = 0;
};

uint64_t fnv1a(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ULL;
  return h;
}

// The result of float arithmetic: one NaN for all (docs/language.md), so that neither its sign
// nor its payload depends on how the operation was done (a C++ division here gives -nan on x86,
// LLVM folding the same division of constants gives nan).
Word float_result(double d) { return std::isnan(d) ? kCanonicalNaN : from_float(d); }

std::string float_text(double d) {
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, d);
  return std::string(buf, r.ptr);
}

}  // namespace

// One aggregate group: its count and, per head column, the running sum / min / max / elements.
struct AggregateGroup {
  int64_t count = 0;
  std::vector<Word> value;   // per column: sum / min / max / argmax's payload
  std::vector<Word> best;    // per argmax/argmin tie group leader: the best key so far
  std::vector<double> fsum;  // per column: float sums (avg, float sum)
  std::vector<std::vector<Word>> collected;
  std::vector<bool> seen;
  int64_t touched_tick = INT64_MIN;  // kept groups: the last tick that folded a match into it
};
// The groups of an aggregate rule, by the values of its group-by columns, in the order first met.
struct AggregateGroups {
  absl::flat_hash_map<std::vector<Word>, AggregateGroup> acc;
  std::vector<std::vector<Word>> order;
};

struct Engine::CompiledRule {
  const plan::RulePlan* plan = nullptr;
  uint32_t registers = 0;
  std::vector<CStep> steps;
  std::vector<CExpr> head;         // one per head column
  std::vector<CExpr> head_keys;    // per head column: argmax/argmin's key
  std::vector<int32_t> head_regs;  // fast path: the column is a plain register
  bool aggregates = false;
  // Aggregates range over distinct body matches: every match's frame is kept in a set.
  std::unique_ptr<plan::Relation> frame_decl;
  std::unique_ptr<Relation> frames;
  // When the body is one scan binding every column of the relation to its own register, its
  // matches are its rows, distinct already: each is folded into the groups `fold_into` as it
  // comes (set while the rule runs), not kept at all. Keeping them in an array first made negagg
  // hold its 606 K matches of `reach` as 64-bit words in a doubling vector: 25 MB of its 50.
  bool distinct_matches = false;
  AggregateGroups* fold_into = nullptr;
  std::vector<std::vector<Word>>* fold_touched = nullptr;  // with fold_into: the groups changed
  std::vector<Word> fold_key, fold_vals, fold_keys;        // fold_frame's scratch
  // Written before they are read, so never cleared (clearing them was a fifth of a short-lived
  // node's time): per step its output batch, and the head rows of one batch.
  std::vector<std::unique_ptr<Word[]>> batches;
  std::unique_ptr<Word[]> rows;
  // When the last step is a scan or lookup and the head inserts plain registers, that step
  // writes head rows directly instead of frames (no frame copy per derived row): per head
  // column, the row column the step binds it from (from_row) or the frame register.
  struct HeadSource {
    bool from_row;
    uint32_t index;
  };
  std::vector<HeadSource> direct_head;  // empty: the last step emits frames as usual
  // Head rows waiting to be inserted into a relation whose key index is big, as many as make a
  // batch probed in hash order (Relation::batch_rows, insert_pending).
  Relation::Pending pending;
  // Cross-tick incremental evaluation (docs/architecture.md): a rule that only inserts into a
  // table is run, in a tick after one where it ran, as its plan's variants over the rows new
  // since the previous tick (plan::RulePlan::variants), instead of over whole relations.
  bool incremental = false;  // plan::recomputed_because is ""
  bool variants_compiled = false;
  std::vector<std::unique_ptr<CompiledRule>> variants;  // as plan->variants
  std::vector<uint32_t> reads;                          // the relations its atoms read
  std::vector<uint32_t> negated;                        // the relations it negates
  int64_t last_tick = INT64_MIN;                        // the tick it last ran in
  uint64_t head_generation = 0;                         // its head's generation after that run
  // A rule of a kept scratch: its head rows count derivations (+1) or take them back (-1, a
  // retracting variant); 0 for every other rule. kept: the scratch's slot in Impl::kept.
  int weight = 0;
  int32_t kept = -1;
  // An aggregate rule that runs incrementally keeps its groups between ticks; its variants only
  // collect their matches (collect_only) for it to fold in.
  std::unique_ptr<AggregateGroups> groups;
  bool collect_only = false;
  // Native code (eval/native.h): runs of filters and assignments, and the head, that the JIT
  // compiles once they have seen enough frames. segment_at[k]: the segment that starts at step
  // k (k = steps.size(): the head alone), or -1.
  struct Segment {
    uint32_t first = 0, last = 0;
    bool head = false;
    SegmentSpec spec;     // what is compiled (from the plan of these steps: a variant's own)
    SegmentSlot fn;       // made when the segment is first requested
    uint64_t frames = 0;  // frames seen while interpreted (a first Scan: rows scanned)
    uint32_t weight = 0;  // operators evaluated a frame (operator_count of its steps and head)
    // A segment with joins: a view per Scan or Lookup (filled before each call), the steps
    // they are, and what its flushes need.
    std::vector<NativeView> views;
    std::vector<uint32_t> view_steps;
    bool joins = false;                  // spec.joins(): its context has views, and it may flush
    std::vector<Word> strings;           // spec.strings() interned: NativeContext::strings
    std::vector<TypedCall> typed_calls;  // spec.typed_calls(): what NativeContext::apply's kTypedCallBit indexes
    NativeContext context{};
    struct Flush {
      void* impl = nullptr;  // the Engine::Impl
      CompiledRule* rule = nullptr;
      Segment* segment = nullptr;
      std::exception_ptr error;
    } flush;
  };
  std::vector<Segment> segments;
  std::vector<int32_t> segment_at;
  // An aggregate rule whose columns compute: the segment that computes them for a batch of
  // matches (a head row of their values, count's a 0), which are then folded (fold_frames).
  int32_t fold_segment = -1;
};

struct Engine::Impl {
  Engine& e;
  std::vector<std::unique_ptr<CompiledRule>> transitions;
  struct CGroup {
    const plan::Group* group;
    std::vector<std::unique_ptr<CompiledRule>> rules, deltas;
  };
  std::vector<std::vector<CGroup>> strata;
  // Seals (plan::Seal): per stratum, the state of each of its seals, kept across ticks.
  struct SealState {
    const plan::Seal* plan = nullptr;
    std::map<std::vector<Word>, std::set<std::vector<Word>>> pending;  // key -> rows not released yet
    std::map<std::vector<Word>, int64_t> counts;                       // key -> the count its seal said
    std::set<std::vector<Word>> released;                              // keys released
    std::set<std::vector<Word>> waiting;                               // keys with a seal, not released
    std::map<std::vector<Word>, std::vector<Word>> seal_rows;          // key -> its first seal tuple (for on_release)
    // How far each input was read, at which generation: rows are only appended within a tick,
    // and a table keeps its row numbers until it is rebuilt (a new generation), so a release
    // reads only the rows new since the last one and costs what arrived, not what is kept.
    RowId sealed_end = 0, punct_end = 0;
    uint64_t sealed_generation = 0, punct_generation = 0;
  };
  std::vector<std::vector<SealState>> seals;
  // Version ranges: Full = [0, full_end), Delta = [delta_begin, full_end), Old = [0, delta_begin).
  std::vector<RowId> full_end, delta_begin;
  TransitionSink* sink = nullptr;
  uint64_t next_progress = 1 << 16;
  // Per relation: its end() and generation() when the previous tick finished; rows from there
  // on are new in this tick.
  std::vector<RowId> since_end;
  std::vector<uint64_t> since_generation;
  bool incremental_on = true;                         // BLOOM_INCREMENTAL=0 turns it off (benchmarks compare both)
  bool check_incremental = false;                     // BLOOM_CHECK_INCREMENTAL=1: every tick is checked against full evaluation
  bool force_full = false;                            // set while the check re-runs everything in full
  std::vector<std::set<std::vector<Word>>> reported;  // the check: per output, every row it held so far
  // Kept scratches (plan::scratch_recomputed_because): a scratch is not emptied between ticks;
  // each of its rows carries the number of its derivations, and a tick adds what new rows derive
  // and takes back what new rows of negated tables block.
  struct Kept {
    uint32_t relation = 0;
    std::vector<CompiledRule*> rules;
    std::vector<uint32_t> reads;    // the relations its rules read, positively or negated
    std::vector<uint32_t> count;    // per row number: its derivations (0: dead)
    int64_t last_tick = INT64_MIN;  // the tick it was last brought up to date in
    uint64_t generation = 0;        // the scratch's generation then
    bool full = false;              // this tick: derived from nothing again
    int64_t checked_tick = INT64_MIN;
  };
  std::vector<Kept> kept;
  std::vector<int32_t> kept_of;  // per relation: its slot in `kept`, or -1
  // insert_all_checked's key hashes and insert_many's scratch, kept from one batch to the next.
  std::vector<uint32_t> batch_hashes;
  Relation::BatchScratch batch_scratch;

  explicit Impl(Engine& engine) : e(engine) {
    const char* on = std::getenv("BLOOM_INCREMENTAL");
    incremental_on = !(on && std::string_view(on) == "0");
    const char* check = std::getenv("BLOOM_CHECK_INCREMENTAL");
    check_incremental = incremental_on && check && std::string_view(check) == "1";
  }

  // ------------------------------------------------------------------ incremental evaluation
  void prepare_incremental(CompiledRule& r) {
    const plan::RulePlan& p = *r.plan;
    if (!plan::recomputed_because(e.plan_, p).empty()) return;
    r.incremental = true;
    if (r.aggregates) r.groups = std::make_unique<AggregateGroups>();
    for (const auto& st : p.steps) {
      auto& list = st.kind == StepKind::AntiJoin ? r.negated : r.reads;
      if ((plan::is_positive_atom(st) || st.kind == StepKind::AntiJoin) && std::find(list.begin(), list.end(), st.relation) == list.end())
        list.push_back(st.relation);
    }
  }

  // The variants are compiled when first needed: a program that runs one tick never needs them.
  void compile_variants(CompiledRule& r) {
    const plan::RulePlan& p = *r.plan;
    r.variants_compiled = true;
    for (const auto& v : p.variants) {
      auto c = compile(v);
      // Messages, provenance (sim --explain keeps the pointer) and the head are the rule's own;
      // the variant's plan only lives on for the compiled steps that point into it.
      c->plan = &p;
      if (r.kept >= 0) c->weight = v.retracts ? -1 : 1;
      c->kept = r.kept;
      c->collect_only = c->aggregates;
      r.variants.push_back(std::move(c));
    }
    std::vector<CompiledRule*> variants;
    for (auto& v : r.variants) variants.push_back(v.get());
    compile_segments_now(variants);
  }

  // Sets the delta of each relation in `rels` to its rows new since the previous tick.
  void deltas_since_last_tick(const std::vector<uint32_t>& rels) {
    for (uint32_t rel : rels) delta_begin[rel] = std::min(since(rel), full_end[rel]);
  }
  void no_deltas(const std::vector<uint32_t>& rels) {
    for (uint32_t rel : rels) delta_begin[rel] = full_end[rel];
  }

  void setup_kept() {
    kept_of.assign(e.relations_.size(), -1);
    if (!incremental_on) return;
    for (auto& stratum : strata)
      for (auto& g : stratum)
        for (auto& r : g.rules) {
          const plan::Relation& head = e.plan_.relations[r->plan->head];
          if (head.kind != plan::RelationKind::Scratch || !head.rederived_because.empty()) continue;
          if (kept_of[head.id] < 0) {
            kept_of[head.id] = static_cast<int32_t>(kept.size());
            kept.emplace_back().relation = head.id;
          }
          Kept& k = kept[kept_of[head.id]];
          r->kept = kept_of[head.id];
          r->weight = 1;
          k.rules.push_back(r.get());
          // A kept scratch's rules are incremental (recomputed_because is ""): prepare_incremental
          // listed what each reads and negates.
          for (const auto* list : {&r->reads, &r->negated})
            for (uint32_t in : *list)
              if (std::find(k.reads.begin(), k.reads.end(), in) == k.reads.end()) k.reads.push_back(in);
        }
  }

  // Brings kept scratch `k` up to date for this tick, with rule `r`: the first of its rules to
  // run in a tick decides whether it is derived again from nothing (its first tick, after a tick
  // it missed, when a table it reads was rebuilt by deletes, or under sim --explain, which wants
  // every row's derivation in its tick), and if not takes back what every rule lost.
  void maintain(Kept& k, CompiledRule& r) {
    Relation& rel = *e.relations_[k.relation];
    if (force_full) return check_kept(k);
    if (k.last_tick != e.tick_) {
      k.full = e.on_derive || k.last_tick != e.tick_ - 1 || k.generation != rel.generation();
      for (uint32_t in : k.reads) k.full = k.full || !unchanged_since_last_tick(in);
      k.last_tick = e.tick_;
      if (k.full) {
        rel.clear();
        k.count.clear();
      } else {
        size_t dead = rel.end() - rel.live();
        if (dead > 1024 && dead > rel.live()) compact(k);
        deltas_since_last_tick(k.reads);
        for (CompiledRule* kr : k.rules) {
          if (!kr->variants_compiled) compile_variants(*kr);
          for (auto& v : kr->variants)
            if (v->weight < 0) run_rule(*v);
        }
        no_deltas(k.reads);
      }
      k.generation = rel.generation();
    }
    if (k.full) return run_rule(r);
    deltas_since_last_tick(k.reads);
    for (auto& v : r.variants)
      if (v->weight > 0) run_rule(*v);
    no_deltas(k.reads);
  }

  // Drops the dead rows of a kept scratch (a new generation: its readers see all of it as new).
  void compact(Kept& k) {
    Relation& rel = *e.relations_[k.relation];
    std::vector<uint32_t> count;
    count.reserve(rel.live());
    for (RowId row = 0; row < rel.end(); ++row)
      if (rel.alive(row)) count.push_back(k.count[row]);
    rel.rebuild({});
    k.count = std::move(count);
  }

  // A head row of a kept scratch's rule: one derivation more, or one less.
  void count_rows(CompiledRule& r, const Word* rows, size_t n) {
    Kept& k = kept[r.kept];
    Relation& rel = *e.relations_[k.relation];
    rel.need_row_ids();  // the counts are by row: a duplicate must name its row
    const size_t A = rel.arity();
    for (size_t i = 0; i < n; ++i) {
      const Word* row = rows + i * A;
      if (r.weight > 0) {
        auto res = rel.insert(row);
        if (res.outcome == Relation::Outcome::Added) {
          k.count.resize(rel.end(), 0);
          k.count[res.row] = 1;
          inserted(r, rel, row, res);
        } else {
          ++k.count[res.row];
        }
        continue;
      }
      RowId at = rel.find_key_of_row(row);
      if (at == kNoRow || k.count[at] == 0)
        throw RuntimeError(fmt::format("internal error: tick {} takes back a derivation of {}, which the scratch does not hold", e.tick_,
                                       e.format_row(rel.decl(), row, true)));
      if (--k.count[at] == 0) rel.kill(at);
    }
  }

  // BLOOM_CHECK_INCREMENTAL: the kept scratch must hold exactly the rows, with the counts, that
  // its rules derive from nothing. They derive them into a fresh relation, compared and dropped.
  void check_kept(Kept& k) {
    if (k.checked_tick == e.tick_) return;
    k.checked_tick = e.tick_;
    const plan::Relation& decl = e.plan_.relations[k.relation];
    // `held` and `held_count` are the kept scratch while its rules derive it afresh in its place.
    auto held = std::make_unique<Relation>(decl, e.lattices_);
    std::swap(held, e.relations_[k.relation]);
    std::vector<uint32_t> held_count;
    std::swap(held_count, k.count);
    auto put_back = [&] {
      std::swap(held, e.relations_[k.relation]);
      std::swap(held_count, k.count);
    };
    try {
      for (CompiledRule* kr : k.rules) run_rule(*kr);
    } catch (...) {
      put_back();
      throw;
    }
    const Relation& expect = *e.relations_[k.relation];
    std::vector<Word> row(decl.arity() + 1);
    std::string wrong;
    for (RowId x = 0; x < expect.end() && wrong.empty(); ++x) {
      if (!expect.alive(x)) continue;
      expect.read(x, row.data());
      RowId at = held->find_key_of_row(row.data());
      if (at == kNoRow || held_count[at] != k.count[x])
        wrong = fmt::format("{} with {} derivations (kept: {})", e.format_row(decl, row.data(), true), k.count[x],
                            at == kNoRow ? 0 : held_count[at]);
    }
    if (wrong.empty() && expect.live() != held->live()) wrong = fmt::format("{} rows (kept: {})", expect.live(), held->live());
    put_back();
    if (!wrong.empty())
      throw RuntimeError(fmt::format("internal error: the kept scratch `{}` in tick {} should hold {} (BLOOM_CHECK_INCREMENTAL)", decl.name,
                                     e.tick_, wrong));
  }

  RowId since(uint32_t rel) const {
    const Relation& r = *e.relations_[rel];
    if (rel >= since_end.size() || since_generation[rel] != r.generation()) return 0;
    return std::min(since_end[rel], r.end());
  }

  // Whether relation `rel` holds every row it held when the previous tick finished, under the
  // same numbers (it was not emptied or rebuilt since).
  bool unchanged_since_last_tick(uint32_t rel) const {
    return rel < since_generation.size() && since_generation[rel] == e.relations_[rel]->generation();
  }

  // Runs a rule: incrementally when it ran in the previous tick, its head has lost no row since
  // (a delete or an upsert rebuilt it: then old matches must derive their rows again) and no
  // table it negates was rebuilt (a row that went away lets old matches through).
  void run_rule_in_tick(CompiledRule& r) {
    const Relation& head = *e.relations_[r.plan->head];
    // An output is emptied every tick and loses nothing the run reports (see recomputed_because).
    bool head_kept = head.decl().kind == plan::RelationKind::Output || r.head_generation == head.generation();
    // An aggregate's groups hold the matches of earlier ticks: every input must hold them still.
    auto unchanged = [&](uint32_t n) { return unchanged_since_last_tick(n); };
    bool incremental = r.incremental && incremental_on && !force_full && r.last_tick == e.tick_ - 1 && head_kept &&
                       std::all_of(r.negated.begin(), r.negated.end(), unchanged) &&
                       (!r.aggregates || std::all_of(r.reads.begin(), r.reads.end(), unchanged));
    r.last_tick = e.tick_;
    if (!incremental) {
      run_rule(r);
    } else {
      if (!r.variants_compiled) compile_variants(r);
      deltas_since_last_tick(r.reads);
      // Variants with distinct matches fold them into the rule's groups as they come.
      std::vector<std::vector<Word>> touched;
      for (auto& v : r.variants) {
        v->fold_into = r.groups.get();
        v->fold_touched = &touched;
        run_rule(*v);
        v->fold_into = nullptr;
        v->fold_touched = nullptr;
      }
      no_deltas(r.reads);
      if (r.aggregates) {
        in_rule(r, [&] {
          for (auto& v : r.variants) fold_matches(*v, *r.groups, &touched);
          emit_groups(r, *r.groups, touched);
        });
      }
    }
    r.head_generation = head.generation();
  }

  void remember_tick_end() {
    size_t n = e.relations_.size();
    since_end.resize(n);
    since_generation.resize(n);
    for (size_t i = 0; i < n; ++i) {
      since_end[i] = e.relations_[i]->end();
      since_generation[i] = e.relations_[i]->generation();
    }
  }

  // ------------------------------------------------------------------ compile
  CExpr compile(const plan::Expr& x) {
    CExpr c;
    c.op = x.op;
    c.reg = x.reg;
    c.type = &x.type;
    if (x.op == Op::Const) {
      if (auto* i = std::get_if<int64_t>(&x.value)) c.constant = from_int(*i);
      else if (auto* d = std::get_if<double>(&x.value)) c.constant = from_float(*d);
      else if (auto* b = std::get_if<bool>(&x.value)) c.constant = from_bool(*b);
      else c.constant = e.symbols_.intern(std::get<std::string>(x.value));
      if (x.type.is_lattice()) c.constant = e.lattices_.lift(x.type, c.constant);
    }
    for (const auto& a : x.args) c.args.push_back(compile(a));
    if (x.op == Op::SetOf && std::all_of(c.args.begin(), c.args.end(), [](const CExpr& a) { return a.op == Op::Const; })) {
      // A set of constants (an lset param, `lset("a", "b")`) is built once, here.
      std::vector<Word> elements;
      for (const auto& a : c.args) elements.push_back(a.constant);
      c.op = Op::Const;
      c.constant = e.lattices_.set_of(std::move(elements));
      c.args.clear();
    }
    c.lazy = c.op == Op::And || c.op == Op::Or || c.op == Op::LBoolAnd || c.op == Op::LBoolOr || c.op == Op::If || c.op == Op::SetOf;
    c.may_lack = may_lack(x);
    return c;
  }

  // The segments of a rule that native code can run (eval/native.h): each maximal run of steps
  // the JIT supports, with the head when the run ends the pipeline and
  // every head column is supported; or the head alone when it computes a column (a head of
  // registers only is a copy the interpreter does as fast).
  void plan_segments(CompiledRule& r) {
    const NativeCode* native = e.native_;
    if (!native) return;
    const plan::RulePlan& p = *r.plan;
    const size_t S = p.steps.size();
    bool head_ok = !r.aggregates, head_computes = false;
    for (const auto& c : p.columns) {
      head_ok &= native->supports_head_column(c.value);
      head_computes |= c.value.op != Op::Reg;
    }
    // Joins run natively only in rules none of whose expressions can fail: a segment that
    // flushed part of its output cannot hand its batch back to the interpreter (eval/native.h).
    bool joins_ok = native->supports_joins();
    for (const auto& st : p.steps) {
      joins_ok &= !can_fail(st.expr);
      for (const auto& k : st.key) joins_ok &= !can_fail(k);  // a lookup's or negation's computed key
    }
    for (const auto& c : p.columns) joins_ok &= !can_fail(c.value) && !can_fail(c.key);
    auto key_ok = [&](const plan::Expr& x) { return x.op == Op::Reg || native->supports_step(x); };
    auto fits = [&](const plan::Step& s) {
      switch (s.kind) {
        case StepKind::Scan: return joins_ok;
        case StepKind::Lookup:
        case StepKind::AntiJoin: return joins_ok && std::all_of(s.key.begin(), s.key.end(), key_ok);
        case StepKind::InSet: return joins_ok && key_ok(s.expr);
        case StepKind::Filter:
        case StepKind::Assign: return native->supports_step(s.expr);
      }
      return false;
    };
    for (size_t k = 0; k <= S;) {
      size_t end = k;
      while (end < S && fits(p.steps[end])) ++end;
      // A lone Scan is a copy of its rows, and a lone AntiJoin a probe and a copy of the frame,
      // which the interpreter does as fast (to the head, or to the next step): not worth a
      // compile. They stay interpreted.
      if (end == k + 1 && (p.steps[k].kind == StepKind::Scan || p.steps[k].kind == StepKind::AntiJoin)) ++k;
      const bool head = end == S && head_ok && (end > k || head_computes);
      if (end > k || head) {
        if (r.segment_at.empty()) r.segment_at.assign(S + 1, -1);
        r.segment_at[k] = static_cast<int32_t>(r.segments.size());
        CompiledRule::Segment& seg = r.segments.emplace_back();
        seg.first = static_cast<uint32_t>(k);
        seg.last = static_cast<uint32_t>(end);
        seg.head = head;
        seg.spec.registers = r.registers;
        seg.spec.steps.assign(p.steps.begin() + k, p.steps.begin() + end);
        seg.spec.head = head;
        seg.spec.origin = segment_origin(p) + (end == k ? "the head"
                                                        : (end == k + 1 ? "step " + std::to_string(end)
                                                                        : "steps " + std::to_string(k + 1) + "-" + std::to_string(end)) +
                                                              (head ? " and the head" : ""));
        if (head)
          for (const auto& c : p.columns) seg.spec.head_columns.push_back(c.value);
        for (uint32_t j = seg.first; j < seg.last; ++j) {
          const plan::Step& st = p.steps[j];
          if (SegmentSpec::has_view(st.kind)) {
            seg.weight += kJoinStepWeight + (st.kind == StepKind::Scan ? 0 : key_weight(st));
            seg.view_steps.push_back(j);
          } else if (st.kind == StepKind::InSet) {
            seg.weight += kJoinStepWeight;
          } else {
            seg.weight += operator_count(st.expr);
          }
        }
        seg.views.resize(seg.view_steps.size());
        seg.joins = seg.spec.joins();
        prepare_context(seg);
        for (const auto& c : seg.spec.head_columns) seg.weight += operator_count(c);
      }
      k = end + 1;
    }
    plan_fold_segment(r);
  }

  // How SegmentSpec::origin names a rule's variant: "rule 6 at p.bloom:24:1, delta on literal 1: ".
  static std::string segment_origin(const plan::RulePlan& p) {
    return "rule " + std::to_string(p.rule) + " at " + p.where +
           (p.delta_atom >= 0 ? ", delta on literal " + std::to_string(p.delta_atom + 1) : "") + (p.retracts ? ", retracting" : "") + ": ";
  }

  // The columns of an aggregate rule computed natively for each match before it is folded, when
  // one of them computes (a column of registers is read as fast interpreted) and all of them are
  // supported. The segment's head row is the columns' values in order (count's a 0), then the key
  // of each argmax/argmin tie group, in the order of the columns that lead them.
  void plan_fold_segment(CompiledRule& r) {
    const plan::RulePlan& p = *r.plan;
    if (!r.aggregates) return;
    bool ok = true, computes = false;
    uint32_t weight = 0;
    auto take = [&](const plan::Expr& x) {
      // A match without a value counts in no group (fold_frame), but the segment makes a row of
      // every match: such columns stay interpreted.
      ok &= e.native_->supports_head_column(x) && !may_lack(x);
      computes |= x.op != Op::Reg && x.op != Op::Const;
      weight += operator_count(x);
    };
    for (size_t c = 0; c < p.columns.size(); ++c) {
      if (p.columns[c].agg == plan::AggKind::Count) continue;
      take(p.columns[c].value);
      if (leads_tie_group(p.columns, c)) take(p.columns[c].key);
    }
    if (!ok || !computes) return;
    r.fold_segment = static_cast<int32_t>(r.segments.size());
    CompiledRule::Segment& seg = r.segments.emplace_back();
    seg.first = seg.last = static_cast<uint32_t>(p.steps.size());
    seg.head = true;
    seg.weight = weight;
    seg.spec.registers = r.registers;
    seg.spec.head = true;
    seg.spec.origin = segment_origin(p) + "the aggregate's columns";
    for (const auto& c : p.columns) {
      if (c.agg != plan::AggKind::Count) {
        seg.spec.head_columns.push_back(c.value);
        continue;
      }
      plan::Expr zero;  // count folds no value
      zero.op = Op::Const;
      zero.type.kind = TypeKind::Int;
      zero.value = int64_t{0};
      seg.spec.head_columns.push_back(std::move(zero));
    }
    for (size_t c = 0; c < p.columns.size(); ++c)
      if (leads_tie_group(p.columns, c)) seg.spec.head_columns.push_back(p.columns[c].key);
    prepare_context(seg);
  }

  // Whether column c is an argmax/argmin that leads its tie group (the one that holds its key).
  static bool leads_tie_group(const std::vector<plan::HeadColumn>& cols, size_t c) {
    return (cols[c].agg == plan::AggKind::ArgMax || cols[c].agg == plan::AggKind::ArgMin) && cols[c].tie == c;
  }

  // What the segment's context gives its code: its string constants interned, its typed calls.
  void prepare_context(CompiledRule::Segment& seg) {
    for (const auto& text : seg.spec.strings()) seg.strings.push_back(e.symbols_.intern(text));
    seg.typed_calls = seg.spec.typed_calls();
  }

  // With a threshold of 0, every segment of the rules is compiled before they run, as one batch.
  void compile_segments_now(const std::vector<CompiledRule*>& rules) {
    if (!e.native_ || e.native_->threshold() != 0) return;
    std::vector<SegmentSpec> specs;
    std::vector<CompiledRule::Segment*> segments;
    for (CompiledRule* r : rules)
      for (auto& seg : r->segments) {
        specs.push_back(seg.spec);
        segments.push_back(&seg);
      }
    if (specs.empty()) return;
    std::vector<SegmentFn> fns = e.native_->compile(specs);
    for (size_t i = 0; i < segments.size(); ++i) segments[i]->fn = std::make_shared<std::atomic<SegmentFn>>(fns[i]);
  }

  // Runs segment s over a batch with its native code: false when it has none yet (or the batch
  // raised an error), and then the interpreter runs the batch.
  bool run_native(CompiledRule& r, CompiledRule::Segment& s, const Word* frames, size_t n) {
    SegmentFn fn = native_fn(r, s, n);
    if (!fn) return false;
    Word* out = s.head ? r.rows.get() : r.batches[s.last - 1].get();
    uint64_t m = 0;
    const int32_t status = fn(frames, n, out, &m, context_of(r, s));
    if (status == kStatusFlushFailed) std::rethrow_exception(s.flush.error);
    if (status != 0) {  // the interpreter raises the same error
      assert(!s.joins);
      return false;
    }
    segment_output(r, s, out, m);
    return true;
  }

  // What segment s is called with (eval/native.h): the views of its joins filled in.
  NativeContext* context_of(CompiledRule& r, CompiledRule::Segment& s) {
    NativeContext& c = s.context;
    c.views = s.views.data();
    c.first_match = &native_first_match;
    c.alive = &native_alive;
    c.flush = &native_flush;
    c.find_key = &native_find_key;
    c.absent = &native_absent;
    c.set_elements = &native_set_elements;
    c.apply = &native_apply;
    c.strings = s.strings.data();
    c.capacity = kBatch;
    s.flush = {this, &r, &s, nullptr};
    c.engine = &s.flush;
    if (s.joins) fill_views(r, s);
    return &c;
  }

  // Segment s's native code, or null while it is interpreted: then the batch of n frames counts
  // towards compiling it, and it is asked for once it is worth it (tiering).
  SegmentFn native_fn(CompiledRule& r, CompiledRule::Segment& s, size_t n) {
    if (SegmentFn fn = s.fn ? s.fn->load(std::memory_order_acquire) : nullptr) return fn;
    if (s.fn) return nullptr;  // requested, not ready
    s.frames += n;
    if (!s.view_steps.empty() && s.view_steps[0] == s.first) {  // a first Scan or Lookup: its rows
      const CStep& st = r.steps[s.first];
      if (st.kind == StepKind::Scan) s.frames += n * (range_end(st.version, st.relation) - range_begin(st.version, st.relation));
    }
    NativeCode& native = *e.native_;
    const uint64_t threshold = native.threshold();
    if (s.frames < threshold) return nullptr;
    if (native.weighs_segments() && (s.weight < kMinSegmentWeight || s.frames * s.weight < threshold * kWorkPerThresholdFrame))
      return nullptr;
    s.fn = std::make_shared<std::atomic<SegmentFn>>(nullptr);
    native.compile_later(s.spec, s.fn);
    return nullptr;
  }

  // What follows a segment, on a batch of its output: the rest of the pipeline, or the head.
  void segment_output(CompiledRule& r, const CompiledRule::Segment& s, Word* out, size_t m) {
    if (!s.head) {
      if (m) exec(r, s.last, out, m);
    } else if (r.plan->op == plan::HeadOp::Insert) {
      insert_rows(r, out, m);
    } else {
      const size_t A = r.head.size();
      for (size_t i = 0; i < m; ++i) emit_row(r, out + i * A);
    }
  }

  // The views of a segment's joins (eval/native.h), as the interpreter's Scan, Lookup and
  // AntiJoin read their relations: again after every flush, which may have added rows or
  // widened cells.
  void fill_views(CompiledRule& r, CompiledRule::Segment& s) {
    for (size_t j = 0; j < s.views.size(); ++j) {
      const CStep& st = r.steps[s.view_steps[j]];
      const Relation& rel = *e.relations_[st.relation];
      NativeView& v = s.views[j];
      v.chunks = rel.chunk_table();
      v.arity = rel.arity();
      v.shift = rel.cell_shift();
      v.begin = range_begin(st.version, st.relation);
      v.end = range_end(st.version, st.relation);
      v.has_dead = rel.has_dead_rows();
      v.relation = &rel;
      v.step = &st;
      v.old_end = st.version == Version::Full ? kNoRow : delta_begin[st.relation];
      const bool chains = st.kind == StepKind::Lookup && st.index != plan::kKeyIndex;
      v.index = chains ? static_cast<uint64_t>(st.index) : 0;
      if (chains) {
        rel.catch_up(static_cast<uint32_t>(st.index));  // no row is added until the next flush
        index_view(v);
      }
    }
  }
  static void index_view(NativeView& v) {
    const Relation& rel = *static_cast<const Relation*>(v.relation);
    const auto index = static_cast<uint32_t>(v.index);
    v.next = rel.match_chains(index);
    size_t size = 0;
    v.heads = rel.direct_heads(index, size);
    v.heads_size = size;
    v.direct = v.heads != nullptr;
  }

  static uint32_t native_first_match(NativeView* v, const Word* key) {
    const RowId row = static_cast<const Relation*>(v->relation)->first_match(static_cast<uint32_t>(v->index), key);
    index_view(*v);  // caught up: its arrays may have moved
    return row;
  }
  static uint32_t native_find_key(NativeView* v, const Word* key) { return static_cast<const Relation*>(v->relation)->find_key(key); }
  static uint64_t native_absent(NativeView* v, const Word* key) {
    return no_match(*static_cast<const Relation*>(v->relation), *static_cast<const CStep*>(v->step), static_cast<RowId>(v->old_end), key);
  }
  static const Word* native_set_elements(NativeContext* c, Word set, uint64_t* count) {
    auto& impl = *static_cast<Impl*>(static_cast<CompiledRule::Segment::Flush*>(c->engine)->impl);
    auto elements = impl.e.lattices_.set_elements(set);
    *count = elements.size();
    return elements.data();
  }
  // A call-out (NativeContext::apply). Nothing may unwind through compiled code: a run-time
  // error of a segment without joins is raised again by the interpreter, which reruns the batch;
  // any other error is kept and rethrown once the segment has returned.
  static int32_t native_apply(NativeContext* c, uint64_t op, const Word* args, Word* out) {
    auto& f = *static_cast<CompiledRule::Segment::Flush*>(c->engine);
    try {
      auto& impl = *static_cast<Impl*>(f.impl);
      if (op & kTypedCallBit) {
        const TypedCall& call = f.segment->typed_calls.at(op & ~kTypedCallBit);
        *out = impl.typed_op(call.op, call.type, call.first, call.operands, args);
      } else {
        *out = impl.call_op(static_cast<Op>(op), args);
      }
      return 0;
    } catch (const RuntimeError&) {
      if (!f.segment->joins) return kStatusCallFailed;
      f.error = std::current_exception();
      return kStatusFlushFailed;
    } catch (...) {
      f.error = std::current_exception();
      return kStatusFlushFailed;
    }
  }
  static uint64_t native_alive(const NativeView* v, uint64_t row) {
    return static_cast<const Relation*>(v->relation)->alive(static_cast<RowId>(row));
  }
  // Compiled code calls this through a plain function pointer: nothing may unwind through it,
  // so an error is kept and rethrown once the segment has returned.
  static int32_t native_flush(NativeContext* c, Word* out, uint64_t m) {
    auto& f = *static_cast<CompiledRule::Segment::Flush*>(c->engine);
    try {
      auto& impl = *static_cast<Impl*>(f.impl);
      impl.segment_output(*f.rule, *f.segment, out, m);
      impl.fill_views(*f.rule, *f.segment);
      return 0;
    } catch (...) {
      f.error = std::current_exception();
      return 1;
    }
  }

  std::unique_ptr<CompiledRule> compile(const plan::RulePlan& p) {
    auto r = std::make_unique<CompiledRule>();
    r->plan = &p;
    r->registers = std::max<uint32_t>(p.registers, 1);
    for (const auto& s : p.steps) {
      CStep c;
      c.kind = s.kind;
      c.relation = s.relation;
      c.version = s.version;
      c.index = s.index;
      for (const auto& k : s.key) {
        c.key.push_back(compile(k));
        c.key_regs.push_back(k.op == Op::Reg ? static_cast<int32_t>(k.reg) : -1);
      }
      for (uint32_t col = 0; col < s.bind.size(); ++col)
        if (s.bind[col] >= 0) c.bind.emplace_back(col, static_cast<uint32_t>(s.bind[col]));
      for (auto [col, reg] : s.equal)  // a repeated variable: compare with the column that bound it
        for (uint32_t b = 0; b < s.bind.size(); ++b)
          if (s.bind[b] == static_cast<int32_t>(reg)) c.equal.emplace_back(col, b);
      if (s.kind == StepKind::Filter || s.kind == StepKind::Assign || s.kind == StepKind::InSet) c.expr = compile(s.expr);
      c.target = s.target;
      r->steps.push_back(std::move(c));
    }
    for (const auto& col : p.columns) {
      r->head.push_back(compile(col.value));
      r->head_keys.push_back(compile(col.key));
      r->head_regs.push_back(col.agg == plan::AggKind::None && col.value.op == Op::Reg ? static_cast<int32_t>(col.value.reg) : -1);
    }
    r->aggregates = p.aggregates();
    if (r->aggregates) {
      r->frame_decl = std::make_unique<plan::Relation>();
      r->frame_decl->name = "matches of rule " + std::to_string(p.rule);
      r->frame_decl->column_types.assign(r->registers, ValueType{});
      r->frame_decl->column_names.assign(r->registers, "r");
      for (uint32_t i = 0; i < r->registers; ++i) r->frame_decl->key.push_back(i);
      r->frames = std::make_unique<Relation>(*r->frame_decl, e.lattices_);
      if (r->steps.size() == 1 && r->steps[0].kind == StepKind::Scan && r->steps[0].equal.empty()) {
        const CStep& s = r->steps[0];
        std::vector<bool> col_bound(e.relations_[s.relation]->arity(), false), reg_used(r->registers, false);
        bool distinct = true;
        for (auto [col, reg] : s.bind) {
          distinct &= !col_bound[col] && !reg_used[reg];
          col_bound[col] = reg_used[reg] = true;
        }
        for (bool b : col_bound) distinct &= b;
        r->distinct_matches = distinct;
      }
    }
    plan_direct_head(*r);
    plan_segments(*r);
    return r;
  }

  std::unique_ptr<CompiledRule> compile_rule(const plan::RulePlan& p) {
    auto r = compile(p);
    prepare_incremental(*r);
    return r;
  }

  // A rule's batch buffers (kBatch frames per step) are made when it first runs: many rules of a
  // node never do, and a node that lives for a few ticks (a simulation starts every node afresh
  // on every run) would spend more on clearing them than on its ticks.
  void allocate_buffers(CompiledRule& r) {
    for (size_t k = 0; k < r.steps.size(); ++k) r.batches.emplace_back(new Word[kBatch * r.registers]);
    size_t width = e.relations_[r.plan->head]->arity() + 1;
    if (r.fold_segment >= 0) width = std::max(width, r.segments[r.fold_segment].spec.head_columns.size());  // with the tie keys
    r.rows.reset(new Word[kBatch * width]);
  }

  static void plan_direct_head(CompiledRule& r) {
    if (r.aggregates || r.plan->op != plan::HeadOp::Insert || r.steps.empty()) return;
    const CStep& last = r.steps.back();
    if (last.kind != StepKind::Scan && last.kind != StepKind::Lookup) return;
    std::vector<CompiledRule::HeadSource> sources;
    for (int32_t reg : r.head_regs) {
      if (reg < 0) return;
      CompiledRule::HeadSource src{false, static_cast<uint32_t>(reg)};
      for (auto [col, bound] : last.bind)  // the step's own binding wins, as in its frame
        if (bound == static_cast<uint32_t>(reg)) src = {true, col};
      sources.push_back(src);
    }
    r.direct_head = std::move(sources);
  }

  // ------------------------------------------------------------------ expressions
  [[noreturn]] void fail(const std::string& what) { throw RuntimeError(what); }

  const std::string& str(Word w) { return e.symbols_.str(w); }

  int cmp_str(Word a, Word b) {
    if (a == kTopString || b == kTopString) return a == b ? 0 : a == kTopString ? 1 : -1;
    return e.symbols_.compare(a, b);
  }

  // eval, or false when the value has none (it reveals an lmax or lmin at bottom): then the frame
  // does not match. Most expressions cannot lack one and skip the handler.
  bool value_of(const CExpr& x, const Word* f, Word& out) {
    if (!x.may_lack) {
      out = eval(x, f);
      return true;
    }
    try {
      out = eval(x, f);
    } catch (const NoValue&) {
      return false;
    }
    return true;
  }

  // The lattice operations of calls_with_type (eval/native.h) given their node's type, its first
  // operand's type, and their n operands: the interpreter's and the native code's typed calls.
  Word typed_op(Op op, const ValueType& type, const ValueType& first, uint32_t n, const Word* a) {
    switch (op) {
      case Op::Lift: return e.lattices_.lift(type, a[0]);
      case Op::LatAdd: {
        Word l = a[0], r = a[1];
        if (e.lattices_.is_bottom(type, l)) return l;
        if (type.args[0].kind == TypeKind::Float) return from_float(as_float(l) + as_float(r));
        int64_t s;
        if (__builtin_add_overflow(as_int(l), as_int(r), &s))
          s = as_int(r) > 0 ? std::numeric_limits<int64_t>::max() : std::numeric_limits<int64_t>::min() + 1;
        return from_int(s);
      }
      case Op::SetUnion: return e.lattices_.merge(type, a[0], a[1]);  // two lsets, or two lmaps entry by entry
      case Op::MapAt: return e.lattices_.map_at(first, a[0], a[1]);
      case Op::MapOf: return e.lattices_.map_of(type.args[1], {{a[0], a[1]}});
      case Op::SetOf: return e.lattices_.set_of(std::vector<Word>(a, a + n));
      case Op::LatCovers: {
        Word l = a[0];
        return from_bool(e.lattices_.merge(first, l, a[1]) == l);
      }
      default: fail(std::string("internal: no typed call for ") + plan::to_string(op));
    }
  }

  // The operations of is_call_op (eval/native.h) given their operands, and hash() of a string:
  // the interpreter's and the native code's call-outs alike (NativeContext::apply), so that both
  // compute them the same.
  Word call_op(Op op, const Word* a) {
    switch (op) {
      case Op::SetSize: return from_int(static_cast<int64_t>(e.lattices_.set_size(a[0])));
      case Op::SetContains: return from_bool(e.lattices_.set_contains(a[0], a[1]));
      case Op::SetIntersect: return e.lattices_.set_intersect(a[0], a[1]);
      case Op::MapKeys: return e.lattices_.map_keys(a[0]);
      case Op::MapSize: return from_int(static_cast<int64_t>(e.lattices_.map_size(a[0])));
      case Op::Members: return e.members_;
      case Op::Concat: return e.symbols_.intern(str(a[0]) + str(a[1]));
      case Op::LtS: return from_bool(cmp_str(a[0], a[1]) < 0);
      case Op::LeS: return from_bool(cmp_str(a[0], a[1]) <= 0);
      case Op::GtS: return from_bool(cmp_str(a[0], a[1]) > 0);
      case Op::GeS: return from_bool(cmp_str(a[0], a[1]) >= 0);
      case Op::ToStrI: return e.symbols_.intern(std::to_string(as_int(a[0])));
      case Op::ToStrF: return e.symbols_.intern(float_text(as_float(a[0])));
      case Op::ToStrB: return e.symbols_.intern(a[0] ? "true" : "false");
      case Op::ToIntS: {
        const std::string& s = str(a[0]);
        int64_t v = 0;
        auto r = std::from_chars(s.data(), s.data() + s.size(), v);
        if (r.ec != std::errc() || r.ptr != s.data() + s.size()) fail("to_int: \"" + s + "\" is not an integer");
        return from_int(v);
      }
      case Op::Len: return from_int(static_cast<int64_t>(str(a[0]).size()));
      case Op::Find: {
        size_t at = str(a[0]).find(str(a[1]));
        return from_int(at == std::string::npos ? -1 : static_cast<int64_t>(at));
      }
      case Op::Substr: {
        const std::string& s = str(a[0]);
        int64_t i = as_int(a[1]), n = as_int(a[2]);
        if (i < 0) i = 0;
        if (n < 0) n = 0;
        if (static_cast<uint64_t>(i) >= s.size()) return e.symbols_.intern("");
        return e.symbols_.intern(s.substr(static_cast<size_t>(i), static_cast<size_t>(n)));
      }
      case Op::Hash: return from_int(static_cast<int64_t>(fnv1a(str(a[0])) & 0x7fffffffffffffffULL));  // of a string or addr
      case Op::LeastS: return cmp_str(a[0], a[1]) <= 0 ? a[0] : a[1];
      case Op::GreatestS: return cmp_str(a[0], a[1]) >= 0 ? a[0] : a[1];
      case Op::Self: return e.self_;
      case Op::Tick: return from_int(e.tick_);
      case Op::Now: return from_int(e.now_ms_);
      default: fail(std::string("internal: ") + plan::to_string(op) + " is not a call op");
    }
  }

  Word eval(const CExpr& x, const Word* f) {
    switch (x.op) {
      case Op::Const: return x.constant;
      case Op::Reg: return f[x.reg];
      default: break;
    }
    // Operands are evaluated left to right, so when two of them fail the first one's error is the
    // one reported, under the JIT too (CExpr::lazy: and, or, if only as far as they need).
    Word operand[3] = {0, 0, 0};
    if (!x.lazy)
      for (size_t i = 0; i < x.args.size() && i < 3; ++i) operand[i] = eval(x.args[i], f);
    auto a = [&](size_t i) { return x.lazy ? eval(x.args[i], f) : operand[i]; };
    switch (x.op) {
      case Op::AddI: return from_int(static_cast<int64_t>(static_cast<uint64_t>(as_int(a(0))) + static_cast<uint64_t>(as_int(a(1)))));
      case Op::SubI: return from_int(static_cast<int64_t>(static_cast<uint64_t>(as_int(a(0))) - static_cast<uint64_t>(as_int(a(1)))));
      case Op::MulI: return from_int(static_cast<int64_t>(static_cast<uint64_t>(as_int(a(0))) * static_cast<uint64_t>(as_int(a(1)))));
      case Op::DivI:
      case Op::ModI: {
        int64_t l = as_int(a(0)), r = as_int(a(1));
        if (r == 0) fail(x.op == Op::DivI ? "division by zero" : "modulo by zero");
        if (r == -1) return from_int(x.op == Op::DivI ? static_cast<int64_t>(0 - static_cast<uint64_t>(l)) : 0);
        return from_int(x.op == Op::DivI ? l / r : l % r);
      }
      case Op::NegI: return from_int(static_cast<int64_t>(0 - static_cast<uint64_t>(as_int(a(0)))));
      case Op::AddF: return float_result(as_float(a(0)) + as_float(a(1)));
      case Op::SubF: return float_result(as_float(a(0)) - as_float(a(1)));
      case Op::MulF: return float_result(as_float(a(0)) * as_float(a(1)));
      case Op::DivF: return float_result(as_float(a(0)) / as_float(a(1)));
      case Op::ModF: return float_result(std::fmod(as_float(a(0)), as_float(a(1))));
      case Op::NegF: return float_result(-as_float(a(0)));
      case Op::IntToFloat: return from_float(static_cast<double>(as_int(a(0))));
      case Op::Eq: return from_bool(a(0) == a(1));
      case Op::Ne: return from_bool(a(0) != a(1));
      case Op::EqF: return from_bool(as_float(a(0)) == as_float(a(1)));
      case Op::NeF: return from_bool(as_float(a(0)) != as_float(a(1)));
      case Op::LtI: return from_bool(as_int(a(0)) < as_int(a(1)));
      case Op::LeI: return from_bool(as_int(a(0)) <= as_int(a(1)));
      case Op::GtI: return from_bool(as_int(a(0)) > as_int(a(1)));
      case Op::GeI: return from_bool(as_int(a(0)) >= as_int(a(1)));
      case Op::LtF: return from_bool(as_float(a(0)) < as_float(a(1)));
      case Op::LeF: return from_bool(as_float(a(0)) <= as_float(a(1)));
      case Op::GtF: return from_bool(as_float(a(0)) > as_float(a(1)));
      case Op::GeF: return from_bool(as_float(a(0)) >= as_float(a(1)));
      case Op::And:
      case Op::LBoolAnd: return from_bool(a(0) && a(1));
      case Op::Or:
      case Op::LBoolOr: return from_bool(a(0) || a(1));
      case Op::Not: return from_bool(!a(0));
      case Op::If: return a(0) ? a(1) : a(2);
      case Op::ToStrS: return a(0);
      case Op::ToIntF: {
        double d = as_float(a(0));
        if (!(d >= -9.2233720368547758e18 && d < 9.2233720368547758e18)) fail("to_int: " + float_text(d) + " does not fit in an int");
        return from_int(static_cast<int64_t>(d));
      }
      case Op::Hash: {
        if (x.args[0].type->is_symbol()) return call_op(x.op, operand);
        return from_int(static_cast<int64_t>(mix(a(0)) & 0x7fffffffffffffffULL));
      }
      case Op::LeastI: return from_int(std::min(as_int(a(0)), as_int(a(1))));
      case Op::GreatestI: return from_int(std::max(as_int(a(0)), as_int(a(1))));
      case Op::LeastF: return from_float(std::min(as_float(a(0)), as_float(a(1))));
      case Op::GreatestF: return from_float(std::max(as_float(a(0)), as_float(a(1))));
      case Op::Lift:
      case Op::LatAdd:
      case Op::SetUnion:
      case Op::MapAt:
      case Op::MapOf:
      case Op::LatCovers: return typed_op(x.op, *x.type, *x.args[0].type, static_cast<uint32_t>(x.args.size()), operand);
      case Op::Reveal: {  // every lattice's revealed value is its word; an lmax/lmin's bottom is none
        Word v = a(0);
        const ValueType& t = *x.args[0].type;
        if ((t.kind == TypeKind::LMax || t.kind == TypeKind::LMin) && e.lattices_.is_bottom(t, v)) throw NoValue{};
        return v;
      }
      case Op::LatWord: return a(0);
      case Op::LatThreshold:
      case Op::LatCompare: fail("internal: a lattice comparison was not lowered");
      case Op::SetOf: {
        std::vector<Word> elements;
        elements.reserve(x.args.size());
        for (const auto& arg : x.args) elements.push_back(eval(arg, f));
        return e.lattices_.set_of(std::move(elements));
      }
      default:
        if (is_call_op(x.op)) return call_op(x.op, operand);
        fail(std::string("internal: unknown opcode ") + plan::to_string(x.op));
    }
  }

  // ------------------------------------------------------------------ pipelines
  RowId range_begin(Version v, uint32_t rel) const { return v == Version::Delta ? delta_begin[rel] : 0; }
  RowId range_end(Version v, uint32_t rel) const { return v == Version::Old ? delta_begin[rel] : full_end[rel]; }

  // The step's key values for frame `f`; false when one has no value (the frame matches nothing).
  bool step_key(const CStep& s, const Word* f, Word* key) {
    for (size_t j = 0; j < s.key.size(); ++j) {
      if (s.key_regs[j] >= 0) key[j] = f[s.key_regs[j]];
      else if (!value_of(s.key[j], f, key[j])) return false;
    }
    return true;
  }

  // Calls fn(row) for each row whose index columns equal `key` (the key index yields at most
  // the one live row).
  template <class F>
  static void for_each_row_of_key(const CStep& s, const Relation& rel, const Word* key, F&& fn) {
    if (s.index == plan::kKeyIndex) {
      RowId row = rel.find_key(key);
      if (row != kNoRow) fn(row);
    } else {
      rel.for_each_match(static_cast<uint32_t>(s.index), key, fn);
    }
  }
  // The same for the step's key for frame `f`. False when the key has no value.
  template <class F>
  bool for_each_key_match(const CStep& s, const Relation& rel, const Word* f, Word* key, F&& fn) {
    if (!step_key(s, f, key)) return false;
    for_each_row_of_key(s, rel, key, fn);
    return true;
  }

  // Whether an AntiJoin lets a frame with these key values go on. Full: no matching row. Across
  // ticks (a kept scratch's retracting variants), Old: no matching row older than the delta
  // (old_end); Delta: a matching row in the delta and none older.
  static bool no_match(const Relation& rel, const CStep& s, RowId old_end, const Word* key) {
    // The whole row as key against a relation indexed by value (storage/relation.h): asking
    // whether it is there keeps the index by value, where finding its row would not.
    if (s.version == Version::Full && s.index == plan::kKeyIndex && rel.indexed_by_value()) return !rel.contains(key);
    bool old_match = false, new_match = false;
    for_each_row_of_key(s, rel, key, [&](RowId row) {
      if (rel.alive(row)) (row < old_end ? old_match : new_match) = true;
    });
    return !old_match && (s.version != Version::Delta || new_match);
  }

  // Copies a frame of R registers: a copy of constant size for the usual small frames (a few
  // vector moves instead of a loop of unknown length), chosen by a branch that always goes the
  // same way within a rule.
  template <size_t N>
  static void copy_fixed(const Word* from, Word* to) {
    Word tmp[N];
    std::memcpy(tmp, from, sizeof tmp);
    std::memcpy(to, tmp, sizeof tmp);
  }
  static void copy_frame(const Word* from, size_t n, Word* to) {
    switch (n) {
      case 1: return copy_fixed<1>(from, to);
      case 2: return copy_fixed<2>(from, to);
      case 3: return copy_fixed<3>(from, to);
      case 4: return copy_fixed<4>(from, to);
      case 5: return copy_fixed<5>(from, to);
      case 6: return copy_fixed<6>(from, to);
      case 7: return copy_fixed<7>(from, to);
      case 8: return copy_fixed<8>(from, to);
      default: copy_words(from, n, to);
    }
  }

  void exec(CompiledRule& r, size_t k, const Word* frames, size_t n) {
    // Native code runs a segment unless provenance is recorded (on_derive sees every frame).
    if (!r.segment_at.empty() && r.segment_at[k] >= 0 && !e.on_derive && run_native(r, r.segments[r.segment_at[k]], frames, n)) return;
    if (k == r.steps.size()) {
      head(r, frames, n);
      return;
    }
    const CStep& s = r.steps[k];
    const uint32_t R = r.registers;
    Word* out = r.batches[k].get();
    size_t m = 0;
    auto emit = [&](const Word* f) -> Word* {
      Word* o = out + m * R;
      copy_frame(f, R, o);
      ++m;
      return o;
    };
    auto flush_if_full = [&] {
      if (m == kBatch) {
        exec(r, k + 1, out, m);
        m = 0;
      }
    };
    // A match of a scan or lookup: a frame for the next step, or a head row (direct_head).
    const bool direct = k + 1 == r.steps.size() && !r.direct_head.empty() && !e.on_derive;
    const size_t A = r.direct_head.size();
    Word* head_rows = r.rows.get();
    auto emit_match = [&](const Word* f, Relation::RowRef t) {
      if (direct) {
        Word* o = head_rows + m * A;
        for (size_t c = 0; c < A; ++c) o[c] = r.direct_head[c].from_row ? t[r.direct_head[c].index] : f[r.direct_head[c].index];
        if (++m == kBatch) {
          insert_rows(r, head_rows, m);
          m = 0;
        }
        return;
      }
      Word* o = emit(f);
      for (auto [c, reg] : s.bind) o[reg] = t[c];
      flush_if_full();
    };
    switch (s.kind) {
      case StepKind::Scan: {
        const Relation& rel = *e.relations_[s.relation];
        RowId b = range_begin(s.version, s.relation), end = range_end(s.version, s.relation);
        bool dead = rel.has_dead_rows();
        for (size_t i = 0; i < n; ++i) {
          const Word* f = frames + i * R;
          for (RowId row = b; row < end; ++row) {
            if (dead && !rel.alive(row)) continue;
            Relation::RowRef t = rel.row(row);
            bool same = true;
            for (auto [c, c2] : s.equal) same &= t[c] == t[c2];
            if (!same) continue;
            emit_match(f, t);
          }
        }
        break;
      }
      case StepKind::Lookup: {
        const Relation& rel = *e.relations_[s.relation];
        RowId b = range_begin(s.version, s.relation), end = range_end(s.version, s.relation);
        SmallWords key(s.key.size()), last_key(s.key.size());
        const size_t K = s.key.size();
        auto visit = [&](const Word* f, RowId row) {
          if (row < b || row >= end || !rel.alive(row)) return;
          Relation::RowRef t = rel.row(row);
          for (auto [c, c2] : s.equal)
            if (t[c] != t[c2]) return;
          emit_match(f, t);
        };
        if (s.index == plan::kKeyIndex) {
          for (size_t i = 0; i < n; ++i) {
            const Word* f = frames + i * R;
            for_each_key_match(s, rel, f, key.data(), [&](RowId row) { visit(f, row); });
          }
          break;
        }
        // Consecutive frames often look up the same key (the inner side of a nested join sees
        // each outer match in turn): the chain found for the previous key is used again.
        const uint32_t index = static_cast<uint32_t>(s.index);
        RowId first = kNoRow;
        bool have_last = false;
        if (K == 1 && s.key_regs[0] >= 0) {  // the usual case: one key, a register
          const uint32_t reg = static_cast<uint32_t>(s.key_regs[0]);
          Word last = 0;
          for (size_t i = 0; i < n; ++i) {
            const Word* f = frames + i * R;
            if (!have_last || f[reg] != last) {
              last = f[reg];
              first = rel.first_match(index, &last);
              have_last = true;
            }
            for (RowId row = first; row != kNoRow; row = rel.next_match(index, row)) visit(f, row);
          }
          break;
        }
        for (size_t i = 0; i < n; ++i) {
          const Word* f = frames + i * R;
          if (!step_key(s, f, key.data())) continue;
          if (!have_last || !equal_words(key.data(), last_key.data(), K)) {
            first = rel.first_match(index, key.data());
            copy_words(key.data(), K, last_key.data());
            have_last = true;
          }
          for (RowId row = first; row != kNoRow; row = rel.next_match(index, row)) visit(f, row);
        }
        break;
      }
      case StepKind::AntiJoin: {
        const Relation& rel = *e.relations_[s.relation];
        SmallWords key(s.key.size());
        const RowId old_end = s.version == Version::Full ? kNoRow : delta_begin[s.relation];
        for (size_t i = 0; i < n; ++i) {
          const Word* f = frames + i * R;
          // `not p(x.value())` of a bottom x: no match, as for any literal.
          if (!step_key(s, f, key.data()) || !no_match(rel, s, old_end, key.data())) continue;
          emit(f);
          flush_if_full();
        }
        break;
      }
      case StepKind::Filter:
        for (size_t i = 0; i < n; ++i) {
          const Word* f = frames + i * R;
          Word holds;
          if (!value_of(s.expr, f, holds) || !holds) continue;
          emit(f);
          flush_if_full();
        }
        break;
      case StepKind::Assign:
        for (size_t i = 0; i < n; ++i) {
          const Word* f = frames + i * R;
          Word v;
          if (!value_of(s.expr, f, v)) continue;
          emit(f)[s.target] = v;
          flush_if_full();
        }
        break;
      case StepKind::InSet:
        for (size_t i = 0; i < n; ++i) {
          const Word* f = frames + i * R;
          Word set;
          if (!value_of(s.expr, f, set)) continue;
          // Interned sets never move (a deque of them), so the span stays valid while the
          // rest of the pipeline interns new ones.
          for (Word v : e.lattices_.set_elements(set)) {
            emit(f)[s.target] = v;
            flush_if_full();
          }
        }
        break;
    }
    if (m && direct) insert_rows(r, head_rows, m);
    else if (m) exec(r, k + 1, out, m);
  }

  void head(CompiledRule& r, const Word* frames, size_t n) {
    const uint32_t R = r.registers;
    if (r.aggregates) {
      if (r.distinct_matches) {
        fold_frames(r, *r.fold_into, r.fold_touched, frames, n);
      } else {
        for (size_t i = 0; i < n; ++i) r.frames->insert(frames + i * R);
      }
      return;
    }
    const size_t A = r.head.size();
    Word* rows = r.rows.get();
    size_t kept_rows = 0;  // frames whose head values all exist
    for (size_t i = 0; i < n; ++i) {
      const Word* f = frames + i * R;
      Word* row = rows + kept_rows * A;
      bool ok = true;
      for (size_t c = 0; c < A && ok; ++c) {
        if (r.head_regs[c] >= 0) row[c] = f[r.head_regs[c]];
        else ok = value_of(r.head[c], f, row[c]);
      }
      if (!ok) continue;
      if (e.on_derive) e.on_derive(*r.plan, row, f);
      ++kept_rows;
    }
    n = kept_rows;
    if (r.plan->op == plan::HeadOp::Insert) {
      insert_rows(r, rows, n);
      return;
    }
    for (size_t i = 0; i < n; ++i) emit_row(r, rows + i * A);
  }

  // Inserts n head rows (arity words each) into the rule's head relation.
  void insert_rows(CompiledRule& r, const Word* rows, size_t n) {
    if (r.weight) return count_rows(r, rows, n);
    // The key index probes miss the cache once it is big: the hashes come first, so that the
    // probes of many rows can be started together (Relation::insert_grouped), or, for a big
    // relation, the rows wait to be inserted as one batch probed in hash order (flush_pending).
    const size_t A = r.head.size();
    Relation& rel = *e.relations_[r.plan->head];
    uint32_t hashes[kBatch];
    for (size_t i = 0; i < n; ++i) hashes[i] = rel.key_hash(rows + i * A);
    const size_t batch = rel.batch_rows();
    if (batch || !r.pending.empty()) {  // rows pending from before go first, in order
      rel.stage(r.pending, rows, hashes, n);
      if (r.pending.size() >= batch) flush_pending(r);
      return;
    }
    rel.insert_grouped(rows, hashes, n, [&](const Word* row, Relation::InsertResult res) { inserted(r, rel, row, res); });
  }

  void flush_pending(CompiledRule& r) {
    if (r.pending.empty()) return;
    Relation& rel = *e.relations_[r.plan->head];
    rel.insert_pending(r.pending, [&](Relation::InsertResult res, const Word* row) { inserted(r, rel, row, res); });
  }

  void inserted(CompiledRule& r, const Relation& rel, const Word* row, Relation::InsertResult res) {
    if (res.outcome == Relation::Outcome::Conflict) key_violation(rel, row, res.row, r.plan->where, "the rule `" + r.plan->text + "`");
    if (res.outcome == Relation::Outcome::Added || res.outcome == Relation::Outcome::Merged) {
      if (++e.progress_.derived >= next_progress && e.on_progress) {
        next_progress = e.progress_.derived + (1 << 16);
        e.on_progress(e.progress_);
      }
    }
  }

  void emit_row(CompiledRule& r, const Word* row) {
    switch (r.plan->op) {
      case plan::HeadOp::Insert: {
        Relation& rel = *e.relations_[r.plan->head];
        inserted(r, rel, row, rel.insert(row));
        break;
      }
      case plan::HeadOp::Send: sink->send(r.plan->head, row, *r.plan); break;
      default: sink->deferred(r.plan->op, r.plan->head, row, *r.plan); break;
    }
  }

  [[noreturn]] void key_violation(const Relation& rel, const Word* row, RowId existing, const std::string& where, const std::string& by) {
    const plan::Relation& d = rel.decl();
    std::string key;
    for (size_t i = 0; i < d.key.size(); ++i)
      key += (i ? ", " : "") + d.column_names[d.key[i]] + " = " + e.format(d.column_types[d.key[i]], row[d.key[i]], true);
    std::vector<Word> have(d.arity() + 1);
    rel.read(existing, have.data());
    throw RuntimeError(
        fmt::format("{}{}key violation in table `{}`: key ({}) already holds {}, and {} inserts {}; nothing of tick {} is applied", where,
                    where.empty() ? "" : ": ", d.name, key, e.format_row(d, have.data(), true), by, e.format_row(d, row, true), e.tick_),
        true);
  }

  // Aggregates: group the distinct matches by the head's plain columns. A rule that runs
  // incrementally across ticks keeps its groups (CompiledRule::groups): its variants fold in the
  // matches new in a tick, and only the groups they touched are derived again.
  void finish_aggregates(CompiledRule& r, AggregateGroups& g) {
    if (r.collect_only) return;  // a variant: the rule folds its matches (run_rule_in_tick)
    fold_matches(r, g, nullptr);
    emit_groups(r, g, g.order);
  }

  // Folds the matches `src` collected into `g`; the keys of the groups it changed go to
  // `touched` (in the order first touched) when given. A rule with distinct matches folded
  // them as they came (fold_frame from head).
  void fold_matches(CompiledRule& src, AggregateGroups& g, std::vector<std::vector<Word>>* touched) {
    Relation& frames = *src.frames;
    const uint32_t R = src.registers;
    std::vector<Word> batch(kBatch * R);
    size_t n = 0;
    for (RowId fr = 0; fr < frames.end(); ++fr) {
      frames.read(fr, batch.data() + n * R);
      if (++n == kBatch) {
        fold_frames(src, g, touched, batch.data(), n);
        n = 0;
      }
    }
    if (n) fold_frames(src, g, touched, batch.data(), n);
    frames.clear();
  }

  // Folds n matches (frames) of rule `src` into `g`: their columns computed by the rule's fold
  // segment when it has native code, else interpreted match by match (which also raises the
  // interpreter's error when the native code reports one).
  void fold_frames(CompiledRule& src, AggregateGroups& g, std::vector<std::vector<Word>>* touched, const Word* frames, size_t n) {
    const uint32_t R = src.registers;
    if (src.fold_segment >= 0 && !e.on_derive) {
      CompiledRule::Segment& s = src.segments[src.fold_segment];
      if (SegmentFn fn = native_fn(src, s, n)) {
        Word* out = src.rows.get();
        uint64_t m = 0;
        const int32_t status = fn(frames, n, out, &m, context_of(src, s));
        if (status == kStatusFlushFailed) std::rethrow_exception(s.flush.error);
        if (status == 0) {
          assert(m == n);
          const auto& cols = src.plan->columns;
          const size_t A = s.spec.head_columns.size();
          std::vector<Word>& keys = src.fold_keys;  // per column: its tie group's key, if it leads one
          keys.resize(cols.size());
          std::vector<size_t> leads;  // the columns that lead a tie group, whose keys follow the columns
          for (size_t c = 0; c < cols.size(); ++c)
            if (leads_tie_group(cols, c)) leads.push_back(c);
          for (size_t i = 0; i < m; ++i) {
            const Word* row = out + i * A;
            for (size_t k = 0; k < leads.size(); ++k) keys[leads[k]] = row[cols.size() + k];
            fold_values(src, g, touched, row, keys.data());
          }
          return;
        }
      }
    }
    for (size_t i = 0; i < n; ++i) fold_frame(src, g, touched, frames + i * R);
  }

  // Folds one match (the frame f) of rule `src` into `g`.
  void fold_frame(CompiledRule& src, AggregateGroups& g, std::vector<std::vector<Word>>* touched, const Word* f) {
    const auto& cols = src.plan->columns;
    // Per column, the match's value (count: unused) and, for argmax/argmin, its key.
    std::vector<Word>& vals = src.fold_vals;
    std::vector<Word>& keys = src.fold_keys;
    vals.resize(cols.size());
    keys.resize(cols.size());
    bool ok = true;  // a value that reveals a bottom lmax/lmin: the match counts in no group
    for (size_t c = 0; c < cols.size() && ok; ++c) {
      const auto& col = cols[c];
      if (col.agg == plan::AggKind::Count) continue;
      ok = value_of(src.head[c], f, vals[c]);
      if (ok && leads_tie_group(cols, c)) ok = value_of(src.head_keys[c], f, keys[c]);
    }
    if (ok) fold_values(src, g, touched, vals.data(), keys.data());
  }

  // Folds one match, given its columns' values (count's unused) and its argmax/argmin keys.
  void fold_values(CompiledRule& src, AggregateGroups& g, std::vector<std::vector<Word>>* touched, const Word* vals, const Word* keys) {
    const auto& cols = src.plan->columns;
    std::vector<Word>& key = src.fold_key;
    key.clear();
    for (size_t c = 0; c < cols.size(); ++c)
      if (cols[c].agg == plan::AggKind::None) key.push_back(vals[c]);
    auto [it, fresh] = g.acc.try_emplace(key);
    AggregateGroup& acc = it->second;
    if (fresh) {
      g.order.push_back(key);
      acc.value.assign(cols.size(), 0);
      acc.best.assign(cols.size(), 0);
      acc.fsum.assign(cols.size(), 0);
      acc.collected.resize(cols.size());
      acc.seen.assign(cols.size(), false);
    }
    if (touched && acc.touched_tick != e.tick_) {
      acc.touched_tick = e.tick_;
      touched->push_back(key);
    }
    ++acc.count;
    for (size_t c = 0; c < cols.size(); ++c) {
      const auto& col = cols[c];
      if (col.agg == plan::AggKind::None || col.agg == plan::AggKind::Count) continue;
      Word v = vals[c];
      const ValueType& t = col.value.type;
      bool fl = t.kind == TypeKind::Float;
      switch (col.agg) {
        case plan::AggKind::Sum:
          if (fl) acc.fsum[c] += as_float(v);
          else
            acc.value[c] = from_int(static_cast<int64_t>(static_cast<uint64_t>(as_int(acc.value[c])) + static_cast<uint64_t>(as_int(v))));
          break;
        case plan::AggKind::Avg: acc.fsum[c] += fl ? as_float(v) : static_cast<double>(as_int(v)); break;
        case plan::AggKind::Min:
        case plan::AggKind::Max: {
          int cmp = acc.seen[c] ? e.lattices_.compare(t, v, acc.value[c]) : 0;
          if (!acc.seen[c] || (col.agg == plan::AggKind::Min ? cmp < 0 : cmp > 0)) acc.value[c] = v;
          acc.seen[c] = true;
          break;
        }
        case plan::AggKind::Collect: acc.collected[c].push_back(v); break;
        case plan::AggKind::ArgMax:
        case plan::AggKind::ArgMin:
          assert(keys);  // argmax and argmin are folded with their keys
          if (col.tie == c) fold_arg(cols, acc, c, keys[c], vals);
          break;
        default: break;
      }
    }
  }

  // argmax/argmin: the match (key `k`, payloads `vals`) wins the tie group led by column `lead`
  // if its key is better, or equal with payloads that are less in column order. That is a total
  // order, so the winner is one however the matches were batched or ordered (docs/language.md).
  void fold_arg(const std::vector<plan::HeadColumn>& cols, AggregateGroup& acc, size_t lead, Word k, const Word* vals) {
    const auto& col = cols[lead];
    auto member = [&](size_t m) { return cols[m].agg == col.agg && cols[m].tie == lead; };
    int cmp = 1;  // the group's first match wins
    if (acc.seen[lead]) cmp = e.lattices_.compare(col.key.type, k, acc.best[lead]) * (col.agg == plan::AggKind::ArgMin ? -1 : 1);
    for (size_t m = lead; cmp == 0 && m < cols.size(); ++m)
      if (member(m)) cmp = -e.lattices_.compare(cols[m].value.type, vals[m], acc.value[m]);
    if (cmp <= 0) return;
    acc.best[lead] = k;
    acc.seen[lead] = true;
    for (size_t m = lead; m < cols.size(); ++m)
      if (member(m)) acc.value[m] = vals[m];
  }

  // Derives the head rows of the groups `keys` of `g`.
  void emit_groups(CompiledRule& r, AggregateGroups& g, const std::vector<std::vector<Word>>& keys) {
    const auto& cols = r.plan->columns;
    std::vector<Word> row(cols.size());
    for (const auto& k : keys) {
      AggregateGroup& acc = g.acc[k];
      size_t ki = 0;
      for (size_t c = 0; c < cols.size(); ++c) {
        const auto& col = cols[c];
        Word v = 0;
        ValueType natural = col.value.type;
        switch (col.agg) {
          case plan::AggKind::None:
            v = k[ki++];
            natural = col.result;
            break;
          case plan::AggKind::Count:
            v = from_int(acc.count);
            natural = ValueType{TypeKind::Int, {}};
            break;
          case plan::AggKind::Sum: v = natural.kind == TypeKind::Float ? from_float(acc.fsum[c]) : acc.value[c]; break;
          case plan::AggKind::Avg:
            v = from_float(acc.fsum[c] / static_cast<double>(acc.count));
            natural = ValueType{TypeKind::Float, {}};
            break;
          case plan::AggKind::Min:
          case plan::AggKind::Max:
          case plan::AggKind::ArgMax:
          case plan::AggKind::ArgMin: v = acc.value[c]; break;
          case plan::AggKind::Collect:
            // A kept group's elements stay for the next tick's (the set is interned anew).
            v = e.lattices_.set_of(r.groups ? acc.collected[c] : std::move(acc.collected[c]));
            natural = ValueType{TypeKind::LSet, {col.value.type}};
            break;
        }
        row[c] = convert(v, natural, col.result);
      }
      if (e.on_derive) e.on_derive(*r.plan, row.data(), nullptr);
      emit_row(r, row.data());
    }
  }

  Word convert(Word v, const ValueType& from, const ValueType& to) {
    if (from == to) return v;
    if (to.is_lattice() && !from.is_lattice()) {
      const ValueType& elem = to.args.empty() ? to : to.args[0];
      if (elem.kind == TypeKind::Float && from.kind == TypeKind::Int) v = from_float(static_cast<double>(as_int(v)));
      return e.lattices_.lift(to, v);
    }
    if (to.kind == TypeKind::Float && from.kind == TypeKind::Int) return from_float(static_cast<double>(as_int(v)));
    return v;
  }

  void run_rule(CompiledRule& r) {
    if (!r.rows) allocate_buffers(r);
    in_rule(r, [&] {
      SmallWords frame(r.registers);
      std::fill_n(frame.data(), r.registers, Word{0});
      r.pending.clear();
      // An aggregate rule run as a whole starts from no groups (or its kept ones, emptied); a
      // variant (collect_only) was given its rule's groups.
      AggregateGroups local;
      AggregateGroups* groups = r.fold_into;
      if (r.aggregates && !r.collect_only) {
        groups = r.groups && !force_full ? r.groups.get() : &local;
        *groups = AggregateGroups{};
        r.fold_into = groups;
        r.fold_touched = nullptr;
      }
      exec(r, 0, frame.data(), 1);
      flush_pending(r);
      if (r.aggregates && !r.collect_only) {
        r.fold_into = nullptr;
        finish_aggregates(r, *groups);
      }
    });
  }

  // Runs fn, putting rule r's place and text before an evaluation error that has none.
  template <class F>
  void in_rule(CompiledRule& r, F&& fn) {
    try {
      fn();
    } catch (const RuntimeError& err) {
      if (err.located) throw;
      throw RuntimeError(fmt::format("{}: in rule `{}`: {}", r.plan->where, r.plan->text, err.what()), true);
    }
  }

  // The key of a partition, as source would write it: `round = 3` or `(a = 1, b = "x")`.
  std::string key_text(const plan::Relation& r, const std::vector<uint32_t>& cols, const std::vector<Word>& key) const {
    std::string out;
    for (size_t i = 0; i < cols.size(); ++i)
      out += (i ? ", " : "") + r.column_names[cols[i]] + " = " + e.format(r.column_types[cols[i]], key[i], true);
    return cols.size() == 1 ? out : "(" + out + ")";
  }

  // Moves the sealed relation's rows into the buffer and releases every partition that its seal
  // says is complete into the view (docs/language.md, seals). Running it again in the same tick
  // changes nothing (BLOOM_CHECK_INCREMENTAL runs the fixpoint twice).
  void release(SealState& s) {
    const plan::Seal& p = *s.plan;
    const plan::Relation& sr = e.plan_.relations[p.sealed];
    const plan::Relation& pr = e.plan_.relations[p.punct];
    Relation& sealed = *e.relations_[p.sealed];
    Relation& punct = *e.relations_[p.punct];
    Relation& view = *e.relations_[p.view];
    Relation& released = *e.relations_[p.released];
    auto fail = [&](const std::string& what) { throw RuntimeError(fmt::format("{}: in `{}`: {}", p.where, p.text, what), true); };
    std::vector<Word> row(sealed.arity()), key(p.key.size());
    RowId from = sealed.generation() == s.sealed_generation ? std::min(s.sealed_end, sealed.end()) : 0;
    for (RowId r = from; r < sealed.end(); ++r) {
      if (!sealed.alive(r)) continue;
      sealed.read(r, row.data());
      for (size_t i = 0; i < p.key.size(); ++i) key[i] = row[p.key[i]];
      if (s.released.count(key)) {
        if (!view.contains(row.data()))
          fail(fmt::format("{} arrived after partition {} of `{}` was complete and released (`{}` sealed it with count {}): a late tuple",
                           e.format_row(sr, row.data(), true), key_text(sr, p.key, key), sr.name, pr.name, s.counts[key]));
        continue;
      }
      s.pending[key].insert(row);
    }
    s.sealed_end = sealed.end();
    s.sealed_generation = sealed.generation();
    std::vector<Word> prow(punct.arity()), pkey(p.punct_key.size());
    from = punct.generation() == s.punct_generation ? std::min(s.punct_end, punct.end()) : 0;
    for (RowId r = from; r < punct.end(); ++r) {
      if (!punct.alive(r)) continue;
      punct.read(r, prow.data());
      for (size_t i = 0; i < p.punct_key.size(); ++i) pkey[i] = prow[p.punct_key[i]];
      const auto n = static_cast<int64_t>(prow[p.count]);
      if (n < 0)
        fail(fmt::format("{} seals partition {} of `{}` with a negative count", e.format_row(pr, prow.data(), true),
                         key_text(sr, p.key, pkey), sr.name));
      auto [it, added] = s.counts.emplace(pkey, n);
      if (!added && it->second != n)
        fail(fmt::format("partition {} of `{}` is sealed with two counts: {} and {} ({})", key_text(sr, p.key, pkey), sr.name, it->second,
                         n, e.format_row(pr, prow.data(), true)));
      if (added) {
        s.waiting.insert(pkey);
        if (e.on_release) s.seal_rows.emplace(pkey, prow);
      }
    }
    s.punct_end = punct.end();
    s.punct_generation = punct.generation();
    for (auto w = s.waiting.begin(); w != s.waiting.end();) {
      const std::vector<Word>& k = *w;
      const int64_t n = s.counts.at(k);
      auto it = s.pending.find(k);
      size_t have = it == s.pending.end() ? 0 : it->second.size();
      if (have > static_cast<uint64_t>(n))
        fail(fmt::format("partition {} of `{}` holds {} distinct tuples but `{}` sealed it with count {}", key_text(sr, p.key, k), sr.name,
                         have, pr.name, n));
      if (have < static_cast<uint64_t>(n)) {
        ++w;
        continue;
      }
      if (it != s.pending.end()) {
        for (const auto& v : it->second) {
          if (e.on_release) {
            auto seal_row = s.seal_rows.find(k);
            e.on_release(p, v.data(), seal_row == s.seal_rows.end() ? nullptr : seal_row->second.data());
          }
          view.insert(v.data());
        }
        s.pending.erase(it);
      }
      s.released.insert(k);
      released.insert(k.data());
      w = s.waiting.erase(w);
    }
  }

  void fixpoint() {
    for (size_t st = 0; st < strata.size(); ++st) {
      e.progress_.stratum = static_cast<uint32_t>(st);
      for (auto& s : seals[st]) release(s);
      for (auto& g : strata[st]) {
        e.progress_.iteration = 0;
        set_all_full();
        for (auto& r : g.rules) {
          if (r->kept >= 0) maintain(kept[r->kept], *r);
          else run_rule_in_tick(*r);
        }
        if (!g.group->recursive) continue;
        for (;;) {
          bool grew = false;
          for (uint32_t rel : g.group->relations) {
            delta_begin[rel] = full_end[rel];
            full_end[rel] = e.relations_[rel]->end();
            grew |= full_end[rel] > delta_begin[rel];
          }
          if (!grew) break;
          ++e.progress_.iteration;
          for (auto& r : g.deltas) run_rule(*r);
        }
      }
    }
  }

  // The transition rules (all, or only the incremental ones) over the final state of the tick,
  // into `s`. They only queue and send, so the ranges are set once for all of them.
  void transitions_into(TransitionSink& s, bool only_incremental = false) {
    sink = &s;
    set_all_full();
    try {
      for (auto& r : transitions)
        if (!only_incremental || r->incremental) run_rule_in_tick(*r);
    } catch (...) {
      sink = nullptr;
      throw;
    }
    sink = nullptr;
  }

  void set_all_full() {
    for (size_t i = 0; i < e.relations_.size(); ++i) {
      full_end[i] = e.relations_[i]->end();
      delta_begin[i] = full_end[i];
    }
  }
};

bool Engine::evaluate(const plan::Expr& e, const Word* frame, Word& out) {
  CExpr c = impl_->compile(e);
  return impl_->value_of(c, frame, out);
}

Engine::Engine(const plan::Program& plan, SymbolTable& symbols, Lattices& lattices, NativeCode* native)
    : plan_(plan), symbols_(symbols), lattices_(lattices), native_(native), impl_(std::make_unique<Impl>(*this)) {
#ifdef BLOOM_VERIFY_PLANS
  // Debug and sanitizer builds check the contract again where a plan is loaded: a plan that
  // breaks it is a bug of whoever made it (plan/verify.h), stopped here before it runs.
  if (auto problems = plan::verify(plan); !problems.empty()) {
    for (const auto& p : problems) std::fprintf(stderr, "bloom: internal error: plan::verify: %s\n", p.c_str());
    std::abort();
  }
#endif
  for (const auto& r : plan.relations) relations_.push_back(std::make_unique<Relation>(r, lattices));
  impl_->full_end.assign(relations_.size(), 0);
  impl_->delta_begin.assign(relations_.size(), 0);
  for (const auto& s : plan.strata) {
    std::vector<Impl::CGroup> groups;
    for (const auto& g : s.groups) {
      Impl::CGroup cg;
      cg.group = &g;
      for (const auto& r : g.rules) cg.rules.push_back(impl_->compile_rule(r));
      for (const auto& r : g.deltas) cg.deltas.push_back(impl_->compile(r));
      groups.push_back(std::move(cg));
    }
    impl_->strata.push_back(std::move(groups));
    auto& seals = impl_->seals.emplace_back();
    for (const auto& sl : s.seals) seals.emplace_back().plan = &sl;
  }
  for (const auto& r : plan.transitions) impl_->transitions.push_back(impl_->compile_rule(r));
  impl_->setup_kept();
  std::vector<CompiledRule*> rules;
  for (auto& groups : impl_->strata)
    for (auto& g : groups) {
      for (auto& r : g.rules) rules.push_back(r.get());
      for (auto& r : g.deltas) rules.push_back(r.get());
    }
  for (auto& r : impl_->transitions) rules.push_back(r.get());
  impl_->compile_segments_now(rules);
}

void Engine::prepare_all_rules() {
  auto prepare = [&](std::vector<std::unique_ptr<CompiledRule>>& rules) {
    for (auto& r : rules)
      if (!r->variants_compiled) impl_->compile_variants(*r);
  };
  for (auto& groups : impl_->strata)
    for (auto& g : groups) {
      prepare(g.rules);
      prepare(g.deltas);
    }
  prepare(impl_->transitions);
}

bool Engine::keeps(uint32_t relation) const { return impl_->kept_of[relation] >= 0; }

Engine::~Engine() = default;

void Engine::run_fixpoint() {
  Impl& im = *impl_;
  im.fixpoint();
  if (!im.check_incremental) return;
  // The check: everything again in full must find nothing the incremental run missed.
  std::vector<RowId> ends(relations_.size());
  for (size_t i = 0; i < relations_.size(); ++i) ends[i] = relations_[i]->end();
  im.force_full = true;
  im.fixpoint();
  im.force_full = false;
  im.reported.resize(relations_.size());
  for (size_t i = 0; i < relations_.size(); ++i) {
    const Relation& rel = *relations_[i];
    bool output = plan_.relations[i].kind == plan::RelationKind::Output;
    auto rows_from = [&](RowId first, auto&& fn) {
      std::vector<Word> values(rel.arity());
      for (RowId row = first; row < rel.end(); ++row)
        if (rel.alive(row)) {
          rel.read(row, values.data());
          fn(values);
        }
    };
    rows_from(ends[i], [&](const std::vector<Word>& values) {
      if (output && im.reported[i].count(values)) return;  // an incremental output held it in an earlier tick
      throw RuntimeError(fmt::format("internal error: incremental evaluation of tick {} missed {}({}) (BLOOM_CHECK_INCREMENTAL)", tick_,
                                     plan_.relations[i].name, format_row(plan_.relations[i], values.data(), true)));
    });
    if (output) rows_from(0, [&](const std::vector<Word>& values) { im.reported[i].insert(values); });
  }
}

void Engine::run_transitions(TransitionSink& sink) {
  Impl& im = *impl_;
  if (!im.check_incremental) {
    im.transitions_into(sink);
    im.remember_tick_end();
    return;
  }
  // The check: record what the incremental run queues, then run every rule in full and require
  // each row it would queue into a table to be queued already or in the table.
  struct Recorder : TransitionSink {
    TransitionSink& to;
    std::set<std::pair<uint32_t, std::vector<Word>>> queued;
    explicit Recorder(TransitionSink& s) : to(s) {}
    void deferred(plan::HeadOp op, uint32_t relation, const Word* row, const plan::RulePlan& rule) override {
      queued.insert({relation, std::vector<Word>(row, row + rule.columns.size())});
      to.deferred(op, relation, row, rule);
    }
    void send(uint32_t relation, const Word* row, const plan::RulePlan& rule) override { to.send(relation, row, rule); }
  } recorder(sink);
  im.transitions_into(recorder);
  struct Checker : TransitionSink {
    Engine& e;
    Recorder& rec;
    std::string missed;
    Checker(Engine& engine, Recorder& r) : e(engine), rec(r) {}
    void deferred(plan::HeadOp op, uint32_t relation, const Word* row, const plan::RulePlan& rule) override {
      if (op != plan::HeadOp::DeferredInsert || !missed.empty()) return;
      if (rec.queued.count({relation, std::vector<Word>(row, row + rule.columns.size())}) || e.relation(relation).contains(row)) return;
      missed = fmt::format("{}({}) from `{}`", e.plan().relations[relation].name, e.format_row(e.plan().relations[relation], row, true),
                           rule.text);
    }
    void send(uint32_t, const Word*, const plan::RulePlan&) override {}
  } checker(*this, recorder);
  im.force_full = true;
  im.transitions_into(checker, true);
  im.force_full = false;
  if (!checker.missed.empty())
    throw RuntimeError(
        fmt::format("internal error: incremental evaluation of tick {} did not queue {} (BLOOM_CHECK_INCREMENTAL)", tick_, checker.missed));
  im.remember_tick_end();
}

std::unique_ptr<Relation> Engine::take_relation(uint32_t id) {
  auto fresh = std::make_unique<Relation>(plan_.relations[id], lattices_);
  std::swap(fresh, relations_[id]);
  return fresh;
}

// A stream's rows go in as they come, unless provenance is recorded (on_derive would see a
// duplicate's derivations twice).
bool Engine::takes_as_stream(uint32_t relation) const { return plan_.relations[relation].stream && !on_derive; }

void Engine::insert_checked(uint32_t relation, const Word* row, const std::string& where, const std::string& what) {
  Relation& rel = *relations_[relation];
  if (takes_as_stream(relation)) return rel.append_stream(row, 1);
  auto res = rel.insert(row);
  if (res.outcome == Relation::Outcome::Conflict) impl_->key_violation(rel, row, res.row, where, what);
}

void Engine::insert_all_checked(uint32_t relation, const Word* rows, size_t count, const std::string& where, const std::string& what) {
  if (count == 0) return;
  Relation& rel = *relations_[relation];
  if (takes_as_stream(relation)) return rel.append_stream(rows, count);
  const uint32_t a = rel.arity();
  if (a == 0 || count == 1) {
    for (size_t i = 0; i < count; ++i) insert_checked(relation, rows + i * std::max<uint32_t>(a, 1), where, what);
    return;
  }
  std::vector<uint32_t>& hashes = impl_->batch_hashes;
  hashes.resize(count);
  for (size_t i = 0; i < count; ++i) hashes[i] = rel.key_hash(rows + i * a);
  rel.insert_many(rows, hashes.data(), count, impl_->batch_scratch, [&](const Word* row, Relation::InsertResult res) {
    if (res.outcome == Relation::Outcome::Conflict) impl_->key_violation(rel, row, res.row, where, what);
  });
}

Word Engine::eval_constant(const plan::Expr& x) { return impl_->eval(impl_->compile(x), nullptr); }

std::string Engine::format(const ValueType& t, Word v, bool quoted) const {
  switch (t.kind) {
    case TypeKind::Int: return std::to_string(as_int(v));
    case TypeKind::Float: {
      // Quoted (source-like) text keeps a float recognisable: 2.0, not 2. CSV stays minimal.
      std::string f = float_text(as_float(v));
      if (quoted && f.find_first_of(".eEn") == std::string::npos) f += ".0";
      return f;
    }
    case TypeKind::Bool: return v ? "true" : "false";
    case TypeKind::String:
    case TypeKind::Addr: return quoted ? plan::constant_str(symbols_.str(v)) : symbols_.str(v);
    case TypeKind::LMax:
    case TypeKind::LMin:
      if (v == lattices_.bottom(t)) return t.kind == TypeKind::LMax ? "-inf" : "+inf";
      return format(t.args[0], v, quoted);
    case TypeKind::LBool: return v ? "true" : "false";
    case TypeKind::LSet: {
      auto elems = lattices_.set_elements(v);
      std::vector<Word> sorted(elems.begin(), elems.end());
      std::sort(sorted.begin(), sorted.end(), [&](Word a, Word b) { return lattices_.compare(t.args[0], a, b) < 0; });
      std::string s = "{";
      for (size_t i = 0; i < sorted.size(); ++i) s += (i ? ", " : "") + format(t.args[0], sorted[i], true);
      return s + "}";
    }
    case TypeKind::LMap: {
      auto entries = lattices_.map_entries(v);
      std::sort(entries.begin(), entries.end(), [&](auto& a, auto& b) { return lattices_.compare(t.args[0], a.first, b.first) < 0; });
      std::string s = "{";
      for (size_t i = 0; i < entries.size(); ++i)
        s += (i ? ", " : "") + format(t.args[0], entries[i].first, true) + ": " + format(t.args[1], entries[i].second, true);
      return s + "}";
    }
  }
  return "?";
}

std::string Engine::format_row(const plan::Relation& r, const Word* row, bool quoted) const {
  std::string s = r.name + "(";
  for (uint32_t c = 0; c < r.arity(); ++c) s += (c ? ", " : "") + format(r.column_types[c], row[c], quoted);
  return s + ")";
}

}  // namespace bloom::rt
