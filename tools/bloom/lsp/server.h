// `bloom lsp`: a Language Server (LSP 3.17) on stdin/stdout: diagnostics of the checker and the
// lint as the buffer changes, hover, go to definition, document symbols, quick fixes and
// formatting (docs/tools.md). Returns the exit status: 0 after shutdown then exit, 1 otherwise.
#pragma once
#include <string>

namespace bloom::lsp {

int run_server(int in, int out, const std::string& version);

}  // namespace bloom::lsp
