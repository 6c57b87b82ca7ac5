// `bloom deploy k8s DEPLOY.toml` and `bloom deploy systemd DEPLOY.toml`: a deployment file turned
// into Kubernetes manifests or systemd units that run each of its nodes with `bloom node`
// (docs/deploy.md, "On Kubernetes" and "With systemd").
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli.h"
#include "core/files.h"
#include "dist/cluster.h"
#include "net/transport.h"

namespace bloom::cli {

namespace {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;  // keys in the order written: apiVersion, kind, metadata, spec

// ---------------------------------------------------------------- YAML, deterministically

bool plain_yaml(const std::string& s) {
  static const std::set<std::string> reserved = {"true", "false", "null", "yes", "no", "on", "off", "y", "n", "~"};
  if (s.empty() || (!std::isalpha(static_cast<unsigned char>(s[0])) && s[0] != '/')) return false;
  std::string lower;
  for (char c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.' && c != '/') return false;
    lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return !reserved.count(lower);
}

std::string yaml_scalar(const Json& v) {
  if (v.is_string()) {
    const auto& s = v.get_ref<const std::string&>();
    return plain_yaml(s) ? s : Json(s).dump(-1, ' ', false, Json::error_handler_t::replace);  // JSON strings are YAML
  }
  return v.dump();
}

// A multi-line text (a program, a facts file) as a literal block, when YAML can keep it exactly.
bool literal_block(const std::string& s) {
  if (s.find('\n') == std::string::npos || s[0] == ' ' || s[0] == '\n') return false;
  return std::none_of(s.begin(), s.end(),
                      [](char c) { return (static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t') || c == 0x7f; }) &&
         s.find(" \n") == std::string::npos && s.find("\t\n") == std::string::npos;
}

void write_yaml(const Json& v, std::ostream& out, int indent);

void write_value_after_key(const Json& v, std::ostream& out, int indent) {
  if (v.is_object() && !v.empty()) {
    out << "\n";
    write_yaml(v, out, indent + 2);
  } else if (v.is_array() && !v.empty()) {
    out << "\n";
    write_yaml(v, out, indent);
  } else if (v.is_string() && literal_block(v.get_ref<const std::string&>())) {
    const auto& s = v.get_ref<const std::string&>();
    size_t trailing = s.size() - s.find_last_not_of('\n') - 1;
    out << " |" << (trailing == 0 ? "-" : trailing == 1 ? "" : "+") << "\n";
    std::string pad(indent + 2, ' ');
    std::istringstream lines(s);
    std::string line;
    // Each line, the trailing empty ones too, ends in \n: `|` and `|+` keep them, `|-` drops the last.
    while (std::getline(lines, line)) out << (line.empty() ? "" : pad) << line << "\n";
  } else {
    out << " " << (v.is_object() ? "{}" : v.is_array() ? "[]" : yaml_scalar(v)) << "\n";
  }
}

void write_yaml(const Json& v, std::ostream& out, int indent) {
  std::string pad(indent, ' ');
  if (v.is_object()) {
    for (const auto& [k, x] : v.items()) {
      out << pad << yaml_scalar(Json(k)) << ":";
      write_value_after_key(x, out, indent);
    }
  } else if (v.is_array()) {
    for (const auto& x : v) {
      if (x.is_object() && !x.empty()) {
        // "- " then the first key on the same line, the rest under it.
        std::ostringstream item;
        write_yaml(x, item, indent + 2);
        std::string text = item.str();
        out << pad << "- " << text.substr(indent + 2);
      } else {
        out << pad << "-";
        write_value_after_key(x, out, indent);
      }
    }
  }
}

// ---------------------------------------------------------------- files

// Writes `text` to `path` (replace_file: 0600 for secret keys, never readable by others, not even
// for a moment), or says why not.
bool write_file(const fs::path& path, const std::string& text, mode_t mode) {
  std::string why;
  if (rt::replace_file(path.string(), text, rt::ReplaceOptions{.mode = mode, .sync = true}, why)) return true;
  std::cerr << fmt::format("bloom: error: {}: {}\n", path.string(), why);
  return false;
}

bool prepare_out_dir(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec || !fs::is_directory(dir)) {
    std::cerr << fmt::format("bloom: error: -o {}: cannot create the directory: {}\n", dir, ec ? ec.message() : "not a directory");
    return false;
  }
  return true;
}

std::optional<std::string> read_text(const std::string& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  if (!in) {
    std::cerr << fmt::format("bloom: error: {}: cannot read {}\n", path, what);
    return std::nullopt;
  }
  return s.str();
}

// ---------------------------------------------------------------- names

// The deployment's name: the file's stem, or its directory's name for a `deploy.toml`.
std::string deployment_name(const std::string& file, const std::string& given) {
  if (!given.empty()) return given;
  fs::path p = fs::absolute(file).lexically_normal();
  std::string stem = p.stem().string();
  if (stem == "deploy" && p.parent_path().has_filename()) stem = p.parent_path().filename().string();
  return stem;
}

// A Kubernetes name (an RFC 1123 label): lower case letters, digits and `-`.
std::string dns_label(const std::string& s) {
  std::string out;
  for (char c : s) {
    unsigned char u = static_cast<unsigned char>(c);
    out += std::isalnum(u) ? static_cast<char>(std::tolower(u)) : '-';
  }
  while (!out.empty() && out.front() == '-') out.erase(out.begin());
  while (!out.empty() && out.back() == '-') out.pop_back();
  return out;
}

bool split_tcp_endpoint(const std::string& e, std::string& host, std::string& port) {
  if (e.rfind("tcp://", 0) != 0) return false;
  size_t colon = e.rfind(':');
  if (colon <= 6) return false;
  host = e.substr(6, colon - 6);
  port = e.substr(colon + 1);
  return true;
}

// A param as TOML: the deployment's typed values written back.
std::string toml_value(const std::string& text, rt::DeploymentNode::ParamKind kind) {
  using Kind = rt::DeploymentNode::ParamKind;
  return kind == Kind::String ? Json(text).dump(-1, ' ', false, Json::error_handler_t::replace) : text;
}

// The deployment file the nodes read in the cluster: the same nodes, programs, params and facts
// (paths relative to it, as in the original), the endpoints rewritten to the pods' DNS names,
// the keys' files where the Secret is mounted; `data_dir` and `restart` are left to Kubernetes.
std::string cluster_toml(const rt::Deployment& dep, const std::string& dep_dir, const std::vector<std::string>& endpoints,
                         const std::vector<std::string>& public_keys, bool secured, const std::string& source) {
  std::ostringstream t;
  t << "# Written by `bloom deploy k8s " << source << "`: the deployment as the pods see it.\n";
  if (dep.insecure) t << "insecure = true\n";
  if (dep.max_message_bytes != rt::net::kDefaultMaxMessageBytes) t << "max_message_size = " << dep.max_message_bytes << "\n";
  for (size_t i = 0; i < dep.nodes.size(); ++i) {
    const auto& n = dep.nodes[i];
    t << "\n[node." << Json(n.name).dump() << "]\n";
    t << "program  = " << Json(fs::weakly_canonical(n.program).lexically_relative(dep_dir).generic_string()).dump() << "\n";
    t << "endpoint = " << Json(endpoints[i]).dump() << "\n";
    if (!n.params.empty()) {
      t << "params   = { ";
      for (size_t k = 0; k < n.params.size(); ++k) {
        const auto& [name, text] = n.params[k];
        const auto& src = n.param_sources[k];
        t << (k ? ", " : "") << Json(name).dump() << " = ";
        if (src.kind == rt::DeploymentNode::ParamKind::Array) {
          t << "[";
          std::istringstream parts(text);
          std::string part;
          for (bool first = true; !text.empty() && std::getline(parts, part, ','); first = false)
            t << (first ? "" : ", ") << toml_value(part, src.element);
          t << "]";
        } else {
          t << toml_value(text, src.kind);
        }
      }
      t << " }\n";
    }
    if (!n.facts.empty())
      t << "facts    = " << Json(fs::weakly_canonical(n.facts).lexically_relative(dep_dir).generic_string()).dump() << "\n";
    if (secured) {
      t << "public_key = " << Json(public_keys[i]).dump() << "\n";
      t << "secret_key_file = " << Json("/etc/bloom/keys/" + n.name + ".secret").dump() << "\n";
    }
  }
  return t.str();
}

// The files a node's program needs: the program and every file it imports (as compiled), but
// not the standard library's (`import "std/NAME"`, read from where bloom finds it): the image
// has its own. A std import's path is the library's folder as found, not resolved, so a relative
// import of the same file (`../../stdlib/quorum.bloom`) is still carried.
// The exit status: kOk, or why the program cannot be used (its diagnostics printed).
int program_files(const std::string& file, const rt::DeploymentNode& n, std::set<std::string>& out) {
  std::unique_ptr<Compilation> c;
  int worst = kOk;
  if (!compile_node(file, n, "never", c, worst)) return worst;
  const std::string stdlib = find_stdlib();
  const std::string std_prefix = stdlib.empty() ? "" : (fs::absolute(stdlib).lexically_normal() / "").string();
  for (size_t i = 0; i < c->sources.size(); ++i) {
    const std::string& path = c->sources.file(static_cast<FileId>(i)).path;
    if (!std_prefix.empty() && fs::absolute(path).lexically_normal().string().rfind(std_prefix, 0) == 0) continue;
    out.insert(fs::weakly_canonical(path).string());
  }
  return kOk;
}

fs::path common_dir(const std::set<std::string>& files, fs::path dir) {
  for (const auto& f : files) {
    fs::path p = fs::path(f).parent_path();
    while (!p.lexically_relative(dir).empty() && *p.lexically_relative(dir).begin() == "..") dir = dir.parent_path();
    while (p.lexically_relative(dir).empty()) dir = dir.parent_path();  // another root: not on Linux
  }
  return dir;
}

// A ConfigMap key for a path (keys are [-._a-zA-Z0-9]+): its `/` and other characters as `_`.
std::string config_key(const std::string& rel, std::set<std::string>& used) {
  std::string key;
  for (char c : rel) key += std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' ? c : '_';
  std::string k = key;
  for (int i = 2; !used.insert(k).second; ++i) k = key + "-" + std::to_string(i);
  return k;
}

// A Kubernetes quantity ("100m", "0.5", "128Mi", "1e3"), as its API parses them.
bool k8s_quantity(const std::string& q) {
  static const std::regex re(R"([+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+|[KMGTPE]i|[mkMGTPE])?)");
  return std::regex_match(q, re);
}

}  // namespace

// ---------------------------------------------------------------- bloom deploy k8s

int deploy_k8s(const K8sOptions& o) {
  auto dep = load_deployment(o.file);
  if (!dep) return kUsage;
  const std::string name = dns_label(deployment_name(o.file, o.name));
  if (name.empty() || name.size() > 40) {
    std::cerr << fmt::format(
        "bloom: error: `{}` cannot name the deployment's Kubernetes objects (1 to 40 letters, digits or `-`): "
        "give one with --name\n",
        name);
    return kUsage;
  }
  // What the API server would refuse, refused here, naming the option.
  if (o.ns.empty() || o.ns.size() > 63 || dns_label(o.ns) != o.ns) {
    std::cerr << fmt::format("bloom: error: --namespace {}: a namespace is 1 to 63 lower case letters, digits or `-`\n", o.ns);
    return kUsage;
  }
  for (const auto& [opt, q] : {std::pair{"--cpu", o.cpu}, std::pair{"--memory", o.memory}, std::pair{"--cpu-limit", o.cpu_limit},
                               std::pair{"--memory-limit", o.memory_limit}, std::pair{"--storage", o.storage}})
    if (!k8s_quantity(q)) {
      std::cerr << fmt::format("bloom: error: {} {}: not a Kubernetes quantity (e.g. 100m, 0.5, 128Mi, 1Gi)\n", opt, q);
      return kUsage;
    }
  const bool secured = !dep->insecure;
  if (o.out_dir.empty() && secured && !o.show_secrets) {
    std::cerr << fmt::format(
        "bloom: error: {} is secured with CURVE, so the manifests include a Secret with the nodes' secret keys: "
        "write them to a directory with -o DIR (the Secret's file is mode 0600), or print them with "
        "--show-secrets (or set `insecure = true` in the file, for trusted networks only)\n",
        o.file);
    return kUsage;
  }
  const fs::path dep_file = fs::weakly_canonical(dep->path);
  const fs::path dep_dir = dep_file.parent_path();

  // Names, endpoints and keys per node.
  std::vector<std::string> objects, endpoints, ports, public_keys, secret_keys;
  std::set<std::string> taken;
  for (const auto& n : dep->nodes) {
    std::string obj = name + "-" + dns_label(n.name);
    // A StatefulSet's name goes into its pods' `controller-revision-hash` label (63 at most).
    if (dns_label(n.name).empty() || obj.size() > 52 || !taken.insert(obj).second) {
      std::cerr << fmt::format(
          "{}:{}:{}: error: node `{}` cannot have a Kubernetes name of its own: `{}` is {} (names are lower case "
          "letters, digits and `-`, at most 52 with the deployment's name)\n",
          o.file, n.line, n.column, n.name, obj, obj.size() > 52 ? "too long" : "another node's too");
      return kUsage;
    }
    std::string host, port;
    if (!split_tcp_endpoint(n.endpoint, host, port)) {
      std::cerr << fmt::format("{}:{}:{}: error: node `{}` listens at `{}`: pods reach each other only over tcp://\n", o.file,
                               n.endpoint_line, n.endpoint_column, n.name, n.endpoint);
      return kUsage;
    }
    objects.push_back(obj);
    ports.push_back(port);
    endpoints.push_back(fmt::format("tcp://{}-0.{}.{}.svc.{}:{}", obj, name, o.ns, o.cluster_domain, port));
    if (!secured) continue;
    if (dep->has_keys()) {
      std::string error;
      auto keys = rt::keys_for_node(*dep, n.name, error);
      if (!keys) {
        std::cerr << "bloom: error: " << error << "\n";
        return kUsage;
      }
      public_keys.push_back(keys->public_key);
      secret_keys.push_back(keys->secret_key);
    } else {
      // No keys in the file: fresh ones, written only into these manifests.
      rt::net::KeyPair pair;
      try {
        pair = rt::net::generate_keypair();
      } catch (const std::exception& e) {
        std::cerr << "bloom: error: " << e.what() << "\n";
        return kUsage;
      }
      public_keys.push_back(pair.public_key);
      secret_keys.push_back(pair.secret_key);
    }
  }

  // Every file the nodes read: programs, their imports, facts; mounted under /etc/bloom/app as
  // they lie below the directory that holds them all, so relative imports still work.
  std::set<std::string> files;
  for (const auto& n : dep->nodes) {
    if (int exit = program_files(o.file, n, files); exit != kOk) return exit;
    if (n.facts.empty()) continue;
    std::error_code ec;
    if (!fs::is_directory(n.facts, ec)) {
      std::cerr << fmt::format("{}:{}:{}: error: the facts directory of node `{}` ({}) is not a directory\n", o.file, n.line, n.column,
                               n.name, n.facts);
      return kUsage;
    }
    for (const auto& e : fs::directory_iterator(n.facts, ec))
      if (e.is_regular_file() && e.path().extension() == ".facts") files.insert(fs::weakly_canonical(e.path()).string());
  }
  const fs::path root = common_dir(files, dep_dir);
  const std::string app = "/etc/bloom/app";
  const fs::path dep_in_pod = fs::path(app) / (dep_dir.lexically_relative(root) / dep_file.filename()).lexically_normal();

  Json data = Json::object(), items = Json::array();
  std::set<std::string> keys_used;
  size_t bytes = 0;
  auto add_file = [&](const std::string& rel, const std::string& text) {
    std::string key = config_key(rel, keys_used);
    bytes += key.size() + text.size();
    data[key] = text;
    items.push_back({{"key", key}, {"path", rel}});
  };
  for (const auto& f : files) {
    auto text = read_text(f, "a file of the deployment");
    if (!text) return kUsage;
    add_file(fs::path(f).lexically_relative(root).generic_string(), *text);
  }
  add_file(fs::path(dep_in_pod).lexically_relative(app).generic_string(),
           cluster_toml(*dep, dep_dir.string(), endpoints, public_keys, secured, fs::path(o.file).filename().string()));
  // etcd keeps an object in at most 1 MiB.
  if (bytes > 1000000) {
    std::cerr << fmt::format(
        "bloom: error: the programs and facts of {} take {} bytes, more than a ConfigMap holds (1 MiB): "
        "build them into the image instead\n",
        o.file, bytes);
    return kUsage;
  }

  Json labels = {
      {"app.kubernetes.io/name", "bloom"}, {"app.kubernetes.io/instance", name}, {"app.kubernetes.io/managed-by", "bloom-deploy"}};
  auto meta = [&](const std::string& obj) { return Json{{"name", obj}, {"namespace", o.ns}, {"labels", labels}}; };
  std::vector<std::pair<std::string, Json>> docs;  // (file name, object)

  // One headless Service for the deployment: each pod gets POD.SERVICE.NS.svc.DOMAIN, also before
  // it is ready (the nodes find each other while they start).
  Json svc_ports = Json::array();
  std::set<std::string> port_seen;
  for (const auto& p : ports)
    if (port_seen.insert(p).second) svc_ports.push_back({{"name", "bloom-" + p}, {"port", std::stoi(p)}, {"protocol", "TCP"}});
  docs.emplace_back(name + "-service.yaml", Json{{"apiVersion", "v1"},
                                                 {"kind", "Service"},
                                                 {"metadata", meta(name)},
                                                 {"spec",
                                                  {{"clusterIP", "None"},
                                                   {"publishNotReadyAddresses", true},
                                                   {"selector", {{"app.kubernetes.io/instance", name}}},
                                                   {"ports", svc_ports}}}});
  docs.emplace_back(name + "-files.yaml",
                    Json{{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", meta(name + "-files")}, {"data", data}});
  if (secured) {
    Json keys = Json::object();
    for (size_t i = 0; i < dep->nodes.size(); ++i) keys[dep->nodes[i].name + ".secret"] = secret_keys[i] + "\n";
    docs.emplace_back(
        name + "-keys.yaml",
        Json{{"apiVersion", "v1"}, {"kind", "Secret"}, {"metadata", meta(name + "-keys")}, {"type", "Opaque"}, {"stringData", keys}});
  }
  for (size_t i = 0; i < dep->nodes.size(); ++i) {
    const auto& n = dep->nodes[i];
    Json pod_labels = labels;
    pod_labels["bloom.node"] = dns_label(n.name);
    Json args = {"node",         (fs::path(app) / fs::weakly_canonical(n.program).lexically_relative(root)).generic_string(),
                 "--deployment", dep_in_pod.generic_string(),
                 "--name",       n.name};
    Json mounts = {{{"name", "files"}, {"mountPath", app}, {"readOnly", true}}};
    Json volumes = {{{"name", "files"}, {"configMap", {{"name", name + "-files"}, {"items", items}}}}};
    if (secured) {
      mounts.push_back({{"name", "key"}, {"mountPath", "/etc/bloom/keys"}, {"readOnly", true}});
      // Only this node's key: a pod never sees another node's secret.
      volumes.push_back({{"name", "key"},
                         {"secret",
                          {{"secretName", name + "-keys"},
                           {"defaultMode", 0440},
                           {"items", Json::array({{{"key", n.name + ".secret"}, {"path", n.name + ".secret"}}})}}}});
    }
    if (!n.data_dir.empty()) {
      args.push_back("--data-dir");
      args.push_back("/var/lib/bloom/data");
      mounts.push_back({{"name", "data"}, {"mountPath", "/var/lib/bloom"}});
    }
    Json probe = {{"tcpSocket", {{"port", std::stoi(ports[i])}}}, {"periodSeconds", 10}};
    Json liveness = probe;
    liveness["initialDelaySeconds"] = 10;
    liveness["failureThreshold"] = 6;
    Json container = {
        {"name", "node"},
        {"image", o.image.empty() ? std::string("bloom:") + BLOOM_VERSION : o.image},
        {"command", {"bloom"}},
        {"args", args},
        // The JIT's code cache needs a writable home; the root filesystem is read-only.
        {"env", {{{"name", "BLOOM_JIT_CACHE"}, {"value", "off"}}}},
        {"ports", {{{"name", "bloom"}, {"containerPort", std::stoi(ports[i])}, {"protocol", "TCP"}}}},
        {"readinessProbe", probe},
        {"livenessProbe", liveness},
        {"resources",
         {{"requests", {{"cpu", o.cpu}, {"memory", o.memory}}}, {"limits", {{"cpu", o.cpu_limit}, {"memory", o.memory_limit}}}}},
        {"securityContext", {{"allowPrivilegeEscalation", false}, {"readOnlyRootFilesystem", true}, {"capabilities", {{"drop", {"ALL"}}}}}},
        {"volumeMounts", mounts}};
    Json spec = {{"serviceName", name},
                 {"replicas", 1},
                 {"podManagementPolicy", "Parallel"},
                 {"selector", {{"matchLabels", {{"app.kubernetes.io/instance", name}, {"bloom.node", dns_label(n.name)}}}}},
                 {"template",
                  {{"metadata", {{"labels", pod_labels}}},
                   {"spec",
                    {{"securityContext",
                      {{"runAsNonRoot", true},
                       {"runAsUser", 65532},
                       {"runAsGroup", 65532},
                       {"fsGroup", 65532},
                       {"seccompProfile", {{"type", "RuntimeDefault"}}}}},
                     {"terminationGracePeriodSeconds", 30},
                     {"containers", {container}},
                     {"volumes", volumes}}}}}};
    if (!n.data_dir.empty())
      spec["volumeClaimTemplates"] = {
          {{"metadata", {{"name", "data"}}},
           {"spec", {{"accessModes", {"ReadWriteOnce"}}, {"resources", {{"requests", {{"storage", o.storage}}}}}}}}};
    docs.emplace_back(objects[i] + ".yaml",
                      Json{{"apiVersion", "apps/v1"}, {"kind", "StatefulSet"}, {"metadata", meta(objects[i])}, {"spec", spec}});
  }

  auto text_of = [](const Json& doc) {
    std::ostringstream s;
    s << "---\n";
    write_yaml(doc, s, 0);
    return s.str();
  };
  if (o.out_dir.empty()) {
    for (const auto& [file, doc] : docs) std::cout << text_of(doc);
    return kOk;
  }
  if (!prepare_out_dir(o.out_dir)) return kUsage;
  for (const auto& [file, doc] : docs)
    if (!write_file(fs::path(o.out_dir) / file, text_of(doc), doc["kind"] == "Secret" ? 0600 : 0644)) return kUsage;
  if (!o.quiet)
    std::cerr << fmt::format("bloom: wrote {} manifests for {} node{} to {} (kubectl apply -f {})\n", docs.size(), dep->nodes.size(),
                             dep->nodes.size() == 1 ? "" : "s", o.out_dir, o.out_dir);
  return kOk;
}

// ---------------------------------------------------------------- bloom deploy systemd

int deploy_systemd(const SystemdOptions& o) {
  auto dep = load_deployment(o.file);
  if (!dep) return kUsage;
  if (!dep->insecure && !dep->has_keys()) {
    std::cerr << fmt::format(
        "bloom: error: {} is secured with CURVE but names no keys, and `bloom node` needs them: run `bloom keygen "
        "NODE` for each node and add the lines it prints to the node's table (docs/security.md), or set "
        "`insecure = true` (trusted networks only)\n",
        o.file);
    return kUsage;
  }
  // A node whose program does not compile would only fail on its machine: say so here.
  for (const auto& n : dep->nodes) {
    std::set<std::string> files;
    if (int exit = program_files(o.file, n, files); exit != kOk) return exit;
  }
  std::string name = deployment_name(o.file, o.name);
  for (char& c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') c = '-';
  const fs::path dep_file = fs::weakly_canonical(dep->path);
  const fs::path dep_dir = dep_file.parent_path();
  // Where the deployment's directory is on the machines: here, unless --root says otherwise.
  auto there = [&](const std::string& path) {
    return o.root.empty() ? path : (fs::path(o.root) / fs::path(path).lexically_relative(dep_dir)).lexically_normal().string();
  };
  // A systemd command line: every argument quoted, `%` and `$` escaped (they are specifiers and
  // variables to systemd).
  auto quote = [](const std::string& arg) {
    std::string q = "\"";
    for (char c : arg) {
      if (c == '"' || c == '\\') q += '\\';
      if (c == '%') q += '%';
      if (c == '$') q += '$';
      q += c;
    }
    return q + "\"";
  };
  std::vector<std::pair<std::string, std::string>> units;
  for (const auto& n : dep->nodes) {
    for (const auto& [what, path] : {std::pair{"program", n.program}, std::pair{"facts directory", n.facts}})
      if (!path.empty() && !o.root.empty() && fs::path(fs::weakly_canonical(path)).lexically_relative(dep_dir).begin()->string() == "..") {
        std::cerr << fmt::format(
            "{}:{}:{}: warning: the {} of node `{}` ({}) lies outside the deployment's directory: it is "
            "expected at {} on the machine\n",
            o.file, n.line, n.column, what, n.name, path, there(fs::weakly_canonical(path).string()));
      }
    const std::string unit = "bloom-" + name + "-" + n.name;
    std::string exec = quote(o.bloom) + " node " + quote(there(fs::weakly_canonical(n.program).string())) + " --deployment " +
                       quote(there(dep_file.string())) + " --name " + quote(n.name);
    std::ostringstream u;
    u << "# Written by `bloom deploy systemd`: node `" << n.name << "` of " << fs::path(o.file).filename().string()
      << " (docs/deploy.md).\n"
      << "[Unit]\n"
      << "Description=Bloom node " << n.name << " of deployment " << name << "\n"
      << "Wants=network-online.target\n"
      << "After=network-online.target\n\n"
      << "[Service]\n"
      << "Type=exec\n";
    if (!n.data_dir.empty()) {
      exec += " --data-dir " + quote("/var/lib/" + unit);
      u << "# The durable tables (data_dir): /var/lib/" << unit << ", kept across restarts.\n"
        << "StateDirectory=" << unit << "\n";
    }
    u << "ExecStart=" << exec << "\n"
      << "Restart=on-failure\n"
      << "RestartSec=1s\n";
    if (!o.user.empty() || dep->has_keys()) {
      // The secret key file must be readable by the node, and by nobody else: a fixed user.
      u << "User=" << (o.user.empty() ? "bloom" : o.user) << "\n";
    } else {
      u << "DynamicUser=yes\n";
    }
    u << "# The JIT's code cache (~/.cache is read-only here).\n"
      << "CacheDirectory=" << unit << "\n"
      << "Environment=BLOOM_JIT_CACHE=/var/cache/" << unit << "\n"
      << "NoNewPrivileges=yes\n"
      << "ProtectSystem=strict\n"
      << "ProtectHome=read-only\n"
      << "PrivateTmp=yes\n"
      << "PrivateDevices=yes\n"
      << "ProtectKernelTunables=yes\n"
      << "ProtectKernelModules=yes\n"
      << "ProtectControlGroups=yes\n"
      << "RestrictSUIDSGID=yes\n"
      << "RestrictRealtime=yes\n"
      << "LockPersonality=yes\n"
      << "# AF_NETLINK: name resolution asks the kernel for the machine's addresses.\n"
      << "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX AF_NETLINK\n"
      << "# Not MemoryDenyWriteExecute: the JIT writes the machine code it runs.\n\n"
      << "[Install]\n"
      << "WantedBy=multi-user.target\n";
    units.emplace_back(unit + ".service", u.str());
  }
  if (o.out_dir.empty()) {
    for (const auto& [file, text] : units) std::cout << "# ---- " << file << "\n" << text;
    return kOk;
  }
  if (!prepare_out_dir(o.out_dir)) return kUsage;
  for (const auto& [file, text] : units)
    if (!write_file(fs::path(o.out_dir) / file, text, 0644)) return kUsage;
  if (!o.quiet) std::cerr << fmt::format("bloom: wrote {} unit{} to {}\n", units.size(), units.size() == 1 ? "" : "s", o.out_dir);
  return kOk;
}

}  // namespace bloom::cli
