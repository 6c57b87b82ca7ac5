// What the engine accepts as native code for a rule (issue 14): the JIT (runtime/jit) implements
// this interface, the engine calls it, and neither sees the other's internals. LLVM never appears
// here, so the engine builds and runs without it (`bloom run --engine interp`, or no JIT module).
//
// The unit of native code is a segment of a rule's pipeline: a run of consecutive Filter,
// Assign, Scan, Lookup, AntiJoin and InSet steps, optionally followed by the head's columns. It
// takes a batch of register frames, as the interpreter's steps do, and writes the frames that
// pass every step (with the assigned and bound registers set), or their head rows, into one
// output batch: the steps' loops are nested in one function. (An aggregate rule's computed
// columns are a segment of no steps, whose head rows the engine folds.) The grouping of
// aggregates and the steps the JIT does not support stay with the interpreter, which hands
// each batch to the segment and the segment's output on.
#pragma once
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "core/value.h"
#include "plan/ir.h"

namespace bloom::rt {

// The operations compiled code calls the engine for (NativeContext::apply), besides hash() of a
// string: the string functions, comparisons and least/greatest, self(), tick() and now(); and the
// reads of a lattice that need no type beyond their operands' words (a set or map is a handle to
// the engine's interned value): size, contains, keys, intersect and members().
constexpr bool is_call_op(plan::Op op) {
  switch (op) {
    case plan::Op::SetSize:
    case plan::Op::SetContains:
    case plan::Op::SetIntersect:
    case plan::Op::MapKeys:
    case plan::Op::MapSize:
    case plan::Op::Members:
    case plan::Op::Concat:
    case plan::Op::LtS:
    case plan::Op::LeS:
    case plan::Op::GtS:
    case plan::Op::GeS:
    case plan::Op::ToStrI:
    case plan::Op::ToStrF:
    case plan::Op::ToStrB:
    case plan::Op::ToIntS:
    case plan::Op::Len:
    case plan::Op::Find:
    case plan::Op::Substr:
    case plan::Op::LeastS:
    case plan::Op::GreatestS:
    case plan::Op::Self:
    case plan::Op::Tick:
    case plan::Op::Now: return true;
    default: return false;
  }
}

// The lattice operations compiled code calls the engine for with the types of the node
// (SegmentSpec::typed_calls): lift, union, at, a map or set literal of at most three elements,
// covers, and + of lmax. They build or merge a lattice, which takes its type.
constexpr size_t kMaxCallOperands = 3;  // what a call-out passes at most: substr's operands
inline bool calls_with_type(const plan::Expr& e) {
  switch (e.op) {
    case plan::Op::Lift:
    case plan::Op::LatAdd:
    case plan::Op::SetUnion:
    case plan::Op::MapAt:
    case plan::Op::MapOf:
    case plan::Op::LatCovers: return true;
    case plan::Op::SetOf: return e.args.size() <= kMaxCallOperands;
    default: return false;
  }
}
// What the engine needs of such a node: its operation, its type, its first operand's type and
// how many operands it has. Nodes alike in these share an entry (typed_call_name).
struct TypedCall {
  plan::Op op = plan::Op::Const;
  plan::ValueType type, first;
  uint32_t operands = 0;
};
inline TypedCall typed_call_of(const plan::Expr& e) {
  return {e.op, e.type, e.args.empty() ? plan::ValueType{} : e.args[0].type, static_cast<uint32_t>(e.args.size())};
}
inline std::string typed_call_name(const TypedCall& c) {
  return std::to_string(static_cast<int>(c.op)) + ':' + c.type.str() + ':' + c.first.str() + ':' + std::to_string(c.operands);
}
// NativeContext::apply's `op` for the segment's typed call k: the bit above any plan::Op.
constexpr uint64_t kTypedCallBit = uint64_t{1} << 32;

// A Scan, Lookup or AntiJoin step of a segment reads its relation through a view the engine
// fills in before it calls the segment, and again after every flush (below): plain pointers into
// the relation's storage (storage/relation.h, chunk_table), so that the compiled loop reads rows
// without a call. Every field is 64 bits wide, so the JIT lays it out by index (kView*). An
// AntiJoin's view is only handed back to the engine (`absent`); a Lookup by the relation's key
// (plan::kKeyIndex) finds its one row with `find_key` and uses no index fields.
struct NativeView {
  const uint8_t* const* chunks;  // chunk k holds rows [k << kNativeChunkBits, ...)
  const uint32_t* next;          // Lookup: the index's chains (the next row with the same key)
  uint64_t arity;                // cells a row
  uint64_t shift;                // log2 of a cell's bytes: 1, 2 or 3 (cells are sign-extended)
  uint64_t begin, end;           // the step's version: rows [begin, end)
  uint64_t has_dead;             // non-zero: ask `alive` about each row
  const void* relation;          // for the calls below
  uint64_t index;                // Lookup: the secondary index
  // Lookup by one column kept as an array by value (Relation::direct_heads): direct is
  // non-zero and a key below heads_size has its chain's first row at heads[key] (a key
  // beyond has none); otherwise the code calls first_match.
  const uint32_t* heads;
  uint64_t heads_size;
  uint64_t direct;
  const void* step;  // the engine's own description of the step (for `absent`)
  uint64_t old_end;  // AntiJoin across ticks: rows below are older than the delta
};
constexpr uint32_t kNativeChunkBits = 16;
enum NativeViewField : uint32_t {
  kViewChunks,
  kViewNext,
  kViewArity,
  kViewShift,
  kViewBegin,
  kViewEnd,
  kViewHasDead,
  kViewRelation,
  kViewIndex,
  kViewHeads,
  kViewHeadsSize,
  kViewDirect,
  kViewStep,
  kViewOldEnd,
};
constexpr uint32_t kNativeNoRow = 0xFFFFFFFFu;

// What a segment with Scan or Lookup steps is called with. Its output batch holds `capacity`
// frames (or head rows); when it is full the segment calls `flush`, which runs the rest of the
// rule on them (the interpreted steps after the segment, or the head's inserts), refreshes
// every view, and returns non-zero when that raised an error: the segment then returns
// kStatusFlushFailed at once and the engine rethrows the error.
struct NativeContext {
  NativeView* views;  // one per Scan, Lookup or AntiJoin step of the segment, in step order
  // The chain's first row, or kNativeNoRow; refreshes v's index fields (next, heads...).
  uint32_t (*first_match)(NativeView* v, const Word* key);
  uint64_t (*alive)(const NativeView* v, uint64_t row);
  int32_t (*flush)(NativeContext* c, Word* out, uint64_t m);
  uint64_t capacity;
  void* engine;  // the engine's own state for the calls
  // A Lookup by the relation's key: its row with these key values, or kNativeNoRow.
  uint32_t (*find_key)(NativeView* v, const Word* key);
  // An AntiJoin: non-zero when the frame goes on (no row matches the key, as the step's version
  // counts matches).
  uint64_t (*absent)(NativeView* v, const Word* key);
  // An InSet over a register: the elements of the interned lset `set` (they never move), and
  // their number in *count.
  const Word* (*set_elements)(NativeContext* c, Word set, uint64_t* count);
  // An operation the code calls out for (jit::calls_out: strings and the engine's own values,
  // self(), tick(), now(), lattices): the engine applies the plan::Op `op`, or with
  // kTypedCallBit the segment's typed call (op & ~kTypedCallBit), to the operand words `args` as
  // its interpreter does and writes the result to *out. Returns 0; or kStatusFlushFailed when it
  // raised an error the engine rethrows once the segment has returned; or, in a segment without
  // joins, kStatusCallFailed when it raised a run-time error (to_int of text that is no
  // number), which the engine raises again by running the batch through the interpreter.
  int32_t (*apply)(NativeContext* c, uint64_t op, const Word* args, Word* out);
  // The interned ids of the segment's string constants (SegmentSpec::strings), in that order:
  // ids are the engine's, so compiled code reads them here and the same code serves every engine.
  const Word* strings;
};
enum NativeContextField : uint32_t {
  kCtxViews,
  kCtxFirstMatch,
  kCtxAlive,
  kCtxFlush,
  kCtxCapacity,
  kCtxEngine,
  kCtxFindKey,
  kCtxAbsent,
  kCtxSetElements,
  kCtxApply,
  kCtxStrings,
};
constexpr int32_t kStatusFlushFailed = 100;
constexpr int32_t kStatusCallFailed = 101;

// status = f(frames, n, out, &m, ctx): reads n frames of the segment's register count, writes m
// frames (or, with the head, m head rows) to out, and returns 0; or returns non-zero when a frame
// raises a run-time error (division or modulo by zero, a failed call-out). Then the engine runs
// the same batch through the interpreter, which raises the error the interpreter would, with the
// same message: the segment has no other effect than what it wrote into `out`. A segment with
// joins (a Scan, Lookup, AntiJoin or InSet step) never holds an expression that can fail, and
// may flush through `ctx`. kStatusFlushFailed is the exception: the engine rethrows the error
// it kept.
using SegmentFn = int32_t (*)(const Word* frames, uint64_t n, Word* out, uint64_t* m, NativeContext* ctx);

// A segment, self-contained (copies of the plan's expressions), so that it can be compiled on
// another thread after the engine that asked for it is gone.
struct SegmentSpec {
  uint32_t registers = 0;  // words per frame
  // Filter, Assign, Scan, Lookup and AntiJoin (keys of supported expressions), InSet (over a
  // register).
  std::vector<plan::Step> steps;
  bool head = false;  // then the output is head rows of head_columns.size() words
  std::vector<plan::Expr> head_columns;
  // For people (`bloom plan --format llvm`), not part of what is compiled: the rule, its
  // variant and the steps, e.g. "rule 6 at p.bloom:24:1, delta on literal 1: steps 1-5 and the head".
  std::string origin;
  // The steps that read a relation through a view (NativeView).
  static bool has_view(plan::StepKind k) {
    return k == plan::StepKind::Scan || k == plan::StepKind::Lookup || k == plan::StepKind::AntiJoin;
  }
  // Whether the segment reads relations or a set (it may flush).
  bool joins() const {
    for (const auto& s : steps)
      if (has_view(s.kind) || s.kind == plan::StepKind::InSet) return true;
    return false;
  }
  // Every node of its expressions, parents before their operands: the steps' keys and
  // expressions in order, then the head.
  template <class F>
  void for_each_expr(F&& f) const {
    auto visit = [&](auto& self, const plan::Expr& e) -> void {
      f(e);
      for (const auto& a : e.args) self(self, a);
    };
    for (const auto& s : steps) {
      for (const auto& k : s.key) visit(visit, k);
      visit(visit, s.expr);
    }
    for (const auto& c : head_columns) visit(visit, c);
  }
  // The string constants of its expressions, each once, in the order they are first met: the
  // engine interns them into NativeContext::strings in this order.
  std::vector<std::string> strings() const {
    std::vector<std::string> out;
    for_each_expr([&](const plan::Expr& e) {
      if (auto* text = std::get_if<std::string>(&e.value); e.op == plan::Op::Const && text)
        if (std::find(out.begin(), out.end(), *text) == out.end()) out.push_back(*text);
    });
    return out;
  }
  // The typed calls of its expressions (calls_with_type), each kind once, in the order first met:
  // the engine keeps them in this order, and the code passes an index into it.
  std::vector<TypedCall> typed_calls() const {
    std::vector<TypedCall> out;
    std::vector<std::string> names;
    for_each_expr([&](const plan::Expr& e) {
      if (!calls_with_type(e)) return;
      TypedCall c = typed_call_of(e);
      std::string name = typed_call_name(c);
      if (std::find(names.begin(), names.end(), name) != names.end()) return;
      names.push_back(std::move(name));
      out.push_back(std::move(c));
    });
    return out;
  }
};

// Where a compiled function is published: the engine reads it at every batch (relaxed: the
// function is immutable code), the compiler writes it once when done.
using SegmentSlot = std::shared_ptr<std::atomic<SegmentFn>>;

class NativeCode {
 public:
  virtual ~NativeCode() = default;
  // Whether a Filter or Assign expression, or a head column, can be part of a segment.
  virtual bool supports_step(const plan::Expr& e) const = 0;
  // Whether Scan, Lookup, AntiJoin and InSet steps can (false: the code of a test's).
  virtual bool supports_joins() const { return false; }
  virtual bool supports_head_column(const plan::Expr& e) const = 0;
  // The segments compiled now, together (or taken from the cache of segments compiled before);
  // nullptr for one that cannot be (the interpreter goes on). Thread-safe: the nodes of
  // `bloom run --in-process` share one NativeCode.
  virtual std::vector<SegmentFn> compile(const std::vector<SegmentSpec>& specs) = 0;
  // The same on the compiler's own thread: `slot` receives the function when it is ready (and
  // stays null if it cannot be compiled). Returns at once.
  virtual void compile_later(SegmentSpec spec, SegmentSlot slot) = 0;
  // How many frames a segment sees before it is compiled (0: compile before its first batch, on
  // the calling thread, so a test runs native code from the first row).
  virtual uint64_t threshold() const = 0;
  // Whether the engine also weighs a segment before asking for it (tiering's cost model,
  // eval/engine.cpp): only segments that evaluate enough operators a frame, once they have done
  // enough work to pay for a compile. Otherwise every segment is asked for at the threshold.
  virtual bool weighs_segments() const { return false; }
};

}  // namespace bloom::rt
