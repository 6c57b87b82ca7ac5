// JSON-RPC 2.0 messages in the Language Server Protocol's framing (a `Content-Length: N` header,
// a blank line, N bytes of JSON) over file descriptors: what `bloom lsp` reads and writes.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

namespace bloom::lsp {

// The JSON-RPC error codes the server answers with (LSP 3.17, "Error Codes").
enum ErrorCode {
  kParseError = -32700,
  kInvalidRequest = -32600,
  kMethodNotFound = -32601,
  kInvalidParams = -32602,
  kInternalError = -32603,
  kServerNotInitialized = -32002,
};

class Transport {
 public:
  Transport(int in, int out) : in_(in), out_(out) {}
  enum class Read { Message, BadHeader, Eof };
  // The next message's body. BadHeader: its header had no usable Content-Length (`why` says
  // what was wrong) and its body, if any, could not be found; reading goes on after it.
  Read read(std::string& body, std::string& why);
  // False when the client is gone (the pipe is closed).
  bool write(const nlohmann::json& message);
  // Whether more input is already waiting (so a message read now would not block).
  bool pending();

 private:
  bool fill();                  // more bytes into buf_; false at end of input
  bool line(std::string& out);  // one header line without its CR LF; false at end of input
  int in_, out_;
  std::string buf_;
  size_t pos_ = 0;
};

}  // namespace bloom::lsp
