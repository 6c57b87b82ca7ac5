#include "net/wire.h"

#include <bit>
#include <cstring>
#include <stdexcept>

namespace bloom::rt::net {

using plan::TypeKind;
using plan::ValueType;

namespace {

constexpr unsigned char kMagic[4] = {'B', 'L', 'O', 'M'};
constexpr uint32_t kBottomString = 0xFFFFFFFFu;  // lmax/lmin over strings: the lattice's bottom
constexpr size_t kFixedHeader = 44;              // magic .. string count
constexpr int kMaxTypeDepth = 16;                // nesting of a sender's column types

bool is_symbol(TypeKind k) { return k == TypeKind::String || k == TypeKind::Addr; }

// lmax/lmin whose element is a string or addr: cells are string indices.
bool symbolic_bound(const ValueType& t) {
  return (t.kind == TypeKind::LMax || t.kind == TypeKind::LMin) && !t.args.empty() && is_symbol(t.args[0].kind);
}

size_t min_cell_bytes(const ValueType& t) {
  switch (t.kind) {
    case TypeKind::Int:
    case TypeKind::Float: return 8;
    case TypeKind::Bool:
    case TypeKind::LBool: return 1;
    case TypeKind::String:
    case TypeKind::Addr: return 4;
    case TypeKind::LMax:
    case TypeKind::LMin: return symbolic_bound(t) ? 4 : 8;
    case TypeKind::LSet:
    case TypeKind::LMap: return 4;
  }
  return 1;
}

bool contains_symbol(const ValueType& t) {
  if (is_symbol(t.kind)) return true;
  for (const auto& a : t.args)
    if (contains_symbol(a)) return true;
  return false;
}

// Cell kinds of a fixed-width row (ChannelSchema::cell_ops).
enum CellOp : uint8_t { kWord8, kBool1, kSym4, kBoundSym4 };

CellOp cell_op(const ValueType& t) {
  switch (t.kind) {
    case TypeKind::Bool:
    case TypeKind::LBool: return kBool1;
    case TypeKind::String:
    case TypeKind::Addr: return kSym4;
    case TypeKind::LMax:
    case TypeKind::LMin: return symbolic_bound(t) ? kBoundSym4 : kWord8;
    default: return kWord8;
  }
}

void type_bytes(const ValueType& t, std::string& out) {
  out += static_cast<char>(t.kind);
  for (const auto& a : t.args) type_bytes(a, out);
}

// ------------------------------------------------------------------ little-endian primitives
template <class T>
inline T swap_bytes(T v) {
  if constexpr (sizeof v == 1) return v;
  else if constexpr (sizeof v == 2) return static_cast<T>(__builtin_bswap16(v));
  else if constexpr (sizeof v == 4) return static_cast<T>(__builtin_bswap32(v));
  else return static_cast<T>(__builtin_bswap64(v));
}
template <class T>
inline T load_le(const unsigned char* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  if constexpr (std::endian::native == std::endian::big) v = swap_bytes(v);
  return v;
}
template <class T>
inline void store_le(char* p, T v) {
  if constexpr (std::endian::native == std::endian::big) v = swap_bytes(v);
  std::memcpy(p, &v, sizeof v);
}

class Writer {
 public:
  explicit Writer(std::string& out) : out_(out) {}
  template <class T>
  void put(T v) {
    size_t at = out_.size();
    out_.resize(at + sizeof v);
    store_le<T>(out_.data() + at, v);
  }
  void bytes(std::string_view s) { out_.append(s); }
  size_t size() const { return out_.size(); }
  char* at(size_t pos) { return out_.data() + pos; }
  void grow(size_t n) { out_.resize(out_.size() + n); }

 private:
  std::string& out_;
};

class Reader {
 public:
  explicit Reader(std::string_view b) : p_(reinterpret_cast<const unsigned char*>(b.data())), size_(b.size()) {}
  size_t pos() const { return pos_; }
  size_t left() const { return size_ - pos_; }
  size_t size() const { return size_; }
  const unsigned char* here() const { return p_ + pos_; }
  void seek(size_t pos) { pos_ = pos; }
  // Each returns false (with `error` set) when the bytes run out.
  template <class T>
  bool get(T& v, const char* what, std::string& error) {
    if (left() < sizeof v) return truncated(what, error);
    v = load_le<T>(p_ + pos_);
    pos_ += sizeof v;
    return true;
  }
  bool view(size_t n, std::string_view& v, const char* what, std::string& error) {
    if (left() < n) return truncated(what, error);
    v = std::string_view(reinterpret_cast<const char*>(p_ + pos_), n);
    pos_ += n;
    return true;
  }
  bool truncated(const char* what, std::string& error) const {
    error = "truncated at byte " + std::to_string(size_) + " (reading " + what + " at byte " + std::to_string(pos_) + ")";
    return false;
  }

 private:
  const unsigned char* p_;
  size_t size_;
  size_t pos_ = 0;
};

// A sender's column types, parsed only to word an error (never used to decode cells).
bool parse_type(Reader& r, int depth, ValueType& t, std::string& error) {
  uint8_t k = 0;
  if (!r.get(k, "a column type", error)) return false;
  if (k > static_cast<uint8_t>(TypeKind::LMap)) {
    error = "bad column type byte " + std::to_string(k) + " at byte " + std::to_string(r.pos() - 1);
    return false;
  }
  if (depth > kMaxTypeDepth) {
    error = "column types nested deeper than " + std::to_string(kMaxTypeDepth);
    return false;
  }
  t.kind = static_cast<TypeKind>(k);
  size_t args = t.kind == TypeKind::LMap ? 2 : (t.kind == TypeKind::LMax || t.kind == TypeKind::LMin || t.kind == TypeKind::LSet) ? 1 : 0;
  t.args.resize(args);
  for (auto& a : t.args)
    if (!parse_type(r, depth + 1, a, error)) return false;
  return true;
}

}  // namespace

std::string schema_signature(const std::vector<ValueType>& columns) {
  std::string s = "(";
  for (size_t i = 0; i < columns.size(); ++i) s += (i ? ", " : "") + columns[i].str();
  return s + ")";
}

uint64_t channel_fingerprint(std::string_view name, const std::vector<ValueType>& columns) {
  uint64_t h = 0xcbf29ce484222325ULL;
  auto feed = [&](std::string_view s) {
    for (unsigned char c : s) {
      h ^= c;
      h *= 0x100000001b3ULL;
    }
  };
  feed(name);
  feed(std::string_view("\0", 1));
  feed(schema_signature(columns));
  return h;
}

std::optional<MessageHeader> peek_header(std::string_view bytes) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  if (bytes.size() < kFixedHeader + 3 || std::memcmp(p, kMagic, 4) != 0 || load_le<uint16_t>(p + 4) != kWireVersion) return std::nullopt;
  MessageHeader h;
  h.deployment = load_le<uint64_t>(p + 8);
  h.incarnation = load_le<uint32_t>(p + 16);
  h.sequence = load_le<uint64_t>(p + 20);
  const size_t sender_len = load_le<uint16_t>(p + kFixedHeader);
  const size_t name_at = kFixedHeader + 2 + sender_len;
  if (name_at + 1 > bytes.size()) return std::nullopt;
  const size_t name_len = p[name_at];
  if (name_at + 1 + name_len > bytes.size()) return std::nullopt;
  h.sender = bytes.substr(kFixedHeader + 2, sender_len);
  h.deployment_name = bytes.substr(name_at + 1, name_len);
  return h;
}

uint64_t deployment_id(const std::vector<std::pair<std::string, std::string>>& nodes, uint64_t run_id) {
  uint64_t h = 0xcbf29ce484222325ULL;
  auto feed = [&](std::string_view s) {
    for (unsigned char c : s) {
      h ^= c;
      h *= 0x100000001b3ULL;
    }
    h ^= 0xFF;  // a separator no UTF-8 text contains
    h *= 0x100000001b3ULL;
  };
  for (const auto& [name, endpoint] : nodes) {
    feed(name);
    feed(endpoint);
  }
  for (int i = 0; i < 8; ++i) {
    h ^= (run_id >> (8 * i)) & 0xFF;
    h *= 0x100000001b3ULL;
  }
  return h;
}

// ------------------------------------------------------------------ the codec
Codec::Codec(const plan::Program& program, SymbolTable& symbols, Lattices& lattices)
    : by_relation_(program.relations.size(), -1), symbols_(symbols), lattices_(lattices) {
  for (const auto& r : program.relations) {
    if (r.kind != plan::RelationKind::Channel) continue;
    ChannelSchema s;
    s.relation = r.id;
    s.name = r.name;
    s.columns = r.column_types;
    s.fingerprint = channel_fingerprint(r.name, r.column_types);
    s.signature = schema_signature(r.column_types);
    s.raw_words = true;
    s.fixed_width = true;
    for (const auto& t : r.column_types) {
      s.fixed_width = s.fixed_width && t.kind != TypeKind::LSet && t.kind != TypeKind::LMap;
      s.cell_ops.push_back(cell_op(t));
      type_bytes(t, s.type_bytes);
      s.min_row_bytes += min_cell_bytes(t);
      bool raw = t.kind == TypeKind::Int || t.kind == TypeKind::Float ||
                 ((t.kind == TypeKind::LMax || t.kind == TypeKind::LMin) && !symbolic_bound(t));
      s.raw_words = s.raw_words && raw;
      s.has_symbols = s.has_symbols || contains_symbol(t);
      s.has_lattices = s.has_lattices || t.kind == TypeKind::LSet || t.kind == TypeKind::LMap;
    }
    if (!s.fixed_width) s.cell_ops.clear();
    if (r.id >= by_relation_.size()) by_relation_.resize(r.id + 1, -1);
    by_relation_[r.id] = static_cast<int32_t>(schemas_.size());
    by_fingerprint_.emplace(s.fingerprint, static_cast<uint32_t>(schemas_.size()));
    by_name_.emplace(s.name, static_cast<uint32_t>(schemas_.size()));
    schemas_.push_back(std::move(s));
  }
}

const ChannelSchema* Codec::channel(uint32_t relation) const {
  if (relation >= by_relation_.size() || by_relation_[relation] < 0) return nullptr;
  return &schemas_[by_relation_[relation]];
}

const ChannelSchema* Codec::channel(std::string_view name) const {
  auto it = by_name_.find(absl::string_view(name.data(), name.size()));
  return it == by_name_.end() ? nullptr : &schemas_[it->second];
}

// ------------------------------------------------------------------ encoding
namespace {

struct Encoder {
  Writer& w;
  const SymbolTable& symbols;
  const Lattices& lattices;
  absl::flat_hash_map<Word, uint32_t> index;  // local symbol id -> string table entry
  std::vector<Word> table;                    // entries in order

  uint32_t string_index(Word id) {
    auto [it, fresh] = index.try_emplace(id, static_cast<uint32_t>(table.size()));
    if (fresh) {
      if (table.size() >= kBottomString) throw std::length_error("bloom wire: more than 2^32-2 distinct strings in one message");
      table.push_back(id);
    }
    return it->second;
  }

  void cell(const ValueType& t, Word v) {
    switch (t.kind) {
      case TypeKind::Int:
      case TypeKind::Float: w.put<uint64_t>(v); return;
      case TypeKind::Bool:
      case TypeKind::LBool: w.put<uint8_t>(v ? 1 : 0); return;
      case TypeKind::String:
      case TypeKind::Addr: w.put<uint32_t>(string_index(v)); return;
      case TypeKind::LMax:
      case TypeKind::LMin:
        if (!symbolic_bound(t)) {
          w.put<uint64_t>(v);
        } else if (v < symbols.size()) {
          w.put<uint32_t>(string_index(v));
        } else if (v == lattices.bottom(t)) {
          w.put<uint32_t>(kBottomString);
        } else {
          throw std::logic_error("bloom wire: a " + t.str() + " cell holds no symbol (" + std::to_string(v) + ")");
        }
        return;
      case TypeKind::LSet: {
        auto e = lattices.set_elements(v);
        w.put<uint32_t>(static_cast<uint32_t>(e.size()));
        for (Word x : e) cell(t.args[0], x);
        return;
      }
      case TypeKind::LMap: {
        auto entries = lattices.map_entries(v);
        w.put<uint32_t>(static_cast<uint32_t>(entries.size()));
        for (auto& [k, x] : entries) {
          cell(t.args[0], k);
          cell(t.args[1], x);
        }
        return;
      }
    }
  }
};

}  // namespace

std::string Codec::encode(uint32_t relation, const Word* rows, size_t count, const Envelope& envelope) const {
  const std::string_view sender = envelope.sender;
  const std::string_view deployment_name = envelope.deployment_name.substr(0, 0xFF);
  const ChannelSchema* s = channel(relation);
  if (!s) throw std::invalid_argument("bloom wire: relation " + std::to_string(relation) + " is not a channel");
  if (count > 0xFFFFFFFFu) throw std::length_error("bloom wire: more than 2^32-1 rows in one message");
  if (sender.size() > 0xFFFF) throw std::length_error("bloom wire: sender name longer than 65535 bytes");
  if (s->name.size() > 0xFFFF || s->columns.size() > 0xFFFF)
    throw std::length_error("bloom wire: channel `" + s->name + "` has a name or column list too long for the wire");
  const size_t arity = s->columns.size();

  std::string out;
  out.reserve(kFixedHeader + 7 + sender.size() + deployment_name.size() + s->name.size() + s->type_bytes.size() + count * s->min_row_bytes);
  Writer w(out);
  w.bytes(std::string_view(reinterpret_cast<const char*>(kMagic), 4));
  w.put<uint16_t>(kWireVersion);
  w.put<uint16_t>(0);
  w.put<uint64_t>(envelope.deployment);
  w.put<uint32_t>(envelope.incarnation);
  w.put<uint64_t>(envelope.sequence);
  w.put<uint64_t>(s->fingerprint);
  w.put<uint32_t>(static_cast<uint32_t>(count));
  const size_t string_count_at = w.size();
  w.put<uint32_t>(0);  // patched below
  w.put<uint16_t>(static_cast<uint16_t>(sender.size()));
  w.bytes(sender);
  w.put<uint8_t>(static_cast<uint8_t>(deployment_name.size()));
  w.bytes(deployment_name);
  w.put<uint16_t>(static_cast<uint16_t>(s->name.size()));
  w.bytes(s->name);
  w.put<uint16_t>(static_cast<uint16_t>(arity));
  w.bytes(s->type_bytes);

  if (s->raw_words) {
    // Every cell an 8-byte word: the rows are the wire bytes (on a little-endian host).
    const size_t words = count * arity;
    const size_t at = w.size();
    w.grow(words * sizeof(Word));
    if constexpr (std::endian::native == std::endian::little) {
      if (words) std::memcpy(w.at(at), rows, words * sizeof(Word));
    } else {
      for (size_t i = 0; i < words; ++i) store_le<uint64_t>(w.at(at + i * 8), rows[i]);
    }
    return out;
  }

  Encoder e{w, symbols_, lattices_, {}, {}};
  if (s->fixed_width) {
    // Column by column over pre-sized bytes: each inner loop has one cell kind and a fixed stride,
    // so it has no branch on the type. A column repeating its previous symbol (the @ column of a
    // message to one destination) skips the hash lookup.
    const size_t at = w.size(), stride = s->min_row_bytes;
    w.grow(count * stride);
    char* base = w.at(at);
    size_t offset = 0;
    for (size_t c = 0; c < arity; ++c) {
      char* p = base + offset;
      const Word* v = rows + c;
      switch (s->cell_ops[c]) {
        case kWord8:
          for (size_t r = 0; r < count; ++r) store_le<uint64_t>(p + r * stride, v[r * arity]);
          offset += 8;
          break;
        case kBool1:
          for (size_t r = 0; r < count; ++r) p[r * stride] = v[r * arity] ? 1 : 0;
          offset += 1;
          break;
        case kSym4:
        case kBoundSym4: {
          const bool bound = s->cell_ops[c] == kBoundSym4;
          Word last_id = ~Word{0};
          uint32_t last_index = 0;
          for (size_t r = 0; r < count; ++r) {
            const Word id = v[r * arity];
            if (id != last_id) {
              if (bound && id >= symbols_.size()) {
                if (id != lattices_.bottom(s->columns[c]))
                  throw std::logic_error("bloom wire: a " + s->columns[c].str() + " cell holds no symbol (" + std::to_string(id) + ")");
                last_index = kBottomString;
              } else {
                last_index = e.string_index(id);
              }
              last_id = id;
            }
            store_le<uint32_t>(p + r * stride, last_index);
          }
          offset += 4;
          break;
        }
      }
    }
  } else {
    for (size_t r = 0; r < count; ++r) {
      const Word* row = rows + r * arity;
      for (size_t c = 0; c < arity; ++c) e.cell(s->columns[c], row[c]);
    }
  }
  for (Word id : e.table) {
    const std::string& str = symbols_.str(id);
    if (str.size() > 0xFFFFFFFFu) throw std::length_error("bloom wire: a string longer than 4 GiB");
    w.put<uint32_t>(static_cast<uint32_t>(str.size()));
    w.bytes(str);
  }
  store_le<uint32_t>(w.at(string_count_at), static_cast<uint32_t>(e.table.size()));
  return out;
}

// ------------------------------------------------------------------ decoding
namespace {

// Reads the cells of a message. Pass 1 (ids == nullptr) validates everything and interns nothing:
// string cells get their table index, lattice cells 0. Pass 2 (ids = the interned table) runs
// only over a validated message and produces the local words.
struct Decoder {
  Reader& r;
  const ChannelSchema& schema;
  Lattices& lattices;
  uint32_t strings = 0;          // K
  const std::vector<Word>* ids;  // pass 2
  std::string& error;
  size_t row = 0, col = 0;

  bool fail(const std::string& what, size_t at) {
    error = "channel `" + schema.name + "`, row " + std::to_string(row) + ", column " + std::to_string(col) + ": " + what + " at byte " +
            std::to_string(at);
    return false;
  }
  bool truncated(const char* what) {
    r.truncated(what, error);
    error = "channel `" + schema.name + "`, row " + std::to_string(row) + ", column " + std::to_string(col) + ": " + error;
    return false;
  }
  bool symbol(uint32_t i, Word& v, size_t at) {
    if (i >= strings) return fail("string index " + std::to_string(i) + " out of range (" + std::to_string(strings) + " strings)", at);
    v = ids ? (*ids)[i] : i;
    return true;
  }
  bool count_fits(uint32_t n, size_t each, const char* what, size_t at) {
    if (each && static_cast<uint64_t>(n) * each > r.left())
      return fail(std::string(what) + " count " + std::to_string(n) + " needs at least " + std::to_string(uint64_t(n) * each) + " bytes, " +
                      std::to_string(r.left()) + " remain",
                  at);
    return true;
  }

  bool cell(const ValueType& t, Word& v) {
    const size_t at = r.pos();
    switch (t.kind) {
      case TypeKind::Int:
      case TypeKind::Float: {
        uint64_t x = 0;
        if (!r.get(x, "a cell", error)) return truncated("a cell");
        v = x;
        return true;
      }
      case TypeKind::Bool:
      case TypeKind::LBool: {
        uint8_t b = 0;
        if (!r.get(b, "a cell", error)) return truncated("a cell");
        if (b > 1) return fail("bad " + t.str() + " byte " + std::to_string(b), at);
        v = b;
        return true;
      }
      case TypeKind::String:
      case TypeKind::Addr: {
        uint32_t i = 0;
        if (!r.get(i, "a cell", error)) return truncated("a cell");
        return symbol(i, v, at);
      }
      case TypeKind::LMax:
      case TypeKind::LMin: {
        if (!symbolic_bound(t)) {
          uint64_t x = 0;
          if (!r.get(x, "a cell", error)) return truncated("a cell");
          v = x;
          return true;
        }
        uint32_t i = 0;
        if (!r.get(i, "a cell", error)) return truncated("a cell");
        if (i == kBottomString) {
          v = ids ? lattices.bottom(t) : Word{kBottomString};  // pass 1: a marker no index can take
          return true;
        }
        return symbol(i, v, at);
      }
      case TypeKind::LSet: {
        uint32_t n = 0;
        if (!r.get(n, "a set size", error)) return truncated("a set size");
        if (!count_fits(n, min_cell_bytes(t.args[0]), "set element", at)) return false;
        if (!ids) {
          Word x = 0;
          for (uint32_t k = 0; k < n; ++k)
            if (!cell(t.args[0], x)) return false;
          v = 0;
          return true;
        }
        std::vector<Word> elements(n);
        for (auto& x : elements)
          if (!cell(t.args[0], x)) return false;
        v = lattices.set_of(std::move(elements));
        return true;
      }
      case TypeKind::LMap: {
        uint32_t n = 0;
        if (!r.get(n, "a map size", error)) return truncated("a map size");
        if (!count_fits(n, min_cell_bytes(t.args[0]) + min_cell_bytes(t.args[1]), "map entry", at)) return false;
        if (!ids) {
          Word k = 0, x = 0;
          for (uint32_t e = 0; e < n; ++e)
            if (!cell(t.args[0], k) || !cell(t.args[1], x)) return false;
          v = 0;
          return true;
        }
        std::vector<std::pair<Word, Word>> entries(n);
        for (auto& [k, x] : entries)
          if (!cell(t.args[0], k) || !cell(t.args[1], x)) return false;
        v = lattices.map_of(t.args[1], std::move(entries));
        return true;
      }
    }
    return fail("unknown column type", at);
  }

  bool rows(Word* out, size_t count) {
    const size_t arity = schema.columns.size();
    for (row = 0; row < count; ++row)
      for (col = 0; col < arity; ++col)
        if (!cell(schema.columns[col], out[row * arity + col])) return false;
    return true;
  }
};

}  // namespace

bool Codec::decode(std::string_view bytes, Message& out, std::string& error, RowTarget target, void* context) const {
  Reader r(bytes);
  if (bytes.size() < 4 || std::memcmp(bytes.data(), kMagic, 4) != 0) {
    error = bytes.size() < 4 ? "not a bloom message (" + std::to_string(bytes.size()) + " bytes, shorter than the magic)"
                             : "not a bloom message (bad magic)";
    return false;
  }
  r.seek(4);
  uint16_t version = 0, flags = 0;
  uint64_t deployment = 0, sequence = 0, fingerprint = 0;
  uint32_t incarnation = 0;
  uint32_t count = 0, strings = 0;
  if (!r.get(version, "the version", error)) return false;
  if (version != kWireVersion) {
    error = "wire version " + std::to_string(version) + ", this node speaks " + std::to_string(kWireVersion);
    return false;
  }
  if (!r.get(flags, "the flags", error)) return false;
  if (flags != 0) {
    error = "unknown header flags " + std::to_string(flags) + " (wire version " + std::to_string(kWireVersion) + " has none)";
    return false;
  }
  if (!r.get(deployment, "the deployment id", error) || !r.get(incarnation, "the incarnation", error) ||
      !r.get(sequence, "the sequence number", error) || !r.get(fingerprint, "the fingerprint", error) ||
      !r.get(count, "the row count", error) || !r.get(strings, "the string count", error))
    return false;
  uint16_t sender_len = 0, name_len = 0, arity = 0;
  uint8_t deployment_len = 0;
  std::string_view sender, deployment_name, name;
  if (!r.get(sender_len, "the sender length", error) || !r.view(sender_len, sender, "the sender name", error) ||
      !r.get(deployment_len, "the deployment name length", error) ||
      !r.view(deployment_len, deployment_name, "the deployment name", error) || !r.get(name_len, "the channel name length", error) ||
      !r.view(name_len, name, "the channel name", error) || !r.get(arity, "the column count", error))
    return false;

  // The channel: by fingerprint, then the name and types must match too (a fingerprint collision
  // or a corrupt header is refused like a different schema).
  const ChannelSchema* s = nullptr;
  if (auto it = by_fingerprint_.find(fingerprint); it != by_fingerprint_.end()) s = &schemas_[it->second];
  const size_t types_at = r.pos();
  const bool match = s && s->name == name && s->columns.size() == arity && r.left() >= s->type_bytes.size() &&
                     std::memcmp(r.here(), s->type_bytes.data(), s->type_bytes.size()) == 0;
  if (!match) {
    std::vector<ValueType> theirs(arity);
    for (auto& t : theirs)
      if (!parse_type(r, 0, t, error)) return false;
    const ChannelSchema* here = channel(name);
    std::string shown(name.substr(0, 200));
    if (!here) {
      error = "unknown channel `" + shown + "` " + schema_signature(theirs) + " (from `" + std::string(sender.substr(0, 200)) +
              "`): no channel of that name here";
    } else if (here->columns != theirs) {
      error = "channel `" + shown + "` has a different schema at the sender `" + std::string(sender.substr(0, 200)) +
              "`: " + schema_signature(theirs) + " vs here " + here->signature;
    } else {
      error = "channel `" + shown + "`: the header's fingerprint does not match its name and column types (corrupt header)";
    }
    return false;
  }
  r.seek(types_at + s->type_bytes.size());

  // Rows: each takes at least min_row_bytes, checked before the row buffer is allocated.
  const size_t arity_words = s->columns.size();
  const size_t rows_at = r.pos();
  if (s->min_row_bytes && static_cast<uint64_t>(count) * s->min_row_bytes > r.left()) {
    error = "channel `" + s->name + "`: row count " + std::to_string(count) + " needs at least " +
            std::to_string(uint64_t(count) * s->min_row_bytes) + " bytes, " + std::to_string(r.left()) + " remain after the header (byte " +
            std::to_string(rows_at) + ")";
    return false;
  }
  std::vector<Word>* dest = target ? target(context, s->relation) : nullptr;
  size_t first_word = 0;
  if (dest) {
    out.rows.clear();
    first_word = dest->size();
  } else {
    dest = &out.rows;
  }
  dest->resize(first_word + static_cast<size_t>(count) * arity_words);
  Word* words = dest->data() + first_word;
  // From here on a failure takes the rows back out of a caller's vector.
  struct Restore {
    std::vector<Word>* dest;
    size_t size;
    bool keep = false;
    ~Restore() {
      if (!keep) dest->resize(size);
    }
  } restore{dest, first_word};

  if (s->raw_words) {
    const size_t n = static_cast<size_t>(count) * arity_words;
    if constexpr (std::endian::native == std::endian::little) {
      if (n) std::memcpy(words, r.here(), n * sizeof(Word));
    } else {
      for (size_t i = 0; i < n; ++i) words[i] = load_le<uint64_t>(r.here() + i * 8);
    }
    r.seek(rows_at + n * sizeof(Word));
  } else if (s->fixed_width) {
    // Pass 1 over fixed-width rows (their total size was checked above), column by column: string
    // cells keep their table index (or kBottomString), remapped once the table is interned.
    const unsigned char* base = r.here();
    const size_t stride = s->min_row_bytes;
    size_t offset = 0;
    for (size_t c = 0; c < arity_words; ++c) {
      const unsigned char* p = base + offset;
      Word* v = words + c;
      const uint8_t op = s->cell_ops[c];
      bool bad = false;
      switch (op) {
        case kWord8:
          for (size_t row = 0; row < count; ++row) v[row * arity_words] = load_le<uint64_t>(p + row * stride);
          offset += 8;
          break;
        case kBool1: {
          unsigned char any = 0;
          for (size_t row = 0; row < count; ++row) any |= p[row * stride], v[row * arity_words] = p[row * stride];
          bad = any > 1;
          offset += 1;
          break;
        }
        case kSym4:
        case kBoundSym4: {
          uint32_t over = 0;  // any index >= strings (other than a bound's bottom marker)
          for (size_t row = 0; row < count; ++row) {
            const uint32_t i = load_le<uint32_t>(p + row * stride);
            over |= (i >= strings) & !(op == kBoundSym4 && i == kBottomString);
            v[row * arity_words] = i;
          }
          bad = over != 0;
          offset += 4;
          break;
        }
      }
      if (bad) {
        // Find the first bad cell of the column for the message.
        for (size_t row = 0; row < count; ++row) {
          const unsigned char* q = p + row * stride;
          const size_t at = static_cast<size_t>(q - reinterpret_cast<const unsigned char*>(bytes.data()));
          const std::string where = "channel `" + s->name + "`, row " + std::to_string(row) + ", column " + std::to_string(c) + ": ";
          if (op == kBool1 && *q > 1) {
            error = where + "bad " + s->columns[c].str() + " byte " + std::to_string(*q) + " at byte " + std::to_string(at);
            return false;
          }
          if (op != kBool1) {
            const uint32_t i = load_le<uint32_t>(q);
            if (i >= strings && !(op == kBoundSym4 && i == kBottomString)) {
              error = where + "string index " + std::to_string(i) + " out of range (" + std::to_string(strings) + " strings) at byte " +
                      std::to_string(at);
              return false;
            }
          }
        }
      }
    }
    r.seek(rows_at + count * stride);
  } else {
    Decoder d{r, *s, lattices_, strings, nullptr, error};
    if (!d.rows(words, count)) return false;
  }

  // The string table, validated before anything is interned.
  const size_t table_at = r.pos();
  if (!s->has_symbols && strings != 0) {
    error = "channel `" + s->name + "`: " + std::to_string(strings) + " strings in the table, but the channel has no string column";
    return false;
  }
  if (static_cast<uint64_t>(strings) * 4 > r.left()) {
    error = "channel `" + s->name + "`: string count " + std::to_string(strings) + " needs at least " +
            std::to_string(uint64_t(strings) * 4) + " bytes, " + std::to_string(r.left()) + " remain (byte " + std::to_string(table_at) +
            ")";
    return false;
  }
  for (uint32_t i = 0; i < strings; ++i) {
    uint32_t len = 0;
    std::string_view str;
    if (!r.get(len, "a string length", error) || !r.view(len, str, "a string", error)) {
      error = "channel `" + s->name + "`, string " + std::to_string(i) + ": " + error;
      return false;
    }
  }
  if (r.left() != 0) {
    error = "channel `" + s->name + "`: " + std::to_string(r.left()) + " trailing bytes after the message (at byte " +
            std::to_string(r.pos()) + ")";
    return false;
  }

  // Valid: intern the strings and lattices.
  if (s->has_symbols || s->has_lattices) {
    std::vector<Word> ids(strings);
    r.seek(table_at);
    for (uint32_t i = 0; i < strings; ++i) {
      uint32_t len = 0;
      std::string_view str;
      r.get(len, "", error);
      r.view(len, str, "", error);
      ids[i] = symbols_.intern(str);
    }
    if (!s->has_lattices) {
      // Plain string/addr columns only: map the table indices to local ids in place.
      for (size_t c = 0; c < arity_words; ++c) {
        if (!is_symbol(s->columns[c].kind) && !symbolic_bound(s->columns[c])) continue;
        const bool bound = symbolic_bound(s->columns[c]);
        const Word bottom = bound ? lattices_.bottom(s->columns[c]) : 0;
        for (size_t row = 0; row < count; ++row) {
          Word& w = words[row * arity_words + c];
          w = (bound && w == kBottomString) ? bottom : ids[w];  // pass 1 checked every index
        }
      }
    } else {
      r.seek(rows_at);
      Decoder d{r, *s, lattices_, strings, &ids, error};
      if (!d.rows(words, count)) return false;  // cannot fail: validated above
    }
  }
  restore.keep = true;
  out.sender.assign(sender);
  out.deployment = deployment;
  out.incarnation = incarnation;
  out.sequence = sequence;
  out.relation = s->relation;
  out.count = count;
  return true;
}

}  // namespace bloom::rt::net
