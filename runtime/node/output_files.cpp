#include "node/output_files.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <optional>
#include <string_view>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "node/facts.h"

namespace bloom::rt {

namespace {

std::runtime_error file_error(const std::string& path, const char* what) {
  return std::runtime_error(path + ": cannot " + what + ": " + std::strerror(errno));
}

std::optional<double> as_number(std::string_view s) {
  if (s.starts_with('+')) s.remove_prefix(1);
  double v = 0;
  auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || r.ec != std::errc() || r.ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

// Lines carried from an earlier process are text, not values: ordered field by field, numbers
// (ints, floats, -inf/+inf) by value and anything else by its bytes, which is the values' order
// for every column type but a string that looks like a number.
bool line_before(std::string_view a, std::string_view b) {
  while (true) {
    const size_t ea = a.find('\t'), eb = b.find('\t');
    const std::string_view fa = a.substr(0, ea), fb = b.substr(0, eb);
    if (fa != fb) {
      auto na = as_number(fa), nb = as_number(fb);
      if (na && nb && *na != *nb) return *na < *nb;
      return fa < fb;
    }
    if (ea == std::string_view::npos || eb == std::string_view::npos) return ea == std::string_view::npos && eb != std::string_view::npos;
    a.remove_prefix(ea + 1);
    b.remove_prefix(eb + 1);
  }
}

}  // namespace

OutputFiles::OutputFiles(const Node& node, std::string dir, bool carry_on) : node_(node) {
  for (uint32_t id : node.outputs()) {
    File f;
    f.relation = id;
    f.path = (std::filesystem::path(dir) / (node.plan().relations[id].name + ".csv")).string();
    if (carry_on) {
      std::ifstream in(f.path, std::ios::binary);
      std::string line;
      // A zero-column output's tuple is an empty line; elsewhere an empty line is no row.
      const bool nullary = node.plan().relations[id].arity() == 0;
      while (std::getline(in, line))
        if (!line.empty() || nullary) f.carried.insert(line);
    }
    // Appends only: a crash can cut the last line short, never an earlier one (its tick's rows
    // come again after a restart, and a cut line is not one of them).
    f.fd = ::open(f.path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | (carry_on ? 0 : O_TRUNC), 0644);
    if (f.fd < 0) throw file_error(f.path, "open the output file");
    files_.push_back(std::move(f));
  }
}

OutputFiles::~OutputFiles() {
  for (auto& f : files_)
    if (f.fd >= 0) ::close(f.fd);
}

void OutputFiles::append() {
  std::string text;
  for (auto& f : files_) {
    const Relation& log = node_.output_log(f.relation);
    text.clear();
    for (RowId r = f.written; r < log.end(); ++r) {
      if (!log.alive(r)) continue;
      std::string line = node_.csv_line(f.relation, r);
      if (f.carried.contains(line)) continue;
      text += line;
      text += '\n';
    }
    f.written = log.end();
    for (size_t at = 0; at < text.size();) {
      ssize_t n = ::write(f.fd, text.data() + at, text.size() - at);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) throw file_error(f.path, "append to the output file");
      at += static_cast<size_t>(n);
    }
  }
}

void OutputFiles::finish() {
  for (auto& f : files_) {
    if (f.carried.empty()) {
      write_file_atomically(f.path, [&](std::ostream& out) { node_.write_output(f.relation, true, out); });
      continue;
    }
    std::vector<std::string> lines(f.carried.begin(), f.carried.end());
    const Relation& log = node_.output_log(f.relation);
    for (RowId r = 0; r < log.end(); ++r)
      if (log.alive(r))
        if (std::string line = node_.csv_line(f.relation, r); !f.carried.contains(line)) lines.push_back(std::move(line));
    std::sort(lines.begin(), lines.end(), [](const std::string& a, const std::string& b) { return line_before(a, b); });
    write_file_atomically(f.path, [&](std::ostream& out) {
      for (const auto& l : lines) out << l << '\n';
    });
  }
}

}  // namespace bloom::rt
