#include "sim/explain.h"

#include <algorithm>
#include <set>
#include <unordered_map>

#include <fmt/format.h>

#include "node/node.h"

namespace bloom::rt::sim {

namespace {

using plan::StepKind;

// A tuple's text without the spaces outside string literals, so `r(1,"a b")` and `r(1, "a b")`
// name the same tuple.
std::string normalized(std::string_view text) {
  std::string out;
  bool quoted = false, escaped = false;
  for (char c : text) {
    if (quoted) {
      out += c;
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') quoted = false;
      continue;
    }
    if (c == '"') quoted = true;
    if (c != ' ' && c != '\t') out += c;
  }
  return out;
}

const char* how_of(const plan::RulePlan& rule) {
  return rule.op == plan::HeadOp::Send ? "sent" : rule.op == plan::HeadOp::Insert ? "derived" : "queued for the next tick";
}

// How a tuple first came to exist at a node.
struct Origin {
  enum Kind { Rule, Message, Fact, Input, Released } kind = Rule;
  int64_t tick = 0;
  // A rule's derivation.
  const plan::RulePlan* rule = nullptr;
  std::vector<std::string> body;    // the tuples its body matched (positive atoms)
  std::vector<std::string> absent;  // its negated atoms, as patterns (`_` for any value)
  bool aggregate = false;
  // An arrival.
  uint64_t id = 0;
  std::string from;
  std::string where;  // a fact's declaration
  std::string text;   // the tuple as the program prints it
};

class Recorder final : public Observer {
 public:
  void started(const std::string& node, Node& n) override {
    // A restarted node starts from nothing: what it derived before the crash is gone.
    for (auto it = origins_.begin(); it != origins_.end();) it = it->first.node == node ? origins_.erase(it) : std::next(it);
    int incarnation = incarnations_[node]++;
    n.engine().on_derive = [this, node, incarnation, &n](const plan::RulePlan& rule, const Word* row, const Word* frame) {
      derived(node, incarnation, n, rule, row, frame);
    };
    n.engine().on_release = [this, node, &n](const plan::Seal& seal, const Word* row, const Word* seal_row) {
      const auto& view = n.plan().relations[seal.view];
      Origin o;
      o.kind = Origin::Released;
      o.tick = n.ticks();
      o.where = seal.where;
      o.from = seal.text;
      o.body.push_back(n.engine().format_row(n.plan().relations[seal.sealed], row, true));
      if (seal_row) o.body.push_back(n.engine().format_row(n.plan().relations[seal.punct], seal_row, true));
      add(node, n.engine().format_row(view, row, true), std::move(o));
    };
    // The program's facts and the inputs read from the node's facts directory (already loaded).
    for (const auto& f : n.plan().facts) {
      const auto& decl = n.plan().relations[f.relation];
      std::string text = decl.name + "(";
      for (size_t c = 0; c < f.values.size(); ++c) {
        auto built = std::find_if(f.built.begin(), f.built.end(), [&](const auto& b) { return b.first == c; });
        if (built != f.built.end())
          text += (c ? ", " : "") + n.engine().format(decl.column_types[c], n.engine().eval_constant(built->second), true);
        else text += (c ? ", " : "") + (f.is_self[c] ? "\"" + node + "\"" : plan::constant_str(f.values[c]));
      }
      Origin o;
      o.kind = Origin::Fact;
      o.where = f.where;
      add(node, text + ")", std::move(o));
    }
    std::vector<Word> row;
    for (const auto& decl : n.plan().relations) {
      if (decl.kind != plan::RelationKind::Input) continue;
      const Relation& rel = n.engine().relation(decl.id);
      row.resize(decl.arity() + 1);
      for (RowId r = 0; r < rel.end(); ++r) {
        if (!rel.alive(r)) continue;
        rel.read(r, row.data());
        Origin o;
        o.kind = Origin::Input;
        add(node, n.engine().format_row(decl, row.data(), true), std::move(o));
      }
    }
  }

  void received(const std::string& node, Node& n, uint64_t message, const std::string& from, uint32_t relation, const Word* rows,
                size_t count) override {
    const auto& decl = n.plan().relations[relation];
    for (size_t i = 0; i < count; ++i) {
      Origin o;
      o.kind = Origin::Message;
      o.tick = n.ticks();
      o.id = message;
      o.from = from;
      add(node, n.engine().format_row(decl, rows + i * decl.arity(), true), std::move(o));
    }
  }

  struct Key {
    std::string node, tuple;
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    size_t operator()(const Key& k) const { return std::hash<std::string>()(k.node) * 31 + std::hash<std::string>()(k.tuple); }
  };
  // `tuple` as printed or typed: spaces outside strings do not matter.
  const Origin* find(const std::string& node, std::string_view tuple) const {
    auto it = origins_.find(Key{node, normalized(tuple)});
    return it == origins_.end() ? nullptr : &it->second;
  }
  const TickDerivations& by_tick() const { return by_tick_; }

  std::vector<std::string> tuples_of(const std::string& node, const std::string& collection) const {
    std::vector<std::string> out;
    for (const auto& [k, o] : origins_)
      if (k.node == node && k.tuple.compare(0, collection.size() + 1, collection + "(") == 0) out.push_back(o.text);
    std::sort(out.begin(), out.end());
    return out;
  }

 private:
  // Keeps the first origin of a tuple: set semantics, it exists from then on.
  void add(const std::string& node, std::string text, Origin o) {
    Key k{node, normalized(text)};
    if (origins_.count(k)) return;
    o.text = std::move(text);
    origins_.emplace(std::move(k), std::move(o));
  }

  void derived(const std::string& node, int incarnation, Node& n, const plan::RulePlan& rule, const Word* row, const Word* frame) {
    if (rule.op == plan::HeadOp::DeferredDelete) return;  // a removal explains no tuple's existence
    const auto& decl = n.plan().relations[rule.head];
    std::string text = n.engine().format_row(decl, row, true);
    if (origins_.count(Key{node, normalized(text)})) return;
    note_in_tick(node, incarnation, n.ticks(), rule, text);
    Origin o;
    o.tick = n.ticks();
    o.rule = &rule;
    o.aggregate = frame == nullptr;
    if (frame)
      for (const auto& s : rule.steps) {
        if (plan::is_positive_atom(s)) o.body.push_back(matched(n, s, frame));
        if (s.kind == StepKind::AntiJoin) o.absent.push_back(pattern(n, s, frame).first);
      }
    add(node, std::move(text), std::move(o));
  }

  // The values a step's atom is known to have from the frame: bound columns, columns equal to
  // a bound register, and index key columns given by a register. The rest are unknown.
  static std::pair<std::string, std::vector<std::optional<Word>>> pattern(Node& n, const plan::Step& s, const Word* frame) {
    const auto& decl = n.plan().relations[s.relation];
    std::vector<std::optional<Word>> cols(decl.arity());
    for (uint32_t c = 0; c < s.bind.size() && c < cols.size(); ++c)
      if (s.bind[c] >= 0) cols[c] = frame[s.bind[c]];
    for (auto [c, reg] : s.equal) cols[c] = frame[reg];
    if (s.kind != StepKind::Scan) {
      const auto& index = s.index == plan::kKeyIndex ? decl.key : decl.indexes[static_cast<size_t>(s.index)];
      for (size_t i = 0; i < index.size() && i < s.key.size(); ++i)
        if (s.key[i].op == plan::Op::Reg) cols[index[i]] = frame[s.key[i].reg];
    }
    std::string text = decl.name + "(";
    for (uint32_t c = 0; c < cols.size(); ++c)
      text += (c ? ", " : "") + (cols[c] ? n.engine().format(decl.column_types[c], *cols[c], true) : "_");
    return {text + ")", cols};
  }

  // The row a scan or lookup matched: found again in the relation when the frame does not hold
  // every column (a `_` in the atom).
  static std::string matched(Node& n, const plan::Step& s, const Word* frame) {
    auto [text, cols] = pattern(n, s, frame);
    if (std::all_of(cols.begin(), cols.end(), [](const auto& c) { return c.has_value(); })) return text;
    const auto& decl = n.plan().relations[s.relation];
    const Relation& rel = n.engine().relation(s.relation);
    std::vector<Word> row(decl.arity() + 1);
    for (RowId r = 0; r < rel.end(); ++r) {
      if (!rel.alive(r)) continue;
      rel.read(r, row.data());
      bool match = true;
      for (uint32_t c = 0; c < cols.size() && match; ++c) match = !cols[c] || *cols[c] == row[c];
      if (match) return n.engine().format_row(decl, row.data(), true);
    }
    return text;
  }

  // What a tick produced, by rule in the order the rules first produced something; at most
  // kPerRule tuples each, so that a big tick keeps the timeline page small.
  void note_in_tick(const std::string& node, int incarnation, int64_t tick, const plan::RulePlan& rule, const std::string& text) {
    constexpr size_t kPerRule = 50;
    auto& outs = by_tick_[{node, incarnation, tick}];
    std::string name = fmt::format("{} ({})", rule.text, rule.where);
    auto it = std::find_if(outs.begin(), outs.end(), [&](const RuleOutput& o) { return o.rule == name; });
    if (it == outs.end()) {
      it = outs.insert(outs.end(), RuleOutput{name, how_of(rule), {}});
    }
    if (it->tuples.size() < kPerRule) it->tuples.push_back(text);
    else if (it->tuples.size() == kPerRule) it->tuples.push_back("...");
  }

  std::unordered_map<Key, Origin, KeyHash> origins_;
  std::map<std::string, int> incarnations_;
  TickDerivations by_tick_;
};

class Writer {
 public:
  explicit Writer(const Recorder& r) : rec_(r) {}

  void explain(const std::string& node, const std::string& tuple, int depth) {
    std::string indent(static_cast<size_t>(depth) * 2, ' ');
    const Origin* o = rec_.find(node, tuple);
    std::string head = fmt::format("{}{}: {}", indent, node, o ? o->text : tuple);
    if (!seen_.insert(node + '\x1f' + normalized(tuple)).second) {
      out_ += head + "  (explained above)\n";
      return;
    }
    if (depth >= kMaxDepth) {
      out_ += head + "  (and so on: the chain is deeper than " + std::to_string(kMaxDepth) + ")\n";
      return;
    }
    if (!o) {
      out_ += head + "  (no record of where it came from)\n";
      return;
    }
    if (o->kind == Origin::Fact) {
      out_ += fmt::format("{}  a fact of the program ({})\n", head, o->where);
      return;
    }
    if (o->kind == Origin::Input) {
      out_ += head + "  an input of the node (its facts directory, tick 0)\n";
      return;
    }
    if (o->kind == Origin::Message) {
      out_ += fmt::format("{}  arrived in tick {} in message {} from `{}`\n", head, o->tick, o->id, o->from);
      explain(o->from, tuple, depth + 1);
      return;
    }
    if (o->kind == Origin::Released) {
      out_ += fmt::format("{}  released in tick {} by `{}` ({}), its partition complete\n", head, o->tick, o->from, o->where);
      for (const auto& b : o->body) explain(node, b, depth + 1);
      return;
    }
    const char* how = how_of(*o->rule);
    out_ += fmt::format("{}  {} in tick {} by `{}` ({})\n", head, how, o->tick, o->rule->text, o->rule->where);
    if (o->aggregate) out_ += indent + "  (an aggregate: from every match of its group)\n";
    for (const auto& b : o->body) explain(node, b, depth + 1);
    for (const auto& a : o->absent) out_ += fmt::format("{}  not {}: absent then\n", indent, a);
  }
  std::string text() && { return std::move(out_); }

 private:
  static constexpr int kMaxDepth = 40;
  const Recorder& rec_;
  std::set<std::string> seen_;
  std::string out_;
};

// Replays the trace with the recorder watching. false (and why) when the replay departs from it.
bool record(const SimOptions& options, const Trace& trace, Recorder& recorder, std::string& error) {
  SimOptions o = options;
  o.observer = &recorder;
  RunResult r = replay_strict(o, trace);
  if (r.end != End::Mismatch) return true;
  error = "the replay departed from the trace: " + r.error;
  return false;
}

}  // namespace

std::optional<std::string> explain(const SimOptions& options, const Trace& trace, std::string_view target, std::string& error) {
  // `node.collection(...)`: node names may contain dots, so the longest node name that prefixes
  // the target is its node.
  std::string node;
  for (const auto& n : trace.nodes)
    if (target.size() > n.size() + 1 && target.substr(0, n.size()) == n && target[n.size()] == '.' && n.size() > node.size()) node = n;
  std::string tuple = normalized(node.empty() ? "" : target.substr(node.size() + 1));
  size_t paren = tuple.find('(');
  if (node.empty() || paren == std::string::npos || paren == 0 || tuple.back() != ')') {
    error = fmt::format("--explain `{}`: expected NODE.COLLECTION(VALUES), e.g. `{}.name(1, \"a\")` (nodes: {})", target,
                        trace.nodes.empty() ? "n1" : trace.nodes[0], fmt::join(trace.nodes, ", "));
    return std::nullopt;
  }
  Recorder recorder;
  if (!record(options, trace, recorder, error)) return std::nullopt;
  if (!recorder.find(node, tuple)) {
    auto known = recorder.tuples_of(node, tuple.substr(0, paren));
    if (known.size() > 8) known.resize(8);
    error = fmt::format("node `{}` never held `{}` in this run{}{}", node, tuple,
                        known.empty() ? "" : "; it did hold: ", fmt::join(known, ", "));
    return std::nullopt;
  }
  Writer w(recorder);
  w.explain(node, tuple, 0);
  return std::move(w).text();
}

std::optional<TickDerivations> derived_by_tick(const SimOptions& options, const Trace& trace, std::string& error) {
  Recorder recorder;
  if (!record(options, trace, recorder, error)) return std::nullopt;
  return recorder.by_tick();
}

}  // namespace bloom::rt::sim
