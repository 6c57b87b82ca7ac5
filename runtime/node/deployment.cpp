#include "node/deployment.h"

#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <fmt/format.h>
#define TOML_EXCEPTIONS 1
#include <toml++/toml.h>

#include "net/transport.h"

namespace bloom::rt {

const DeploymentNode* Deployment::find(std::string_view name) const {
  for (const auto& n : nodes)
    if (n.name == name) return &n;
  return nullptr;
}

bool valid_node_name(std::string_view name) {
  if (name.empty() || name == "." || name == ".." || name.size() > 200) return false;
  for (char c : name)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.')) return false;
  return true;
}

std::string endpoint_problem(std::string_view e) {
  auto starts = [&](std::string_view p) { return e.substr(0, p.size()) == p; };
  if (starts("inproc://")) return e.size() > 9 ? "" : "an inproc:// endpoint needs a name after `inproc://`";
  if (starts("ipc://")) return e.size() > 6 ? "" : "an ipc:// endpoint needs a path after `ipc://`";
  if (!starts("tcp://")) return "expected `tcp://HOST:PORT`, `ipc://PATH` or `inproc://NAME`";
  std::string_view rest = e.substr(6);
  auto colon = rest.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return "expected `tcp://HOST:PORT` (a host, a colon and a port)";
  std::string_view host = rest.substr(0, colon), port = rest.substr(colon + 1);
  if (host == "*") return "`*` listens everywhere but other nodes cannot connect to it: give the host they reach it at";
  for (char c : host)
    if (std::isspace(static_cast<unsigned char>(c)) || c == '/') return fmt::format("`{}` is not a host name", host);
  unsigned p = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || p == 0 || p > 65535)
    return fmt::format("the port `{}` is not a number from 1 to 65535", port);
  return "";
}

const char* param_kind_name(DeploymentNode::ParamKind kind) {
  switch (kind) {
    case DeploymentNode::ParamKind::Integer: return "an integer";
    case DeploymentNode::ParamKind::Float: return "a float";
    case DeploymentNode::ParamKind::Boolean: return "a boolean";
    case DeploymentNode::ParamKind::String: return "a string";
    case DeploymentNode::ParamKind::Array: return "an array";
  }
  return "?";
}

std::vector<std::string> resolve_host(std::string_view host) {
  // `[::1]` is how an IPv6 address is written in an endpoint.
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (getaddrinfo(std::string(host).c_str(), nullptr, &hints, &res) != 0) return {};
  std::vector<std::string> v4, v6;
  for (addrinfo* a = res; a; a = a->ai_next) {
    char text[NI_MAXHOST];
    if (getnameinfo(a->ai_addr, a->ai_addrlen, text, sizeof text, nullptr, 0, NI_NUMERICHOST) != 0) continue;
    auto& list = a->ai_family == AF_INET6 ? v6 : v4;
    if (std::find(list.begin(), list.end(), text) == list.end()) list.push_back(text);
  }
  freeaddrinfo(res);
  v4.insert(v4.end(), v6.begin(), v6.end());
  return v4;
}

namespace {

// "tcp://HOST:PORT" split; false for other endpoints.
bool split_tcp(std::string_view e, std::string_view& host, std::string_view& port) {
  if (e.substr(0, 6) != "tcp://") return false;
  std::string_view rest = e.substr(6);
  auto colon = rest.rfind(':');
  if (colon == std::string_view::npos) return false;
  host = rest.substr(0, colon);
  port = rest.substr(colon + 1);
  return true;
}

}  // namespace

std::string bind_endpoint(std::string_view endpoint, std::string& error) {
  std::string_view host, port;
  if (!split_tcp(endpoint, host, port)) return std::string(endpoint);
  auto addresses = resolve_host(host);
  if (addresses.empty()) {
    error = fmt::format("the host `{}` does not resolve to an address", host);
    return "";
  }
  const std::string& a = addresses.front();
  return a.find(':') != std::string::npos ? fmt::format("tcp://[{}]:{}", a, port) : fmt::format("tcp://{}:{}", a, port);
}

namespace {

std::string at(const std::string& path, const toml::source_region& r) {
  return fmt::format("{}:{}:{}: error: ", path, r.begin.line, r.begin.column);
}

const char* type_name(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a float";
    case toml::node_type::boolean: return "a boolean";
    default: return "a date or time";
  }
}

std::string float_text(double d) {
  std::string s = fmt::format("{}", d);
  if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
  return s;
}

}  // namespace

std::optional<Deployment> parse_deployment(std::string_view text, const std::string& path, std::vector<std::string>& errors) {
  size_t before = errors.size();
  toml::table doc;
  try {
    doc = toml::parse(text, path);
  } catch (const toml::parse_error& e) {
    errors.push_back(at(path, e.source()) + "not valid TOML: " + std::string(e.description()));
    return std::nullopt;
  }
  namespace fs = std::filesystem;
  fs::path base = fs::path(path).parent_path();
  auto resolve = [&](const std::string& p) { return fs::path(p).is_absolute() ? p : (base / p).lexically_normal().string(); };
  Deployment d;
  d.path = path;
  for (auto&& [key, value] : doc) {
    if (key.str() == "node") continue;
    if (key.str() == "insecure") {
      if (auto b = value.as_boolean()) d.insecure = b->get();
      else errors.push_back(at(path, value.source()) + fmt::format("`insecure` must be true or false, not {}", type_name(value)));
      continue;
    }
    if (key.str() == "max_message_size") {
      // Bytes. At least enough for a message header and a few rows; at most what ZeroMQ's
      // 64-bit size takes, far beyond any machine's memory.
      constexpr int64_t kMin = 1024, kMax = int64_t{1} << 40;
      auto n = value.as_integer();
      if (!n || n->get() < kMin || n->get() > kMax)
        errors.push_back(at(path, value.source()) +
                         fmt::format("`max_message_size` must be a number of bytes from {} to {} (e.g. 67108864 for 64 MiB), not {}", kMin,
                                     kMax, n ? std::to_string(n->get()) : type_name(value)));
      else d.max_message_bytes = n->get();
      continue;
    }
    errors.push_back(
        at(path, value.source()) +
        fmt::format("unknown key `{}`: a deployment file has `[node.NAME]` tables, `max_message_size` and `insecure`", key.str()));
  }
  const toml::node* nodes = doc.get("node");
  if (!nodes) {
    if (errors.size() == before)
      errors.push_back(
          fmt::format("{}:1:1: error: no nodes: expected at least one `[node.NAME]` table with `program` and `endpoint`", path));
    return std::nullopt;
  }
  if (!nodes->is_table()) {
    errors.push_back(at(path, nodes->source()) + fmt::format("`node` must be a table of nodes (`[node.NAME]`), not {}", type_name(*nodes)));
    return std::nullopt;
  }
  struct EndpointAt {
    int line, column;
    std::string node, endpoint;
  };
  std::vector<EndpointAt> endpoint_at;
  for (auto&& [key, value] : *nodes->as_table()) {
    std::string name(key.str());
    const auto& where = value.is_table() && value.source().begin.line ? value.source() : key.source();
    if (!value.is_table()) {
      errors.push_back(at(path, value.source()) +
                       fmt::format("node `{}` must be a table (`[node.{}]`), not {}", name, name, type_name(value)));
      continue;
    }
    if (!valid_node_name(name)) {
      errors.push_back(
          at(path, key.source()) +
          fmt::format("`{}` is not a usable node name: use letters, digits, `_`, `-` and `.` (it names a directory of outputs)", name));
      continue;
    }
    DeploymentNode n;
    n.name = name;
    n.line = static_cast<int>(where.begin.line);
    n.column = static_cast<int>(where.begin.column);
    bool has_program = false, has_endpoint = false;
    auto want_string = [&](const toml::node& v, std::string_view k, std::string& out) {
      if (auto s = v.value<std::string>(); s && v.is_string()) {
        out = *s;
        return true;
      }
      errors.push_back(at(path, v.source()) + fmt::format("`{}` of node `{}` must be a string, not {}", k, name, type_name(v)));
      return false;
    };
    for (auto&& [k, v] : *value.as_table()) {
      std::string field(k.str());
      if (field == "program") {
        std::string p;
        if (!want_string(v, field, p)) {
          has_program = true;
          continue;
        }
        has_program = true;
        if (p.empty())
          errors.push_back(at(path, v.source()) + fmt::format("`program` of node `{}` is empty: expected a .bloom file", name));
        else n.program = resolve(p);
      } else if (field == "endpoint") {
        std::string e;
        has_endpoint = true;
        if (!want_string(v, field, e)) continue;
        if (auto problem = endpoint_problem(e); !problem.empty()) {
          errors.push_back(at(path, v.source()) + fmt::format("bad endpoint `{}` for node `{}`: {}", e, name, problem));
          continue;
        }
        endpoint_at.push_back({static_cast<int>(v.source().begin.line), static_cast<int>(v.source().begin.column), name, e});
        n.endpoint = e;
        n.endpoint_line = static_cast<int>(v.source().begin.line);
        n.endpoint_column = static_cast<int>(v.source().begin.column);
      } else if (field == "public_key") {
        std::string pk;
        if (!want_string(v, field, pk)) continue;
        if (!net::valid_curve_key(pk))
          errors.push_back(
              at(path, v.source()) +
              fmt::format("`public_key` of node `{}` is not a CURVE key (40 characters of Z85, as `bloom keygen` prints)", name));
        else n.public_key = pk;
      } else if (field == "secret_key_file") {
        std::string f;
        if (!want_string(v, field, f)) continue;
        n.secret_key_file = resolve(f);
      } else if (field == "facts") {
        std::string f;
        if (!want_string(v, field, f)) continue;
        n.facts = resolve(f);
      } else if (field == "data_dir") {
        std::string f;
        if (!want_string(v, field, f)) continue;
        n.data_dir = resolve(f);
      } else if (field == "restart") {
        if (auto b = v.as_boolean()) n.restart = b->get();
        else
          errors.push_back(at(path, v.source()) + fmt::format("`restart` of node `{}` must be true or false, not {}", name, type_name(v)));
      } else if (field == "params") {
        if (!v.is_table()) {
          errors.push_back(at(path, v.source()) +
                           fmt::format("`params` of node `{}` must be a table (`params = {{ rounds = 3 }}`), not {}", name, type_name(v)));
          continue;
        }
        using Kind = DeploymentNode::ParamKind;
        auto scalar = [](const toml::node& x, std::string& out, Kind& kind) {
          if (auto i = x.as_integer()) out = std::to_string(i->get()), kind = Kind::Integer;
          else if (auto f = x.as_floating_point()) out = float_text(f->get()), kind = Kind::Float;
          else if (auto b = x.as_boolean()) out = b->get() ? "true" : "false", kind = Kind::Boolean;
          else if (auto s = x.as_string()) out = s->get(), kind = Kind::String;
          else return false;
          return true;
        };
        for (auto&& [pk, pv] : *v.as_table()) {
          std::string value_text;
          Kind kind;
          Kind element = Kind::String;
          if (auto* arr = pv.as_array()) {
            // An lset param: the elements as --param text, separated by commas.
            kind = Kind::Array;
            bool ok = true;
            for (size_t e = 0; e < arr->size() && ok; ++e) {
              std::string t;
              Kind ek = Kind::String;
              const toml::node& x = *arr->get(e);
              if (!scalar(x, t, ek)) {
                errors.push_back(
                    at(path, x.source()) +
                    fmt::format("param `{}` of node `{}`: an array's elements must be integers, floats, booleans or strings, not {}",
                                pk.str(), name, type_name(x)));
                ok = false;
              } else if (e > 0 && ek != element) {
                errors.push_back(at(path, x.source()) +
                                 fmt::format("param `{}` of node `{}`: an array's elements must be all of one kind, and {} follows {}",
                                             pk.str(), name, type_name(x), param_kind_name(element)));
                ok = false;
              } else if (t.find(',') != std::string::npos) {
                errors.push_back(at(path, x.source()) +
                                 fmt::format("param `{}` of node `{}`: an element cannot contain a comma (\"{}\")", pk.str(), name, t));
                ok = false;
              }
              element = ek;
              value_text += (e ? "," : "") + t;
            }
            if (!ok) continue;
          } else if (!scalar(pv, value_text, kind)) {
            errors.push_back(at(path, pv.source()) +
                             fmt::format("param `{}` of node `{}` must be an integer, float, boolean, string or array, not {}", pk.str(),
                                         name, type_name(pv)));
            continue;
          }
          n.params.emplace_back(std::string(pk.str()), value_text);
          n.param_sources.push_back({kind, static_cast<int>(pv.source().begin.line), static_cast<int>(pv.source().begin.column), element});
        }
      } else {
        errors.push_back(at(path, k.source()) +
                         fmt::format("unknown key `{}` in node `{}`: expected `program`, `endpoint`, `params`, `facts`, `data_dir`, "
                                     "`restart`, `public_key` or `secret_key_file`",
                                     field, name));
      }
    }
    if (!has_program)
      errors.push_back(
          fmt::format("{}:{}:{}: error: node `{}` has no `program`: expected `program = \"FILE.bloom\"`", path, n.line, n.column, name));
    if (!has_endpoint)
      errors.push_back(fmt::format("{}:{}:{}: error: node `{}` has no `endpoint`: expected `endpoint = \"tcp://HOST:PORT\"`", path, n.line,
                                   n.column, name));
    d.nodes.push_back(std::move(n));
  }
  // Two nodes with one endpoint: the later one in the file is the mistake.
  std::sort(endpoint_at.begin(), endpoint_at.end(),
            [](const auto& a, const auto& b) { return std::pair(a.line, a.column) < std::pair(b.line, b.column); });
  // tcp:// endpoints are compared by the addresses their hosts resolve to, so that
  // `tcp://localhost:7101` and `tcp://127.0.0.1:7101` are one endpoint; a host that does not
  // resolve here (a name only the other machines know) is compared by its name.
  struct Seen {
    const EndpointAt* at;
    std::vector<std::string> addresses;  // resolved, or the host's name; empty: not tcp
    std::string port;
  };
  std::vector<Seen> seen;
  std::map<std::string, std::vector<std::string>> resolved;  // host -> addresses
  for (const auto& e : endpoint_at) {
    Seen s{&e, {}, ""};
    std::string_view host, port;
    if (split_tcp(e.endpoint, host, port)) {
      auto [it, fresh] = resolved.try_emplace(std::string(host));
      if (fresh) it->second = resolve_host(host);
      s.addresses = it->second.empty() ? std::vector<std::string>{std::string(host)} : it->second;
      s.port = std::string(port);
    }
    for (const auto& other : seen) {
      if (other.at->endpoint == e.endpoint) {
        errors.push_back(fmt::format("{}:{}:{}: error: node `{}` has the endpoint `{}` of node `{}`: each node needs its own", path, e.line,
                                     e.column, e.node, e.endpoint, other.at->node));
        break;
      }
      if (s.addresses.empty() || other.port != s.port) continue;
      auto both = std::find_first_of(s.addresses.begin(), s.addresses.end(), other.addresses.begin(), other.addresses.end());
      if (both != s.addresses.end()) {
        errors.push_back(
            fmt::format("{}:{}:{}: error: node `{}` has the endpoint `{}`, which is `{}` of node `{}` (both are {} port {}): "
                        "each node needs its own",
                        path, e.line, e.column, e.node, e.endpoint, other.at->endpoint, other.at->node, *both, s.port));
        break;
      }
    }
    seen.push_back(std::move(s));
  }
  // Keys for all nodes or for none (bloom run then makes keys for the run).
  const DeploymentNode* keyed = nullptr;
  for (const auto& n : d.nodes)
    if (!n.public_key.empty()) keyed = &n;
  if (keyed)
    for (const auto& n : d.nodes)
      if (n.public_key.empty())
        errors.push_back(
            fmt::format("{}:{}:{}: error: node `{}` has no `public_key`, but node `{}` has one: give every node its key, or none", path,
                        n.line, n.column, n.name, keyed->name));
  if (d.nodes.empty() && errors.size() == before)
    errors.push_back(at(path, nodes->source()) + "no nodes: expected at least one `[node.NAME]` table with `program` and `endpoint`");
  if (errors.size() != before) {
    // toml++ keeps a table's keys sorted: report in the file's order.
    auto pos = [&](const std::string& e) {
      int line = 0, col = 0;
      std::sscanf(e.c_str() + std::min(e.size(), path.size() + 1), "%d:%d", &line, &col);
      return std::pair(line, col);
    };
    std::stable_sort(errors.begin() + static_cast<long>(before), errors.end(),
                     [&](const std::string& a, const std::string& b) { return pos(a) < pos(b); });
    return std::nullopt;
  }
  // toml++ keeps a table's keys sorted; the file's order is the order of their lines.
  std::stable_sort(d.nodes.begin(), d.nodes.end(),
                   [](const auto& a, const auto& b) { return a.line != b.line ? a.line < b.line : a.column < b.column; });
  return d;
}

std::optional<Deployment> read_deployment(const std::string& path, std::vector<std::string>& errors) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    errors.push_back(fmt::format("{}: error: cannot read the deployment file: {}", path,
                                 std::filesystem::exists(path, ec) ? "not a regular file" : "no such file"));
    return std::nullopt;
  }
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  if (!in && !in.eof()) {
    errors.push_back(fmt::format("{}: error: cannot read the deployment file", path));
    return std::nullopt;
  }
  return parse_deployment(ss.str(), path, errors);
}

}  // namespace bloom::rt
