// runtime/net: the wire format (round trips of every column type into a different symbol table,
// schema mismatches, truncated, corrupt and forged messages) and the ZeroMQ transport over real
// sockets (tcp on 127.0.0.1 with a port chosen at run time, inproc with a shared context).
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <new>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zmq.hpp>

#include "core/lattice.h"
#include "core/value.h"
#include "net/transport.h"
#include "net/wire.h"
#include "rt_test_util.h"
#include "test_util.h"

// ------------------------------------------------------------------ allocation watch
// The largest single allocation while `g_watch` is on: a forged count must not allocate for it.
// (Replacing the global operator new/delete with malloc/free is allowed; g++ warns about the pair
// at every inlined use, wrongly.)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
namespace {
std::atomic<bool> g_watch{false};
std::atomic<size_t> g_largest{0};
void note(size_t n) {
  if (!g_watch.load(std::memory_order_relaxed)) return;
  size_t cur = g_largest.load(std::memory_order_relaxed);
  while (n > cur && !g_largest.compare_exchange_weak(cur, n)) {
  }
}
}  // namespace
void* operator new(size_t n) {
  note(n);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void* operator new[](size_t n) {
  note(n);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void* operator new(size_t n, const std::nothrow_t&) noexcept {  // std::stable_sort's buffer
  note(n);
  return std::malloc(n ? n : 1);
}
void* operator new[](size_t n, const std::nothrow_t&) noexcept {
  note(n);
  return std::malloc(n ? n : 1);
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
void operator delete[](void* p, size_t) noexcept { std::free(p); }

namespace bloom {
namespace {

using namespace bloom::test;
using rt::Lattices;
using rt::SymbolTable;
using rt::Word;
using rt::net::Codec;

const char* kChannels = R"(
channel ints(@dst: addr, a: int, b: int);
channel mixed(@dst: addr, i: int, f: float, s: string, b: bool, who: addr);
channel bounds(@dst: addr, hi: lmax<int>, lo: lmin<int>, fhi: lmax<float>, flo: lmin<float>, shi: lmax<string>, slo: lmin<string>, flag: lbool);
channel sets(@dst: addr, tags: lset<string>, nums: lset<int>, counts: lmap<string, lmax<int>>, groups: lmap<int, lset<addr>>);
channel vote(@dst: addr, round: int, v: int);
)";

// One node's view: its plan, its own symbols and lattices, its codec.
struct Side {
  std::unique_ptr<plan::Program> plan;
  SymbolTable symbols;
  Lattices lattices{symbols};
  std::unique_ptr<Codec> codec;
  explicit Side(const std::string& text, int junk_symbols = 0) : plan(plan_for(text)) {
    for (int i = 0; i < junk_symbols; ++i) symbols.intern("junk" + std::to_string(i));  // ids differ between sides
    if (plan) codec = std::make_unique<Codec>(*plan, symbols, lattices);
  }
  uint32_t rel(const std::string& name) const {
    const plan::Relation* r = plan->find(name);
    EXPECT_NE(r, nullptr) << name;
    return r ? r->id : 0;
  }
  Word s(const std::string& v) { return symbols.intern(v); }
};

std::string decode_error(const Side& to, std::string_view bytes) {
  Codec::Message m;
  std::string error;
  EXPECT_FALSE(to.codec->decode(bytes, m, error));
  return error;
}

TEST(NetWire, SchemasOfChannelsOnly) {
  Side a(kChannels);
  ASSERT_TRUE(a.codec);
  const auto* s = a.codec->channel(a.rel("mixed"));
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->name, "mixed");
  EXPECT_EQ(s->signature, "(addr, int, float, string, bool, addr)");
  EXPECT_EQ(s->fingerprint, rt::net::channel_fingerprint("mixed", s->columns));
  EXPECT_NE(s->fingerprint, rt::net::channel_fingerprint("mixed2", s->columns));
  EXPECT_EQ(a.codec->channel(0u), nullptr);                          // stdout is not a channel
  EXPECT_TRUE(a.codec->channel(a.rel("ints"))->raw_words == false);  // the @ column is an addr
}

TEST(NetWire, IntsRoundTripIntoAnotherSymbolTable) {
  Side a(kChannels, 5), b(kChannels, 17);
  std::mt19937_64 rng(test_seed());
  const size_t n = 1000;
  std::vector<Word> rows;
  for (size_t i = 0; i < n; ++i) rows.insert(rows.end(), {a.s("node" + std::to_string(i % 3)), rng(), rt::from_int(-int64_t(i))});
  std::string bytes = a.codec->encode(a.rel("ints"), rows.data(), n, "alice");
  Codec::Message m;
  std::string error;
  ASSERT_TRUE(b.codec->decode(bytes, m, error)) << error;
  EXPECT_EQ(m.sender, "alice");
  EXPECT_EQ(m.relation, b.rel("ints"));
  ASSERT_EQ(m.count, n);
  ASSERT_EQ(m.rows.size(), 3 * n);
  for (size_t i = 0; i < n; ++i) {
    EXPECT_EQ(b.symbols.str(m.rows[3 * i]), "node" + std::to_string(i % 3));
    EXPECT_NE(m.rows[3 * i], rows[3 * i]) << "ids were expected to differ between the two tables";
    EXPECT_EQ(m.rows[3 * i + 1], rows[3 * i + 1]);
    EXPECT_EQ(rt::as_int(m.rows[3 * i + 2]), -int64_t(i));
  }
}

TEST(NetWire, EveryPlainTypeRoundTrips) {
  Side a(kChannels, 3), b(kChannels, 11);
  std::vector<Word> rows = {a.s("bob"),
                            rt::from_int(INT64_MIN),
                            rt::from_float(-0.0),
                            a.s(""),
                            rt::from_bool(true),
                            a.s("carol"),
                            a.s("bob"),
                            rt::from_int(INT64_MAX),
                            rt::from_float(1.5e300),
                            a.s("héllo\n\"q\""),
                            rt::from_bool(false),
                            a.s("bob"),
                            a.s("dan"),
                            rt::from_int(0),
                            rt::from_float(std::numeric_limits<double>::quiet_NaN()),
                            a.s(std::string("nul\0in", 6)),
                            rt::from_bool(true),
                            a.s("dan")};
  std::string bytes = a.codec->encode(a.rel("mixed"), rows.data(), 3, "alice");
  Codec::Message m;
  std::string error;
  ASSERT_TRUE(b.codec->decode(bytes, m, error)) << error;
  ASSERT_EQ(m.count, 3u);
  for (size_t i = 0; i < rows.size(); ++i) {
    size_t c = i % 6;
    if (c == 0 || c == 3 || c == 5) EXPECT_EQ(b.symbols.str(m.rows[i]), a.symbols.str(rows[i])) << "cell " << i;
    else EXPECT_EQ(m.rows[i], rows[i]) << "cell " << i;  // ints, float bits (-0.0, NaN), bools
  }
}

// A schema of 8-byte words only (no @ addr column: built by hand, as a parser would never give
// it) takes the memcpy path; it must round-trip and refuse truncations like the others.
TEST(NetWire, AllWordRowsRoundTripAndRefuseTruncation) {
  plan::Program p;
  p.relations.resize(3);
  p.relations[0].kind = plan::RelationKind::Stdout;
  p.relations[1].kind = plan::RelationKind::Halt;
  plan::Relation& r = p.relations[2];
  r.id = 2;
  r.name = "words";
  r.kind = plan::RelationKind::Channel;
  r.column_types = {kInt, kFloat, lmax(kInt)};
  SymbolTable sa, sb;
  Lattices la(sa), lb(sb);
  Codec a(p, sa, la), b(p, sb, lb);
  ASSERT_TRUE(a.channel(2u)->raw_words);
  std::vector<Word> rows;
  for (int i = 0; i < 100; ++i) rows.insert(rows.end(), {rt::from_int(-i), rt::from_float(i / 3.0), rt::from_int(INT64_MIN + i)});
  const std::string bytes = a.encode(2, rows.data(), 100, "w");
  Codec::Message m;
  std::string error;
  ASSERT_TRUE(b.decode(bytes, m, error)) << error;
  EXPECT_EQ(m.rows, rows);
  for (size_t len = 0; len < bytes.size(); ++len) EXPECT_FALSE(b.decode(std::string_view(bytes).substr(0, len), m, error)) << len;
  std::string strings = bytes;
  strings[40] = 1;  // a string table on a channel without strings
  EXPECT_FALSE(b.decode(strings, m, error));
  EXPECT_NE(error.find("no string column"), std::string::npos) << error;
}

// Rows decoded into a caller's vector (a node's inbox) land after the rows it has, with the
// strings interned; a refused message leaves the vector as it was.
TEST(NetWire, RowsDecodeStraightIntoATargetVectorAndARefusalTakesThemBack) {
  Side a(kChannels, 2), b(kChannels, 9);
  std::vector<Word> rows = {a.s("bob"), rt::from_int(1), rt::from_int(2), a.s("carol"), rt::from_int(3), rt::from_int(4)};
  const std::string bytes = a.codec->encode(a.rel("ints"), rows.data(), 2, "alice");
  struct Target {
    uint32_t wanted;
    std::vector<Word> rows{7, 8, 9};  // a row already waiting
    uint32_t asked = UINT32_MAX;
  } t{b.rel("ints")};
  auto target = [](void* c, uint32_t relation) {
    auto* self = static_cast<Target*>(c);
    self->asked = relation;
    return relation == self->wanted ? &self->rows : nullptr;
  };
  Codec::Message m;
  std::string error;
  ASSERT_TRUE(b.codec->decode(bytes, m, error, target, &t)) << error;
  EXPECT_EQ(t.asked, b.rel("ints"));
  EXPECT_EQ(m.count, 2u);
  EXPECT_EQ(m.relation, b.rel("ints"));
  EXPECT_TRUE(m.rows.empty());
  ASSERT_EQ(t.rows.size(), 9u);
  EXPECT_EQ((std::vector<Word>(t.rows.begin(), t.rows.begin() + 3)), (std::vector<Word>{7, 8, 9}));
  EXPECT_EQ(b.symbols.str(t.rows[3]), "bob");
  EXPECT_EQ(b.symbols.str(t.rows[6]), "carol");
  EXPECT_EQ(t.rows[5], rt::from_int(2));
  EXPECT_EQ(t.rows[8], rt::from_int(4));

  // Refused, even after the rows were written (a truncated string table): the vector is as before.
  const std::vector<Word> before = t.rows;
  for (size_t cut = 1; cut < bytes.size(); ++cut) {
    EXPECT_FALSE(b.codec->decode(std::string_view(bytes).substr(0, bytes.size() - cut), m, error, target, &t)) << cut;
    EXPECT_EQ(t.rows, before) << cut;
  }
  // A target that gives no vector: the rows go to out.rows as with the plain decode.
  t.wanted = UINT32_MAX;
  ASSERT_TRUE(b.codec->decode(bytes, m, error, target, &t)) << error;
  EXPECT_EQ(t.rows, before);
  ASSERT_EQ(m.rows.size(), 6u);
  EXPECT_EQ(b.symbols.str(m.rows[0]), "bob");
}

TEST(NetWire, EachDistinctStringCrossesOnce) {
  Side a(kChannels), b(kChannels);
  const std::string word = "a-rather-long-string-that-repeats";
  std::vector<Word> rows;
  for (int i = 0; i < 500; ++i) rows.insert(rows.end(), {a.s("n"), 1, rt::from_float(2.0), a.s(word), 1, a.s("n")});
  std::string bytes = a.codec->encode(a.rel("mixed"), rows.data(), 500, "x");
  size_t hits = 0;
  for (size_t at = bytes.find(word); at != std::string::npos; at = bytes.find(word, at + 1)) ++hits;
  EXPECT_EQ(hits, 1u);
  EXPECT_LT(bytes.size(), 500u * (4 + 8 + 8 + 4 + 1 + 4) + 200);
  Codec::Message m;
  std::string error;
  ASSERT_TRUE(b.codec->decode(bytes, m, error)) << error;
  EXPECT_EQ(b.symbols.str(m.rows[6 * 499 + 3]), word);
}

TEST(NetWire, LatticeBoundsRoundTripIncludingBottoms) {
  Side a(kChannels, 2), b(kChannels, 9);
  const auto& cols = a.codec->channel(a.rel("bounds"))
                         ->columns;  // addr, lmax<int>, lmin<int>, lmax<float>, lmin<float>, lmax<string>, lmin<string>, lbool
  std::vector<Word> rows = {a.s("n"), rt::from_int(42), rt::from_int(-7), rt::from_float(2.5), rt::from_float(-1e9), a.s("zed"), a.s("abc"),
                            1};
  std::vector<Word> bottoms = {a.s("n")};
  for (size_t c = 1; c < cols.size(); ++c) bottoms.push_back(a.lattices.bottom(cols[c]));
  rows.insert(rows.end(), bottoms.begin(), bottoms.end());
  ASSERT_EQ(bottoms[6], rt::kTopString);  // lmin<string>'s bottom is no symbol
  std::string bytes = a.codec->encode(a.rel("bounds"), rows.data(), 2, "a");
  Codec::Message m;
  std::string error;
  ASSERT_TRUE(b.codec->decode(bytes, m, error)) << error;
  ASSERT_EQ(m.count, 2u);
  EXPECT_EQ(m.rows[1], rows[1]);
  EXPECT_EQ(m.rows[2], rows[2]);
  EXPECT_EQ(m.rows[3], rows[3]);
  EXPECT_EQ(m.rows[4], rows[4]);
  EXPECT_EQ(b.symbols.str(m.rows[5]), "zed");
  EXPECT_EQ(b.symbols.str(m.rows[6]), "abc");
  EXPECT_EQ(m.rows[7], 1u);
  for (size_t c = 1; c < cols.size(); ++c)
    EXPECT_TRUE(b.lattices.is_bottom(cols[c], m.rows[8 + c])) << "column " << c << " " << cols[c].str();
}

// A set of strings as the receiver sees it.
std::set<std::string> strings_of(Side& side, Word set) {
  std::set<std::string> out;
  for (Word w : side.lattices.set_elements(set)) out.insert(side.symbols.str(w));
  return out;
}

TEST(NetWire, SetsAndMapsRoundTripStructurally) {
  Side a(kChannels, 4), b(kChannels, 13);
  const auto& cols =
      a.codec->channel(a.rel("sets"))->columns;  // addr, lset<string>, lset<int>, lmap<string, lmax<int>>, lmap<int, lset<addr>>
  Word tags = a.lattices.set_of({a.s("red"), a.s("green"), a.s("blue")});
  Word nums = a.lattices.set_of({rt::from_int(-3), rt::from_int(5), rt::from_int(1) << 40});
  Word counts = a.lattices.map_of(cols[3].args[1], {{a.s("x"), rt::from_int(3)}, {a.s("y"), rt::from_int(9)}});
  Word g1 = a.lattices.set_of({a.s("n1"), a.s("n2")});
  Word groups = a.lattices.map_of(cols[4].args[1], {{rt::from_int(1), g1}, {rt::from_int(2), 0}});
  std::vector<Word> rows = {a.s("dst"), tags, nums, counts, groups, a.s("dst"), 0, 0, 0, 0};  // the second row: every bottom (empty)
  std::string bytes = a.codec->encode(a.rel("sets"), rows.data(), 2, "a");
  Codec::Message m;
  std::string error;
  ASSERT_TRUE(b.codec->decode(bytes, m, error)) << error;
  ASSERT_EQ(m.count, 2u);
  EXPECT_EQ(strings_of(b, m.rows[1]), (std::set<std::string>{"blue", "green", "red"}));
  auto n = b.lattices.set_elements(m.rows[2]);
  EXPECT_EQ(std::vector<Word>(n.begin(), n.end()), (std::vector<Word>{5, Word{1} << 40, rt::from_int(-3)}));  // sorted by word
  // Re-interned sets are canonical at the receiver: equal to a set built there.
  EXPECT_EQ(m.rows[1], b.lattices.set_of({b.s("red"), b.s("blue"), b.s("green")}));
  EXPECT_EQ(b.lattices.map_size(m.rows[3]), 2u);
  EXPECT_EQ(rt::as_int(b.lattices.map_at(cols[3], m.rows[3], b.s("x"))), 3);
  EXPECT_EQ(rt::as_int(b.lattices.map_at(cols[3], m.rows[3], b.s("y"))), 9);
  EXPECT_EQ(strings_of(b, b.lattices.map_at(cols[4], m.rows[4], 1)), (std::set<std::string>{"n1", "n2"}));
  EXPECT_EQ(b.lattices.map_at(cols[4], m.rows[4], 2), 0u);
  EXPECT_EQ(b.lattices.map_size(m.rows[4]), 1u);  // key 2 held the empty set, bottom: not kept
  for (int c = 1; c <= 4; ++c) EXPECT_EQ(m.rows[5 + c], 0u) << "empty set/map of column " << c;
}

TEST(NetWire, EmptyBatch) {
  Side a(kChannels), b(kChannels);
  for (const char* ch : {"ints", "mixed", "sets"}) {
    std::string bytes = a.codec->encode(a.rel(ch), nullptr, 0, "a");
    Codec::Message m;
    m.rows = {1, 2, 3};
    std::string error;
    ASSERT_TRUE(b.codec->decode(bytes, m, error)) << ch << ": " << error;
    EXPECT_EQ(m.count, 0u);
    EXPECT_TRUE(m.rows.empty());
    EXPECT_EQ(m.relation, b.rel(ch));
  }
}

TEST(NetWire, ManyRows) {
  Side a(kChannels, 1), b(kChannels, 2);
  const size_t n = 200000;
  std::vector<Word> rows;
  rows.reserve(n * 6);
  for (size_t i = 0; i < n; ++i)
    rows.insert(rows.end(), {a.s("n" + std::to_string(i % 7)), rt::from_int(int64_t(i)), rt::from_float(i * 0.5),
                             a.s("s" + std::to_string(i % 1000)), i % 2, a.s("w")});
  std::string bytes = a.codec->encode(a.rel("mixed"), rows.data(), n, "bulk");
  Codec::Message m;
  std::string error;
  ASSERT_TRUE(b.codec->decode(bytes, m, error)) << error;
  ASSERT_EQ(m.count, n);
  size_t bad = 0;
  for (size_t i = 0; i < n; ++i) {
    const Word* r = &m.rows[i * 6];
    bad += rt::as_int(r[1]) != int64_t(i) || rt::as_float(r[2]) != i * 0.5 || b.symbols.str(r[3]) != "s" + std::to_string(i % 1000) ||
           r[4] != i % 2 || b.symbols.str(r[0]) != "n" + std::to_string(i % 7);
  }
  EXPECT_EQ(bad, 0u);
}

// ------------------------------------------------------------------ refusals
TEST(NetWire, DifferentSchemaIsRefusedNamingBothSchemas) {
  Side a("channel vote(@dst: addr, round: int, v: string);"), b(kChannels);
  std::vector<Word> row = {a.s("b"), 1, a.s("yes")};
  std::string bytes = a.codec->encode(a.rel("vote"), row.data(), 1, "n1");
  EXPECT_EQ(decode_error(b, bytes),
            "channel `vote` has a different schema at the sender `n1`: (addr, int, string) vs here (addr, int, int)");
}

TEST(NetWire, UnknownChannelIsRefusedNamingIt) {
  Side a("channel gossip(@dst: addr, n: int);"), b(kChannels);
  std::vector<Word> row = {a.s("b"), 1};
  std::string error = decode_error(b, a.codec->encode(a.rel("gossip"), row.data(), 1, "n1"));
  EXPECT_NE(error.find("unknown channel `gossip`"), std::string::npos) << error;
}

TEST(NetWire, HeaderRefusals) {
  Side a(kChannels), b(kChannels);
  std::vector<Word> row = {a.s("b"), 1, 2};
  const std::string good = a.codec->encode(a.rel("ints"), row.data(), 1, "n1");
  EXPECT_EQ(decode_error(b, "GET / HTTP/1.1\r\n\r\n"), "not a bloom message (bad magic)");
  EXPECT_EQ(decode_error(b, ""), "not a bloom message (0 bytes, shorter than the magic)");
  std::string v7 = good;
  v7[4] = 7;
  EXPECT_EQ(decode_error(b, v7), "wire version 7, this node speaks 2");
  std::string flags = good;
  flags[6] = 1;
  EXPECT_NE(decode_error(b, flags).find("flags"), std::string::npos);
  std::string fp = good;
  fp[28] ^= 0x40;
  EXPECT_NE(decode_error(b, fp).find("fingerprint does not match"), std::string::npos);
  EXPECT_NE(decode_error(b, good + "x").find("1 trailing bytes"), std::string::npos);
  EXPECT_EQ(decode_error(b, good.substr(0, 10)), "truncated at byte 10 (reading the deployment id at byte 8)");
  EXPECT_EQ(decode_error(b, good.substr(0, 30)), "truncated at byte 30 (reading the fingerprint at byte 28)");
}

TEST(NetWire, SenderOfARefusedMessage) {
  Side a(kChannels), b("channel other(@dst: addr, x: int);");
  std::vector<Word> row = {a.s("b"), 1, 2};
  const std::string bytes = a.codec->encode(a.rel("ints"), row.data(), 1, "node-7");
  EXPECT_FALSE(decode_error(b, bytes).empty());  // unknown channel there
  auto header = rt::net::peek_header(bytes);
  ASSERT_TRUE(header);
  EXPECT_EQ(header->sender, "node-7");
  EXPECT_FALSE(rt::net::peek_header(bytes.substr(0, 47)));  // the name is cut
  EXPECT_FALSE(rt::net::peek_header("GET / HTTP/1.1\r\n\r\n garbage garbage garbage garbage garbage"));
  std::string v1 = bytes;
  v1[4] = 1;
  EXPECT_FALSE(rt::net::peek_header(v1));
}

TEST(NetWire, TheEnvelopeTravelsInTheHeader) {
  Side a(kChannels), b(kChannels);
  std::vector<Word> row = {a.s("b"), 1, 2};
  rt::net::Envelope envelope{
      .sender = "r2", .deployment = 0x1122334455667788ULL, .deployment_name = "kvs.toml", .incarnation = 3, .sequence = 41};
  const std::string bytes = a.codec->encode(a.rel("ints"), row.data(), 1, envelope);
  auto header = rt::net::peek_header(bytes);
  ASSERT_TRUE(header);
  EXPECT_EQ(header->sender, "r2");
  EXPECT_EQ(header->deployment, 0x1122334455667788ULL);
  EXPECT_EQ(header->deployment_name, "kvs.toml");
  EXPECT_EQ(header->incarnation, 3u);
  EXPECT_EQ(header->sequence, 41u);
  rt::net::Codec::Message m;
  std::string error;
  ASSERT_TRUE(b.codec->decode(bytes, m, error)) << error;
  EXPECT_EQ(m.sender, "r2");
  EXPECT_EQ(m.deployment, 0x1122334455667788ULL);
  EXPECT_EQ(m.incarnation, 3u);
  EXPECT_EQ(m.sequence, 41u);
  // A deployment name over 255 bytes is cut, never a malformed header.
  const std::string long_name(300, 'd');
  envelope.deployment_name = long_name;
  header = rt::net::peek_header(a.codec->encode(a.rel("ints"), row.data(), 1, envelope));
  ASSERT_TRUE(header);
  EXPECT_EQ(header->deployment_name.size(), 255u);
}

TEST(NetWire, DeploymentIdsTellDeploymentsAndRunsApart) {
  const std::vector<std::pair<std::string, std::string>> kvs = {{"r1", "tcp://10.0.0.1:7000"}, {"r2", "tcp://10.0.0.2:7000"}};
  auto other = kvs;
  other[1].second = "tcp://10.0.0.2:7001";
  EXPECT_EQ(rt::net::deployment_id(kvs, 5), rt::net::deployment_id(kvs, 5));
  EXPECT_NE(rt::net::deployment_id(kvs, 5), rt::net::deployment_id(kvs, 6));
  EXPECT_NE(rt::net::deployment_id(kvs, 5), rt::net::deployment_id(other, 5));
  // Names and endpoints are fed with a separator: moving a byte across the boundary changes it.
  EXPECT_NE(rt::net::deployment_id({{"ab", "c"}}, 0), rt::net::deployment_id({{"a", "bc"}}, 0));
}

TEST(NetWire, BadCellsAreRefusedNamingTheCell) {
  Side a(kChannels), b(kChannels);
  std::vector<Word> row = {a.s("b"), 7, rt::from_float(1.0), a.s("s"), 1, a.s("w")};
  std::string good = a.codec->encode(a.rel("mixed"), row.data(), 1, "n1");
  // The bool cell is the byte after addr(4) int(8) float(8) string(4) of the only row.
  const size_t header = good.size() - (4 + 8 + 8 + 4 + 1 + 4) - (4 + 1 + 4 + 1 + 4 + 1);  // rows, then 3 strings "b" "s" "w"
  std::string bad = good;
  bad[header + 24] = 2;
  EXPECT_EQ(decode_error(b, bad), "channel `mixed`, row 0, column 4: bad bool byte 2 at byte " + std::to_string(header + 24));
  bad = good;
  bad[header + 20] = 9;  // the string cell's index
  EXPECT_NE(decode_error(b, bad).find("string index 9 out of range (3 strings)"), std::string::npos);
}

// Every strict prefix of a valid message is refused, without a crash and without interning
// anything at the receiver.
void every_prefix_refused(Side& a, Side& b, const std::string& channel, const std::vector<Word>& rows, size_t count) {
  const std::string good = a.codec->encode(a.rel(channel), rows.data(), count, "sender");
  Codec::Message m;
  std::string error;
  const size_t symbols = b.symbols.size(), sets = b.lattices.interned_sets(), maps = b.lattices.interned_maps();
  for (size_t len = 0; len < good.size(); ++len) {
    error.clear();
    EXPECT_FALSE(b.codec->decode(std::string_view(good).substr(0, len), m, error)) << channel << " prefix " << len;
    EXPECT_FALSE(error.empty()) << channel << " prefix " << len;
  }
  EXPECT_EQ(b.symbols.size(), symbols) << "a refused message interned strings";
  EXPECT_EQ(b.lattices.interned_sets(), sets);
  EXPECT_EQ(b.lattices.interned_maps(), maps);
  EXPECT_TRUE(b.codec->decode(good, m, error)) << error;
}

TEST(NetWire, TruncationAtEveryByteIsRefused) {
  Side a(kChannels), b(kChannels);
  every_prefix_refused(a, b, "ints", {a.s("p"), 1, 2, a.s("q"), 3, 4}, 2);
  every_prefix_refused(a, b, "mixed", {a.s("p"), 1, rt::from_float(2), a.s("str"), 1, a.s("q")}, 1);
  const auto& cols = a.codec->channel(a.rel("bounds"))->columns;
  every_prefix_refused(a, b, "bounds", {a.s("p"), 1, 2, 3, 4, a.s("m"), a.lattices.bottom(cols[6]), 1}, 1);
  const auto& sc = a.codec->channel(a.rel("sets"))->columns;
  Word set = a.lattices.set_of({a.s("x"), a.s("y")});
  Word map = a.lattices.map_of(sc[3].args[1], {{a.s("k"), 5}});
  Word groups = a.lattices.map_of(sc[4].args[1], {{1, a.lattices.set_of({a.s("n1")})}});
  every_prefix_refused(a, b, "sets", {a.s("p"), set, a.lattices.set_of({1, 2}), map, groups}, 1);
}

TEST(NetWire, RandomGarbageIsRefused) {
  Side b(kChannels);
  std::mt19937_64 rng(test_seed());
  Codec::Message m;
  std::string error;
  const size_t symbols = b.symbols.size();
  for (int i = 0; i < 5000; ++i) {
    std::string bytes(rng() % 300, '\0');
    for (auto& c : bytes) c = static_cast<char>(rng());
    if (i % 2) bytes.replace(0, std::min<size_t>(4, bytes.size()), "BLOM");  // get past the magic half the time
    EXPECT_FALSE(b.codec->decode(bytes, m, error)) << "input " << i;
    EXPECT_FALSE(error.empty());
  }
  EXPECT_EQ(b.symbols.size(), symbols);
}

// Valid messages with random bytes overwritten: may decode (an int changed) or be refused, never
// crash; whatever decodes has valid ids and handles.
TEST(NetWire, MutatedMessagesNeverCrash) {
  Side a(kChannels), b(kChannels);
  const auto& sc = a.codec->channel(a.rel("sets"))->columns;
  std::vector<std::pair<std::string, std::vector<Word>>> seeds = {
      {"mixed", {a.s("p"), 1, rt::from_float(2), a.s("str"), 1, a.s("q")}},
      {"sets",
       {a.s("p"), a.lattices.set_of({a.s("x"), a.s("y")}), a.lattices.set_of({1, 2}), a.lattices.map_of(sc[3].args[1], {{a.s("k"), 5}}),
        a.lattices.map_of(sc[4].args[1], {{1, a.lattices.set_of({a.s("n1")})}})}},
  };
  std::mt19937_64 rng(test_seed() + 1);
  Codec::Message m;
  std::string error;
  int accepted = 0, refused = 0;
  for (auto& [ch, row] : seeds) {
    const std::string good = a.codec->encode(a.rel(ch), row.data(), 1, "s");
    for (int i = 0; i < 3000; ++i) {
      std::string bytes = good;
      int flips = 1 + rng() % 3;
      for (int f = 0; f < flips; ++f) bytes[rng() % bytes.size()] = static_cast<char>(rng());
      if (b.codec->decode(bytes, m, error)) {
        ++accepted;
        const auto& cols = b.codec->channel(m.relation)->columns;
        for (size_t c = 0; c < cols.size(); ++c) {
          Word w = m.rows[c];
          if (cols[c].is_symbol()) {
            EXPECT_LT(w, b.symbols.size());
          } else if (cols[c].kind == plan::TypeKind::LSet) {
            EXPECT_LT(w, b.lattices.interned_sets());
          } else if (cols[c].kind == plan::TypeKind::LMap) {
            EXPECT_LT(w, b.lattices.interned_maps());
          }
        }
      } else {
        ++refused;
        EXPECT_FALSE(error.empty());
      }
    }
  }
  EXPECT_GT(refused, 0);
  EXPECT_GT(accepted, 0);
}

TEST(NetWire, ForgedHugeCountsAllocateNothingBig) {
  Side a(kChannels), b(kChannels);
  const auto& sc = a.codec->channel(a.rel("sets"))->columns;
  std::vector<Word> row = {a.s("p"), a.lattices.set_of({a.s("x")}), 0, a.lattices.map_of(sc[3].args[1], {{a.s("k"), 5}}), 0};
  const std::string good = a.codec->encode(a.rel("sets"), row.data(), 1, "s");
  auto put32 = [](std::string& s, size_t at, uint32_t v) {
    for (int i = 0; i < 4; ++i) s[at + i] = static_cast<char>(v >> (8 * i));
  };
  // fixed header, sender "s", deployment name "", channel "sets", column count, column types: then the rows
  const size_t header = 44 + 2 + 1 + 1 + 2 + 4 + 2 + a.codec->channel(a.rel("sets"))->type_bytes.size();
  std::vector<std::pair<std::string, std::string>> forged;
  std::string rows = good;
  put32(rows, 36, 0xFFFFFFFFu);
  forged.emplace_back(rows, "row count 4294967295");
  std::string strings = good;
  put32(strings, 40, 0xFFFFFFFFu);
  forged.emplace_back(strings, "string count 4294967295");
  std::string set = good;
  put32(set, header + 4, 0xFFFFFFFFu);  // after the addr cell: the lset's element count
  forged.emplace_back(set, "set element count 4294967295");
  Codec::Message m;
  std::string error;
  {  // the watch sees allocations at all
    g_largest = 0;
    g_watch = true;
    auto big = std::make_unique<std::vector<char>>(size_t{1} << 20);
    g_watch = false;
    ASSERT_GE(g_largest.load(), size_t{1} << 20);
  }
  for (auto& [bytes, expect] : forged) {
    g_largest = 0;
    g_watch = true;
    bool ok = b.codec->decode(bytes, m, error);
    g_watch = false;
    EXPECT_FALSE(ok) << expect;
    EXPECT_NE(error.find(expect), std::string::npos) << error;
    EXPECT_LT(g_largest.load(), size_t{1} << 16) << "decode allocated " << g_largest.load() << " bytes for: " << expect;
  }
}

}  // namespace
}  // namespace bloom

// ------------------------------------------------------------------ the transport (real sockets)
namespace bloom {
namespace {

using rt::net::Peer;
using rt::net::Transport;
using rt::net::TransportOptions;
using SendResult = Transport::SendResult;
using namespace std::chrono_literals;

TransportOptions options(std::string self, std::string bind, std::vector<Peer> peers = {}, std::vector<std::string>* warnings = nullptr) {
  TransportOptions o;
  o.self = std::move(self);
  o.bind = std::move(bind);
  o.peers = std::move(peers);
  if (warnings) o.warn = [warnings](const std::string& w) { warnings->push_back(w); };
  return o;
}

// A tcp port that was free a moment ago, for a peer not up yet. Taken below the kernel's
// ephemeral range (32768+ here): a socket reconnecting to a closed port of that range can be given
// the same port as its own source and connect to itself, which would then hold the port.
// (Probed with a plain socket: ZeroMQ closes its listeners asynchronously, so a port it just
// released may still be held for a few milliseconds.)
std::string free_tcp_endpoint() {
  static std::mt19937 rng(static_cast<unsigned>(test_seed() ^ static_cast<uint64_t>(::getpid())));
  for (int attempt = 0; attempt < 100; ++attempt) {
    const int port = 20000 + static_cast<int>(rng() % 12000);
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);  // as ZeroMQ's listener does
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const bool free = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    ::close(fd);
    if (free) return "tcp://127.0.0.1:" + std::to_string(port);
  }
  ADD_FAILURE() << "no free tcp port in 20000-31999";
  return "tcp://127.0.0.1:1";
}

TEST(NetTransport, TcpWithPortsChosenAtRunTime) {
  zmq::context_t ctx;
  Side a(kChannels), b(kChannels, 7);
  Transport tb(ctx, options("bob", "tcp://127.0.0.1:*"));
  const std::string eb = tb.endpoint();
  ASSERT_EQ(eb.rfind("tcp://127.0.0.1:", 0), 0u) << eb;
  EXPECT_NE(eb, "tcp://127.0.0.1:0");
  Transport ta(ctx, options("alice", "tcp://127.0.0.1:*", {{"bob", eb}}));
  EXPECT_NE(ta.endpoint(), eb);
  EXPECT_TRUE(ta.knows("bob"));
  EXPECT_FALSE(ta.knows("carol"));
  ASSERT_TRUE(tb.add_peer({"alice", ta.endpoint()}));

  std::vector<Word> rows = {a.s("bob"), 1, 2, a.s("bob"), 3, 4};
  EXPECT_EQ(ta.send("bob", a.codec->encode(a.rel("ints"), rows.data(), 2, "alice")), SendResult::Sent);
  std::string bytes;
  ASSERT_TRUE(tb.receive(bytes, 5000ms));
  Codec::Message m;
  std::string error;
  ASSERT_TRUE(b.codec->decode(bytes, m, error)) << error;
  EXPECT_EQ(m.sender, "alice");
  ASSERT_EQ(m.count, 2u);
  EXPECT_EQ(b.symbols.str(m.rows[3]), "bob");
  EXPECT_EQ(m.rows[5], 4u);

  // And back.
  EXPECT_EQ(tb.send("alice", "pong"), SendResult::Sent);
  ASSERT_TRUE(ta.receive(bytes, 5000ms));
  EXPECT_EQ(bytes, "pong");
  EXPECT_FALSE(ta.receive(bytes, 0ms));  // nothing else: a poll returns at once
  EXPECT_EQ(ta.stats().sent, 1u);
  EXPECT_EQ(ta.stats().received, 1u);
  EXPECT_EQ(tb.stats().sent, 1u);
  EXPECT_EQ(tb.stats().received, 1u);
}

// receive into a view: the bytes stay ZeroMQ's, valid until the next receive.
TEST(NetTransport, ReceiveIntoAViewWithoutACopy) {
  zmq::context_t ctx;
  Transport tb(ctx, options("b", "inproc://net-test-view-b"));
  Transport ta(ctx, options("a", "inproc://net-test-view-a", {{"b", "inproc://net-test-view-b"}}));
  const std::string big(1 << 20, 'x');
  ASSERT_EQ(ta.send("b", "first"), SendResult::Sent);
  ASSERT_EQ(ta.send("b", big), SendResult::Sent);
  std::string_view view;
  ASSERT_TRUE(tb.receive(view, 5000ms));
  EXPECT_EQ(view, "first");
  ASSERT_TRUE(tb.receive(view, 5000ms));
  EXPECT_EQ(view, big);
  EXPECT_FALSE(tb.receive(view, 0ms));
  EXPECT_EQ(tb.stats().received, 2u);
}

TEST(NetTransport, InprocWithASharedContextAndManyMessages) {
  zmq::context_t ctx;
  Transport tb(ctx, options("b", "inproc://net-test-b"));
  EXPECT_EQ(tb.endpoint(), "inproc://net-test-b");
  Transport ta(ctx, options("a", "inproc://net-test-a", {{"b", "inproc://net-test-b"}}));
  for (int i = 0; i < 500; ++i) ASSERT_EQ(ta.send("b", "msg" + std::to_string(i)), SendResult::Sent);
  std::string bytes;
  for (int i = 0; i < 500; ++i) {
    ASSERT_TRUE(tb.receive(bytes, 5000ms)) << i;
    EXPECT_EQ(bytes, "msg" + std::to_string(i));  // one PUSH to one PULL keeps order
  }
  EXPECT_EQ(tb.stats().received, 500u);
}

TEST(NetTransport, SpinningSeesAMessageWithoutTakingIt) {
  zmq::context_t ctx;
  Transport tb(ctx, options("b", "tcp://127.0.0.1:*"));
  Transport ta(ctx, options("a", "tcp://127.0.0.1:*", {{"b", tb.endpoint()}}));
  EXPECT_FALSE(tb.spin_for_message(std::chrono::microseconds(2000))) << "nothing was sent";
  ASSERT_EQ(ta.send("b", "ball"), SendResult::Sent);
  // The message crosses TCP through two I/O threads: spin until it is there (bounded).
  bool seen = false;
  for (int i = 0; i < 5000 && !seen; ++i) seen = tb.spin_for_message(std::chrono::microseconds(1000));
  ASSERT_TRUE(seen);
  EXPECT_EQ(tb.stats().received, 0u) << "spinning only looks";
  std::string bytes;
  ASSERT_TRUE(tb.receive(bytes, 0ms)) << "a message spinning saw is there for a non-blocking receive";
  EXPECT_EQ(bytes, "ball");
  EXPECT_FALSE(tb.spin_for_message(std::chrono::microseconds(0))) << "and it was the only one";
}

TEST(NetTransport, UnknownPeerIsRefusedAndCounted) {
  zmq::context_t ctx;
  Transport ta(ctx, options("a", "inproc://net-test-unknown"));
  EXPECT_EQ(ta.send("nobody", "x"), SendResult::UnknownPeer);
  EXPECT_EQ(ta.stats().refused, 1u);
  EXPECT_EQ(ta.stats().sent, 0u);
}

TEST(NetTransport, BindFailureNamesTheEndpoint) {
  zmq::context_t ctx;
  Transport ta(ctx, options("a", "tcp://127.0.0.1:*"));
  const std::string taken = ta.endpoint();
  try {
    Transport tb(ctx, options("b", taken));
    FAIL() << "a second bind of " << taken << " succeeded";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("node `b` cannot listen on " + taken), std::string::npos) << e.what();
  }
  EXPECT_THROW(Transport(ctx, options("c", "nonsense://x")), std::runtime_error);
}

TEST(NetTransport, SendToAPeerNotUpYetIsDeliveredOnceItBinds) {
  zmq::context_t ctx;
  // tcp: the peer's port is known but nothing listens there yet.
  const std::string later = free_tcp_endpoint();
  Transport ta(ctx, options("a", "tcp://127.0.0.1:*", {{"late", later}, {"late-inproc", "inproc://net-test-late"}}));
  EXPECT_EQ(ta.send("late", "early bird"), SendResult::Sent);
  EXPECT_EQ(ta.send("late-inproc", "early inproc"), SendResult::Sent);
  std::this_thread::sleep_for(200ms);
  Transport tl(ctx, options("late", later));
  Transport ti(ctx, options("late-inproc", "inproc://net-test-late"));
  std::string bytes;
  ASSERT_TRUE(tl.receive(bytes, 10000ms)) << "never delivered to " << later;
  EXPECT_EQ(bytes, "early bird");
  ASSERT_TRUE(ti.receive(bytes, 5000ms));
  EXPECT_EQ(bytes, "early inproc");
}

TEST(NetTransport, AFullQueueTakesNothingMoreAndWaitSaysWhenThereIsRoom) {
  zmq::context_t ctx;
  std::vector<std::string> warnings;
  const std::string later = free_tcp_endpoint();
  auto o = options("a", "tcp://127.0.0.1:*", {{"slow", later}}, &warnings);
  o.queue_limit = 5;
  Transport ta(ctx, o);
  int sent = 0, full = 0;
  for (int i = 0; i < 20 && full == 0; ++i) {
    auto r = ta.send("slow", "m" + std::to_string(i));
    sent += r == SendResult::Sent;
    full += r == SendResult::QueueFull;
  }
  EXPECT_EQ(sent, 5) << "the queue holds queue_limit messages for a peer that is not up";
  EXPECT_EQ(full, 1);
  EXPECT_EQ(ta.stats().sent, 5u);
  EXPECT_EQ(ta.stats().full, 1u);
  EXPECT_EQ(ta.stats().refused, 0u);
  EXPECT_TRUE(warnings.empty()) << "a full queue is flow control, not a loss: " << warnings.front();
  EXPECT_FALSE(ta.wait({"slow"}, 0ms)) << "no room and nothing inbound";

  // The peer comes up: the queued messages arrive in order, room comes back, and the message
  // that did not fit goes out after them.
  Transport ts(ctx, options("slow", later));
  std::string bytes;
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(ts.receive(bytes, 10000ms)) << i;
    EXPECT_EQ(bytes, "m" + std::to_string(i));
  }
  SendResult r = SendResult::QueueFull;
  for (int i = 0; i < 200 && r != SendResult::Sent; ++i) {
    if (!ta.wait({"slow"}, 50ms)) continue;  // bounded: 200 rounds
    r = ta.send("slow", "m5");
  }
  ASSERT_EQ(r, SendResult::Sent);
  ASSERT_TRUE(ts.receive(bytes, 10000ms));
  EXPECT_EQ(bytes, "m5");
  EXPECT_TRUE(warnings.empty());
}

TEST(NetTransport, WaitWakesForAnInboundMessage) {
  zmq::context_t ctx;
  Transport tb(ctx, options("b", "tcp://127.0.0.1:*"));
  Transport ta(ctx, options("a", "tcp://127.0.0.1:*", {{"b", tb.endpoint()}}));
  EXPECT_FALSE(tb.wait({}, 0ms));
  ASSERT_EQ(ta.send("b", "x"), SendResult::Sent);
  bool woke = false;
  for (int i = 0; i < 200 && !woke; ++i) woke = tb.wait({}, 50ms);
  EXPECT_TRUE(woke);
  std::string bytes;
  EXPECT_TRUE(tb.receive(bytes, 0ms));
}

TEST(NetCurve, KeysAreZ85AndThePublicKeyFollowsFromTheSecret) {
  auto pair = rt::net::generate_keypair();
  EXPECT_TRUE(rt::net::valid_curve_key(pair.public_key));
  EXPECT_TRUE(rt::net::valid_curve_key(pair.secret_key));
  EXPECT_EQ(rt::net::public_key_of(pair.secret_key), pair.public_key);
  EXPECT_FALSE(rt::net::valid_curve_key("short"));
  EXPECT_FALSE(rt::net::valid_curve_key(std::string(40, '"'))) << "not Z85";
  EXPECT_EQ(rt::net::public_key_of("nonsense"), "");
}

// Each CURVE transport has its own context, as each node process does: the key check (ZAP) is
// bound once per context.
TEST(NetCurve, OnlyTheDeploymentsKeysGetThroughAndEachMessageNamesItsKeysOwner) {
  const auto ka = rt::net::generate_keypair(), kb = rt::net::generate_keypair(), kx = rt::net::generate_keypair();
  const std::vector<std::pair<std::string, std::string>> keys = {{"a", ka.public_key}, {"b", kb.public_key}};
  auto curve = [&](TransportOptions o, const rt::net::KeyPair& self) {
    o.curve.on = true;
    o.curve.self = self;
    o.curve.peers = keys;
    return o;
  };
  zmq::context_t cb, ca, cx, cp;
  Transport tb(cb, curve(options("b", "tcp://127.0.0.1:*"), kb));
  Transport ta(ca, curve(options("a", "tcp://127.0.0.1:*", {{"b", tb.endpoint()}}), ka));
  // An outsider's key, claiming to be `a` (it knows b's public key): refused at the handshake.
  auto xo = curve(options("a", "tcp://127.0.0.1:*", {{"b", tb.endpoint()}}), kx);
  Transport tx(cx, xo);
  // Plaintext: no handshake at all.
  Transport tp(cp, options("p", "tcp://127.0.0.1:*", {{"b", tb.endpoint()}}));
  ASSERT_EQ(tx.send("b", "from x"), SendResult::Sent);
  ASSERT_EQ(tp.send("b", "plain"), SendResult::Sent);
  ASSERT_EQ(ta.send("b", "from a"), SendResult::Sent);
  std::string bytes;
  ASSERT_TRUE(tb.receive(bytes, 10000ms));
  EXPECT_EQ(bytes, "from a") << "only a's message gets through";
  EXPECT_EQ(tb.last_sender(), "a");
  EXPECT_FALSE(tb.receive(bytes, 300ms)) << "got " << bytes;
}

TEST(NetTransport, GarbageOnTheSocketArrivesAsBytesTheCodecRefuses) {
  zmq::context_t ctx;
  Side b(kChannels);
  Transport tb(ctx, options("b", "tcp://127.0.0.1:*"));
  zmq::socket_t raw(ctx, zmq::socket_type::push);
  raw.set(zmq::sockopt::linger, 0);
  raw.connect(tb.endpoint());
  raw.send(zmq::str_buffer("\x01\x02garbage"), zmq::send_flags::none);
  std::string bytes;
  ASSERT_TRUE(tb.receive(bytes, 5000ms));
  Codec::Message m;
  std::string error;
  EXPECT_FALSE(b.codec->decode(bytes, m, error));
  EXPECT_EQ(error, "not a bloom message (bad magic)");
}

}  // namespace
}  // namespace bloom
