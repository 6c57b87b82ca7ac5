// The loader side of plugin.h: in the `bloom` executable, which never links LLVM.
#include <dlfcn.h>
#include <unistd.h>

#include <climits>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <utility>

#include "jit/plugin.h"
#include "jit/supported.h"

namespace bloom::rt::jit {
namespace {

// The module's path: next to the running executable (the build tree), else EXE/../lib/bloom
// (where `cmake --install` and the .deb put it). "" and why in `error` if the executable is
// unknown; the first place when neither holds it (the error then names it).
std::string plugin_path(std::string& error) {
  char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) {
    error = "cannot find the running executable (/proc/self/exe)";
    return "";
  }
  std::string path(exe, static_cast<size_t>(n));
  std::string dir = path.substr(0, path.rfind('/') + 1);
  std::string beside = dir + kPluginFile, installed = dir + "../lib/bloom/" + kPluginFile;
  if (access(beside.c_str(), F_OK) != 0 && access(installed.c_str(), F_OK) == 0) return installed;
  return beside;
}

class LazyNativeCode : public NativeCode {
 public:
  LazyNativeCode(const SegmentJitOptions& options, std::function<void(const std::string&)> on_error)
      : options_(options), on_error_(std::move(on_error)) {}
  ~LazyNativeCode() override {
    if (loader_.joinable()) loader_.join();
    delete real_;  // joins its own compile thread
  }

  bool supports_step(const plan::Expr& e) const override { return supported(e); }
  bool supports_joins() const override { return true; }
  bool supports_head_column(const plan::Expr& e) const override { return head_column_supported(e); }
  uint64_t threshold() const override { return options_.threshold; }
  bool weighs_segments() const override { return options_.weigh; }

  std::vector<SegmentFn> compile(const std::vector<SegmentSpec>& specs) override {
    std::unique_lock lock(mu_);
    if (!loaded_) load(lock);
    if (!real_) return std::vector<SegmentFn>(specs.size(), nullptr);
    NativeCode* real = real_;
    lock.unlock();
    return real->compile(specs);
  }

  void compile_later(SegmentSpec spec, SegmentSlot slot) override {
    std::lock_guard lock(mu_);
    if (loaded_) {
      if (real_) real_->compile_later(std::move(spec), std::move(slot));
      return;
    }
    waiting_.emplace_back(std::move(spec), std::move(slot));
    if (!loader_.joinable())
      loader_ = std::thread([this] {
        std::unique_lock held(mu_);
        if (!loaded_) load(held);
        for (auto& [waiting_spec, waiting_slot] : waiting_)
          if (real_) real_->compile_later(std::move(waiting_spec), std::move(waiting_slot));
        waiting_.clear();
      });
  }

  SegmentJitStats stats(bool& loaded) const {
    std::lock_guard lock(mu_);
    loaded = real_ != nullptr;
    return real_ ? plugin_->native_stats(*real_) : SegmentJitStats{};
  }

 private:
  // Loads the module and makes the SegmentJit, with mu_ held (the loader thread and a
  // synchronous compile may both get here; the first one does it).
  void load(std::unique_lock<std::mutex>&) {
    loaded_ = true;
    std::string error;
    plugin_ = load_plugin(error);
    if (plugin_) real_ = plugin_->make_native_code(options_, error);
    if (!real_ && on_error_) on_error_(error);
  }

  SegmentJitOptions options_;
  std::function<void(const std::string&)> on_error_;
  mutable std::mutex mu_;
  bool loaded_ = false;
  const Plugin* plugin_ = nullptr;
  NativeCode* real_ = nullptr;
  std::deque<std::pair<SegmentSpec, SegmentSlot>> waiting_;
  std::thread loader_;
};

}  // namespace

bool plugin_present(std::string& error) {
  std::string path = plugin_path(error);
  if (path.empty()) return false;
  if (access(path.c_str(), R_OK) == 0) return true;
  error = "no JIT module at " + path;
  return false;
}

std::unique_ptr<NativeCode> make_lazy_native_code(const SegmentJitOptions& options, std::function<void(const std::string&)> on_error) {
  return std::make_unique<LazyNativeCode>(options, std::move(on_error));
}

SegmentJitStats lazy_native_stats(const NativeCode& lazy, bool& loaded) { return static_cast<const LazyNativeCode&>(lazy).stats(loaded); }

const Plugin* load_plugin(std::string& error) {
  static std::once_flag once;
  static const Plugin* plugin = nullptr;
  static std::string why;
  std::call_once(once, [] {
    std::string path = plugin_path(why);
    if (path.empty()) return;
    void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
      const char* e = dlerror();
      why = "cannot load the JIT module " + path + ": " + (e ? e : "unknown error");
      return;
    }
    auto entry = reinterpret_cast<const Plugin* (*)()>(dlsym(handle, kPluginEntry));
    if (!entry) {
      why = "the JIT module " + path + " has no entry point " + kPluginEntry;
      return;
    }
    const Plugin* p = entry();
    if (!p || p->version != kPluginVersion) {
      why = "the JIT module " + path + " was built for another version of bloom";
      return;
    }
    plugin = p;
  });
  if (!plugin) error = why;
  return plugin;
}

}  // namespace bloom::rt::jit
