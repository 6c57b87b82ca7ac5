// One node of a deployment on the network (`bloom node`, or a node thread of `bloom run
// --in-process`): its Node ticks, the transport carries its messages, and with a launcher it
// answers on the control channel (dist/control.h).
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <variant>

#include <fmt/format.h>

#include "dist/cluster.h"
#include "dist/control.h"
#include "net/context.h"
#include "net/control_channel.h"
#include "net/transport.h"
#include "net/wire.h"
#include "node/facts.h"
#include "node/node.h"

namespace bloom::rt {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
// How long a node looks for a message without sleeping after a tick (see wait_for_input).
constexpr std::chrono::microseconds kSpinAfterTick(500);

// The Node's way out: each message is encoded, checked against the receiver's size limit, sent
// and counted.
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
      case net::Transport::SendResult::Sent: ++counts.sent[std::string(node)]; break;
      case net::Transport::SendResult::QueueFull: ++queue_full; break;
      case net::Transport::SendResult::UnknownPeer: ++queue_full; break;  // knows() said yes: cannot happen
    }
  }
  NodeCounts counts;  // received is counted by DeployedNode::take_in
  uint64_t queue_full = 0;

 private:
  net::Transport& transport_;
  net::Codec* codec_ = nullptr;
  std::string self_;
  const plan::Program& plan_;
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
  bool answer_launcher(bool has_work);
  bool tick();
  void wait_for_input(Clock::time_point last_tick);
  void take_in(const std::string& bytes);
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
  std::unique_ptr<Node> node_;
  std::unique_ptr<net::Codec> codec_;
  net::Codec::Message message_;  // reused by take_in
  std::string bytes_;            // reused for each inbound message
  NodeState state_ = NodeState::Running;
  std::string error_;
  uint64_t dropped_ = 0, refused_ = 0;
  std::set<std::string> logged_;        // warnings already logged (each is logged once)
  std::vector<std::string> refusals_;   // the first few distinct ones, for the launcher's report
  int exit_ = 0;                        // 3 once writing the outputs failed
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
  net::TransportOptions to;
  to.self = o_.name;
  to.bind = me->endpoint;
  for (const auto& n : o_.deployment.nodes)
    if (n.name != o_.name) to.peers.push_back({n.name, n.endpoint});
  to.warn = [this](const std::string& w) { note(w); };
  try {
    transport_ = std::make_unique<net::Transport>(context_, to);
  } catch (const std::exception& e) {
    std::string what = e.what();  // the transport names the node and the endpoint
    return fatal(what.find(me->endpoint) != std::string::npos ? what
                                                              : fmt::format("node `{}` cannot listen at {}: {}", o_.name, me->endpoint, what));
  }
  link_ = std::make_unique<NetLink>(*transport_, o_.name, plan_);
  NodeOptions no;
  no.name = o_.name;
  no.print_line = o_.print_line;
  no.network = link_.get();
  node_ = std::make_unique<Node>(plan_, no);
  codec_ = std::make_unique<net::Codec>(plan_, node_->symbols(), node_->lattices());
  link_->attach(*codec_);
  try {
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
    const bool work = has_work();
    if (control_ && answer_launcher(work)) return LoopEnd::Finished;
    if (!work) {
      wait_for_input(last_tick);
      continue;
    }
    last_tick = Clock::now();
    if (!tick()) return LoopEnd::Ended;
  }
}

// Everything that arrived goes into the next tick (tick 0 holds the facts and inputs only).
void DeployedNode::take_arrived_messages() {
  if (node_->ticks() == 0 && state_ == NodeState::Running) return;
  while (transport_->receive(bytes_, milliseconds(0))) take_in(bytes_);
}

bool DeployedNode::has_work() {
  if (state_ != NodeState::Running) return false;
  auto timer = node_->next_timer();
  return node_->work_pending() || (timer && *timer <= Clock::now()) || node_->ticks() == 0;
}

// The launcher's requests are answered between ticks, so a status is always a consistent
// snapshot. true once told to finish (the outputs are written and `done` is sent).
bool DeployedNode::answer_launcher(bool has_work) {
  std::string bytes;
  while (control_->receive(bytes, milliseconds(0))) {
    auto request = control::decode(bytes);
    if (!request) continue;
    if (const auto* poll = std::get_if<control::Poll>(&*request)) {
      // A running node with periodics is never idle: its timers keep it going.
      const bool idle = state_ != NodeState::Running || (!has_work && !node_->next_timer());
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
  try {
    if (node_->step()) {
      state_ = NodeState::Halted;
      return control_ != nullptr;
    }
  } catch (const RuntimeError& e) {
    fail(e.what());
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
void DeployedNode::take_in(const std::string& bytes) {
  std::string why;
  if (codec_->decode(bytes, message_, why)) {
    if (!link_->knows(message_.sender)) {  // not a node of the deployment (or claims to be this one)
      ++dropped_;
      note(fmt::format("dropped a message from `{}`, which is not a node of the deployment", message_.sender));
      return;
    }
    ++link_->counts.received[message_.sender];
    if (state_ == NodeState::Running) node_->deliver(message_.relation, message_.rows.data(), message_.count);
    return;
  }
  std::string sender(net::message_sender(bytes));
  if (!sender.empty() && link_->knows(sender)) {
    // A node of the deployment sent it: it counts as received (so counts balance), refused.
    ++link_->counts.received[sender];
    ++refused_;
    std::string line = fmt::format("refused a message from `{}`: {}", sender, why);
    if (refusals_.size() < 5 && std::find(refusals_.begin(), refusals_.end(), line) == refusals_.end()) refusals_.push_back(line);
    note(line);
    return;
  }
  ++dropped_;
  note(sender.empty() ? fmt::format("dropped a message ({} bytes): {}", bytes.size(), why)
                      : fmt::format("dropped a message from `{}` ({} bytes): {}", sender, bytes.size(), why));
}

NodeReport DeployedNode::report(bool idle) const {
  return NodeReport{.idle = idle,
                    .state = state_,
                    .ticks = static_cast<uint64_t>(node_->ticks()),
                    .messages = link_->counts,
                    .dropped = dropped_,
                    .refused = refused_,
                    .queue_full = link_->queue_full,
                    .error = error_,
                    .refusals = refusals_};
}

// Writes the outputs to out_dir, or returns them as `name(...)` lines when there is none. A
// failure to write is logged and makes the exit status 3.
std::string DeployedNode::write_outputs() {
  try {
    std::string text;
    for (uint32_t id : node_->outputs()) {
      const auto& r = plan_.relations[id];
      if (!o_.out_dir.empty())
        write_file_atomically((std::filesystem::path(o_.out_dir) / (r.name + ".csv")).string(),
                              [&](std::ostream& out) { node_->write_output(id, true, out); });
      else text += node_->output_text(id, false);
    }
    return text;
  } catch (const std::exception& e) {
    log_(fmt::format("bloom: error: node `{}`: {}", o_.name, e.what()));
    exit_ = 3;
    return "";
  }
}

// On its own, a node writes (or prints) its outputs when it halts, fails or is stopped.
void DeployedNode::finish_alone(bool stopped) {
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
  if (logged_.insert(line).second) log_("bloom: warning: node `" + o_.name + "` " + line);
}

}  // namespace

int run_deployed_node(const plan::Program& plan, const DeployedNodeOptions& options) {
  std::optional<net::Context> own;  // outlives the node's sockets
  net::Context& context = options.context ? *options.context : own.emplace();
  return DeployedNode(context, plan, options).run();
}

}  // namespace bloom::rt
