// Distributed runs over runtime/net: one node of a deployment (`bloom node`), and the launcher
// that starts every node of a deployment, detects global quiescence and collects the outputs
// (`bloom run DEPLOYMENT.toml`). docs/deploy.md describes both and the control protocol.
#pragma once
#include <atomic>
#include <functional>
#include <map>
#include <cstdint>
#include <string>
#include <vector>

#include "node/deployment.h"
#include "plan/ir.h"

namespace zmq {
class context_t;
}

namespace bloom::rt {

struct DeployedNodeOptions {
  std::string name;           // this node (a node of `deployment`)
  Deployment deployment;      // its endpoints are the ones used (in-process runs rewrite them)
  std::string control;        // the launcher's control endpoint; "" for a node on its own
  std::string facts_dir;      // inputs (-F), "" for none
  std::string out_dir;        // outputs as NAME.csv when the node finishes; "" prints them
  bool quiet = false;         // no notes (missing facts files)
  std::function<void(const std::string&)> print_line;  // stdout lines (default: std::cout)
  std::function<void(const std::string&)> log;         // warnings and errors (default: std::cerr)
  const std::atomic<bool>* stop = nullptr;             // set on SIGINT/SIGTERM: finish cleanly
};

// Runs one node until the launcher says finish (with a control endpoint), or until it halts,
// fails or is stopped (without one). Returns the exit status: 2 when the control endpoint is
// malformed; else 0, or 3 after a runtime error, a
// bad facts file or an endpoint it cannot bind.
int run_deployed_node(zmq::context_t& ctx, const plan::Program& plan, const DeployedNodeOptions& options);

struct LaunchOptions {
  Deployment deployment;
  std::string out_dir;      // OUT/NODE/NAME.csv; "" prints each node's outputs, prefixed
  double timeout_s = 60;    // no global quiescence by then: report and stop (exit 3)
  bool quiet = false;       // no per-node summaries
  bool in_process = false;  // threads over inproc:// instead of processes over the endpoints
  std::string exe;          // process mode: the `bloom` binary to start as `bloom node ...`
  std::vector<const plan::Program*> plans;  // in-process mode: one per node, in deployment order
};

// One node's message counters, by peer.
struct NodeCounts {
  std::map<std::string, uint64_t> sent, received;
};
// True when, for every pair of nodes of `counts`, what one sent to the other equals what the
// other received from it. Pair by pair, not in sum: a message counted as received from `a`
// that `a` never sent (bytes forging its name) must not hide a message still in flight
// elsewhere. Counts involving nodes outside `counts` (dead ones) are left out.
bool messages_balance(const std::map<std::string, NodeCounts>& counts);

// Starts every node, waits for global quiescence (Mattern's counting method over the control
// socket), asks each node to write its outputs and stop. Returns 0, or 3 when a node failed,
// died, refused messages, or the run timed out.
int launch_deployment(const LaunchOptions& options);

}  // namespace bloom::rt
