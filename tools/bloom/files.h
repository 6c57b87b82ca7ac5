// Files the command line writes for the user (`bloom fmt -i`, `bloom deploy -o`).
#pragma once
#include <sys/types.h>

#include <string>

namespace bloom::cli {

// Replaces the file `path` with `text`: written to a temporary file beside it that is created
// with the permission bits `mode` (never readable by others even for a moment, when `mode` says
// so), synced, then renamed over `path`. A reader, or a crash, sees the old file or the new one,
// never a part. On failure nothing is left behind and `why` says what failed.
bool replace_file(const std::string& path, const std::string& text, mode_t mode, std::string& why);

}  // namespace bloom::cli
