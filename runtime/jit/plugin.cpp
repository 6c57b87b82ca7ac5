// The module side of plugin.h: built into libbloom_jit.so with the JIT and LLVM.
#include "jit/plugin.h"

#include <exception>

#include "jit/expr_jit.h"

namespace {

bool plan_llvm_ir(const bloom::plan::Program& program, std::string& out) {
  try {
    out = bloom::rt::jit::plan_llvm_ir(program);
    return true;
  } catch (const std::exception& e) {
    out = e.what();
    return false;
  }
}

}  // namespace

extern "C" __attribute__((visibility("default"))) const bloom::rt::jit::Plugin* bloom_jit_plugin() {
  static const bloom::rt::jit::Plugin table{bloom::rt::jit::kPluginVersion, &plan_llvm_ir};
  return &table;
}
