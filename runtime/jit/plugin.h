// The JIT as a module loaded on demand (libbloom_jit.so, next to the `bloom` executable), as
// PostgreSQL loads its llvmjit.so: linking LLVM's shared library into `bloom` cost every run,
// check and lint 60 ms of start-up (the loader relocating libLLVM), JIT or not. Only the
// commands that use the JIT load it. This header is all the loader and the module share: one
// C entry point that hands out a table of functions.
#pragma once
#include <string>

#include "plan/ir.h"

namespace bloom::rt::jit {

inline constexpr const char* kPluginFile = "libbloom_jit.so";
inline constexpr const char* kPluginEntry = "bloom_jit_plugin";
inline constexpr int kPluginVersion = 1;

struct Plugin {
  int version = kPluginVersion;  // the loader refuses a module built for another table
  // plan_llvm_ir (expr_jit.h): true and the text in `out`, or false and why in `out`.
  bool (*plan_llvm_ir)(const plan::Program& program, std::string& out) = nullptr;
};

// Loads the module from the directory of the running executable (once; later calls return the
// same table). nullptr and why in `error` if it cannot be found or loaded.
const Plugin* load_plugin(std::string& error);

}  // namespace bloom::rt::jit
