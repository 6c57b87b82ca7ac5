// `bloom build FILE -o BINARY` (docs/jit.md, "bloom build"): the program's rules compiled ahead
// of time by the JIT module into one object file, which also embeds the program's sources, then
// linked by the system's C++ compiler driver with the runner (runner_main.cpp) and bloom's
// runtime libraries into one executable that runs like `bloom run FILE`. The link inputs are
// named by bloom-link.txt, next to the `bloom` executable (written by the build), or in
// PREFIX/lib/bloom with the archives once installed; paths in it are relative to it.
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "build_command.h"
#include "cli.h"
#include "embedded_program.h"
#include "process.h"
#include "segment_recorder.h"
#include "eval/engine.h"
#include "jit/plugin.h"
#include "jit/supported.h"
#include "sema/checker.h"

namespace bloom::cli {
namespace {

namespace fs = std::filesystem;

// The link manifest: `archive PATH` (relative to the manifest), `lib FILE` (a shared library,
// -l:FILE), `flag FLAG`, `# comments`.
struct LinkInputs {
  std::vector<std::string> archives, libs, flags;
};

bool read_manifest(const fs::path& path, LinkInputs& in, std::string& why) {
  std::ifstream f(path);
  if (!f) {
    why = "cannot read " + path.string() + " (it is made with bloom and installed next to it)";
    return false;
  }
  std::string line;
  while (std::getline(f, line)) {
    if (line.empty() || line[0] == '#') continue;
    auto sp = line.find(' ');
    std::string kind = line.substr(0, sp), value = sp == std::string::npos ? "" : line.substr(sp + 1);
    if (kind == "archive") {
      fs::path a = path.parent_path() / value;
      if (!fs::exists(a)) {
        why = path.string() + ": " + a.string() + " is missing";
        return false;
      }
      in.archives.push_back(a.lexically_normal().string());
    } else if (kind == "lib") in.libs.push_back("-l:" + value);
    else if (kind == "flag") in.flags.push_back(value);
  }
  if (in.archives.empty()) {
    why = path.string() + " names no archive";
    return false;
  }
  return true;
}

// A program's path: `name` itself when it has a slash, else the first on PATH; "" if none.
std::string on_path(const std::string& name) {
  if (name.find('/') != std::string::npos) return access(name.c_str(), X_OK) == 0 ? name : "";
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "/usr/bin:/bin");
  for (std::string d; std::getline(dirs, d, ':');)
    if (!d.empty() && access((d + "/" + name).c_str(), X_OK) == 0) return d + "/" + name;
  return "";
}
bool find_program(const std::string& name) { return !on_path(name).empty(); }

// $CXX (split at spaces), else c++, else g++, found on PATH.
std::vector<std::string> find_compiler(std::string& why) {
  if (const char* cxx = std::getenv("CXX"); cxx && *cxx) {
    std::vector<std::string> words;
    std::stringstream ss(cxx);
    for (std::string w; ss >> w;) words.push_back(w);
    if (!words.empty() && !on_path(words[0]).empty()) return words;
    why = "CXX=" + std::string(cxx) + ": no such program";
    return {};
  }
  for (const char* name : {"c++", "g++"})
    if (auto p = on_path(name); !p.empty()) return {p};
  why = "no C++ compiler to link with: set CXX, or install one (Debian: apt-get install g++)";
  return {};
}

}  // namespace

int run_build(const BuildCommand& cmd) {
  auto t0 = std::chrono::steady_clock::now();
  auto ms_since = [](std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
  };
  if (is_deployment(cmd.file)) {
    std::cerr << "bloom: error: " << cmd.file << ": bloom build makes a binary of one program; build each node's program of a deployment\n";
    return kUsage;
  }
  // The output's folder must exist and be writable before anything is compiled.
  fs::path out = cmd.output;
  fs::path out_dir = out.parent_path().empty() ? fs::path(".") : out.parent_path();
  std::error_code ec;
  if (!fs::is_directory(out_dir, ec)) {
    std::cerr << "bloom: error: -o " << cmd.output << ": " << out_dir.string() << " is not a directory\n";
    return kUsage;
  }
  if (access(out_dir.c_str(), W_OK) != 0) {
    std::cerr << "bloom: error: -o " << cmd.output << ": cannot write into " << out_dir.string() << "\n";
    return kUsage;
  }
  if (fs::is_directory(out, ec)) {
    std::cerr << "bloom: error: -o " << cmd.output << ": is a directory\n";
    return kUsage;
  }
  // The program, with every file the compiler read kept for the binary.
  EmbeddedProgram embedded;
  embedded.main = cmd.file;
  embedded.params = cmd.params;
  embedded.stdlib_dir = find_stdlib();
  ProgramSource record;
  record.stdlib_dir = embedded.stdlib_dir;
  record.read = [&](const std::string& path, std::string& text, std::string& why) {
    if (!sema::read_source_file(path, text, why)) return false;
    embedded.files[path] = text;
    return true;
  };
  std::unique_ptr<Compilation> c;
  int exit = kOk;
  auto plan = compile_plan(cmd.file, cmd.params, cmd.color, c, exit, true, record);
  if (!plan) return exit;
  c.reset();
  double front_ms = ms_since(t0);
  // Every segment the engine would compile, collected without running a tick.
  auto t1 = std::chrono::steady_clock::now();
  const std::vector<rt::SegmentSpec> specs = program_segments(*plan);
  std::string error;
  const auto* jit = rt::jit::load_plugin(error);
  if (!jit) {
    std::cerr << "bloom: error: bloom build needs the JIT module: " << error << "\n";
    return kUsage;
  }
  LinkInputs inputs;
  // Beside `bloom` in the build tree; in PREFIX/lib/bloom, with the archives, once installed.
  const fs::path exe_dir = self_executable().parent_path();
  fs::path manifest = exe_dir / "bloom-link.txt";
  if (!fs::exists(manifest, ec) && fs::exists(exe_dir / ".." / "lib" / "bloom" / "bloom-link.txt", ec))
    manifest = (exe_dir / ".." / "lib" / "bloom" / "bloom-link.txt").lexically_normal();
  if (!read_manifest(manifest, inputs, error)) {
    std::cerr << "bloom: error: bloom build cannot find what to link: " << error << "\n";
    return kUsage;
  }
  std::vector<std::string> link = find_compiler(error);
  if (link.empty()) {
    std::cerr << "bloom: error: " << error << "\n";
    return kUsage;
  }
  // The object and the binary under temporary names; the binary renamed into place when whole.
  const std::string tag = ".bloom-build-" + std::to_string(getpid());
  const std::string object = (out_dir / (out.filename().string() + tag + ".o")).string();
  const std::string temp_out = (out_dir / (out.filename().string() + tag)).string();
  struct Cleanup {
    std::vector<std::string> files;
    ~Cleanup() {
      for (const auto& f : files) std::remove(f.c_str());
    }
  } cleanup{{object, temp_out}};
  if (!jit->compile_aot(specs, encode(embedded), object, error)) {
    std::cerr << "bloom: error: cannot compile the rules: " << error << "\n";
    return kRuntimeError;
  }
  double compile_ms = ms_since(t1);
  auto t2 = std::chrono::steady_clock::now();
  link.insert(link.end(), {"-o", temp_out, object, "-Wl,--start-group"});
  link.insert(link.end(), inputs.archives.begin(), inputs.archives.end());
  link.push_back("-Wl,--end-group");
  link.insert(link.end(), inputs.libs.begin(), inputs.libs.end());
  link.insert(link.end(), inputs.flags.begin(), inputs.flags.end());
  link.insert(link.end(), {"-pthread", "-ldl", "-lm"});
  // Most of a link's time is copying the runtime's debug information: left out unless asked
  // for (2.5 s -> 0.7 s here), and gold, where there is one, halves the rest.
  if (!cmd.debug) link.push_back("-Wl,--strip-debug");
  if (find_program("ld.gold")) link.push_back("-fuse-ld=gold");
  ProgramRun run = run_program(link, {}, /*merge_stderr=*/true);
  if (!run.error.empty()) {
    std::cerr << "bloom: error: cannot run " << link[0] << ": " << run.error << "\n";
    return kUsage;
  }
  const std::string& output = run.out;
  const int status = run.status;
  if (status != 0) {
    // The linker's first lines: an undefined symbol is reported once per use.
    constexpr size_t kLines = 40;
    size_t at = 0, lines = 0;
    while (lines < kLines && (at = output.find('\n', at)) != std::string::npos) ++at, ++lines;
    const size_t total = static_cast<size_t>(std::count(output.begin(), output.end(), '\n'));
    std::cerr << "bloom: error: linking " << cmd.output << " failed (" << link[0] << " exited with " << status << "):\n"
              << (at == std::string::npos ? output : output.substr(0, at));
    if (!output.empty() && output.back() != '\n' && at == std::string::npos) std::cerr << "\n";
    if (total > lines && at != std::string::npos) std::cerr << "... (" << total - lines << " more lines)\n";
    return kRuntimeError;
  }
  if (std::rename(temp_out.c_str(), cmd.output.c_str()) != 0) {
    std::cerr << "bloom: error: -o " << cmd.output << ": cannot write it: " << std::strerror(errno) << "\n";
    return kUsage;
  }
  if (!cmd.quiet)
    std::cerr << "bloom: built " << cmd.output << ": " << specs.size() << " segment" << (specs.size() == 1 ? "" : "s")
              << " compiled ahead of time; front end " << static_cast<int>(front_ms) << " ms, LLVM " << static_cast<int>(compile_ms)
              << " ms, link " << static_cast<int>(ms_since(t2)) << " ms\n";
  return kOk;
}

}  // namespace bloom::cli
