#include "lsp/jsonrpc.h"

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cctype>

namespace bloom::lsp {
namespace {
// Larger bodies are refused (and skipped) instead of held in memory.
constexpr size_t kMaxBody = 256u << 20;
}  // namespace

bool Transport::fill() {
  if (pos_ > 0 && pos_ == buf_.size()) buf_.clear(), pos_ = 0;
  char chunk[65536];
  for (;;) {
    ssize_t n = ::read(in_, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    buf_.append(chunk, static_cast<size_t>(n));
    return true;
  }
}

bool Transport::line(std::string& out) {
  for (;;) {
    size_t nl = buf_.find('\n', pos_);
    if (nl != std::string::npos) {
      out.assign(buf_, pos_, nl - pos_);
      if (!out.empty() && out.back() == '\r') out.pop_back();
      pos_ = nl + 1;
      return true;
    }
    if (!fill()) return false;
  }
}

Transport::Read Transport::read(std::string& body, std::string& why) {
  std::string header;
  long long length = -1;
  why.clear();
  bool any = false;
  for (;;) {
    if (!line(header)) return any ? (why = "the input ended inside a header", Read::BadHeader) : Read::Eof;
    if (header.empty()) {
      if (!any) continue;  // blank lines between messages are tolerated
      break;
    }
    any = true;
    size_t colon = header.find(':');
    if (colon == std::string::npos) {
      if (why.empty()) why = "header line without a colon: " + header.substr(0, 80);
      continue;
    }
    std::string name = header.substr(0, colon);
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (name != "content-length") continue;  // Content-Type is the only other one, and optional
    std::string value = header.substr(colon + 1);
    size_t b = value.find_first_not_of(" \t"), e = value.find_last_not_of(" \t");
    value = b == std::string::npos ? "" : value.substr(b, e - b + 1);
    bool digits = !value.empty() && value.size() < 19;
    for (char c : value) digits = digits && std::isdigit(static_cast<unsigned char>(c));
    if (!digits) {
      why = "Content-Length is not a number: " + value.substr(0, 40);
      length = -1;
      continue;
    }
    length = std::stoll(value);
  }
  if (length < 0) {
    if (why.empty()) why = "no Content-Length header";
    return Read::BadHeader;
  }
  size_t want = static_cast<size_t>(length);
  if (want > kMaxBody) {
    // Skipped, so that the next message is found.
    while (want > 0) {
      if (pos_ == buf_.size() && !fill()) return Read::Eof;
      size_t take = std::min(want, buf_.size() - pos_);
      pos_ += take, want -= take;
    }
    why = "the message is larger than " + std::to_string(kMaxBody >> 20) + " MB";
    return Read::BadHeader;
  }
  while (buf_.size() - pos_ < want)
    if (!fill()) return why = "the input ended inside a message", Read::BadHeader;
  body.assign(buf_, pos_, want);
  pos_ += want;
  return Read::Message;
}

bool Transport::pending() {
  if (pos_ < buf_.size()) return true;
  pollfd p{in_, POLLIN, 0};
  return ::poll(&p, 1, 0) > 0;
}

bool Transport::write(const nlohmann::json& message) {
  // Invalid UTF-8 (from a file's bytes) is replaced rather than thrown on.
  std::string body = message.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  std::string out = "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  size_t done = 0;
  while (done < out.size()) {
    ssize_t n = ::write(out_, out.data() + done, out.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace bloom::lsp
