// `bloom repl [FILE]` (docs/tools.md): a program grown line by line on one node, in this
// process. Every line that is not a `:command` is program text: it is appended and the whole
// program compiled again; a line that does not compile is rejected and nothing changes. After a
// change the node is made again from the new plan, and the tables whose columns did not change
// keep their rows.
#include <unistd.h>

#include <editline/readline.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <set>
#include <sstream>
#include <thread>

#include "analysis/calm.h"
#include "analysis/lint_report.h"
#include "cli.h"
#include "node/facts.h"
#include "node/node.h"
#include "plan/print.h"
#include "sema/checker.h"

namespace bloom::cli {
namespace {

constexpr int64_t kRunLimit = 10000;  // :run stops after this many ticks (periodics never end)

const char* kHelp =
    "Lines that do not start with `:` are program text: declarations, facts and rules, ending\n"
    "with `;` (a statement may span lines). Each is added to the program, which is compiled\n"
    "again; one that does not compile is rejected with its diagnostics and nothing changes.\n"
    "After a change the program starts again at tick 0: tables whose columns and key did not\n"
    "change keep their rows (facts already applied to them are not applied again); lattices are\n"
    "at bottom, the other facts arrive again, output logs, pending deferred changes and :facts\n"
    "rows not yet ticked are dropped.\n"
    "  :tick [N], :t    run N ticks (default 1); with only timers pending, wait for the next\n"
    "  :run, :r         run ticks until nothing is pending (quiescent), halt() or 10000 ticks\n"
    "                   (timers are not waited for)\n"
    "  :query NAME, :q  print a collection's rows, sorted (an output: every tuple it held)\n"
    "  :plan            print the Plan IR of the program (as `bloom plan`)\n"
    "  :lint            the CALM analysis of the program (as `bloom lint`)\n"
    "  :list            print the program with its line numbers\n"
    "  :facts DIR       read DIR/NAME.facts for each input NAME into the next tick (as run -F)\n"
    "  :load FILE       replace the program by FILE's\n"
    "  :reset           drop all data: the program starts again at tick 0\n"
    "  :help, :h        this text\n"
    "  :quit            leave (also end of input)\n";

size_t line_count(const std::string& text) { return static_cast<size_t>(std::count(text.begin(), text.end(), '\n')); }

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n"), e = s.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

// The last character of `text` outside comments and strings that is not a blank (0: none).
char last_code(const std::string& text) {
  char last = 0;
  bool in_string = false, in_block = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char ch = text[i];
    if (in_block) {
      if (ch == '*' && i + 1 < text.size() && text[i + 1] == '/') in_block = false, ++i;
    } else if (in_string) {
      if (ch == '\\') ++i;
      else if (ch == '"') in_string = false;
    } else if (ch == '"') {
      in_string = true;
      last = ch;
    } else if (ch == '/' && i + 1 < text.size() && text[i + 1] == '/') {
      i = text.find('\n', i);
      if (i == std::string::npos) break;
    } else if (ch == '/' && i + 1 < text.size() && text[i + 1] == '*') {
      in_block = true, ++i;
    } else if (!std::isspace(static_cast<unsigned char>(ch))) {
      last = ch;
    }
  }
  return last;
}

// Where the line editor keeps its history: $XDG_STATE_HOME/bloom, else ~/.local/state/bloom.
std::string history_path() {
  std::string dir;
  if (const char* xdg = std::getenv("XDG_STATE_HOME"); xdg && *xdg) dir = std::string(xdg) + "/bloom";
  else if (const char* home = std::getenv("HOME"); home && *home) dir = std::string(home) + "/.local/state/bloom";
  else return "";
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);  // no history file is no reason to fail
  return dir + "/repl_history";
}

class Session {
 public:
  Session(const std::vector<std::string>& params, bool color) : color_(color) {
    for (const auto& p : params) opts_.params.emplace_back(p.substr(0, p.find('=')), p.substr(p.find('=') + 1));
  }

  // The program of FILE (or an empty one); false (after its diagnostics) if it does not compile.
  bool load(const std::string& file) {
    std::string text, why;
    if (!file.empty() && !sema::read_source_file(file, text, why)) {
      std::cerr << where() << "error: cannot read " << file << ": " << why << "\n";
      return false;
    }
    if (!text.empty() && text.back() != '\n') text += '\n';
    return change(file, text, {}, {});
  }

  // One line of input: a command or program text. false if it failed.
  bool line(const std::string& raw) {
    ++line_no_;
    transcript_ += raw + "\n";
    std::string s = trim(raw);
    if (!s.empty() && s[0] == ':') {
      // A command ends a statement still waiting for its `;` (its diagnostics say so).
      bool ok = finish();
      return command(s) && ok;
    }
    if (!pending_.empty()) return add_text(raw);
    if (!last_code(s)) return true;  // blank, or only a comment
    pending_start_ = line_no_;
    return add_text(raw);
  }

  // At the end of input, a statement still waiting for its `;` is compiled as it is (and its
  // diagnostics say what is missing).
  bool finish() {
    if (pending_.empty()) return true;
    return submit();
  }

  bool continuing() const { return !pending_.empty(); }
  bool quit() const { return quit_; }

 private:
  std::string where() const { return "<repl>:" + std::to_string(line_no_) + ": "; }
  bool fail(const std::string& message) {
    std::cout.flush();  // what the line printed before comes first on a shared terminal
    std::cerr << where() << "error: " << message << "\n";
    return false;
  }

  bool add_text(const std::string& raw) {
    pending_.push_back(raw);
    std::string text;
    for (const auto& l : pending_) text += l + "\n";
    if (last_code(text) != ';') return true;
    return submit();
  }

  bool submit() {
    std::vector<std::string> lines = std::move(pending_);
    pending_.clear();
    std::vector<int> at;
    for (size_t i = 0; i < lines.size(); ++i) at.push_back(pending_start_ + static_cast<int>(i));
    std::string typed = typed_;
    for (const auto& l : lines) typed += l + "\n";
    auto typed_at = typed_at_;
    typed_at.insert(typed_at.end(), at.begin(), at.end());
    return change(file_, file_text_, typed, typed_at);
  }

  // Compiles FILE's text followed by the typed lines; if it compiles, it becomes the program and
  // the node is made again from it.
  bool change(const std::string& file, const std::string& file_text, const std::string& typed, const std::vector<int>& typed_at) {
    const std::string path = file.empty() ? "<program>" : file;
    auto c = compile_text(path, file_text + typed, opts_);
    size_t file_lines = static_cast<size_t>(std::count(file_text.begin(), file_text.end(), '\n'));
    // Warnings of the lines typed before were shown when they were typed.
    int fresh = typed_at.size() > typed_at_.size() ? typed_at[typed_at_.size()] : 0;
    if (file != file_ || file_text != file_text_ || typed.compare(0, typed_.size(), typed_) != 0) fresh = 0;
    if (!c->ok() || c->diags.warning_count() > 0) render(*c, path, file_text, file_lines, typed_at, fresh);
    if (!c->ok()) return false;
    std::string error;
    auto plan = plan_of(*c, error);
    if (!plan) return fail(error);
    relocate(*plan, path, file_lines, typed_at);
    file_ = file;
    file_text_ = file_text;
    typed_ = typed;
    typed_at_ = typed_at;
    c_ = std::move(c);
    start(std::move(plan), true);
    return true;
  }

  // Diagnostics, with the places in the typed lines given as `<repl>:LINE:COL`, LINE being the
  // line of input they were typed on.
  void render(const Compilation& c, const std::string& path, const std::string& file_text, size_t file_lines,
              const std::vector<int>& typed_at, int fresh) {
    SourceManager sm;
    for (size_t i = 0; i < c.sources.size(); ++i) {
      const auto& f = c.sources.file(static_cast<FileId>(i));
      if (i == 0) sm.add(path, file_text);
      else sm.add(f.path, f.text);
    }
    FileId repl = sm.add("<repl>", transcript_);
    auto map = [&](Span s) {
      if (s.file != 0 || s.line <= file_lines || !s.valid()) return s;
      auto to = [&](uint32_t line) {
        size_t k = line - file_lines - 1;
        return static_cast<uint32_t>(k < typed_at.size() ? typed_at[k] : line_no_);
      };
      s.file = repl;
      s.line = to(s.line);
      s.end_line = s.end_line > file_lines ? to(s.end_line) : s.line;
      return s;
    };
    DiagnosticEngine diags;
    for (auto d : c.diags.all()) {
      d.span = map(d.span);
      for (auto& n : d.notes) n.span = map(n.span);
      if (d.severity == Severity::Warning && fresh > 0 && !(d.span.file == repl && d.span.line >= static_cast<uint32_t>(fresh))) continue;
      diags.add(std::move(d));
    }
    if (diags.all().empty()) return;
    std::cout.flush();
    render_text(sm, diags, std::cerr, {color_});
  }

  // The places the plan names (in runtime errors, and in :plan) as the diagnostics give them:
  // a typed line as `<repl>:LINE:COL`.
  static void relocate(plan::Program& p, const std::string& path, size_t file_lines, const std::vector<int>& typed_at) {
    auto fix = [&](std::string& where) {
      if (where.compare(0, path.size() + 1, path + ":") != 0) return;
      size_t colon = where.find(':', path.size() + 1);
      size_t line = std::strtoull(where.c_str() + path.size() + 1, nullptr, 10);
      if (line <= file_lines || line - file_lines - 1 >= typed_at.size()) return;
      where = "<repl>:" + std::to_string(typed_at[line - file_lines - 1]) + (colon == std::string::npos ? "" : where.substr(colon));
    };
    auto rule = [&](plan::RulePlan& r) {
      fix(r.where);
      for (auto& v : r.variants) fix(v.where);
    };
    for (auto& r : p.relations) fix(r.where);
    for (auto& f : p.facts) fix(f.where);
    for (auto& st : p.strata) {
      for (auto& seal : st.seals) fix(seal.where);
      for (auto& g : st.groups) {
        for (auto& r : g.rules) rule(r);
        for (auto& r : g.deltas) rule(r);
      }
    }
    for (auto& r : p.transitions) rule(r);
  }

  // A fact as text: the facts of two programs are compared by it.
  static std::string fact_key(const plan::Program& p, const plan::Fact& f) {
    std::string k = p.relations[f.relation].name + "(";
    for (size_t i = 0; i < f.values.size(); ++i)
      k += (i ? ", " : "") + (i < f.is_self.size() && f.is_self[i] ? std::string("self()") : plan::constant_str(f.values[i]));
    return k + ")";
  }

  // A node for `plan`; with `keep`, the rows of the old node's tables whose declaration has the
  // same columns and key are copied into the new one, and the facts that were already applied to
  // those tables are not applied again (a rule may have deleted or updated their rows since).
  void start(std::unique_ptr<plan::Program> plan, bool keep) {
    rt::NodeOptions no;
    no.print_line = [](const std::string& l) { std::cout << l << "\n"; };
    std::vector<bool> carried(plan->relations.size(), false);
    if (!keep) applied_.clear();
    if (keep && node_) carry(*node_, *plan_, *plan, carried, applied_);
    std::erase_if(plan->facts, [&](const plan::Fact& f) { return carried[f.relation] && applied_.count(fact_key(*plan, f)); });
    fresh_facts_.clear();
    for (const auto& f : plan->facts) fresh_facts_.push_back(fact_key(*plan, f));
    auto node = std::make_unique<rt::Node>(*plan, no);
    if (keep && node_) copy_rows(*node_, *plan_, *node, *plan, carried);
    node_ = std::move(node);  // the old node refers to the old plan: it goes first
    plan_ = std::move(plan);
  }

  // Which tables of `new_plan` keep their rows; a table that does not forgets its facts.
  static void carry(rt::Node& from, const plan::Program& old_plan, const plan::Program& new_plan, std::vector<bool>& carried,
                    std::set<std::string>& applied) {
    for (const auto& r : new_plan.relations) {
      if (r.kind != plan::RelationKind::Table || r.has_lattice_column()) continue;
      auto old = std::find_if(old_plan.relations.begin(), old_plan.relations.end(), [&](const auto& o) { return o.name == r.name; });
      if (old == old_plan.relations.end() || old->kind != r.kind || old->column_types != r.column_types || old->key != r.key) {
        if (old != old_plan.relations.end() && from.engine().relation(old->id).live() > 0)
          std::cout.flush(), std::cerr << "bloom: note: table `" << r.name << "` changed its columns or key: its rows are dropped\n";
        std::erase_if(applied, [&](const std::string& k) { return k.compare(0, r.name.size() + 1, r.name + "(") == 0; });
        continue;
      }
      carried[r.id] = true;
    }
  }

  static void copy_rows(rt::Node& from, const plan::Program& old_plan, rt::Node& to, const plan::Program& new_plan,
                        const std::vector<bool>& carried) {
    for (const auto& r : new_plan.relations) {
      if (!carried[r.id]) continue;
      auto old = std::find_if(old_plan.relations.begin(), old_plan.relations.end(), [&](const auto& o) { return o.name == r.name; });
      const auto& src = from.engine().relation(old->id);
      std::vector<rt::Word> row(r.arity() + 1);
      for (rt::RowId i = 0; i < src.end(); ++i) {
        if (!src.alive(i)) continue;
        src.read(i, row.data());
        // Strings are numbers in each node's own symbol table: the text goes across.
        for (uint32_t k = 0; k < r.arity(); ++k)
          if (r.column_types[k].is_symbol()) row[k] = to.symbols().intern(from.symbols().str(row[k]));
        to.engine().insert_checked(r.id, row.data(), "", "a row kept from before the change");
      }
    }
  }

  bool command(const std::string& s) {
    std::istringstream in(s);
    std::string cmd, arg, extra;
    in >> cmd >> arg >> extra;
    if (!extra.empty()) return fail(cmd + " takes at most one argument");
    static const std::set<std::string> bare = {":quit", ":help", ":h", ":run", ":r", ":plan", ":lint", ":list", ":reset"};
    if (!arg.empty() && bare.count(cmd)) return fail(cmd + " takes no argument");
    if (cmd == ":quit") return quit_ = true;
    if (cmd == ":help" || cmd == ":h") return std::cout << kHelp, true;
    if (cmd == ":tick" || cmd == ":t") return tick(arg);
    if (cmd == ":run" || cmd == ":r") return run();
    if (cmd == ":query" || cmd == ":q") return query(arg);
    if (cmd == ":plan") {
      std::string error;
      auto plan = plan_of(*c_, error);  // the node's plan lacks the facts it was not given again
      if (!plan) return fail(error);
      relocate(*plan, file_.empty() ? "<program>" : file_, line_count(file_text_), typed_at_);
      return std::cout << plan::to_text(*plan), true;
    }
    if (cmd == ":lint") {
      auto report = analysis::analyze_calm(*c_->program, *c_->graph);
      analysis::render_lint_text(c_->sources, *c_->program, report, std::cout, {false});
      return true;
    }
    if (cmd == ":list") return list();
    if (cmd == ":load") {
      if (arg.empty()) return fail(":load needs a FILE");
      return load(arg);
    }
    if (cmd == ":facts") return facts(arg);
    if (cmd == ":reset") {
      std::string error;
      auto plan = plan_of(*c_, error);
      if (!plan) return fail(error);
      start(std::move(plan), false);
      std::cout << "reset: the program starts again at tick 0\n";
      return true;
    }
    return fail("unknown command `" + cmd + "` (:help lists them)");
  }

  // One tick; false (after saying why) if it failed.
  bool step(bool& halted) {
    try {
      halted = node_->step();
      applied_.insert(fresh_facts_.begin(), fresh_facts_.end());  // tick 0 applied them
      fresh_facts_.clear();
      return true;
    } catch (const rt::RuntimeError& e) {
      return fail(std::string("runtime error: ") + e.what());
    } catch (const rt::DurableError& e) {
      return fail(e.what());
    }
  }

  bool tick(const std::string& arg) {
    int64_t n = 1;
    if (!arg.empty()) {
      size_t used = 0;
      try {
        n = std::stoll(arg, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used != arg.size() || n < 1) return fail(":tick " + arg + ": expected a positive number of ticks");
    }
    int64_t first = node_->ticks();
    for (int64_t i = 0; i < n; ++i) {
      // With only timers ahead, the tick waits for the next one to fire, as `bloom run` does.
      if (node_->ticks() > 0 && !node_->work_pending())
        if (auto next = node_->next_timer()) std::this_thread::sleep_until(*next);
      bool halted = false;
      if (!step(halted)) return false;
      if (halted) return std::cout << "halt() derived in tick " << node_->ticks() - 1 << "\n", true;
    }
    int64_t last = node_->ticks() - 1;
    if (first == last) std::cout << "ran tick " << last << "\n";
    else std::cout << "ran ticks " << first << "-" << last << "\n";
    return true;
  }

  bool run() {
    int64_t first = node_->ticks();
    // A node that has not ticked has its facts waiting for tick 0.
    while (node_->ticks() == 0 || node_->work_pending()) {
      if (node_->ticks() - first >= kRunLimit) {
        std::cout << "stopped after " << kRunLimit << " ticks with work still pending\n";
        return true;
      }
      bool halted = false;
      if (!step(halted)) return false;
      if (halted) return std::cout << "halt() derived in tick " << node_->ticks() - 1 << "\n", true;
    }
    int64_t ran = node_->ticks() - first;
    if (ran == 0) std::cout << "nothing pending: quiescent since tick " << node_->ticks() - 1;
    else std::cout << "quiescent after tick " << node_->ticks() - 1 << " (ran " << ran << " tick" << (ran == 1 ? "" : "s") << ")";
    if (node_->next_timer()) std::cout << "; timers are still pending: :tick waits for the next";
    std::cout << "\n";
    return true;
  }

  // DIR/NAME.facts for every input NAME (as `bloom run -F DIR`), for the next tick: inputs cannot
  // be given by facts in the program.
  bool facts(const std::string& dir) {
    namespace fs = std::filesystem;
    if (dir.empty()) return fail(":facts needs a DIR");
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) return fail(":facts " + dir + ": not a directory");
    std::vector<std::pair<uint32_t, std::vector<rt::Word>>> read;  // all files first: one bad file adds nothing
    std::vector<size_t> counts;
    try {
      for (const auto& r : plan_->relations) {
        if (r.kind != plan::RelationKind::Input) continue;
        std::string path = (fs::path(dir) / (r.name + ".facts")).string();
        if (!fs::exists(path, ec)) continue;
        auto& [id, rows] = read.emplace_back(r.id, std::vector<rt::Word>{});
        size_t& n = counts.emplace_back(0);
        rt::read_facts(path, r, node_->lattices(), [&](const rt::Word* row, size_t) {
          rows.insert(rows.end(), row, row + r.arity());
          ++n;
        });
      }
    } catch (const rt::FactsError& e) {
      return fail(e.what());
    }
    size_t total = 0;
    for (size_t i = 0; i < read.size(); ++i) {
      node_->deliver(read[i].first, read[i].second.data(), counts[i]);
      total += counts[i];
    }
    std::cout << "read " << total << " row" << (total == 1 ? "" : "s") << " from " << read.size() << " file"
              << (read.size() == 1 ? "" : "s") << " for the next tick\n";
    return true;
  }

  bool query(const std::string& name) {
    if (name.empty()) return fail(":query needs the NAME of a collection");
    std::vector<std::string> names;
    for (const auto& r : plan_->relations) {
      if (r.name != name) {
        if (r.name.find('[') == std::string::npos) names.push_back(r.name);
        continue;
      }
      if (r.kind == plan::RelationKind::Output) {
        node_->write_output(r.id, false, std::cout);
        return true;
      }
      if (r.kind == plan::RelationKind::Stdout || r.kind == plan::RelationKind::Halt)
        return fail("`" + name + "` cannot be queried (its rows are printed or acted on, not kept)");
      const auto& rel = node_->engine().relation(r.id);
      std::vector<rt::Word> row(r.arity() + 1);
      for (rt::RowId i : node_->current_rows(r.id)) {
        rel.read(i, row.data());
        std::cout << node_->engine().format_row(r, row.data(), true) << "\n";
      }
      return true;
    }
    std::string near = closest_match(name, names);
    return fail("no collection named `" + name + "`" + (near.empty() ? "" : "; did you mean `" + near + "`?"));
  }

  // The program as one text, numbered as :lint numbers it; a typed line also shows the line of
  // input it came from (what diagnostics and runtime errors name).
  bool list() {
    std::istringstream in(file_text_ + typed_);
    std::string l;
    size_t file_lines = static_cast<size_t>(std::count(file_text_.begin(), file_text_.end(), '\n'));
    std::cout << "// " << (file_.empty() ? "<program>" : file_) << (typed_.empty() ? "" : ", then the lines typed (<repl>:LINE)") << "\n";
    for (size_t i = 0; std::getline(in, l); ++i) {
      std::string n = std::to_string(i + 1);
      std::cout << std::string(n.size() < 4 ? 4 - n.size() : 0, ' ') << n;
      if (i >= file_lines) std::cout << " <repl>:" << typed_at_[i - file_lines];
      std::cout << " | " << l << "\n";
    }
    return true;
  }

  CompileOptions opts_;
  bool color_;
  std::string file_, file_text_, typed_;  // the program: FILE's text, then the lines typed
  std::vector<int> typed_at_;             // the input line each typed line came from
  std::string transcript_;                // every line of input, for diagnostics' source lines
  std::vector<std::string> pending_;      // a statement waiting for its `;`
  int pending_start_ = 0, line_no_ = 0;
  bool quit_ = false;
  std::unique_ptr<Compilation> c_;
  std::unique_ptr<plan::Program> plan_;
  std::unique_ptr<rt::Node> node_;
  std::set<std::string> applied_;         // facts (fact_key) a tick 0 has applied
  std::vector<std::string> fresh_facts_;  // the facts the node applies in its tick 0
};

// One line, where a bug or running out of memory ends that line, not the session.
bool guarded(Session& s, const std::string& l) {
  try {
    return s.line(l);
  } catch (const std::bad_alloc&) {
    std::cerr << "bloom: error: out of memory\n";
  } catch (const std::exception& e) {
    std::cerr << "bloom: internal error: " << e.what() << "\n";
  }
  return false;
}

}  // namespace

int run_repl(const ReplOptions& o) {
  for (const auto& p : o.params)
    if (p.find('=') == std::string::npos || p[0] == '=') {
      std::cerr << "bloom: --param expects NAME=VALUE, got '" << p << "'\n";
      return kUsage;
    }
  if (std::string text, why; !o.file.empty() && !sema::read_source_file(o.file, text, why)) {
    std::cerr << "bloom: error: cannot read " << o.file << ": " << why << "\n";
    return kUsage;
  }
  const bool tty = isatty(STDIN_FILENO);
  Session s(o.params, want_color(o.color));
  if (!s.load(o.file)) return kCompileError;
  bool ok = true;
  if (!tty) {
    // Scripted: plain lines, no prompt, and the exit status says whether every line worked.
    std::string l;
    while (!s.quit() && std::getline(std::cin, l)) ok = guarded(s, l) && ok;
    ok = s.finish() && ok;
    return ok ? kOk : kCompileError;
  }
  std::string history = history_path();
  using_history();
  stifle_history(1000);
  if (!history.empty()) read_history(history.c_str());  // none yet is fine
  std::cout << "bloom repl: :help lists the commands, :quit (or Ctrl-D) leaves\n";
  while (!s.quit()) {
    char* got = readline(s.continuing() ? "   ...> " : "bloom> ");
    if (!got) break;
    std::string l = got;
    std::free(got);
    if (!trim(l).empty()) add_history(l.c_str());
    guarded(s, l);
  }
  if (!s.quit()) std::cout << "\n";
  s.finish();
  if (!history.empty()) write_history(history.c_str());  // a history that cannot be kept is no error
  return kOk;
}

}  // namespace bloom::cli
