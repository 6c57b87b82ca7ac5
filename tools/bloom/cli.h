// What the `bloom` subcommands share (tools/bloom/main.cpp implements it): exit statuses,
// compiling a program or a whole deployment with diagnostics on stderr, and output folders.
#pragma once
#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "driver/driver.h"
#include "eval/native.h"
#include "node/deployment.h"
#include "plan/ir.h"
#include "run_command.h"

namespace bloom::cli {

// Reads a deployment file, printing its errors.
std::optional<rt::Deployment> load_deployment(const std::string& path);

// Compiles one node's program with its params, printing its diagnostics and, when it does not
// compile, which node it belongs to; `worst` takes the worse exit status. Null then.
std::unique_ptr<plan::Program> compile_node(const std::string& file, const rt::DeploymentNode& n, const std::string& color,
                                            std::unique_ptr<Compilation>& c, int& worst);

// Compiles every node's program of a deployment (a broken one stops everything before any node
// starts) and warns about channels declared with different columns in two programs. Returns the
// exit status; `plans` holds one plan per node, in deployment order.
int compile_deployment(const std::string& file, const rt::Deployment& dep, const std::string& color, bool quiet,
                       std::vector<std::unique_ptr<plan::Program>>& plans);

// The params of a node: the deployment's, then `extra` (which win), as NAME=VALUE.
std::vector<std::string> node_params(const rt::DeploymentNode& n, const std::vector<std::string>& extra);

// `bloom check DEPLOY.toml` and `bloom lint DEPLOY.toml` (tools/bloom/deployment_command.cpp).
int check_deployment(const std::string& file, const std::string& format, const std::string& color, bool quiet);
int lint_deployment(const std::string& file, const std::string& format, const std::string& color);

bool is_deployment(const std::string& file);

// `bloom fmt` (tools/bloom/fmt_command.cpp, docs/tools.md).
struct FmtOptions {
  std::vector<std::string> files;  // none, or "-": stdin
  bool in_place = false, check = false;
  int width = 100;
  std::string color = "auto";
};
int run_fmt(const FmtOptions& o);

// `bloom repl [FILE]` (tools/bloom/repl_command.cpp, docs/tools.md).
struct ReplOptions {
  std::string file;  // "" = start empty
  std::vector<std::string> params;
  std::string color = "auto";
};
int run_repl(const ReplOptions& o);

// The JIT's native code for the engines of this process, chosen by an EngineChoice.
class EngineSetup {
 public:
  // false (after saying why, with `exit` set) when the choice is malformed, or the JIT was asked
  // for explicitly and cannot be loaded; when jit is only the default, a JIT that cannot be
  // loaded leaves the rules interpreted, with a note unless `quiet`. With `load` false it only
  // checks the choice and makes node_args (the JIT is loaded by the node processes).
  bool init(const EngineChoice& choice, bool quiet, int& exit, bool load = true);
  rt::NativeCode* native() const { return native_.get(); }
  // The arguments that give a `bloom node` of a deployment the same choice.
  std::vector<std::string> node_args() const { return args_; }
  // With --jit-stats: one line on stderr about what was compiled.
  void print_stats(const std::string& prefix = "") const;

 private:
  std::unique_ptr<rt::NativeCode> native_;
  bool stats_ = false;
  std::vector<std::string> args_;
};

// `bloom sim` (tools/bloom/sim_command.cpp).
struct SimCommand {
  std::string deployment, replay, invariant, trace, out_dir, faults, timeline, explain, color = "auto";
  uint64_t seed = 1;
  int64_t runs = 1, max_steps = 100000;
  bool diverge = false, no_minimize = false, quiet = false;
  EngineChoice engine;
};
int run_sim(const SimCommand& cmd);

// `bloom deploy k8s` and `bloom deploy systemd` (tools/bloom/deploy_command.cpp, docs/deploy.md).
struct K8sOptions {  // image "": bloom:VERSION
  std::string file, out_dir, name, image, ns = "default", cluster_domain = "cluster.local";
  std::string cpu = "100m", memory = "128Mi", cpu_limit = "1", memory_limit = "512Mi", storage = "1Gi";
  bool show_secrets = false, quiet = false;
};
int deploy_k8s(const K8sOptions& o);
struct SystemdOptions {
  std::string file, out_dir, name, root, bloom = "/usr/bin/bloom", user;
  bool quiet = false;
};
int deploy_systemd(const SystemdOptions& o);

}  // namespace bloom::cli
