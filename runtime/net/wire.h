// The wire format of channel messages: all tuples of one channel for one destination in one tick,
// as one ZeroMQ message. Pure encoding: no sockets here (runtime/net/transport.h moves the bytes).
//
// Rows are local words (Word = uint64_t, runtime/core/value.h): strings/addrs are this node's
// symbol ids and lattice sets/maps are this node's interned handles, so the wire carries them
// structurally (string bytes, set elements) and the receiver re-interns them into its own
// SymbolTable and Lattices (ids differ between nodes, values do not).
//
// ------------------------------------------------------------------------------ format, version 2
// Every integer is little-endian. Offsets are from the start of the message.
//
//   offset  size  field
//   0       4     magic: the bytes 'B' 'L' 'O' 'M'
//   4       2     wire version (u16) = kWireVersion
//   6       2     flags (u16), must be 0 (reserved)
//   8       8     deployment id (u64): which deployment and run the sender belongs to
//                 (deployment_id(); 0 outside a deployment). A receiver drops a message of
//                 another deployment or run (runtime/dist) before it reads further.
//   16      4     sender incarnation (u32): how often the sender was started again (0 at first)
//   20      8     link sequence (u64): the message's number among those the sender (in this
//                 incarnation) sent to this receiver, from 1; 0 outside a deployment. Messages
//                 of one link arrive in order, so the receiver's last number tells the launcher
//                 whether any is still on its way (dist/quiescence.h).
//   28      8     channel fingerprint (u64): channel_fingerprint(name, column types)
//   36      4     row count R (u32)
//   40      4     string count K (u32): entries of the string table at the end
//   44      2     sender name length S (u16), then S bytes: the sending node's name
//   ..      1     deployment name length D (u8), then D bytes: the sender's deployment, for
//                 the report when the ids differ (the file name of its deployment)
//   ..      2     channel name length N (u16), then N bytes: the channel's qualified name
//   ..      2     column count C (u16)
//   ..      ..    the C column types, each in preorder as one byte per type node (the numeric
//                 plan::TypeKind: 0 int, 1 float, 2 string, 3 bool, 4 addr, 5 lmax, 6 lmin,
//                 7 lbool, 8 lset, 9 lmap), lmax/lmin/lset followed by their element type and
//                 lmap by its key type then its value lattice. (int, lset<addr>) is 00 08 04.
//   ..      ..    R rows, each the C cells of the row in column order (below)
//   ..      ..    the string table: K entries, each a u32 length L then L bytes
//   end           nothing may follow the string table
//
// Cells, by column type:
//   int, float           8 bytes: the word (two's complement / IEEE 754 bits)
//   bool, lbool          1 byte: 0 or 1 (anything else is refused)
//   string, addr         u32: an index into the string table (< K)
//   lmax<T>, lmin<T>     T int/float/bool: the 8-byte word (so the -inf/+inf bottoms travel as is);
//                        T string/addr: u32 string index, or 0xFFFFFFFF for the lattice's bottom
//                        when that bottom is not a string (lmin<string>'s top, lmax<addr>'s -inf)
//   lset<T>              u32 element count n, then n cells of type T (any order; the receiver
//                        sorts and deduplicates them into its canonical form)
//   lmap<K, L>           u32 entry count n, then n (key cell of type K, value cell of type L)
//                        (the receiver merges entries with equal keys)
// Each distinct string crosses once per message (the encoder numbers strings in first-use
// order). The table comes after the rows so the encoder writes the message in one pass.
//
// A channel's rows start with the @ addr column, so c(@dst: addr, a: int, b: int) is 20 bytes a
// row; fixed-width rows (no lset/lmap) are encoded and decoded column by column in tight loops,
// and rows of 8-byte words only (a hand-built schema without an addr) are one memcpy each way.
//
// Validation (Codec::decode): magic, version, flags, every length and count against the bytes that
// remain BEFORE anything is allocated for it (each cell takes at least one byte, so a forged count
// can never allocate more than a small multiple of the message's own size), the fingerprint, the
// channel name and the column types against this node's channels, bools, string indices, the
// string table and no trailing bytes. Strings and lattices are interned only after the whole
// message has been validated, so a refused message leaves the SymbolTable and Lattices untouched.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <absl/container/flat_hash_map.h>

#include "core/lattice.h"
#include "core/value.h"
#include "plan/ir.h"

namespace bloom::rt::net {

inline constexpr uint16_t kWireVersion = 2;

struct ChannelSchema {
  uint32_t relation = 0;
  std::string name;
  std::vector<plan::ValueType> columns;
  uint64_t fingerprint = 0;
  // Added by the implementation (derived from the fields above):
  std::string signature;      // "(addr, int, lset<string>)": used in error messages
  std::string type_bytes;     // the column types as they appear in the header
  bool raw_words = false;     // every cell is an 8-byte word (int, float, lmax/lmin of numbers): memcpy rows
  bool has_symbols = false;   // some column is or contains a string/addr
  bool has_lattices = false;  // some column is an lset/lmap (interned handles)
  size_t min_row_bytes = 0;   // the smallest encoded row (>= 1 when the channel has a column)
  // Every cell fixed-width (no lset/lmap): rows are min_row_bytes each, encoded and decoded by one
  // tight loop over `cell_ops` (one byte per column: see wire.cpp).
  bool fixed_width = false;
  std::vector<uint8_t> cell_ops;
};

// "(int, lset<string>)"
std::string schema_signature(const std::vector<plan::ValueType>& columns);
// FNV-1a 64 over the channel name, one zero byte and schema_signature(columns).
uint64_t channel_fingerprint(std::string_view name, const std::vector<plan::ValueType>& columns);

// What a message says of where it comes from, read without validating the rest: a receiver
// drops a message of another deployment, and counts a refused one against the node it came
// from. The views point into the message's bytes.
struct MessageHeader {
  uint64_t deployment = 0;
  uint32_t incarnation = 0;
  uint64_t sequence = 0;
  std::string_view sender, deployment_name;
};
// nullopt when the bytes do not start like a bloom message of this wire version, or end inside
// the header's names.
std::optional<MessageHeader> peek_header(std::string_view bytes);

// The deployment id of a run: FNV-1a 64 over its nodes' names and endpoints (what every copy
// of one deployment file shares, on every machine) and the run id (which tells two runs of the
// same file apart; 0 when nodes are started by hand).
uint64_t deployment_id(const std::vector<std::pair<std::string, std::string>>& nodes, uint64_t run_id);

// Who sends a message: stamped into its header by Codec::encode.
struct Envelope {
  std::string_view sender;
  uint64_t deployment = 0;
  std::string_view deployment_name;  // at most 255 bytes are sent
  uint32_t incarnation = 0;
  uint64_t sequence = 0;
};

class Codec {
 public:
  // One schema per Channel relation of `program`. The program, symbols and lattices must outlive
  // the codec; decode interns into `symbols` and `lattices`, encode reads them.
  Codec(const plan::Program& program, SymbolTable& symbols, Lattices& lattices);
  const ChannelSchema* channel(uint32_t relation) const;  // nullptr if not a channel
  const ChannelSchema* channel(std::string_view name) const;

  // One message: every row (arity words each, `count` rows) of one channel for one destination
  // in one tick. The rows are trusted local data. Throws std::invalid_argument if `relation` is
  // not a channel, std::length_error beyond the format's limits (2^32-1 rows or strings, a sender
  // name over 65535 bytes) - both are caller bugs, never caused by received bytes.
  std::string encode(uint32_t relation, const Word* rows, size_t count, const Envelope& envelope) const;
  // Outside a deployment (tests, the simulator): only the sender is stamped.
  std::string encode(uint32_t relation, const Word* rows, size_t count, std::string_view sender) const {
    Envelope envelope;
    envelope.sender = sender;
    return encode(relation, rows, count, envelope);
  }

  struct Message {
    std::string sender;
    uint64_t deployment = 0;
    uint32_t incarnation = 0;
    uint64_t sequence = 0;
    uint32_t relation = 0;
    std::vector<Word> rows;  // count * arity words, this node's ids and handles
    size_t count = 0;
  };
  // Validates everything (magic, version, sizes, known fingerprint, arity, types, string/lattice
  // payloads, no trailing bytes). Never throws on bad bytes: returns false and a one-line reason
  // (e.g. "channel `vote` has a different schema at the sender: (int, string) vs here (int, int)",
  // "truncated at byte 37", "not a bloom message (bad magic)", "wire version 7, this node speaks 2").
  // `out` is unspecified after a failure. Reusing one Message across calls reuses its buffers.
  bool decode(std::string_view bytes, Message& out, std::string& error) const { return decode(bytes, out, error, nullptr); }
  // Where decode may put a message's rows instead of out.rows: given the channel's relation, a
  // vector to append them to, or nullptr for out.rows. A node passes the buffer of rows its next
  // tick inserts (Node::inbox), so the rows are written once, where they are read. Called only
  // once the header names a known channel; after a failure the vector has its old size again.
  using RowTarget = std::vector<Word>* (*)(void* context, uint32_t relation);
  // The same as decode, the rows appended to target(context, relation) when it gives a vector
  // (out.rows is then left empty): out.count rows of the channel's arity at its end.
  bool decode(std::string_view bytes, Message& out, std::string& error, RowTarget target, void* context = nullptr) const;

 private:
  std::vector<int32_t> by_relation_;  // relation id -> index in schemas_, -1 if not a channel
  std::vector<ChannelSchema> schemas_;
  absl::flat_hash_map<uint64_t, uint32_t> by_fingerprint_;  // -> index in schemas_
  absl::flat_hash_map<std::string, uint32_t> by_name_;
  SymbolTable& symbols_;
  Lattices& lattices_;
};

}  // namespace bloom::rt::net
