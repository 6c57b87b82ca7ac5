#include "core/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <ostream>
#include <streambuf>
#include <vector>

namespace bloom::rt {
namespace {

// The system's reason for the last failure, with what failed.
std::string failed(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

// An ostream's buffer over a file descriptor: 64 KiB at a time, and the first write error kept
// (the stream only knows that it failed; the reason is errno at that moment).
class FdBuf : public std::streambuf {
 public:
  explicit FdBuf(int fd) : fd_(fd), buf_(size_t{1} << 16) { setp(buf_.data(), buf_.data() + buf_.size()); }
  int error() const { return error_; }
  bool flush_all() { return sync() == 0; }

 protected:
  int_type overflow(int_type c) override {
    if (sync() != 0) return traits_type::eof();
    if (!traits_type::eq_int_type(c, traits_type::eof())) {
      *pptr() = traits_type::to_char_type(c);
      pbump(1);
    }
    return traits_type::not_eof(c);
  }
  int sync() override {
    if (error_) return -1;
    if (!write_all(fd_, std::string_view(pbase(), static_cast<size_t>(pptr() - pbase())))) {
      error_ = errno;
      return -1;
    }
    setp(buf_.data(), buf_.data() + buf_.size());
    return 0;
  }

 private:
  int fd_;
  int error_ = 0;
  std::vector<char> buf_;
};

// The folder of `path`, to sync after a rename in it.
std::string folder_of(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// The temporary file and its descriptor, removed on destruction unless committed.
struct Temp {
  std::string path;
  int fd = -1;
  bool keep = false;
  ~Temp() {
    if (fd >= 0) ::close(fd);
    if (!keep && !path.empty()) ::unlink(path.c_str());
  }
};

// Creates the temporary file beside `path` under a name no other writer (thread or process)
// uses: O_EXCL, with this process's id and a counter.
bool create_temp(const std::string& path, const ReplaceOptions& options, Temp& t, std::string& why) {
  static std::atomic<uint64_t> counter{0};
  for (int attempt = 0; attempt < 100; ++attempt) {
    std::string name = path + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
    int fd = ::open(name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, options.mode ? *options.mode : 0666);
    if (fd >= 0) {
      t.path = std::move(name);
      t.fd = fd;
      // open() applies the umask; an explicit mode is meant exactly.
      if (options.mode && ::fchmod(fd, *options.mode) != 0) return why = failed("cannot set its permissions"), false;
      return true;
    }
    if (errno != EEXIST) return why = failed("cannot create a temporary file next to it"), false;
  }
  return why = "cannot create a temporary file next to it: every name tried exists", false;
}

// Syncs and closes the written temporary file, renames it over `path` and syncs the folder.
bool commit(const std::string& path, const ReplaceOptions& options, Temp& t, std::string& why) {
  if (options.sync && ::fsync(t.fd) != 0) return why = failed("sync failed"), false;
  const int closed = ::close(t.fd);
  t.fd = -1;
  if (closed != 0) return why = failed("write failed"), false;
  if (::rename(t.path.c_str(), path.c_str()) != 0) return why = failed("cannot replace it"), false;
  t.keep = true;
  if (options.sync) {
    // The rename is durable once the folder is: without this a crash can bring back the old file.
    int dir = ::open(folder_of(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0) return why = failed("replaced, but its folder cannot be opened to sync it"), false;
    const int rc = ::fsync(dir);
    const int err = errno;
    ::close(dir);
    errno = err;
    if (rc != 0) return why = failed("replaced, but its folder cannot be synced"), false;
  }
  return true;
}

}  // namespace

bool write_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (n == 0) errno = EIO;
      return false;
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

bool replace_file(const std::string& path, std::string_view bytes, const ReplaceOptions& options, std::string& why) {
  Temp t;
  if (!create_temp(path, options, t, why)) return false;
  if (!write_all(t.fd, bytes)) return why = failed("write failed"), false;
  return commit(path, options, t, why);
}

bool replace_file(const std::string& path, const std::function<void(std::ostream&)>& write, const ReplaceOptions& options,
                  std::string& why) {
  Temp t;
  if (!create_temp(path, options, t, why)) return false;
  FdBuf buf(t.fd);
  std::ostream out(&buf);
  write(out);  // an exception leaves through ~Temp, which removes the file
  if (!buf.flush_all() || !out) {
    errno = buf.error() ? buf.error() : EIO;
    return why = failed("write failed"), false;
  }
  return commit(path, options, t, why);
}

}  // namespace bloom::rt
