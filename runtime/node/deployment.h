// A deployment file (TOML): which nodes make up a distributed run, the program each runs, where
// it listens, its params and its facts directory. docs/deploy.md describes the format:
//
//   [node.server]                       # the node's name: the addr programs use for it
//   program  = "server.bloom"           # relative to the deployment file
//   endpoint = "tcp://127.0.0.1:7101"   # where it listens
//   params   = { rounds = 3 }           # optional: the program's params (as --param k=v)
//   facts    = "server_facts"           # optional: its inputs, as `bloom run -F DIR`
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace bloom::rt {

struct DeploymentNode {
  std::string name;
  std::string program;      // resolved: relative to the deployment file's directory
  std::string endpoint;     // tcp://HOST:PORT, ipc://PATH or inproc://NAME
  std::string facts;        // resolved facts directory, "" if none
  std::vector<std::pair<std::string, std::string>> params;  // as --param NAME=VALUE texts
  int line = 0, column = 0; // where its table starts in the file
};

struct Deployment {
  std::string path;  // the file as given
  std::vector<DeploymentNode> nodes;  // in the file's order
  const DeploymentNode* find(std::string_view name) const;
};

// Parses `text` as the deployment file `path` (relative paths in it are resolved against the
// directory of `path`). Every problem is one line in `errors`, starting with `path:line:col: `;
// nullopt if there is any. Does not read the programs (the caller compiles them).
std::optional<Deployment> parse_deployment(std::string_view text, const std::string& path, std::vector<std::string>& errors);
// Reads and parses `path`; an unreadable file is one error naming it.
std::optional<Deployment> read_deployment(const std::string& path, std::vector<std::string>& errors);

// Checks an endpoint's syntax: "" if fine, else what is wrong with it.
std::string endpoint_problem(std::string_view endpoint);
// Whether a node name is usable (letters, digits, `_`, `-`, `.`; not empty, not `.`/`..`):
// names are addrs and directory names under -D.
bool valid_node_name(std::string_view name);

}  // namespace bloom::rt
