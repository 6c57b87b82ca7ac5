// `bloom run DEPLOYMENT.toml`: starts every node of a deployment (processes, or threads with
// --in-process), relays their output, detects global quiescence in waves of polls, asks each node
// to write its outputs and stop, and reports. docs/deploy.md describes what the user sees.
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <thread>
#include <variant>

#include <fmt/format.h>

#include "dist/cluster.h"
#include "dist/control.h"
#include "dist/quiescence.h"
#include "net/context.h"
#include "net/control_channel.h"
#include "net/transport.h"

namespace bloom::rt {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

std::atomic<bool> g_interrupted{false};
extern "C" void on_launcher_signal(int) { g_interrupted = true; }

// While it lives, Ctrl-C and SIGTERM only set a flag: the launcher then still asks every node to
// write its outputs and stop. The previous handlers come back when it ends.
class InterruptWatch {
 public:
  InterruptWatch() {
    g_interrupted = false;
    struct sigaction sa {};
    sa.sa_handler = on_launcher_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int_);
    sigaction(SIGTERM, &sa, &old_term_);
  }
  ~InterruptWatch() {
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
  }
  InterruptWatch(const InterruptWatch&) = delete;
  InterruptWatch& operator=(const InterruptWatch&) = delete;
  bool interrupted() const { return g_interrupted; }

 private:
  struct sigaction old_int_ {
  }, old_term_{};
};

// The read end of a node process's stdout or stderr, and the start of a line not complete yet.
struct Pipe {
  int fd = -1;
  std::string partial;
};

// One node of the deployment, as the launcher sees it.
struct Member {
  const DeploymentNode* node = nullptr;
  bool up = false;                 // said hello: it is set up and its control connection works
  bool done = false;               // answered `finish`: its outputs are written, `final_report` holds its counters
  bool dead = false;               // exited or stopped (after `done` too, for a process), or could not run
  bool failed = false;             // had a runtime error, or could not run
  Clock::time_point last_heard{};  // its last control message (a frozen node stops answering)
  std::string exit_text;           // how it died
  NodeReport final_report;
  std::string outputs;  // its outputs as `name(...)` lines, when there is no -D
  int restarts = 0;     // times it died and was started again (`restart = true`)
  // A node process:
  pid_t pid = -1;
  Pipe out, err;
  // A node thread:
  DeployedNodeOptions options;
  std::thread thread;
  std::atomic<bool> thread_done{false};
  std::atomic<bool> stop{false};
};

std::string describe_exit(int status) {
  if (WIFSIGNALED(status)) return fmt::format("exited with signal {} ({})", WTERMSIG(status), strsignal(WTERMSIG(status)));
  return fmt::format("exited with status {}", WEXITSTATUS(status));
}

uint64_t total(const std::map<std::string, uint64_t>& counts) {
  uint64_t sum = 0;
  for (const auto& [_, n] : counts) sum += n;
  return sum;
}

class Launcher {
 public:
  explicit Launcher(const LaunchOptions& options)
      : o_(options),
        control_(context_, options.in_process ? net::ControlServer::Reach::ThisProcess : net::ControlServer::Reach::ThisMachine) {}
  int run();

 private:
  enum class Ending { Quiescent, TimedOut, Interrupted, AllDead };
  bool make_output_dirs();
  std::string out_dir_of(const DeploymentNode& node) const;
  bool make_keys();
  bool start_nodes();
  void start_thread(Member& m, const Deployment& inproc, const plan::Program& plan);
  bool start_process(Member& m);
  void end_process(Member& m);
  void service(milliseconds wait);
  void service_for(milliseconds span);
  void read_pipe(Member& m, Pipe& pipe);
  void take_control_messages();
  void on_message(Member& m, const control::Message& message);
  void reap_exits();
  void lose(Member& m, const std::string& how);
  void mark_dead(Member& m, const std::string& how);
  void restart(Member& m, const std::string& how);
  bool send(const Member& m, const control::Message& message) { return control_.send(m.node->name, control::encode(message)); }
  Ending await_quiescence();
  void start_wave();
  void last_poll();
  void report_still_busy();
  void finish_nodes();
  void stop_nodes();
  const NodeReport* last_report(const Member& m) const { return m.done ? &m.final_report : quiescence_.latest(m.node->name); }
  // Died before it finished: nodes that finished are also marked dead once they exit.
  static bool died(const Member& m) { return m.dead && !m.done; }
  void report();
  void out_line(const std::string& node, const std::string& line);
  void err_line(const std::string& line);

  const LaunchOptions& o_;
  InterruptWatch interrupt_;
  net::Context context_;  // shared with the node threads: inproc:// works within one context
  net::ControlServer control_;
  std::mutex print_mu_;                           // node threads print through out_line and err_line too
  std::vector<std::unique_ptr<Member>> members_;  // in deployment order
  std::map<std::string, Member*> by_name_;
  std::map<std::string, net::KeyPair> keys_;  // process mode, unless insecure: each node's CURVE keys
  QuiescenceDetector quiescence_;
  // Tells this run from other runs of the same deployment file (net::deployment_id).
  const uint64_t run_id_ = std::random_device{}() | (uint64_t{std::random_device{}()} << 32);
  // When a restarted node last said hello: messages its peers had queued for it during the
  // restart are still arriving for a moment, so a quiet snapshot is not believed before
  // kRejoinGrace has passed since (QuiescenceDetector forgives what was sent before it).
  Clock::time_point last_rejoin_{};
  static constexpr milliseconds kRejoinGrace{500};
  int exit_ = 0;
  bool finishing_ = false;  // the run is ending: a node that dies now is not restarted
  // A crash loop (a node that dies right after each start) ends as a death.
  static constexpr int kMaxRestarts = 100;
};

int Launcher::run() {
  if (!o_.in_process)
    for (const auto& n : o_.deployment.nodes)
      if (n.endpoint.starts_with("inproc://")) {
        // Node processes cannot reach each other over inproc://: refused before anything starts.
        err_line(
            fmt::format("{}:{}:{}: error: node `{}` has the endpoint `{}`, which only threads of one process reach: use "
                        "tcp:// or ipc://, or run the deployment with --in-process",
                        o_.deployment.path, n.endpoint_line, n.endpoint_column, n.name, n.endpoint));
        return 2;
      }
  if (!make_keys()) return 2;
  // Every output directory exists before any node starts: returning with a node already
  // running would leave its process behind, or (a joinable thread) abort the launcher.
  if (!make_output_dirs()) return 2;
  if (!start_nodes()) return 3;
  const Ending ending = await_quiescence();
  finishing_ = true;
  if (ending == Ending::Interrupted) {
    exit_ = 3;
    err_line("bloom: interrupted: asking every node to write its outputs and stop");
  }
  if (ending == Ending::TimedOut) {
    exit_ = 3;
    last_poll();
    report_still_busy();
  }
  finish_nodes();
  stop_nodes();
  report();
  if (ending == Ending::Interrupted || ending == Ending::AllDead) exit_ = 3;
  return exit_;
}

// OUT/NODE for every node with -D; false (after saying which) when one cannot be made.
bool Launcher::make_output_dirs() {
  for (const auto& n : o_.deployment.nodes) {
    if (o_.out_dir.empty()) break;
    std::error_code ec;
    std::filesystem::create_directories(out_dir_of(n), ec);
    if (ec) {
      err_line(fmt::format("bloom: error: -D {}: cannot create the directory: {}", out_dir_of(n), ec.message()));
      return false;
    }
  }
  return true;
}

std::string Launcher::out_dir_of(const DeploymentNode& node) const {
  return o_.out_dir.empty() ? "" : (std::filesystem::path(o_.out_dir) / node.name).string();
}

// CURVE keys for the node processes (docs/security.md): the deployment's own when it names them
// with their secret key files, else a fresh pair per node for this run only. None in-process
// (inproc:// never leaves the process) or for an insecure deployment.
bool Launcher::make_keys() {
  if (o_.in_process || o_.deployment.insecure) return true;
  unsetenv(kKeysEnv);  // keys_for_node must read the deployment's files, not an inherited variable
  for (const auto& n : o_.deployment.nodes) {
    if (o_.deployment.has_keys() && !n.secret_key_file.empty()) {
      // keys_for_node reads the file and checks it against the public key.
      std::string error;
      auto keys = keys_for_node(o_.deployment, n.name, error);
      if (!keys) {
        err_line("bloom: error: " + error);
        return false;
      }
      keys_[n.name] = {keys->public_key, keys->secret_key};
      continue;
    }
    if (o_.deployment.has_keys()) {
      err_line(
          fmt::format("{}:{}:{}: error: node `{}` has a `public_key` but no `secret_key_file`: `bloom run` needs every node's secret "
                      "key, or no keys at all (it then makes keys for the run)",
                      o_.deployment.path, n.line, n.column, n.name));
      return false;
    }
    try {
      keys_[n.name] = net::generate_keypair();
    } catch (const std::exception& e) {
      err_line(std::string("bloom: error: ") + e.what());
      return false;
    }
  }
  return true;
}

// Starts every node, in deployment order. When a process cannot be started, the ones already
// started are stopped and reaped: false.
bool Launcher::start_nodes() {
  // Threads talk over inproc:// in the launcher's context: the deployment's endpoints are not used.
  Deployment inproc = o_.deployment;
  for (auto& n : inproc.nodes) n.endpoint = "inproc://bloom-node-" + n.name;
  for (size_t i = 0; i < o_.deployment.nodes.size(); ++i) {
    auto& m = *members_.emplace_back(std::make_unique<Member>());
    m.node = &o_.deployment.nodes[i];
    by_name_[m.node->name] = &m;
    if (o_.in_process) {
      start_thread(m, inproc, *o_.plans[i]);
    } else if (!start_process(m)) {
      for (auto& started : members_) end_process(*started);
      return false;
    }
  }
  return true;
}

// --in-process: the node runs in a thread of this process, on the launcher's context (inproc://
// connects only within one), printing through the launcher so lines never interleave.
void Launcher::start_thread(Member& m, const Deployment& inproc, const plan::Program& plan) {
  DeployedNodeOptions& o = m.options;  // lives as long as the thread: members outlive it
  o.name = m.node->name;
  o.deployment = inproc;
  o.control = control_.endpoint();
  o.run_id = run_id_;
  o.facts_dir = m.node->facts;
  o.data_dir = m.node->data_dir;
  o.out_dir = out_dir_of(*m.node);
  o.quiet = o_.quiet;
  o.stop = &m.stop;
  o.native = o_.native;
  o.context = &context_;
  o.print_line = [this, name = m.node->name](const std::string& line) { out_line(name, line); };
  o.log = [this](const std::string& line) { err_line(line); };
  m.thread = std::thread([this, &m, &plan] {
    try {
      run_deployed_node(plan, m.options);
    } catch (const std::bad_alloc&) {
      err_line(fmt::format("bloom: error: node `{}` ran out of memory", m.node->name));
    } catch (const std::exception& e) {
      err_line(fmt::format("bloom: internal error in node `{}`: {}", m.node->name, e.what()));
    }
    m.thread_done = true;
  });
}

// `bloom node PROGRAM --deployment D --name NODE --control ENDPOINT`, the same binary, with its
// stdout and stderr on pipes the launcher relays.
bool Launcher::start_process(Member& m) {
  int out[2], err[2];
  if (pipe2(out, O_CLOEXEC) != 0) {
    err_line(fmt::format("bloom: error: cannot create a pipe for a node: {}", std::strerror(errno)));
    return false;
  }
  if (pipe2(err, O_CLOEXEC) != 0) {
    err_line(fmt::format("bloom: error: cannot create a pipe for a node: {}", std::strerror(errno)));
    close(out[0]);
    close(out[1]);
    return false;
  }
  std::vector<std::string> args = {o_.exe,
                                   "node",
                                   m.node->program,
                                   "--deployment",
                                   o_.deployment.path,
                                   "--name",
                                   m.node->name,
                                   "--control",
                                   control_.endpoint(),
                                   "--run-id",
                                   std::to_string(run_id_),
                                   "--incarnation",
                                   std::to_string(m.restarts),
                                   "--color",
                                   "never"};
  if (!o_.out_dir.empty()) args.insert(args.end(), {"-D", out_dir_of(*m.node)});
  if (o_.quiet) args.push_back("-q");
  args.insert(args.end(), o_.node_args.begin(), o_.node_args.end());
  std::vector<char*> argv;  // built before fork: the child only makes async-signal-safe calls
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  // Its keys go in its environment (readable by this user only), never in its arguments.
  std::vector<std::string> env_text;
  for (char** e = environ; *e; ++e)
    if (std::strncmp(*e, kKeysEnv, std::strlen(kKeysEnv)) != 0) env_text.emplace_back(*e);
  if (auto mine = keys_.find(m.node->name); mine != keys_.end()) {
    std::string keys = fmt::format("{}=secret {}\n", kKeysEnv, mine->second.secret_key);
    for (const auto& [name, pair] : keys_) keys += fmt::format("{} {}\n", name, pair.public_key);
    env_text.push_back(std::move(keys));
  }
  std::vector<char*> envp;
  for (auto& e : env_text) envp.push_back(e.data());
  envp.push_back(nullptr);
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGTERM);  // the launcher died: stop (SIGTERM finishes cleanly)
    if (getppid() != parent) _exit(127);
    dup2(out[1], STDOUT_FILENO);
    dup2(err[1], STDERR_FILENO);
    execve(argv[0], argv.data(), envp.data());
    _exit(127);
  }
  close(out[1]);
  close(err[1]);
  if (pid < 0) {
    err_line(fmt::format("bloom: error: cannot start a node process: {}", std::strerror(errno)));
    close(out[0]);
    close(err[0]);
    return false;
  }
  m.pid = pid;
  m.out.fd = out[0];
  m.err.fd = err[0];
  return true;
}

// Kills a node process that is still there, reaps it and closes its pipes.
void Launcher::end_process(Member& m) {
  if (m.pid > 0) {
    kill(m.pid, SIGKILL);
    while (waitpid(m.pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    m.pid = -1;
  }
  for (Pipe* p : {&m.out, &m.err})
    if (p->fd >= 0) {
      close(p->fd);
      p->fd = -1;
    }
}

// One round of waiting: node output, control messages, node exits, whichever comes.
void Launcher::service(milliseconds wait) {
  std::vector<int> fds;
  std::vector<std::pair<Member*, Pipe*>> pipes;
  for (auto& m : members_)
    for (Pipe* p : {&m->out, &m->err})
      if (p->fd >= 0) {
        fds.push_back(p->fd);
        pipes.emplace_back(m.get(), p);
      }
  const std::vector<bool> ready = control_.wait(fds, wait);
  for (size_t i = 0; i < pipes.size(); ++i)
    if (ready[i]) read_pipe(*pipes[i].first, *pipes[i].second);
  take_control_messages();
  reap_exits();
}

// Services everything for a while (between two waves).
void Launcher::service_for(milliseconds span) {
  auto until = Clock::now() + span;
  while (Clock::now() < until) service(milliseconds(1));
}

// A node process's stdout lines get the `[NODE] ` prefix; its stderr lines go out as they are.
void Launcher::read_pipe(Member& m, Pipe& pipe) {
  auto emit = [&](const std::string& line) {
    if (&pipe == &m.out) out_line(m.node->name, line);
    else err_line(line);
  };
  char chunk[4096];
  ssize_t n = read(pipe.fd, chunk, sizeof chunk);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;  // a signal (SIGINT to the launcher): not the end
  if (n <= 0) {
    if (!pipe.partial.empty()) emit(pipe.partial);
    pipe.partial.clear();
    close(pipe.fd);
    pipe.fd = -1;
    return;
  }
  pipe.partial.append(chunk, static_cast<size_t>(n));
  size_t nl;
  while ((nl = pipe.partial.find('\n')) != std::string::npos) {
    emit(pipe.partial.substr(0, nl));
    pipe.partial.erase(0, nl + 1);
  }
}

// Every message waiting on the control channel, from the nodes of the deployment only.
void Launcher::take_control_messages() {
  std::string from, bytes;
  while (control_.receive(from, bytes)) {
    auto it = by_name_.find(from);
    if (it == by_name_.end()) continue;
    // Bytes of another shape (not from a node) are ignored, never a crash.
    if (auto message = control::decode(bytes)) on_message(*it->second, *message);
  }
}

// What a node's message changes in the launcher's view of it (docs/deploy.md, dist/control.h).
void Launcher::on_message(Member& m, const control::Message& message) {
  m.last_heard = Clock::now();
  if (std::holds_alternative<control::Hello>(message)) {
    m.up = true;
    if (m.restarts > 0) last_rejoin_ = Clock::now();
  } else if (const auto* status = std::get_if<control::Status>(&message)) {
    quiescence_.record(m.node->name, status->wave, status->report);
  } else if (const auto* error = std::get_if<control::Error>(&message)) {
    m.failed = true;
    err_line(fmt::format("bloom: runtime error on node `{}`: {}", m.node->name, error->message));
  } else if (const auto* fatal = std::get_if<control::Fatal>(&message)) {
    m.failed = true;
    err_line("bloom: error: " + fatal->message);
    lose(m, "could not run");  // it stops by itself: no more to say about it
    send(m, control::Bye{});   // it waits for this before it exits
  } else if (const auto* done = std::get_if<control::Done>(&message)) {
    m.done = true;
    m.final_report = done->report;
    m.outputs = done->outputs;
    send(m, control::Bye{});
  }
}

// A node exits only after its `done` or `fatal` was read (it waits for the `bye`), so an exit
// seen here without one is a death. A process is reaped even when its node is known to have
// stopped (`fatal`).
void Launcher::reap_exits() {
  for (auto& m : members_) {
    if (o_.in_process) {
      if (!m->dead && m->thread_done && !m->done) mark_dead(*m, "stopped");
      continue;
    }
    int status = 0;
    if (m->pid > 0 && waitpid(m->pid, &status, WNOHANG) == m->pid) {
      m->pid = -1;
      if (m->node->restart && !m->dead && !m->done && !finishing_ && !interrupt_.interrupted() && m->restarts < kMaxRestarts) {
        restart(*m, describe_exit(status));
        continue;
      }
      mark_dead(*m, describe_exit(status));  // nothing more if it is already dead
    }
  }
}

// The node is gone: it takes no part in the waves any more.
void Launcher::lose(Member& m, const std::string& how) {
  m.dead = true;
  m.exit_text = how;
  quiescence_.node_lost(m.node->name);
}

// `restart = true`: the node process is started again as before; it recovers its durable tables
// from its data directory (docs/deploy.md) and rejoins. The waves wait for its hello.
void Launcher::restart(Member& m, const std::string& how) {
  ++m.restarts;
  for (Pipe* p : {&m.out, &m.err})  // what the dead process wrote before it died
    while (p->fd >= 0) read_pipe(m, *p);
  err_line(fmt::format("bloom: node `{}` {}; restarting it (restart = true)", m.node->name, how));
  quiescence_.node_lost(m.node->name);
  m.up = false;
  if (!start_process(m)) mark_dead(m, "could not be restarted");
}

// An exit or a stop the launcher noticed: said at once, unless the node had finished well.
void Launcher::mark_dead(Member& m, const std::string& how) {
  if (m.dead) return;
  lose(m, how);
  if (!m.done) err_line(fmt::format("bloom: error: node `{}` {}", m.node->name, how));
}

// Waves of polls until the detector finds the deployment quiescent, the time is up, the user
// interrupts, or no node is left.
Launcher::Ending Launcher::await_quiescence() {
  // At most 1e9 s (beyond that the conversion to the clock's ticks would overflow).
  const double timeout_s = std::isfinite(o_.timeout_s) ? std::clamp(o_.timeout_s, 0.0, 1e9) : 1e9;
  auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(timeout_s));
  auto last_round = Clock::now();
  while (true) {
    service(milliseconds(quiescence_.in_wave() ? 2 : 5));
    // A round takes milliseconds: a long gap means the launcher itself was stopped (SIGSTOP,
    // a suspended laptop) or starved, and the nodes may all have finished meanwhile. That time
    // does not count against --timeout: the waves get their chance to see it first.
    const auto now = Clock::now();
    if (now - last_round > std::chrono::seconds(1)) deadline += now - last_round;
    last_round = now;
    if (now >= deadline) return Ending::TimedOut;
    if (interrupt_.interrupted()) return Ending::Interrupted;
    if (std::all_of(members_.begin(), members_.end(), [](const auto& m) { return m->dead; })) return Ending::AllDead;
    if (!quiescence_.in_wave()) {
      start_wave();
      continue;
    }
    // Between waves, poll again soon: each wave costs every node a round trip.
    switch (quiescence_.conclude()) {
      case QuiescenceDetector::Verdict::Waiting: break;
      case QuiescenceDetector::Verdict::Quiescent:
        if (Clock::now() - last_rejoin_ >= kRejoinGrace) return Ending::Quiescent;
        service_for(milliseconds(5));
        break;
      case QuiescenceDetector::Verdict::Idle: service_for(milliseconds(2)); break;
      case QuiescenceDetector::Verdict::Busy: service_for(milliseconds(10)); break;
    }
  }
}

// Polls every live node, once all of them are up. A poll that cannot reach a live node (its
// control connection is gone, e.g. it is exiting) would leave it out of the snapshot: that wave
// is abandoned, and the next one comes a little later.
void Launcher::start_wave() {
  std::vector<std::string> live;
  for (auto& m : members_) {
    if (m->dead) continue;
    if (!m->up) return;
    live.push_back(m->node->name);
  }
  // Every node is connected; a node that may be restarted must be able to connect again.
  if (std::none_of(members_.begin(), members_.end(), [](const auto& m) { return m->node->restart; })) control_.remove_socket_file();
  const uint64_t wave = quiescence_.start_wave(std::move(live));
  bool unreachable = false;
  for (auto& m : members_)
    if (!m->dead && !send(*m, control::Poll{wave})) unreachable = true;
  if (unreachable) {
    quiescence_.abandon_wave();
    service_for(milliseconds(10));
  }
}

// At the timeout, a wave stuck on a node that does not answer holds stale answers of the others:
// one more poll of every live node, for up to a second, so that the report is current. Nodes
// that do not answer it are named as such.
void Launcher::last_poll() {
  std::vector<std::string> live;
  for (auto& m : members_)
    if (!m->dead && m->up) live.push_back(m->node->name);
  quiescence_.abandon_wave();
  const uint64_t wave = quiescence_.start_wave(live);
  for (auto& m : members_)
    if (!m->dead && m->up) send(*m, control::Poll{wave});
  const auto until = Clock::now() + std::chrono::seconds(1);
  while (Clock::now() < until && std::any_of(live.begin(), live.end(), [&](const auto& n) { return quiescence_.awaiting(n); }))
    service(milliseconds(2));
}

// At the timeout: which nodes were still busy at the last complete wave, and the totals.
void Launcher::report_still_busy() {
  std::string busy;
  uint64_t sent = 0, received = 0;
  const auto now = Clock::now();
  for (auto& m : members_) {
    if (m->dead) continue;
    const NodeReport* r = quiescence_.freshest(m->node->name);
    const uint64_t ms = r ? total(r->messages.sent) : 0, mr = r ? total(r->messages.received) : 0;
    sent += ms;
    received += mr;
    // A node that does not answer the current wave holds up every wave: it is the one to name
    // (stopped with SIGSTOP, or stuck in a long tick), whatever its last answer said.
    const double silent_s = std::chrono::duration<double>(now - m->last_heard).count();
    if (!m->up) busy += fmt::format("\n  node `{}`: never reported (not started?)", m->node->name);
    else if (quiescence_.awaiting(m->node->name))
      busy += fmt::format("\n  node `{}`: not answering the launcher for {:.1f} s (stopped, or in a long tick; last seen {}, {} ticks)",
                          m->node->name, silent_s, r ? state_name(r->state) : "?", r ? r->ticks : 0);
    else if (!r || !r->idle)
      busy += fmt::format("\n  node `{}`: busy ({}, {} ticks, {} messages sent, {} received)", m->node->name,
                          r ? state_name(r->state) : "?", r ? r->ticks : 0, ms, mr);
  }
  // Links with messages on their way (a node may wait for one that was lost).
  std::string links;
  const auto& backlog = quiescence_.backlog();
  for (size_t i = 0; i < backlog.size() && i < 10; ++i)
    links += fmt::format("\n    `{}` -> `{}`: {} of {} arrived", backlog[i].from, backlog[i].to, backlog[i].arrived, backlog[i].sent);
  if (backlog.size() > 10) links += fmt::format("\n    and {} more links", backlog.size() - 10);
  err_line(fmt::format("bloom: error: no global quiescence after {} s{}{}\n  messages sent {}, received {}{}{}", o_.timeout_s,
                       busy.empty() ? "" : ": still busy:", busy, sent, received,
                       links.empty() ? "" : "\n  messages still on their way at the last complete wave:", links));
}

// Each node writes its outputs and stops, one after the other in deployment order, so that
// without -D the outputs come out node by node.
void Launcher::finish_nodes() {
  for (auto& m : members_) {
    if (m->dead || !m->up) continue;
    if (!send(*m, control::Finish{})) {
      exit_ = 3;  // its outputs will not be written: the run did not end well
      err_line(fmt::format("bloom: error: node `{}` could not be asked to finish", m->node->name));
      continue;
    }
    auto until = Clock::now() + std::chrono::seconds(10);
    while (!m->done && !m->dead && Clock::now() < until) service(milliseconds(5));
    if (!m->done && !m->dead) {
      exit_ = 3;  // its outputs are not (all) written: not a success
      err_line(fmt::format("bloom: error: node `{}` did not finish within 10 s", m->node->name));
    }
    if (!m->done) continue;
    size_t at = 0, nl;
    while ((nl = m->outputs.find('\n', at)) != std::string::npos) {
      out_line(m->node->name, m->outputs.substr(at, nl - at));
      at = nl + 1;
    }
  }
}

// Processes exit after `done`: they get a moment, then are killed. A node thread still running
// (in a long tick) cannot be killed, nor left behind (it uses the launcher's context and
// members): it is told to stop after its tick, and joined.
void Launcher::stop_nodes() {
  auto running = [&](const Member& m) { return o_.in_process ? !m.thread_done : (m.pid > 0 || m.out.fd >= 0 || m.err.fd >= 0); };
  auto until = Clock::now() + std::chrono::seconds(5);
  while (Clock::now() < until && std::any_of(members_.begin(), members_.end(), [&](const auto& m) { return running(*m); }))
    service(milliseconds(5));
  for (auto& m : members_) {
    end_process(*m);
    if (m->thread.joinable()) {
      if (!m->thread_done) {
        err_line(fmt::format("bloom: error: node `{}` did not stop; waiting for its tick to end", m->node->name));
        m->stop = true;
      }
      m->thread.join();
    }
  }
}

// The end of the run: messages lost with dead nodes, refusals, undeliverable tuples (each makes
// the exit status 3), and one summary line per node.
void Launcher::report() {
  std::map<std::string, uint64_t> sent_to;  // messages addressed to each node, by the nodes that did not die
  for (auto& m : members_) {
    const NodeReport* r = last_report(*m);
    if (!r || died(*m)) continue;
    for (const auto& [to, n] : r->messages.sent) sent_to[to] += n;
  }
  for (auto& m : members_) {
    const std::string& name = m->node->name;
    const NodeReport* r = last_report(*m);
    const uint64_t ms = r ? total(r->messages.sent) : 0, mr = r ? total(r->messages.received) : 0;
    if (died(*m)) {
      exit_ = 3;
      // What it had received (at its last answer) from the nodes counted in sent_to. Nodes
      // that finished well are marked dead too once they exit: they count as senders.
      uint64_t got = 0;
      if (r)
        for (const auto& [from, n] : r->messages.received)
          if (auto it = by_name_.find(from); it != by_name_.end() && !died(*it->second)) got += n;
      const uint64_t lost = sent_to[name] > got ? sent_to[name] - got : 0;
      err_line(fmt::format("bloom: node `{}` {}; {} message{} addressed to it {} lost", name, m->exit_text, lost, lost == 1 ? "" : "s",
                           lost == 1 ? "was" : "were"));
      continue;
    }
    if (m->failed) exit_ = 3;
    if (!r) continue;
    if (r->refused > 0) {
      exit_ = 3;
      for (const auto& line : r->refusals) err_line(fmt::format("bloom: error: node `{}` {}", name, line));
    }
    // Not this run's fault, but someone's mistake: said even with -q, naming who sent them.
    if (r->foreign > 0) {
      std::string senders;
      for (const auto& who : r->foreign_senders) senders += (senders.empty() ? "" : ", ") + who;
      err_line(fmt::format("bloom: warning: node `{}` dropped {} message{} of another deployment or run sharing its endpoint, from {}",
                           name, r->foreign, r->foreign == 1 ? "" : "s", senders));
    }
    if (r->undeliverable > 0) {
      exit_ = 3;
      err_line(fmt::format("bloom: error: node `{}` dropped {} tuple{} addressed to addrs that are not nodes of the deployment", name,
                           r->undeliverable, r->undeliverable == 1 ? "" : "s"));
    }
    if (!o_.quiet)
      err_line(fmt::format(
          "bloom: node `{}`: {} tick{}, {} message{} sent, {} received, {} dropped{}{}{}{}{}", name, r->ticks, r->ticks == 1 ? "" : "s", ms,
          ms == 1 ? "" : "s", mr, r->dropped, r->refused ? fmt::format(", {} refused", r->refused) : "",
          r->undeliverable ? fmt::format(", {} undeliverable", r->undeliverable) : "",
          r->send_waits ? fmt::format(", waited {} time{} for a peer to take its messages", r->send_waits, r->send_waits == 1 ? "" : "s")
                        : "",
          r->state == NodeState::Halted ? ", halted" : "", m->failed ? ", runtime error" : ""));
    // Said even with -q: the run went well only thanks to the restarts.
    if (m->restarts > 0)
      err_line(fmt::format("bloom: node `{}` was restarted {} time{} (restart = true); the figures above are since its last start", name,
                           m->restarts, m->restarts == 1 ? "" : "s"));
  }
}

void Launcher::out_line(const std::string& node, const std::string& line) {
  std::lock_guard<std::mutex> g(print_mu_);
  std::cout << '[' << node << "] " << line << '\n' << std::flush;
}

void Launcher::err_line(const std::string& line) {
  std::lock_guard<std::mutex> g(print_mu_);
  std::cerr << line << '\n' << std::flush;
}

}  // namespace

int launch_deployment(const LaunchOptions& options) { return Launcher(options).run(); }

}  // namespace bloom::rt
