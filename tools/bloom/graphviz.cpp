#include "graphviz.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

extern char** environ;

namespace bloom::cli {
namespace {

namespace fs = std::filesystem;

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

bool render_svg(const std::string& dot_text, std::string& svg, std::string& error) {
  const char* env = std::getenv("BLOOM_DOT");
  std::string program = env && *env ? env : "dot";
  // Files, not pipes, between us and dot: no deadlock on big graphs, no threads.
  char dir_template[] = "/tmp/bloom-dot-XXXXXX";
  if (!mkdtemp(dir_template)) {
    error = std::string("cannot make a temporary folder for Graphviz: ") + std::strerror(errno);
    return false;
  }
  fs::path dir = dir_template, in = dir / "graph.dot", out = dir / "graph.svg", err = dir / "stderr";
  struct Cleanup {
    fs::path d;
    ~Cleanup() {
      std::error_code ec;
      fs::remove_all(d, ec);
    }
  } cleanup{dir};
  {
    std::ofstream f(in, std::ios::binary);
    f << dot_text;
    if (!f.flush()) {
      error = "cannot write " + in.string();
      return false;
    }
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  std::string tsvg = "-Tsvg", input = in.string();
  std::vector<char*> argv = {program.data(), tsvg.data(), input.data(), nullptr};
  pid_t pid = 0;
  int rc = posix_spawnp(&pid, program.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    error = "cannot run Graphviz's `" + program + "` (" + std::strerror(rc) +
            "): the svg and html formats need it (apt-get install graphviz)";
    return false;
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::string said = slurp(err);
    while (!said.empty() && said.back() == '\n') said.pop_back();
    error = "Graphviz's `" + program + "` failed" + (said.empty() ? std::string() : ": " + said);
    return false;
  }
  svg = slurp(out);
  if (svg.find("<svg") == std::string::npos) {
    error = "Graphviz's `" + program + "` wrote no SVG";
    return false;
  }
  return true;
}

}  // namespace bloom::cli
