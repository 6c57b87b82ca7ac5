#include "lsp/server.h"

#include <csignal>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <optional>

#include "analysis/calm.h"
#include "driver/driver.h"
#include "driver/ide.h"
#include "lsp/jsonrpc.h"
#include "sema/checker.h"
#include "syntax/format.h"
#include "syntax/parser.h"

namespace bloom::lsp {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// A request the server cannot answer as asked: its JSON-RPC error.
struct RpcError {
  int code;
  std::string message;
};

// ---- URIs ----

std::string percent_decode(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// The file a `file:` URI names; other schemes (an editor's untitled buffer) stay as they are:
// such a document checks, but its relative imports are not found.
std::string uri_to_path(const std::string& uri) {
  if (uri.rfind("file://", 0) != 0) return uri;
  std::string rest = uri.substr(7);
  size_t slash = rest.find('/');
  if (slash == std::string::npos) return uri;
  // Drops a host (file://localhost/...); normal, to be compared with the paths of imports.
  return fs::path(percent_decode(rest.substr(slash))).lexically_normal().string();
}

std::string path_to_uri(const std::string& path) {
  std::error_code ec;
  fs::path p = fs::absolute(path, ec);
  std::string abs = ec ? path : p.lexically_normal().string();
  static const char* hex = "0123456789ABCDEF";
  std::string out = "file://";
  for (unsigned char c : abs) {
    if (std::isalnum(c) || c == '/' || c == '-' || c == '.' || c == '_' || c == '~') out += static_cast<char>(c);
    else out += '%', out += hex[c >> 4], out += hex[c & 15];
  }
  return out;
}

// ---- Positions: ours are 1-based lines and code-point columns, LSP's 0-based lines and UTF-16 ----

size_t utf8_length(unsigned char lead) { return lead < 0x80 ? 1 : lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1; }

json position(const SourceFile& f, uint32_t line, uint32_t col) {
  if (line == 0) return {{"line", 0}, {"character", 0}};
  if (line > f.line_count()) {
    std::string_view last = f.line(f.line_count());
    line = f.line_count(), col = static_cast<uint32_t>(last.size()) + 1;  // the end, in bytes: ASCII is the common case
  }
  std::string_view text = f.line(line);
  uint32_t units = 0;
  size_t i = 0;
  for (uint32_t c = 1; c < col && i < text.size(); ++c) {
    size_t n = utf8_length(static_cast<unsigned char>(text[i]));
    units += n == 4 ? 2 : 1;  // beyond the Basic Multilingual Plane: a surrogate pair
    i += n;
  }
  return {{"line", line - 1}, {"character", units}};
}

json range(const SourceManager& sm, const Span& s) {
  if (!s.valid() || s.file >= sm.size()) return {{"start", {{"line", 0}, {"character", 0}}}, {"end", {{"line", 0}, {"character", 0}}}};
  const SourceFile& f = sm.file(s.file);
  return {{"start", position(f, s.line, s.col)}, {"end", position(f, s.end_line, s.end_col)}};
}

// An LSP position in `text` as our (line, column); false when it is not a position of the text.
bool from_position(const std::string& text, const json& pos, uint32_t& line, uint32_t& col) {
  if (!pos.is_object() || !pos.contains("line") || !pos.contains("character") || !pos["line"].is_number_unsigned() ||
      !pos["character"].is_number_unsigned())
    return false;
  uint64_t want_line = pos["line"].get<uint64_t>(), want_units = pos["character"].get<uint64_t>();
  size_t start = 0;
  for (uint64_t l = 0; l < want_line; ++l) {
    size_t nl = text.find('\n', start);
    if (nl == std::string::npos) return false;
    start = nl + 1;
  }
  size_t end = text.find('\n', start);
  if (end == std::string::npos) end = text.size();
  uint64_t units = 0;
  uint32_t c = 1;
  for (size_t i = start; i < end && units < want_units; ++c) {
    size_t n = utf8_length(static_cast<unsigned char>(text[i]));
    units += n == 4 ? 2 : 1;
    i += n;
  }
  line = static_cast<uint32_t>(want_line + 1), col = c;
  return true;
}

// Byte offset of an LSP position (for incremental changes); clamped to the text.
size_t offset_of(const std::string& text, const json& pos) {
  uint32_t line = 0, col = 0;
  if (!from_position(text, pos, line, col)) return text.size();
  size_t o = 0;
  for (uint32_t l = 1; l < line; ++l) o = text.find('\n', o) + 1;
  for (uint32_t c = 1; c < col && o < text.size() && text[o] != '\n'; ++c) o += utf8_length(static_cast<unsigned char>(text[o]));
  return std::min(o, text.size());
}

json end_of(const std::string& text) {
  size_t line = 0, last = 0;
  for (size_t i = 0; i < text.size(); ++i)
    if (text[i] == '\n') ++line, last = i + 1;
  size_t units = 0;
  for (size_t i = last; i < text.size();) {
    size_t n = utf8_length(static_cast<unsigned char>(text[i]));
    units += n == 4 ? 2 : 1;
    i += n;
  }
  return {{"line", line}, {"character", units}};
}

bool overlaps(const json& a, const json& b) {
  auto key = [](const json& p) { return std::pair(p["line"].get<int64_t>(), p["character"].get<int64_t>()); };
  return !(key(a["end"]) < key(b["start"]) || key(b["end"]) < key(a["start"]));
}

// ---- Documents ----

struct Document {
  std::string uri, path, text;
  int64_t version = 0;
  std::unique_ptr<Compilation> c;
  std::unique_ptr<analysis::CalmReport> calm;
  std::unique_ptr<ast::Module> parsed;  // when the program does not check: its syntax alone
  std::vector<ide::Fix> fixes;
  bool dirty = true;  // changed since it was last checked

  const ast::Module* module() const {
    if (c && c->program && !c->program->modules.empty()) return c->program->modules[0].get();
    return parsed.get();
  }
  std::optional<ide::View> view() const {
    const ast::Module* m = module();
    if (!c || !m) return std::nullopt;
    return ide::View{c->sources, *m, c->program.get(), calm.get()};
  }
};

class Server {
 public:
  Server(Transport& t, std::string version) : t_(t), version_(std::move(version)) {}

  // Returns the exit status once the session ends.
  int run() {
    std::string body, why;
    for (;;) {
      // Buffers are checked once the client pauses: while changes keep coming (typing), only
      // the last one is checked. A request about a changed buffer checks it first (fresh()).
      if (!t_.pending())
        for (auto& [uri, doc] : docs_) {
          if (!doc.dirty) continue;
          try {
            analyze(doc);
          } catch (const std::exception& e) {  // a compiler bug: that buffer goes unchecked, the server on
            std::cerr << "bloom lsp: internal error checking " << uri << ": " << e.what() << "\n";
          }
        }
      auto r = t_.read(body, why);
      if (r == Transport::Read::Eof) return shutdown_ ? 0 : 1;
      if (r == Transport::Read::BadHeader) {
        error(nullptr, kParseError, "bad message header: " + why);
        continue;
      }
      json msg;
      try {
        msg = json::parse(body);
      } catch (const json::exception& e) {
        error(nullptr, kParseError, std::string("the message is not JSON: ") + e.what());
        continue;
      }
      dispatch(msg);
      if (exit_) return *exit_;
    }
  }

 private:
  void send(json m) {
    m["jsonrpc"] = "2.0";
    t_.write(m);
  }
  void error(const json& id, int code, const std::string& message) {
    send({{"id", id}, {"error", {{"code", code}, {"message", message}}}});
  }

  void dispatch(const json& msg) {
    if (!msg.is_object() || !msg.contains("method") || !msg["method"].is_string()) {
      // A response to something we sent (we send no requests), or not a message at all.
      if (msg.is_object() && (msg.contains("result") || msg.contains("error"))) return;
      json id = msg.is_object() && msg.contains("id") ? msg["id"] : json(nullptr);
      error(id, kInvalidRequest, "not a JSON-RPC request or notification (an object with a \"method\" string)");
      return;
    }
    const std::string method = msg["method"];
    const bool request = msg.contains("id");
    const json id = request ? msg["id"] : json(nullptr);
    if (request && !id.is_string() && !id.is_number_integer()) {
      error(nullptr, kInvalidRequest, "a request id is a number or a string");
      return;
    }
    const json params = msg.contains("params") ? msg["params"] : json::object();
    try {
      if (method == "exit") {
        exit_ = shutdown_ ? 0 : 1;
        return;
      }
      if (!initialized_ && method != "initialize") {
        if (request) error(id, kServerNotInitialized, "the server is not initialized: send initialize first");
        return;  // notifications before initialize are dropped
      }
      if (shutdown_ && request) {
        error(id, kInvalidRequest, "the server is shutting down: only exit is accepted");
        return;
      }
      if (request) {
        json result = answer(method, params);
        send({{"id", id}, {"result", result}});
      } else {
        notify(method, params);
      }
    } catch (const RpcError& e) {
      if (request) error(id, e.code, e.message);
      else std::cerr << "bloom lsp: " << method << ": " << e.message << "\n";
    } catch (const json::exception& e) {
      // A parameter of the wrong shape or type.
      if (request) error(id, kInvalidParams, std::string("invalid params: ") + e.what());
      else std::cerr << "bloom lsp: " << method << ": invalid params: " << e.what() << "\n";
    } catch (const std::exception& e) {
      if (request) error(id, kInternalError, std::string("internal error: ") + e.what());
      else std::cerr << "bloom lsp: " << method << ": internal error: " << e.what() << "\n";
    }
  }

  json answer(const std::string& method, const json& params) {
    if (method == "initialize") {
      if (initialized_) throw RpcError{kInvalidRequest, "initialize was already received"};
      initialized_ = true;
      json sync = {{"openClose", true}, {"change", 1}};  // full text on every change
      return {{"capabilities",
               {{"positionEncoding", "utf-16"},
                {"textDocumentSync", sync},
                {"hoverProvider", true},
                {"definitionProvider", true},
                {"documentSymbolProvider", true},
                {"codeActionProvider", {{"codeActionKinds", {"quickfix"}}}},
                {"documentFormattingProvider", true}}},
              {"serverInfo", {{"name", "bloom"}, {"version", version_}}}};
    }
    if (method == "shutdown") {
      shutdown_ = true;
      return nullptr;
    }
    if (method == "textDocument/hover") return hover(params);
    if (method == "textDocument/definition") return definition(params);
    if (method == "textDocument/documentSymbol") return symbols(params);
    if (method == "textDocument/codeAction") return code_actions(params);
    if (method == "textDocument/formatting") return formatting(params);
    throw RpcError{kMethodNotFound, "unknown method " + method};
  }

  void notify(const std::string& method, const json& params) {
    if (method == "initialized" || method.rfind("$/", 0) == 0) return;
    if (method == "textDocument/didOpen") {
      const json& td = params.at("textDocument");
      Document d;
      d.uri = td.at("uri").get<std::string>();
      d.path = uri_to_path(d.uri);
      d.text = td.at("text").get<std::string>();
      d.version = td.contains("version") ? td["version"].get<int64_t>() : 0;
      d.dirty = true;
      std::string uri = d.uri, path = d.path;
      docs_[uri] = std::move(d);
      touch_importers(path);
      return;
    }
    if (method == "textDocument/didChange") {
      Document& doc = document(params);
      for (const json& change : params.at("contentChanges")) {
        std::string text = change.at("text").get<std::string>();
        if (change.contains("range")) {  // incremental, although the server asks for full text
          size_t b = offset_of(doc.text, change["range"].at("start")), e = offset_of(doc.text, change["range"].at("end"));
          doc.text.replace(b, e >= b ? e - b : 0, text);
        } else {
          doc.text = std::move(text);
        }
      }
      if (params.at("textDocument").contains("version")) doc.version = params["textDocument"]["version"].get<int64_t>();
      doc.dirty = true;
      touch_importers(doc.path);
      return;
    }
    if (method == "textDocument/didClose") {
      std::string uri = params.at("textDocument").at("uri").get<std::string>();
      if (auto it = docs_.find(uri); it != docs_.end()) {
        std::string path = it->second.path;
        docs_.erase(it);
        touch_importers(path);  // they read the file from disk again
      }
      send({{"method", "textDocument/publishDiagnostics"}, {"params", {{"uri", uri}, {"diagnostics", json::array()}}}});
      return;
    }
    // didSave and others: nothing to do (diagnostics follow the buffer, not the disk).
  }

  Document& document(const json& params) {
    std::string uri = params.at("textDocument").at("uri").get<std::string>();
    auto it = docs_.find(uri);
    if (it == docs_.end()) throw RpcError{kInvalidParams, "the document " + uri + " is not open"};
    return it->second;
  }
  // The open documents that import `path` (directly or not) are checked again.
  void touch_importers(const std::string& path) {
    for (auto& [uri, doc] : docs_) {
      if (doc.path == path || !doc.c) continue;
      for (FileId f = 1; f < doc.c->sources.size() && !doc.dirty; ++f) {
        std::error_code ec;
        doc.dirty = fs::absolute(doc.c->sources.file(f).path, ec).lexically_normal().string() == path;
      }
    }
  }
  // A document whose analysis matches its text, for a request.
  Document& fresh(const json& params) {
    Document& doc = document(params);
    if (doc.dirty) analyze(doc);
    return doc;
  }

  // Checks a buffer (with the open buffers of the files it imports) and publishes what was found.
  void analyze(Document& doc) {
    doc.dirty = false;
    CompileOptions opts;
    if (!stdlib_dir().empty()) opts.stdlib_dir = stdlib_dir();  // else the driver's error lists where it looked
    opts.read_source = [this](const std::string& path, std::string& text, std::string& why) {
      std::error_code ec;
      std::string want = fs::absolute(path, ec).lexically_normal().string();
      for (const auto& [uri, d] : docs_)
        if (d.path == want || d.path == path) return text = d.text, true;
      return sema::read_source_file(path, text, why);
    };
    doc.c = compile_text(doc.path, doc.text, opts);
    doc.calm.reset();
    doc.parsed.reset();
    if (doc.c->ok()) doc.calm = std::make_unique<analysis::CalmReport>(analysis::analyze_calm(*doc.c->program, *doc.c->graph));
    if (!doc.c->program) {
      DiagnosticEngine scratch;  // its errors are the ones already reported
      doc.parsed = parse_module(doc.c->sources, 0, scratch);
    }
    const SourceManager& sm = doc.c->sources;
    json diags = json::array();
    for (const Diagnostic& d : doc.c->diags.all()) diags.push_back(diagnostic(doc, d));
    if (doc.c->diags.dropped() > 0)
      diags.push_back({{"range", range(sm, Span{})},
                       {"severity", 1},
                       {"source", "bloom"},
                       {"message", std::to_string(doc.c->diags.dropped()) + " more errors not shown"}});
    doc.fixes = ide::spelling_fixes(sm, doc.c->diags, 0);
    if (doc.calm) {
      for (const auto& f : doc.calm->findings) {
        if (f.span.file != 0) continue;  // in an imported module: its own document shows it
        std::string message = f.message;
        if (f.suppressed) message = "(suppressed) " + message + (f.suppression_reason.empty() ? "" : ": " + f.suppression_reason);
        for (size_t i = 0; i < f.remedies.size(); ++i) message += (i ? "\n- " : "\nremedies:\n- ") + f.remedies[i];
        json d = {{"range", range(sm, f.span)},
                  {"severity", f.suppressed ? 4 : 2},
                  {"code", analysis::to_string(f.kind)},
                  {"source", "bloom lint"},
                  {"message", message}};
        json related = json::array();
        auto place = [&](const Span& s, const std::string& m) {
          if (s.valid()) related.push_back({{"location", {{"uri", uri_of(doc, s.file)}, {"range", range(sm, s)}}}, {"message", m}});
        };
        place(f.other, "the other transient input of the join");
        // The path from the source, as `bloom lint` prints it (the first hops of a long one).
        const auto& prog = *doc.c->program;
        auto path = doc.calm->path_of(f);
        for (size_t i = 0; i < path.size() && i < 20; ++i) {
          const analysis::Hop& h = path[i];
          std::string name = h.collection < prog.collections.size() ? "`" + prog.collections[h.collection].name + "`" : "it";
          if (h.reads_clock) place(h.span, "reads the clock into " + name + " here");
          else if (h.rule == UINT32_MAX) place(h.span, name + " is an asynchronous source");
          else
            place(h.span, std::string(h.timing == analysis::Timing::Async      ? "sent asynchronously"
                                      : h.timing == analysis::Timing::Deferred ? "carried to the next tick"
                                                                               : "derived") +
                              " into " + name + " here");
        }
        if (!related.empty()) d["relatedInformation"] = std::move(related);
        diags.push_back(std::move(d));
      }
      auto view = doc.view();
      for (auto& f : ide::suppression_fixes(*view)) doc.fixes.push_back(std::move(f));
    }
    send({{"method", "textDocument/publishDiagnostics"},
          {"params", {{"uri", doc.uri}, {"version", doc.version}, {"diagnostics", std::move(diags)}}}});
  }

  const std::string& stdlib_dir() {
    if (!stdlib_) stdlib_ = find_stdlib();
    return *stdlib_;
  }

  std::string uri_of(const Document& doc, FileId f) const { return f == 0 ? doc.uri : path_to_uri(doc.c->sources.file(f).path); }

  json diagnostic(const Document& doc, const Diagnostic& d) {
    const SourceManager& sm = doc.c->sources;
    std::string message = d.message;
    if (!d.label.empty()) message += " (" + d.label + ")";
    json related = json::array();
    for (const auto& n : d.notes) {
      if (n.span.valid())
        related.push_back({{"location", {{"uri", uri_of(doc, n.span.file)}, {"range", range(sm, n.span)}}}, {"message", n.message}});
      else message += "\nnote: " + n.message;
    }
    if (!d.help.empty()) message += "\nhelp: " + d.help;
    json r = range(sm, d.span);
    if (d.span.valid() && d.span.file != 0) {
      // In an imported file: shown at the import that brings it in, when one can be found.
      message = sm.location(d.span) + ": " + message;
      related.push_back({{"location", {{"uri", uri_of(doc, d.span.file)}, {"range", r}}}, {"message", "here"}});
      r = range(sm, Span{});
      if (const ast::Module* m = doc.module()) {
        const std::string in = fs::path(sm.file(d.span.file).path).lexically_normal().string();
        for (const auto& i : m->imports)
          if (sema::import_file(sm.file(0).path, i.path, stdlib_dir()) == in) r = range(sm, i.path_span);
      }
    }
    json out = {{"range", r},
                {"severity", d.severity == Severity::Error     ? 1
                             : d.severity == Severity::Warning ? 2
                                                               : 3},
                {"source", "bloom"},
                {"message", message}};
    if (!d.code.empty()) out["code"] = d.code;
    if (!related.empty()) out["relatedInformation"] = std::move(related);
    return out;
  }

  // The document and our position of a TextDocumentPositionParams.
  std::optional<ide::View> at(const json& params, uint32_t& line, uint32_t& col, const Document*& doc) {
    doc = &fresh(params);
    const json& p = params.at("position");
    if (!p.is_object() || !p.contains("line") || !p["line"].is_number_unsigned() || !p.contains("character") ||
        !p["character"].is_number_unsigned())
      throw RpcError{kInvalidParams, "a position is {\"line\": N, \"character\": N}, both 0 or more"};
    // Past the end of the text (a client a change behind): there is nothing there.
    if (!from_position(doc->text, params["position"], line, col)) return std::nullopt;
    return doc->view();
  }

  json hover(const json& params) {
    uint32_t line, col;
    const Document* doc;
    auto view = at(params, line, col, doc);
    if (!view) return nullptr;
    auto h = ide::hover(*view, line, col);
    if (!h) return nullptr;
    return {{"contents", {{"kind", "markdown"}, {"value", h->markdown}}}, {"range", range(doc->c->sources, h->span)}};
  }

  json definition(const json& params) {
    uint32_t line, col;
    const Document* doc;
    auto view = at(params, line, col, doc);
    if (!view) return nullptr;
    auto t = ide::definition(*view, line, col);
    if (!t) return nullptr;
    if (!t->span.valid()) return {{"uri", path_to_uri(t->path)}, {"range", range(doc->c->sources, Span{})}};
    return {{"uri", uri_of(*doc, t->span.file)}, {"range", range(doc->c->sources, t->span)}};
  }

  json symbols(const json& params) {
    const Document& doc = fresh(params);
    json out = json::array();
    const ast::Module* m = doc.module();
    if (!m) return out;
    for (const auto& s : ide::document_symbols(doc.c->sources, *m)) {
      int kind = 0;
      switch (s.kind) {
        case ide::SymbolKind::Import: kind = 2; break;       // Module
        case ide::SymbolKind::Param: kind = 13; break;       // Variable
        case ide::SymbolKind::Const: kind = 14; break;       // Constant
        case ide::SymbolKind::Collection: kind = 23; break;  // Struct
        case ide::SymbolKind::Seal: kind = 24; break;        // Event
        case ide::SymbolKind::Rule: kind = 12; break;        // Function
      }
      if (!s.span.valid() || s.name.empty()) continue;  // what a syntax error left half-built
      Span sel = s.selection.valid() ? s.selection : s.span;
      out.push_back({{"name", s.name},
                     {"detail", s.detail},
                     {"kind", kind},
                     {"range", range(doc.c->sources, s.span)},
                     {"selectionRange", range(doc.c->sources, sel)}});
    }
    return out;
  }

  json code_actions(const json& params) {
    const Document& doc = fresh(params);
    const json& want = params.at("range");
    json out = json::array();
    for (const auto& f : doc.fixes) {
      json diag_range = range(doc.c->sources, f.diagnostic);
      if (!overlaps(diag_range, want)) continue;
      json edit = {{"range", range(doc.c->sources, f.replace)}, {"newText", f.text}};
      json action = {{"title", f.title}, {"kind", "quickfix"}, {"edit", {{"changes", {{doc.uri, json::array({edit})}}}}}};
      // The client's diagnostics this answers, when it sent them.
      json answered = json::array();
      if (params.contains("context") && params["context"].contains("diagnostics"))
        for (const json& d : params["context"]["diagnostics"])
          if (d.contains("range") && d["range"] == diag_range) answered.push_back(d);
      if (!answered.empty()) action["diagnostics"] = std::move(answered);
      out.push_back(std::move(action));
    }
    return out;
  }

  json formatting(const json& params) {
    const Document& doc = document(params);
    SourceManager sm;
    FileId id = sm.add(doc.path, doc.text);
    DiagnosticEngine diags;
    auto formatted = format_file(sm, id, diags);
    if (!formatted) throw RpcError{kRequestFailed, "the document does not parse; fix its syntax errors to format it"};
    if (!formatted->bug.empty())
      throw RpcError{kInternalError, "formatter bug caught by its safety check (" + formatted->bug + "); nothing changed"};
    if (formatted->text == doc.text) return json::array();
    json whole = {{"start", {{"line", 0}, {"character", 0}}}, {"end", end_of(doc.text)}};
    return json::array({{{"range", whole}, {"newText", formatted->text}}});
  }

  static constexpr int kRequestFailed = -32803;
  Transport& t_;
  std::string version_;
  std::optional<std::string> stdlib_;  // find_stdlib(), once: where `import "std/NAME"` reads
  bool initialized_ = false, shutdown_ = false;
  std::optional<int> exit_;
  std::map<std::string, Document> docs_;
};

}  // namespace

int run_server(int in, int out, const std::string& version) {
  std::signal(SIGPIPE, SIG_IGN);  // a client that goes away is an error on write, not a signal
  Transport t(in, out);
  Server s(t, version);
  try {
    return s.run();
  } catch (const std::exception& e) {
    std::cerr << "bloom lsp: internal error: " << e.what() << "\n";
    return 3;
  }
}

}  // namespace bloom::lsp
