// Replacing a file whole: every file bloom writes over an older one (output CSV files, `bloom
// fmt -i`, deployment files, the durable state's snapshot, the JIT's code cache) goes through
// here, so that a reader, or a crash, finds the old contents or the new, never a part of either.
#pragma once
#include <sys/types.h>

#include <functional>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>

namespace bloom::rt {

struct ReplaceOptions {
  // The new file's permission bits, exactly (fchmod before the first byte is written: a secret
  // key is never readable by others, not even for a moment). Unset: 0666 less the umask, as for
  // any new file.
  std::optional<mode_t> mode;
  // fsync the file before the rename and its folder after it, so that the new contents survive
  // a power loss once replace_file returns. Off for files that are derived again on the next run
  // (a tick's outputs, a cache), where a sync per write would cost more than it saves.
  bool sync = true;
};

// Writes all of `bytes` to `fd` (again after a partial write or EINTR); false with errno set on
// failure.
bool write_all(int fd, std::string_view bytes);

// Replaces `path` with `bytes`: written to a temporary file beside it (`path.tmp-PID-N`, a name
// no other writer uses), then renamed over `path`. On failure nothing is left behind, `path` is
// as it was, and `why` says which step failed and the system's reason.
bool replace_file(const std::string& path, std::string_view bytes, const ReplaceOptions& options, std::string& why);

// The same with the contents streamed by `write` (large outputs are never held in memory whole).
// An exception from `write` removes the temporary file and propagates.
bool replace_file(const std::string& path, const std::function<void(std::ostream&)>& write, const ReplaceOptions& options,
                  std::string& why);

}  // namespace bloom::rt
