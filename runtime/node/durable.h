// Durable collections (`table t(...) durable;`, docs/deploy.md "Durability and restarts"): one
// node's durable tables and lattices kept in a data directory as a snapshot plus a write-ahead log.
//
// Every completed tick appends one checksummed record to the log holding that tick's changes to
// the durable relations (rows removed, rows added) and the deferred changes (`<+ <- <+-`) it
// queued for them, and syncs it (fdatasync) before the tick's messages leave: whatever another
// node saw is on disk. When the log outgrows the snapshot, the whole state is written as a new
// snapshot (temp file, fsync, rename, fsync of the directory) and the log starts again empty.
// Recovery loads the snapshot and replays the log's complete records; the queued changes of the
// last one are applied at once (the recovering node's tick 0 sees them applied).
//
// Values are written by type, never as this process's symbol ids or lattice handles (those are
// interned per process). Both files start with the durable relations' schema (kind, name, column
// types, key), so a data directory written by a different program is refused, not misread.
//
// ----------------------------------------------------------------------------- format, version 1
// Integers little-endian. Both files start with a header:
//   8  magic "BLOOMWAL" (log) or "BLOOMSNP" (snapshot)
//   4  format version (u32) = 1
//   4  schema length S (u32), then S bytes: durable_schema(plan)
//   8  sequence number (u64): log: the snapshot's it follows; snapshot: the last record it holds
//   4  CRC-32 of the header bytes before it
// A log record (one tick):
//   4  payload length L (u32)
//   4  CRC-32 of the length
//   4  CRC-32 of the payload
//   L  payload: u64 sequence number, then the body
// The snapshot: the header, then u32 body length, the body, CRC-32 of the body.
// A body: u32 entry count, then per entry u32 relation index (among the durable relations, in
// declaration order), u8 flags (1: drop every row first), u32 counts of removed rows, added rows,
// queued inserts, queued deletes and queued upserts, then those rows, each cell by its column type:
// int/float 8 bytes, bool/lbool 1 byte, string/addr u32 length + bytes, lmax/lmin a u8 (1: bottom)
// then the element unless bottom, lset u32 count + elements, lmap u32 count + (key, value) pairs.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "core/lattice.h"
#include "core/value.h"
#include "plan/ir.h"

namespace bloom::rt {

// A durable store that cannot be opened, read or written. The message names the file (and the
// byte offset for bad contents) and says what to do; nothing stored was changed by the failure.
struct DurableError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Where the two files live: a directory (open_data_dir) or memory (the simulator: the files
// outlive a simulated crash, nothing else of the node does).
class DurableFiles {
 public:
  virtual ~DurableFiles() = default;
  virtual std::string path(std::string_view file) const = 0;  // for messages: "DIR/wal"
  // The whole file; false when it does not exist.
  virtual bool read(std::string_view file, std::string& out) = 0;
  // Replaces the file atomically and durably (temp file, sync, rename, sync of the directory).
  virtual void replace(std::string_view file, std::string_view bytes) = 0;
  // Appends and syncs the data (fdatasync) before returning.
  virtual void append(std::string_view file, std::string_view bytes) = 0;
  virtual void truncate(std::string_view file, uint64_t size) = 0;
};

// DIR, created if missing and locked (DIR/LOCK, flock) for as long as the result lives: two
// processes never share a data directory. Throws DurableError.
std::unique_ptr<DurableFiles> open_data_dir(const std::string& dir);

class MemoryFiles : public DurableFiles {
 public:
  std::string path(std::string_view file) const override { return "memory:" + std::string(file); }
  bool read(std::string_view file, std::string& out) override;
  void replace(std::string_view file, std::string_view bytes) override { files_[std::string(file)] = bytes; }
  void append(std::string_view file, std::string_view bytes) override { files_[std::string(file)] += bytes; }
  void truncate(std::string_view file, uint64_t size) override { files_[std::string(file)].resize(size); }

 private:
  std::map<std::string, std::string> files_;
};

// What one tick did to one durable relation (rows are max(arity, 1) words each).
struct DurableDelta {
  uint32_t relation = 0;  // plan relation id
  bool reset = false;     // drop every row first (a snapshot)
  std::vector<Word> removed, added;
  std::vector<Word> next_inserts, next_deletes, next_upserts;  // queued for the next tick
  bool empty() const {
    return !reset && removed.empty() && added.empty() && next_inserts.empty() && next_deletes.empty() && next_upserts.empty();
  }
};

// One line per durable relation: "table kv(string, int) key(0)". Empty: the program has none.
std::string durable_schema(const plan::Program& plan);

class DurableStore {
 public:
  // `compact_bytes`: a snapshot is written once the log is at least this big and bigger than the
  // snapshot.
  DurableStore(DurableFiles& files, const plan::Program& plan, SymbolTable& symbols, Lattices& lattices,
               uint64_t compact_bytes = kDefaultCompactBytes);

  static constexpr uint64_t kDefaultCompactBytes = 1 << 20;

  struct Recovery {
    bool found = false;                 // there was a snapshot or a log record
    uint64_t records = 0;               // log records replayed
    std::vector<std::string> warnings;  // e.g. a torn last record that was cut off
  };
  // Reads the snapshot and the log and calls apply() for the snapshot (a reset) and each record,
  // in order; the deltas' queued changes are those of the last one. Validates everything before
  // the first apply() and changes a file only to cut off a torn last record. Throws DurableError.
  Recovery recover(const std::function<void(const std::vector<DurableDelta>&)>& apply);

  // Appends one tick's record and syncs it. Throws DurableError (then the record is not stored).
  void commit(const std::vector<DurableDelta>& tick);
  // Whether the log has outgrown the snapshot (the caller then calls snapshot()).
  bool wants_snapshot() const { return log_bytes_ >= compact_bytes_ && log_bytes_ > snapshot_bytes_; }
  // Writes the whole state (one reset delta per durable relation) as the new snapshot and empties
  // the log.
  void snapshot(const std::vector<DurableDelta>& state);

  uint64_t log_bytes() const { return log_bytes_; }
  uint64_t sequence() const { return seq_; }

 private:
  std::string header(const char* magic, uint64_t seq) const;
  void encode_body(const std::vector<DurableDelta>& deltas, std::string& out) const;
  void decode_body(std::string_view file, uint64_t offset, std::string_view bytes, std::vector<DurableDelta>& out);
  void new_log();

  DurableFiles& files_;
  const plan::Program& plan_;
  SymbolTable& symbols_;
  Lattices& lattices_;
  uint64_t compact_bytes_;
  std::string schema_;
  std::vector<uint32_t> durable_;  // durable relation ids, in declaration order
  std::vector<int32_t> index_of_;  // relation id -> index in durable_, -1 if not durable
  uint64_t seq_ = 0;               // the last record's sequence number
  uint64_t log_bytes_ = 0, snapshot_bytes_ = 0;
  bool log_open_ = false;
};

}  // namespace bloom::rt
