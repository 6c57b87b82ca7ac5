// The loader side of plugin.h: in the `bloom` executable, which never links LLVM.
#include <dlfcn.h>
#include <unistd.h>

#include <climits>
#include <mutex>

#include "jit/plugin.h"

namespace bloom::rt::jit {

const Plugin* load_plugin(std::string& error) {
  static std::once_flag once;
  static const Plugin* plugin = nullptr;
  static std::string why;
  std::call_once(once, [] {
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) {
      why = "cannot find the running executable (/proc/self/exe)";
      return;
    }
    std::string path(exe, static_cast<size_t>(n));
    path = path.substr(0, path.rfind('/') + 1) + kPluginFile;
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
