// The module side of plugin.h: built into libbloom_jit.so with the JIT and LLVM.
#include "jit/plugin.h"

#include <exception>

#include "jit/segment_jit.h"

namespace {

using namespace bloom::rt;

bool segments_llvm_ir(const std::vector<SegmentSpec>& specs, const std::vector<std::string>& names, std::string& out) {
  try {
    out = jit::segments_llvm_ir(specs, names);
    return true;
  } catch (const std::exception& e) {
    out = e.what();
    return false;
  }
}

NativeCode* make_native_code(const jit::SegmentJitOptions& options, std::string& error) {
  try {
    return new jit::SegmentJit(options);
  } catch (const std::exception& e) {
    error = e.what();
    return nullptr;
  }
}

bool compile_aot(const std::vector<SegmentSpec>& specs, const std::string& program, const std::string& object_path, std::string& error) {
  try {
    jit::compile_aot(specs, program, object_path);
    return true;
  } catch (const std::exception& e) {
    error = e.what();
    return false;
  }
}

jit::SegmentJitStats native_stats(const NativeCode& code) { return static_cast<const jit::SegmentJit&>(code).stats(); }

}  // namespace

extern "C" __attribute__((visibility("default"))) const jit::Plugin* bloom_jit_plugin() {
  static const jit::Plugin table{jit::kPluginVersion, &segments_llvm_ir, &make_native_code, &native_stats, &compile_aot};
  return &table;
}
