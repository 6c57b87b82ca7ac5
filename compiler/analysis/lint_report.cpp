#include "analysis/lint_report.h"

#include <nlohmann/json.hpp>
#include <ostream>
#include <sstream>

namespace bloom::analysis {
namespace {

using nlohmann::json;

std::string name(const sema::Program& p, sema::CollectionId c) {
  return c == kLocalOrigin ? "(local)" : c == kClockOrigin ? "(clock)" : p.collections[c].name;
}


Diagnostic to_diagnostic(const sema::Program& p, const Finding& f) {
  Diagnostic d;
  d.severity = Severity::Warning;
  d.code = to_string(f.kind);
  d.span = f.span;
  d.message = (f.suppressed ? "(suppressed) " : "") + f.message;
  if (f.kind == FindingKind::Race) d.note(f.other, "the other side of the join");
  for (const auto& h : f.path) {
    if (h.reads_clock)
      d.note(h.span, "reads the clock into `" + name(p, h.collection) + "` here");
    else if (h.rule == UINT32_MAX)
      d.note(h.span, "`" + name(p, h.collection) + "` is an asynchronous source (" + sema::to_string(p.collections[h.collection].kind) + ")");
    else
      d.note(h.span, std::string(h.timing == Timing::Async ? "sent asynchronously" : h.timing == Timing::Deferred ? "carried to the next tick" : "derived") +
                         " into `" + name(p, h.collection) + "` here");
  }
  if (f.suppressed) d.note(Span{}, "suppressed: " + (f.suppression_reason.empty() ? std::string("(no reason given)") : f.suppression_reason));
  std::string taints;
  for (auto c : f.taints) taints += (taints.empty() ? "" : ", ") + name(p, c);
  std::string help = taints.empty() ? "" : "affects: " + taints;
  for (const auto& r : f.remedies) help += (help.empty() ? "" : "\n      ") + r;
  d.help = help;
  return d;
}

}  // namespace

void render_lint_text(const SourceManager& sm, const sema::Program& p, const CalmReport& r, std::ostream& out,
                      const RenderOptions& opts) {
  for (const auto& f : r.findings) render_text(sm, to_diagnostic(p, f), out, opts);
  if (!r.findings.empty()) out << "\n";
  for (auto c : r.sinks) {
    Label l = r.collection_label[c];
    out << sema::to_string(p.collections[c].kind) << " " << p.collections[c].name << ": " << to_string(l) << "  ("
        << meaning(l) << ")\n";
  }
  size_t pos = 0, races = 0, suppressed = 0;
  for (const auto& f : r.findings) {
    if (f.suppressed) ++suppressed;
    else if (f.kind == FindingKind::Race) ++races;
    else ++pos;
  }
  out << "verdict: " << (r.needs_coordination() ? "needs coordination" : "coordination-free") << " (" << pos << " point"
      << (pos == 1 ? "" : "s") << " of order, " << races << " race" << (races == 1 ? "" : "s");
  if (suppressed) out << ", " << suppressed << " suppressed";
  out << ")\n";
}

std::string render_lint_json(const SourceManager& sm, const sema::Program& p, const CalmReport& r) {
  json outputs = json::array();
  for (auto c : r.sinks) {
    json paths = json::array();
    for (const auto& pl : r.paths[c]) paths.push_back({{"from", name(p, pl.origin)}, {"label", to_string(pl.label)}});
    outputs.push_back({{"collection", p.collections[c].name},
                       {"kind", sema::to_string(p.collections[c].kind)},
                       {"label", to_string(r.collection_label[c])},
                       {"paths", paths}});
  }
  json rules = json::array();
  for (size_t i = 0; i < p.rules.size(); ++i)
    rules.push_back({{"span", span_json(sm, p.rules[i].ast->span)},
                     {"head", name(p, p.rules[i].head)},
                     {"label", to_string(r.rule_label[i])}});
  json findings = json::array();
  for (const auto& f : r.findings) {
    json path = json::array();
    for (const auto& h : f.path)
      path.push_back({{"collection", name(p, h.collection)}, {"span", span_json(sm, h.span)}, {"timing", to_string(h.timing)}});
    json taints = json::array();
    for (auto c : f.taints) taints.push_back(name(p, c));
    json j = {{"kind", to_string(f.kind)},       {"operation", f.operation},       {"collection", name(p, f.collection)},
              {"span", span_json(sm, f.span)},   {"source", name(p, f.source)},    {"path", path},
              {"taints", taints},                {"remedies", f.remedies},         {"suppressed", f.suppressed},
              {"message", f.message}};
    if (f.kind == FindingKind::Race) j["other_span"] = span_json(sm, f.other);
    if (f.suppressed) j["suppression_reason"] = f.suppression_reason;
    findings.push_back(std::move(j));
  }
  json root = {{"verdict", r.needs_coordination() ? "needs-coordination" : "coordination-free"},
               {"outputs", outputs},
               {"rules", rules},
               {"findings", findings}};
  return root.dump(2, ' ', false, json::error_handler_t::replace);
}

std::string render_lint_sarif(const SourceManager& sm, const sema::Program& p, const CalmReport& r,
                              const std::string& tool_version) {
  auto location = [&](const Span& s, const std::string& msg) {
    json loc = {{"physicalLocation",
                 {{"artifactLocation", {{"uri", s.valid() ? sm.file(s.file).path : std::string("")}}},
                  {"region", {{"startLine", std::max<uint32_t>(s.line, 1)}, {"startColumn", std::max<uint32_t>(s.col, 1)},
                              {"endLine", std::max<uint32_t>(s.end_line, 1)}, {"endColumn", std::max<uint32_t>(s.end_col, 1)}}}}}};
    if (!msg.empty()) loc["message"] = {{"text", msg}};
    return loc;
  };
  json rules = json::array({
      {{"id", "point-of-order"},
       {"name", "PointOfOrder"},
       {"shortDescription", {{"text", "A non-monotone operation sees asynchronous input"}}},
       {"fullDescription", {{"text", "Negation, aggregation, deletion, upsert, a lattice reveal or now() whose input can arrive asynchronously: its result may depend on message order or timing, so the program may need coordination here (CALM)."}}},
       {"defaultConfiguration", {{"level", "warning"}}},
       {"helpUri", "docs/lint.md"}},
      {{"id", "race"},
       {"name", "Race"},
       {"shortDescription", {{"text", "A join of transient inputs from different asynchronous arrivals"}}},
       {"fullDescription", {{"text", "Two channel or scratch inputs joined without a table or lattice guarding either side match only when both arrive in the same tick."}}},
       {"defaultConfiguration", {{"level", "warning"}}},
       {"helpUri", "docs/lint.md"}}});
  json results = json::array();
  for (const auto& f : r.findings) {
    std::string text = f.message;
    for (const auto& m : f.remedies) text += "\nRemedy: " + m;
    json flow = json::array();
    for (const auto& h : f.path)
      flow.push_back({{"location", location(h.span, "`" + name(p, h.collection) + "`")}});
    flow.push_back({{"location", location(f.span, f.operation)}});
    json res = {{"ruleId", to_string(f.kind)},
                {"level", "warning"},
                {"message", {{"text", text}}},
                {"locations", json::array({location(f.span, "")})},
                {"codeFlows", json::array({{{"threadFlows", json::array({{{"locations", flow}}})}}})},
                {"properties", {{"remedies", f.remedies}, {"source", name(p, f.source)}}}};
    if (f.suppressed)
      res["suppressions"] = json::array({{{"kind", "inSource"}, {"justification", f.suppression_reason}}});
    results.push_back(std::move(res));
  }
  json run = {{"tool", {{"driver", {{"name", "bloom"}, {"version", tool_version}, {"informationUri", "docs/lint.md"}, {"rules", rules}}}}},
              {"results", results}};
  json root = {{"$schema", "https://json.schemastore.org/sarif-2.1.0.json"}, {"version", "2.1.0"}, {"runs", json::array({run})}};
  return root.dump(2, ' ', false, json::error_handler_t::replace);
}

std::string render_lint_dot(const sema::Program& p, const DependencyGraph& g, const CalmReport& r) {
  auto colour = [](Label l) {
    switch (l) {
      case Label::M: return "#b7e1b0";
      case Label::A: return "#a9c8f0";
      case Label::N: return "#f5d08a";
      case Label::D: return "#f08a8a";
    }
    return "white";
  };
  auto quoted = [](const std::string& s) {
    std::string q = "\"";
    for (char c : s) {
      if (c == '\n') q += "\\n";  // a line break inside a Graphviz label
      else if (c == '"' || c == '\\') q += std::string("\\") + c;
      else q += c;
    }
    return q + "\"";
  };
  std::ostringstream o;
  o << "digraph bloom {\n  rankdir=LR;\n  node [style=filled, fontname=\"Helvetica\"];\n";
  for (const auto& c : p.collections) {
    if (g.in(c.id).empty() && g.out(c.id).empty()) continue;
    bool sink = std::find(r.sinks.begin(), r.sinks.end(), c.id) != r.sinks.end();
    bool source = std::find(r.sources.begin(), r.sources.end(), c.id) != r.sources.end();
    const char* shape = source ? "invhouse" : sink ? "house" : "box";
    o << "  " << quoted(c.name) << " [shape=" << shape << ", fillcolor=" << quoted(colour(r.collection_label[c.id]))
      << ", label=" << quoted(c.name + "\n" + sema::to_string(c.kind) + " · " + to_string(r.collection_label[c.id])) << "];\n";
  }
  for (const Edge& e : g.edges()) {
    std::string attrs;
    if (e.timing == Timing::Async) attrs += "style=dashed";
    else if (e.timing == Timing::Deferred) attrs += "style=dotted";
    if (!e.monotone()) attrs += std::string(attrs.empty() ? "" : ", ") + "color=red, fontcolor=red, label=" + quoted(sema::to_string(e.why));
    o << "  " << quoted(p.collections[e.from].name) << " -> " << quoted(p.collections[e.to].name);
    if (!attrs.empty()) o << " [" << attrs << "]";
    o << ";\n";
  }
  o << "}\n";
  return o.str();
}

}  // namespace bloom::analysis
