// Hand-written baseline for the runtime benchmark (bench/run_bench.sh, bench/README.md).
//
// Computes the three shared workloads of ../shared/bench (tc.bloom, sg.bloom, negagg.bloom)
// directly, with no Datalog engine: semi-naive evaluation over absl::flat_hash_set of packed
// 64-bit pairs, single-threaded. It prints the relation sizes exactly as
// `bloom run PROG -F DIR --sizes` does: one line per output relation, `name<TAB>count`, in the
// order the outputs are declared in the program.
//
//   baseline tc DIR       reads DIR/edge.facts                 -> path
//   baseline sg DIR       reads DIR/par.facts                  -> sg
//   baseline negagg DIR   reads DIR/edge.facts, DIR/node.facts -> unreach, reach, cnt, total
//   -v (before the workload) also prints phase times and aggregate values to stderr.
//
// Facts files are Souffle's format: one tuple a line, tab-separated decimal integers.
// Build: g++ -O2 -std=c++20 -DNDEBUG baseline.cpp $(pkg-config --cflags --libs
//        absl_flat_hash_set absl_flat_hash_map absl_hash) -o baseline   (run_bench.sh does this)
#include <absl/container/flat_hash_map.h>
#include <absl/container/flat_hash_set.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

bool verbose = false;
using Clock = std::chrono::steady_clock;
const Clock::time_point start_time = Clock::now();

void note(const char* what, std::size_t n) {
  if (!verbose) return;
  double s = std::chrono::duration<double>(Clock::now() - start_time).count();
  std::fprintf(stderr, "[%7.3f s] %s: %zu\n", s, what, n);
}

[[noreturn]] void die(const std::string& msg) {
  std::fprintf(stderr, "baseline: %s\n", msg.c_str());
  std::exit(2);
}

using Pair = std::uint64_t;
inline Pair pack(std::int32_t a, std::int32_t b) {
  return (static_cast<std::uint64_t>(static_cast<std::uint32_t>(a)) << 32) | static_cast<std::uint32_t>(b);
}
inline std::int32_t first(Pair p) { return static_cast<std::int32_t>(p >> 32); }
inline std::int32_t second(Pair p) { return static_cast<std::int32_t>(p & 0xffffffffu); }

// Reads a facts file of `arity` int columns; returns the values row-major.
std::vector<std::int32_t> read_facts(const std::string& path, int arity) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) die("cannot open " + path);
  std::string buf;
  char chunk[1 << 16];
  std::size_t n;
  while ((n = std::fread(chunk, 1, sizeof chunk, f)) > 0) buf.append(chunk, n);
  std::fclose(f);

  std::vector<std::int32_t> out;
  const char* p = buf.data();
  const char* end = p + buf.size();
  std::size_t line = 1;
  while (p < end) {
    if (*p == '\n' || *p == '\r') {  // empty line
      if (*p == '\n') ++line;
      ++p;
      continue;
    }
    for (int c = 0; c < arity; ++c) {
      bool neg = false;
      if (p < end && *p == '-') neg = true, ++p;
      if (p >= end || *p < '0' || *p > '9') die(path + ":" + std::to_string(line) + ": expected an integer");
      std::int64_t v = 0;
      while (p < end && *p >= '0' && *p <= '9') v = v * 10 + (*p++ - '0');
      out.push_back(static_cast<std::int32_t>(neg ? -v : v));
      if (c + 1 < arity) {
        if (p >= end || *p != '\t') die(path + ":" + std::to_string(line) + ": expected a tab");
        ++p;
      }
    }
    if (p < end && *p == '\r') ++p;
    if (p < end && *p != '\n') die(path + ":" + std::to_string(line) + ": trailing characters");
  }
  return out;
}

// A binary relation indexed on one column: for key k, the values are vals[off[k]..off[k+1]).
// Keys are the dense non-negative ids of the generated graphs.
struct Index {
  std::vector<std::uint32_t> off;
  std::vector<std::int32_t> vals;
  std::size_t size = 0;  // distinct tuples

  const std::int32_t* begin(std::int32_t k) const {
    return k >= 0 && static_cast<std::size_t>(k) + 1 < off.size() ? vals.data() + off[k] : vals.data();
  }
  const std::int32_t* end(std::int32_t k) const {
    return k >= 0 && static_cast<std::size_t>(k) + 1 < off.size() ? vals.data() + off[k + 1] : vals.data();
  }
};

// Index of a binary facts relation (key column `key`, value the other), duplicates removed.
Index build_index(const std::vector<std::int32_t>& rows, int key) {
  std::vector<Pair> ps;
  ps.reserve(rows.size() / 2);
  std::int32_t max_key = -1;
  for (std::size_t i = 0; i + 1 < rows.size(); i += 2) {
    std::int32_t k = rows[i + key], v = rows[i + 1 - key];
    if (k < 0) die("negative node id " + std::to_string(k) + " (the baseline expects ids >= 0)");
    max_key = std::max(max_key, k);
    ps.push_back(pack(k, v));
  }
  std::sort(ps.begin(), ps.end());
  ps.erase(std::unique(ps.begin(), ps.end()), ps.end());
  Index ix;
  ix.size = ps.size();
  ix.off.assign(static_cast<std::size_t>(max_key) + 2, 0);
  for (Pair p : ps) ++ix.off[static_cast<std::size_t>(first(p)) + 1];
  for (std::size_t k = 1; k < ix.off.size(); ++k) ix.off[k] += ix.off[k - 1];
  ix.vals.reserve(ps.size());
  for (Pair p : ps) ix.vals.push_back(second(p));
  return ix;
}

using PairSet = absl::flat_hash_set<Pair>;

// rel(x, z) <= rel(x, y), edge(y, z), semi-naive from an initial delta already in `rel`.
void close_right(PairSet& rel, std::vector<Pair> delta, const Index& edge) {
  std::vector<Pair> next;
  while (!delta.empty()) {
    next.clear();
    for (Pair d : delta) {
      std::int32_t x = first(d), y = second(d);
      for (const std::int32_t* z = edge.begin(y); z != edge.end(y); ++z) {
        Pair t = pack(x, *z);
        if (rel.insert(t).second) next.push_back(t);
      }
    }
    delta.swap(next);
    note("  delta", delta.size());
  }
}

// tc.bloom: path(x, y) <= edge(x, y); path(x, z) <= path(x, y), edge(y, z).
int run_tc(const std::string& dir) {
  Index edge = build_index(read_facts(dir + "/edge.facts", 2), 0);
  note("edge", edge.size);
  PairSet path;
  std::vector<Pair> delta;
  for (std::size_t x = 0; x + 1 < edge.off.size(); ++x)
    for (std::uint32_t i = edge.off[x]; i < edge.off[x + 1]; ++i) {
      Pair t = pack(static_cast<std::int32_t>(x), edge.vals[i]);
      if (path.insert(t).second) delta.push_back(t);
    }
  close_right(path, std::move(delta), edge);
  note("path", path.size());
  std::printf("path\t%zu\n", path.size());
  return 0;
}

// sg.bloom over par(child, parent):
//   sg(x, y) <= par(x, p), par(y, p), x != y;
//   sg(x, y) <= par(x, a), sg(a, b), par(y, b).
int run_sg(const std::string& dir) {
  Index children = build_index(read_facts(dir + "/par.facts", 2), 1);  // parent -> children
  note("par", children.size);
  PairSet sg;
  std::vector<Pair> delta, next;
  for (std::size_t p = 0; p + 1 < children.off.size(); ++p) {
    auto b = children.begin(static_cast<std::int32_t>(p));
    auto e = children.end(static_cast<std::int32_t>(p));
    for (auto x = b; x != e; ++x)
      for (auto y = b; y != e; ++y)
        if (*x != *y) {
          Pair t = pack(*x, *y);
          if (sg.insert(t).second) delta.push_back(t);
        }
  }
  note("  delta", delta.size());
  while (!delta.empty()) {
    next.clear();
    for (Pair d : delta) {
      std::int32_t a = first(d), b = second(d);
      for (auto x = children.begin(a); x != children.end(a); ++x)
        for (auto y = children.begin(b); y != children.end(b); ++y) {
          Pair t = pack(*x, *y);
          if (sg.insert(t).second) next.push_back(t);
        }
    }
    delta.swap(next);
    note("  delta", delta.size());
  }
  note("sg", sg.size());
  std::printf("sg\t%zu\n", sg.size());
  return 0;
}

// negagg.bloom:
//   reach0(0); reach0(z) <= reach0(y), edge(y, z);
//   unreach(x) <= node(x), not reach0(x);
//   src(s) <= node(s), s % 100 == 0;
//   reach(s, y) <= src(s), edge(s, y); reach(s, z) <= reach(s, y), edge(y, z);
//   cnt(s, count()) <= reach(s, _);
//   total(sum(c)) <= cnt(_, c);
int run_negagg(const std::string& dir) {
  Index edge = build_index(read_facts(dir + "/edge.facts", 2), 0);
  std::vector<std::int32_t> node_rows = read_facts(dir + "/node.facts", 1);
  absl::flat_hash_set<std::int32_t> node(node_rows.begin(), node_rows.end());
  note("edge", edge.size);
  note("node", node.size());

  // Stratum 1: reach0, semi-naive.
  absl::flat_hash_set<std::int32_t> reach0{0};
  std::vector<std::int32_t> d1{0}, n1;
  while (!d1.empty()) {
    n1.clear();
    for (std::int32_t y : d1)
      for (auto z = edge.begin(y); z != edge.end(y); ++z)
        if (reach0.insert(*z).second) n1.push_back(*z);
    d1.swap(n1);
  }
  note("reach0", reach0.size());

  // Stratum 2: unreach (negation), src, reach.
  std::size_t unreach = 0;
  for (std::int32_t x : node)
    if (!reach0.contains(x)) ++unreach;
  std::vector<std::int32_t> src;
  for (std::int32_t s : node)
    if (s % 100 == 0) src.push_back(s);
  PairSet reach;
  std::vector<Pair> delta;
  for (std::int32_t s : src)
    for (auto y = edge.begin(s); y != edge.end(s); ++y) {
      Pair t = pack(s, *y);
      if (reach.insert(t).second) delta.push_back(t);
    }
  close_right(reach, std::move(delta), edge);
  note("reach", reach.size());

  // Stratum 3: cnt (count per s); stratum 4: total (sum over cnt's tuples).
  absl::flat_hash_map<std::int32_t, std::int64_t> cnt;
  for (Pair p : reach) ++cnt[first(p)];
  std::int64_t total = 0;
  for (const auto& [s, c] : cnt) total += c;
  note("cnt", cnt.size());
  if (verbose) std::fprintf(stderr, "total value: %lld\n", static_cast<long long>(total));

  std::printf("unreach\t%zu\nreach\t%zu\ncnt\t%zu\ntotal\t%d\n", unreach, reach.size(), cnt.size(), 1);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  int i = 1;
  if (i < argc && std::strcmp(argv[i], "-v") == 0) verbose = true, ++i;
  if (argc - i != 2) {
    std::fprintf(stderr, "usage: baseline [-v] tc|sg|negagg DIR\n");
    return 2;
  }
  std::string what = argv[i], dir = argv[i + 1];
  if (what == "tc") return run_tc(dir);
  if (what == "sg") return run_sg(dir);
  if (what == "negagg") return run_negagg(dir);
  std::fprintf(stderr, "baseline: unknown workload '%s' (tc, sg or negagg)\n", what.c_str());
  return 2;
}
