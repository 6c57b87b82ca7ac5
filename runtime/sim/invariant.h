// Invariants written in Bloom (`bloom sim --invariant INV.bloom`, docs/sim.md). The invariant
// program declares `input C(node: addr, ...)` for collections C of the deployment's programs;
// after every simulated tick it is evaluated (one tick, from scratch) over the union of the
// nodes' current state, each row prefixed with the name of the node that holds it. Every row
// it derives into `violation` is a violation; rows of `final_violation` count only on the
// quiescent end state. An output collection C reads as every tuple it held so far (what the node
// would write at the end); any other collection reads as it is after the node's last tick.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "plan/ir.h"
#include "sim/simulator.h"

namespace bloom::rt {
class Node;
}

namespace bloom::rt::sim {

class InvariantChecker {
 public:
  // Suggests the closest of `candidates` to `name` ("" when none is close): "did you mean".
  using Suggest = std::function<std::string(std::string_view name, const std::vector<std::string>& candidates)>;

  // Matches the invariant's inputs with the nodes' collections: an input that no program
  // declares, or whose columns differ from a program's declaration, is an error naming both
  // places (`file:line:col: error: ...`). nullptr when there is any error.
  static std::unique_ptr<InvariantChecker> make(const plan::Program& invariant, const std::vector<SimNode>& nodes,
                                                std::vector<std::string>& errors, const Suggest& suggest = {});

  // The violations over the nodes' state (`nodes[i]` is SimNode i, null while it is down), as
  // `violation("...")` lines, sorted. `final`: also final_violation. Throws RuntimeError when the
  // invariant program itself fails (e.g. a key violation in it).
  std::vector<std::string> check(const std::vector<Node*>& nodes, bool final) const;

 private:
  struct Source {
    uint32_t input;     // the invariant's input relation
    size_t node;        // SimNode index
    uint32_t relation;  // in that node's program
  };
  const plan::Program* plan_ = nullptr;
  std::vector<Source> sources_;
  std::vector<std::string> node_names_;
  int violation_ = -1, final_violation_ = -1;  // relation ids, -1 when not declared
};

}  // namespace bloom::rt::sim
