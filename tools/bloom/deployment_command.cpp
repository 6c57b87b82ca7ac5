// `bloom check DEPLOY.toml` and `bloom lint DEPLOY.toml`: every node's program of a deployment,
// and the channels between them, checked before anything runs (docs/deploy.md).
#include <algorithm>
#include <cassert>
#include <iostream>
#include <map>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "analysis/calm.h"
#include "analysis/lint_report.h"
#include "cli.h"
#include "net/wire.h"
#include "syntax/diagnostics.h"

namespace bloom::cli {

namespace {

struct NodeProgram {
  const rt::DeploymentNode* node = nullptr;
  std::unique_ptr<Compilation> compilation;
  std::unique_ptr<plan::Program> plan;
};

// Compiles every node's program, printing its diagnostics; the worst exit status.
int compile_nodes(const std::string& file, const rt::Deployment& dep, const std::string& color, std::vector<NodeProgram>& out) {
  int worst = kOk;
  for (const auto& n : dep.nodes) {
    NodeProgram np;
    np.node = &n;
    np.plan = compile_node(file, n, color, np.compilation, worst);
    out.push_back(std::move(np));
  }
  return worst;
}

// Whether a rule of `p` sends on / reads channel `id`.
bool sends(const plan::Program& p, uint32_t id) {
  for (const auto& r : p.transitions)
    if (r.op == plan::HeadOp::Send && r.head == id) return true;
  return false;
}
bool reads(const plan::Program& p, uint32_t id) {
  auto in = [&](const plan::RulePlan& r) {
    return std::any_of(r.steps.begin(), r.steps.end(), [&](const plan::Step& s) {
      return (s.kind == plan::StepKind::Scan || s.kind == plan::StepKind::Lookup || s.kind == plan::StepKind::AntiJoin) && s.relation == id;
    });
  };
  for (const auto& st : p.strata) {
    for (const auto& sl : st.seals)
      if (sl.sealed == id || sl.punct == id) return true;
    for (const auto& g : st.groups)
      for (const auto& r : g.rules)
        if (in(r)) return true;
  }
  return std::any_of(p.transitions.begin(), p.transitions.end(), in);
}

// Channels are matched across the programs by name. Errors: one name with different columns in
// two programs (their messages would be refused), and a channel a node sends that no other
// program declares while one declares a name close to it (a typo: every message would be
// refused). Warning: a channel a program reads that no program sends. Returns the error count.
size_t check_channels(const std::string& file, const std::vector<NodeProgram>& nodes, bool quiet) {
  struct Use {
    const NodeProgram* np;
    const plan::Relation* decl;
    bool sent, read;
  };
  std::map<std::string, std::vector<Use>> by_name;
  for (const auto& np : nodes)
    for (const auto& r : np.plan->relations)
      if (r.kind == plan::RelationKind::Channel) by_name[r.name].push_back({&np, &r, sends(*np.plan, r.id), reads(*np.plan, r.id)});
  size_t errors = 0;
  std::set<std::string> said;  // one message per declaration, not per node running it
  auto once = [&](const std::string& key) { return said.insert(key).second; };
  for (const auto& [name, uses] : by_name) {
    const Use& first = uses.front();
    for (const Use& u : uses)
      if (u.decl->column_types != first.decl->column_types && once("schema " + name)) {
        ++errors;
        std::cerr << fmt::format(
            "{}: error: channel `{}` is {} in node `{}` but {} in node `{}`: their messages to each other would be refused\n"
            "{}: note: declared here for node `{}`\n{}: note: declared here for node `{}`\n",
            file, name, rt::net::schema_signature(first.decl->column_types), first.np->node->name,
            rt::net::schema_signature(u.decl->column_types), u.np->node->name, first.decl->where, first.np->node->name, u.decl->where,
            u.np->node->name);
      }
    bool anyone_sends = std::any_of(uses.begin(), uses.end(), [](const Use& u) { return u.sent; });
    for (const Use& u : uses) {
      bool elsewhere = std::any_of(uses.begin(), uses.end(), [&](const Use& v) { return v.np->node->program != u.np->node->program; });
      if (u.sent && !elsewhere && nodes.size() > 1) {
        // Sent, and no other program has it: the messages can only go to nodes running this one.
        std::vector<std::string> candidates;
        std::map<std::string, const Use*> decl_of;
        for (const auto& [other, others] : by_name)
          for (const Use& v : others)
            if (v.np->node->program != u.np->node->program && other != name) {
              candidates.push_back(other);
              decl_of.emplace(other, &v);
            }
        std::string near = closest_match(name, candidates);
        if (!near.empty() && once("typo " + u.decl->where)) {
          ++errors;
          const Use& v = *decl_of[near];
          std::cerr << fmt::format(
              "{}: error: node `{}` sends on channel `{}`, which no other node's program declares: did you mean `{}`?\n"
              "{}: note: `{}` is declared here for node `{}`\n{}: note: `{}` is declared here for node `{}`\n",
              file, u.np->node->name, name, near, u.decl->where, name, u.np->node->name, v.decl->where, near, v.np->node->name);
        }
      }
      if (u.read && !anyone_sends && !quiet && once("unsent " + u.decl->where))
        std::cerr << fmt::format(
            "{}: warning: node `{}` reads channel `{}`, which no node of the deployment sends\n{}: note: declared here\n", file,
            u.np->node->name, name, u.decl->where);
    }
  }
  return errors;
}

bool load(const std::string& file, const std::string& format, const std::set<std::string>& formats, std::optional<rt::Deployment>& dep) {
  if (!formats.count(format)) {
    std::cerr << "bloom: error: --format " << format << " is not available for a deployment: use "
              << fmt::format("{}", fmt::join(formats, ", ")) << "\n";
    return false;
  }
  dep = load_deployment(file);
  return dep.has_value();
}

}  // namespace

int check_deployment(const std::string& file, const std::string& format, const std::string& color, bool quiet) {
  std::optional<rt::Deployment> dep;
  if (!load(file, format, {"text"}, dep)) return kUsage;
  std::vector<NodeProgram> nodes;
  if (int exit = compile_nodes(file, *dep, color, nodes); exit != kOk) return exit;
  size_t errors = check_channels(file, nodes, quiet);
  if (errors) {
    std::cerr << errors << " error" << (errors == 1 ? "" : "s") << " generated.\n";
    return kCompileError;
  }
  if (!quiet) {
    std::set<std::string> programs;
    for (const auto& n : dep->nodes) programs.insert(n.program);
    std::cout << fmt::format("{}: ok ({} node{}, {} program{})\n", file, dep->nodes.size(), dep->nodes.size() == 1 ? "" : "s",
                             programs.size(), programs.size() == 1 ? "" : "s");
  }
  return kOk;
}

namespace {

// One report per program and params: nodes running the same program with the same params have
// the same report.
struct LintGroup {
  std::string program;
  std::vector<size_t> members;  // indexes into the deployment's nodes
  std::string names;            // theirs, comma-separated
  const analysis::CalmReport* report = nullptr;
  analysis::Verdict verdict = analysis::Verdict::CoordinationFree;
  std::string reason;  // the verdict in words, as the text report prints it
};

void write_json(const std::string& file, const std::vector<NodeProgram>& nodes, const std::vector<LintGroup>& groups,
                const std::map<std::string, std::set<std::string>>& diffluent_from, analysis::Verdict verdict) {
  nlohmann::json j_nodes = nlohmann::json::array();
  for (const auto& g : groups)
    for (size_t i : g.members)
      j_nodes.push_back(
          {{"name", nodes[i].node->name}, {"program", g.program}, {"verdict", analysis::to_string(g.verdict)}, {"reason", g.reason}});
  nlohmann::json channels = nlohmann::json::array();
  for (const auto& [name, from] : diffluent_from) channels.push_back({{"channel", name}, {"derived_diffluent_by", from}});
  auto field = [](const std::string& key, const nlohmann::json& value) {
    std::cout << "  " << nlohmann::json(key) << ": " << value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  };
  // Keys in alphabetical order; each program's report is the single-program document.
  std::cout << "{\n";
  field("deployment", file);
  std::cout << ",\n";
  field("diffluent_channels", channels);
  std::cout << ",\n";
  field("nodes", j_nodes);
  std::cout << ",\n  \"programs\": [";
  for (size_t k = 0; k < groups.size(); ++k) {
    const auto& g = groups[k];
    const Compilation& c = *nodes[g.members.front()].compilation;
    nlohmann::json names = nlohmann::json::array();
    for (size_t i : g.members) names.push_back(nodes[i].node->name);
    std::cout << (k ? ",\n" : "\n") << "    {\n      \"nodes\": " << names.dump() << ",\n      \"program\": " << nlohmann::json(g.program)
              << ",\n      \"report\": ";
    analysis::write_lint_json(c.sources, *c.program, *g.report, std::cout, 3);
    std::cout << "\n    }";
  }
  std::cout << (groups.empty() ? "]" : "\n  ]") << ",\n";
  field("verdict", analysis::to_string(verdict));
  std::cout << "\n}\n";
}

void write_sarif(const std::string& file, const std::vector<NodeProgram>& nodes, const std::vector<LintGroup>& groups,
                 const std::map<std::string, std::set<std::string>>& diffluent_from, analysis::Verdict verdict) {
  nlohmann::json runs = nlohmann::json::array();
  nlohmann::json verdicts = nlohmann::json::object();
  for (const auto& g : groups) {
    const Compilation& c = *nodes[g.members.front()].compilation;
    analysis::SarifUris uris(g.program);
    nlohmann::json run = analysis::sarif_run(c.sources, *c.program, *g.report, BLOOM_VERSION, uris);
    nlohmann::json names = nlohmann::json::array();
    for (size_t i : g.members) {
      names.push_back(nodes[i].node->name);
      verdicts[nodes[i].node->name] = analysis::to_string(g.verdict);
    }
    run["automationDetails"] = {{"id", "bloom-lint/" + g.names + "/"}};
    run["properties"]["nodes"] = names;
    run["properties"]["program"] = g.program;
    run["properties"]["verdict"] = analysis::to_string(g.verdict);
    run["properties"]["reason"] = g.reason;
    runs.push_back(std::move(run));
  }
  nlohmann::json log = analysis::sarif_log(std::move(runs));
  nlohmann::json channels = nlohmann::json::object();
  for (const auto& [name, from] : diffluent_from) channels[name] = from;
  log["properties"] = {
      {"deployment", file}, {"verdict", analysis::to_string(verdict)}, {"nodes", verdicts}, {"diffluent_channels", channels}};
  std::cout << log.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
}

}  // namespace

int lint_deployment(const std::string& file, const std::string& format, const std::string& color) {
  std::optional<rt::Deployment> dep;
  if (!load(file, format, {"text", "json", "sarif"}, dep)) return kUsage;
  std::vector<NodeProgram> nodes;
  if (int exit = compile_nodes(file, *dep, color, nodes); exit != kOk) return exit;
  if (check_channels(file, nodes, false)) return kCompileError;
  std::map<std::pair<std::string, std::vector<std::pair<std::string, std::string>>>, std::vector<size_t>> groups;
  for (size_t i = 0; i < nodes.size(); ++i) groups[{nodes[i].node->program, nodes[i].node->params}].push_back(i);
  // Labels cross the channels: a channel some node derives D arrives D at every node that reads
  // it, which can make that node's own channels D in turn. Labels only grow, so this ends.
  std::set<std::string> diffluent;
  std::map<std::string, std::set<std::string>> diffluent_from;  // channel -> the nodes deriving it D
  std::map<size_t, analysis::CalmReport> reports;               // by the group's first node
  for (;;) {
    std::set<std::string> next = diffluent;
    for (const auto& [key, members] : groups) {
      const Compilation& c = *nodes[members.front()].compilation;
      auto& report = reports[members.front()] = analysis::analyze_calm(*c.program, *c.graph, diffluent);
      for (sema::CollectionId sink : report.sinks) {
        const auto& col = c.program->collections[sink];
        if (col.kind != sema::CollectionKind::Channel || report.collection_label[sink] != analysis::Label::D) continue;
        next.insert(col.name);
        for (size_t i : members) diffluent_from[col.name].insert(nodes[i].node->name);
      }
    }
    if (next == diffluent) break;
    diffluent = std::move(next);
  }
  [[maybe_unused]] bool fails = false;  // checked against the verdict below
  std::vector<LintGroup> lint_groups;
  std::vector<std::vector<std::string>> incoming_of;  // per group: the diffluent channels it reads
  for (const auto& [key, members] : groups) {
    const Compilation& c = *nodes[members.front()].compilation;
    const analysis::CalmReport& report = reports[members.front()];
    LintGroup g;
    g.program = key.first;
    g.members = members;
    g.report = &report;
    for (size_t i : members) g.names += (g.names.empty() ? "" : ", ") + nodes[i].node->name;
    fails = fails || report.fails();
    std::vector<std::string> incoming;
    for (sema::CollectionId src : report.sources)
      if (diffluent.count(c.program->collections[src].name)) incoming.push_back(c.program->collections[src].name);
    g.verdict = report.verdict();
    g.reason =
        report.fails() ? fmt::format("needs coordination ({} finding{})", report.unsuppressed(), report.unsuppressed() == 1 ? "" : "s")
        : !incoming.empty() && report.needs_coordination() ? fmt::format("needs coordination: it derives from diffluent channel{} {}",
                                                                         incoming.size() == 1 ? "" : "s", fmt::join(incoming, ", "))
        : report.needs_coordination()                      ? "needs coordination (acknowledged findings)"
                                                           : "coordination-free";
    if (!report.needs_coordination()) incoming.clear();  // read, but nothing diffluent comes of it here
    incoming_of.push_back(std::move(incoming));
    lint_groups.push_back(std::move(g));
  }
  // A node that is D only through diffluent channels inherits its senders' standing: it needs
  // coordination when some node deriving such a channel D has an unsuppressed finding behind it,
  // and is acknowledged when every one of them is. Standing only rises, so this ends.
  for (bool changed = true; changed;) {
    changed = false;
    for (size_t k = 0; k < lint_groups.size(); ++k) {
      if (lint_groups[k].verdict == analysis::Verdict::NeedsCoordination) continue;
      for (const auto& ch : incoming_of[k]) {
        bool upstream_needs = std::any_of(lint_groups.begin(), lint_groups.end(), [&](const LintGroup& h) {
          return h.verdict == analysis::Verdict::NeedsCoordination && std::any_of(h.members.begin(), h.members.end(), [&](size_t i) {
                   return diffluent_from[ch].count(nodes[i].node->name) > 0;
                 });
        });
        if (upstream_needs) {
          lint_groups[k].verdict = analysis::Verdict::NeedsCoordination;
          changed = true;
          break;
        }
      }
    }
  }
  analysis::Verdict verdict = analysis::Verdict::CoordinationFree;
  for (size_t k = 0; k < lint_groups.size(); ++k) {
    auto& g = lint_groups[k];
    if (g.verdict == analysis::Verdict::Acknowledged && !incoming_of[k].empty()) g.reason += " (acknowledged where it is derived)";
    verdict = std::max(verdict, g.verdict);
  }
  assert((verdict == analysis::Verdict::NeedsCoordination) == fails);
  if (format == "json") {
    write_json(file, nodes, lint_groups, diffluent_from, verdict);
  } else if (format == "sarif") {
    write_sarif(file, nodes, lint_groups, diffluent_from, verdict);
  } else {
    std::vector<std::string> verdicts(nodes.size());
    for (const auto& g : lint_groups) {
      const Compilation& c = *nodes[g.members.front()].compilation;
      std::cout << fmt::format("== node{} {}: {}\n", g.members.size() == 1 ? "" : "s", g.names, g.program);
      analysis::render_lint_text(c.sources, *c.program, *g.report, std::cout, {want_color(color, STDOUT_FILENO)});
      for (size_t i : g.members) verdicts[i] = g.reason;
    }
    for (const auto& name : diffluent)
      std::cout << fmt::format("channel `{}` is diffluent (D) where node{} {} derive{} it\n", name,
                               diffluent_from[name].size() == 1 ? "" : "s", fmt::join(diffluent_from[name], ", "),
                               diffluent_from[name].size() == 1 ? "s" : "");
    std::cout << "== " << file << "\n";
    for (size_t i = 0; i < nodes.size(); ++i) std::cout << fmt::format("node `{}`: {}\n", nodes[i].node->name, verdicts[i]);
    std::cout << fmt::format("deployment: {}\n", analysis::describe(verdict));
  }
  return verdict == analysis::Verdict::NeedsCoordination ? kNeedsCoordination : kOk;
}

}  // namespace bloom::cli
