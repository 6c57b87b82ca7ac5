// On-demand benchmark of runtime/net (never in CI): bench/net/run_net_bench.sh builds and runs it.
//
// (a) throughput: batches of 1000 tuples of a channel c(@dst: addr, a: int, b: int) encoded,
//     sent through a Transport over tcp://127.0.0.1, received and decoded in a second thread,
//     beside raw ZeroMQ PUSH/PULL sending 1000 16-byte tuples a message, in the same run.
//     The same through Transports with CURVE on (authenticated and encrypted, the deployment's
//     default) beside them without, and into a Node (each message decoded straight into the
//     node's inbox, every tick storing what arrived into a table: the receive path of a node);
//     beside it the same node fed without sockets (the ceiling), and fed tuples that repeat
//     (nothing new to store after the first tick: the receive path without the table's growth).
// (b) round trip: a 1-tuple message ping-ponged between two Transports (encode, send, receive,
//     decode on both sides) beside raw ZeroMQ REQ/REP with a 16-byte payload.
// Each side has its own zmq::context_t, as two processes would. (c) The raw REQ/REP round trip
// again with the REP side in a child process: the reference for nodes, which are processes
// (bench/net/node_bench.py prints it beside the node-to-node round trip).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <thread>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

#include <zmq.hpp>

#include "driver/driver.h"
#include "net/transport.h"
#include "net/wire.h"
#include "node/node.h"

using namespace bloom;
using namespace std::chrono;
using rt::Word;

namespace {

plan::Program channel_program() {
  plan::Program p;
  auto add = [&](std::string name, plan::RelationKind kind, std::vector<plan::ValueType> cols) {
    plan::Relation r;
    r.id = static_cast<uint32_t>(p.relations.size());
    r.name = std::move(name);
    r.kind = kind;
    r.column_types = std::move(cols);
    for (size_t i = 0; i < r.column_types.size(); ++i) r.column_names.push_back("c" + std::to_string(i));
    p.relations.push_back(std::move(r));
  };
  add("stdout", plan::RelationKind::Stdout, {{plan::TypeKind::String, {}}});
  add("halt", plan::RelationKind::Halt, {});
  add("c", plan::RelationKind::Channel, {{plan::TypeKind::Addr, {}}, {plan::TypeKind::Int, {}}, {plan::TypeKind::Int, {}}});
  p.relations.back().location = 0;
  return p;
}

struct Node {
  rt::SymbolTable symbols;
  rt::Lattices lattices{symbols};
  rt::net::Codec codec;
  explicit Node(const plan::Program& p) : codec(p, symbols, lattices) {}
};

double seconds_since(steady_clock::time_point t) { return duration<double>(steady_clock::now() - t).count(); }

// ---------------------------------------------------------------- (a) throughput
double raw_throughput(int messages, int batch) {
  zmq::context_t ctx_rx, ctx_tx;
  zmq::socket_t pull(ctx_rx, zmq::socket_type::pull);
  pull.set(zmq::sockopt::rcvhwm, 1000);
  pull.bind("tcp://127.0.0.1:*");
  const std::string ep = pull.get(zmq::sockopt::last_endpoint);
  std::vector<char> payload(static_cast<size_t>(batch) * 16);
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>(i);
  auto start = steady_clock::now();
  std::thread tx([&] {
    zmq::socket_t push(ctx_tx, zmq::socket_type::push);
    push.set(zmq::sockopt::sndhwm, 1000);
    push.connect(ep);
    for (int i = 0; i < messages; ++i) (void)push.send(zmq::const_buffer(payload.data(), payload.size()), zmq::send_flags::none);
  });
  uint64_t tuples = 0;
  zmq::message_t m;
  for (int i = 0; i < messages; ++i) {
    (void)pull.recv(m, zmq::recv_flags::none);
    tuples += m.size() / 16;
  }
  double s = seconds_since(start);
  tx.join();
  if (tuples != uint64_t(messages) * batch) std::fprintf(stderr, "raw: received %llu tuples\n", (unsigned long long)tuples);
  return tuples / s;
}

// The receiving node of the node measure: stores every tuple that arrives (node/stream_rx.bloom
// without its count).
const char* kReceiver = R"(
channel c(@dst: addr, a: int, b: int);
table   got(a: int, b: int);
got(a, b) <= c(_, a, b);
)";

std::unique_ptr<plan::Program> receiver_program() {
  auto c = compile_text("receiver.bloom", kReceiver);
  std::string error;
  std::unique_ptr<plan::Program> p = c->ok() ? plan_of(*c, error) : nullptr;
  if (!p) {
    std::fprintf(stderr, "net_bench: the receiver program does not compile: %s\n", error.c_str());
    std::exit(1);
  }
  return p;
}

uint32_t relation_id(const plan::Program& p, const std::string& name) {
  for (const auto& r : p.relations)
    if (r.name == name) return r.id;
  std::fprintf(stderr, "net_bench: no relation %s\n", name.c_str());
  std::exit(1);
}

struct Throughput {
  double tuples_per_s = 0, bytes_per_s = 0;
};

// Transport + Codec: `curve` turns CURVE on for both ends (fresh keys, each end knowing the
// other's). `into_node`: the receiver is a Node (see kReceiver) that takes every message that
// has arrived, decoded straight into its inbox, then runs a tick, as runtime/dist's loop does.
// `repeat` (into a node only): message i carries the tuples of message i % 66, so after the first
// tick every tuple is already in `got`: the receive path without the growth of the table.
Throughput net_throughput(int messages, int batch, bool curve = false, bool into_node = false, bool repeat = false) {
  plan::Program p = channel_program();
  std::unique_ptr<plan::Program> receiver = into_node ? receiver_program() : nullptr;
  Node tx(into_node ? *receiver : p);
  Node rx(p);
  std::unique_ptr<rt::Node> node;
  if (into_node) {
    rt::NodeOptions no;
    no.name = "rx";
    node = std::make_unique<rt::Node>(*receiver, no);
  }
  const uint32_t channel = into_node ? relation_id(*receiver, "c") : 2;
  rt::net::Codec node_codec =
      into_node ? rt::net::Codec(*receiver, node->symbols(), node->lattices()) : rt::net::Codec(p, rx.symbols, rx.lattices);
  rt::net::CurveOptions keys;
  rt::net::KeyPair krx, ktx;
  if (curve) {
    krx = rt::net::generate_keypair();
    ktx = rt::net::generate_keypair();
    keys.on = true;
    keys.peers = {{"rx", krx.public_key}, {"tx", ktx.public_key}};
  }
  zmq::context_t ctx_rx, ctx_tx;
  rt::net::TransportOptions orx;
  orx.self = "rx";
  orx.bind = "tcp://127.0.0.1:*";
  orx.queue_limit = 1000;
  orx.curve = keys;
  orx.curve.self = krx;
  rt::net::Transport trx(ctx_rx, orx);
  const std::string ep = trx.endpoint();
  uint64_t full = 0, wire_bytes = 0;
  std::atomic<bool> done{false};
  auto start = steady_clock::now();
  std::thread sender([&] {
    rt::net::TransportOptions otx;
    otx.self = "tx";
    otx.bind = "tcp://127.0.0.1:*";
    otx.peers = {{"rx", ep}};
    otx.queue_limit = 1000;
    otx.warn = [](const std::string&) {};  // back-pressure is expected here: the loop retries
    otx.curve = keys;
    otx.curve.self = ktx;
    rt::net::Transport ttx(ctx_tx, otx);
    const Word dst = tx.symbols.intern("rx");
    std::vector<Word> rows(static_cast<size_t>(batch) * 3);
    for (int i = 0; i < messages; ++i) {
      for (int r = 0; r < batch; ++r) {
        rows[3 * r] = dst;
        rows[3 * r + 1] = static_cast<Word>(repeat ? i % 66 : i);
        rows[3 * r + 2] = static_cast<Word>(r);
      }
      std::string bytes = tx.codec.encode(channel, rows.data(), batch, "tx");
      wire_bytes += bytes.size();
      while (ttx.send("rx", bytes) == rt::net::Transport::SendResult::QueueFull) {
        ++full;  // back off: spinning would take the core the receiver and the I/O threads need
        std::this_thread::sleep_for(microseconds(50));
      }
    }
    // Keep the socket open until the receiver has everything (linger is short).
    while (!done) std::this_thread::sleep_for(milliseconds(1));
  });
  uint64_t tuples = 0, checksum = 0;
  std::string bytes, error;
  std::string_view view;
  rt::net::Codec::Message m;
  auto inbox = [](void* n, uint32_t relation) { return static_cast<rt::Node*>(n)->inbox(relation); };
  double tick_s = 0;
  uint64_t ticks = 0;
  const uint64_t tick_limit = uint64_t{1} << 16;  // the rows a deployed node takes into one tick (kTickRows)
  auto take = [&] {
    if (!node_codec.decode(view, m, error, into_node ? +inbox : nullptr, node.get())) {
      std::fprintf(stderr, "net: decode failed: %s\n", error.c_str());
      std::exit(1);
    }
    tuples += m.count;
  };
  for (int i = 0; i < messages;) {
    if (!trx.receive(view, milliseconds(10000))) {
      std::fprintf(stderr, "net: timed out after %d messages\n", i);
      break;
    }
    take(), ++i;
    if (!into_node) {
      checksum += m.rows[m.rows.size() - 1];
      continue;
    }
    const uint64_t tick_start = tuples;
    while (i < messages && tuples - tick_start < tick_limit && trx.receive(view, milliseconds(0))) take(), ++i;
    auto t = steady_clock::now();
    node->step();
    tick_s += seconds_since(t);
    ++ticks;
  }
  double s = seconds_since(start);
  done = true;
  sender.join();
  if (into_node) {
    const size_t stored = node->engine().relation(relation_id(*receiver, "got")).live();
    if (stored != uint64_t(repeat ? std::min(messages, 66) : messages) * batch) std::fprintf(stderr, "node: stored %zu tuples\n", stored);
    std::printf("  (node%s: %llu ticks, %.0f tuples a tick, %.0f%% of the time in ticks)\n", repeat ? ", tuples repeating" : "",
                (unsigned long long)ticks, double(tuples) / double(ticks), 100 * tick_s / s);
  } else if (checksum != uint64_t(messages) * (batch - 1)) {
    std::fprintf(stderr, "net: bad checksum\n");
  }
  if (full)
    std::printf("  (transport%s%s: %llu sends retried on a full queue)\n", curve ? ", CURVE" : "", into_node ? ", node" : "",
                (unsigned long long)full);
  return {tuples / s, wire_bytes / s};
}

// The codec alone, one thread: encode and decode of the same batches (no sockets).
void codec_only(int messages, int batch) {
  plan::Program p = channel_program();
  Node rx(p), tx(p);
  const Word dst = tx.symbols.intern("rx");
  std::vector<Word> rows(static_cast<size_t>(batch) * 3);
  for (int r = 0; r < batch; ++r) rows[3 * r] = dst, rows[3 * r + 1] = r, rows[3 * r + 2] = 2 * r;
  std::string encoded;
  size_t bytes = 0;
  auto t0 = steady_clock::now();
  for (int i = 0; i < messages; ++i) {
    encoded = tx.codec.encode(2, rows.data(), batch, "tx");
    bytes += encoded.size();
  }
  double enc = seconds_since(t0);
  rt::net::Codec::Message m;
  std::string error;
  uint64_t sum = 0;
  auto t1 = steady_clock::now();
  for (int i = 0; i < messages; ++i) {
    if (!rx.codec.decode(encoded, m, error)) std::exit(1);
    sum += m.rows[5];
  }
  double dec = seconds_since(t1);
  const double tuples = double(messages) * batch;
  std::printf(
      "  codec alone (one thread, no sockets): encode %.1f M tuples/s (%.1f us a batch), decode %.1f M tuples/s (%.1f us a batch), %zu "
      "bytes a batch%s\n",
      tuples / enc / 1e6, enc / messages * 1e6, tuples / dec / 1e6, dec / messages * 1e6, bytes / messages, sum ? "" : " ?");
}

// This thread's CPU time (user and system), in seconds.
double thread_cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return double(t.tv_sec) + 1e-9 * double(t.tv_nsec);
}

// The node measure without sockets, one thread: the same messages (encoded beforehand) decoded
// into the node's inbox, at most 64 K rows a tick, each tick storing them into `got`: the ceiling
// of the receive path on this machine (what "into a node" would reach with a free network).
// Returns tuples per second of wall time; *per_cpu_s: per second of this thread's CPU time
// (user and system: page faults count), which a loaded machine disturbs less.
// `repeat`: message i carries the tuples of message i % 66 (got stays at one tick's rows, every
// later tuple a duplicate there), which separates the receive path from the growth of the table.
double node_only(int messages, int batch, double* per_cpu_s = nullptr, bool repeat = false) {
  std::unique_ptr<plan::Program> receiver = receiver_program();
  Node tx(*receiver);
  rt::NodeOptions no;
  no.name = "rx";
  rt::Node node(*receiver, no);
  const uint32_t channel = relation_id(*receiver, "c");
  rt::net::Codec codec(*receiver, node.symbols(), node.lattices());
  const Word dst = tx.symbols.intern("rx");
  std::vector<std::string> encoded(static_cast<size_t>(messages));
  std::vector<Word> rows(static_cast<size_t>(batch) * 3);
  for (int i = 0; i < messages; ++i) {
    for (int r = 0; r < batch; ++r)
      rows[3 * r] = dst, rows[3 * r + 1] = static_cast<Word>(repeat ? i % 66 : i), rows[3 * r + 2] = static_cast<Word>(r);
    encoded[static_cast<size_t>(i)] = tx.codec.encode(channel, rows.data(), batch, "tx");
  }
  auto inbox = [](void* n, uint32_t relation) { return static_cast<rt::Node*>(n)->inbox(relation); };
  rt::net::Codec::Message m;
  std::string error;
  const uint64_t tick_limit = uint64_t{1} << 16;
  uint64_t tuples = 0;
  auto start = steady_clock::now();
  const double cpu_start = thread_cpu_seconds();
  for (int i = 0; i < messages;) {
    const uint64_t tick_start = tuples;
    while (i < messages && tuples - tick_start < tick_limit) {  // as net_throughput takes them
      if (!codec.decode(encoded[static_cast<size_t>(i)], m, error, +inbox, &node)) {
        std::fprintf(stderr, "node alone: decode failed: %s\n", error.c_str());
        std::exit(1);
      }
      tuples += m.count, ++i;
    }
    node.step();
  }
  double s = seconds_since(start);
  if (per_cpu_s) *per_cpu_s = tuples / (thread_cpu_seconds() - cpu_start);
  const size_t stored = node.engine().relation(relation_id(*receiver, "got")).live();
  if (stored != uint64_t(repeat ? std::min(messages, 66) : messages) * batch)
    std::fprintf(stderr, "node alone: stored %zu tuples\n", stored);
  return tuples / s;
}

// ---------------------------------------------------------------- (b) round trip
struct Latency {
  double median_us, p99_us;
};
Latency summarize(std::vector<double>& us) {
  std::sort(us.begin(), us.end());
  return {us[us.size() / 2], us[std::min(us.size() - 1, us.size() * 99 / 100)]};
}

// Times warmup + iters round trips of a 16-byte request on a connected REQ socket.
Latency time_requests(zmq::socket_t& req, int warmup, int iters) {
  char payload[16] = {};
  std::vector<double> us;
  zmq::message_t reply;
  for (int i = 0; i < warmup + iters; ++i) {
    auto t = steady_clock::now();
    (void)req.send(zmq::const_buffer(payload, sizeof payload), zmq::send_flags::none);
    (void)req.recv(reply, zmq::recv_flags::none);
    if (i >= warmup) us.push_back(duration<double, std::micro>(steady_clock::now() - t).count());
  }
  return summarize(us);
}

Latency raw_rtt(int warmup, int iters) {
  zmq::context_t ctx_a, ctx_b;
  zmq::socket_t rep(ctx_b, zmq::socket_type::rep);
  rep.bind("tcp://127.0.0.1:*");
  const std::string ep = rep.get(zmq::sockopt::last_endpoint);
  std::thread server([&] {
    zmq::message_t m;
    for (int i = 0; i < warmup + iters; ++i) {
      (void)rep.recv(m, zmq::recv_flags::none);
      (void)rep.send(m, zmq::send_flags::none);
    }
  });
  zmq::socket_t req(ctx_a, zmq::socket_type::req);
  req.connect(ep);
  Latency l = time_requests(req, warmup, iters);
  server.join();
  return l;
}

// The REP side in a forked child with a context of its own (created after the fork: a context
// must not cross one); the child sends its endpoint up a pipe, answers warmup + iters requests
// and exits.
Latency raw_rtt_processes(int warmup, int iters) {
  int fds[2];
  if (pipe(fds) != 0) {
    std::perror("net_bench: pipe");
    std::exit(1);
  }
  pid_t child = fork();
  if (child < 0) {
    std::perror("net_bench: fork");
    std::exit(1);
  }
  if (child == 0) {
    close(fds[0]);
    zmq::context_t ctx;
    zmq::socket_t rep(ctx, zmq::socket_type::rep);
    rep.bind("tcp://127.0.0.1:*");
    std::string ep = rep.get(zmq::sockopt::last_endpoint);
    ep.push_back('\n');
    if (write(fds[1], ep.data(), ep.size()) != static_cast<ssize_t>(ep.size())) _exit(1);
    close(fds[1]);
    zmq::message_t m;
    for (int i = 0; i < warmup + iters; ++i) {
      (void)rep.recv(m, zmq::recv_flags::none);
      (void)rep.send(m, zmq::send_flags::none);
    }
    rep.close();
    ctx.close();
    _exit(0);
  }
  close(fds[1]);
  std::string ep;
  char c;
  while (read(fds[0], &c, 1) == 1 && c != '\n') ep += c;
  close(fds[0]);
  if (ep.empty()) {
    std::fprintf(stderr, "net_bench: the REP process sent no endpoint\n");
    std::exit(1);
  }
  zmq::context_t ctx;
  zmq::socket_t req(ctx, zmq::socket_type::req);
  req.connect(ep);
  Latency l = time_requests(req, warmup, iters);
  int status = 0;
  waitpid(child, &status, 0);
  return l;
}

Latency net_rtt(int warmup, int iters) {
  plan::Program p = channel_program();
  Node na(p), nb(p);
  zmq::context_t ctx_a, ctx_b;
  rt::net::TransportOptions oa, ob;
  oa.self = "a";
  oa.bind = "tcp://127.0.0.1:*";
  ob.self = "b";
  ob.bind = "tcp://127.0.0.1:*";
  rt::net::Transport ta(ctx_a, oa), tb(ctx_b, ob);
  ta.add_peer({"b", tb.endpoint()});
  tb.add_peer({"a", ta.endpoint()});
  const int total = warmup + iters;
  // b: receive a ping, decode it, answer with a pong carrying the same values.
  std::thread server([&] {
    std::string bytes, error;
    rt::net::Codec::Message m;
    const Word to_a = nb.symbols.intern("a");
    for (int i = 0; i < total; ++i) {
      if (!tb.receive(bytes, milliseconds(10000)) || !nb.codec.decode(bytes, m, error)) {
        std::fprintf(stderr, "net rtt: server lost a ping (%s)\n", error.c_str());
        std::exit(1);
      }
      Word row[3] = {to_a, m.rows[1], m.rows[2]};
      tb.send("a", nb.codec.encode(2, row, 1, "b"));
    }
  });
  const Word to_b = na.symbols.intern("b");
  std::vector<double> us;
  std::string bytes, error;
  rt::net::Codec::Message m;
  for (int i = 0; i < total; ++i) {
    auto t = steady_clock::now();
    Word row[3] = {to_b, static_cast<Word>(i), 7};
    ta.send("b", na.codec.encode(2, row, 1, "a"));
    if (!ta.receive(bytes, milliseconds(10000)) || !na.codec.decode(bytes, m, error) || m.rows[1] != static_cast<Word>(i)) {
      std::fprintf(stderr, "net rtt: lost a pong (%s)\n", error.c_str());
      std::exit(1);
    }
    if (i >= warmup) us.push_back(duration<double, std::micro>(steady_clock::now() - t).count());
  }
  server.join();
  return summarize(us);
}

}  // namespace

int main(int argc, char** argv) {
  int messages = 20000, node_messages = 5000, batch = 1000, iters = 20000, warmup = 2000, runs = 3;
  // --only-node: just the node measure without sockets (for profiling); --only-node-repeat: the
  // same with messages that repeat (nothing new stored after the first tick).
  bool only_node = false, repeat = false;
  for (int i = 1; i < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--only-node" || a == "--only-node-repeat") {
      only_node = true, repeat = a == "--only-node-repeat", --i;
      continue;
    }
    if (i + 1 >= argc) a = "?";  // an option without its value
    int v = a == "?" ? 0 : std::atoi(argv[i + 1]);
    if (a == "--messages") messages = v;
    else if (a == "--node-messages") node_messages = v;
    else if (a == "--iters") iters = v;
    else if (a == "--runs") runs = v;
    else {
      std::fprintf(stderr,
                   "usage: net_bench [--messages N] [--node-messages N] [--iters N] [--runs N] [--only-node | --only-node-repeat]\n");
      return 2;
    }
  }
  // Raw and net alternate within each run, so both see the same machine; the ratio of each run is
  // reported and the median of those ratios is the figure checked against the target.
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  if (only_node) {
    for (int r = 0; r < runs; ++r) {
      double cpu = 0, wall = node_only(node_messages, batch, &cpu, repeat);
      std::printf("  run %d: into a node without sockets %.2f M tuples/s (%.2f M a CPU second)\n", r + 1, wall / 1e6, cpu / 1e6);
    }
    return 0;
  }
  std::printf("throughput: %d messages of %d tuples (%d into the node), tcp://127.0.0.1, %d runs\n", messages, batch, node_messages, runs);
  std::vector<double> raws, nets, ratios, curves, curve_ratios, nodes, node_ratios, net_mb, curve_mb, alones, repeats, repeat_ratios;
  for (int r = 0; r < runs; ++r) {
    double x = raw_throughput(messages, batch);
    Throughput y = net_throughput(messages, batch);
    Throughput c = net_throughput(messages, batch, true);
    Throughput n = net_throughput(node_messages, batch, false, true);
    double alone = node_only(node_messages, batch);
    alones.push_back(alone);
    Throughput rep = net_throughput(node_messages, batch, false, true, true);
    repeats.push_back(rep.tuples_per_s), repeat_ratios.push_back(rep.tuples_per_s / x);
    raws.push_back(x), nets.push_back(y.tuples_per_s), ratios.push_back(y.tuples_per_s / x);
    curves.push_back(c.tuples_per_s), curve_ratios.push_back(c.tuples_per_s / y.tuples_per_s);
    net_mb.push_back(y.bytes_per_s / 1e6), curve_mb.push_back(c.bytes_per_s / 1e6);
    nodes.push_back(n.tuples_per_s), node_ratios.push_back(n.tuples_per_s / x);
    std::printf(
        "  run %d: raw PUSH/PULL %.2f M tuples/s, Transport+Codec %.2f M tuples/s (%.0f MB/s, ratio %.0f%%), with CURVE %.2f M "
        "tuples/s (%.0f MB/s, %.0f%% of plaintext), into a node %.2f M tuples/s (ratio %.0f%%; without sockets %.2f M; "
        "tuples repeating %.2f M, ratio %.0f%%)\n",
        r + 1, x / 1e6, y.tuples_per_s / 1e6, y.bytes_per_s / 1e6, 100 * y.tuples_per_s / x, c.tuples_per_s / 1e6, c.bytes_per_s / 1e6,
        100 * c.tuples_per_s / y.tuples_per_s, n.tuples_per_s / 1e6, 100 * n.tuples_per_s / x, alone / 1e6, rep.tuples_per_s / 1e6,
        100 * rep.tuples_per_s / x);
  }
  codec_only(messages, batch);
  double ratio = median(ratios);
  std::printf("  median: raw %.2f M tuples/s, net %.2f M tuples/s; median ratio %.0f%% (target >= 40%%): %s\n", median(raws) / 1e6,
              median(nets) / 1e6, 100 * ratio, ratio >= 0.4 ? "PASS" : "FAIL");
  std::printf("  median: CURVE %.2f M tuples/s (%.0f MB/s) against plaintext %.2f M tuples/s (%.0f MB/s); median ratio %.0f%%\n",
              median(curves) / 1e6, median(curve_mb), median(nets) / 1e6, median(net_mb), 100 * median(curve_ratios));
  double node_ratio = median(node_ratios);
  std::printf(
      "  median: into a node %.2f M tuples/s; median ratio to raw %.0f%% (target >= 40%%): %s; the same node without sockets %.2f M "
      "tuples/s\n",
      median(nodes) / 1e6, 100 * node_ratio, node_ratio >= 0.4 ? "PASS" : "FAIL", median(alones) / 1e6);
  std::printf(
      "  median: into a node with tuples repeating (nothing new stored after the first tick) %.2f M tuples/s, ratio to raw %.0f%%\n",
      median(repeats) / 1e6, 100 * median(repeat_ratios));

  std::printf("round trip: 1-tuple ping-pong, %d timed after %d warm-up per run, tcp://127.0.0.1, %d runs\n", iters, warmup, runs);
  std::vector<double> lratios, rmed, nmed;
  for (int r = 0; r < runs; ++r) {
    Latency rl = raw_rtt(warmup, iters);
    Latency nl = net_rtt(warmup, iters);
    rmed.push_back(rl.median_us), nmed.push_back(nl.median_us), lratios.push_back(nl.median_us / rl.median_us);
    std::printf("  run %d: raw REQ/REP median %.1f us (p99 %.1f), Transport+Codec median %.1f us (p99 %.1f), ratio %.2fx\n", r + 1,
                rl.median_us, rl.p99_us, nl.median_us, nl.p99_us, nl.median_us / rl.median_us);
  }
  double lr = median(lratios);
  std::printf("  median: raw %.1f us, net %.1f us; median ratio %.2fx (target <= 2x): %s\n", median(rmed), median(nmed), lr,
              lr <= 2 ? "PASS" : "FAIL");
  std::vector<double> pmed;
  for (int r = 0; r < runs; ++r) {
    Latency pl = raw_rtt_processes(warmup, iters);
    pmed.push_back(pl.median_us);
    std::printf("  run %d: raw REQ/REP between two processes median %.1f us (p99 %.1f)\n", r + 1, pl.median_us, pl.p99_us);
  }
  std::printf("  median: raw between processes %.1f us\n", median(pmed));
  return 0;
}
