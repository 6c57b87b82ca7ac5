#include "analysis/lint_report.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <ostream>
#include <tuple>
#include <sstream>
#include <string_view>

namespace bloom::analysis {
namespace {

using nlohmann::json;

std::string name(const sema::Program& p, sema::CollectionId c) {
  return c == kLocalOrigin ? "(local)" : c == kClockOrigin ? "(clock)" : p.collections[c].name;
}

// Notes longer than this shared prefix are not repeated in text: a path that joins one printed
// for an earlier finding says so in one line (each hop is printed in full once).
constexpr uint32_t kSharedPrefix = 2;
// Sinks named in a text report's `affects:` line; JSON lists them all.
constexpr size_t kTaintsShown = 10;

// The text form of the findings. Paths are shared: a finding whose path joins a path already
// printed refers to the finding that printed it instead of repeating its hops, so the report
// grows with the number of hops, not with findings times path length.
class TextReport {
 public:
  TextReport(const SourceManager& sm, const sema::Program& p, const CalmReport& r)
      : sm_(sm), p_(p), r_(r), shown_(r.hops.size(), kUnshown) {}

  Diagnostic diagnostic(const Finding& f, uint32_t index) {
    Diagnostic d;
    d.severity = Severity::Warning;
    d.code = to_string(f.kind);
    d.span = f.span;
    d.message = (f.suppressed ? "(suppressed) " : "") + f.message;
    if (f.kind == FindingKind::Race) d.note(f.other, "the other side of the join");
    // The deepest hop of this path already printed; its whole prefix was printed with it.
    std::vector<uint32_t> fresh;
    uint32_t joined = kNoHop;
    for (uint32_t h = f.path; h != kNoHop; h = r_.hops[h].parent) {
      if (shown_[h] != kUnshown) {
        joined = h;
        break;
      }
      fresh.push_back(h);
    }
    if (joined != kNoHop && r_.hops[joined].length < kSharedPrefix) {
      for (uint32_t h = joined; h != kNoHop; h = r_.hops[h].parent) fresh.push_back(h);
      joined = kNoHop;
    }
    if (joined != kNoHop) {
      uint32_t start = joined;
      while (r_.hops[start].parent != kNoHop) start = r_.hops[start].parent;
      const Finding& by = r_.findings[shown_[joined]];
      d.note(Span{}, "`" + name(p_, r_.hops[start].hop.collection) + "` reaches `" + name(p_, r_.hops[joined].hop.collection) +
                         "` by the " + std::to_string(r_.hops[joined].length) + " hops shown above for the finding at " +
                         sm_.location(by.span));
    }
    for (auto it = fresh.rbegin(); it != fresh.rend(); ++it) {
      if (shown_[*it] == kUnshown) shown_[*it] = index;
      const Hop& h = r_.hops[*it].hop;
      if (h.reads_clock) d.note(h.span, "reads the clock into `" + name(p_, h.collection) + "` here");
      else if (h.rule == UINT32_MAX)
        d.note(h.span,
               "`" + name(p_, h.collection) + "` is an asynchronous source (" + sema::to_string(p_.collections[h.collection].kind) + ")");
      else
        d.note(h.span, std::string(h.timing == Timing::Async      ? "sent asynchronously"
                                   : h.timing == Timing::Deferred ? "carried to the next tick"
                                                                  : "derived") +
                           " into `" + name(p_, h.collection) + "` here");
    }
    if (f.suppressed)
      d.note(Span{}, "suppressed: " + (f.suppression_reason.empty() ? std::string("(no reason given)") : f.suppression_reason));
    const auto& sinks = r_.taints_of(f);
    std::string taints;
    for (size_t i = 0; i < sinks.size() && i < kTaintsShown; ++i) taints += (taints.empty() ? "" : ", ") + name(p_, sinks[i]);
    if (sinks.size() > kTaintsShown)
      taints += " and " + std::to_string(sinks.size() - kTaintsShown) + " more (--format json lists them all)";
    std::string help = taints.empty() ? "" : "affects: " + taints;
    for (const auto& m : f.remedies) help += (help.empty() ? "" : "\n      ") + m;
    d.help = help;
    return d;
  }

 private:
  static constexpr uint32_t kUnshown = UINT32_MAX;
  const SourceManager& sm_;
  const sema::Program& p_;
  const CalmReport& r_;
  std::vector<uint32_t> shown_;  // per hop: the finding that printed it
};

}  // namespace

void render_lint_text(const SourceManager& sm, const sema::Program& p, const CalmReport& r, std::ostream& out, const RenderOptions& opts) {
  TextReport text(sm, p, r);
  for (uint32_t i = 0; i < r.findings.size(); ++i) render_text(sm, text.diagnostic(r.findings[i], i), out, opts);
  if (!r.findings.empty()) out << "\n";
  for (const auto& s : r.sealed_reads)
    out << sm.location(s.span) << ": sealed: the " << s.operation << " in a rule for `" << name(p, s.collection) << "` reads `"
        << name(p, s.sealed) << "` one complete partition (" << s.key << ") at a time, sealed by `" << name(p, s.punct)
        << "`: confluent per key (Blazes: Seal(" << s.key << "))\n";
  if (!r.sealed_reads.empty()) out << "\n";
  for (const auto& c : r.cancelled)
    out << sm.location(c.span) << ": cancelled: the negation of `" << name(p, c.negated) << "` into `" << name(p, c.collection)
        << "` is negated again at " << sm.location(c.by) << ", in a rule for `" << name(p, c.result) << "`: `" << name(p, c.result)
        << "` only gains rows as `" << name(p, c.negated) << "` grows, so neither negation is a point of order\n";
  if (!r.cancelled.empty()) out << "\n";
  for (auto c : r.sinks) {
    Label l = r.collection_label[c];
    out << sema::to_string(p.collections[c].kind) << " " << p.collections[c].name << ": " << to_string(l) << "  (" << meaning(l) << ")\n";
  }
  size_t pos = 0, races = 0, suppressed = 0;
  for (const auto& f : r.findings) {
    if (f.suppressed) ++suppressed;
    else if (f.kind == FindingKind::Race) ++races;
    else ++pos;
  }
  out << "verdict: " << describe(r.verdict()) << " (" << pos << " point" << (pos == 1 ? "" : "s") << " of order, " << races << " race"
      << (races == 1 ? "" : "s");
  if (suppressed) out << ", " << suppressed << " suppressed";
  out << ")\n";
}

namespace {

// Writes `j` pretty-printed (indent 2) as if nested `level` levels deep in a larger document.
void put(std::ostream& out, const json& j, int level) {
  std::string text = j.dump(2, ' ', false, json::error_handler_t::replace);
  std::string pad(static_cast<size_t>(2 * level), ' ');
  size_t from = 0;
  for (size_t nl; (nl = text.find('\n', from)) != std::string::npos; from = nl + 1)
    out.write(text.data() + from, static_cast<std::streamsize>(nl + 1 - from)) << pad;
  out.write(text.data() + from, static_cast<std::streamsize>(text.size() - from));
}

// A string as nlohmann::json writes it; plain printable ASCII (nearly every name, message and
// path) is written as it is, anything else through the library.
void put_string(std::ostream& out, std::string_view v) {
  bool plain = std::all_of(v.begin(), v.end(), [](char ch) { return ch >= 0x20 && ch < 0x7f && ch != '"' && ch != '\\'; });
  if (plain) out << '"' << v << '"';
  else out << json(std::string(v)).dump(-1, ' ', false, json::error_handler_t::replace);
}

// One object in nlohmann's pretty layout (indent 2) at nesting `level`, written straight to the
// stream: the arrays with one element per rule, hop or finding are the bulk of the document, and
// building a json value per element was a third of the time of a 50,000-rule lint. Callers give
// the keys in alphabetical order, as nlohmann writes them.
class Object {
 public:
  Object(std::ostream& out, int level) : out_(out), level_(level) { out_ << '{'; }
  Object(const Object&) = delete;
  Object& operator=(const Object&) = delete;
  ~Object() {
    if (!first_) {
      out_ << '\n';
      indent(level_);
    }
    out_ << '}';
  }
  Object& str(const char* k, std::string_view v) {
    key(k);
    put_string(out_, v);
    return *this;
  }
  Object& num(const char* k, uint64_t v) {
    key(k);
    out_ << v;
    return *this;
  }
  Object& hop(const char* k, uint32_t h) {  // an index into "hops", null for none
    key(k);
    if (h == kNoHop) out_ << "null";
    else out_ << h;
    return *this;
  }
  Object& boolean(const char* k, bool v) {
    key(k);
    out_ << (v ? "true" : "false");
    return *this;
  }
  Object& span(const char* k, const SourceManager& sm, const Span& s) {  // as span_json
    key(k);
    if (!s.valid() || s.file >= sm.size()) {
      out_ << "null";
      return *this;
    }
    Object o(out_, level_ + 1);
    o.num("column", s.col).num("end_column", s.end_col).num("end_line", s.end_line).str("file", sm.file(s.file).path).num("line", s.line);
    return *this;
  }
  Object& strings(const char* k, const std::vector<std::string>& v) {
    key(k);
    if (v.empty()) {
      out_ << "[]";
      return *this;
    }
    out_ << '[';
    for (size_t i = 0; i < v.size(); ++i) {
      out_ << (i ? ",\n" : "\n");
      indent(level_ + 2);
      put_string(out_, v[i]);
    }
    out_ << '\n';
    indent(level_ + 1);
    out_ << ']';
    return *this;
  }

 private:
  void key(const char* k) {
    out_ << (first_ ? "\n" : ",\n");
    first_ = false;
    indent(level_ + 1);
    out_ << '"' << k << "\": ";
  }
  void indent(int n) {
    for (int i = 0; i < n; ++i) out_ << "  ";
  }
  std::ostream& out_;
  int level_;
  bool first_ = true;
};

// put_array for elements written by `write(i, level)` as Objects at that level.
template <typename Write>
void put_objects(std::ostream& out, const std::string& pad, size_t n, int level, Write write) {
  if (n == 0) {
    out << "[]";
    return;
  }
  out << "[";
  for (size_t i = 0; i < n; ++i) {
    out << (i ? ",\n" : "\n") << pad << "  ";
    write(i, level + 1);
  }
  out << "\n" << pad << "]";
}

// Streams an array whose elements `make(i)` builds one at a time: the document is never held
// in memory whole (a 50,000-rule program has tens of thousands of findings).
template <typename Make>
void put_array(std::ostream& out, const std::string& pad, size_t n, int level, Make make) {
  put_objects(out, pad, n, level, [&](size_t i, int at) { put(out, make(i), at); });
}

}  // namespace

void write_lint_json(const SourceManager& sm, const sema::Program& p, const CalmReport& r, std::ostream& out, int level) {
  // Paths, sets of sinks and sets of (origin, label) pairs are tables that findings and outputs
  // point into (docs/lint.md): shared, they make the document grow linearly with the program.
  std::map<std::vector<PathLabel>, size_t, bool (*)(const std::vector<PathLabel>&, const std::vector<PathLabel>&)> path_set_of(
      [](const std::vector<PathLabel>& a, const std::vector<PathLabel>& b) {
        return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end(), [](const PathLabel& x, const PathLabel& y) {
          return std::tie(x.origin, x.label) < std::tie(y.origin, y.label);
        });
      });
  std::vector<const std::vector<PathLabel>*> path_sets;
  std::vector<size_t> output_paths;
  for (auto c : r.sinks) {
    auto [it, fresh] = path_set_of.emplace(r.paths[c], path_sets.size());
    if (fresh) path_sets.push_back(&r.paths[c]);
    output_paths.push_back(it->second);
  }
  const std::string pad(static_cast<size_t>(2 * level), ' ');
  // Keys in alphabetical order, as nlohmann::json writes objects.
  out << "{\n" << pad << "  \"findings\": ";
  put_objects(out, pad + "  ", r.findings.size(), level + 1, [&](size_t i, int at) {
    const Finding& f = r.findings[i];
    Object o(out, at);
    o.str("collection", name(p, f.collection)).str("kind", to_string(f.kind)).str("message", f.message).str("operation", f.operation);
    if (f.kind == FindingKind::Race) o.span("other_span", sm, f.other);
    o.hop("path", f.path)
        .strings("remedies", f.remedies)
        .str("source", name(p, f.source))
        .span("span", sm, f.span)
        .boolean("suppressed", f.suppressed);
    if (f.suppressed) o.str("suppression_reason", f.suppression_reason);
    o.num("taints", f.taints);
  });
  out << ",\n" << pad << "  \"hops\": ";
  put_objects(out, pad + "  ", r.hops.size(), level + 1, [&](size_t i, int at) {
    const PathHop& ph = r.hops[i];
    Object o(out, at);
    o.str("collection", name(p, ph.hop.collection)).hop("parent", ph.parent);
    if (ph.hop.reads_clock) o.boolean("reads_clock", true);
    o.span("span", sm, ph.hop.span).str("timing", to_string(ph.hop.timing));
  });
  out << ",\n" << pad << "  \"outputs\": ";
  put_array(out, pad + "  ", r.sinks.size(), level + 1, [&](size_t i) {
    auto c = r.sinks[i];
    return json{{"collection", p.collections[c].name},
                {"kind", sema::to_string(p.collections[c].kind)},
                {"label", to_string(r.collection_label[c])},
                {"paths", output_paths[i]}};
  });
  out << ",\n" << pad << "  \"path_sets\": ";
  put_array(out, pad + "  ", path_sets.size(), level + 1, [&](size_t i) {
    json set = json::array();
    for (const auto& pl : *path_sets[i]) set.push_back({{"from", name(p, pl.origin)}, {"label", to_string(pl.label)}});
    return set;
  });
  out << ",\n" << pad << "  \"rules\": ";
  put_objects(out, pad + "  ", p.rules.size(), level + 1, [&](size_t i, int at) {
    Object(out, at).str("head", name(p, p.rules[i].head)).str("label", to_string(r.rule_label[i])).span("span", sm, p.rules[i].ast->span);
  });
  out << ",\n" << pad << "  \"cancelled\": ";
  put_array(out, pad + "  ", r.cancelled.size(), level + 1, [&](size_t i) {
    const CancelledNegation& c = r.cancelled[i];
    return json{{"by", span_json(sm, c.by)},
                {"collection", name(p, c.collection)},
                {"negated", name(p, c.negated)},
                {"result", name(p, c.result)},
                {"span", span_json(sm, c.span)}};
  });
  out << ",\n" << pad << "  \"sealed\": ";
  put_array(out, pad + "  ", r.sealed_reads.size(), level + 1, [&](size_t i) {
    const SealedRead& s = r.sealed_reads[i];
    return json{{"collection", name(p, s.collection)},
                {"key", s.key},
                {"operation", s.operation},
                {"punct", name(p, s.punct)},
                {"sealed", name(p, s.sealed)},
                {"span", span_json(sm, s.span)}};
  });
  out << ",\n" << pad << "  \"taint_sets\": ";
  put_array(out, pad + "  ", r.taint_sets.size(), level + 1, [&](size_t i) {
    json names = json::array();
    for (auto c : r.taint_sets[i]) names.push_back(name(p, c));
    return names;
  });
  out << ",\n" << pad << "  \"verdict\": " << json(to_string(r.verdict())) << "\n" << pad << "}";
}

namespace {

// RFC 3986: everything but unreserved characters and `/` is percent-encoded in a path.
std::string uri_path(const std::string& path) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : path) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '/') out += static_cast<char>(c);
    else out += {'%', hex[c >> 4], hex[c & 15]};
  }
  return out;
}

std::string directory_uri(const std::filesystem::path& dir) {
  std::string s = dir.generic_string();
  if (s.empty() || s.back() != '/') s += '/';
  return "file://" + uri_path(s);
}

}  // namespace

SarifUris::SarifUris(const std::string& program) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path cwd = fs::current_path(ec);
  if (!ec) bases_.push_back({"SRCROOT", cwd.lexically_normal()});
  fs::path dir = fs::absolute(program, ec).lexically_normal().parent_path();
  if (!ec && (bases_.empty() || dir != bases_[0].second)) bases_.push_back({"PROGRAMROOT", dir});
}

json SarifUris::artifact(const std::string& path) const {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path abs = fs::absolute(path, ec).lexically_normal();
  if (ec) return {{"uri", uri_path(path)}};
  for (const auto& [id, base] : bases_) {
    fs::path rel = abs.lexically_relative(base);
    if (!rel.empty() && *rel.begin() != "..") {
      used_.insert(id);
      return {{"uri", uri_path(rel.generic_string())}, {"uriBaseId", id}};
    }
  }
  return {{"uri", "file://" + uri_path(abs.generic_string())}};
}

json SarifUris::original_uri_base_ids() const {
  json bases = json::object();
  for (const auto& [id, base] : bases_)
    if (used_.count(id)) bases[id] = {{"uri", directory_uri(base)}};
  return bases;
}

json sarif_run(const SourceManager& sm, const sema::Program& p, const CalmReport& r, const std::string& tool_version, SarifUris& uris) {
  auto location = [&](const Span& s, const std::string& msg) {
    json loc = {{"physicalLocation",
                 {{"artifactLocation", s.valid() ? uris.artifact(sm.file(s.file).path) : json{{"uri", ""}}},
                  {"region",
                   {{"startLine", std::max<uint32_t>(s.line, 1)},
                    {"startColumn", std::max<uint32_t>(s.col, 1)},
                    {"endLine", std::max<uint32_t>(s.end_line, 1)},
                    {"endColumn", std::max<uint32_t>(s.end_col, 1)}}}}}};
    if (!msg.empty()) loc["message"] = {{"text", msg}};
    return loc;
  };
  // The collection a finding is about, qualified by its module instance (`q.votes`): two
  // instances of one module share the source lines, and this tells their results apart.
  auto logical = [&](sema::CollectionId c) {
    std::string full = name(p, c);
    size_t dot = full.rfind('.');
    json l = {{"name", dot == std::string::npos ? full : full.substr(dot + 1)},
              {"fullyQualifiedName", full},
              {"kind", dot == std::string::npos ? "variable" : "member"}};
    return l;
  };
  json rules = json::array({{{"id", "point-of-order"},
                             {"name", "PointOfOrder"},
                             {"shortDescription", {{"text", "A non-monotone operation sees asynchronous input"}}},
                             {"fullDescription",
                              {{"text",
                                "Negation, aggregation, deletion, upsert, a lattice reveal or now() whose input can arrive asynchronously: "
                                "its result may depend on message order or timing, so the program may need coordination here (CALM)."}}},
                             {"defaultConfiguration", {{"level", "warning"}}},
                             {"helpUri", "docs/lint.md"}},
                            {{"id", "race"},
                             {"name", "Race"},
                             {"shortDescription", {{"text", "A join of transient inputs from different asynchronous arrivals"}}},
                             {"fullDescription",
                              {{"text",
                                "Two channel or scratch inputs joined without a table or lattice guarding either side match only when both "
                                "arrive in the same tick."}}},
                             {"defaultConfiguration", {{"level", "warning"}}},
                             {"helpUri", "docs/lint.md"}}});
  // Findings' paths share their prefixes (branches of one tree per source), so each distinct step
  // is written once, in the run's threadFlowLocations, and a thread flow lists indexes into it
  // (SARIF 2.1.0's run.threadFlowLocations and threadFlowLocation.index): a step then costs a
  // few bytes per finding instead of a whole location object.
  json steps = json::array();
  std::map<std::tuple<FileId, uint32_t, uint32_t, uint32_t, uint32_t, std::string>, size_t> step_index;
  auto step = [&](const Span& s, const std::string& msg) {
    auto [it, added] = step_index.try_emplace({s.file, s.line, s.col, s.end_line, s.end_col, msg}, steps.size());
    if (added) steps.push_back({{"location", location(s, msg)}});
    return json{{"index", it->second}};
  };
  json results = json::array();
  for (const auto& f : r.findings) {
    std::string text = f.message;
    for (const auto& m : f.remedies) text += "\nRemedy: " + m;
    json flow = json::array();
    for (const auto& h : r.path_of(f)) flow.push_back(step(h.span, "`" + name(p, h.collection) + "`"));
    flow.push_back(step(f.span, f.operation));
    json res = {{"ruleId", to_string(f.kind)},
                {"level", "warning"},
                {"message", {{"text", text}}},
                {"locations", json::array({location(f.span, "")})},
                {"codeFlows", json::array({{{"threadFlows", json::array({{{"locations", flow}}})}}})},
                {"properties", {{"remedies", f.remedies}, {"source", name(p, f.source)}}}};
    res["locations"][0]["logicalLocations"] = json::array({logical(f.collection)});
    res["partialFingerprints"] = {{"bloomFinding/v1", std::string(to_string(f.kind)) + ":" + f.operation + ":" + name(p, f.collection) +
                                                          ":" + std::to_string(f.span.line) + ":" + std::to_string(f.span.col)}};
    if (f.suppressed) res["suppressions"] = json::array({{{"kind", "inSource"}, {"justification", f.suppression_reason}}});
    results.push_back(std::move(res));
  }
  json outputs = json::array();
  for (auto c : r.sinks)
    outputs.push_back(
        {{"collection", name(p, c)}, {"kind", sema::to_string(p.collections[c].kind)}, {"label", to_string(r.collection_label[c])}});
  json run = {{"tool", {{"driver", {{"name", "bloom"}, {"version", tool_version}, {"informationUri", "docs/lint.md"}, {"rules", rules}}}}},
              {"results", results},
              {"threadFlowLocations", steps},
              {"properties", {{"verdict", to_string(r.verdict())}, {"outputs", outputs}}}};
  json bases = uris.original_uri_base_ids();
  if (!bases.empty()) run["originalUriBaseIds"] = bases;
  return run;
}

json sarif_log(json runs) {
  return {{"$schema", "https://json.schemastore.org/sarif-2.1.0.json"}, {"version", "2.1.0"}, {"runs", std::move(runs)}};
}

std::string render_lint_sarif(const SourceManager& sm, const sema::Program& p, const CalmReport& r, const std::string& tool_version) {
  SarifUris uris(p.modules.empty() ? std::string() : sm.file(p.modules[0]->file).path);
  return sarif_log(json::array({sarif_run(sm, p, r, tool_version, uris)})).dump(2, ' ', false, json::error_handler_t::replace);
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
    // The id carries into Graphviz's SVG, where the HTML report (lint_html.h) finds the node.
    o << "  " << quoted(c.name) << " [id=" << quoted("coll_" + c.name) << ", shape=" << shape
      << ", fillcolor=" << quoted(colour(r.collection_label[c.id]))
      << ", label=" << quoted(c.name + "\n" + sema::to_string(c.kind) + " · " + to_string(r.collection_label[c.id])) << "];\n";
  }
  for (const Edge& e : g.edges()) {
    std::string attrs;
    if (e.timing == Timing::Async) attrs += "style=dashed";
    else if (e.timing == Timing::Deferred) attrs += "style=dotted";
    if (!e.monotone())
      attrs += std::string(attrs.empty() ? "" : ", ") + "color=red, fontcolor=red, label=" + quoted(sema::to_string(e.why));
    o << "  " << quoted(p.collections[e.from].name) << " -> " << quoted(p.collections[e.to].name);
    if (!attrs.empty()) o << " [" << attrs << "]";
    o << ";\n";
  }
  o << "}\n";
  return o.str();
}

}  // namespace bloom::analysis
