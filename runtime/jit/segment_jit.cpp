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

// `i32 f(ptr frames, i64 n, ptr out, ptr m)`: one loop over the batch; each frame goes through
// the filters (a false one skips to the next frame) and assignments in order, then its frame
// (with the assigned registers) or its head row is appended to `out`.
void emit_segment(llvm::Module& m, const std::string& name, const SegmentSpec& spec) {
  llvm::LLVMContext& ctx = m.getContext();
  llvm::IRBuilder<> b(ctx);
  auto* i64 = b.getInt64Ty();
  auto* ptr = b.getPtrTy();
  auto* fn = llvm::Function::Create(llvm::FunctionType::get(b.getInt32Ty(), {ptr, i64, ptr, ptr}, false), llvm::Function::ExternalLinkage,
                                    name, m);
  // The engine passes separate buffers: telling LLVM lets it keep values in registers.
  for (unsigned a : {0u, 2u, 3u}) fn->addParamAttr(a, llvm::Attribute::NoAlias);
  llvm::Value* frames = fn->getArg(0);
  llvm::Value* n = fn->getArg(1);
  llvm::Value* out = fn->getArg(2);
  llvm::Value* m_out = fn->getArg(3);
  frames->setName("frames");
  n->setName("n");
  out->setName("out");
  m_out->setName("m");

  auto* entry = llvm::BasicBlock::Create(ctx, "entry", fn);
  auto* loop = llvm::BasicBlock::Create(ctx, "loop", fn);
  auto* body = llvm::BasicBlock::Create(ctx, "frame", fn);
  auto* next = llvm::BasicBlock::Create(ctx, "next", fn);
  auto* done = llvm::BasicBlock::Create(ctx, "done", fn);
  // The counters live in stack slots; O2's mem2reg turns them into SSA values.
  b.SetInsertPoint(entry);
  llvm::Value* i_slot = b.CreateAlloca(i64, nullptr, "i.slot");
  llvm::Value* m_slot = b.CreateAlloca(i64, nullptr, "m.slot");
  b.CreateStore(b.getInt64(0), i_slot);
  b.CreateStore(b.getInt64(0), m_slot);
  b.CreateBr(loop);

  b.SetInsertPoint(loop);
  llvm::Value* i = b.CreateLoad(i64, i_slot, "i");
  b.CreateCondBr(b.CreateICmpULT(i, n), body, done);

  b.SetInsertPoint(body);
  const uint64_t R = spec.registers;
  llvm::Value* f = b.CreateInBoundsGEP(i64, frames, b.CreateMul(i, b.getInt64(R)), "f");
  std::unordered_map<uint32_t, llvm::Value*> assigned;  // register -> its word in this frame
  ExprLowering lower(m, fn, b, [&](uint32_t reg) -> llvm::Value* {
    auto it = assigned.find(reg);
    return it != assigned.end() ? it->second : b.CreateLoad(i64, b.CreateConstInBoundsGEP1_64(i64, f, reg), "r" + std::to_string(reg));
  });
  for (const plan::Step& s : spec.steps) {
    if (s.kind == StepKind::Filter) {
      auto* pass = llvm::BasicBlock::Create(ctx, "pass", fn);
      b.CreateCondBr(lower.value(s.expr), pass, next);
      b.SetInsertPoint(pass);
    } else {
      assigned[s.target] = lower.word(s.expr);
    }
  }
  llvm::Value* mm = b.CreateLoad(i64, m_slot, "m");
  if (spec.head) {
    const uint64_t A = spec.head_columns.size();
    llvm::Value* row = b.CreateInBoundsGEP(i64, out, b.CreateMul(mm, b.getInt64(A)), "row");
    for (uint64_t c = 0; c < A; ++c) b.CreateStore(lower.word(spec.head_columns[c]), b.CreateConstInBoundsGEP1_64(i64, row, c));
  } else {
    llvm::Value* to = b.CreateInBoundsGEP(i64, out, b.CreateMul(mm, b.getInt64(R)), "to");
    b.CreateMemCpy(to, llvm::Align(8), f, llvm::Align(8), R * 8);
    for (auto [reg, w] : assigned) b.CreateStore(w, b.CreateConstInBoundsGEP1_64(i64, to, reg));
  }
  b.CreateStore(b.CreateAdd(mm, b.getInt64(1)), m_slot);
  b.CreateBr(next);

  b.SetInsertPoint(next);
  b.CreateStore(b.CreateAdd(b.CreateLoad(i64, i_slot), b.getInt64(1)), i_slot);
  b.CreateBr(loop);

  b.SetInsertPoint(done);
  b.CreateStore(b.CreateLoad(i64, m_slot), m_out);
  b.CreateRet(b.getInt32(static_cast<int32_t>(Status::Ok)));
}

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

  // Machine code for the segments as one object: the module, LLVM's O2 pipeline, code
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

std::string segment_llvm_ir(const SegmentSpec& spec, const std::string& name) {
  llvm::LLVMContext ctx;
  auto m = build_segments(ctx, {&spec}, {name}, nullptr);
  std::string text;
  llvm::raw_string_ostream os(text);
  m->print(os, nullptr);
  return os.str();
}

}  // namespace bloom::rt::jit
