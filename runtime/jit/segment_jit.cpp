#include "jit/segment_jit.h"

#include <algorithm>
#include <atomic>
#include <bit>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <unordered_map>
#include <variant>
#include <vector>

#include <llvm/Config/llvm-config.h>
#include <llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h>
#include <llvm/IR/LegacyPassManager.h>
#include <llvm/Support/MemoryBuffer.h>
#include <llvm/Support/FileSystem.h>
#include <llvm/Support/raw_ostream.h>
#include <llvm/Target/TargetMachine.h>

#include "jit/aot_table.h"
#include "jit/code_cache.h"
#include "jit/expr_jit.h"
#include "jit/lowering.h"
#include "jit/supported.h"

namespace bloom::rt::jit {
namespace {

using plan::Op;
using plan::StepKind;

// `i32 f(ptr frames, i64 n, ptr out, ptr m, ptr ctx)`: one loop over the batch, and in it the
// segment's steps nested as the interpreter runs them: a filter that fails goes on to the next
// row or frame, an assignment computes a register, a Scan loops over its relation's rows in the
// step's range and a Lookup over the chain of rows with its key (eval/native.h's views; by the
// key index, the one row ctx->find_key gives), binding the registers their columns give; an
// AntiJoin asks ctx->absent, an InSet loops over the set's elements (ctx->set_elements). Where
// all of them pass, the frame (with the registers set here) or its head row is appended to
// `out`; a segment with joins hands a full `out` to ctx->flush and starts it again.
class SegmentEmitter {
 public:
  SegmentEmitter(llvm::Module& m, const std::string& name, const SegmentSpec& spec)
      : m_(m), ctx_(m.getContext()), b_(ctx_), spec_(spec), joins_(spec.joins()) {
    i64_ = b_.getInt64Ty();
    i32_ = b_.getInt32Ty();
    ptr_ = b_.getPtrTy();
    fn_ = llvm::Function::Create(llvm::FunctionType::get(i32_, {ptr_, i64_, ptr_, ptr_, ptr_}, false), llvm::Function::ExternalLinkage,
                                 name, m);
    // The engine passes separate buffers: telling LLVM lets it keep values in registers.
    for (unsigned a : {0u, 2u, 3u}) fn_->addParamAttr(a, llvm::Attribute::NoAlias);
    const char* names[] = {"frames", "n", "out", "m", "ctx"};
    for (unsigned a = 0; a < 5; ++a) fn_->getArg(a)->setName(names[a]);
  }

  void emit() {
    llvm::Value* frames = fn_->getArg(0);
    llvm::Value* n = fn_->getArg(1);
    auto* entry = block("entry");
    auto* loop = block("loop");
    auto* body = block("frame");
    auto* next = block("next");
    auto* done = block("done");
    // The counters live in stack slots; SROA turns them into SSA values.
    b_.SetInsertPoint(entry);
    llvm::Value* i_slot = b_.CreateAlloca(i64_, nullptr, "i.slot");
    m_slot_ = b_.CreateAlloca(i64_, nullptr, "m.slot");
    b_.CreateStore(b_.getInt64(0), i_slot);
    b_.CreateStore(b_.getInt64(0), m_slot_);
    if (joins_) {
      llvm::Value* c = fn_->getArg(4);
      views_ = b_.CreateLoad(ptr_, field(c, kCtxViews), "views");
      first_match_ = b_.CreateLoad(ptr_, field(c, kCtxFirstMatch), "first_match");
      alive_ = b_.CreateLoad(ptr_, field(c, kCtxAlive), "alive");
      flush_ = b_.CreateLoad(ptr_, field(c, kCtxFlush), "flush");
      capacity_ = b_.CreateLoad(i64_, field(c, kCtxCapacity), "capacity");
      find_key_ = b_.CreateLoad(ptr_, field(c, kCtxFindKey), "find_key");
      absent_ = b_.CreateLoad(ptr_, field(c, kCtxAbsent), "absent");
      set_elements_ = b_.CreateLoad(ptr_, field(c, kCtxSetElements), "set_elements");
      join_slots_.resize(spec_.steps.size());
      for (size_t k = 0; k < spec_.steps.size(); ++k) {
        const plan::Step& s = spec_.steps[k];
        JoinSlots& j = join_slots_[k];
        if (s.kind == StepKind::Scan || s.kind == StepKind::Lookup || s.kind == StepKind::InSet)
          j.row = b_.CreateAlloca(i64_, nullptr, "row.slot");
        if (s.kind == StepKind::InSet) j.count = b_.CreateAlloca(i64_, nullptr, "count.slot");
        if (s.kind == StepKind::Lookup || s.kind == StepKind::AntiJoin) j.key = b_.CreateAlloca(i64_, b_.getInt64(s.key.size()), "key");
        if (chained(s)) {
          j.last_key = b_.CreateAlloca(i64_, b_.getInt64(s.key.size()), "last.key");
          j.last_first = b_.CreateAlloca(i64_, nullptr, "last.first");
          j.have_last = b_.CreateAlloca(b_.getInt1Ty(), nullptr, "have.last");
          b_.CreateStore(b_.getFalse(), j.have_last);
        }
      }
    }
    b_.CreateBr(loop);

    b_.SetInsertPoint(loop);
    llvm::Value* i = b_.CreateLoad(i64_, i_slot, "i");
    b_.CreateCondBr(b_.CreateICmpULT(i, n), body, done);

    b_.SetInsertPoint(body);
    frame_ = b_.CreateInBoundsGEP(i64_, frames, b_.CreateMul(i, b_.getInt64(spec_.registers)), "f");
    ExprLowering lower(m_, fn_, b_, [&](uint32_t reg) { return reg_word(reg); });
    lower.use_context(fn_->getArg(4), spec_.strings(), spec_.typed_calls());
    lower_ = &lower;
    steps(0, 0, next);

    b_.SetInsertPoint(next);
    b_.CreateStore(b_.CreateAdd(b_.CreateLoad(i64_, i_slot), b_.getInt64(1)), i_slot);
    b_.CreateBr(loop);

    b_.SetInsertPoint(done);
    b_.CreateStore(b_.CreateLoad(i64_, m_slot_), fn_->getArg(3));
    b_.CreateRet(b_.getInt32(static_cast<int32_t>(Status::Ok)));
  }

 private:
  llvm::BasicBlock* block(const char* name) { return llvm::BasicBlock::Create(ctx_, name, fn_); }
  // Field k of a struct of 64-bit fields (eval/native.h).
  llvm::Value* field(llvm::Value* p, uint32_t k) { return b_.CreateConstInBoundsGEP1_64(i64_, p, k); }

  // A Lookup by a secondary index: its rows are a chain (NativeView::next); by the key index,
  // the one row find_key gives.
  static bool chained(const plan::Step& s) { return s.kind == StepKind::Lookup && s.index != plan::kKeyIndex; }

  // Stores the step's key values for the current frame or row into its key slot.
  void store_key(const plan::Step& s, llvm::Value* key) {
    for (size_t j = 0; j < s.key.size(); ++j) {
      const plan::Expr& x = s.key[j];
      b_.CreateStore(x.op == Op::Reg ? reg_word(x.reg) : lower_->word(x), b_.CreateConstInBoundsGEP1_64(i64_, key, j));
    }
  }

  // A register's word: set by this segment (an assignment, a column bound by a join) or the
  // input frame's.
  llvm::Value* reg_word(uint32_t reg) {
    auto it = set_.find(reg);
    return it != set_.end() ? it->second : b_.CreateLoad(i64_, b_.CreateConstInBoundsGEP1_64(i64_, frame_, reg), "r" + std::to_string(reg));
  }

  // Emits steps [k, ...) for the current frame or row; `cont` is where a failed step or a
  // finished one goes (the next row of the innermost loop, or the next frame). `view` counts the
  // joins before step k.
  void steps(size_t k, size_t view, llvm::BasicBlock* cont) {
    lower_->set_no_value(cont);  // a value revealed at bottom: this frame or row matches nothing
    if (k == spec_.steps.size()) return output(cont);
    const plan::Step& s = spec_.steps[k];
    switch (s.kind) {
      case StepKind::Filter: {
        auto* pass = block("pass");
        b_.CreateCondBr(lower_->value(s.expr), pass, cont);
        b_.SetInsertPoint(pass);
        return steps(k + 1, view, cont);
      }
      case StepKind::Assign: set_[s.target] = lower_->word(s.expr); return steps(k + 1, view, cont);
      case StepKind::Scan:
      case StepKind::Lookup: return join(s, k, view, cont);
      case StepKind::AntiJoin: {  // the engine counts the matches (their versions, dead rows)
        llvm::Value* v = view_at(view);
        store_key(s, join_slots_[k].key);
        auto* absent_type = llvm::FunctionType::get(i64_, {ptr_, ptr_}, false);
        llvm::Value* passes = b_.CreateCall(absent_type, absent_, {v, join_slots_[k].key}, "absent");
        auto* pass = block("absent");
        b_.CreateCondBr(b_.CreateICmpNE(passes, b_.getInt64(0)), pass, cont);
        b_.SetInsertPoint(pass);
        return steps(k + 1, view + 1, cont);
      }
      case StepKind::InSet: return in_set(s, k, view, cont);
      default: throw std::logic_error("a segment step the JIT does not lower");
    }
  }

  llvm::Value* view_at(size_t view) { return b_.CreateInBoundsGEP(b_.getInt8Ty(), views_, b_.getInt64(view * sizeof(NativeView)), "view"); }

  // For each element of the set in register s.expr.reg: the target register, then the next
  // steps. Interned sets never move, so the elements stay where they are across flushes.
  void in_set(const plan::Step& s, size_t k, size_t view, llvm::BasicBlock* cont) {
    llvm::Value* count_slot = join_slots_[k].count;
    auto* type = llvm::FunctionType::get(ptr_, {ptr_, i64_, ptr_}, false);
    llvm::Value* set = s.expr.op == Op::Reg ? reg_word(s.expr.reg) : lower_->word(s.expr);  // members(), keys(m), ...
    llvm::Value* elements = b_.CreateCall(type, set_elements_, {fn_->getArg(4), set, count_slot}, "elements");
    llvm::Value* count = b_.CreateLoad(i64_, count_slot, "count");
    llvm::Value* slot = join_slots_[k].row;
    b_.CreateStore(b_.getInt64(0), slot);
    auto* head = block("element");
    auto* body = block("element.body");
    auto* step_on = block("element.next");
    b_.CreateBr(head);
    b_.SetInsertPoint(head);
    llvm::Value* at = b_.CreateLoad(i64_, slot, "at");
    b_.CreateCondBr(b_.CreateICmpULT(at, count), body, cont);
    b_.SetInsertPoint(body);
    auto saved = set_;
    set_[s.target] = b_.CreateLoad(i64_, b_.CreateInBoundsGEP(i64_, elements, at), "element");
    steps(k + 1, view, step_on);
    set_ = std::move(saved);
    b_.SetInsertPoint(step_on);
    b_.CreateStore(b_.CreateAdd(b_.CreateLoad(i64_, slot), b_.getInt64(1)), slot);
    b_.CreateBr(head);
  }

  // A Scan's rows [begin, end), or a Lookup's chain, each through the checks of the interpreter's
  // step (eval/engine.cpp, exec): in range, alive, repeated variables equal; then the next steps.
  void join(const plan::Step& s, size_t k, size_t view, llvm::BasicBlock* cont) {
    const bool lookup = s.kind == StepKind::Lookup;
    llvm::Value* v = view_at(view);
    llvm::Value* begin = b_.CreateLoad(i64_, field(v, kViewBegin), "begin");
    llvm::Value* end = b_.CreateLoad(i64_, field(v, kViewEnd), "end");
    const JoinSlots& js = join_slots_[k];
    llvm::Value* slot = js.row;
    if (lookup && !chained(s)) {  // by the key index, as the interpreter: its one row, if any
      store_key(s, js.key);
      auto* find_type = llvm::FunctionType::get(i32_, {ptr_, ptr_}, false);
      b_.CreateStore(b_.CreateZExt(b_.CreateCall(find_type, find_key_, {v, js.key}, "found"), i64_), slot);
    } else if (lookup) {
      // Consecutive frames often look up the same key (the inner side of a nested join sees
      // each outer match in turn): the chain found for the previous key is used again, as the
      // interpreter does. A chain's first row stays its first while rows are added.
      store_key(s, js.key);
      llvm::Value* same = b_.CreateLoad(b_.getInt1Ty(), js.have_last, "have.last");
      for (size_t j = 0; j < s.key.size(); ++j) {
        llvm::Value* w = b_.CreateLoad(i64_, b_.CreateConstInBoundsGEP1_64(i64_, js.key, j));
        llvm::Value* last = b_.CreateLoad(i64_, b_.CreateConstInBoundsGEP1_64(i64_, js.last_key, j));
        same = b_.CreateAnd(same, b_.CreateICmpEQ(w, last));
      }
      auto* probe = block("probe");
      auto* found = block("found");
      b_.CreateCondBr(same, found, probe);
      b_.SetInsertPoint(probe);
      llvm::Value* first = probe_chain(v, js.key, s.key.size());
      b_.CreateStore(first, js.last_first);
      b_.CreateStore(b_.getTrue(), js.have_last);
      b_.CreateMemCpy(js.last_key, llvm::Align(8), js.key, llvm::Align(8), s.key.size() * 8);
      b_.CreateBr(found);
      b_.SetInsertPoint(found);
      b_.CreateStore(b_.CreateLoad(i64_, js.last_first), slot);
    } else {
      b_.CreateStore(begin, slot);
    }
    auto* head = block(lookup ? "chain" : "scan");
    auto* row_block = block("row");
    auto* step_on = block("row.next");
    b_.CreateBr(head);

    b_.SetInsertPoint(head);
    llvm::Value* row = b_.CreateLoad(i64_, slot, "row");
    llvm::Value* more = lookup ? b_.CreateICmpNE(row, b_.getInt64(kNativeNoRow)) : b_.CreateICmpULT(row, end);
    b_.CreateCondBr(more, row_block, cont);

    b_.SetInsertPoint(row_block);
    if (lookup) {  // chains hold rows of every version
      auto* in_range = block("in.range");
      b_.CreateCondBr(b_.CreateAnd(b_.CreateICmpUGE(row, begin), b_.CreateICmpULT(row, end)), in_range, step_on);
      b_.SetInsertPoint(in_range);
    }
    {  // dead rows: only where the relation has any
      auto* ask = block("ask.alive");
      auto* live = block("live");
      llvm::Value* has_dead = b_.CreateLoad(i64_, field(v, kViewHasDead), "has_dead");
      b_.CreateCondBr(b_.CreateICmpNE(has_dead, b_.getInt64(0)), ask, live);
      b_.SetInsertPoint(ask);
      auto* alive_type = llvm::FunctionType::get(i64_, {ptr_, i64_}, false);
      llvm::Value* ok = b_.CreateCall(alive_type, alive_, {v, row});
      b_.CreateCondBr(b_.CreateICmpNE(ok, b_.getInt64(0)), live, step_on);
      b_.SetInsertPoint(live);
    }
    // The columns this step reads: bound to a register, or compared with one bound before.
    std::vector<uint32_t> cols;
    for (uint32_t c = 0; c < s.bind.size(); ++c)
      if (s.bind[c] >= 0) cols.push_back(c);
    for (auto [c, reg] : s.equal)
      if (std::find(cols.begin(), cols.end(), c) == cols.end()) cols.push_back(c);
    std::unordered_map<uint32_t, llvm::Value*> cell = read_cells(v, row, cols);
    for (auto [c, reg] : s.equal) {  // the column that binds `reg` in this row
      uint32_t b = 0;
      while (b < s.bind.size() && s.bind[b] != static_cast<int32_t>(reg)) ++b;
      if (b == s.bind.size()) throw std::logic_error("a repeated variable the row does not bind");
      auto* same = block("same");
      b_.CreateCondBr(b_.CreateICmpEQ(cell[c], cell[b]), same, step_on);
      b_.SetInsertPoint(same);
    }
    auto saved = set_;
    for (uint32_t c : cols)
      if (s.bind[c] >= 0) set_[static_cast<uint32_t>(s.bind[c])] = cell[c];
    steps(k + 1, view + 1, step_on);
    set_ = std::move(saved);

    // The next row; a chain is read again after the rest of the rule ran (a flush may have
    // caught the index up and moved its array).
    b_.SetInsertPoint(step_on);
    if (lookup && !chained(s)) {
      b_.CreateStore(b_.getInt64(kNativeNoRow), slot);
    } else if (lookup) {
      llvm::Value* chains = b_.CreateLoad(ptr_, field(v, kViewNext), "chains");
      llvm::Value* next = b_.CreateLoad(i32_, b_.CreateInBoundsGEP(i32_, chains, row), "next.row");
      b_.CreateStore(b_.CreateZExt(next, i64_), slot);
    } else {
      b_.CreateStore(b_.CreateAdd(row, b_.getInt64(1)), slot);
    }
    b_.CreateBr(head);
  }

  // The first row of the chain of `key` (i64, kNativeNoRow for none): one load from an index
  // kept as an array by value, else a call to the engine.
  llvm::Value* probe_chain(llvm::Value* v, llvm::Value* key, size_t key_size) {
    auto* fm_type = llvm::FunctionType::get(i32_, {ptr_, ptr_}, false);
    if (key_size != 1) return b_.CreateZExt(b_.CreateCall(fm_type, first_match_, {v, key}, "first"), i64_);
    auto* array = block("by.value");
    auto* in_array = block("in.array");
    auto* call = block("by.call");
    auto* got = block("probed");
    llvm::Value* direct = b_.CreateLoad(i64_, field(v, kViewDirect), "direct");
    b_.CreateCondBr(b_.CreateICmpNE(direct, b_.getInt64(0)), array, call);
    b_.SetInsertPoint(array);
    llvm::Value* k = b_.CreateLoad(i64_, key, "k");
    llvm::Value* size = b_.CreateLoad(i64_, field(v, kViewHeadsSize), "heads.size");
    b_.CreateCondBr(b_.CreateICmpULT(k, size), in_array, got);
    b_.SetInsertPoint(in_array);
    llvm::Value* heads = b_.CreateLoad(ptr_, field(v, kViewHeads), "heads");
    llvm::Value* at = b_.CreateZExt(b_.CreateLoad(i32_, b_.CreateInBoundsGEP(i32_, heads, k)), i64_, "head");
    b_.CreateBr(got);
    b_.SetInsertPoint(call);
    llvm::Value* called = b_.CreateZExt(b_.CreateCall(fm_type, first_match_, {v, key}), i64_, "first");
    b_.CreateBr(got);
    b_.SetInsertPoint(got);
    auto* first = b_.CreatePHI(i64_, 3, "first");
    first->addIncoming(b_.getInt64(kNativeNoRow), array);
    first->addIncoming(at, in_array);
    first->addIncoming(called, call);
    return first;
  }

  // Row `row`'s cells `cols` as words: its chunk, then each cell sign-extended from its width.
  std::unordered_map<uint32_t, llvm::Value*> read_cells(llvm::Value* v, llvm::Value* row, const std::vector<uint32_t>& cols) {
    std::unordered_map<uint32_t, llvm::Value*> cell;
    if (cols.empty()) return cell;
    llvm::Value* chunks = b_.CreateLoad(ptr_, field(v, kViewChunks), "chunks");
    llvm::Value* arity = b_.CreateLoad(i64_, field(v, kViewArity), "arity");
    llvm::Value* shift = b_.CreateLoad(i64_, field(v, kViewShift), "shift");
    llvm::Value* chunk =
        b_.CreateLoad(ptr_, b_.CreateInBoundsGEP(ptr_, chunks, b_.CreateLShr(row, b_.getInt64(kNativeChunkBits))), "chunk");
    llvm::Value* first_cell = b_.CreateMul(b_.CreateAnd(row, b_.getInt64((1u << kNativeChunkBits) - 1)), arity);
    auto* w16 = block("cells16");
    auto* w32 = block("cells32");
    auto* w64 = block("cells64");
    auto* joined = block("cells");
    auto* narrow = block("cells.narrow");  // branches, not a switch: see host_target_machine
    b_.CreateCondBr(b_.CreateICmpULT(shift, b_.getInt64(2)), w16, narrow);
    b_.SetInsertPoint(narrow);
    b_.CreateCondBr(b_.CreateICmpEQ(shift, b_.getInt64(2)), w32, w64);
    std::vector<std::pair<llvm::BasicBlock*, std::vector<llvm::Value*>>> arms;
    const std::pair<llvm::BasicBlock*, llvm::Type*> widths[] = {{w16, b_.getInt16Ty()}, {w32, i32_}, {w64, i64_}};
    for (auto [bb, t] : widths) {
      b_.SetInsertPoint(bb);
      std::vector<llvm::Value*> vals;
      for (uint32_t c : cols) {
        llvm::Value* at = b_.CreateInBoundsGEP(t, chunk, b_.CreateAdd(first_cell, b_.getInt64(c)));
        llvm::Value* x = b_.CreateLoad(t, at);
        vals.push_back(t == i64_ ? x : b_.CreateSExt(x, i64_));
      }
      b_.CreateBr(joined);
      arms.emplace_back(bb, std::move(vals));
    }
    b_.SetInsertPoint(joined);
    for (size_t j = 0; j < cols.size(); ++j) {
      auto* phi = b_.CreatePHI(i64_, 3, "c" + std::to_string(cols[j]));
      for (auto& [bb, vals] : arms) phi->addIncoming(vals[j], bb);
      cell[cols[j]] = phi;
    }
    return cell;
  }

  // The frame or head row that passed every step, appended to `out`; a full `out` is flushed.
  void output(llvm::BasicBlock* cont) {
    llvm::Value* out = fn_->getArg(2);
    llvm::Value* mm = b_.CreateLoad(i64_, m_slot_, "m");
    if (spec_.head) {
      const uint64_t A = spec_.head_columns.size();
      llvm::Value* row = b_.CreateInBoundsGEP(i64_, out, b_.CreateMul(mm, b_.getInt64(A)), "row");
      for (uint64_t c = 0; c < A; ++c) b_.CreateStore(lower_->word(spec_.head_columns[c]), b_.CreateConstInBoundsGEP1_64(i64_, row, c));
    } else {
      const uint64_t R = spec_.registers;
      llvm::Value* to = b_.CreateInBoundsGEP(i64_, out, b_.CreateMul(mm, b_.getInt64(R)), "to");
      if (!joins_) b_.CreateMemCpy(to, llvm::Align(8), frame_, llvm::Align(8), R * 8);
      for (uint64_t reg = 0; reg < R; ++reg) {
        auto it = set_.find(static_cast<uint32_t>(reg));
        if (it != set_.end()) b_.CreateStore(it->second, b_.CreateConstInBoundsGEP1_64(i64_, to, reg));
        else if (joins_) b_.CreateStore(reg_word(static_cast<uint32_t>(reg)), b_.CreateConstInBoundsGEP1_64(i64_, to, reg));
      }
    }
    llvm::Value* m1 = b_.CreateAdd(mm, b_.getInt64(1));
    b_.CreateStore(m1, m_slot_);
    if (!joins_) {  // at most one output a frame: `out` holds the batch
      b_.CreateBr(cont);
      return;
    }
    auto* full = block("full");
    b_.CreateCondBr(b_.CreateICmpEQ(m1, capacity_), full, cont);
    b_.SetInsertPoint(full);
    auto* flush_type = llvm::FunctionType::get(i32_, {ptr_, ptr_, i64_}, false);
    llvm::Value* failed = b_.CreateCall(flush_type, flush_, {fn_->getArg(4), out, m1}, "flushed");
    b_.CreateStore(b_.getInt64(0), m_slot_);
    auto* stop = block("flush.failed");
    b_.CreateCondBr(b_.CreateICmpNE(failed, b_.getInt32(0)), stop, cont);
    b_.SetInsertPoint(stop);
    b_.CreateRet(b_.getInt32(kStatusFlushFailed));
  }

  llvm::Module& m_;
  llvm::LLVMContext& ctx_;
  llvm::IRBuilder<> b_;
  const SegmentSpec& spec_;
  const bool joins_;
  llvm::Type* i64_ = nullptr;
  llvm::Type* i32_ = nullptr;
  llvm::PointerType* ptr_ = nullptr;
  llvm::Function* fn_ = nullptr;
  llvm::Value* m_slot_ = nullptr;
  llvm::Value* frame_ = nullptr;
  ExprLowering* lower_ = nullptr;
  std::unordered_map<uint32_t, llvm::Value*> set_;  // register -> its word where the code is
  llvm::Value* views_ = nullptr;
  llvm::Value* first_match_ = nullptr;
  llvm::Value* alive_ = nullptr;
  llvm::Value* flush_ = nullptr;
  llvm::Value* capacity_ = nullptr;
  llvm::Value* find_key_ = nullptr;
  llvm::Value* absent_ = nullptr;
  llvm::Value* set_elements_ = nullptr;
  struct JoinSlots {                  // per step (in a segment with joins): its stack slots
    llvm::Value* row = nullptr;       // Scan, Lookup: the current row; InSet: the element's position
    llvm::Value* key = nullptr;       // Lookup, AntiJoin: the key looked up now,
    llvm::Value* last_key = nullptr;  // a chained Lookup: the key looked up last and its chain's first row,
    llvm::Value* last_first = nullptr;
    llvm::Value* have_last = nullptr;  // and (i1) whether there was one
    llvm::Value* count = nullptr;      // InSet: the set's elements
  };
  std::vector<JoinSlots> join_slots_;
};

void emit_segment(llvm::Module& m, const std::string& name, const SegmentSpec& spec) { SegmentEmitter(m, name, spec).emit(); }

std::unique_ptr<llvm::Module> build_segments(llvm::LLVMContext& ctx, const std::vector<const SegmentSpec*>& specs,
                                             const std::vector<std::string>& names, const llvm::orc::LLJIT* jit) {
  auto m = make_module(ctx, jit);
  for (size_t i = 0; i < specs.size(); ++i) emit_segment(*m, names[i], *specs[i]);
  verify(*m);
  return m;
}

// What a cached object depends on besides the segment: this build of the JIT (its lowering may
// change between builds of one version), LLVM, and the machine code's target and CPU.
std::string cache_tag(const llvm::TargetMachine& tm) {
  std::string what = std::string(BLOOM_JIT_BUILD) + " " + __DATE__ + " " + __TIME__ + " llvm " + LLVM_VERSION_STRING + " " +
                     tm.getTargetTriple().str() + " " + tm.getTargetCPU().str() + " " + tm.getTargetFeatureString().str();
  return digest(what, 16);
}

}  // namespace

struct SegmentJit::State {
  SegmentJitOptions options;
  std::unique_ptr<llvm::orc::LLJIT> jit;
  // One build at a time: the node threads of `--in-process` and the compile thread may all
  // build, and a TargetMachine is not thread-safe. Everything up to `mu` is build_mu's.
  std::mutex build_mu;
  std::unique_ptr<llvm::TargetMachine> target;  // emits the objects (the JIT links them)
  std::unique_ptr<CodeCache> disk;
  std::string name_prefix;  // unique to this process: symbols never clash with cached ones
  uint64_t names = 0;
  std::set<std::string> objects_loaded;              // cached object files added to the JIT
  std::mutex mu;                                     // everything below
  std::unordered_map<std::string, SegmentFn> cache;  // by segment_key; nullptr: LLVM failed on it
  struct Job {
    SegmentSpec spec;
    std::string key;
    std::vector<SegmentSlot> slots;
  };
  std::deque<Job> queue;
  std::condition_variable wake;
  bool stop = false;
  std::thread worker;
  std::vector<double> times_ms;  // per segment compiled: its module's time over its segments
  uint64_t cached = 0, failed = 0, from_disk = 0;

  // A segment from the disk cache, or nullptr (a miss, or a file that does not load).
  SegmentFn load(const std::string& key) {
    auto entry = disk->find(key);
    if (!entry) return nullptr;
    try {
      if (!objects_loaded.count(entry->object)) {
        auto buffer = llvm::MemoryBuffer::getFile(entry->object);
        if (!buffer) return nullptr;
        if (auto err = jit->addObjectFile(std::move(*buffer))) {
          llvm::consumeError(std::move(err));
          return nullptr;
        }
        objects_loaded.insert(entry->object);
      }
      auto sym = jit->lookup(entry->symbol);
      if (!sym) {
        llvm::consumeError(sym.takeError());
        return nullptr;
      }
      return sym->toPtr<SegmentFn>();
    } catch (const std::exception&) {
      return nullptr;
    }
  }

  // Machine code for the segments as one object: the module, the passes of lowering.cpp, code
  // generation (LLVM's fixed cost per module, most of it in setting up code generation, is paid
  // once for the batch).
  llvm::SmallVector<char, 0> emit(const std::vector<const SegmentSpec*>& specs, const std::vector<std::string>& fn_names) {
    llvm::LLVMContext ctx;
    auto m = build_segments(ctx, specs, fn_names, jit.get());  // the JIT's data layout is the target's
    optimize(*m, target.get());
    llvm::SmallVector<char, 0> object;
    llvm::raw_svector_ostream os(object);
    llvm::legacy::PassManager pm;
    if (target->addPassesToEmitFile(pm, os, nullptr, llvm::CGFT_ObjectFile))
      throw std::runtime_error("LLVM JIT: the target cannot emit object files");
    pm.run(*m);
    return object;
  }

  // The segments from the disk cache, and the rest compiled as one object (stored there), all
  // without holding `mu`; then published in the cache of this process.
  std::vector<SegmentFn> build(const std::vector<const SegmentSpec*>& specs, const std::vector<std::string>& keys) {
    std::lock_guard building(build_mu);
    std::vector<SegmentFn> fns(specs.size(), nullptr);
    std::vector<const SegmentSpec*> todo;
    std::vector<size_t> todo_at;
    uint64_t loaded = 0;
    for (size_t i = 0; i < specs.size(); ++i) {
      if (disk->on() && (fns[i] = load(keys[i]))) {
        ++loaded;
        continue;
      }
      todo.push_back(specs[i]);
      todo_at.push_back(i);
    }
    auto start = std::chrono::steady_clock::now();
    bool compiled = false;
    if (!todo.empty()) {
      try {
        std::vector<std::string> fn_names;
        for (size_t i = 0; i < todo.size(); ++i) fn_names.push_back(name_prefix + std::to_string(names++));
        llvm::SmallVector<char, 0> object = emit(todo, fn_names);
        llvm::StringRef bytes(object.data(), object.size());
        if (auto err = jit->addObjectFile(llvm::MemoryBuffer::getMemBufferCopy(bytes, "bloom_segments")))
          throw std::runtime_error("LLVM JIT: cannot add the object: " + message(std::move(err)));
        for (size_t i = 0; i < todo.size(); ++i)
          fns[todo_at[i]] = take(jit->lookup(fn_names[i]), "cannot find a compiled segment").toPtr<SegmentFn>();
        compiled = true;
        std::vector<std::pair<std::string, std::string>> entries;
        for (size_t i = 0; i < todo.size(); ++i) entries.emplace_back(keys[todo_at[i]], fn_names[i]);
        disk->store(bytes, entries);
      } catch (const std::exception&) {
        for (size_t at : todo_at) fns[at] = nullptr;  // the interpreter keeps them; counted in the stats
      }
    }
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    std::lock_guard lock(mu);
    from_disk += loaded;
    if (compiled) times_ms.insert(times_ms.end(), todo.size(), ms / static_cast<double>(todo.size()));
    else failed += todo.size();
    for (size_t i = 0; i < specs.size(); ++i) fns[i] = cache.emplace(keys[i], fns[i]).first->second;
    return fns;
  }

  // Takes every queued job at once and compiles the ones not in the cache as one module.
  void run_worker() {
    std::unique_lock lock(mu);
    for (;;) {
      wake.wait(lock, [&] { return stop || !queue.empty(); });
      if (stop) return;
      std::vector<Job> jobs(std::make_move_iterator(queue.begin()), std::make_move_iterator(queue.end()));
      queue.clear();
      std::vector<const SegmentSpec*> specs;
      std::vector<std::string> keys;
      for (auto& job : jobs)
        if (!cache.count(job.key)) {
          specs.push_back(&job.spec);
          keys.push_back(job.key);
        }
      if (!specs.empty()) {
        lock.unlock();
        build(specs, keys);
        lock.lock();
      }
      for (auto& job : jobs)
        for (auto& slot : job.slots) slot->store(cache[job.key], std::memory_order_release);
    }
  }
};

SegmentJit::SegmentJit(SegmentJitOptions options) : state_(std::make_unique<State>()) {
  state_->options = options;
  state_->jit = make_jit();
  state_->target = host_target_machine();
  state_->disk = std::make_unique<CodeCache>(options.cache_dir, cache_tag(*state_->target), options.cache_max_bytes);
  std::random_device random;
  state_->name_prefix = "bloom_" + std::to_string(random()) + "_" + std::to_string(random()) + "_";
}

SegmentJit::~SegmentJit() {
  {
    std::lock_guard lock(state_->mu);
    state_->stop = true;
  }
  state_->wake.notify_all();
  if (state_->worker.joinable()) state_->worker.join();
}

bool SegmentJit::supports_step(const plan::Expr& e) const { return supported(e); }
bool SegmentJit::supports_head_column(const plan::Expr& e) const { return head_column_supported(e); }
uint64_t SegmentJit::threshold() const { return state_->options.threshold; }
bool SegmentJit::weighs_segments() const { return state_->options.weigh; }

std::vector<SegmentFn> SegmentJit::compile(const std::vector<SegmentSpec>& specs) {
  std::vector<std::string> keys;  // per spec
  for (const auto& spec : specs) keys.push_back(segment_key(spec));
  std::vector<SegmentFn> fns(specs.size(), nullptr);
  std::vector<const SegmentSpec*> missing;
  std::vector<std::string> missing_keys;
  {
    std::lock_guard lock(state_->mu);
    for (size_t i = 0; i < specs.size(); ++i) {
      if (auto it = state_->cache.find(keys[i]); it != state_->cache.end()) {
        ++state_->cached;
        fns[i] = it->second;
      } else if (std::find(missing_keys.begin(), missing_keys.end(), keys[i]) == missing_keys.end()) {
        missing.push_back(&specs[i]);
        missing_keys.push_back(keys[i]);
      }
    }
  }
  if (!missing.empty()) state_->build(missing, missing_keys);
  std::lock_guard lock(state_->mu);
  for (size_t i = 0; i < specs.size(); ++i)
    if (!fns[i]) fns[i] = state_->cache[keys[i]];
  return fns;
}

void SegmentJit::compile_later(SegmentSpec spec, SegmentSlot slot) {
  std::string key = segment_key(spec);
  std::lock_guard lock(state_->mu);
  if (auto it = state_->cache.find(key); it != state_->cache.end()) {
    ++state_->cached;
    slot->store(it->second, std::memory_order_release);
    return;
  }
  for (auto& job : state_->queue)
    if (job.key == key) {
      job.slots.push_back(std::move(slot));
      return;
    }
  state_->queue.push_back({std::move(spec), std::move(key), {std::move(slot)}});
  if (!state_->worker.joinable()) state_->worker = std::thread([s = state_.get()] { s->run_worker(); });
  state_->wake.notify_one();
}

SegmentJitStats SegmentJit::stats() const {
  std::lock_guard lock(state_->mu);
  SegmentJitStats s;
  s.compiled = state_->times_ms.size();
  s.cached = state_->cached;
  s.failed = state_->failed;
  s.from_disk = state_->from_disk;
  std::vector<double> t = state_->times_ms;
  for (double ms : t) s.total_ms += ms;
  if (!t.empty()) {
    std::sort(t.begin(), t.end());
    s.median_ms = t[t.size() / 2];
    s.max_ms = t.back();
  }
  return s;
}

void compile_aot(const std::vector<SegmentSpec>& specs, const std::string& program, const std::string& object_path) {
  initialize_llvm();
  auto host = take(llvm::orc::JITTargetMachineBuilder::detectHost(), "cannot describe this machine");
  host.setRelocationModel(llvm::Reloc::PIC_);  // linked into a position-independent executable
  host.setCodeGenOptLevel(llvm::CodeGenOpt::Default);
  auto target = take(host.createTargetMachine(), "cannot make a target machine");
  llvm::LLVMContext ctx;
  auto m = std::make_unique<llvm::Module>("bloom_aot", ctx);
  m->setDataLayout(target->createDataLayout());
  m->setTargetTriple(target->getTargetTriple().str());
  std::vector<std::string> keys;
  std::vector<llvm::Function*> fns;
  for (const auto& spec : specs) {
    std::string key = segment_key(spec);
    if (std::find(keys.begin(), keys.end(), key) != keys.end()) continue;
    const std::string name = "bloom_aot_segment_" + std::to_string(keys.size());
    emit_segment(*m, name, spec);
    llvm::Function* fn = m->getFunction(name);
    fn->setLinkage(llvm::GlobalValue::InternalLinkage);  // reached through the table only
    keys.push_back(std::move(key));
    fns.push_back(fn);
  }
  // The table: {key, key size, function} per segment, and the program's bytes.
  auto* i64 = llvm::Type::getInt64Ty(ctx);
  auto* ptr = llvm::PointerType::get(ctx, 0);
  auto* entry_type = llvm::StructType::get(ctx, {ptr, i64, ptr});
  auto bytes = [&](const std::string& text, const std::string& name, llvm::GlobalValue::LinkageTypes linkage) {
    auto* init = llvm::ConstantDataArray::getString(ctx, text, true);
    return new llvm::GlobalVariable(*m, init->getType(), true, linkage, init, name);
  };
  std::vector<llvm::Constant*> entries;
  for (size_t i = 0; i < keys.size(); ++i) {
    auto* key = bytes(keys[i], "bloom_aot_key_" + std::to_string(i), llvm::GlobalValue::PrivateLinkage);
    entries.push_back(llvm::ConstantStruct::get(entry_type, {key, llvm::ConstantInt::get(i64, keys[i].size()), fns[i]}));
  }
  auto* table_type = llvm::ArrayType::get(entry_type, entries.size());
  new llvm::GlobalVariable(*m, table_type, true, llvm::GlobalValue::ExternalLinkage, llvm::ConstantArray::get(table_type, entries),
                           kAotSegments);
  new llvm::GlobalVariable(*m, i64, true, llvm::GlobalValue::ExternalLinkage, llvm::ConstantInt::get(i64, entries.size()),
                           kAotSegmentCount);
  bytes(program, kAotProgram, llvm::GlobalValue::ExternalLinkage);
  new llvm::GlobalVariable(*m, i64, true, llvm::GlobalValue::ExternalLinkage, llvm::ConstantInt::get(i64, program.size()), kAotProgramSize);
  verify(*m);
  optimize(*m, target.get());
  std::error_code ec;
  llvm::raw_fd_ostream os(object_path, ec, llvm::sys::fs::OF_None);
  if (ec) throw std::runtime_error("cannot write " + object_path + ": " + ec.message());
  llvm::legacy::PassManager pm;
  if (target->addPassesToEmitFile(pm, os, nullptr, llvm::CGFT_ObjectFile))
    throw std::runtime_error("LLVM: the target cannot emit object files");
  pm.run(*m);
  os.close();
  if (os.has_error()) throw std::runtime_error("cannot write " + object_path + ": " + os.error().message());
}

std::string segments_llvm_ir(const std::vector<SegmentSpec>& specs, const std::vector<std::string>& names) {
  initialize_llvm();
  auto target = host_target_machine();
  llvm::LLVMContext ctx;
  auto m = make_module(ctx, nullptr);
  m->setDataLayout(target->createDataLayout());
  m->setTargetTriple(target->getTargetTriple().str());
  for (size_t i = 0; i < specs.size(); ++i) emit_segment(*m, names.at(i), specs[i]);
  verify(*m);
  optimize(*m, target.get());
  std::string text;
  llvm::raw_string_ostream os(text);
  m->print(os, nullptr);
  return os.str();
}

std::string segment_llvm_ir(const SegmentSpec& spec, const std::string& name) {
  llvm::LLVMContext ctx;
  auto m = build_segments(ctx, {&spec}, {name}, nullptr);
  std::string text;
  llvm::raw_string_ostream os(text);
  m->print(os, nullptr);
  return os.str();
}

}  // namespace bloom::rt::jit
