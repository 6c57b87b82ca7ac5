#include "sema/checker.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <utility>
#include <sys/stat.h>

#include "syntax/parser.h"

namespace bloom::sema {
namespace fs = std::filesystem;
using ast::ExprKind;

bool is_stdlib_import(const std::string& path) { return path.rfind("std/", 0) == 0 && path.size() > 4; }

std::string import_file(const std::string& importer, const std::string& import_path, const std::string& stdlib_dir) {
  fs::path file;
  if (is_stdlib_import(import_path)) {
    if (stdlib_dir.empty()) return "";
    std::string rest = import_path.substr(4);
    if (fs::path(rest).extension().empty()) rest += ".bloom";  // `std/quorum` is std/quorum.bloom
    file = fs::path(stdlib_dir) / rest;
  } else {
    file = fs::path(importer).parent_path() / import_path;
  }
  return file.lexically_normal().string();
}

bool read_source_file(const std::string& path, std::string& text, std::string& why) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    why = "no such file";
    return false;
  }
  if (S_ISDIR(st.st_mode)) {
    why = "it is a directory";
    return false;
  }
  if (!S_ISREG(st.st_mode)) {
    why = "it is not a regular file";
    return false;
  }
  if (static_cast<size_t>(st.st_size) > kMaxSourceBytes) {
    why = "it is larger than " + std::to_string(kMaxSourceBytes >> 20) + " MiB";
    return false;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    why = "it cannot be opened";
    return false;
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  text = ss.str();
  return true;
}

namespace {

constexpr size_t kMaxInstances = 10000;

const std::vector<std::string>& builtin_functions() {
  static const std::vector<std::string> f = {"to_string", "to_int",  "len",  "substr", "find", "hash", "least", "greatest", "if",
                                             "self",      "members", "tick", "now",    "lmax", "lmin", "lbool", "lset",     "lmap"};
  return f;
}
const std::vector<std::string>& aggregate_names() {
  static const std::vector<std::string> a = {"count", "sum", "min", "max", "avg", "collect", "argmax", "argmin"};
  return a;
}
}  // namespace

bool is_aggregate(const std::string& n) {
  const auto& a = aggregate_names();
  return std::find(a.begin(), a.end(), n) != a.end();
}

namespace {

CollectionKind kind_of(ast::CollectionKind k) {
  switch (k) {
    case ast::CollectionKind::Table: return CollectionKind::Table;
    case ast::CollectionKind::Scratch: return CollectionKind::Scratch;
    case ast::CollectionKind::Channel: return CollectionKind::Channel;
    case ast::CollectionKind::Input: return CollectionKind::Input;
    case ast::CollectionKind::Output: return CollectionKind::Output;
    case ast::CollectionKind::Periodic: return CollectionKind::Periodic;
    case ast::CollectionKind::Delay: return CollectionKind::Delay;
    case ast::CollectionKind::Lattice: return CollectionKind::Lattice;
  }
  return CollectionKind::Table;
}

std::string quote(const std::string& s) { return "`" + s + "`"; }

std::string article_kind(CollectionKind k) {
  std::string n = to_string(k);
  bool vowel = n[0] == 'i' || n[0] == 'o';
  return std::string(vowel ? "an " : "a ") + n;
}

// A declaration after its own checks: the per-module, instance-independent schema.
struct DeclInfo {
  const ast::CollectionDecl* decl = nullptr;
  CollectionKind kind = CollectionKind::Table;
  std::vector<Column> columns;
  std::vector<uint32_t> key;
  bool keyed = false;
  int location = -1;
  int delay_column = -1;  // a delay `after COLUMN`: the column holding each tuple's delay in ms
};

// A `seal` declaration after its checks (per module; instantiated with the collections).
struct SealInfo {
  const ast::SealDecl* decl = nullptr;
  size_t sealed = 0, punct = 0;  // decl indexes
  std::vector<uint32_t> key, punct_key;
  uint32_t count = 0;
};

struct ModuleInfo {
  const ast::Module* ast = nullptr;
  std::vector<SealInfo> seals;
  std::string canonical;
  std::map<std::string, size_t> decl_index;
  std::vector<DeclInfo> decls;
  std::map<std::string, uint32_t> imports;  // alias -> module index
  std::map<std::string, ConstValue> consts;
  std::map<std::string, const ast::Param*> params;
  std::map<std::string, Type> param_types;
  std::map<std::string, ConstValue> param_defaults;  // evaluated once; monostate when absent

  // Resolves a plain name among this module's consts (what const values and param defaults may use).
  ConstLookup const_lookup() const {
    return [this](const ast::QualifiedName& q, ConstValue& out) {
      if (q.qualified()) return false;
      auto it = consts.find(q.parts[0]);
      if (it == consts.end()) return false;
      out = it->second;
      return true;
    };
  }
};

// What an atom names: a declaration of some module reached through a path of import aliases,
// or a built-in collection.
struct Target {
  std::vector<std::string> path;  // aliases from the module that mentions it
  uint32_t module = 0;
  int decl = -1;
  CollectionKind builtin = CollectionKind::Table;
  bool is_builtin = false;
  const DeclInfo* info = nullptr;  // null for built-ins
};

// A checked rule of one module, before it is instantiated with concrete collection ids.
struct RuleTemplate {
  const ast::Rule* rule;
  Target head;
  struct Input {
    Target target;
    uint32_t literal;
    bool negated;
    std::vector<Span> reveals;
    Span span;
  };
  std::vector<Input> inputs;
  std::vector<Span> aggregates;
  bool uses_now = false;
  bool uses_tick = false;
  std::map<std::string, Type> variables;
};

struct VarInfo {
  Type type;
  bool bound = false;
  std::set<uint32_t> sources;  // positive literals the value comes from (for reveals)
  int uses = 0;
  Span first;
  bool from_atom = false;
  bool reported = false;
};

class Checker {
 public:
  Checker(SourceManager& sm, DiagnosticEngine& diags, const CheckOptions& opts, Program& prog)
      : sm_(sm), diags_(diags), opts_(opts), prog_(prog) {}

  bool run(FileId main_file, std::unique_ptr<ast::Module> main) {
    std::vector<std::string> stack;
    std::string canon = canonical(sm_.file(main_file).path);
    load(std::move(main), canon, stack);
    if (diags_.has_errors()) return false;
    for (uint32_t m = 0; m < mods_.size(); ++m) check_module_decls(m);
    Builtins();
    instantiate(0, "", UINT32_MAX);
    if (prog_.instances.size() > kMaxInstances) return false;
    check_params();
    for (uint32_t m = 0; m < mods_.size(); ++m) {
      for (const auto& r : mods_[m].ast->rules) {
        auto t = check_rule(m, r);
        if (t) templates_[m].push_back(std::move(*t));
      }
    }
    instantiate_rules();
    check_facts();
    resolve_periods();
    return !diags_.has_errors();
  }

 private:
  // ---------------------------------------------------------------- loading
  static std::string canonical(const std::string& path) {
    std::error_code ec;
    fs::path p = fs::weakly_canonical(fs::absolute(path, ec), ec);
    return ec ? path : p.string();
  }

  uint32_t load(std::unique_ptr<ast::Module> m, const std::string& canon, std::vector<std::string>& stack) {
    uint32_t index = static_cast<uint32_t>(mods_.size());
    mods_.emplace_back();
    mods_[index].ast = m.get();
    mods_[index].canonical = canon;
    by_path_[canon] = index;
    FileId file = m->file;
    prog_.modules.push_back(std::move(m));
    stack.push_back(canon);
    const ast::Module& mod = *mods_[index].ast;
    for (const auto& imp : mod.imports) {
      if (imp.alias.empty()) continue;  // a syntax error, already reported
      if (imp.path.empty()) {
        diags_.error("import-not-found", imp.path_span, "cannot import an empty path")
            .with_help("name the module file relative to this one, e.g. `import \"lib/quorum.bloom\" as q;`");
        continue;
      }
      if (mods_[index].imports.count(imp.alias) ||
          std::count_if(mod.imports.begin(), mod.imports.end(), [&](const ast::Import& o) { return o.alias == imp.alias && &o < &imp; })) {
        auto first = std::find_if(mod.imports.begin(), mod.imports.end(), [&](const ast::Import& o) { return o.alias == imp.alias; });
        diags_.error("duplicate-import", imp.alias_span, "import alias " + quote(imp.alias) + " is used twice")
            .note(first->alias_span, "first used here");
        continue;
      }
      if (is_stdlib_import(imp.path)) {
        if (opts_.stdlib_dir.empty()) {
          std::string searched;
          for (const auto& s : opts_.stdlib_searched) searched += (searched.empty() ? "" : ", ") + s;
          diags_.error("import-not-found", imp.path_span, "cannot import " + quote(imp.path) + ": the standard library was not found")
              .note(Span{}, "looked in " + (searched.empty() ? std::string("no place") : searched))
              .with_help("set BLOOM_STDLIB to the folder that holds the standard library's .bloom files");
          continue;
        }
      }
      std::string shown = import_file(sm_.file(file).path, imp.path, opts_.stdlib_dir);
      std::string canon_import = canonical(shown);
      auto on_stack = std::find(stack.begin(), stack.end(), canon_import);
      if (on_stack != stack.end()) {
        std::string chain;
        for (auto it = on_stack; it != stack.end(); ++it) chain += fs::path(*it).filename().string() + " -> ";
        chain += fs::path(canon_import).filename().string();
        diags_.error("import-cycle", imp.path_span, "import cycle: " + chain)
            .with_help("a module cannot import itself, directly or through other modules");
        continue;
      }
      auto found = by_path_.find(canon_import);
      if (found != by_path_.end()) {
        mods_[index].imports[imp.alias] = found->second;
        continue;
      }
      std::string text, why;
      if (!(opts_.read_source ? opts_.read_source(shown, text, why) : read_source_file(shown, text, why))) {
        diags_.error("import-not-found", imp.path_span, "cannot import " + quote(imp.path) + ": " + why)
            .note(Span{}, (is_stdlib_import(imp.path) ? "`std/` imports come from the standard library at " + opts_.stdlib_dir
                                                      : std::string("paths are relative to the importing file")) +
                              ": looked for " + shown);
        continue;
      }
      FileId f = sm_.add(shown, std::move(text));
      auto parsed = parse_module(sm_, f, diags_);
      uint32_t child = load(std::move(parsed), canon_import, stack);
      mods_[index].imports[imp.alias] = child;
    }
    stack.pop_back();
    return index;
  }

  // ---------------------------------------------------------------- declarations
  void check_module_decls(uint32_t m) {
    ModuleInfo& info = mods_[m];
    const ast::Module& mod = *info.ast;
    std::map<std::string, Span> seen;
    for (const auto& d : mod.decls) {
      if (d.name == "stdout" || d.name == "halt") {
        diags_.error("reserved-name", d.name_span, quote(d.name) + " is a built-in collection and cannot be declared");
        continue;
      }
      if (auto it = seen.find(d.name); it != seen.end()) {
        diags_.error("duplicate-declaration", d.name_span, quote(d.name) + " is declared twice").note(it->second, "first declared here");
        continue;
      }
      seen[d.name] = d.name_span;
      info.decl_index[d.name] = info.decls.size();
      info.decls.push_back(check_decl(d));
    }
    check_seals(info);
    // consts, in order: each may use the ones before it
    for (const auto& c : mod.consts) {
      if (info.consts.count(c.name)) {
        auto first = std::find_if(mod.consts.begin(), mod.consts.end(), [&](const ast::Const& k) { return k.name == c.name; });
        diags_.error("duplicate-declaration", c.name_span, "const " + quote(c.name) + " is declared twice")
            .note(first->name_span, "first declared here");
        continue;
      }
      size_t errors_before = diags_.error_count();
      auto v = eval_const(*c.value, info.const_lookup(), diags_);
      if (!v) {
        bool lattice = c.value->kind == ExprKind::Call && !c.value->name.qualified() && is_lattice_constructor(c.value->name.str());
        diags_.error("not-constant", c.value->span, "the value of const " + quote(c.name) + " must be a constant expression")
            .with_help(lattice ? "consts hold plain values: build the lattice where it is stored (a fact or a rule head), from plain consts"
                               : "use literals, operators and consts declared before it");
        info.consts[c.name] = ConstValue{};
      } else {
        if (!is_known(*v) && diags_.error_count() == errors_before)  // not already explained
          diags_.error("not-constant", c.value->span, "the value of const " + quote(c.name) + " is not known at compile time")
              .with_help("self(), members(), tick() and now() have values only at run time; use a param, or compute it in a rule");
        info.consts[c.name] = *v;
      }
    }
    for (const auto& p : mod.params) {
      if (info.params.count(p.name) || info.consts.count(p.name)) {
        auto& d = diags_.error("duplicate-declaration", p.name_span, quote(p.name) + " is declared twice");
        if (info.params.count(p.name)) d.note(info.params[p.name]->name_span, "first declared here");
        for (const auto& k : mod.consts)
          if (k.name == p.name) d.note(k.name_span, "also declared as a const here");
        continue;
      }
      Type t = resolve_type(p.type, diags_);
      // An lset of a plain type is a collection-valued param (peers, ...); its value is written
      // as the --param text, elements separated by commas.
      const bool set_param = t.kind == TypeKind::LSet && t.args.size() == 1 && t.args[0].is_scalar();
      if (!t.is_error() && !t.is_scalar() && !set_param) {
        diags_.error("bad-type", p.type.span,
                     "a param must have a plain type (int, float, string, bool, addr) or be an lset of one, found " + quote(t.str()));
        t = {};
      }
      info.params[p.name] = &p;
      info.param_types[p.name] = t;
      if (p.default_value && set_param) {
        auto v = eval_const(*p.default_value, info.const_lookup(), diags_);
        auto* text = v ? std::get_if<std::string>(&*v) : nullptr;
        if (text && parse_param_value(*text, t)) {
          info.param_defaults[p.name] = *v;
        } else {
          diags_
              .error("bad-param-value", p.default_value->span,
                     "the default of param " + quote(p.name) + " must be a string of " + quote(t.args[0].str()) +
                         " values separated by commas")
              .with_help("e.g. `param " + p.name + ": " + t.str() + " = \"" + (t.args[0].is_numeric() ? "1,2" : "n1,n2") + "\";`");
        }
      } else if (p.default_value && !t.is_error()) {
        auto v = eval_const(*p.default_value, info.const_lookup(), diags_);
        if (v) info.param_defaults[p.name] = *v;
        if (!v || !is_known(*v)) {
          diags_.error("not-constant", p.default_value->span, "the default of param " + quote(p.name) + " must be a constant");
        } else if (!value_fits(*v, t)) {
          diags_.error("type-mismatch", p.default_value->span,
                       "param " + quote(p.name) + " is " + quote(t.str()) + " but its default is " + quote(const_type(*v).str()));
        }
      }
    }
  }

  // ---------------------------------------------------------------- seals
  // `seal S(k...) by P(pk..., n);` names collections of its own module and their columns.
  const DeclInfo* seal_collection(ModuleInfo& info, const std::string& name, Span at, const char* role, size_t& index) {
    if (name.empty()) return nullptr;  // a syntax error, already reported
    auto it = info.decl_index.find(name);
    if (it == info.decl_index.end()) {
      std::vector<std::string> names;
      for (const auto& [n, _] : info.decl_index) names.push_back(n);
      auto& e = diags_.error("unknown-collection", at, "unknown collection " + quote(name) + " in a seal");
      std::string near = closest_match(name, names);
      if (!near.empty()) e.with_help("did you mean " + quote(near) + "?");
      return nullptr;
    }
    index = it->second;
    const DeclInfo& d = info.decls[it->second];
    switch (d.kind) {
      case CollectionKind::Table:
      case CollectionKind::Scratch:
      case CollectionKind::Channel:
      case CollectionKind::Input:
      case CollectionKind::Delay: break;
      default:
        diags_
            .error("bad-seal", at,
                   std::string("the ") + role + " of a seal must be a table, scratch, channel, input or delay, but " + quote(name) +
                       " is " + article_kind(d.kind))
            .note(d.decl->name_span, quote(name) + " is declared here");
        return nullptr;
    }
    if (std::any_of(d.columns.begin(), d.columns.end(), [](const Column& c) { return c.type.is_lattice(); })) {
      diags_.error("bad-seal", at, std::string("the ") + role + " of a seal cannot have lattice columns, but " + quote(name) + " has")
          .note(d.decl->name_span, quote(name) + " is declared here")
          .with_help("a partition is complete when it holds n distinct tuples; a lattice column merges tuples instead");
      return nullptr;
    }
    return &d;
  }

  // The column `k` of `d`, or -1 after reporting it (with a "did you mean").
  int seal_column(const DeclInfo& d, const ast::KeyColumn& k) {
    for (size_t i = 0; i < d.columns.size(); ++i)
      if (d.columns[i].name == k.name) return static_cast<int>(i);
    std::vector<std::string> cols;
    for (const auto& c : d.columns) cols.push_back(c.name);
    auto& e = diags_.error("unknown-seal-column", k.span, quote(d.decl->name) + " has no column " + quote(k.name));
    std::string near = closest_match(k.name, cols);
    if (!near.empty()) e.with_help("did you mean " + quote(near) + "?");
    e.note(d.decl->name_span, quote(d.decl->name) + " is declared here");
    return -1;
  }

  void check_seals(ModuleInfo& info) {
    std::map<std::string, Span> sealed_at;
    for (const auto& sd : info.ast->seals) {
      SealInfo si;
      si.decl = &sd;
      const DeclInfo* sealed = seal_collection(info, sd.sealed, sd.sealed_span, "sealed collection", si.sealed);
      const DeclInfo* punct = seal_collection(info, sd.punct, sd.punct_span, "collection of seals", si.punct);
      if (sealed && punct && si.sealed == si.punct) {
        diags_.error("bad-seal", sd.punct_span, quote(sd.sealed) + " cannot be sealed by itself")
            .with_help("seal it by a separate collection of punctuations, e.g. `seal " + sd.sealed + "(k) by done(k, n);`");
        continue;
      }
      bool ok = sealed && punct;
      std::set<uint32_t> used;
      if (sealed)
        for (const auto& k : sd.key) {
          int c = seal_column(*sealed, k);
          if (c < 0) {
            ok = false;
          } else if (!used.insert(static_cast<uint32_t>(c)).second) {
            diags_.error("bad-seal", k.span, "column " + quote(k.name) + " is listed twice in the seal of " + quote(sd.sealed));
            ok = false;
          } else {
            si.key.push_back(static_cast<uint32_t>(c));
          }
        }
      if (!punct) continue;
      if (sd.punct_columns.size() != sd.key.size() + 1) {
        Span at = sd.punct_columns.empty() ? sd.punct_span : Span::cover(sd.punct_columns.front().span, sd.punct_columns.back().span);
        std::string keys;
        for (size_t i = 0; i < sd.key.size(); ++i) keys += (i ? ", " : "") + sd.key[i].name;
        diags_
            .error("seal-arity", at,
                   "the seal names " + std::to_string(sd.punct_columns.size()) + " column" + (sd.punct_columns.size() == 1 ? "" : "s") +
                       " of " + quote(sd.punct) + " but needs " + std::to_string(sd.key.size() + 1) +
                       ": one for each partition column of " + quote(sd.sealed) + " (" + keys + "), then the count")
            .with_help("e.g. `seal " + sd.sealed + "(" + keys + ") by " + sd.punct + "(" + keys + ", n);` where n is an int column of " +
                       quote(sd.punct));
        continue;
      }
      for (size_t i = 0; i < sd.punct_columns.size(); ++i) {
        int c = seal_column(*punct, sd.punct_columns[i]);
        if (c < 0) {
          ok = false;
          continue;
        }
        const Column& pc = punct->columns[static_cast<size_t>(c)];
        if (i + 1 == sd.punct_columns.size()) {
          si.count = static_cast<uint32_t>(c);
          if (!pc.type.is_error() && pc.type.kind != TypeKind::Int) {
            diags_
                .error("type-mismatch", sd.punct_columns[i].span,
                       "the count of a seal must be an int, but " + quote(sd.punct + "." + pc.name) + " is " + quote(pc.type.str()))
                .note(pc.span, "declared here")
                .with_help("the last column named in `by " + sd.punct + "(...)` is how many distinct tuples the partition holds");
            ok = false;
          }
          continue;
        }
        si.punct_key.push_back(static_cast<uint32_t>(c));
        if (!sealed || i >= si.key.size() || si.key.size() != sd.key.size()) continue;
        const Column& sc = sealed->columns[si.key[i]];
        if (!pc.type.is_error() && !sc.type.is_error() && !(pc.type == sc.type)) {
          diags_
              .error("type-mismatch", sd.punct_columns[i].span,
                     quote(sd.punct + "." + pc.name) + " is " + quote(pc.type.str()) + " but the partition column it seals, " +
                         quote(sd.sealed + "." + sc.name) + ", is " + quote(sc.type.str()))
              .note(pc.span, quote(sd.punct + "." + pc.name) + " is declared here")
              .note(sc.span, quote(sd.sealed + "." + sc.name) + " is declared here");
          ok = false;
        }
      }
      if (!ok) continue;
      if (auto it = sealed_at.find(sd.sealed); it != sealed_at.end()) {
        diags_.error("duplicate-seal", sd.sealed_span, quote(sd.sealed) + " is sealed twice")
            .note(it->second, "first sealed here")
            .with_help("a collection has one partitioning: keep one `seal` for it");
        continue;
      }
      sealed_at[sd.sealed] = sd.sealed_span;
      info.seals.push_back(std::move(si));
    }
  }

  static bool value_fits(const ConstValue& v, const Type& t) {
    Type vt = const_type(v);
    if (vt == t) return true;
    if (t.kind == TypeKind::Float && vt.kind == TypeKind::Int) return true;
    if (t.kind == TypeKind::Addr && vt.kind == TypeKind::String) return true;
    return false;
  }

  // `delay d(...) after X;`: X names one of d's columns (an int of ms per tuple) or is evaluated
  // per instance like a periodic's period (resolve_periods).
  void check_delay(const ast::CollectionDecl& d, DeclInfo& info) {
    if (!d.period || d.period->kind != ExprKind::Name || d.period->name.parts.size() != 1) return;
    const std::string& n = d.period->name.parts[0];
    for (size_t i = 0; i < info.columns.size(); ++i) {
      if (info.columns[i].name != n) continue;
      info.delay_column = static_cast<int>(i);
      const Type& t = info.columns[i].type;
      if (!t.is_error() && t.kind != TypeKind::Int)
        diags_
            .error("type-mismatch", d.period_span,
                   "the delay of " + quote(d.name) + " is column " + quote(n) + ", which must be an int of milliseconds, found " +
                       quote(t.str()))
            .note(info.columns[i].span, "declared here");
      return;
    }
  }

  DeclInfo check_decl(const ast::CollectionDecl& d) {
    DeclInfo info;
    info.decl = &d;
    info.kind = kind_of(d.kind);
    // Only state that outlives a tick can be durable: everything else is empty at the next tick.
    if (d.durable_span.valid() && d.kind != ast::CollectionKind::Table && d.kind != ast::CollectionKind::Lattice)
      diags_
          .error("bad-durable", d.durable_span,
                 "only a table or a lattice can be `durable`; " + quote(d.name) + " is not kept from one tick to the next")
          .with_help("declare " + quote(d.name) + " as a `table` to keep its contents, or remove `durable`");
    if (d.kind == ast::CollectionKind::Periodic) {
      // A period other than a duration is evaluated per instance, once params are known (resolve_periods).
      if (d.period_ms <= 0 && !d.period)
        diags_.error("bad-period", d.period_span.valid() ? d.period_span : d.span, "a periodic needs a positive period");
      info.columns.push_back({"n", Type::of(TypeKind::Int), d.span});
      return info;
    }
    if (d.kind == ast::CollectionKind::Lattice) {
      Type t = resolve_type(d.lattice_type, diags_);
      if (!t.is_error() && !t.is_lattice()) {
        diags_.error("bad-type", d.lattice_type.span, "lattice " + quote(d.name) + " needs a lattice type, found " + quote(t.str()))
            .with_help("for example `lattice " + d.name + ": lmax<" + t.str() + ">;`, or declare a table for plain values");
        t = {};
      }
      info.columns.push_back({"v", t, d.lattice_type.span});
      return info;
    }
    std::map<std::string, Span> names;
    for (size_t i = 0; i < d.columns.size(); ++i) {
      const auto& c = d.columns[i];
      if (auto it = names.find(c.name); it != names.end()) {
        diags_.error("duplicate-column", c.span, "column " + quote(c.name) + " appears twice in " + quote(d.name))
            .note(it->second, "first here");
      }
      names[c.name] = c.span;
      Type t = resolve_type(c.type, diags_);
      if (c.location) {
        if (d.kind != ast::CollectionKind::Channel) {
          diags_.error("location-outside-channel", c.span, "only a channel has a location column (`@" + c.name + "`)")
              .with_help("remove the `@`, or declare " + quote(d.name) + " as a channel");
        } else if (info.location >= 0) {
          diags_.error("two-locations", c.span, "channel " + quote(d.name) + " has a second `@` column")
              .note(d.columns[static_cast<size_t>(info.location)].span, "the location column is this one");
        } else {
          info.location = static_cast<int>(i);
          if (!t.is_error() && t.kind != TypeKind::Addr)
            diags_.error("bad-location-type", c.type.span,
                         "the location column " + quote(c.name) + " must be of type `addr`, found " + quote(t.str()));
        }
      }
      info.columns.push_back({c.name, t, c.span});
    }
    if (d.kind == ast::CollectionKind::Delay) check_delay(d, info);
    if (d.kind == ast::CollectionKind::Channel && info.location < 0) {
      auto& e = diags_.error("missing-location", d.name_span, "channel " + quote(d.name) + " has no location column");
      e.with_help("mark the column that holds the destination with `@`, e.g. `channel " + d.name + "(@dst: addr, ...)`");
    }
    if (d.key) {
      if (d.kind == ast::CollectionKind::Channel) {
        Span at = d.key->empty() ? d.span : Span::cover(d.key->front().span, d.key->back().span);
        diags_.error("bad-key", at, "a channel cannot have a key: its tuples are messages");
      }
      std::set<uint32_t> used;
      for (const auto& k : *d.key) {
        auto it = std::find_if(d.columns.begin(), d.columns.end(), [&](const ast::Column& c) { return c.name == k.name; });
        if (it == d.columns.end()) {
          std::vector<std::string> cols;
          for (const auto& c : d.columns) cols.push_back(c.name);
          auto& e = diags_.error("unknown-key-column", k.span, quote(d.name) + " has no column " + quote(k.name));
          std::string near = closest_match(k.name, cols);
          if (!near.empty()) e.with_help("did you mean " + quote(near) + "?");
          continue;
        }
        uint32_t idx = static_cast<uint32_t>(it - d.columns.begin());
        if (!used.insert(idx).second) {
          diags_.error("bad-key", k.span, "key column " + quote(k.name) + " is listed twice");
          continue;
        }
        if (info.columns[idx].type.is_lattice()) {
          diags_.error("lattice-key", k.span, "key column " + quote(k.name) + " is a lattice (" + info.columns[idx].type.str() + ")")
              .note(it->span, "declared here")
              .with_help("lattice columns merge under a key; they cannot be part of it");
          continue;
        }
        info.key.push_back(idx);
      }
      info.keyed = true;
    } else if (std::any_of(info.columns.begin(), info.columns.end(), [](const Column& c) { return c.type.is_lattice(); })) {
      // A table with lattice columns is a map lattice keyed by its plain columns.
      for (uint32_t i = 0; i < info.columns.size(); ++i)
        if (!info.columns[i].type.is_lattice()) info.key.push_back(i);
      info.keyed = true;
    }
    return info;
  }

  void Builtins() {
    auto add = [&](const char* name, CollectionKind k, std::vector<Column> cols) {
      Collection c;
      c.id = static_cast<CollectionId>(prog_.collections.size());
      c.name = name;
      c.kind = k;
      c.columns = std::move(cols);
      prog_.collections.push_back(std::move(c));
    };
    add("stdout", CollectionKind::Stdout, {{"line", Type::of(TypeKind::String), {}}});
    add("halt", CollectionKind::Halt, {});
  }

  void instantiate(uint32_t module, const std::string& prefix, uint32_t parent) {
    if (prog_.instances.size() >= kMaxInstances) {
      if (prog_.instances.size() == kMaxInstances)
        diags_
            .error("too-many-instances", mods_[0].ast->imports.empty() ? Span{} : mods_[0].ast->imports.front().span,
                   "the imports create more than " + std::to_string(kMaxInstances) + " module instances")
            .with_help("every `import` is a separate instance, and so is every import inside it: import shared modules fewer times");
      prog_.instances.emplace_back();
      return;
    }
    uint32_t id = static_cast<uint32_t>(prog_.instances.size());
    prog_.instances.emplace_back();
    instance_module_.push_back(module);
    {
      ModuleInstance& inst = prog_.instances[id];
      inst.prefix = prefix;
      inst.module = mods_[module].ast;
      inst.parent = parent;
    }
    for (const auto& di : mods_[module].decls) {
      Collection c;
      c.id = static_cast<CollectionId>(prog_.collections.size());
      c.name = prefix + di.decl->name;
      c.kind = di.kind;
      c.columns = di.columns;
      c.key = di.key;
      c.keyed = di.keyed;
      c.location = di.location;
      c.delay_column = di.delay_column;
      c.period_ms = di.decl->period_ms;
      c.durable = di.decl->durable_span.valid() && (di.kind == CollectionKind::Table || di.kind == CollectionKind::Lattice);
      c.instance = id;
      c.span = di.decl->span;
      c.name_span = di.decl->name_span;
      prog_.instances[id].collections[di.decl->name] = c.id;
      prog_.collections.push_back(std::move(c));
    }
    for (const auto& si : mods_[module].seals) {
      Seal seal;
      seal.sealed = prog_.instances[id].collections.at(mods_[module].decls[si.sealed].decl->name);
      seal.punct = prog_.instances[id].collections.at(mods_[module].decls[si.punct].decl->name);
      seal.key = si.key;
      seal.punct_key = si.punct_key;
      seal.count = si.count;
      seal.instance = id;
      seal.ast = si.decl;
      // The view: a hidden table of the released partitions, which every rule reads instead.
      Collection v;
      const Collection& sealed = prog_.collections[seal.sealed];
      v.id = static_cast<CollectionId>(prog_.collections.size());
      v.name = sealed.name + "[sealed]";
      v.kind = CollectionKind::Table;
      v.columns = sealed.columns;
      v.instance = id;
      v.span = si.decl->span;
      v.name_span = si.decl->sealed_span;
      v.view_of = static_cast<int>(prog_.seals.size());
      seal.view = v.id;
      prog_.collections[seal.sealed].sealed_by = static_cast<int>(prog_.seals.size());
      prog_.collections.push_back(std::move(v));
      prog_.seals.push_back(std::move(seal));
    }
    for (const auto& [alias, child] : mods_[module].imports) {
      uint32_t child_id = static_cast<uint32_t>(prog_.instances.size());
      instantiate(child, prefix + alias + ".", id);
      if (child_id < prog_.instances.size() && child_id < kMaxInstances) prog_.instances[id].children[alias] = child_id;
    }
  }

  void check_params() {
    std::map<std::string, std::pair<uint32_t, std::string>> all;  // full name -> (instance, local)
    for (uint32_t i = 0; i < prog_.instances.size() && i < instance_module_.size(); ++i) {
      const ModuleInfo& mi = mods_[instance_module_[i]];
      for (const auto& entry : mi.params) {
        const std::string& name = entry.first;
        all[prog_.instances[i].prefix + name] = {i, name};
        auto d = mi.param_defaults.find(name);
        prog_.instances[i].params[name] = d == mi.param_defaults.end() ? ConstValue{} : d->second;
      }
      prog_.instances[i].consts = mi.consts;
    }
    for (const auto& [name, text] : opts_.params) {
      auto it = all.find(name);
      if (it == all.end()) {
        std::vector<std::string> names;
        for (const auto& [n, _] : all) names.push_back(n);
        auto& e = diags_.error("unknown-param", Span{}, "--param " + name + ": the program has no param " + quote(name));
        std::string near = closest_match(name, names);
        if (!near.empty()) e.with_help("did you mean " + quote(near) + "?");
        continue;
      }
      auto [inst, local] = it->second;
      const ModuleInfo& mi = mods_[instance_module_[inst]];
      Type t = mi.param_types.at(local);
      auto v = parse_param_value(text, t);
      if (!v) {
        auto& d = diags_.error("bad-param-value", mi.params.at(local)->name_span,
                               "--param " + name + "=" + text + ": not a valid " + quote(t.str()));
        if (t.kind == TypeKind::LSet && !t.args.empty())
          d.with_help("write its elements separated by commas, each " + quote(t.args[0].str()) + ": --param " + name + "=" +
                      (t.args[0].is_numeric() ? "1,2" : "n1,n2"));
        continue;
      }
      prog_.instances[inst].params[local] = *v;
    }
  }

  // ---------------------------------------------------------------- names
  // Follows import aliases from module `m`. Returns the module reached, or reports.
  bool follow(uint32_t m, const ast::QualifiedName& q, size_t count, uint32_t& out, bool report) {
    out = m;
    for (size_t i = 0; i < count; ++i) {
      auto it = mods_[out].imports.find(q.parts[i]);
      if (it == mods_[out].imports.end()) {
        if (report) {
          std::vector<std::string> aliases;
          for (const auto& [a, _] : mods_[out].imports) aliases.push_back(a);
          auto& e = diags_.error("unknown-module", q.span, "no imported module is called " + quote(q.parts[i]));
          std::string near = closest_match(q.parts[i], aliases);
          if (!near.empty()) e.with_help("did you mean " + quote(near) + "?");
          else e.with_help("import it first: `import \"file.bloom\" as " + q.parts[i] + ";`");
        }
        return false;
      }
      out = it->second;
    }
    return true;
  }

  std::optional<Target> resolve_collection(uint32_t m, const ast::QualifiedName& q) {
    if (q.parts.empty()) return std::nullopt;
    Target t;
    if (!q.qualified() && (q.parts[0] == "stdout" || q.parts[0] == "halt")) {
      t.is_builtin = true;
      t.builtin = q.parts[0] == "stdout" ? CollectionKind::Stdout : CollectionKind::Halt;
      return t;
    }
    uint32_t mod = 0;
    if (!follow(m, q, q.parts.size() - 1, mod, true)) return std::nullopt;
    const std::string& name = q.parts.back();
    auto it = mods_[mod].decl_index.find(name);
    if (it == mods_[mod].decl_index.end()) {
      std::vector<std::string> names;
      for (const auto& [n, _] : mods_[mod].decl_index) names.push_back(n);
      names.push_back("stdout");
      names.push_back("halt");
      auto& e = diags_.error("unknown-collection", q.span, "unknown collection " + quote(q.str()));
      std::string near = closest_match(name, names);
      if (!near.empty()) {
        e.with_help("did you mean " + quote(near) + "?");
        if (mods_[mod].decl_index.count(near))
          e.note(mods_[mod].decls[mods_[mod].decl_index[near]].decl->name_span, quote(near) + " is declared here");
      }
      return std::nullopt;
    }
    t.path.assign(q.parts.begin(), q.parts.end() - 1);
    t.module = mod;
    t.decl = static_cast<int>(it->second);
    t.info = &mods_[mod].decls[it->second];
    return t;
  }

  std::vector<Column> builtin_columns(CollectionKind k) const {
    if (k == CollectionKind::Stdout) return {{"line", Type::of(TypeKind::String), {}}};
    return {};
  }
  const std::vector<Column>& columns_of(const Target& t) {
    if (t.is_builtin) {
      static const std::vector<Column> out = {{"line", Type::of(TypeKind::String), {}}};
      static const std::vector<Column> none;
      return t.builtin == CollectionKind::Stdout ? out : none;
    }
    return t.info->columns;
  }
  std::string target_name(const Target& t) const {
    if (t.is_builtin) return t.builtin == CollectionKind::Stdout ? "stdout" : "halt";
    std::string s;
    for (const auto& p : t.path) s += p + ".";
    return s + t.info->decl->name;
  }
  CollectionKind target_kind(const Target& t) const { return t.is_builtin ? t.builtin : t.info->kind; }

  bool check_arity(const Target& t, const ast::Atom& a) {
    const auto& cols = columns_of(t);
    if (cols.size() == a.args.size()) return true;
    auto& e = diags_.error("arity", a.span,
                           quote(target_name(t)) + " has " + std::to_string(cols.size()) + " column" + (cols.size() == 1 ? "" : "s") +
                               " but " + std::to_string(a.args.size()) + " argument" + (a.args.size() == 1 ? " is" : "s are") + " given");
    if (!t.is_builtin) {
      std::string sig = "(";
      for (size_t i = 0; i < cols.size(); ++i) sig += (i ? ", " : "") + cols[i].name + ": " + cols[i].type.str();
      e.note(t.info->decl->name_span, quote(target_name(t)) + " is declared here as " + target_name(t) + sig + ")");
    }
    return false;
  }

  // ---------------------------------------------------------------- expressions
  struct RuleCtx {
    uint32_t module = 0;
    std::map<std::string, VarInfo> vars;
    bool in_fact = false;
    bool uses_now = false;
    std::set<const ast::Expr*> tick_reads;                     // tick() calls, less those of the `tick() == 0` idiom
    std::vector<std::pair<Span, std::set<uint32_t>>> reveals;  // reveal site -> source literals
  };

  bool lookup_const(uint32_t m, const ast::QualifiedName& q, Type& type) {
    uint32_t mod = m;
    if (q.qualified() && !follow(m, q, q.parts.size() - 1, mod, false)) return false;
    const std::string& n = q.parts.back();
    if (auto it = mods_[mod].consts.find(n); it != mods_[mod].consts.end()) {
      type = const_type(it->second);
      return true;
    }
    if (auto it = mods_[mod].param_types.find(n); it != mods_[mod].param_types.end()) {
      type = it->second;
      return true;
    }
    return false;
  }

  bool is_const_name(uint32_t m, const ast::Expr& e) {
    Type t;
    return e.kind == ExprKind::Name && lookup_const(m, e.name, t);
  }

  void collect_vars(const ast::Expr& e, RuleCtx& ctx, std::set<std::string>& out) {
    if (e.kind == ExprKind::Name && !is_const_name(ctx.module, e)) {
      if (!e.name.qualified()) out.insert(e.name.parts[0]);
      return;
    }
    for (const auto& a : e.args) collect_vars(*a, ctx, out);
  }

  std::set<uint32_t> sources_of(const ast::Expr& e, RuleCtx& ctx) {
    std::set<std::string> vs;
    collect_vars(e, ctx, vs);
    std::set<uint32_t> src;
    for (const auto& v : vs)
      if (auto it = ctx.vars.find(v); it != ctx.vars.end()) src.insert(it->second.sources.begin(), it->second.sources.end());
    return src;
  }

  void reveal(const ast::Expr& e, Span at, RuleCtx& ctx) { ctx.reveals.push_back({at, sources_of(e, ctx)}); }

  Type remember(const ast::Expr& e, Type t) {
    prog_.expr_types.set(e, t);
    return t;
  }

  void report_unbound(const std::string& name, Span at, RuleCtx& ctx) {
    VarInfo& v = ctx.vars[name];
    if (v.reported) return;
    v.reported = true;
    if (ctx.in_fact) {
      diags_.error("fact-not-ground", at, "a fact must be ground, but " + quote(name) + " is a variable")
          .with_help("facts hold constants only; to derive tuples write a rule with `<=`");
      return;
    }
    std::vector<std::string> bound;
    for (const auto& [n, vi] : ctx.vars)
      if (vi.bound) bound.push_back(n);
    auto& e = diags_.error("unbound-variable", at, "variable " + quote(name) + " is not bound by the rule's body");
    e.with_label(quote(name) + " is never bound");
    std::string near = closest_match(name, bound);
    if (!near.empty()) e.with_help("did you mean " + quote(near) + "?");
    else
      e.with_help("every variable of the head, of a negated atom or of a condition must appear in a positive atom, an assignment `" + name +
                  " = ...` or `" + name + " in ...` of the same body");
  }

  // Whether `e` reads an lset param: in a fact, where a bare name is a const or a param and
  // consts are plain values, any name of type lset is one.
  bool names_set_param(const ast::Expr& e, RuleCtx& ctx) {
    if (e.kind == ExprKind::Name) return type_of(e, ctx).kind == TypeKind::LSet;
    return std::any_of(e.args.begin(), e.args.end(), [&](const ast::ExprPtr& a) { return a && names_set_param(*a, ctx); });
  }

  Type type_of(const ast::Expr& e, RuleCtx& ctx) {
    // The type the context wants applies to this expression only, never to its operands.
    std::optional<Type> want = std::exchange(expect_, std::nullopt);
    switch (e.kind) {
      case ExprKind::Int:
      case ExprKind::Duration: return remember(e, Type::of(TypeKind::Int));
      case ExprKind::Float: return remember(e, Type::of(TypeKind::Float));
      case ExprKind::String: return remember(e, Type::of(TypeKind::String));
      case ExprKind::Bool: return remember(e, Type::of(TypeKind::Bool));
      case ExprKind::Wildcard: diags_.error("bad-wildcard", e.span, "`_` can only stand for a whole argument of a body atom"); return {};
      case ExprKind::Name: {
        Type t;
        if (lookup_const(ctx.module, e.name, t)) return remember(e, t);
        if (e.name.qualified()) {
          uint32_t mod = 0;
          if (follow(ctx.module, e.name, e.name.parts.size() - 1, mod, true))
            diags_.error("unknown-name", e.span,
                         "module " + quote(e.name.parts[e.name.parts.size() - 2]) + " has no const or param " + quote(e.name.parts.back()));
          return {};
        }
        auto it = ctx.vars.find(e.name.parts[0]);
        if (it == ctx.vars.end() || !it->second.bound) {
          report_unbound(e.name.parts[0], e.span, ctx);
          return {};
        }
        return remember(e, it->second.type);
      }
      case ExprKind::Unary: return remember(e, unary(e, ctx));
      case ExprKind::Binary: return remember(e, binary(e, ctx));
      case ExprKind::Call: return remember(e, call(e, ctx, want ? &*want : nullptr));
      case ExprKind::Method: return remember(e, method(e, ctx));
    }
    return {};
  }

  Type unary(const ast::Expr& e, RuleCtx& ctx) {
    Type a = type_of(*e.args[0], ctx);
    if (a.is_error()) return {};
    if (e.unary_op == ast::UnaryOp::Neg) {
      if (a.is_numeric()) return a;
      diags_.error("type-mismatch", e.op_span, "`-` needs a number, found " + quote(a.str()));
      return {};
    }
    if (a.kind == TypeKind::Bool) return a;
    if (a.kind == TypeKind::LBool) {  // negating a growing lattice is a reveal
      reveal(*e.args[0], e.span, ctx);
      return Type::of(TypeKind::Bool);
    }
    diags_.error("type-mismatch", e.op_span, "negation needs a bool, found " + quote(a.str()));
    return {};
  }

  static bool same_scalar_class(const Type& a, const Type& b) {
    if (a == b) return true;
    if (a.is_numeric() && b.is_numeric()) return true;
    auto strish = [](const Type& t) { return t.kind == TypeKind::String || t.kind == TypeKind::Addr; };
    return strish(a) && strish(b);
  }

  Type binary(const ast::Expr& e, RuleCtx& ctx) {
    using Op = ast::BinaryOp;
    Type a = type_of(*e.args[0], ctx);
    Type b = type_of(*e.args[1], ctx);
    if (a.is_error() || b.is_error()) return {};
    Op op = e.binary_op;
    std::string ops = ast::to_string(op);
    switch (op) {
      case Op::And:
      case Op::Or: {
        auto boolish = [](const Type& t) { return t.kind == TypeKind::Bool || t.kind == TypeKind::LBool; };
        if (!boolish(a) || !boolish(b)) {
          diags_.error("type-mismatch", e.op_span, quote(ops) + " needs bool operands, found " + quote(a.str()) + " and " + quote(b.str()));
          return {};
        }
        return a.kind == TypeKind::LBool && b.kind == TypeKind::LBool ? a : Type::of(TypeKind::Bool);
      }
      case Op::Add:
      case Op::Sub:
      case Op::Mul:
      case Op::Div:
      case Op::Mod: {
        if ((a.kind == TypeKind::LMax || a.kind == TypeKind::LMin) && op == Op::Add && b.is_numeric()) return a;
        if ((b.kind == TypeKind::LMax || b.kind == TypeKind::LMin) && op == Op::Add && a.is_numeric()) return b;
        if (a.is_lattice() || b.is_lattice()) {
          const Type& l = a.is_lattice() ? a : b;
          diags_.error("type-mismatch", e.op_span, quote(ops) + " does not apply to the lattice " + quote(l.str()))
              .with_help("only `+` on lmax/lmin keeps a lattice; use `.value()` to compute with the plain value (a non-monotone reveal)");
          return {};
        }
        if (a.is_numeric() && b.is_numeric()) {
          if (op == Op::Mod && (a.kind == TypeKind::Float || b.kind == TypeKind::Float)) return Type::of(TypeKind::Float);
          return a.kind == TypeKind::Float || b.kind == TypeKind::Float ? Type::of(TypeKind::Float) : Type::of(TypeKind::Int);
        }
        // A string and an addr concatenate to a string (an addr is a node's name).
        auto strish = [](const Type& t) { return t.kind == TypeKind::String || t.kind == TypeKind::Addr; };
        if (op == Op::Add && strish(a) && strish(b) && (a.kind == TypeKind::String || b.kind == TypeKind::String))
          return Type::of(TypeKind::String);
        auto& d = diags_.error("type-mismatch", e.op_span, quote(ops) + " cannot combine " + quote(a.str()) + " and " + quote(b.str()));
        if (op == Op::Add && (a.kind == TypeKind::String || b.kind == TypeKind::String))
          d.with_help("convert the other operand with to_string(...)");
        return {};
      }
      default: break;  // comparisons
    }
    // Lattice thresholds stay monotone: lmax >= c, lmax > c, lmin <= c, lmin < c.
    auto threshold = [&](const Type& l, Op o) {
      return (l.kind == TypeKind::LMax && (o == Op::Ge || o == Op::Gt)) || (l.kind == TypeKind::LMin && (o == Op::Le || o == Op::Lt));
    };
    auto mirror = [](Op o) {
      switch (o) {
        case Op::Lt: return Op::Gt;
        case Op::Le: return Op::Ge;
        case Op::Gt: return Op::Lt;
        case Op::Ge: return Op::Le;
        default: return o;
      }
    };
    // `tick() == 0` holds in exactly one tick of every run, the first: it reads no timing.
    auto is_tick = [](const ast::Expr& x) { return x.kind == ExprKind::Call && x.name.str() == "tick" && x.args.empty(); };
    auto is_zero = [](const ast::Expr& x) { return x.kind == ExprKind::Int && x.int_value == 0; };
    if (op == Op::Eq) {
      if (is_tick(*e.args[0]) && is_zero(*e.args[1])) ctx.tick_reads.erase(e.args[0].get());
      if (is_tick(*e.args[1]) && is_zero(*e.args[0])) ctx.tick_reads.erase(e.args[1].get());
    }
    // `m.value() >= c` on an lmax (`<=` on an lmin) only ever becomes true, like the threshold
    // `m >= c` it spells out: not a reveal.
    for (int side = 0; side < 2; ++side) {
      const ast::Expr& x = *e.args[side];
      if (x.kind != ExprKind::Method || x.text != "value" || x.args.size() != 1 || (side == 0 ? b : a).is_lattice()) continue;
      const Type* t = prog_.expr_types.find(x.args[0].get());
      if (t && threshold(*t, side == 0 ? op : mirror(op))) std::erase_if(ctx.reveals, [&](const auto& rv) { return rv.first == x.span; });
    }
    if (a.is_lattice() || b.is_lattice()) {
      bool left = a.is_lattice();
      const Type& l = left ? a : b;
      const Type& other = left ? b : a;
      Op o = left ? op : mirror(op);
      auto src = lift_source(l);
      if (!other.is_lattice() && threshold(l, o) && src && same_scalar_class(*src, other)) return Type::of(TypeKind::LBool);
      Type lv = reveal_type(l);
      Type ov = other.is_lattice() ? reveal_type(other) : other;
      if (!(lv == ov) && !(lv.is_scalar() && ov.is_scalar() && same_scalar_class(lv, ov))) {
        diags_.error("type-mismatch", e.op_span, "cannot compare " + quote(a.str()) + " with " + quote(b.str()));
        return {};
      }
      reveal(*e.args[0], e.span, ctx);
      reveal(*e.args[1], e.span, ctx);
      return Type::of(TypeKind::Bool);
    }
    if (!same_scalar_class(a, b)) {
      diags_.error("type-mismatch", e.op_span, "cannot compare " + quote(a.str()) + " with " + quote(b.str()));
      return {};
    }
    if (a.kind == TypeKind::Bool && op != Op::Eq && op != Op::Ne) {
      diags_.error("type-mismatch", e.op_span, "bools can only be compared with == and !=");
      return {};
    }
    return Type::of(TypeKind::Bool);
  }

  bool want_args(const ast::Expr& e, size_t n, const std::string& what) {
    if (e.args.size() == n) return true;
    diags_.error("arity", e.span,
                 what + " takes " + std::to_string(n) + " argument" + (n == 1 ? "" : "s") + ", found " + std::to_string(e.args.size()));
    return false;
  }

  // Types `e` where a value of type `want` is expected (a column): lattice constructors take
  // their type from it, so `lmap(n, 3)` stored into an lmap<addr, lmax<int>> lifts 3.
  Type type_expecting(const ast::Expr& e, const Type& want, RuleCtx& ctx) {
    expect_ = want;
    Type t = type_of(e, ctx);
    expect_.reset();
    return t;
  }
  // The same for an argument stored into `column`, which a constructor's errors then point at.
  Type type_for_column(const ast::Expr& e, const Column& column, RuleCtx& ctx) {
    expect_column_ = &column;
    expect_top_ = &e;
    Type t = type_expecting(e, column.type, ctx);
    expect_column_ = nullptr;
    expect_top_ = nullptr;
    return t;
  }

  // lmax(x), lmin(x), lbool(b), lset(x, ...) and lmap(k, v): a lattice value built from plain
  // values (an lmap holds one entry, k -> v). `want`, when the context expects a lattice of the
  // same kind, gives the element, key and value types; otherwise they come from the arguments.
  Type constructor(const ast::Expr& e, const std::string& f, const Type* want, RuleCtx& ctx) {
    TypeKind kind = f == "lmax"    ? TypeKind::LMax
                    : f == "lmin"  ? TypeKind::LMin
                    : f == "lbool" ? TypeKind::LBool
                    : f == "lset"  ? TypeKind::LSet
                                   : TypeKind::LMap;
    if (want && want->kind != kind) {
      if (&e == expect_top_ && expect_column_ && want->is_lattice()) {  // say what the column holds, not what the arguments lack
        auto& d = diags_.error("type-mismatch", e.span,
                               "column " + quote(expect_column_->name) + " is " + quote(want->str()) + ", but " + quote(f + "(...)") +
                                   " builds an " + quote(f));
        if (expect_column_->span.valid()) d.note(expect_column_->span, "column declared here");
        return {};
      }
      want = nullptr;
    }
    auto fail = [&](const ast::Expr& at, const std::string& msg, const std::string& help) {
      auto& d = diags_.error("type-mismatch", at.span, msg);
      if (want && expect_column_ && expect_column_->span.valid())
        d.note(expect_column_->span,
               "column " + quote(expect_column_->name) + " is declared " + quote(expect_column_->type.str()) + " here");
      if (!help.empty()) d.with_help(help);
      return Type{};
    };
    if (kind == TypeKind::LMap) {
      if (!want_args(e, 2, quote(f))) return {};
      Type k = type_of(*e.args[0], ctx);
      Type v = want ? type_expecting(*e.args[1], want->args[1], ctx) : type_of(*e.args[1], ctx);
      if (k.is_error() || v.is_error()) return {};
      if (want) {
        if (!assignable(*e.args[0], k, want->args[0]))
          return fail(*e.args[0],
                      "the keys of " + quote(want->str()) + " are " + quote(want->args[0].str()) + ", but this is " + quote(k.str()), "");
        Store s = storable(*e.args[1], v, want->args[1]);
        if (s != Store::Ok && s != Store::Lift)
          return fail(*e.args[1],
                      "the values of " + quote(want->str()) + " are " + quote(want->args[1].str()) + ", but this is " + quote(v.str()), "");
        return *want;
      }
      if (!k.is_scalar()) return fail(*e.args[0], "`lmap` keys must be plain values, found " + quote(k.str()), "");
      if (!v.is_lattice())
        return fail(*e.args[1], "the value of `lmap(k, v)` must be a lattice here, found " + quote(v.str()),
                    "write it as a lattice, e.g. `lmax(...)`, or store the lmap straight into a column whose type says which lattice");
      return Type::lattice(TypeKind::LMap, {k, v});
    }
    if (kind == TypeKind::LSet ? e.args.empty() : !want_args(e, 1, quote(f))) {
      if (kind == TypeKind::LSet)
        diags_.error("arity", e.span, "`lset` takes at least one element, found none")
            .with_help("an empty set is the bottom of an lset column: store nothing");
      return {};
    }
    Type elem = want ? *lift_source(*want) : Type{};
    for (const auto& a : e.args) {
      Type t = type_of(*a, ctx);
      if (t.is_error()) return {};
      if (t.is_lattice()) return fail(*a, quote(f) + " builds a lattice from a plain value, but this is already " + quote(t.str()), "");
      if (!elem.is_error()) {
        if (assignable(*a, t, elem)) continue;
        return fail(*a,
                    quote(f) + " needs " + (want ? "an element of " + quote(want->str()) : quote(elem.str())) + ", found " + quote(t.str()),
                    "");
      }
      elem = t;
      if (kind == TypeKind::LBool && t.kind != TypeKind::Bool) return fail(*a, "`lbool` needs a bool, found " + quote(t.str()), "");
      if ((kind == TypeKind::LMax || kind == TypeKind::LMin) && !t.is_numeric() && t.kind != TypeKind::String)
        return fail(*a, quote(f) + " needs an ordered value (int, float or string), found " + quote(t.str()), "");
    }
    if (want) return *want;
    return kind == TypeKind::LBool ? Type::of(TypeKind::LBool) : Type::lattice(kind, {elem});
  }

  Type call(const ast::Expr& e, RuleCtx& ctx, const Type* expected) {
    std::string f = e.name.str();
    if (!e.name.qualified() && is_lattice_constructor(f)) return constructor(e, f, expected, ctx);
    if (is_aggregate(f)) {
      diags_.error("misplaced-aggregate", e.span, "aggregate " + quote(f + "(...)") + " can only be a whole argument of a rule head")
          .with_help("aggregate in the head, e.g. `n(k, " + f + "(...)) <= ...`, then use the result in another rule");
      return {};
    }
    std::vector<Type> args;
    for (const auto& a : e.args) args.push_back(type_of(*a, ctx));
    for (const auto& t : args)
      if (t.is_error()) return {};
    auto bad = [&](size_t i, const std::string& want) {
      diags_.error("type-mismatch", e.args[i]->span, quote(f) + " needs " + want + ", found " + quote(args[i].str()));
      return Type{};
    };
    if (f == "to_string") {
      if (!want_args(e, 1, f)) return {};
      if (!args[0].is_scalar()) return bad(0, "a plain value");
      return Type::of(TypeKind::String);
    }
    if (f == "to_int") {
      if (!want_args(e, 1, f)) return {};
      if (!args[0].is_numeric() && args[0].kind != TypeKind::String && args[0].kind != TypeKind::Bool)
        return bad(0, "a string, a number or a bool");
      return Type::of(TypeKind::Int);
    }
    if (f == "if") {
      // if(c, a, b): a when c holds, else b; only the chosen one is evaluated.
      if (!want_args(e, 3, f)) return {};
      if (args[0].kind == TypeKind::LBool) reveal(*e.args[0], e.args[0]->span, ctx);  // reading a growing lbool's value now
      else if (args[0].kind != TypeKind::Bool) return bad(0, "a bool");
      for (size_t i = 1; i < 3; ++i)
        if (args[i].is_lattice()) {
          diags_
              .error("type-mismatch", e.args[i]->span,
                     quote(f) + " chooses between plain values, found the lattice " + quote(args[i].str()))
              .with_help("use `.value()` for its plain value (a non-monotone reveal)");
          return {};
        }
      if (args[1] == args[2]) return args[1];
      if (args[1].is_numeric() && args[2].is_numeric()) return Type::of(TypeKind::Float);
      auto strish = [](const Type& t) { return t.kind == TypeKind::String || t.kind == TypeKind::Addr; };
      if (strish(args[1]) && strish(args[2])) return Type::of(TypeKind::String);
      diags_.error("type-mismatch", e.span,
                   quote(f) + " needs two values of one type, found " + quote(args[1].str()) + " and " + quote(args[2].str()));
      return {};
    }
    if (f == "len") {
      if (!want_args(e, 1, f)) return {};
      if (args[0].kind != TypeKind::String) return bad(0, "a string");
      return Type::of(TypeKind::Int);
    }
    if (f == "substr") {
      if (!want_args(e, 3, f)) return {};
      if (args[0].kind != TypeKind::String) return bad(0, "a string");
      if (args[1].kind != TypeKind::Int) return bad(1, "an int");
      if (args[2].kind != TypeKind::Int) return bad(2, "an int");
      return Type::of(TypeKind::String);
    }
    if (f == "find") {
      if (!want_args(e, 2, f)) return {};
      if (args[0].kind != TypeKind::String) return bad(0, "a string");
      if (args[1].kind != TypeKind::String) return bad(1, "a string");
      return Type::of(TypeKind::Int);
    }
    if (f == "hash") {
      if (!want_args(e, 1, f)) return {};
      if (!args[0].is_scalar()) return bad(0, "a plain value");
      return Type::of(TypeKind::Int);
    }
    if (f == "least" || f == "greatest") {
      if (!want_args(e, 2, f)) return {};
      if (args[0].is_numeric() && args[1].is_numeric())
        return args[0].kind == TypeKind::Float || args[1].kind == TypeKind::Float ? Type::of(TypeKind::Float) : Type::of(TypeKind::Int);
      if (args[0].kind == TypeKind::String && args[1].kind == TypeKind::String) return args[0];
      return bad(1, "two numbers or two strings");
    }
    if (f == "self") return want_args(e, 0, f) ? Type::of(TypeKind::Addr) : Type{};
    // A fact's values are constants (self() aside, which facts keep a slot for): the built-ins
    // known only while a node runs cannot be in one (tick() and now() used to take self()'s slot
    // and store the node's name).
    if ((f == "members" || f == "tick" || f == "now") && ctx.in_fact) {
      const char* help = f == "members" ? "derive it with a rule, e.g. `peer(p) <= p in members();`"
                         : f == "tick"  ? "a fact is in tick 0: write 0, or derive the row with a rule"
                                        : "derive the row with a rule, e.g. `started(t) <= t = now();`";
      diags_
          .error("not-constant", e.span,
                 f + (f == "members" ? "() is known only when the node starts, so it cannot be in a fact"
                                     : "() has a value only while the node runs, so it cannot be in a fact"))
          .with_help(help);
      return {};
    }
    // The deployment's node names, self included (docs/deploy.md); {self()} on a lone node.
    if (f == "members") return want_args(e, 0, f) ? Type::lattice(TypeKind::LSet, {Type::of(TypeKind::Addr)}) : Type{};
    if (f == "tick") {
      ctx.tick_reads.insert(&e);
      return want_args(e, 0, f) ? Type::of(TypeKind::Int) : Type{};
    }
    if (f == "now") {
      ctx.uses_now = true;
      return want_args(e, 0, f) ? Type::of(TypeKind::Int) : Type{};
    }
    std::vector<std::string> known = builtin_functions();
    auto& d = diags_.error("unknown-function", e.name.span, "unknown function " + quote(f));
    std::string near = closest_match(f, known);
    if (!near.empty()) d.with_help("did you mean " + quote(near) + "?");
    if (e.name.qualified()) d.with_help("modules export collections, consts and params, not functions");
    return {};
  }

  // A method call's type. A chain `x.size().size()...` recurses through here once a call, up to
  // the parser's depth limit, so this frame stays small: the receiver and the arguments, with
  // everything else in method_type and unknown_module (kept out of line), whose locals, the
  // diagnostics' strings above all, made a frame of about 9 KB in the sanitizer build, where a
  // chain of 900 calls overflowed the 8 MB stack (found by bloom_fuzz).
  Type method(const ast::Expr& e, RuleCtx& ctx) {
    const ast::Expr& r0 = *e.args[0];
    if (unknown_module(e, r0, ctx)) return {};
    Type recv = type_of(r0, ctx);
    if (recv.is_error()) return {};
    std::vector<Type> args;
    // covers(y) takes a value of the receiver's lattice: a constructor there is typed from it.
    const bool covers = e.text == "covers" && recv.is_lattice();
    for (size_t i = 1; i < e.args.size(); ++i) args.push_back(covers ? type_expecting(*e.args[i], recv, ctx) : type_of(*e.args[i], ctx));
    for (const auto& t : args)
      if (t.is_error()) return {};
    return method_type(e, recv, args, ctx);
  }

  // Whether the receiver of a method call is neither a bound variable nor an import alias but
  // close to an alias: most likely a misspelt module name (reported here).
  [[gnu::noinline]] bool unknown_module(const ast::Expr& e, const ast::Expr& r0, RuleCtx& ctx) {
    if (r0.kind == ExprKind::Name && !r0.name.qualified() && !is_const_name(ctx.module, r0)) {
      auto it = ctx.vars.find(r0.name.parts[0]);
      if (it == ctx.vars.end() || !it->second.bound) {
        std::vector<std::string> names;
        for (const auto& [a, _] : mods_[ctx.module].imports) names.push_back(a);
        std::string near = closest_match(r0.name.parts[0], names);
        if (!near.empty()) {
          ctx.vars[r0.name.parts[0]].reported = true;
          // It was meant as an atom of that module: its variables are not unbound, just unknown.
          std::set<std::string> vs;
          for (size_t i = 1; i < e.args.size(); ++i) collect_vars(*e.args[i], ctx, vs);
          for (const auto& v : vs) ctx.vars[v].reported = true;
          diags_.error("unknown-module", r0.span, "no imported module or bound variable is called " + quote(r0.name.parts[0]))
              .with_help("did you mean the module " + quote(near) + "?");
          return true;
        }
      }
    }
    return false;
  }

  // The type of method e.text on a receiver of type `recv` with arguments of types `args` (none
  // of them an error), or an error reported here.
  [[gnu::noinline]] Type method_type(const ast::Expr& e, const Type& recv, const std::vector<Type>& args, RuleCtx& ctx) {
    const std::string& m = e.text;
    if (!recv.is_lattice()) {
      diags_.error("not-a-lattice", e.op_span, "method " + quote(m + "()") + " applies to lattices, but this is " + quote(recv.str()));
      return {};
    }
    auto nargs = [&](size_t n) { return want_args(e, n + 1, quote(m + "()")); };
    std::vector<std::string> methods = {"value", "covers"};
    if (m == "value") {
      if (!nargs(0)) return {};
      reveal(*e.args[0], e.span, ctx);
      return reveal_type(recv);
    }
    if (m == "covers") {
      // x.covers(y): merging y into x changes nothing (x >= y in the lattice's order), e.g. one
      // vector clock dominating another. It only becomes true as x grows, but a growing y is
      // read as it is now: a reveal of the lattice variables y is built from.
      if (!nargs(1)) return {};
      Store s = storable(*e.args[1], args[0], recv);
      if (s != Store::Ok && s != Store::Lift) {
        diags_.error("type-mismatch", e.args[1]->span,
                     "covers() on " + quote(recv.str()) + " needs another " + quote(recv.str()) + ", found " + quote(args[0].str()));
        return {};
      }
      std::set<std::string> vs;
      collect_vars(*e.args[1], ctx, vs);
      std::set<uint32_t> growing;
      bool any = false;
      for (const auto& v : vs)
        if (auto it = ctx.vars.find(v); it != ctx.vars.end() && it->second.type.is_lattice()) {
          any = true;
          growing.insert(it->second.sources.begin(), it->second.sources.end());
        }
      if (any) ctx.reveals.push_back({e.args[1]->span, std::move(growing)});
      return Type::of(TypeKind::LBool);
    }
    switch (recv.kind) {
      case TypeKind::LSet: {
        methods.insert(methods.end(), {"size", "contains", "intersect", "union"});
        if (m == "size") return nargs(0) ? Type::lattice(TypeKind::LMax, {Type::of(TypeKind::Int)}) : Type{};
        if (m == "contains") {
          if (!nargs(1)) return {};
          if (!assignable(*e.args[1], args[0], recv.args[0])) {
            diags_.error("type-mismatch", e.args[1]->span,
                         "contains() on " + quote(recv.str()) + " needs " + quote(recv.args[0].str()) + ", found " + quote(args[0].str()));
            return {};
          }
          return Type::of(TypeKind::LBool);
        }
        if (m == "intersect" || m == "union") {
          if (!nargs(1)) return {};
          if (!(args[0] == recv)) {
            diags_.error("type-mismatch", e.args[1]->span, m + "() needs another " + quote(recv.str()) + ", found " + quote(args[0].str()));
            return {};
          }
          return recv;
        }
        break;
      }
      case TypeKind::LMap: {
        methods.insert(methods.end(), {"at", "keys", "size", "union"});
        if (m == "union") {  // the join, entry by entry: monotone in both maps
          if (!nargs(1)) return {};
          if (!(args[0] == recv)) {
            diags_.error("type-mismatch", e.args[1]->span,
                         "union() needs another " + quote(recv.str()) + ", found " + quote(args[0].str()));
            return {};
          }
          return recv;
        }
        if (m == "at") {
          if (!nargs(1)) return {};
          if (!assignable(*e.args[1], args[0], recv.args[0])) {
            diags_.error(
                "type-mismatch", e.args[1]->span,
                "at() on " + quote(recv.str()) + " needs a key of type " + quote(recv.args[0].str()) + ", found " + quote(args[0].str()));
            return {};
          }
          return recv.args[1];
        }
        if (m == "keys") return nargs(0) ? Type::lattice(TypeKind::LSet, {recv.args[0]}) : Type{};
        if (m == "size") return nargs(0) ? Type::lattice(TypeKind::LMax, {Type::of(TypeKind::Int)}) : Type{};
        break;
      }
      default: break;
    }
    auto& d = diags_.error("unknown-method", e.op_span, quote(recv.str()) + " has no method " + quote(m + "()"));
    std::string near = closest_match(m, methods);
    if (!near.empty()) d.with_help("did you mean " + quote(near + "()") + "?");
    else {
      std::string list;
      for (const auto& x : methods) list += (list.empty() ? "" : ", ") + x + "()";
      d.with_help(quote(recv.str()) + " has " + list);
    }
    return {};
  }

  // Whether a value of type `from` (written as `e`) may be stored where `to` is expected.
  // Literal strings convert to addr; ints widen to float.
  bool assignable(const ast::Expr& e, const Type& from, const Type& to) {
    if (from.is_error() || to.is_error() || from == to) return true;
    if (to.kind == TypeKind::Float && from.kind == TypeKind::Int) return true;
    if (to.kind == TypeKind::Addr && from.kind == TypeKind::String)
      return e.kind == ExprKind::String || is_const_name(cur_module_, e);  // node names written as text
    return false;
  }

  enum class Store { Ok, Lift, Reveal, Mismatch };
  Store storable(const ast::Expr& e, const Type& from, const Type& to) {
    if (assignable(e, from, to)) return Store::Ok;
    if (to.is_lattice()) {
      auto src = lift_source(to);
      if (src && assignable(e, from, *src)) return Store::Lift;
    }
    if (from.is_lattice() && !to.is_lattice() && assignable(e, reveal_type(from), to)) return Store::Reveal;
    return Store::Mismatch;
  }

  void mismatch(const ast::Expr& e, const Type& from, const Type& to, const Target& t, size_t col) {
    const Column& c = columns_of(t)[col];
    auto& d = diags_.error(
        "type-mismatch", e.span,
        "column " + quote(c.name) + " of " + quote(target_name(t)) + " is " + quote(to.str()) + ", but this is " + quote(from.str()));
    if (c.span.valid()) d.note(c.span, "column declared here");
    if (to.kind == TypeKind::String && from.is_scalar()) d.with_help("convert with to_string(...)");
    if (to.kind == TypeKind::Int && from.kind == TypeKind::String) d.with_help("convert with to_int(...)");
  }

  // ---------------------------------------------------------------- rules
  void count_uses(const ast::Expr& e, RuleCtx& ctx) {
    if (e.kind == ExprKind::Name && !e.name.qualified() && !is_const_name(ctx.module, e)) {
      VarInfo& v = ctx.vars[e.name.parts[0]];
      if (v.uses++ == 0) v.first = e.span;
      return;
    }
    for (const auto& a : e.args) count_uses(*a, ctx);
  }

  bool bind(const std::string& name, const Type& t, Span at, std::set<uint32_t> sources, RuleCtx& ctx, bool from_atom) {
    VarInfo& v = ctx.vars[name];
    if (v.bound) {
      if (!v.type.is_error() && !t.is_error() && !(v.type == t) && !same_scalar_class(v.type, t)) {
        diags_
            .error("type-mismatch", at,
                   "variable " + quote(name) + " is " + quote(t.str()) + " here but " + quote(v.type.str()) + " where it is first bound")
            .note(v.first, "first bound here");
      }
      // One variable in two lattice columns joins on equal lattice values: a reveal, since two
      // growing values can be equal now and differ after the next merge.
      if (v.type.is_lattice() || t.is_lattice()) {
        std::set<uint32_t> both = v.sources;
        both.insert(sources.begin(), sources.end());
        ctx.reveals.push_back({at, std::move(both)});
      }
      v.sources.insert(sources.begin(), sources.end());
      return false;
    }
    v.bound = true;
    v.type = t;
    v.first = at;
    v.from_atom = from_atom;
    v.sources = std::move(sources);
    return true;
  }

  void check_op(const ast::Rule& r, const Target& head) {
    CollectionKind k = target_kind(head);
    std::string name = quote(target_name(head));
    std::string op = quote(ast::to_string(r.op));
    bool own = head.path.empty();
    auto err = [&](const std::string& msg, const std::string& help) {
      auto& d = diags_.error("bad-merge-op", r.op_span, msg);
      if (!help.empty()) d.with_help(help);
      if (!head.is_builtin) d.note(head.info->decl->name_span, name + " is declared here as " + article_kind(k));
    };
    using M = ast::MergeOp;
    switch (k) {
      case CollectionKind::Channel:
        if (r.op != M::Async)
          err(name + " is a channel: rules send into it with `<~`, not " + op, "write `" + target_name(head) + "(@dst, ...) <~ ...`");
        return;
      case CollectionKind::Stdout:
        if (r.op != M::Async) err("stdout is written with `<~`, not " + op, "");
        return;
      case CollectionKind::Periodic:
        diags_.error("bad-head", r.head.span, name + " is a periodic: it is filled by its timer and cannot be a rule head")
            .note(head.info->decl->name_span, "declared here");
        return;
      case CollectionKind::Delay:
        if (r.op != M::Async)
          err(name + " is a delay: rules write into it with `<~` (its tuples arrive after the delay), not " + op,
              "write `" + target_name(head) + "(...) <~ ...`");
        return;
      case CollectionKind::Input:
        if (own) {
          diags_
              .error("bad-head", r.head.span,
                     name + " is an input: it is filled from outside (facts files or the caller) and cannot be a rule head")
              .note(head.info->decl->name_span, "declared here")
              .with_help("declare it as a table or scratch to derive into it");
          return;
        }
        [[fallthrough]];  // an importer feeds a module's inputs
      default: break;
    }
    if (r.op == M::Async) {
      err("`<~` sends over the network or through time, so its head must be a channel, a delay or stdout, but " + name + " is " +
              article_kind(k),
          "use `<=` for this tick or `<+` for the next one");
      return;
    }
    if (r.op == M::DeferredDelete || r.op == M::DeferredUpsert) {
      if (k != CollectionKind::Table) {
        err(op + " applies to tables, but " + name + " is " + article_kind(k),
            k == CollectionKind::Lattice ? "a lattice only grows; nothing can be deleted from it"
                                         : "its contents do not outlive a tick, so there is nothing to delete or replace");
        return;
      }
      if (r.op == M::DeferredUpsert && !head.info->keyed)
        diags_.warning("upsert-without-key", r.op_span, "`<+-` into " + name + ", which has no key(...), behaves like `<+`")
            .note(head.info->decl->name_span, "declared here")
            .with_help("declare the key columns, e.g. `key(" +
                       (head.info->columns.empty() ? std::string("k") : head.info->columns[0].name) + ")`");
    }
  }

  std::optional<RuleTemplate> check_rule(uint32_t m, const ast::Rule& r) {
    cur_module_ = m;
    RuleCtx ctx;
    ctx.module = m;
    RuleTemplate tpl;
    tpl.rule = &r;
    auto head = resolve_collection(m, r.head.name);
    bool head_ok = head && check_arity(*head, r.head);
    if (head) check_op(r, *head);

    // Use counts, for the singleton-variable warning.
    for (const auto& a : r.head.args) count_uses(*a.expr, ctx);
    for (const auto& l : r.body) {
      if (l.kind == ast::LiteralKind::Positive || l.kind == ast::LiteralKind::Negated)
        for (const auto& a : l.atom.args) count_uses(*a.expr, ctx);
      if (l.expr) count_uses(*l.expr, ctx);
      if (l.kind == ast::LiteralKind::Assign || l.kind == ast::LiteralKind::In) {
        VarInfo& v = ctx.vars[l.var];
        if (v.uses++ == 0) v.first = l.var_span;
      }
    }

    // 1. Body atoms, and the variables positive atoms bind.
    std::vector<std::optional<Target>> targets(r.body.size());
    for (uint32_t i = 0; i < r.body.size(); ++i) {
      const auto& l = r.body[i];
      if (l.kind != ast::LiteralKind::Positive && l.kind != ast::LiteralKind::Negated) continue;
      auto t = resolve_collection(m, l.atom.name);
      bool usable = t && check_arity(*t, l.atom);
      if (usable && t->is_builtin) {
        diags_.error("bad-body-atom", l.atom.span, quote(target_name(*t)) + " can only be written, not read");
        usable = false;
      }
      if (!usable) {
        // Already reported: its variables count as bound (with no type) so nothing cascades.
        if (l.kind == ast::LiteralKind::Positive)
          for (const auto& a : l.atom.args)
            if (a.expr->kind == ExprKind::Name && !a.expr->name.qualified() && !is_const_name(m, *a.expr))
              bind(a.expr->name.parts[0], Type{}, a.expr->span, {i}, ctx, true);
        continue;
      }
      targets[i] = t;
      if (l.kind != ast::LiteralKind::Positive) continue;
      const auto& cols = columns_of(*t);
      for (size_t j = 0; j < l.atom.args.size(); ++j) {
        const ast::Expr& a = *l.atom.args[j].expr;
        if (a.kind == ExprKind::Name && !a.name.qualified() && !is_const_name(m, a)) {
          bind(a.name.parts[0], cols[j].type, a.span, {i}, ctx, true);
          remember(a, ctx.vars[a.name.parts[0]].type);
        }
      }
    }
    // 2. Assignments and `in`, in whatever order their inputs become bound.
    std::vector<bool> done(r.body.size(), false);
    for (bool progress = true; progress;) {
      progress = false;
      for (uint32_t i = 0; i < r.body.size(); ++i) {
        const auto& l = r.body[i];
        if (done[i] || (l.kind != ast::LiteralKind::Assign && l.kind != ast::LiteralKind::In)) continue;
        std::set<std::string> need;
        collect_vars(*l.expr, ctx, need);
        bool ready = std::all_of(need.begin(), need.end(), [&](const std::string& v) {
          auto it = ctx.vars.find(v);
          return it != ctx.vars.end() && it->second.bound;
        });
        if (!ready) continue;
        done[i] = progress = true;
        Type t = type_of(*l.expr, ctx);
        if (l.kind == ast::LiteralKind::In) {
          if (!t.is_error() && t.kind != TypeKind::LSet) {
            diags_.error("type-mismatch", l.expr->span, "`in` iterates over an lset, but this is " + quote(t.str()));
            t = {};
          } else if (!t.is_error()) {
            t = t.args[0];
          }
        }
        bind(l.var, t, l.var_span, sources_of(*l.expr, ctx), ctx, false);
      }
    }
    // 3. Assignments that never became ready report their unbound inputs; their own variable
    //    then counts as bound (with no type) so that its uses do not repeat the error.
    for (uint32_t i = 0; i < r.body.size(); ++i) {
      const auto& l = r.body[i];
      if (done[i] || (l.kind != ast::LiteralKind::Assign && l.kind != ast::LiteralKind::In)) continue;
      type_of(*l.expr, ctx);
      bind(l.var, Type{}, l.var_span, {}, ctx, false);
    }
    // 4. Everything else must now be bound and well-typed.
    for (uint32_t i = 0; i < r.body.size(); ++i) {
      const auto& l = r.body[i];
      switch (l.kind) {
        case ast::LiteralKind::Positive:
        case ast::LiteralKind::Negated: {
          if (!targets[i]) break;
          const auto& cols = columns_of(*targets[i]);
          for (size_t j = 0; j < l.atom.args.size(); ++j) {
            const ast::Arg& arg = l.atom.args[j];
            const ast::Expr& a = *arg.expr;
            if (arg.location && static_cast<int>(j) != targets[i]->info->location)
              diags_.error("bad-location", arg.span,
                           "`@` marks a channel's location column, and column " + quote(cols[j].name) + " of " +
                               quote(target_name(*targets[i])) + " is not one");
            if (a.kind == ExprKind::Wildcard) continue;
            if (l.kind == ast::LiteralKind::Positive && a.kind == ExprKind::Name && !a.name.qualified() && !is_const_name(m, a)) continue;
            Type t = type_for_column(a, cols[j], ctx);
            if (!assignable(a, t, cols[j].type)) mismatch(a, t, cols[j].type, *targets[i], j);
            // A value matched against a growing lattice column (`hi(x, lmax(3))`) may match now
            // and not after the next merge: a reveal of this atom, as a join on it is.
            if (l.kind == ast::LiteralKind::Positive && cols[j].type.is_lattice()) {
              std::set<uint32_t> from = sources_of(a, ctx);
              from.insert(i);
              ctx.reveals.push_back({a.span, std::move(from)});
            }
          }
          break;
        }
        case ast::LiteralKind::Condition: {
          Type t = type_of(*l.expr, ctx);
          if (!t.is_error() && t.kind != TypeKind::Bool && t.kind != TypeKind::LBool)
            diags_.error("type-mismatch", l.expr->span, "a condition must be a bool, but this is " + quote(t.str()));
          break;
        }
        case ast::LiteralKind::Assign:
        case ast::LiteralKind::In: break;  // handled above
      }
    }
    // 5. The head.
    if (head_ok) {
      const auto& cols = columns_of(*head);
      for (size_t j = 0; j < r.head.args.size(); ++j) {
        const ast::Arg& arg = r.head.args[j];
        const ast::Expr& a = *arg.expr;
        bool is_loc = !head->is_builtin && static_cast<int>(j) == head->info->location;
        if (arg.location && !is_loc)
          diags_.error("bad-location", arg.span,
                       "`@` marks a channel's location column, and column " + quote(cols[j].name) + " of " + quote(target_name(*head)) +
                           " is not one");
        if (!arg.location && is_loc && r.op == ast::MergeOp::Async)
          diags_.error("missing-at", arg.span, "the destination of " + quote(target_name(*head)) + " must be written with `@`")
              .with_help("write `@" + std::string(a.kind == ExprKind::Name ? a.name.str() : "...") + "`");
        if (a.kind == ExprKind::Wildcard) {
          diags_.error("wildcard-in-head", a.span, "`_` cannot appear in a rule head: every head column needs a value");
          continue;
        }
        Type t;
        if (a.kind == ExprKind::Call && is_aggregate(a.name.str())) {
          t = aggregate(a, ctx);
          tpl.aggregates.push_back(a.span);
        } else {
          t = type_for_column(a, cols[j], ctx);
        }
        remember(a, t);
        Store s = storable(a, t, cols[j].type);
        if (s == Store::Mismatch) mismatch(a, t, cols[j].type, *head, j);
        if (s == Store::Reveal) reveal(a, a.span, ctx);
      }
    }
    // 6. Variables bound by an atom and never used again are probably typos.
    for (const auto& [name, v] : ctx.vars) {
      if (v.uses == 1 && v.from_atom && !name.empty() && name[0] != '_')
        diags_.warning("singleton-variable", v.first, "variable " + quote(name) + " is used only once")
            .with_help("write `_` if any value will do");
    }
    if (!head_ok) return std::nullopt;
    tpl.head = *head;
    tpl.uses_now = ctx.uses_now;
    tpl.uses_tick = !ctx.tick_reads.empty();
    for (const auto& [name, v] : ctx.vars)
      if (v.bound) tpl.variables[name] = v.type;
    for (uint32_t i = 0; i < r.body.size(); ++i) {
      if (!targets[i]) continue;
      const auto& l = r.body[i];
      RuleTemplate::Input in{*targets[i], i, l.kind == ast::LiteralKind::Negated, {}, l.span};
      for (const auto& [at, srcs] : ctx.reveals)
        if (srcs.count(i)) in.reveals.push_back(at);
      tpl.inputs.push_back(std::move(in));
    }
    return tpl;
  }

  Type aggregate(const ast::Expr& a, RuleCtx& ctx) {
    std::string f = a.name.str();
    if (f == "count") {
      if (!a.args.empty()) {
        diags_.error("arity", a.span, "count() takes no argument: it counts the distinct matches of the body");
        return {};
      }
      return Type::of(TypeKind::Int);
    }
    if (f == "argmax" || f == "argmin") {
      // argmax(k, v): the v of the match with the greatest k (docs/language.md, ties included).
      if (!want_args(a, 2, f + "()")) return {};
      Type k = type_of(*a.args[0], ctx), v = type_of(*a.args[1], ctx);
      if (k.is_error() || v.is_error()) return {};
      if (!k.is_numeric() && k.kind != TypeKind::String && k.kind != TypeKind::Addr) {
        auto& d = diags_.error("type-mismatch", a.args[0]->span, f + "() orders by a number, a string or an addr, found " + quote(k.str()));
        if (k.is_lattice()) d.with_help("use `.value()` for its plain value (a non-monotone reveal)");
        return {};
      }
      if (!v.is_scalar()) {
        diags_.error("type-mismatch", a.args[1]->span, f + "() chooses a plain value, found " + quote(v.str()))
            .with_help("use `.value()` for its plain value (a non-monotone reveal)");
        return {};
      }
      return v;
    }
    if (!want_args(a, 1, f + "()")) return {};
    Type t = type_of(*a.args[0], ctx);
    if (t.is_error()) return {};
    auto bad = [&](const std::string& want) {
      diags_.error("type-mismatch", a.args[0]->span, f + "() needs " + want + ", found " + quote(t.str()));
      return Type{};
    };
    if (f == "sum") return t.is_numeric() ? t : bad("a number");
    if (f == "avg") return t.is_numeric() ? Type::of(TypeKind::Float) : bad("a number");
    // Addrs are node names and order as strings do.
    if (f == "min" || f == "max")
      return t.is_numeric() || t.kind == TypeKind::String || t.kind == TypeKind::Addr ? t : bad("a number, a string or an addr");
    if (f == "collect") return t.is_scalar() ? Type::lattice(TypeKind::LSet, {t}) : bad("a plain value");
    return {};
  }

  // ---------------------------------------------------------------- instances
  CollectionId collection_id(uint32_t instance, const Target& t) {
    if (t.is_builtin) return t.builtin == CollectionKind::Stdout ? 0 : 1;
    uint32_t inst = instance;
    for (const auto& alias : t.path) {
      auto it = prog_.instances[inst].children.find(alias);
      if (it == prog_.instances[inst].children.end()) return kNoCollection;
      inst = it->second;
    }
    auto it = prog_.instances[inst].collections.find(t.info->decl->name);
    return it == prog_.instances[inst].collections.end() ? kNoCollection : it->second;
  }

  void instantiate_rules() {
    for (uint32_t i = 0; i < prog_.instances.size() && i < instance_module_.size(); ++i) {
      for (const auto& tpl : templates_[instance_module_[i]]) {
        CheckedRule r;
        r.ast = tpl.rule;
        r.instance = i;
        r.head = collection_id(i, tpl.head);
        r.op = tpl.rule->op;
        r.aggregates = tpl.aggregates;
        r.uses_now = tpl.uses_now;
        r.uses_tick = tpl.uses_tick;
        r.variables = tpl.variables;
        for (const auto& in : tpl.inputs) {
          CollectionId c = collection_id(i, in.target);
          // A sealed collection is read only through its complete partitions (its view).
          if (c != kNoCollection && prog_.collections[c].sealed_by >= 0)
            c = prog_.seals[static_cast<size_t>(prog_.collections[c].sealed_by)].view;
          r.inputs.push_back({c, in.literal, in.negated, in.reveals, in.span});
        }
        prog_.rules.push_back(std::move(r));
      }
    }
    // Each seal's release, as a rule `S[sealed] <= S, P` that the planner turns into a release
    // step (plan::Seal): it reads S and P whole, so it is stratified after both.
    for (uint32_t s = 0; s < prog_.seals.size(); ++s) {
      Seal& seal = prog_.seals[s];
      auto rule = std::make_unique<ast::Rule>();
      rule->head.name.parts = {prog_.collections[seal.view].name};
      rule->head.name.span = rule->head.span = seal.ast->sealed_span;
      rule->span = rule->op_span = seal.ast->span;
      for (auto [name, at] : {std::pair{seal.ast->sealed, seal.ast->sealed_span}, std::pair{seal.ast->punct, seal.ast->punct_span}}) {
        ast::BodyLiteral lit;
        lit.kind = ast::LiteralKind::Positive;
        lit.span = lit.atom.span = lit.atom.name.span = at;
        lit.atom.name.parts = {name};
        rule->body.push_back(std::move(lit));
      }
      CheckedRule r;
      r.ast = rule.get();
      r.instance = seal.instance;
      r.head = seal.view;
      r.seal = static_cast<int>(s);
      r.inputs.push_back({seal.sealed, 0, false, {}, seal.ast->sealed_span});
      r.inputs.push_back({seal.punct, 1, false, {}, seal.ast->punct_span});
      seal.rule = static_cast<uint32_t>(prog_.rules.size());
      prog_.rules.push_back(std::move(r));
      prog_.synthesized.push_back(std::move(rule));
    }
  }

  void check_facts() {
    // Types once per module; values per instance (params may differ between instances).
    std::map<const ast::Fact*, std::optional<Target>> checked;
    for (uint32_t m = 0; m < mods_.size(); ++m) {
      for (const auto& f : mods_[m].ast->facts) {
        cur_module_ = m;
        RuleCtx ctx;
        ctx.module = m;
        ctx.in_fact = true;
        auto t = resolve_collection(m, f.atom.name);
        if (!t || !check_arity(*t, f.atom)) {
          checked[&f] = std::nullopt;
          continue;
        }
        CollectionKind k = target_kind(*t);
        if (k != CollectionKind::Table && k != CollectionKind::Scratch && k != CollectionKind::Output && k != CollectionKind::Lattice &&
            k != CollectionKind::Delay && !(k == CollectionKind::Input && !t->path.empty())) {
          auto& d =
              diags_.error("bad-fact", f.atom.name.span, "a fact cannot be put into " + quote(target_name(*t)) + ", " + article_kind(k));
          if (k == CollectionKind::Channel) d.with_help("send it with a rule: `" + target_name(*t) + "(@dst, ...) <~ ...`");
          if (k == CollectionKind::Input) d.with_help("inputs are read from NAME.facts files (bloom run -F DIR)");
          if (k == CollectionKind::Stdout) d.with_help("print with a rule: `stdout(\"...\") <~ ...`");
          checked[&f] = std::nullopt;
          continue;
        }
        const auto& cols = columns_of(*t);
        bool ok = true;
        for (size_t j = 0; j < f.atom.args.size(); ++j) {
          const ast::Arg& arg = f.atom.args[j];
          if (arg.expr->kind == ExprKind::Wildcard) {
            diags_.error("fact-not-ground", arg.span, "a fact must be ground: `_` has no value");
            ok = false;
            continue;
          }
          if (arg.location) diags_.error("bad-location", arg.span, "`@` only appears in channel sends");
          Type ty = type_for_column(*arg.expr, cols[j], ctx);
          if (ty.is_error()) {
            ok = false;
            continue;
          }
          // An lset built by a constructor is fine (built when the node starts); an lset param
          // is not: its value is known only when the node starts, and facts hold constants.
          if (ty.kind == TypeKind::LSet && names_set_param(*arg.expr, ctx)) {
            diags_.error("not-constant", arg.span, "a fact's value cannot be an lset param")
                .with_help("read it in a rule, e.g. `peer(p) <= p in peers;`");
            ok = false;
            continue;
          }
          if (storable(*arg.expr, ty, cols[j].type) == Store::Mismatch || storable(*arg.expr, ty, cols[j].type) == Store::Reveal) {
            mismatch(*arg.expr, ty, cols[j].type, *t, j);
            ok = false;
          }
        }
        checked[&f] = ok ? t : std::nullopt;
      }
    }
    for (uint32_t i = 0; i < prog_.instances.size() && i < instance_module_.size(); ++i) {
      uint32_t m = instance_module_[i];
      for (const auto& f : mods_[m].ast->facts) {
        const auto& t = checked[&f];
        if (!t) continue;
        CheckedFact cf;
        cf.ast = &f;
        cf.instance = i;
        cf.collection = collection_id(i, *t);
        for (const auto& arg : f.atom.args) {
          auto v = eval_const(
              *arg.expr, [&](const ast::QualifiedName& q, ConstValue& out) { return instance_const(i, q, out); }, diags_);
          cf.values.push_back(v ? *v : ConstValue{});
        }
        prog_.facts.push_back(std::move(cf));
      }
    }
    check_fact_keys();
  }

  // `periodic p every EXPR;` and `delay d(...) after EXPR;`: EXPR is an int in milliseconds known
  // at compile time (consts and params, so each module instance may have its own period).
  void resolve_periods() {
    for (uint32_t i = 0; i < prog_.instances.size() && i < instance_module_.size(); ++i) {
      for (const auto& di : mods_[instance_module_[i]].decls) {
        const ast::CollectionDecl& d = *di.decl;
        const bool delay = d.kind == ast::CollectionKind::Delay;
        if ((d.kind != ast::CollectionKind::Periodic && !delay) || !d.period || di.delay_column >= 0) continue;
        const char* what = delay ? "the delay of " : "the period of ";
        auto it = prog_.instances[i].collections.find(d.name);
        if (it == prog_.instances[i].collections.end()) continue;
        const std::string& prefix = prog_.instances[i].prefix;
        const std::string where = prefix.empty() ? "" : " (in `" + prefix.substr(0, prefix.size() - 1) + "`)";
        size_t errors_before = diags_.error_count();
        auto v = eval_const(
            *d.period, [&](const ast::QualifiedName& q, ConstValue& out) { return instance_const(i, q, out); }, diags_);
        if (diags_.error_count() != errors_before) continue;
        if (!v || !is_known(*v)) {
          auto& e = diags_.error("not-constant", d.period_span, what + quote(d.name) + where + " must be known at compile time");
          if (delay)
            e.with_help(
                "write a duration (`after 250ms`), an int of milliseconds from consts and params, or the name of an int column of " +
                quote(d.name) + " (a delay per tuple)");
          else e.with_help("write a duration (`every 250ms`), or an int of milliseconds from consts and params (`every BEAT_MS`)");
          continue;
        }
        const int64_t* ms = std::get_if<int64_t>(&*v);
        if (!ms) {
          diags_.error("type-mismatch", d.period_span,
                       what + quote(d.name) + where + " must be an int of milliseconds, found " + quote(const_type(*v).str()));
          continue;
        }
        if (delay && *ms < 0) {
          diags_.error("bad-period", d.period_span,
                       "a delay cannot be negative; the delay of " + quote(d.name) + where + " is " + std::to_string(*ms) + " ms");
          continue;
        }
        if (!delay && *ms <= 0) {
          diags_.error("bad-period", d.period_span,
                       "a periodic needs a positive period; the period of " + quote(d.name) + where + " is " + std::to_string(*ms) + " ms");
          continue;
        }
        prog_.collections[it->second].period_ms = *ms;
      }
    }
  }

  bool instance_const(uint32_t inst, const ast::QualifiedName& q, ConstValue& out) {
    for (size_t k = 0; k + 1 < q.parts.size(); ++k) {
      auto it = prog_.instances[inst].children.find(q.parts[k]);
      if (it == prog_.instances[inst].children.end()) return false;
      inst = it->second;
    }
    const ModuleInfo& mi = mods_[instance_module_[inst]];
    const std::string& n = q.parts.back();
    if (auto it = mi.consts.find(n); it != mi.consts.end()) {
      out = it->second;
      return true;
    }
    if (auto it = prog_.instances[inst].params.find(n); it != prog_.instances[inst].params.end()) {
      out = it->second;
      return true;
    }
    return false;
  }

  // Two ground facts with one key but different plain values can never both hold.
  void check_fact_keys() {
    std::map<std::pair<CollectionId, std::string>, const CheckedFact*> first;
    for (const auto& f : prog_.facts) {
      const Collection& c = prog_.collections[f.collection];
      if (!c.keyed) continue;
      std::string key;
      bool known = true;
      for (uint32_t k : c.key) {
        known = known && is_known(f.values[k]);
        key += const_to_string(f.values[k]) + ", ";
      }
      if (!known) continue;
      auto [it, fresh] = first.try_emplace({c.id, key}, &f);
      if (fresh) continue;
      const CheckedFact& g = *it->second;
      for (uint32_t j = 0; j < c.columns.size(); ++j) {
        if (c.columns[j].type.is_lattice() || std::find(c.key.begin(), c.key.end(), j) != c.key.end()) continue;
        if (!is_known(f.values[j]) || !is_known(g.values[j]) || f.values[j] == g.values[j]) continue;
        std::string keytext = key.substr(0, key.size() - 2);
        diags_.error("key-conflict", f.ast->span, "conflicting facts for key (" + keytext + ") of keyed table " + quote(c.name))
            .note(g.ast->span, "the other fact with this key")
            .note(c.name_span, quote(c.name) + " is keyed here: it holds one tuple per key")
            .with_help("column " + quote(c.columns[j].name) + " differs (" + const_to_string(g.values[j]) + " vs " +
                       const_to_string(f.values[j]) + "); remove one of the facts");
        break;
      }
    }
  }

  SourceManager& sm_;
  DiagnosticEngine& diags_;
  const CheckOptions& opts_;
  Program& prog_;
  std::vector<ModuleInfo> mods_;
  std::map<std::string, uint32_t> by_path_;
  std::vector<uint32_t> instance_module_;  // instance -> module index
  uint32_t cur_module_ = 0;                // the module whose rule or fact is being checked
  std::optional<Type> expect_;             // what the context wants of the next expression (type_expecting)
  const Column* expect_column_ = nullptr;  // the column it goes into (type_for_column)
  const ast::Expr* expect_top_ = nullptr;  // the whole argument stored into that column
  std::map<uint32_t, std::vector<RuleTemplate>> templates_;
};

}  // namespace

std::unique_ptr<Program> check_program(SourceManager& sm, FileId main_file, std::unique_ptr<ast::Module> main, DiagnosticEngine& diags,
                                       const CheckOptions& opts) {
  auto prog = std::make_unique<Program>();
  Checker checker(sm, diags, opts, *prog);
  if (!checker.run(main_file, std::move(main))) return nullptr;
  return prog;
}

}  // namespace bloom::sema
