// The ZeroMQ transport of the distributed runtime (cppzmq over libzmq): one PULL socket bound at
// the node's endpoint receives every inbound message; one PUSH socket per peer, created and
// connected on the first send to that peer, carries its outbound messages. The bytes are opaque
// here: runtime/net/wire.h encodes and validates them.
//
// Sends never block (ZMQ_DONTWAIT). Each PUSH socket queues at most `queue_limit` messages
// (ZMQ_SNDHWM; the receiver's PULL socket holds as many again); ZMQ_IMMEDIATE=0 lets messages
// queue for a peer that is not up yet, and libzmq reconnects by itself to a peer that comes up
// late or restarts. A send to a full queue is not taken (SendResult::QueueFull): the caller keeps
// the message and tries again once wait() says there is room (flow control: nothing is dropped
// here). ZMQ_LINGER is short (200 ms) so a node stops promptly.
//
// Inbound frames bigger than `max_message_bytes` are refused by libzmq before they are allocated
// (ZMQ_MAXMSGSIZE: it drops the connection that announced one).
//
// One Transport belongs to one thread (ZeroMQ sockets are not thread-safe). For in-process
// deployments every node's Transport shares one Context so inproc:// endpoints connect; an
// inproc peer may connect before its node binds. The header does not include ZeroMQ's: code
// that only drives a Transport (runtime/dist) never sees it.
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <absl/container/flat_hash_map.h>

#include "net/context.h"

namespace zmq {
class socket_t;
class message_t;
}  // namespace zmq

namespace bloom::rt::net {

// The default limit on one message (64 MiB): a deployment may set another (`max_message_size`).
constexpr int64_t kDefaultMaxMessageBytes = int64_t{64} << 20;

struct Peer {
  std::string name;
  std::string endpoint;  // "tcp://127.0.0.1:7101" or "inproc://x"
};

// A CURVE key pair as ZeroMQ writes it (Z85, 40 characters each).
struct KeyPair {
  std::string public_key, secret_key;
};
// A fresh key pair (zmq_curve_keypair). Throws std::runtime_error when libzmq has no CURVE.
KeyPair generate_keypair();
// Whether `key` is a Z85 CURVE key (40 characters of ZeroMQ's Z85 alphabet).
bool valid_curve_key(std::string_view key);
// The public key that belongs to a secret key; "" if it is not one.
std::string public_key_of(std::string_view secret_key);

// Authentication and encryption (ZeroMQ CURVE). With `on`, the node's PULL socket is a CURVE
// server that accepts a connection only from a key of `peers` (a ZAP handler in this Transport's
// context checks it), and every message that arrives carries the name of the node whose key it
// came under (Transport::last_sender). Each PUSH socket is a CURVE client of its peer's key.
struct CurveOptions {
  bool on = false;
  KeyPair self;
  std::vector<std::pair<std::string, std::string>> peers;  // node name -> public key (this node too)
};

struct TransportOptions {
  std::string self;                              // this node's name
  std::string bind;                              // where it listens (one PULL socket for all inbound traffic);
                                                 // "tcp://127.0.0.1:*" picks a free port: see Transport::endpoint()
  std::vector<Peer> peers;                       // every other node it may send to (one PUSH socket each, connected lazily on first send)
  int queue_limit = 10000;                       // messages queued per peer (ZMQ_SNDHWM) before a send must wait
  std::function<void(const std::string&)> warn;  // warnings (a send that failed): default stderr
  // Added by the implementation:
  int64_t max_message_bytes = kDefaultMaxMessageBytes;  // inbound (ZMQ_MAXMSGSIZE): a peer announcing
                                                        // a bigger frame is disconnected before it is allocated
  int linger_ms = 200;                                  // ZMQ_LINGER of every socket
  CurveOptions curve;                                   // off: plaintext
};

class Transport {
 public:
  // Binds the PULL socket; throws std::runtime_error naming the endpoint if bind fails. Peer
  // endpoints are checked when first used (a bad one makes that send throw, naming the peer).
  Transport(Context& ctx, TransportOptions options);
  // The same on a bare ZeroMQ context (tests and benchmarks that put raw sockets beside it).
  Transport(zmq::context_t& ctx, TransportOptions options);
  ~Transport();
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;

  // The endpoint actually bound (ZMQ_LAST_ENDPOINT): "tcp://127.0.0.1:41234" for a bind of
  // "tcp://127.0.0.1:*", the bind string itself for inproc://.
  std::string endpoint() const;
  const std::string& self() const { return opts_.self; }
  // The biggest message a node of this runtime takes in (its peers use the same default): a
  // bigger one would make the receiver drop the connection, so senders check it first.
  int64_t max_message_bytes() const { return opts_.max_message_bytes; }

  bool knows(std::string_view peer) const;
  // Added by the implementation: adds a peer after construction (e.g. one whose port was chosen
  // at run time), or changes the endpoint of one not yet sent to. false if `name` is already
  // connected (its endpoint stays).
  bool add_peer(Peer peer);
  // Connects to every peer not connected yet, so that the first message to each finds its
  // connection made instead of starting it, and waits up to `wait` until every tcp:// or ipc://
  // connection has completed its handshake (a peer that is not up yet is tried again every few
  // milliseconds). Returns the peers still not connected then (they connect later, as usual). A
  // peer whose endpoint ZeroMQ refuses is left for its first send to report.
  std::vector<std::string> connect_all(std::chrono::milliseconds wait = std::chrono::milliseconds(0));
  enum class SendResult { Sent, QueueFull, UnknownPeer };
  // Never blocks (ZMQ_DONTWAIT). QueueFull: the peer's queue is full and the message was not
  // taken (the caller keeps it; wait() tells when there is room). Throws std::runtime_error
  // naming the peer and endpoint only if its endpoint is malformed (ZeroMQ refuses to connect).
  SendResult send(std::string_view peer, std::string_view bytes);
  // Waits up to `timeout` until an inbound message is there or one of `peers` has room for a
  // message. true if either; false on timeout (or a signal).
  bool wait(const std::vector<std::string>& peers, std::chrono::milliseconds timeout);
  // Waits up to `timeout` for one inbound message (0 = poll). false on timeout.
  bool receive(std::string& bytes, std::chrono::milliseconds timeout);
  // The same without copying the message: `bytes` views ZeroMQ's buffer, valid until the next
  // receive. A node's messages can be megabytes, and a copy into fresh memory costs its page
  // faults as well (tens of milliseconds for 20 MB on a virtual machine).
  bool receive(std::string_view& bytes, std::chrono::milliseconds timeout);
  // With CURVE: the node whose key the last received message came under ("" without CURVE).
  const std::string& last_sender() const { return last_sender_; }
  // Whether a message arrives within `spin`, checking without sleeping (yielding the CPU between
  // checks): a thread that sleeps is woken late, the more so on a virtual machine.
  bool spin_for_message(std::chrono::microseconds spin);

  // sent: messages queued for sending; received: messages taken by receive(); refused: sends to
  // an unknown peer or that failed; full: sends not taken because the peer's queue was full.
  struct Stats {
    uint64_t sent = 0, received = 0, refused = 0, full = 0;
  };
  const Stats& stats() const { return stats_; }

 private:
  struct Out {
    std::string name, endpoint;
    std::unique_ptr<zmq::socket_t> socket;  // null until the first send
  };
  void connect(Out& out, const std::function<void(zmq::socket_t&)>& before_connect = nullptr);

  zmq::context_t& ctx_;
  TransportOptions opts_;
  std::unique_ptr<zmq::socket_t> in_;
  std::vector<Out> peers_;
  absl::flat_hash_map<std::string, size_t> by_name_;
  Stats stats_;
  int rcvtimeo_ = -1;  // the ZMQ_RCVTIMEO in force
  std::string last_sender_;
  std::unique_ptr<zmq::message_t> received_;  // the last message received (receive's view)
  class Zap;
  std::unique_ptr<Zap> zap_;  // the CURVE key check, with CURVE on
};

}  // namespace bloom::rt::net
