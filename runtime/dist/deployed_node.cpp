// One node of a deployment on the network (`bloom node`, or a node thread of `bloom run
// --in-process`): its Node ticks, the transport carries its messages, and with a launcher it
// answers on the control channel (dist/control.h).
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <variant>

#include <fmt/format.h>

#include "core/memory.h"
#include "dist/cluster.h"
#include "dist/control.h"
#include "dist/log_limiter.h"
#include "net/context.h"
#include "net/control_channel.h"
#include "net/transport.h"
#include "net/wire.h"
#include "node/facts.h"
#include "node/node.h"
#include "node/output_files.h"

namespace bloom::rt {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
// How long a node looks for a message without sleeping after a tick (see wait_for_input).
constexpr std::chrono::microseconds kSpinAfterTick(500);
// How many arrived rows a tick takes at most before it runs (see take_arrived_messages).
constexpr size_t kTickRows = size_t{1} << 16;

// The Node's way out: each message is encoded, checked against the receiver's size limit, sent
// and counted. A message a peer's full queue does not take waits here, in order, and the node
// ticks no further until every waiting message is out (flow control: while both nodes live, no
// message is dropped, and what waits is at most one tick's messages).
class NetLink : public NodeNetwork {
 public:
  NetLink(net::Transport& transport, const net::Envelope& envelope, const plan::Program& plan, std::function<void(const std::string&)> note)
      : transport_(transport), envelope_(envelope), plan_(plan), note_(std::move(note)) {}
  void attach(net::Codec& codec) { codec_ = &codec; }
  bool knows(std::string_view node) const override { return transport_.knows(node); }
  void send(std::string_view node, uint32_t relation, const Word* rows, size_t count) override {
    // A message the receiver would refuse to take in (bigger than its ZMQ_MAXMSGSIZE) is never
    // sent: the receiver would drop the connection, the message would vanish and the run could
    // only time out. It is a runtime error of this node, naming the channel, instead.
    const std::string& channel = plan_.relations[relation].name;
    std::string bytes;
    std::string peer(node);
    // Numbered in send order: a message that waits for room keeps its place in the queue.
    net::Envelope envelope = envelope_;
    envelope.sequence = next_sequence_[peer] + 1;
    try {
      bytes = codec_->encode(relation, rows, count, envelope);
    } catch (const std::length_error& e) {
      throw RuntimeError(fmt::format("channel `{}`: {} rows to node `{}` do not fit in one message: {}", channel, count, node, e.what()));
    }
    if (static_cast<int64_t>(bytes.size()) > transport_.max_message_bytes())
      throw RuntimeError(fmt::format("channel `{}`: a message of {} rows to node `{}` takes {} bytes, more than the limit of {} bytes",
                                     channel, count, node, bytes.size(), transport_.max_message_bytes()));
    ++next_sequence_[peer];
    auto& queue = waiting_[peer];
    if (queue.empty() && try_send(peer, bytes)) return;
    if (!waiting()) ++send_waits;  // a new wait starts
    queue.push_back(std::move(bytes));
    ++waiting_count_;
  }
  bool drop_undeliverable(std::string_view node, uint32_t relation) override {
    ++undeliverable;
    note_(fmt::format("dropped a tuple on channel `{}` for \"{}\": no node of the deployment has that addr", plan_.relations[relation].name,
                      excerpt(node)));
    return true;
  }
  // Hands waiting messages to the transport while their peers take them; true when none waits.
  bool flush() {
    for (auto& [peer, queue] : waiting_)
      while (!queue.empty() && try_send(peer, queue.front())) {
        queue.pop_front();
        --waiting_count_;
      }
    return !waiting();
  }
  bool waiting() const { return waiting_count_ > 0; }
  std::vector<std::string> waiting_for() const {
    std::vector<std::string> peers;
    for (const auto& [peer, queue] : waiting_)
      if (!queue.empty()) peers.push_back(peer);
    return peers;
  }
  NodeCounts counts;  // received is counted by DeployedNode::take_in
  uint64_t undeliverable = 0, send_waits = 0;

 private:
  bool try_send(const std::string& peer, const std::string& bytes) {
    switch (transport_.send(peer, bytes)) {
      case net::Transport::SendResult::Sent: ++counts.sent[peer]; return true;
      case net::Transport::SendResult::QueueFull: return false;
      case net::Transport::SendResult::UnknownPeer: return true;  // knows() said yes: cannot happen
    }
    return false;
  }

  net::Transport& transport_;
  net::Codec* codec_ = nullptr;
  net::Envelope envelope_;                         // views into DeployedNode's strings, which outlive the link
  std::map<std::string, uint64_t> next_sequence_;  // per peer: the number of the last message encoded
  const plan::Program& plan_;
  std::function<void(const std::string&)> note_;
  std::map<std::string, std::deque<std::string>> waiting_;  // per peer, in send order
  size_t waiting_count_ = 0;
};

class DeployedNode {
 public:
  DeployedNode(net::Context& context, const plan::Program& plan, const DeployedNodeOptions& options)
      : context_(context), plan_(plan), o_(options) {
    log_ = o_.log ? o_.log : [](const std::string& line) { std::cerr << line << '\n'; };
  }
  int run();

 private:
  enum class LoopEnd { Finished, Stopped, Ended };  // told to finish; a stop signal; halted or failed alone
  std::optional<int> set_up();
  LoopEnd serve();
  void take_arrived_messages();
  bool has_work();
  bool answer_launcher(bool has_work, bool sending);
  bool tick();
  void wait_for_input(Clock::time_point last_tick);
  void take_in(std::string_view bytes);
  NodeReport report(bool idle) const;
  std::string write_outputs();
  void finish_alone(bool stopped);
  void tell(const control::Message& message) { control_->send(control::encode(message)); }
  void await_bye();
  int fatal(const std::string& message);
  void fail(const std::string& message);
  void note(const std::string& line);

  net::Context& context_;
  const plan::Program& plan_;
  const DeployedNodeOptions& o_;
  std::function<void(const std::string&)> log_;
  std::unique_ptr<net::ControlClient> control_;  // null for a node on its own
  std::unique_ptr<net::Transport> transport_;
  std::unique_ptr<NetLink> link_;
  std::unique_ptr<DurableFiles> store_;  // before node_: the node writes to it until destroyed
  std::unique_ptr<Node> node_;
  std::unique_ptr<OutputFiles> outputs_;  // with -D: written as ticks complete (after node_: it reads the node)
  std::unique_ptr<net::Codec> codec_;
  net::Codec::Message message_;  // reused by take_in
  std::string_view bytes_;       // the inbound message, in the transport's buffer until the next receive
  size_t delivered_ = 0;         // rows delivered for the next tick since take_arrived_messages began
  NodeState state_ = NodeState::Running;
  std::string error_;
  uint64_t deployment_id_ = 0;
  std::string deployment_name_;
  uint64_t dropped_ = 0, refused_ = 0, foreign_ = 0;
  std::vector<std::string> foreign_senders_;  // the first few distinct ones, for the launcher's report
  LogLimiter logged_;                         // warnings caused by the network: bounded, rate-limited
  std::vector<std::string> refusals_;         // the first few distinct ones, for the launcher's report
  int exit_ = 0;                              // 3 once writing the outputs failed
};

int DeployedNode::run() {
  if (!o_.control.empty()) {
    try {
      control_ = std::make_unique<net::ControlClient>(context_, o_.name, o_.control);
    } catch (const std::exception& e) {
      log_(fmt::format("bloom: error: node `{}`: --control {}: {}", o_.name, o_.control, e.what()));
      return 2;
    }
  }
  if (auto failed = set_up()) return *failed;
  if (control_) tell(control::Hello{});
  LoopEnd end = serve();
  if (end == LoopEnd::Finished) await_bye();
  if (!control_) finish_alone(end == LoopEnd::Stopped);
  return state_ == NodeState::Failed ? 3 : exit_;
}

// Binds the node's endpoint, builds its Node and loads its facts. nullopt when the node can run,
// else its exit status (the launcher was told why, or it went to the log).
std::optional<int> DeployedNode::set_up() {
  const DeploymentNode* me = o_.deployment.find(o_.name);
  if (!me) return fatal(fmt::format("the deployment {} has no node `{}`", o_.deployment.path, o_.name));
  // inproc:// reaches only sockets of the same process and ZeroMQ context: a node with its own
  // context (a process) would wait forever for peers it cannot reach.
  if (!o_.context)
    for (const auto& n : o_.deployment.nodes)
      if (n.endpoint.starts_with("inproc://"))
        return fatal(
            fmt::format("node `{}` has the endpoint {}, which only threads of one process reach: use tcp:// or ipc:// "
                        "(inproc:// works only with `bloom run --in-process`)",
                        n.name, n.endpoint));
  net::TransportOptions to;
  to.self = o_.name;
  std::string unresolved;
  to.bind = bind_endpoint(me->endpoint, unresolved);
  if (to.bind.empty()) return fatal(fmt::format("node `{}` cannot listen on {}: {}", o_.name, me->endpoint, unresolved));
  to.max_message_bytes = o_.deployment.max_message_bytes;
  for (const auto& n : o_.deployment.nodes)
    if (n.name != o_.name) to.peers.push_back({n.name, n.endpoint});
  to.warn = [this](const std::string& w) { note(w); };
  if (o_.keys.on()) {
    to.curve.on = true;
    to.curve.self = {o_.keys.public_key, o_.keys.secret_key};
    to.curve.peers = o_.keys.nodes;
  }
  try {
    transport_ = std::make_unique<net::Transport>(context_, to);
  } catch (const std::exception& e) {
    std::string what = e.what();  // the transport names the node and the endpoint
    return fatal(what.find(me->endpoint) != std::string::npos
                     ? what
                     : fmt::format("node `{}` cannot listen at {}: {}", o_.name, me->endpoint, what));
  }
  // Connections are made before tick 0, not by its first send: waiting a moment for the peers'
  // handshakes lets the first message go at once (peers that are not up by then connect later).
  transport_->connect_all(milliseconds(500));
  std::vector<std::pair<std::string, std::string>> members;
  for (const auto& n : o_.deployment.nodes) members.emplace_back(n.name, n.endpoint);
  deployment_id_ = net::deployment_id(members, o_.run_id);
  deployment_name_ = std::filesystem::path(o_.deployment.path).filename().string();
  const net::Envelope envelope{.sender = o_.name,
                               .deployment = deployment_id_,
                               .deployment_name = deployment_name_,
                               .incarnation = static_cast<uint32_t>(o_.incarnation),
                               .sequence = 0};
  link_ = std::make_unique<NetLink>(*transport_, envelope, plan_, [this](const std::string& w) { note(w); });
  NodeOptions no;
  no.name = o_.name;
  for (const auto& n : o_.deployment.nodes) no.members.push_back(n.name);
  no.print_line = o_.print_line;
  no.network = link_.get();
  no.native = o_.native;
  if (!o_.data_dir.empty()) {
    try {
      store_ = open_data_dir(o_.data_dir);
    } catch (const DurableError& e) {
      return fatal(fmt::format("node `{}`: {}", o_.name, e.what()));
    }
    no.durable = store_.get();
  }
  no.after_tick = [this] {
    if (outputs_) outputs_->append();
  };
  node_ = std::make_unique<Node>(plan_, no);
  if (!store_ && node_->has_durable() && !o_.quiet)
    log_("bloom: note: node `" + o_.name + "` has no data directory: its durable tables are kept in memory only");
  codec_ = std::make_unique<net::Codec>(plan_, node_->symbols(), node_->lattices());
  link_->attach(*codec_);
  try {
    // The durable tables first: a restarted node rejoins with what its last completed tick had.
    auto recovered = node_->recover_durable();
    for (const auto& w : recovered.warnings) log_("bloom: warning: node `" + o_.name + "`: " + w);
    if (recovered.found && !o_.quiet)
      log_(fmt::format("bloom: note: node `{}` recovered its durable tables from {} ({} log records)", o_.name, o_.data_dir,
                       recovered.records));
    // A node started again carries on its outputs' files: what its earlier process wrote stays.
    if (!o_.out_dir.empty()) outputs_ = std::make_unique<OutputFiles>(*node_, o_.out_dir, o_.incarnation > 0 || recovered.found);
    if (!o_.facts_dir.empty()) {
      std::vector<std::string> missing;
      node_->load_inputs(o_.facts_dir, missing);
      if (!o_.quiet)
        for (const auto& m : missing) log_("bloom: note: node `" + o_.name + "`: no " + m + "; that input starts empty");
    }
  } catch (const std::exception& e) {
    return fatal(fmt::format("node `{}`: {}", o_.name, e.what()));
  }
  return std::nullopt;
}

// The node's loop: take in what arrived, answer the launcher, tick while there is work, else wait.
DeployedNode::LoopEnd DeployedNode::serve() {
  Clock::time_point last_tick{};
  while (true) {
    if (o_.stop && o_.stop->load()) return LoopEnd::Stopped;
    take_arrived_messages();
    // While a peer's queue is full the node does not tick (its next messages would only wait
    // too), but it still takes in messages, so two nodes that flood each other cannot deadlock.
    const bool sending = !link_->flush();
    const bool work = has_work();
    if (control_ && answer_launcher(work, sending)) return LoopEnd::Finished;
    if (sending) {
      transport_->wait(link_->waiting_for(), milliseconds(control_ ? 2 : 50));
      continue;
    }
    if (!work) {
      wait_for_input(last_tick);
      continue;
    }
    last_tick = Clock::now();
    if (!tick()) return LoopEnd::Ended;
  }
}

// What arrived goes into the next tick (tick 0 holds the facts and inputs only), up to
// kTickRows rows: the rest waits in the transport's queue for the tick after. Taking everything
// let a node fed faster than it stores grow its inbox without bound (and its peers' queues never
// filled, so they never waited); bench/net measured 0.85-1.29 M tuples/s into a node that took
// 0.3-3 M tuples into a tick, 3.0 M with ticks of about 64 K (bench/README.md, "Network").
void DeployedNode::take_arrived_messages() {
  if (node_->ticks() == 0 && state_ == NodeState::Running) return;
  delivered_ = 0;
  while (delivered_ < kTickRows && transport_->receive(bytes_, milliseconds(0))) take_in(bytes_);
}

bool DeployedNode::has_work() {
  if (state_ != NodeState::Running) return false;
  auto timer = node_->next_timer();
  return node_->work_pending() || (timer && *timer <= Clock::now()) || node_->ticks() == 0;
}

// The launcher's requests are answered between ticks, so a status is always a consistent
// snapshot. true once told to finish (the outputs are written and `done` is sent).
bool DeployedNode::answer_launcher(bool has_work, bool sending) {
  std::string bytes;
  while (control_->receive(bytes, milliseconds(0))) {
    auto request = control::decode(bytes);
    if (!request) continue;
    if (const auto* poll = std::get_if<control::Poll>(&*request)) {
      // A running node with periodics is never idle: its timers keep it going. Nor is one with
      // messages waiting for room (even after it halted): they are not counted as sent yet.
      const bool idle = !sending && (state_ != NodeState::Running || (!has_work && !node_->next_timer()));
      tell(control::Status{poll->wave, report(idle)});
    } else if (std::holds_alternative<control::Finish>(*request)) {
      std::string outputs = write_outputs();
      tell(control::Done{report(true), std::move(outputs)});
      return true;
    }
  }
  return false;
}

// Runs one tick. false when a node on its own should stop (it halted or failed); with a launcher
// it carries on counting what arrives until it is told to finish.
bool DeployedNode::tick() {
  reserve_emergency_memory();
  try {
    if (node_->step()) {
      state_ = NodeState::Halted;
      return control_ != nullptr;
    }
  } catch (const RuntimeError& e) {
    fail(e.what());
    return control_ != nullptr;
  } catch (const std::bad_alloc&) {
    // Like a runtime error: the node stops ticking and keeps the outputs of its completed ticks
    // (the failed tick has not reached the output logs), written with the memory set aside.
    release_emergency_memory();
    fail(fmt::format("out of memory in tick {}", node_->ticks()));
    return control_ != nullptr;
  }
  return true;
}

void DeployedNode::wait_for_input(Clock::time_point last_tick) {
  // Right after a tick the answer to what it sent often comes within a few hundred microseconds:
  // look for it without sleeping first (a sleeping thread is woken late, on a virtual machine by
  // hundreds of microseconds).
  if (Clock::now() - last_tick < kSpinAfterTick && transport_->spin_for_message(kSpinAfterTick)) return;
  // Then wait for a message, the next timer, or (briefly) the launcher.
  milliseconds wait(control_ ? 2 : 50);
  if (state_ == NodeState::Running)
    if (auto t = node_->next_timer())
      wait = std::min(wait, std::max(milliseconds(0), std::chrono::duration_cast<milliseconds>(*t - Clock::now())));
  // A signal (SIGINT/SIGTERM for a clean stop) ends the wait like a timeout (Transport::receive).
  if (transport_->receive(bytes_, wait)) take_in(bytes_);
}

// One inbound message: delivered for the next tick, or refused, or dropped, and counted.
void DeployedNode::take_in(std::string_view bytes) {
  const auto header = net::peek_header(bytes);
  if (!header) {
    std::string why;
    net::Codec::Message unused;
    codec_->decode(bytes, unused, why);  // only for its reason: it cannot be a message of this wire version
    ++dropped_;
    note(fmt::format("dropped a message ({} bytes): {}", bytes.size(), why));
    return;
  }
  const std::string_view sender = header->sender;
  // With CURVE every connection is a node's (its key was checked): a header naming another node
  // is a forgery by the holder of that key, dropped without counting it for either.
  if (const std::string& owner = transport_->last_sender(); o_.keys.on() && sender != owner) {
    ++dropped_;
    note(fmt::format("dropped a message that names `{}` as its sender but came under the key of node `{}`", excerpt(sender),
                     excerpt(owner)));
    return;
  }
  // Another deployment, or another run of this one, shares an endpoint with this one.
  if (header->deployment != deployment_id_) {
    ++dropped_;
    ++foreign_;
    std::string who = header->deployment_name.empty()
                          ? fmt::format("`{}` (of no named deployment)", excerpt(sender, 80))
                          : fmt::format("`{}` of `{}`", excerpt(sender, 80), excerpt(header->deployment_name, 80));
    note(fmt::format("dropped a message from {}, another deployment or another run (this node is `{}` of `{}`)", who, o_.name,
                     deployment_name_));
    if (foreign_senders_.size() < 5 && std::find(foreign_senders_.begin(), foreign_senders_.end(), who) == foreign_senders_.end())
      foreign_senders_.push_back(std::move(who));
    return;
  }
  if (!link_->knows(sender)) {  // not a node of the deployment (or claims to be this one)
    ++dropped_;
    note(fmt::format("dropped a message from `{}`, which is not a node of the deployment", excerpt(sender)));
    return;
  }
  // A node of the deployment sent it: counted as received (so counts balance), even when refused.
  const std::string from(sender);
  ++link_->counts.received[from];
  Heard& heard = link_->counts.heard[from];
  heard = std::max(heard, Heard{header->incarnation, header->sequence});
  std::string why;
  // A running node's message is decoded straight into the rows its next tick inserts.
  const bool running = state_ == NodeState::Running;
  auto inbox = [](void* node, uint32_t relation) { return static_cast<Node*>(node)->inbox(relation); };
  if (codec_->decode(bytes, message_, why, running ? +inbox : nullptr, node_.get())) {
    if (running && !node_->inbox(message_.relation)) node_->deliver(message_.relation, message_.rows.data(), message_.count);
    if (running) delivered_ += message_.count;
    return;
  }
  ++refused_;
  std::string line = fmt::format("refused a message from `{}`: {}", from, excerpt(why, 400));
  if (refusals_.size() < 5 && std::find(refusals_.begin(), refusals_.end(), line) == refusals_.end()) refusals_.push_back(line);
  note(line);
}

NodeReport DeployedNode::report(bool idle) const {
  return NodeReport{.idle = idle,
                    .incarnation = o_.incarnation,
                    .state = state_,
                    .ticks = static_cast<uint64_t>(node_->ticks()),
                    .messages = link_->counts,
                    .dropped = dropped_,
                    .foreign = foreign_,
                    .foreign_senders = foreign_senders_,
                    .refused = refused_,
                    .undeliverable = link_->undeliverable,
                    .send_waits = link_->send_waits,
                    .error = error_,
                    .refusals = refusals_};
}

// Writes the outputs to out_dir, or returns them as `name(...)` lines when there is none. A
// failure to write is logged and makes the exit status 3.
std::string DeployedNode::write_outputs() {
  try {
    std::string text;
    if (outputs_) {
      outputs_->finish();
      return text;
    }
    for (uint32_t id : node_->outputs()) text += node_->output_text(id, false);
    return text;
  } catch (const std::exception& e) {
    log_(fmt::format("bloom: error: node `{}`: {}", o_.name, e.what()));
    exit_ = 3;
    return "";
  }
}

// On its own, a node writes (or prints) its outputs when it halts, fails or is stopped.
void DeployedNode::finish_alone(bool stopped) {
  // The last tick's messages may still wait for room (flow control): a bounded while to hand
  // them over, unless the node was told to stop.
  const auto until = Clock::now() + std::chrono::seconds(5);
  while (!link_->flush() && !(o_.stop && o_.stop->load()) && Clock::now() < until) transport_->wait(link_->waiting_for(), milliseconds(50));
  if (link_->waiting())
    log_(fmt::format("bloom: warning: node `{}` stops with messages that no peer took (to {})", o_.name,
                     fmt::join(link_->waiting_for(), ", ")));
  std::string text = write_outputs();
  if (!text.empty() && state_ != NodeState::Failed) {
    if (o_.print_line) o_.print_line(text.substr(0, text.size() - 1));
    else std::cout << text << std::flush;
  }
  if (stopped) log_(fmt::format("bloom: node `{}` stopped after {} ticks", o_.name, node_->ticks()));
}

// After its last message to the launcher (`done` or `fatal`) a node waits for the launcher's
// `bye` before it exits. ZeroMQ delivers that message on the launcher's I/O thread, so without
// the acknowledgement the launcher could see the process end (waitpid) before the message
// arrives and report a node that ended well as dead. Bounded, and a stop (SIGTERM, also sent
// when the launcher dies) ends the wait: the launcher is then gone or gives up on this node.
void DeployedNode::await_bye() {
  auto until = Clock::now() + std::chrono::seconds(10);
  std::string bytes;
  try {
    while (Clock::now() < until && !(o_.stop && o_.stop->load()))
      if (control_->receive(bytes, milliseconds(50)))
        if (auto m = control::decode(bytes); m && std::holds_alternative<control::Bye>(*m)) return;
  } catch (const std::runtime_error&) {
    // The channel failed: no `bye` can come.
  }
}

// The node cannot run: the launcher is told (and acknowledges), or the error is logged.
int DeployedNode::fatal(const std::string& message) {
  if (control_) {
    tell(control::Fatal{message});
    await_bye();
  } else {
    log_("bloom: error: " + message);
  }
  return 3;
}

// A runtime error: the node stops ticking but, with a launcher, still counts what arrives.
void DeployedNode::fail(const std::string& message) {
  state_ = NodeState::Failed;
  error_ = message;
  if (control_) tell(control::Error{message});
  else log_("bloom: runtime error on node `" + o_.name + "`: " + message);
}

void DeployedNode::note(const std::string& line) {
  for (const auto& l : logged_.admit(line, Clock::now())) log_("bloom: warning: node `" + o_.name + "` " + l);
}

// The secret key in `path` (one line: 40 characters of Z85), checked against `public_key`.
std::optional<std::string> read_secret_key(const std::string& path, const std::string& node, const std::string& public_key,
                                           std::string& error) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec) || std::filesystem::file_size(path, ec) > 4096) {
    error = fmt::format("the secret key file {} of node `{}` is not a small regular file", path, node);
    return std::nullopt;
  }
  std::ifstream in(path);
  std::string key;
  std::getline(in, key);
  while (!key.empty() && std::isspace(static_cast<unsigned char>(key.back()))) key.pop_back();
  if (!net::valid_curve_key(key)) {
    error = fmt::format("{}: not a CURVE secret key (expected 40 characters of Z85 on the first line, as `bloom keygen` writes)", path);
    return std::nullopt;
  }
  if (net::public_key_of(key) != public_key) {
    error = fmt::format("{}: this secret key does not belong to the `public_key` of node `{}`", path, node);
    return std::nullopt;
  }
  return key;
}

}  // namespace

std::optional<NodeKeys> keys_for_node(const Deployment& deployment, const std::string& name, std::string& error) {
  NodeKeys keys;
  if (deployment.insecure) return keys;
  if (const char* env = std::getenv(kKeysEnv)) {
    // "secret KEY" then "NAME PUBLIC" per node, one a line (written by the launcher).
    std::istringstream lines(env);
    std::string first, second;
    while (lines >> first >> second) {
      if (first == "secret") keys.secret_key = second;
      else keys.nodes.emplace_back(first, second);
    }
    unsetenv(kKeysEnv);
    for (const auto& [n, k] : keys.nodes)
      if (n == name) keys.public_key = k;
    if (keys.public_key.empty() || net::public_key_of(keys.secret_key) != keys.public_key) {
      error = fmt::format("node `{}`: the keys from the launcher ({}) do not fit this node", name, kKeysEnv);
      return std::nullopt;
    }
    return keys;
  }
  const DeploymentNode* me = deployment.find(name);
  if (!deployment.has_keys() || !me) {
    error = fmt::format(
        "the deployment {} gives its nodes no keys: `bloom node` needs every node's `public_key` and its own "
        "`secret_key_file` (made by `bloom keygen`), or `insecure = true` for plaintext (docs/security.md)",
        deployment.path);
    return std::nullopt;
  }
  if (me->secret_key_file.empty()) {
    error = fmt::format("node `{}` has no `secret_key_file` in {}: `bloom node` needs its secret key (docs/security.md)", name,
                        deployment.path);
    return std::nullopt;
  }
  auto secret = read_secret_key(me->secret_key_file, name, me->public_key, error);
  if (!secret) return std::nullopt;
  keys.public_key = me->public_key;
  keys.secret_key = *secret;
  for (const auto& n : deployment.nodes) keys.nodes.emplace_back(n.name, n.public_key);
  return keys;
}

int keygen(const std::string& name, const std::string& dir) {
  if (!valid_node_name(name)) {
    std::cerr << fmt::format("bloom: error: keygen {}: not a usable node name (letters, digits, `_`, `-`, `.`)\n", name);
    return 2;
  }
  net::KeyPair pair;
  try {
    pair = net::generate_keypair();
  } catch (const std::exception& e) {
    std::cerr << "bloom: error: " << e.what() << "\n";
    return 2;
  }
  const std::string path = (std::filesystem::path(dir.empty() ? "." : dir) / (name + ".secret")).string();
  // Readable by this user only, and never over a key that may already be in use.
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    std::cerr << fmt::format("bloom: error: keygen: cannot create {}: {}\n", path, std::strerror(errno));
    return 2;
  }
  const std::string text = pair.secret_key + "\n";
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ::close(fd);
  if (!ok) {
    std::cerr << fmt::format("bloom: error: keygen: cannot write {}\n", path);
    std::filesystem::remove(path);
    return 2;
  }
  std::cout << fmt::format(
      "# node `{}`: paste into its [node.{}] table; {} holds its secret key (keep it on its machine only)\n"
      "public_key = \"{}\"\nsecret_key_file = \"{}\"\n",
      name, name, path, pair.public_key, dir.empty() ? name + ".secret" : path);
  return 0;
}

int run_deployed_node(const plan::Program& plan, const DeployedNodeOptions& options) {
  std::optional<net::Context> own;  // outlives the node's sockets
  net::Context& context = options.context ? *options.context : own.emplace();
  return DeployedNode(context, plan, options).run();
}

}  // namespace bloom::rt
