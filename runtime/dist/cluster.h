// Distributed runs over runtime/net: one node of a deployment (`bloom node`), and the launcher
// that starts every node of a deployment, detects global quiescence and collects the outputs
// (`bloom run DEPLOYMENT.toml`). docs/deploy.md describes both and the control protocol.
#pragma once
#include <atomic>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "eval/native.h"
#include "node/deployment.h"
#include "plan/ir.h"

namespace bloom::rt {

namespace net {
class Context;
}

// A node's CURVE keys (docs/security.md): its own pair and every node's public key. Empty (off)
// for an insecure deployment and for node threads of an in-process run (inproc:// never leaves
// the process).
struct NodeKeys {
  std::string public_key, secret_key;
  std::vector<std::pair<std::string, std::string>> nodes;  // name -> public key, every node
  bool on() const { return !secret_key.empty(); }
};

// The environment variable through which `bloom run D.toml` hands each node process its keys
// (never on the command line, which every user of the machine can read).
inline constexpr const char* kKeysEnv = "BLOOM_NODE_KEYS";

// The keys of node `name`: from kKeysEnv when its launcher set it (the variable is then
// removed), else from the deployment file (every node's `public_key`, this node's
// `secret_key_file`). Off for an insecure deployment. nullopt with `error` set when a secure
// deployment gives the node no keys, or its secret key file is unusable.
std::optional<NodeKeys> keys_for_node(const Deployment& deployment, const std::string& name, std::string& error);

// `bloom keygen NAME [--dir DIR]`: writes a fresh secret key to DIR/NAME.secret (mode 0600,
// never over an existing file) and prints the lines for the node's table in a deployment file.
// Returns the exit status (2 when the file cannot be written).
int keygen(const std::string& name, const std::string& dir);

struct DeployedNodeOptions {
  std::string name;          // this node (a node of `deployment`)
  Deployment deployment;     // its endpoints are the ones used (in-process runs rewrite them)
  std::string control;       // the launcher's control endpoint; "" for a node on its own
  uint64_t run_id = 0;       // the same for every node of one run (net::deployment_id)
  uint64_t incarnation = 0;  // how often the launcher started this node again
  std::string facts_dir;     // inputs (-F), "" for none
  std::string out_dir;       // outputs as NAME.csv when the node finishes; "" prints them
  std::string data_dir;      // its durable tables (--data-dir, or the deployment's data_dir); "" keeps them in memory
  bool quiet = false;        // no notes (missing facts files)
  std::function<void(const std::string&)> print_line;  // stdout lines (default: std::cout)
  std::function<void(const std::string&)> log;         // warnings and errors (default: std::cerr)
  const std::atomic<bool>* stop = nullptr;             // set on SIGINT/SIGTERM: finish cleanly
  // The sockets' context: the launcher's for a node thread (inproc:// endpoints connect only
  // within one context); null makes one for this node.
  net::Context* context = nullptr;
  NodeKeys keys;                 // on: CURVE on every connection
  NativeCode* native = nullptr;  // the JIT's code for the rules (NodeOptions::native), or null
};

// Runs one node until the launcher says finish (with a control endpoint), or until it halts,
// fails or is stopped (without one). Returns the exit status: 2 when the control endpoint is
// malformed; else 0, or 3 after a runtime error, a bad facts file or an endpoint it cannot bind.
int run_deployed_node(const plan::Program& plan, const DeployedNodeOptions& options);

struct LaunchOptions {
  Deployment deployment;
  std::string out_dir;                      // OUT/NODE/NAME.csv; "" prints each node's outputs, prefixed
  double timeout_s = 60;                    // no global quiescence by then: report and stop (exit 3)
  bool quiet = false;                       // no per-node summaries
  bool in_process = false;                  // threads over inproc:// instead of processes over the endpoints
  std::string exe;                          // process mode: the `bloom` binary to start as `bloom node ...`
  std::vector<const plan::Program*> plans;  // in-process mode: one per node, in deployment order
  NativeCode* native = nullptr;             // in-process mode: the JIT's code, shared by the node threads
  std::vector<std::string> node_args;       // process mode: more arguments for each `bloom node` (--engine)
};

// Starts every node, waits for global quiescence (Mattern's counting method over the control
// channel), asks each node to write its outputs and stop. Returns 0; 2 when an output directory
// cannot be made (nothing starts); 3 when a node failed, died, refused messages, or the run timed
// out or was interrupted.
int launch_deployment(const LaunchOptions& options);

}  // namespace bloom::rt
