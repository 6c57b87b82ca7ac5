// The JIT as a module loaded on demand (libbloom_jit.so, next to the `bloom` executable), as
// PostgreSQL loads its llvmjit.so: linking LLVM's shared library into `bloom` cost every run,
// check and lint 60 ms of start-up (the loader relocating libLLVM), JIT or not. Only the
// commands that use the JIT load it. This header is all the loader and the module share: one
// C entry point that hands out a table of functions.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "eval/native.h"
#include "jit/segment_jit.h"
#include "plan/ir.h"

namespace bloom::rt::jit {

inline constexpr const char* kPluginFile = "libbloom_jit.so";
inline constexpr const char* kPluginEntry = "bloom_jit_plugin";
inline constexpr int kPluginVersion = 8;

struct Plugin {
  int version = kPluginVersion;  // the loader refuses a module built for another table
  // segments_llvm_ir (segment_jit.h): true and the text in `out`, or false and why in `out`.
  bool (*segments_llvm_ir)(const std::vector<SegmentSpec>& specs, const std::vector<std::string>& names, std::string& out) = nullptr;
  // A SegmentJit (segment_jit.h) for the engines of this process, or null and why in `error`.
  // The caller owns it and deletes it after every engine that uses it.
  NativeCode* (*make_native_code)(const SegmentJitOptions& options, std::string& error) = nullptr;
  // What the SegmentJit made by make_native_code has done so far.
  SegmentJitStats (*native_stats)(const NativeCode& code) = nullptr;
  // compile_aot (segment_jit.h) for `bloom build`: true, or false and why in `error`.
  bool (*compile_aot)(const std::vector<SegmentSpec>& specs, const std::string& program, const std::string& object_path,
                      std::string& error) = nullptr;
};

// Loads the module from the directory of the running executable (once; later calls return the
// same table). nullptr and why in `error` if it cannot be found or loaded.
const Plugin* load_plugin(std::string& error);

// Whether the module is there to load (a cheap check, no loading): false and why in `error`.
bool plugin_present(std::string& error);

// The NativeCode that `bloom run --engine jit` gives its engines: it loads the module and makes
// its SegmentJit only when a segment first asks to be compiled (on a thread of its own, unless
// the threshold is 0), so a program that never reaches the threshold never pays LLVM's start-up
// (about 100 ms and 50 MB). If the module cannot be loaded then, `on_error` is told once and the
// rules stay interpreted.
std::unique_ptr<NativeCode> make_lazy_native_code(const SegmentJitOptions& options, std::function<void(const std::string&)> on_error);
// What the SegmentJit behind make_lazy_native_code's result has done; `loaded` is false when it
// was never needed (or could not be loaded).
SegmentJitStats lazy_native_stats(const NativeCode& lazy, bool& loaded);

}  // namespace bloom::rt::jit
