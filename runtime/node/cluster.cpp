#include "node/cluster.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "net/transport.h"
#include "net/wire.h"
#include "node/facts.h"
#include "node/node.h"

namespace bloom::rt {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;
// How long a node looks for a message without sleeping after a tick (see run_deployed_node).
constexpr std::chrono::microseconds kSpinAfterTick(500);
using std::chrono::milliseconds;

namespace {

// ------------------------------------------------------------------------------------ one node

class NetLink : public NodeNetwork {
 public:
  NetLink(net::Transport& transport, const std::string& self, const plan::Program& plan)
      : transport_(transport), self_(self), plan_(plan) {}
  void attach(net::Codec& codec) { codec_ = &codec; }
  bool knows(std::string_view node) const override { return transport_.knows(node); }
  void send(std::string_view node, uint32_t relation, const Word* rows, size_t count) override {
    // A message the receiver would refuse to take in (bigger than its ZMQ_MAXMSGSIZE) is never
    // sent: the receiver would drop the connection, the message would vanish and the run could
    // only time out. It is a runtime error of this node, naming the channel, instead.
    const std::string& channel = plan_.relations[relation].name;
    std::string bytes;
    try {
      bytes = codec_->encode(relation, rows, count, self_);
    } catch (const std::length_error& e) {
      throw RuntimeError(fmt::format("channel `{}`: {} rows to node `{}` do not fit in one message: {}", channel, count, node, e.what()));
    }
    if (static_cast<int64_t>(bytes.size()) > transport_.max_message_bytes())
      throw RuntimeError(fmt::format("channel `{}`: a message of {} rows to node `{}` takes {} bytes, more than the limit of {} bytes",
                                     channel, count, node, bytes.size(), transport_.max_message_bytes()));
    switch (transport_.send(node, bytes)) {
      case net::Transport::SendResult::Sent: ++sent[std::string(node)]; break;
      case net::Transport::SendResult::QueueFull: ++queue_full; break;
      case net::Transport::SendResult::UnknownPeer: ++queue_full; break;  // knows() said yes: cannot happen
    }
  }
  std::map<std::string, uint64_t> sent, received;
  uint64_t queue_full = 0;

 private:
  net::Transport& transport_;
  net::Codec* codec_ = nullptr;
  std::string self_;
  const plan::Program& plan_;
};

struct NodeRun {
  const plan::Program& plan;
  const DeployedNodeOptions& o;
  zmq::context_t& ctx;
  std::unique_ptr<zmq::socket_t> control;
  std::function<void(const std::string&)> log;
  enum class State { Running, Halted, Failed } state = State::Running;
  std::string error;
  uint64_t dropped = 0, refused = 0;
  std::set<std::string> logged;  // reasons already logged
  std::vector<std::string> refusals;

  NodeRun(zmq::context_t& c, const plan::Program& p, const DeployedNodeOptions& opts) : plan(p), o(opts), ctx(c) {
    log = o.log ? o.log : [](const std::string& l) { std::cerr << l << '\n'; };
  }

  void tell(const json& j) {
    if (!control) return;
    std::string s = j.dump(-1, ' ', false, json::error_handler_t::replace);
    control->send(zmq::buffer(s), zmq::send_flags::dontwait);
  }

  int fatal(const std::string& message) {
    if (control) {
      tell({{"type", "fatal"}, {"error", message}});
      await_bye();
    } else {
      log("bloom: error: " + message);
    }
    return 3;
  }

  // After its last message to the launcher (`done` or `fatal`) a node waits for the launcher's
  // `bye` before it exits. ZeroMQ delivers that message on the launcher's I/O thread, so without
  // the acknowledgement the launcher could see the process end (waitpid) before the message
  // arrives and report a node that ended well as dead. Bounded, and a stop (SIGTERM, also sent
  // when the launcher dies) ends the wait: the launcher is then gone or gives up on this node.
  void await_bye() {
    if (!control) return;
    auto until = Clock::now() + std::chrono::seconds(10);
    zmq::message_t m;
    while (Clock::now() < until && !(o.stop && o.stop->load())) {
      zmq::pollitem_t item{control->handle(), 0, ZMQ_POLLIN, 0};
      try {
        zmq::poll(&item, 1, milliseconds(50));
        while (control->recv(m, zmq::recv_flags::dontwait)) {
          json j = json::parse(m.to_string_view(), nullptr, false);
          if (j.is_object() && j.value("type", "") == "bye") return;
        }
      } catch (const zmq::error_t& e) {
        if (e.num() != EINTR) return;
      }
    }
  }

  std::string state_name() const { return state == State::Running ? "running" : state == State::Halted ? "halted" : "failed"; }

  void fail(const std::string& message) {
    state = State::Failed;
    error = message;
    if (control) tell({{"type", "error"}, {"error", message}});
    else log("bloom: runtime error on node `" + o.name + "`: " + message);
  }

  void handle(const std::string& bytes, net::Codec& codec, net::Codec::Message& msg, NetLink& link, Node& node) {
    std::string why;
    if (codec.decode(bytes, msg, why)) {
      if (!link.knows(msg.sender)) {  // not a node of the deployment (or claims to be this one)
        ++dropped;
        note(fmt::format("dropped a message from `{}`, which is not a node of the deployment", msg.sender));
        return;
      }
      ++link.received[msg.sender];
      if (state == State::Running) node.deliver(msg.relation, msg.rows.data(), msg.count);
      return;
    }
    // A message whose header names a node of the deployment counts against it even when refused.
    std::string sender(net::message_sender(bytes));
    if (!sender.empty() && link.knows(sender)) {
      // A node of the deployment sent it: it counts as received (so counts balance), refused.
      ++link.received[sender];
      ++refused;
      std::string line = fmt::format("refused a message from `{}`: {}", sender, why);
      if (refusals.size() < 5 && std::find(refusals.begin(), refusals.end(), line) == refusals.end()) refusals.push_back(line);
      note(line);
      return;
    }
    ++dropped;
    note(sender.empty() ? fmt::format("dropped a message ({} bytes): {}", bytes.size(), why)
                        : fmt::format("dropped a message from `{}` ({} bytes): {}", sender, bytes.size(), why));
  }

  void note(const std::string& line) {
    if (logged.insert(line).second) log("bloom: warning: node `" + o.name + "` " + line);
  }

  json counts(NetLink& link, Node& node, bool idle) const {
    return {{"idle", idle},       {"state", state_name()}, {"ticks", node.ticks()},  {"sent", link.sent},
            {"received", link.received}, {"dropped", dropped}, {"refused", refused}, {"queue_full", link.queue_full},
            {"error", error},     {"refusals", refusals}};
  }

  // Writes the outputs to out_dir, or returns them as `name(...)` lines when there is none.
  std::string outputs(Node& node) {
    std::string text;
    for (uint32_t id : node.outputs()) {
      const auto& r = plan.relations[id];
      if (!o.out_dir.empty())
        write_file_atomically((std::filesystem::path(o.out_dir) / (r.name + ".csv")).string(),
                              [&](std::ostream& out) { node.write_output(id, true, out); });
      else text += node.output_text(id, false);
    }
    return text;
  }
};

}  // namespace

int run_deployed_node(zmq::context_t& ctx, const plan::Program& plan, const DeployedNodeOptions& o) {
  NodeRun run(ctx, plan, o);
  if (!o.control.empty()) {
    run.control = std::make_unique<zmq::socket_t>(ctx, zmq::socket_type::dealer);
    run.control->set(zmq::sockopt::routing_id, o.name);
    run.control->set(zmq::sockopt::linger, 1000);
    try {
      run.control->connect(o.control);
    } catch (const zmq::error_t& e) {
      run.control.reset();
      run.log(fmt::format("bloom: error: node `{}`: --control {}: {}", o.name, o.control, e.what()));
      return 2;
    }
  }
  const DeploymentNode* me = o.deployment.find(o.name);
  if (!me) return run.fatal(fmt::format("the deployment {} has no node `{}`", o.deployment.path, o.name));
  net::TransportOptions to;
  to.self = o.name;
  to.bind = me->endpoint;
  for (const auto& n : o.deployment.nodes)
    if (n.name != o.name) to.peers.push_back({n.name, n.endpoint});
  to.warn = [&](const std::string& w) { run.note(w); };
  std::unique_ptr<net::Transport> transport;
  try {
    transport = std::make_unique<net::Transport>(ctx, to);
  } catch (const std::exception& e) {
    std::string what = e.what();  // the transport names the node and the endpoint
    return run.fatal(what.find(me->endpoint) != std::string::npos ? what : fmt::format("node `{}` cannot listen at {}: {}", o.name, me->endpoint, what));
  }
  NetLink link(*transport, o.name, plan);
  NodeOptions no;
  no.name = o.name;
  no.print_line = o.print_line;
  no.network = &link;
  Node node(plan, no);
  net::Codec codec(plan, node.symbols(), node.lattices());
  link.attach(codec);
  try {
    if (!o.facts_dir.empty()) {
      std::vector<std::string> missing;
      node.load_inputs(o.facts_dir, missing);
      if (!o.quiet)
        for (const auto& m : missing) run.log("bloom: note: node `" + o.name + "`: no " + m + "; that input starts empty");
    }
  } catch (const std::exception& e) {
    return run.fatal(fmt::format("node `{}`: {}", o.name, e.what()));
  }
  run.tell({{"type", "hello"}});

  net::Codec::Message msg;
  std::string bytes;
  bool finished = false, stopped = false;
  int exit = 0;
  auto finish = [&]() -> std::string {
    try {
      return run.outputs(node);
    } catch (const std::exception& e) {
      run.log(fmt::format("bloom: error: node `{}`: {}", o.name, e.what()));
      exit = 3;
      return "";
    }
  };
  Clock::time_point last_step{};
  while (!finished) {
    if (o.stop && o.stop->load()) {
      stopped = true;
      break;
    }
    // Everything that arrived goes into the next tick (tick 0 holds the facts and inputs only).
    if (node.ticks() > 0 || run.state != NodeRun::State::Running)
      while (transport->receive(bytes, milliseconds(0))) run.handle(bytes, codec, msg, link, node);
    bool has_work = false;
    if (run.state == NodeRun::State::Running) {
      auto timer = node.next_timer();
      has_work = node.work_pending() || (timer && *timer <= Clock::now()) || node.ticks() == 0;
    }
    // The launcher's requests are answered between ticks, so a snapshot is always consistent.
    if (run.control) {
      zmq::message_t req;
      auto next_request = [&] {
        try {
          return run.control->recv(req, zmq::recv_flags::dontwait).has_value();
        } catch (const zmq::error_t& e) {
          if (e.num() == EINTR) return false;
          throw;
        }
      };
      while (!finished && next_request()) {
        json j = json::parse(req.to_string_view(), nullptr, false);
        std::string type = j.is_object() ? j.value("type", "") : "";
        if (type == "poll") {
          // A running node with periodics is never idle: its timers keep it going.
          bool idle = run.state != NodeRun::State::Running || (!has_work && !node.next_timer());
          json s = run.counts(link, node, idle);
          s["type"] = "status";
          s["wave"] = j.value("wave", 0);
          run.tell(s);
        } else if (type == "finish") {
          std::string text = finish();
          json d = run.counts(link, node, true);
          d["type"] = "done";
          d["outputs"] = text;
          run.tell(d);
          finished = true;
        }
      }
      if (finished) break;
    }
    if (has_work) {
      last_step = Clock::now();
      try {
        if (node.step()) {
          run.state = NodeRun::State::Halted;
          if (!run.control) break;
        }
      } catch (const RuntimeError& e) {
        run.fail(e.what());
        if (!run.control) {
          exit = 3;
          break;
        }
      }
      continue;
    }
    // Nothing to do. Right after a tick the answer to what it sent often comes within a few
    // hundred microseconds: look for it without sleeping first (a sleeping thread is woken late,
    // on a virtual machine by hundreds of microseconds).
    if (Clock::now() - last_step < kSpinAfterTick && transport->spin_for_message(kSpinAfterTick)) continue;
    // Then wait for a message, the next timer, or (briefly) the launcher.
    milliseconds wait(run.control ? 2 : 50);
    if (run.state == NodeRun::State::Running)
      if (auto t = node.next_timer())
        wait = std::min(wait, std::max(milliseconds(0), std::chrono::duration_cast<milliseconds>(*t - Clock::now())));
    // A signal (SIGINT/SIGTERM for a clean stop) ends the wait like a timeout (Transport::receive).
    if (transport->receive(bytes, wait)) run.handle(bytes, codec, msg, link, node);
  }
  if (finished) run.await_bye();
  if (!run.control) {
    // On its own: the outputs are written (or printed) when it halts, fails or is stopped.
    std::string text = finish();
    if (!text.empty() && run.state != NodeRun::State::Failed) {
      if (o.print_line) o.print_line(text.substr(0, text.size() - 1));
      else std::cout << text << std::flush;
    }
    if (stopped) run.log(fmt::format("bloom: node `{}` stopped after {} ticks", o.name, node.ticks()));
  }
  return run.state == NodeRun::State::Failed ? 3 : exit;
}

// ------------------------------------------------------------------------------------ launcher

namespace {

struct Member {
  const DeploymentNode* node = nullptr;
  bool up = false, dead = false, done = false, failed = false;
  std::string exit_text;   // how it died
  std::string error;       // runtime error or fatal
  pid_t pid = -1;
  int out_fd = -1, err_fd = -1;
  std::string out_buf, err_buf;
  json status;             // the last status of the current wave (null: not yet)
  json last;               // the last complete status
  json done_status;
  std::thread thread;      // in-process
  std::atomic<bool> thread_done{false};
  std::atomic<bool> stop{false};  // in-process: the node's stop flag
};

std::string describe_exit(int status) {
  if (WIFSIGNALED(status)) return fmt::format("exited with signal {} ({})", WTERMSIG(status), strsignal(WTERMSIG(status)));
  return fmt::format("exited with status {}", WEXITSTATUS(status));
}

// A control message as a node sends it: the launcher reads these fields without further checks
// (a message of another shape, e.g. from a foreign program on the TCP fallback, is ignored).
bool well_formed(const json& j) {
  auto it = j.find("type");
  if (it == j.end() || !it->is_string()) return false;
  const std::string& type = it->get_ref<const std::string&>();
  auto string_or_absent = [&](const char* k) { return !j.contains(k) || j[k].is_string(); };
  if (!string_or_absent("error")) return false;
  if (type != "status" && type != "done") return true;
  auto counts = [&](const char* k) {
    if (!j.contains(k)) return true;
    if (!j[k].is_object()) return false;
    for (auto& [_, n] : j[k].items())
      if (!n.is_number_unsigned()) return false;
    return true;
  };
  auto unsigned_or_absent = [&](const char* k) { return !j.contains(k) || j[k].is_number_unsigned(); };
  if (!j.contains("idle") || !j["idle"].is_boolean() || !counts("sent") || !counts("received")) return false;
  for (const char* k : {"ticks", "dropped", "refused", "queue_full", "wave"})
    if (!unsigned_or_absent(k)) return false;
  if (!string_or_absent("state") || !string_or_absent("outputs")) return false;
  if (j.contains("refusals")) {
    if (!j["refusals"].is_array()) return false;
    for (auto& r : j["refusals"])
      if (!r.is_string()) return false;
  }
  return true;
}

uint64_t count_of(const json& m, const std::string& key) {
  if (!m.is_object() || !m.contains(key)) return 0;
  return m[key].get<uint64_t>();
}


// A node's per-peer message counts ("sent" or "received") from its last status; empty when the
// status has none (a node that never reported, or a count left out of a control message).
const json& counts_of(const json& status, const char* key) {
  static const json kNone = json::object();
  if (!status.is_object()) return kNone;
  auto it = status.find(key);
  return it == status.end() ? kNone : *it;
}

uint64_t count_total(const json& status, const char* key) {
  uint64_t total = 0;
  for (auto& [_, n] : counts_of(status, key).items()) total += n.get<uint64_t>();
  return total;
}
}  // namespace

namespace {
std::atomic<bool> g_interrupted{false};
extern "C" void on_launcher_signal(int) { g_interrupted = true; }
}  // namespace

bool messages_balance(const std::map<std::string, NodeCounts>& counts) {
  auto count = [](const std::map<std::string, uint64_t>& m, const std::string& key) {
    auto it = m.find(key);
    return it == m.end() ? uint64_t{0} : it->second;
  };
  for (const auto& [node, c] : counts) {
    for (const auto& [to, n] : c.sent)
      if (auto it = counts.find(to); it != counts.end() && count(it->second.received, node) != n) return false;
    for (const auto& [from, n] : c.received)
      if (auto it = counts.find(from); it != counts.end() && count(it->second.sent, node) != n) return false;
  }
  return true;
}

int launch_deployment(const LaunchOptions& lo) {
  const auto& nodes = lo.deployment.nodes;
  // Ctrl-C or SIGTERM: the nodes are still asked to write their outputs and stop.
  g_interrupted = false;
  struct sigaction sa {}, old_int {}, old_term {};
  sa.sa_handler = on_launcher_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, &old_int);
  sigaction(SIGTERM, &sa, &old_term);
  struct Restore {
    struct sigaction i, t;
    ~Restore() {
      sigaction(SIGINT, &i, nullptr);
      sigaction(SIGTERM, &t, nullptr);
    }
  } restore{old_int, old_term};
  zmq::context_t ctx;
  zmq::socket_t router(ctx, zmq::socket_type::router);
  router.set(zmq::sockopt::linger, 0);
  router.set(zmq::sockopt::router_mandatory, 1);
  std::string control, control_dir;
  Deployment dep = lo.deployment;
  if (lo.in_process) {
    control = fmt::format("inproc://bloom-control-{}", reinterpret_cast<uintptr_t>(&router));
    for (auto& n : dep.nodes) n.endpoint = "inproc://bloom-node-" + n.name;
    router.bind(control);
  } else {
    // A Unix socket in a fresh private directory: no TCP port that a deployment (or another
    // run) might want, and only this user can reach it. ZeroMQ removes the socket on close.
    std::string dir = (std::filesystem::temp_directory_path() / "bloom-control-XXXXXX").string();
    bool bound = false;
    if (dir.size() < 90 && mkdtemp(dir.data()) != nullptr) {
      control_dir = dir;
      try {
        router.bind("ipc://" + dir + "/launcher");
        bound = true;
      } catch (const zmq::error_t&) {
      }
    }
    if (!bound) router.bind("tcp://127.0.0.1:*");
    control = router.get(zmq::sockopt::last_endpoint);
  }
  struct RemoveDir {
    std::string& dir;
    ~RemoveDir() {
      std::error_code ec;
      if (!dir.empty()) std::filesystem::remove_all(dir, ec);
    }
  } remove_dir{control_dir};
  std::mutex print_mu;
  auto out_line = [&](const std::string& name, const std::string& line) {
    std::lock_guard<std::mutex> g(print_mu);
    std::cout << '[' << name << "] " << line << '\n' << std::flush;
  };
  auto err_line = [&](const std::string& line) {
    std::lock_guard<std::mutex> g(print_mu);
    std::cerr << line << '\n' << std::flush;
  };

  std::vector<std::unique_ptr<Member>> members;
  std::map<std::string, Member*> by_name;
  std::vector<std::unique_ptr<DeployedNodeOptions>> thread_opts;
  namespace fs = std::filesystem;
  // Every output directory exists before any node starts: returning with a node already
  // running would leave its process behind, or (a joinable thread) abort the launcher.
  for (const auto& n : nodes) {
    if (lo.out_dir.empty()) break;
    std::string out_dir = (fs::path(lo.out_dir) / n.name).string();
    std::error_code ec;
    fs::create_directories(out_dir, ec);
    if (ec) {
      err_line(fmt::format("bloom: error: -D {}: cannot create the directory: {}", out_dir, ec.message()));
      return 2;
    }
  }
  // A node process that cannot be started: the ones already started are stopped and reaped.
  auto stop_started = [&] {
    for (auto& m : members) {
      if (m->pid > 0) {
        kill(m->pid, SIGKILL);
        while (waitpid(m->pid, nullptr, 0) < 0 && errno == EINTR) {
        }
      }
      if (m->out_fd >= 0) close(m->out_fd);
      if (m->err_fd >= 0) close(m->err_fd);
    }
  };
  for (size_t i = 0; i < nodes.size(); ++i) {
    auto m = std::make_unique<Member>();
    m->node = &nodes[i];
    by_name[nodes[i].name] = m.get();
    std::string out_dir = lo.out_dir.empty() ? "" : (fs::path(lo.out_dir) / nodes[i].name).string();
    if (lo.in_process) {
      auto o = std::make_unique<DeployedNodeOptions>();
      o->name = nodes[i].name;
      o->deployment = dep;
      o->control = control;
      o->facts_dir = nodes[i].facts;
      o->out_dir = out_dir;
      o->quiet = lo.quiet;
      o->stop = &m->stop;
      std::string name = nodes[i].name;
      o->print_line = [&, name](const std::string& l) { out_line(name, l); };
      o->log = err_line;
      Member* mp = m.get();
      const plan::Program* plan = lo.plans[i];
      DeployedNodeOptions* op = o.get();
      m->thread = std::thread([&ctx, plan, op, mp] {
        try {
          run_deployed_node(ctx, *plan, *op);
        } catch (const std::exception& e) {
          std::cerr << "bloom: internal error in node `" << op->name << "`: " << e.what() << "\n";
        }
        mp->thread_done = true;
      });
      thread_opts.push_back(std::move(o));
    } else {
      int out[2], err[2];
      if (pipe2(out, O_CLOEXEC) != 0) {
        err_line(fmt::format("bloom: error: cannot create a pipe for a node: {}", std::strerror(errno)));
        stop_started();
        return 3;
      }
      if (pipe2(err, O_CLOEXEC) != 0) {
        err_line(fmt::format("bloom: error: cannot create a pipe for a node: {}", std::strerror(errno)));
        close(out[0]);
        close(out[1]);
        stop_started();
        return 3;
      }
      std::vector<std::string> args = {lo.exe, "node", nodes[i].program, "--deployment", lo.deployment.path, "--name", nodes[i].name,
                                       "--control", control, "--color", "never"};
      if (!out_dir.empty()) args.insert(args.end(), {"-D", out_dir});
      if (lo.quiet) args.push_back("-q");
      std::vector<char*> argv;  // built before fork: the child only makes async-signal-safe calls
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      pid_t parent = getpid();
      pid_t pid = fork();
      if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM);  // the launcher died: stop (SIGTERM finishes cleanly)
        if (getppid() != parent) _exit(127);
        dup2(out[1], STDOUT_FILENO);
        dup2(err[1], STDERR_FILENO);
        execv(argv[0], argv.data());
        _exit(127);
      }
      close(out[1]);
      close(err[1]);
      if (pid < 0) {
        err_line(fmt::format("bloom: error: cannot start a node process: {}", std::strerror(errno)));
        close(out[0]);
        close(err[0]);
        stop_started();
        return 3;
      }
      m->pid = pid;
      m->out_fd = out[0];
      m->err_fd = err[0];
    }
    members.push_back(std::move(m));
  }

  // Pipes of node processes: stdout lines get the `[NODE] ` prefix, stderr lines go as they are.
  auto pump = [&](Member& m, int& fd, std::string& buf, bool is_out) {
    char chunk[4096];
    ssize_t n = read(fd, chunk, sizeof chunk);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;  // a signal (SIGINT to the launcher): not the end
    if (n <= 0) {
      if (!buf.empty()) {
        if (is_out) out_line(m.node->name, buf);
        else err_line(buf);
        buf.clear();
      }
      close(fd);
      fd = -1;
      return;
    }
    buf.append(chunk, static_cast<size_t>(n));
    size_t nl;
    while ((nl = buf.find('\n')) != std::string::npos) {
      std::string line = buf.substr(0, nl);
      buf.erase(0, nl + 1);
      if (is_out) out_line(m.node->name, line);
      else err_line(line);
    }
  };
  auto send_to = [&](Member& m, const json& j) {
    std::string s = j.dump();
    try {
      router.send(zmq::buffer(m.node->name), zmq::send_flags::sndmore);
      router.send(zmq::buffer(s), zmq::send_flags::none);
      return true;
    } catch (const zmq::error_t&) {
      return false;
    }
  };
  auto mark_dead = [&](Member& m, const std::string& how) {
    if (m.dead) return;
    m.dead = true;
    m.exit_text = how;
    if (!m.done) err_line(fmt::format("bloom: error: node `{}` {}", m.node->name, how));
  };
  // One round of waiting: control messages, node output, node exits.
  auto service = [&](milliseconds wait) {
    std::vector<zmq::pollitem_t> items;
    items.push_back({router.handle(), 0, ZMQ_POLLIN, 0});
    std::vector<std::pair<Member*, int>> fds;
    for (auto& m : members) {
      if (m->out_fd >= 0) {
        items.push_back({nullptr, m->out_fd, ZMQ_POLLIN, 0});
        fds.push_back({m.get(), 1});
      }
      if (m->err_fd >= 0) {
        items.push_back({nullptr, m->err_fd, ZMQ_POLLIN, 0});
        fds.push_back({m.get(), 2});
      }
    }
    try {
      zmq::poll(items, wait);
    } catch (const zmq::error_t& e) {
      if (e.num() != EINTR) throw;
    }
    for (size_t i = 1; i < items.size(); ++i) {
      if (!(items[i].revents & (ZMQ_POLLIN | ZMQ_POLLERR))) continue;
      Member& m = *fds[i - 1].first;
      if (fds[i - 1].second == 1) pump(m, m.out_fd, m.out_buf, true);
      else pump(m, m.err_fd, m.err_buf, false);
    }
    while (true) {
      std::vector<zmq::message_t> parts;
      auto got = zmq::recv_multipart(router, std::back_inserter(parts), zmq::recv_flags::dontwait);
      if (!got) break;
      if (parts.size() != 2) continue;
      auto it = by_name.find(parts[0].to_string());
      if (it == by_name.end()) continue;
      Member& m = *it->second;
      json j = json::parse(parts[1].to_string_view(), nullptr, false);
      if (!j.is_object() || !well_formed(j)) continue;  // not from a node: ignored, never a crash
      std::string type = j["type"].get<std::string>();
      if (type == "hello") m.up = true;
      else if (type == "status") m.status = j;
      else if (type == "error") {
        m.failed = true;
        m.error = j.value("error", "");
        err_line(fmt::format("bloom: runtime error on node `{}`: {}", m.node->name, m.error));
      } else if (type == "fatal") {
        m.failed = true;
        m.error = j.value("error", "");
        err_line("bloom: error: " + m.error);
        m.dead = true;  // it stops by itself
        m.exit_text = "could not run";
        send_to(m, {{"type", "bye"}});  // it waits for this before it exits
      } else if (type == "done") {
        m.done = true;
        m.done_status = j;
        send_to(m, {{"type", "bye"}});
      }
    }
    // A node exits only after its `done` or `fatal` was read above (it waits for the `bye`), so
    // an exit seen here without one is a death. A process is reaped even when its node is known
    // to have stopped (`fatal`).
    for (auto& m : members) {
      if (lo.in_process) {
        if (!m->dead && m->thread_done && !m->done) mark_dead(*m, "stopped");
        continue;
      }
      int status = 0;
      if (m->pid > 0 && waitpid(m->pid, &status, WNOHANG) == m->pid) {
        m->pid = -1;
        mark_dead(*m, describe_exit(status));  // nothing more if it is already dead
      }
    }
  };

  // Services the control socket, the pipes and the exits for a while.
  auto service_for = [&](milliseconds span) {
    auto until = Clock::now() + span;
    while (Clock::now() < until) service(milliseconds(1));
  };

  // ---- waves of polls until two consecutive identical complete snapshots, all idle, balanced.
  auto start = Clock::now();
  // At most 1e9 s (beyond that the conversion to the clock's ticks would overflow).
  const double timeout_s = std::isfinite(lo.timeout_s) ? std::clamp(lo.timeout_s, 0.0, 1e9) : 1e9;
  auto deadline = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(timeout_s));
  int wave = 0;
  bool in_wave = false;
  std::vector<std::string> expected;  // nodes polled in this wave
  json prev;                          // previous complete snapshot
  bool terminated = false, timed_out = false, interrupted = false;
  auto live = [&](const Member& m) { return !m.dead; };
  while (true) {
    service(milliseconds(in_wave ? 2 : 5));
    if (Clock::now() >= deadline) {
      timed_out = true;
      break;
    }
    if (g_interrupted) {
      interrupted = true;
      break;
    }
    bool all_dead = true;
    for (auto& m : members) all_dead = all_dead && m->dead;
    if (all_dead) break;
    if (!in_wave) {
      bool all_up = true;
      for (auto& m : members)
        if (live(*m) && !m->up) all_up = false;
      if (!all_up) continue;
      // Every node is connected: the control socket's file is no longer needed, and removing
      // it now leaves nothing behind in the temporary directory even if the launcher is killed.
      if (!control_dir.empty()) {
        std::error_code ec;
        std::filesystem::remove_all(control_dir, ec);
        control_dir.clear();
      }
      ++wave;
      expected.clear();
      bool unreachable = false;
      for (auto& m : members)
        if (live(*m)) {
          m->status = json();
          expected.push_back(m->node->name);
          // A live node the poll cannot reach (its control connection is gone, e.g. it is
          // exiting) would be missing from the snapshot: no termination from this wave.
          if (!send_to(*m, {{"type", "poll"}, {"wave", wave}})) unreachable = true;
        }
      if (unreachable) {
        prev = json();
        service_for(milliseconds(10));
        continue;
      }
      in_wave = true;
      continue;
    }
    bool complete = true, lost_member = false;
    for (auto& name : expected) {
      Member& m = *by_name[name];
      if (m.dead) lost_member = true;
      else if (!m.status.is_object() || m.status.value("wave", -1) != wave) complete = false;
    }
    if (lost_member) {  // a node died during the wave: start again
      in_wave = false;
      prev = json();
      continue;
    }
    if (!complete) continue;
    in_wave = false;
    json snap = json::object();
    bool all_idle = true;
    std::map<std::string, NodeCounts> counts;  // of the live nodes
    bool whole = true;  // every live node answered this wave
    for (auto& m : members) {
      if (!live(*m)) continue;
      if (!m->status.is_object()) {
        whole = false;
        continue;
      }
      json s = m->status;
      s.erase("wave");
      s.erase("type");
      m->last = s;
      snap[m->node->name] = s;
      all_idle = all_idle && s.value("idle", false);
      NodeCounts& c = counts[m->node->name];
      for (auto& [to, n] : s["sent"].items()) c.sent[to] = n.get<uint64_t>();
      for (auto& [from, n] : s["received"].items()) c.received[from] = n.get<uint64_t>();
    }
    if (!whole) {
      prev = json();
      continue;
    }
    if (all_idle && snap == prev && messages_balance(counts)) {
      terminated = true;
      break;
    }
    prev = snap;
    // Poll again soon: each wave costs every node a round trip.
    service_for(milliseconds(all_idle ? 2 : 10));
  }

  int exit = 0;
  if (interrupted) {
    exit = 3;
    err_line("bloom: interrupted: asking every node to write its outputs and stop");
  }
  if (timed_out) {
    exit = 3;
    std::string busy;
    uint64_t sent = 0, received = 0;
    for (auto& m : members) {
      if (m->dead) continue;
      const json& s = m->last;
      uint64_t ms = count_total(s, "sent"), mr = count_total(s, "received");
      sent += ms;
      received += mr;
      if (!m->up) busy += fmt::format("\n  node `{}`: never reported (not started?)", m->node->name);
      else if (!s.is_object() || !s.value("idle", false))
        busy += fmt::format("\n  node `{}`: busy ({}, {} ticks, {} messages sent, {} received)", m->node->name,
                            s.is_object() ? s.value("state", "?") : "?", s.is_object() ? s.value("ticks", 0) : 0, ms, mr);
    }
    err_line(fmt::format("bloom: error: no global quiescence after {} s{}{}\n  messages sent {}, received {}", lo.timeout_s,
                         busy.empty() ? "" : ": still busy:", busy, sent, received));
  }

  // ---- finish: each node writes its outputs and stops, in deployment order.
  for (auto& m : members) {
    if (m->dead || !m->up) continue;
    if (!send_to(*m, {{"type", "finish"}})) {
      // Its outputs will not be written: the run did not end well.
      exit = 3;
      err_line(fmt::format("bloom: error: node `{}` could not be asked to finish", m->node->name));
      continue;
    }
    auto until = Clock::now() + std::chrono::seconds(10);
    while (!m->done && !m->dead && Clock::now() < until) service(milliseconds(5));
    if (!m->done && !m->dead) {
      exit = 3;  // its outputs are not (all) written: not a success
      err_line(fmt::format("bloom: error: node `{}` did not finish within 10 s", m->node->name));
    }
    if (m->done) {
      std::string text = m->done_status.value("outputs", "");
      size_t at = 0, nl;
      while ((nl = text.find('\n', at)) != std::string::npos) {
        out_line(m->node->name, text.substr(at, nl - at));
        at = nl + 1;
      }
    }
  }
  // Processes exit after `done`; give them a moment, then make sure.
  auto until = Clock::now() + std::chrono::seconds(5);
  while (Clock::now() < until) {
    bool running = false;
    for (auto& m : members) running = running || (lo.in_process ? !m->thread_done.load() : (m->pid > 0 || m->out_fd >= 0 || m->err_fd >= 0));
    if (!running) break;
    service(milliseconds(5));
  }
  for (auto& m : members) {
    if (m->pid > 0) {
      kill(m->pid, SIGKILL);
      int status;
      waitpid(m->pid, &status, 0);
      m->pid = -1;
    }
    if (m->thread.joinable()) {
      // A node thread still running (in a long tick) cannot be killed, nor left behind: it uses
      // this function's context, options and members. It is told to stop after its tick.
      if (!m->thread_done) {
        err_line(fmt::format("bloom: error: node `{}` did not stop; waiting for its tick to end", m->node->name));
        m->stop = true;
      }
      m->thread.join();
    }
    if (m->out_fd >= 0) close(m->out_fd);
    if (m->err_fd >= 0) close(m->err_fd);
  }

  // ---- report
  std::map<std::string, uint64_t> sent_to;  // messages addressed to each node, by live senders
  for (auto& m : members) {
    const json& s = m->done ? m->done_status : m->last;
    if (!s.is_object() || (m->dead && !m->done)) continue;
    for (auto& [to, n] : counts_of(s, "sent").items()) sent_to[to] += n.get<uint64_t>();
  }
  for (auto& m : members) {
    const json& s = m->done ? m->done_status : m->last;
    uint64_t ms = count_total(s, "sent"), mr = count_total(s, "received");
    if (m->dead && !m->done) {
      exit = 3;
      uint64_t got = 0;
      for (auto& [from, n] : counts_of(s, "received").items())
        if (by_name.count(from) && !by_name[from]->dead) got += n.get<uint64_t>();
      uint64_t lost = sent_to[m->node->name] > got ? sent_to[m->node->name] - got : 0;
      err_line(fmt::format("bloom: node `{}` {}; {} message{} addressed to it {} lost", m->node->name, m->exit_text, lost,
                           lost == 1 ? "" : "s", lost == 1 ? "was" : "were"));
      continue;
    }
    if (m->failed) exit = 3;
    uint64_t refused = count_of(s, "refused");
    if (refused > 0) {
      exit = 3;
      for (auto& r : s["refusals"]) err_line(fmt::format("bloom: error: node `{}` {}", m->node->name, r.get<std::string>()));
    }
    if (count_of(s, "queue_full") > 0) {
      exit = 3;
      err_line(fmt::format("bloom: error: node `{}` could not send {} messages: a peer's queue was full", m->node->name,
                           count_of(s, "queue_full")));
    }
    if (!lo.quiet && s.is_object())
      err_line(fmt::format("bloom: node `{}`: {} tick{}, {} message{} sent, {} received, {} dropped{}{}{}", m->node->name,
                           s.value("ticks", 0), s.value("ticks", 0) == 1 ? "" : "s", ms, ms == 1 ? "" : "s", mr, count_of(s, "dropped"),
                           refused ? fmt::format(", {} refused", refused) : "", s.value("state", "") == "halted" ? ", halted" : "",
                           m->failed ? ", runtime error" : ""));
  }
  if (!terminated && !timed_out) exit = 3;
  return exit;
}

}  // namespace bloom::rt
