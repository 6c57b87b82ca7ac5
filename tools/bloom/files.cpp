#include "files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace bloom::cli {

bool replace_file(const std::string& path, const std::string& text, mode_t mode, std::string& why) {
  // A unique name (mkstemp: mode 0600 until fchmod), so two runs writing the same file do not
  // write into one temporary file.
  std::string tmp = path + ".tmp-XXXXXX";
  int fd = ::mkstemp(tmp.data());
  if (fd < 0) return why = std::string("cannot create a temporary file next to it: ") + std::strerror(errno), false;
  auto fail = [&](const char* what) {
    why = std::string(what) + ": " + std::strerror(errno);
    if (fd >= 0) ::close(fd);
    ::unlink(tmp.c_str());
    return false;
  };
  if (::fchmod(fd, mode) != 0) return fail("cannot set its permissions");
  for (size_t done = 0; done < text.size();) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail("write failed");
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) return fail("sync failed");
  const int closed = ::close(fd);
  fd = -1;
  if (closed != 0) return fail("write failed");
  if (::rename(tmp.c_str(), path.c_str()) != 0) return fail("cannot replace it");
  return true;
}

}  // namespace bloom::cli
