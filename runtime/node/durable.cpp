#include "node/durable.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>

#include "core/files.h"

namespace bloom::rt {

namespace {

constexpr const char* kLog = "wal";
constexpr const char* kSnapshot = "snapshot";
constexpr uint32_t kVersion = 1;
constexpr size_t kRecordHeader = 12;

uint32_t crc32(std::string_view bytes) {
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  uint32_t c = 0xFFFFFFFFu;
  for (unsigned char b : bytes) c = table[(c ^ b) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

void put_u8(std::string& out, uint8_t v) { out.push_back(static_cast<char>(v)); }
void put_u32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
}
void put_u64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
}
uint32_t get_u32(std::string_view b, size_t at) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(static_cast<unsigned char>(b[at + i])) << (8 * i);
  return v;
}
uint64_t get_u64(std::string_view b, size_t at) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(static_cast<unsigned char>(b[at + i])) << (8 * i);
  return v;
}

uint32_t stride(uint32_t arity) { return std::max<uint32_t>(arity, 1); }

// Reads a body; every read is bounds-checked and a failure names the offset in the file.
struct Reader {
  std::string_view b;
  size_t pos = 0;
  uint64_t base = 0;  // offset of b in the file
  std::string file;

  [[noreturn]] void fail(const std::string& what) const { throw DurableError(fmt::format("{}: byte {}: {}", file, base + pos, what)); }
  void need(size_t n) const {
    if (b.size() - pos < n) fail("the record ends in the middle of a value (it is corrupt)");
  }
  uint8_t u8() {
    need(1);
    return static_cast<uint8_t>(b[pos++]);
  }
  uint32_t u32() {
    need(4);
    uint32_t v = get_u32(b, pos);
    pos += 4;
    return v;
  }
  uint64_t u64() {
    need(8);
    uint64_t v = get_u64(b, pos);
    pos += 8;
    return v;
  }
  std::string_view bytes(size_t n) {
    need(n);
    auto v = b.substr(pos, n);
    pos += n;
    return v;
  }
};

void encode_value(const plan::ValueType& t, Word w, const SymbolTable& symbols, const Lattices& lattices, std::string& out) {
  using plan::TypeKind;
  switch (t.kind) {
    case TypeKind::Int:
    case TypeKind::Float: put_u64(out, w); break;
    case TypeKind::Bool:
    case TypeKind::LBool: put_u8(out, w ? 1 : 0); break;
    case TypeKind::String:
    case TypeKind::Addr: {
      const std::string& s = symbols.str(w);
      put_u32(out, static_cast<uint32_t>(s.size()));
      out += s;
      break;
    }
    case TypeKind::LMax:
    case TypeKind::LMin:
      if (w == lattices.bottom(t)) {
        put_u8(out, 1);
      } else {
        put_u8(out, 0);
        encode_value(t.args[0], w, symbols, lattices, out);
      }
      break;
    case TypeKind::LSet: {
      auto e = lattices.set_elements(w);
      put_u32(out, static_cast<uint32_t>(e.size()));
      for (Word x : e) encode_value(t.args[0], x, symbols, lattices, out);
      break;
    }
    case TypeKind::LMap: {
      auto e = lattices.map_entries(w);
      put_u32(out, static_cast<uint32_t>(e.size()));
      for (auto& [k, v] : e) {
        encode_value(t.args[0], k, symbols, lattices, out);
        encode_value(t.args[1], v, symbols, lattices, out);
      }
      break;
    }
  }
}

Word decode_value(const plan::ValueType& t, Reader& r, SymbolTable& symbols, Lattices& lattices) {
  using plan::TypeKind;
  switch (t.kind) {
    case TypeKind::Int:
    case TypeKind::Float: return r.u64();
    case TypeKind::Bool:
    case TypeKind::LBool: {
      uint8_t v = r.u8();
      if (v > 1) r.fail("a bool that is neither 0 nor 1 (the record is corrupt)");
      return v;
    }
    case TypeKind::String:
    case TypeKind::Addr: {
      uint32_t n = r.u32();
      return symbols.intern(r.bytes(n));
    }
    case TypeKind::LMax:
    case TypeKind::LMin: {
      uint8_t bottom = r.u8();
      if (bottom > 1) r.fail("a bad lattice flag (the record is corrupt)");
      return bottom ? lattices.bottom(t) : decode_value(t.args[0], r, symbols, lattices);
    }
    case TypeKind::LSet: {
      uint32_t n = r.u32();
      r.need(n);  // every element takes at least a byte: a forged count cannot allocate much
      std::vector<Word> e;
      e.reserve(n);
      for (uint32_t i = 0; i < n; ++i) e.push_back(decode_value(t.args[0], r, symbols, lattices));
      return lattices.set_of(std::move(e));
    }
    case TypeKind::LMap: {
      uint32_t n = r.u32();
      r.need(n);
      std::vector<std::pair<Word, Word>> e;
      e.reserve(n);
      for (uint32_t i = 0; i < n; ++i) {
        Word k = decode_value(t.args[0], r, symbols, lattices);
        e.emplace_back(k, decode_value(t.args[1], r, symbols, lattices));
      }
      return lattices.map_of(t.args[1], std::move(e));
    }
  }
  r.fail("an unknown column type");
}

std::string errno_text(int err) { return std::strerror(err); }

class DirFiles : public DurableFiles {
 public:
  explicit DirFiles(std::string dir) : dir_(std::move(dir)) {}
  ~DirFiles() override {
    if (log_fd_ >= 0) ::close(log_fd_);
    if (lock_fd_ >= 0) ::close(lock_fd_);
  }

  void open() {
    std::error_code ec;
    std::filesystem::create_directories(dir_, ec);
    if (ec || !std::filesystem::is_directory(dir_))
      throw DurableError(fmt::format("data directory {}: cannot create it{}", dir_, ec ? ": " + ec.message() : ": not a directory"));
    std::string lock = path("LOCK");
    lock_fd_ = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (lock_fd_ < 0) throw DurableError(fmt::format("{}: cannot open: {} (is the data directory writable?)", lock, errno_text(errno)));
    if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0)
      throw DurableError(fmt::format("data directory {} is in use by another process (it holds {})", dir_, lock));
  }

  std::string path(std::string_view file) const override { return (std::filesystem::path(dir_) / file).string(); }

  bool read(std::string_view file, std::string& out) override {
    std::string p = path(file);
    int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      if (errno == ENOENT) return false;
      throw DurableError(fmt::format("{}: cannot open: {}", p, errno_text(errno)));
    }
    out.clear();
    char buf[1 << 16];
    for (;;) {
      ssize_t n = ::read(fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        int err = errno;
        ::close(fd);
        throw DurableError(fmt::format("{}: read error: {}", p, errno_text(err)));
      }
      if (n == 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
    ::close(fd);
    return true;
  }

  void replace(std::string_view file, std::string_view bytes) override {
    std::string p = path(file);
    if (std::string_view(file) == kLog && log_fd_ >= 0) {  // the old log's descriptor would append to the replaced file
      ::close(log_fd_);
      log_fd_ = -1;
    }
    std::string why;
    if (!replace_file(p, bytes, ReplaceOptions{.mode = std::nullopt, .sync = true}, why)) throw DurableError(fmt::format("{}: {}", p, why));
  }

  void append(std::string_view file, std::string_view bytes) override {
    std::string p = path(file);
    if (log_fd_ < 0) {
      log_fd_ = ::open(p.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
      if (log_fd_ < 0) throw DurableError(fmt::format("{}: cannot open for writing: {}", p, errno_text(errno)));
    }
    off_t before = ::lseek(log_fd_, 0, SEEK_END);
    if (!write_all(log_fd_, bytes) || ::fdatasync(log_fd_) != 0) {
      int err = errno;
      // Take back a partial record so the next one does not follow garbage.
      if (before >= 0 && ::ftruncate(log_fd_, before) == 0) (void)::fdatasync(log_fd_);
      throw DurableError(fmt::format("{}: cannot write the tick's record: {}", p, errno_text(err)));
    }
  }

  void truncate(std::string_view file, uint64_t size) override {
    std::string p = path(file);
    if (::truncate(p.c_str(), static_cast<off_t>(size)) != 0)
      throw DurableError(fmt::format("{}: cannot truncate: {}", p, errno_text(errno)));
    int fd = ::open(p.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
      (void)::fdatasync(fd);
      ::close(fd);
    }
  }

 private:
  std::string dir_;
  int lock_fd_ = -1, log_fd_ = -1;
};

}  // namespace

std::unique_ptr<DurableFiles> open_data_dir(const std::string& dir) {
  auto f = std::make_unique<DirFiles>(dir);
  f->open();
  return f;
}

bool MemoryFiles::read(std::string_view file, std::string& out) {
  auto it = files_.find(std::string(file));
  if (it == files_.end()) return false;
  out = it->second;
  return true;
}

std::string durable_schema(const plan::Program& plan) {
  std::string s;
  for (const auto& r : plan.relations) {
    if (!r.durable) continue;
    std::vector<std::string> types;
    for (const auto& t : r.column_types) types.push_back(t.str());
    s += fmt::format("{} {}({}) key({})\n", plan::to_string(r.kind), r.name, fmt::join(types, ", "), fmt::join(r.key, ","));
  }
  return s;
}

DurableStore::DurableStore(DurableFiles& files, const plan::Program& plan, SymbolTable& symbols, Lattices& lattices, uint64_t compact_bytes)
    : files_(files), plan_(plan), symbols_(symbols), lattices_(lattices), compact_bytes_(compact_bytes), schema_(durable_schema(plan)) {
  index_of_.assign(plan.relations.size(), -1);
  for (const auto& r : plan.relations)
    if (r.durable) {
      index_of_[r.id] = static_cast<int32_t>(durable_.size());
      durable_.push_back(r.id);
    }
}

std::string DurableStore::header(const char* magic, uint64_t seq) const {
  std::string h(magic, 8);
  put_u32(h, kVersion);
  put_u32(h, static_cast<uint32_t>(schema_.size()));
  h += schema_;
  put_u64(h, seq);
  put_u32(h, crc32(h));
  return h;
}

void DurableStore::encode_body(const std::vector<DurableDelta>& deltas, std::string& out) const {
  uint32_t n = 0;
  for (const auto& d : deltas) n += !d.empty();
  put_u32(out, n);
  for (const auto& d : deltas) {
    if (d.empty()) continue;
    const auto& r = plan_.relations[d.relation];
    uint32_t s = stride(r.arity());
    put_u32(out, static_cast<uint32_t>(index_of_[d.relation]));
    put_u8(out, d.reset ? 1 : 0);
    const std::vector<Word>* lists[] = {&d.removed, &d.added, &d.next_inserts, &d.next_deletes, &d.next_upserts};
    for (auto* l : lists) put_u32(out, static_cast<uint32_t>(l->size() / s));
    for (auto* l : lists)
      for (size_t i = 0; i + s <= l->size(); i += s)
        for (uint32_t c = 0; c < r.arity(); ++c) encode_value(r.column_types[c], (*l)[i + c], symbols_, lattices_, out);
  }
}

void DurableStore::decode_body(std::string_view file, uint64_t offset, std::string_view bytes, std::vector<DurableDelta>& out) {
  Reader rd{bytes, 0, offset, std::string(file)};
  uint32_t n = rd.u32();
  out.clear();
  for (uint32_t e = 0; e < n; ++e) {
    uint32_t idx = rd.u32();
    if (idx >= durable_.size()) rd.fail(fmt::format("durable relation number {} does not exist (the record is corrupt)", idx));
    DurableDelta d;
    d.relation = durable_[idx];
    uint8_t flags = rd.u8();
    if (flags > 1) rd.fail("bad flags (the record is corrupt)");
    d.reset = flags & 1;
    uint32_t counts[5];
    for (auto& c : counts) c = rd.u32();
    const auto& r = plan_.relations[d.relation];
    std::vector<Word>* lists[] = {&d.removed, &d.added, &d.next_inserts, &d.next_deletes, &d.next_upserts};
    for (int l = 0; l < 5; ++l) {
      if (r.arity() > 0) rd.need(counts[l]);  // each row takes at least a byte
      for (uint32_t i = 0; i < counts[l]; ++i) {
        if (r.arity() == 0) lists[l]->push_back(0);
        for (uint32_t c = 0; c < r.arity(); ++c) lists[l]->push_back(decode_value(r.column_types[c], rd, symbols_, lattices_));
      }
    }
    out.push_back(std::move(d));
  }
  if (rd.pos != bytes.size()) rd.fail("bytes follow the record's last entry (it is corrupt)");
}

namespace {
// Checks a header and returns its sequence number and length; throws on a different program.
struct Header {
  uint64_t seq = 0;
  size_t size = 0;
};
Header check_header(std::string_view b, const char* magic, const std::string& schema, const std::string& path) {
  auto bad = [&](const std::string& why) {
    return DurableError(
        fmt::format("{}: {}; it is not a data file this program can read. Move the data directory away to start "
                    "empty, or restore it from a backup",
                    path, why));
  };
  if (b.size() < 16 || b.substr(0, 8) != std::string_view(magic, 8)) throw bad("byte 0: not a bloom durable file (bad magic)");
  uint32_t version = get_u32(b, 8);
  if (version != kVersion) throw bad(fmt::format("byte 8: format version {}, this bloom reads {}", version, kVersion));
  uint32_t len = get_u32(b, 12);
  if (b.size() - 16 < static_cast<size_t>(len) + 12) throw bad("byte 12: the header is truncated");
  size_t end = 16 + len + 8;
  if (crc32(b.substr(0, end)) != get_u32(b, end)) throw bad(fmt::format("byte {}: the header's checksum does not match", end));
  std::string_view theirs = b.substr(16, len);
  if (theirs != schema) {
    auto lines = [](std::string_view s) {
      std::string out;
      for (char c : s) out += c == '\n' ? std::string("\n    ") : std::string(1, c);
      while (!out.empty() && out.back() == ' ') out.pop_back();
      return out.empty() ? std::string("(none)\n") : out;
    };
    throw DurableError(
        fmt::format("{}: written by a program with other durable collections (byte 16: the schema differs).\n"
                    "  stored:\n    {}  this program:\n    {}"
                    "Run the program that wrote it, or move the data directory away to start empty",
                    path, lines(theirs), lines(schema)));
  }
  return {get_u64(b, 16 + len), end + 4};
}
}  // namespace

DurableStore::Recovery DurableStore::recover(const std::function<void(const std::vector<DurableDelta>&)>& apply) {
  Recovery rec;
  std::string snap, log;
  uint64_t snap_seq = 0;
  std::string_view snap_body;
  size_t snap_body_at = 0;
  if (files_.read(kSnapshot, snap)) {
    std::string p = files_.path(kSnapshot);
    Header h = check_header(snap, "BLOOMSNP", schema_, p);
    snap_seq = h.seq;
    std::string_view b = snap;
    constexpr const char* kAdvice = ". Nothing was changed: move the data directory away to start empty, or restore it from a backup";
    if (b.size() - h.size < 8) throw DurableError(fmt::format("{}: byte {}: the snapshot is truncated{}", p, h.size, kAdvice));
    uint32_t len = get_u32(b, h.size);
    if (b.size() - h.size - 4 < static_cast<size_t>(len) + 4)
      throw DurableError(fmt::format("{}: byte {}: the snapshot is truncated{}", p, h.size, kAdvice));
    snap_body = b.substr(h.size + 4, len);
    snap_body_at = h.size + 4;
    if (crc32(snap_body) != get_u32(b, h.size + 4 + len))
      throw DurableError(fmt::format("{}: byte {}: the snapshot's checksum does not match (it is corrupt){}", p, snap_body_at, kAdvice));
    if (h.size + 8 + len != b.size())
      throw DurableError(fmt::format("{}: byte {}: bytes follow the snapshot{}", p, h.size + 8 + len, kAdvice));
    snapshot_bytes_ = b.size();
    rec.found = true;
  }
  // Frame the log's records first: a bad record anywhere is reported before anything is applied.
  struct Rec {
    size_t at, len;
  };
  std::vector<Rec> recs;
  std::string lp = files_.path(kLog);
  bool have_log = files_.read(kLog, log);
  size_t valid = 0;
  if (have_log) {
    std::string_view b = log;
    Header h;
    bool torn_header = false;
    try {
      h = check_header(b, "BLOOMWAL", schema_, lp);
    } catch (const DurableError&) {
      // A crash while the log was being created leaves a short or empty file: a header that is
      // only a prefix of a valid one. Anything else is refused.
      std::string full = header("BLOOMWAL", 0);
      size_t cmp = std::min(b.size(), 16 + schema_.size());
      if (b.size() < full.size() && b.substr(0, cmp) == std::string_view(full).substr(0, cmp)) torn_header = true;
      else throw;
    }
    if (torn_header) {
      rec.warnings.push_back(fmt::format("{}: the log's header is incomplete (a crash while it was created); starting a new log", lp));
      have_log = false;
    } else {
      size_t pos = h.size;
      valid = pos;
      uint64_t last_seq = h.seq;
      while (pos < b.size()) {
        size_t left = b.size() - pos;
        bool all_zero = b.find_first_not_of('\0', pos) == std::string_view::npos;
        auto torn = [&](const std::string& why) {
          rec.warnings.push_back(
              fmt::format("{}: byte {}: {}; cut off (a crash while the last tick was being written: that tick "
                          "was never completed)",
                          lp, pos, why));
        };
        if (left < kRecordHeader) {
          torn("an incomplete last record");
          break;
        }
        uint32_t len = get_u32(b, pos);
        if (crc32(b.substr(pos, 4)) != get_u32(b, pos + 4)) {
          if (all_zero) {
            torn("zeros where the last record should be");
            break;
          }
          throw DurableError(
              fmt::format("{}: byte {}: record {} is corrupt (its length's checksum does not match) and data follows "
                          "it; the log cannot be replayed past it. Nothing was changed: move the data directory "
                          "away to start empty, or restore it from a backup",
                          lp, pos, recs.size() + 1));
        }
        if (left - kRecordHeader < len) {
          torn("an incomplete last record");
          break;
        }
        std::string_view payload = b.substr(pos + kRecordHeader, len);
        if (crc32(payload) != get_u32(b, pos + 8)) {
          if (pos + kRecordHeader + len == b.size()) {
            torn("the last record's checksum does not match");
            break;
          }
          throw DurableError(
              fmt::format("{}: byte {}: record {} is corrupt (its checksum does not match) and more records follow "
                          "it; the log cannot be replayed past it. Nothing was changed: move the data directory "
                          "away to start empty, or restore it from a backup",
                          lp, pos, recs.size() + 1));
        }
        if (len < 8) throw DurableError(fmt::format("{}: byte {}: record {} is too short to be one", lp, pos, recs.size() + 1));
        uint64_t seq = get_u64(payload, 0);
        if (seq <= last_seq)
          throw DurableError(fmt::format("{}: byte {}: record {} has sequence number {} after {} (the log is corrupt)", lp, pos,
                                         recs.size() + 1, seq, last_seq));
        last_seq = seq;
        recs.push_back({pos + kRecordHeader, len});
        pos += kRecordHeader + len;
        valid = pos;
      }
    }
  }
  // Decode and apply. Records the snapshot already holds (a crash between writing the snapshot
  // and starting the new log) are skipped.
  std::vector<DurableDelta> deltas;
  seq_ = snap_seq;
  if (!snap_body.empty()) {
    decode_body(files_.path(kSnapshot), snap_body_at, snap_body, deltas);
    apply(deltas);
  }
  for (const auto& r : recs) {
    std::string_view payload = std::string_view(log).substr(r.at, r.len);
    uint64_t seq = get_u64(payload, 0);
    if (seq <= snap_seq) continue;
    decode_body(lp, r.at + 8, payload.substr(8), deltas);
    apply(deltas);
    seq_ = seq;
    ++rec.records;
    rec.found = true;
  }
  if (!have_log) {
    new_log();
  } else {
    if (valid < log.size()) files_.truncate(kLog, valid);
    log_bytes_ = valid;
    log_open_ = true;
  }
  return rec;
}

void DurableStore::new_log() {
  std::string h = header("BLOOMWAL", seq_);
  files_.replace(kLog, h);
  log_bytes_ = h.size();
  log_open_ = true;
}

void DurableStore::commit(const std::vector<DurableDelta>& tick) {
  if (!log_open_) new_log();
  std::string payload;
  put_u64(payload, seq_ + 1);
  encode_body(tick, payload);
  if (payload.size() > UINT32_MAX) throw DurableError(fmt::format("{}: one tick's changes exceed 4 GiB", files_.path(kLog)));
  std::string rec;
  rec.reserve(kRecordHeader + payload.size());
  put_u32(rec, static_cast<uint32_t>(payload.size()));
  put_u32(rec, crc32(std::string_view(rec).substr(0, 4)));
  put_u32(rec, crc32(payload));
  rec += payload;
  files_.append(kLog, rec);
  ++seq_;
  log_bytes_ += rec.size();
}

void DurableStore::snapshot(const std::vector<DurableDelta>& state) {
  std::string out = header("BLOOMSNP", seq_);
  std::string body;
  encode_body(state, body);
  put_u32(out, static_cast<uint32_t>(body.size()));
  out += body;
  put_u32(out, crc32(body));
  // The snapshot first: a crash before the new log leaves the old one, whose records the
  // snapshot's sequence number says to skip.
  files_.replace(kSnapshot, out);
  snapshot_bytes_ = out.size();
  new_log();
}

}  // namespace bloom::rt
