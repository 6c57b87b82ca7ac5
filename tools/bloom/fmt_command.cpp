// `bloom fmt`: formats .bloom files (compiler/syntax/format.h) to stdout, in place, or checks
// that they are formatted. A file is only ever replaced by a complete, verified new version.
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "cli.h"
#include "core/files.h"
#include "syntax/format.h"

namespace bloom::cli {
namespace {

bool read_all(const std::string& path, std::string& text, std::string& why) {
  if (path == "-") {
    std::ostringstream s;
    s << std::cin.rdbuf();
    text = s.str();
    return true;
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return why = std::strerror(errno), false;
  if (!S_ISREG(st.st_mode)) return why = "not a regular file", false;
  std::ifstream in(path, std::ios::binary);
  if (!in) return why = std::strerror(errno), false;
  std::ostringstream s;
  s << in.rdbuf();
  text = s.str();
  return true;
}

// Replaces a file keeping its permission bits; a symbolic link stays one (the file it points to
// is replaced).
bool replace_formatted(const std::string& name, const std::string& text, std::string& why) {
  std::error_code ec;
  const std::string path = std::filesystem::canonical(name, ec).string();
  if (ec) return why = ec.message(), false;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return why = std::strerror(errno), false;
  return rt::replace_file(path, text, rt::ReplaceOptions{.mode = st.st_mode & 07777, .sync = true}, why);
}

// The first line where `a` and `b` differ, as a unified-diff-style hint.
std::string first_difference(const std::string& path, const std::string& a, const std::string& b) {
  std::istringstream sa(a), sb(b);
  std::string la, lb;
  for (size_t n = 1;; ++n) {
    bool ha = static_cast<bool>(std::getline(sa, la)), hb = static_cast<bool>(std::getline(sb, lb));
    if (!ha && !hb) return path + ": differs only in its line endings\n";
    if (ha != hb || la != lb) {
      std::string out = path + ":" + std::to_string(n) + ": first difference\n";
      out += ha ? "-" + la + "\n" : "-(end of file)\n";
      out += hb ? "+" + lb + "\n" : "+(end of file)\n";
      return out;
    }
  }
}

}  // namespace

int run_fmt(const FmtOptions& o) {
  std::vector<std::string> files = o.files.empty() ? std::vector<std::string>{"-"} : o.files;
  if (o.in_place && o.check) {
    std::cerr << "bloom fmt: error: --in-place and --check do not go together\n";
    return kUsage;
  }
  size_t stdin_count = 0;
  for (const auto& f : files) stdin_count += f == "-";
  if (stdin_count > 1 || (stdin_count && o.in_place)) {
    std::cerr << "bloom fmt: error: " << (o.in_place ? "--in-place needs files, not stdin (-)" : "stdin (-) can be read once") << "\n";
    return kUsage;
  }
  if (!o.in_place && !o.check && files.size() > 1) {
    std::cerr << "bloom fmt: error: " << files.size() << " files: print one at a time, or use --in-place or --check\n";
    return kUsage;
  }
  int worst = kOk;
  bool unformatted = false;
  for (const auto& file : files) {
    const std::string name = file == "-" ? "<stdin>" : file;
    std::string text, why;
    if (!read_all(file, text, why)) {
      std::cerr << "bloom fmt: error: cannot read " << name << ": " << why << "\n";
      worst = std::max<int>(worst, kUsage);
      continue;
    }
    SourceManager sm;
    FileId id = sm.add(name, text);
    DiagnosticEngine diags;
    auto formatted = format_file(sm, id, diags, {o.width});
    if (!formatted) {
      render_text(sm, diags, std::cerr, {want_color(o.color)});
      std::cerr << "bloom fmt: " << name << " does not parse; it was not formatted\n";
      worst = std::max<int>(worst, kCompileError);
      continue;
    }
    if (!formatted->bug.empty()) {
      std::cerr << "bloom fmt: internal error: formatting " << name << " would change the program (" << formatted->bug
                << "); nothing was written. Please report this with the file.\n";
      worst = std::max<int>(worst, kRuntimeError);
      continue;
    }
    if (o.check) {
      if (formatted->text != text) {
        unformatted = true;
        std::cout << name << "\n";
        std::cerr << first_difference(name, text, formatted->text);
      }
    } else if (o.in_place) {
      if (formatted->text != text && !replace_formatted(file, formatted->text, why)) {
        std::cerr << "bloom fmt: error: cannot write " << name << ": " << why << "\n";
        worst = std::max<int>(worst, kCompileError);
      }
    } else {
      std::cout << formatted->text;
    }
  }
  if (unformatted) worst = std::max<int>(worst, kCompileError);
  return worst;
}

}  // namespace bloom::cli
