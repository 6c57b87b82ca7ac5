// A deployment file (TOML): which nodes make up a distributed run, the program each runs, where
// it listens, its params and its facts directory. docs/deploy.md describes the format:
//
//   [node.server]                       # the node's name: the addr programs use for it
//   program  = "server.bloom"           # relative to the deployment file
//   endpoint = "tcp://127.0.0.1:7101"   # where it listens
//   params   = { rounds = 3 }           # optional: the program's params (as --param k=v; an
//                                       #   array for an lset param, as --param k=a,b)
//   facts    = "server_facts"           # optional: its inputs, as `bloom run -F DIR`
//   data_dir = "data/server"            # optional: its durable tables (docs/deploy.md)
//   restart  = true                     # optional: the launcher restarts it when it dies
//
// and, before the nodes, optional settings of the whole deployment (`max_message_size`).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace bloom::rt {

struct DeploymentNode {
  std::string name;
  std::string program;                                      // resolved: relative to the deployment file's directory
  std::string endpoint;                                     // tcp://HOST:PORT, ipc://PATH or inproc://NAME
  std::string facts;                                        // resolved facts directory, "" if none
  std::string data_dir;                                     // resolved data directory of its durable tables, "" if none
  bool restart = false;                                     // `restart = true`: the launcher restarts it when it dies
  std::vector<std::pair<std::string, std::string>> params;  // as --param NAME=VALUE texts
  // Per param (same order): the TOML type it was written with and where, so that a value of the
  // wrong type for the program's param (`nick = 5` for a string) is an error naming the place.
  enum class ParamKind { Integer, Float, Boolean, String, Array };
  struct ParamSource {
    ParamKind kind;
    int line = 0, column = 0;
    ParamKind element = ParamKind::String;  // Array: its elements' kind (all alike; String if empty)
  };
  std::vector<ParamSource> param_sources;
  int line = 0, column = 0;                    // where its table starts in the file
  int endpoint_line = 0, endpoint_column = 0;  // where its endpoint is written
  // CURVE (docs/security.md): the node's public key (Z85) and the file with its secret key
  // (resolved; only the node's own machine needs it). Both "" when the file gives no keys.
  std::string public_key, secret_key_file;
};

// "an integer", "a float", "a boolean", "a string".
const char* param_kind_name(DeploymentNode::ParamKind kind);

struct Deployment {
  std::string path;                   // the file as given
  std::vector<DeploymentNode> nodes;  // in the file's order
  // `max_message_size`: the biggest message a node takes in (bigger frames are refused before
  // they are allocated) and sends. 64 MiB unless the file says otherwise.
  int64_t max_message_bytes = int64_t{64} << 20;
  // `insecure = true`: plaintext, no authentication (the default is CURVE).
  bool insecure = false;
  // Whether every node has a `public_key` (then they all do: a file gives all or none).
  bool has_keys() const { return !nodes.empty() && !nodes.front().public_key.empty(); }
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
// The numeric addresses a host name resolves to (getaddrinfo; an IP literal is itself), IPv4
// first; empty when it does not resolve.
std::vector<std::string> resolve_host(std::string_view host);
// The endpoint to bind for `endpoint`: ZeroMQ binds tcp:// only to an address or an interface
// name, so a host name (`tcp://localhost:7101`) becomes its first address (IPv6 in brackets).
// Other endpoints are returned as they are. "" with `error` set when the host does not resolve.
std::string bind_endpoint(std::string_view endpoint, std::string& error);
// Whether a node name is usable (letters, digits, `_`, `-`, `.`; not empty, not `.`/`..`):
// names are addrs and directory names under -D.
bool valid_node_name(std::string_view name);

}  // namespace bloom::rt
