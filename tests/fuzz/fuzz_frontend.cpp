// bloom_fuzz: an in-process mutation fuzzer for the compiler front end (bloom::compile_text) and the
// lowering to the Plan IR (bloom::plan_of).
//
// g++ has no libFuzzer, so this is the loop: load every *.bloom file under the given folders as
// seeds, mutate one (1-4 random byte-, token- and line-level mutations, splices from other seeds,
// dictionary tokens of the language, pathological inputs such as 5000 nested parentheses or huge
// integers), compile it, render its diagnostics, and keep inputs that produced a diagnostic
// behaviour not seen before as further material to mutate. Everything is deterministic given
// --seed (only --seconds makes the number of iterations depend on the machine).
//
// Failures it detects:
//   * crashes and sanitizer reports (build with -DBLOOM_SANITIZE=ON): the input is written to
//     a file before every compile, and copied to DIR/crash-*.bloom when the process dies;
//   * hangs: a watchdog thread aborts the process when one compile runs longer than --timeout
//     seconds (default 10), after printing the stack of the hung compile and saving the input;
//   * an exception escaping compile_text (exit status 1, input saved).
// Soft findings (reported, saved, but not fatal unless --strict): a compilation that is not ok()
// but reported no error, and diagnostics whose span points outside the compiled sources.
//
// Usage: bloom_fuzz [options] SEED_DIR...   (see tests/fuzz/README.md)
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <condition_variable>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_set>
#include <vector>

#include <execinfo.h>
#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#include "driver/driver.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#define BLOOM_FUZZ_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#include <sanitizer/common_interface_defs.h>
#define BLOOM_FUZZ_ASAN 1
#endif
#endif
#ifndef BLOOM_FUZZ_ASAN
#define BLOOM_FUZZ_ASAN 0
#endif

namespace fs = std::filesystem;

// UBSan (a runtime separate from ASan's in g++ builds, so ASan's death callback does not see it)
// is told to print a stack and abort(): the SIGABRT handler below then saves the input.
// UBSAN_OPTIONS set by the user still take precedence.
extern "C" const char* __ubsan_default_options() { return "print_stacktrace=1:halt_on_error=1:abort_on_error=1"; }

namespace {

// ------------------------------------------------------------------------------------------
// Deterministic random numbers (xoshiro256**, seeded by splitmix64): the same on every platform
// and standard library, unlike std::uniform_int_distribution.
class Rng {
 public:
  explicit Rng(uint64_t seed) {
    for (auto& w : s_) {
      seed += 0x9e3779b97f4a7c15ULL;
      uint64_t z = seed;
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
      w = z ^ (z >> 31);
    }
  }
  uint64_t next() {
    const uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }
  // Uniform in [0, n); n == 0 gives 0.
  size_t below(size_t n) {
    if (n <= 1) return 0;
    const uint64_t lim = UINT64_MAX - UINT64_MAX % n;
    uint64_t r;
    do r = next();
    while (r >= lim);
    return static_cast<size_t>(r % n);
  }
  size_t range(size_t lo, size_t hi) { return lo + below(hi - lo + 1); }  // inclusive
  bool chance(unsigned one_in) { return below(one_in) == 0; }
  template <class T>
  const T& pick(const std::vector<T>& v) {
    return v[below(v.size())];
  }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

// ------------------------------------------------------------------------------------------
// Options

struct Options {
  double seconds = 0;       // 0 = no time limit
  uint64_t iterations = 0;  // 0 = no iteration limit
  uint64_t seed = 1;
  size_t max_len = 16 * 1024;
  double timeout = 10;      // seconds per compile before the watchdog fires
  double report_every = 5;  // seconds between progress lines
  std::string save_dir;     // --save-crashes
  std::vector<std::string> replay;
  std::vector<std::string> seed_dirs;
  bool strict = false;      // soft findings are failures
  bool keep_going = false;  // exceptions are counted and saved, not fatal at once
  bool keep_workdir = false;
  bool verbose = false;
};

[[noreturn]] void usage(int code) {
  std::fprintf(code ? stderr : stdout,
               "usage: bloom_fuzz [options] SEED_DIR...\n"
               "       bloom_fuzz --replay FILE [--replay FILE...]\n"
               "Mutation fuzzer for bloom::compile_text. Seeds are the *.bloom files under SEED_DIRs\n"
               "(missing folders are skipped).\n"
               "  --seconds N        stop after N seconds (default: 60 unless --iterations is given)\n"
               "  --iterations N     stop after N compiles\n"
               "  --seed S           random seed (default 1); a run is deterministic given S\n"
               "  --max-len BYTES    maximum input size (default 16384)\n"
               "  --timeout SECS     a compile taking longer is a hang (default 10)\n"
               "  --save-crashes DIR write DIR/current.bloom before every compile and keep failing\n"
               "                     inputs as DIR/{crash,hang,exception,finding}-SEED-ITER.bloom\n"
               "  --replay FILE      compile FILE once the way the fuzzer does, print its diagnostics\n"
               "  --strict           soft findings (not ok() without an error, bad spans) fail the run\n"
               "  --keep-going       after an exception (or a --strict finding), save the input and go on;\n"
               "                     each distinct message is reported once, the exit status is 1 at the end\n"
               "  --report-every S   seconds between progress lines (default 5)\n"
               "  --keep-workdir     do not delete the temporary working directory\n"
               "  -v, --verbose      print every saved finding's diagnostics\n");
  std::exit(code);
}

Options parse_args(int argc, char** argv) {
  Options o;
  auto need = [&](int& i) -> std::string {
    if (i + 1 >= argc) {
      std::fprintf(stderr, "bloom_fuzz: %s needs a value\n", argv[i]);
      usage(2);
    }
    return argv[++i];
  };
  auto num = [&](const std::string& flag, const std::string& v) -> double {
    char* end = nullptr;
    double d = std::strtod(v.c_str(), &end);
    if (v.empty() || *end != '\0' || d < 0) {
      std::fprintf(stderr, "bloom_fuzz: bad value for %s: '%s'\n", flag.c_str(), v.c_str());
      usage(2);
    }
    return d;
  };
  bool seconds_given = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--seconds") {
      o.seconds = num(a, need(i));
      seconds_given = true;
    } else if (a == "--iterations") o.iterations = static_cast<uint64_t>(num(a, need(i)));
    else if (a == "--seed") o.seed = std::strtoull(need(i).c_str(), nullptr, 0);
    else if (a == "--max-len") o.max_len = static_cast<size_t>(num(a, need(i)));
    else if (a == "--timeout") o.timeout = num(a, need(i));
    else if (a == "--report-every") o.report_every = num(a, need(i));
    else if (a == "--save-crashes") o.save_dir = need(i);
    else if (a == "--replay") o.replay.push_back(need(i));
    else if (a == "--strict") o.strict = true;
    else if (a == "--keep-going") o.keep_going = true;
    else if (a == "--keep-workdir") o.keep_workdir = true;
    else if (a == "-v" || a == "--verbose") o.verbose = true;
    else if (a == "-h" || a == "--help") usage(0);
    else if (!a.empty() && a[0] == '-') {
      std::fprintf(stderr, "bloom_fuzz: unknown option %s\n", a.c_str());
      usage(2);
    } else o.seed_dirs.push_back(a);
  }
  if (!seconds_given && o.iterations == 0) o.seconds = 60;
  if (o.max_len < 64) o.max_len = 64;
  if (o.timeout <= 0) o.timeout = 10;
  if (o.report_every <= 0) o.report_every = 5;
  return o;
}

// ------------------------------------------------------------------------------------------
// Crash bookkeeping. Everything the signal handlers touch is prepared in advance (fixed paths,
// the input buffer), and they only use write()/open()/close().

std::string g_current_path;  // the input of the compile in progress is on disk here
std::string g_save_dir;      // "" = do not keep crash inputs
char g_crash_path[4096];     // where the death handler copies the input
char g_hang_path[4096];
const char* g_input_data = nullptr;  // the input of the compile in progress
size_t g_input_size = 0;
std::atomic<bool> g_in_compile{false};
std::atomic<bool> g_hang{false};
std::atomic<bool> g_dying{false};
std::atomic<int64_t> g_compile_start_ns{0};
std::atomic<uint64_t> g_iteration{0};
pthread_t g_main_thread;

void write_str(int fd, const char* s) {
  size_t n = std::strlen(s);
  while (n > 0) {
    ssize_t w = ::write(fd, s, n);
    if (w <= 0) return;
    s += w;
    n -= static_cast<size_t>(w);
  }
}

bool write_file_raw(const char* path, const char* data, size_t size) {
  int fd = ::open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return false;
  bool ok = true;
  while (size > 0) {
    ssize_t w = ::write(fd, data, size);
    if (w <= 0) {
      ok = false;
      break;
    }
    data += w;
    size -= static_cast<size_t>(w);
  }
  ::close(fd);
  return ok;
}

void fmt_u64(char* buf, uint64_t v) {  // async-signal-safe decimal
  char tmp[24];
  int n = 0;
  do {
    tmp[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v);
  for (int i = 0; i < n; ++i) buf[i] = tmp[n - 1 - i];
  buf[n] = 0;
}

void print_stack_from_handler() {
#if BLOOM_FUZZ_ASAN
  __sanitizer_print_stack_trace();
#else
  void* frames[128];
  int n = backtrace(frames, 128);
  backtrace_symbols_fd(frames, n, STDERR_FILENO);
#endif
}

// Saves the in-flight input next to the crash report and says how to reproduce it.
void report_dying_input(const char* what) {
  if (g_dying.exchange(true)) return;
  write_str(STDERR_FILENO, "\n==bloom_fuzz== ");
  write_str(STDERR_FILENO, what);
  char num[24];
  fmt_u64(num, g_iteration.load());
  write_str(STDERR_FILENO, " at iteration ");
  write_str(STDERR_FILENO, num);
  write_str(STDERR_FILENO, "\n");
  if (!g_in_compile.load() || g_input_data == nullptr) {
    write_str(STDERR_FILENO, "==bloom_fuzz== (not inside compile_text)\n");
    return;
  }
  const char* saved = g_current_path.c_str();
  if (g_crash_path[0] && write_file_raw(g_crash_path, g_input_data, g_input_size)) saved = g_crash_path;
  write_str(STDERR_FILENO, "==bloom_fuzz== input saved to ");
  write_str(STDERR_FILENO, saved);
  write_str(STDERR_FILENO, "\n==bloom_fuzz== reproduce with: bloom_fuzz --replay ");
  write_str(STDERR_FILENO, saved);
  write_str(STDERR_FILENO, "\n");
}

#if BLOOM_FUZZ_ASAN
void sanitizer_death_callback() { report_dying_input("sanitizer report (see above)"); }
#endif

void fatal_signal_handler(int sig) {
  if (sig == SIGABRT && g_hang.load()) {
    write_str(STDERR_FILENO, "==bloom_fuzz== stack of the hung compile:\n");
    print_stack_from_handler();
  } else {
    report_dying_input(sig == SIGABRT   ? "abort (SIGABRT)"
                       : sig == SIGSEGV ? "crash (SIGSEGV)"
                       : sig == SIGBUS  ? "crash (SIGBUS)"
                       : sig == SIGFPE  ? "crash (SIGFPE)"
                       : sig == SIGILL  ? "crash (SIGILL)"
                                        : "fatal signal");
    print_stack_from_handler();
  }
  std::signal(sig, SIG_DFL);
  ::raise(sig);
}

void install_crash_handlers() {
  // An alternate stack, so a stack overflow (deep nesting) still reaches the handler.
  static std::vector<char> alt(1 << 16);
  stack_t ss{};
  ss.ss_sp = alt.data();
  ss.ss_size = alt.size();
  ::sigaltstack(&ss, nullptr);

  struct sigaction sa {};
  sa.sa_handler = fatal_signal_handler;
  sa.sa_flags = SA_ONSTACK | SA_RESETHAND;
  sigemptyset(&sa.sa_mask);
  // ASan reports SEGV/BUS/FPE itself (with a symbolized stack); it leaves SIGABRT alone.
  ::sigaction(SIGABRT, &sa, nullptr);
#if BLOOM_FUZZ_ASAN
  __sanitizer_set_death_callback(sanitizer_death_callback);
#else
  ::sigaction(SIGSEGV, &sa, nullptr);
  ::sigaction(SIGBUS, &sa, nullptr);
  ::sigaction(SIGFPE, &sa, nullptr);
  ::sigaction(SIGILL, &sa, nullptr);
  void* warm[4];
  backtrace(warm, 4);  // loads libgcc now: backtrace() may allocate on its first call
#endif
}

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// The watchdog: when one compile runs longer than the timeout, save the input, then signal the
// main thread so its SIGABRT handler prints the stack of the hung compile and the process dies.
class Watchdog {
 public:
  explicit Watchdog(double timeout_s) : timeout_ns_(static_cast<int64_t>(timeout_s * 1e9)) {
    thread_ = std::thread([this] { run(); });
  }
  ~Watchdog() {
    {
      std::lock_guard<std::mutex> lk(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  void run() {
    std::unique_lock<std::mutex> lk(mu_);
    while (!stop_) {
      cv_.wait_for(lk, std::chrono::milliseconds(100));
      if (stop_) break;
      int64_t start = g_compile_start_ns.load();
      if (start == 0 || now_ns() - start < timeout_ns_) continue;
      fire(now_ns() - start);
    }
  }
  [[noreturn]] void fire(int64_t elapsed_ns) {
    g_hang.store(true);
    g_dying.store(true);
    char num[24];
    std::string msg = "\n==bloom_fuzz== HANG: one compile_text call has run for " + std::to_string(elapsed_ns / 1000000000) + " s (limit " +
                      std::to_string(timeout_ns_ / 1000000000) + " s) at iteration ";
    fmt_u64(num, g_iteration.load());
    msg += num;
    msg += "\n";
    write_str(STDERR_FILENO, msg.c_str());
    const char* saved = g_current_path.c_str();
    if (g_hang_path[0] && g_input_data && write_file_raw(g_hang_path, g_input_data, g_input_size)) saved = g_hang_path;
    msg = std::string("==bloom_fuzz== input saved to ") + saved + "\n==bloom_fuzz== reproduce with: bloom_fuzz --replay " + saved + "\n";
    write_str(STDERR_FILENO, msg.c_str());
    pthread_kill(g_main_thread, SIGABRT);
    std::this_thread::sleep_for(std::chrono::seconds(10));
    write_str(STDERR_FILENO, "==bloom_fuzz== the hung thread did not die; exiting\n");
    ::_exit(3);
  }

  int64_t timeout_ns_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

// ------------------------------------------------------------------------------------------
// Files

bool read_file(const fs::path& p, std::string& out) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return false;
  std::ostringstream ss;
  ss << in.rdbuf();
  out = ss.str();
  return true;
}

bool write_file(const fs::path& p, std::string_view data) { return write_file_raw(p.c_str(), data.data(), data.size()); }

struct Seed {
  std::string name;  // path, for messages
  std::string text;
};

std::vector<Seed> load_seeds(const std::vector<std::string>& dirs, size_t max_len) {
  std::vector<Seed> seeds;
  std::set<std::string> seen_text;
  for (const auto& d : dirs) {
    std::error_code ec;
    if (!fs::exists(d, ec)) {
      std::fprintf(stderr, "bloom_fuzz: seed folder %s does not exist; skipped\n", d.c_str());
      continue;
    }
    std::vector<fs::path> files;
    if (fs::is_regular_file(d, ec)) {
      files.push_back(d);
    } else {
      fs::recursive_directory_iterator it(d, fs::directory_options::skip_permission_denied, ec), end;
      for (; !ec && it != end; it.increment(ec)) {
        std::error_code ec2;
        if (it->is_regular_file(ec2) && it->path().extension() == ".bloom") files.push_back(it->path());
      }
    }
    std::sort(files.begin(), files.end());  // directory order is not deterministic
    for (const auto& f : files) {
      std::string text;
      if (!read_file(f, text)) continue;
      if (text.size() > max_len) text.resize(max_len);
      if (!seen_text.insert(text).second) continue;
      seeds.push_back({f.string(), std::move(text)});
    }
  }
  return seeds;
}

// Modules the inputs can import from the fuzzer's working directory (tests/fuzz/seeds has the
// same files, so the seeds also check outside the fuzzer).
const char* const kLibModule =
    "// A small module for `import \"lib.bloom\" as l;`\n"
    "param rounds: int = 3;\n"
    "const limit = 10;\n"
    "table store(k: string, v: int) key(k);\n"
    "input put(k: string, v: int);\n"
    "output got(k: string, v: int);\n"
    "lattice best: lmax<int>;\n"
    "store(k, v) <+- put(k, v), v < limit;\n"
    "got(k, v) <= store(k, v);\n"
    "best(v) <= store(_, v);\n";
const char* const kCycA = "import \"cyc_b.bloom\" as b;\ntable a(x: int);\na(x) <= b.b(x);\n";
const char* const kCycB = "import \"cyc_a.bloom\" as a;\ntable b(x: int);\nb(x) <= a.a(x);\n";
const char* const kBadModule = "table broken(x: int;\nbroken(1) <= ;\n";

// ------------------------------------------------------------------------------------------
// Mutations

const std::vector<std::string>& dictionary() {
  static const std::vector<std::string> d = {
      // keywords (and contextual keywords)
      "import",
      "as",
      "param",
      "const",
      "table",
      "scratch",
      "channel",
      "input",
      "output",
      "periodic",
      "lattice",
      "key",
      "every",
      "not",
      "in",
      "and",
      "or",
      "true",
      "false",
      // merge operators and their neighbours
      "<=",
      "<+",
      "<-",
      "<+-",
      "<~",
      "< -",
      "<+ -",
      "<<=",
      "=<",
      "<=>",
      "<~~",
      // operators and punctuation
      ">=",
      "==",
      "!=",
      "<",
      ">",
      "=",
      "!",
      "+",
      "-",
      "*",
      "/",
      "%",
      "(",
      ")",
      ",",
      ";",
      ":",
      ".",
      "@",
      "@@",
      "()",
      "(,)",
      ";;",
      "_",
      "__",
      "\"",
      "\\",
      "/*",
      "*/",
      "//",
      "/**/",
      "\"\"",
      "\"\\n\\t\\\"\\\\\"",
      "\"\\q\"",
      "\"\\",
      "\n",
      "\r\n",
      "\t",
      " ",
      // types
      "int",
      "float",
      "string",
      "bool",
      "addr",
      "lmax<",
      "lmin<",
      "lbool",
      "lset<",
      "lmap<",
      "lmax<int>",
      "lmin<float>",
      "lset<string>",
      "lmap<string, lmax<int>>",
      "lset<lset<int>>",
      "lmap<",
      ">>",
      "<int>",
      "void",
      "any",
      // built-ins, aggregates, lattice methods
      "stdout",
      "halt",
      "halt()",
      "count()",
      "count",
      "sum(",
      "min(",
      "max(",
      "avg(",
      "collect(",
      "to_string(",
      "to_int(",
      "len(",
      "substr(",
      "hash(",
      "least(",
      "greatest(",
      "self()",
      "tick()",
      "now()",
      ".value()",
      ".size()",
      ".contains(",
      ".at(",
      ".keys()",
      ".intersect(",
      ".union(",
      ".merge(",
      "value",
      "size",
      // literals, numbers at and beyond the 64-bit limits, durations
      "0",
      "1",
      "-1",
      "3",
      "007",
      "9223372036854775807",
      "-9223372036854775808",
      "9223372036854775808",
      "18446744073709551616",
      "99999999999999999999",
      "1.5",
      "0.0",
      "1e308",
      "1e999",
      "-1e999",
      "1e-999",
      "1.",
      ".5",
      "1e",
      "1e+",
      "250ms",
      "2s",
      "1m",
      "1h",
      "0ms",
      "10min",
      "99999999999999999999ms",
      "9223372036854775807h",
      "1.5s",
      "1x",
      // bytes a lexer must survive
      std::string(1, '\0'),
      "\xff",
      "\xc3\xa9",
      "\xe2\x82\xac",
      "\xf0\x9f\x8c\xb8",
      "\xc3",
      "\x7f",
      "\x1b",
      "\v",
      "\f",
      "$",
      "#",
      "`",
      "?",
      "[",
      "]",
      "{",
      "}",
      "~",
      "^",
      "&",
      "|",
      "'",
      // whole snippets
      "x <= y",
      "t(x) <= t(x);",
      "not t(x)",
      "x in s",
      "x = 1",
      "@self()",
      "@x",
      "table t(x: int);",
      "lattice l: lbool;",
      "periodic p every 1s;",
      "import \"lib.bloom\" as l;",
      "import \"cyc_a.bloom\" as c;",
      "import \"bad.bloom\" as b;",
      "import \"missing.bloom\" as m;",
      "import \"lib.bloom\" as lib;",
      "import \".\" as d;",
      "import \"\" as e;",
      "l.store",
      "l.rounds",
      "lib.got(k, v)",
      "key(k)",
      "key()",
      "key(nosuch)",
  };
  return d;
}

bool is_ident_start(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool is_ident_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

struct Tok {
  size_t pos, len;
};

std::vector<Tok> identifiers(const std::string& s) {
  std::vector<Tok> out;
  for (size_t i = 0; i < s.size();) {
    if (is_ident_start(s[i]) && (i == 0 || !is_ident_char(s[i - 1]))) {
      size_t j = i;
      while (j < s.size() && is_ident_char(s[j])) ++j;
      out.push_back({i, j - i});
      i = j;
    } else {
      ++i;
    }
  }
  return out;
}

std::vector<Tok> numbers(const std::string& s) {
  std::vector<Tok> out;
  for (size_t i = 0; i < s.size();) {
    if (std::isdigit(static_cast<unsigned char>(s[i])) && (i == 0 || !is_ident_char(s[i - 1]))) {
      size_t j = i;
      while (j < s.size() && (is_ident_char(s[j]) || s[j] == '.')) ++j;
      out.push_back({i, j - i});
      i = j;
    } else {
      ++i;
    }
  }
  return out;
}

std::vector<Tok> lines(const std::string& s) {
  std::vector<Tok> out;
  size_t start = 0;
  for (size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || s[i] == '\n') {
      size_t end = i < s.size() ? i + 1 : i;
      if (end > start) out.push_back({start, end - start});
      start = end;
    }
  }
  return out;
}

class Mutator {
 public:
  Mutator(Rng& rng, size_t max_len) : rng_(rng), max_len_(max_len) {}

  // `pool` is where splices come from (seeds and corpus).
  // Half of the inputs get only token- and line-level mutations, which mostly keep the text
  // parseable, so that name resolution, types, safety and stratification see them too.
  std::string mutate(std::string s, const std::vector<const std::string*>& pool) {
    const size_t n = rng_.range(1, 4);
    const bool gentle = rng_.chance(2);
    for (size_t i = 0; i < n; ++i) {
      mutate_once(s, pool, gentle);
      if (s.size() > max_len_) s.resize(max_len_);
    }
    return s;
  }

 private:
  size_t pos(const std::string& s) { return rng_.below(s.size() + 1); }

  char random_byte() {
    static const char interesting[] = "()<>=+-~@,;:.\"\\/*!%_ \n\t0123456789aeiklmnoprstxyz";
    switch (rng_.below(4)) {
      case 0: return static_cast<char>(rng_.below(256));
      case 1: return static_cast<char>(32 + rng_.below(95));
      default: return interesting[rng_.below(sizeof(interesting) - 1)];
    }
  }

  size_t size_choice() {
    static const size_t sizes[] = {2, 10, 100, 1000, 5000, 20000};
    size_t s = sizes[rng_.below(std::size(sizes))];
    return std::min(s, std::max<size_t>(max_len_ / 2, 2));
  }

  std::string long_identifier() {
    std::string id(1, static_cast<char>('a' + rng_.below(26)));
    size_t n = size_choice();
    while (id.size() < n) id += static_cast<char>(rng_.chance(4) ? '_' : 'a' + rng_.below(26));
    return id;
  }

  std::string huge_integer() {
    std::string v = rng_.chance(3) ? "-" : "";
    size_t n = rng_.chance(2) ? rng_.range(19, 25) : size_choice();
    for (size_t i = 0; i < n; ++i) v += static_cast<char>('0' + (i == 0 ? 1 + rng_.below(9) : rng_.below(10)));
    if (rng_.chance(4)) v += rng_.pick(std::vector<std::string>{"ms", "s", "m", "h", ".5", "e9"});
    return v;
  }

  static std::string repeat(std::string first, const std::string& piece, size_t n) {
    for (size_t i = 0; i < n; ++i) first += piece;
    return first;
  }

  // Pathologically nested or long constructs, wrapped around `inner`.
  std::string deep(const std::string& inner) {
    const size_t n = size_choice();
    std::string out;
    switch (rng_.below(10)) {
      case 0: out = std::string(n, '(') + inner + std::string(n, ')'); break;
      case 1: out = std::string(n, '('); break;  // unbalanced
      case 2: out = std::string(n, ')'); break;
      case 3: out = std::string(n, '-') + inner; break;
      case 4: out = std::string(n, '!') + inner; break;
      case 5: out = repeat(inner, " + " + inner, n); break;
      case 6: out = repeat(inner, ".size()", n); break;
      case 7: out = repeat("", "lset<", n) + "int" + std::string(n, '>'); break;
      case 8: out = repeat("", "not ", n) + inner; break;
      default: out = repeat(inner, ", " + inner, n); break;
    }
    return out;
  }

  // Keyword-sized tokens and snippets inserted between two tokens (at a space or line break).
  void insert_between_tokens(std::string& s) {
    std::vector<size_t> gaps;
    for (size_t i = 0; i < s.size(); ++i)
      if (s[i] == ' ' || s[i] == '\n' || s[i] == ',' || s[i] == '(') gaps.push_back(i + 1);
    const std::string& tok = rng_.pick(dictionary());
    size_t at = gaps.empty() ? pos(s) : gaps[rng_.below(gaps.size())];
    s.insert(at, tok + " ");
  }

  void mutate_once(std::string& s, const std::vector<const std::string*>& pool, bool gentle) {
    static const unsigned kGentle[] = {9, 9, 9, 10, 13, 14, 15, 15, 17, 18, 18};
    const unsigned choice = gentle ? kGentle[rng_.below(std::size(kGentle))] : static_cast<unsigned>(rng_.below(19));
    switch (choice) {
      case 0:  // flip a bit
        if (!s.empty()) s[rng_.below(s.size())] ^= static_cast<char>(1u << rng_.below(8));
        break;
      case 1:  // insert random bytes
        s.insert(pos(s), rng_.chance(4) ? std::string(rng_.range(1, 8), random_byte()) : std::string(1, random_byte()));
        break;
      case 2:  // overwrite a byte
        if (!s.empty()) s[rng_.below(s.size())] = random_byte();
        break;
      case 3: {  // delete a range
        if (s.empty()) break;
        size_t p = rng_.below(s.size());
        size_t len = rng_.chance(3) ? rng_.range(1, s.size() - p) : rng_.range(1, std::min<size_t>(16, s.size() - p));
        s.erase(p, len);
        break;
      }
      case 4: {  // duplicate a range elsewhere
        if (s.empty()) break;
        size_t p = rng_.below(s.size());
        size_t len = rng_.range(1, std::min<size_t>(256, s.size() - p));
        std::string piece = s.substr(p, len);
        s.insert(pos(s), piece);
        break;
      }
      case 5:
      case 6: {  // splice a range from another input
        const std::string& other = *pool[rng_.below(pool.size())];
        if (other.empty()) break;
        size_t p = rng_.below(other.size());
        size_t len = rng_.range(1, std::min<size_t>(512, other.size() - p));
        if (rng_.chance(2) && !s.empty()) {  // replace a range of ours
          size_t q = rng_.below(s.size());
          s.replace(q, rng_.range(0, std::min<size_t>(64, s.size() - q)), other, p, len);
        } else {
          s.insert(pos(s), other, p, len);
        }
        break;
      }
      case 7:
      case 8: {  // insert a dictionary token, often with spaces around it
        std::string tok = rng_.pick(dictionary());
        if (rng_.chance(2)) tok = " " + tok + " ";
        s.insert(pos(s), tok);
        break;
      }
      case 9: {  // replace an identifier with another identifier or a keyword
        auto ids = identifiers(s);
        if (ids.empty()) break;
        const Tok& t = ids[rng_.below(ids.size())];
        std::string repl;
        if (rng_.chance(2)) {
          const Tok& u = ids[rng_.below(ids.size())];
          repl = s.substr(u.pos, u.len);
        } else {
          repl = rng_.pick(dictionary());
        }
        s.replace(t.pos, t.len, repl);
        break;
      }
      case 10: {  // replace a number with an interesting one
        auto nums = numbers(s);
        std::string v =
            rng_.chance(2)
                ? huge_integer()
                : rng_.pick(std::vector<std::string>{"0", "-1", "9223372036854775807", "-9223372036854775808", "9223372036854775808",
                                                     "99999999999999999999", "1e999", "0.0", "0ms", "1.5", "2s", "1m", "10min", "1x"});
        if (nums.empty()) s.insert(pos(s), v);
        else {
          const Tok& t = nums[rng_.below(nums.size())];
          s.replace(t.pos, t.len, v);
        }
        break;
      }
      case 11: {  // nest or lengthen around an identifier (keeps the input mostly valid)
        auto ids = identifiers(s);
        if (ids.empty()) {
          s.insert(pos(s), deep("x"));
          break;
        }
        const Tok& t = ids[rng_.below(ids.size())];
        std::string id = s.substr(t.pos, t.len);
        s.replace(t.pos, t.len, deep(id));
        break;
      }
      case 12:  // a very long identifier, or a huge integer
        s.insert(pos(s), rng_.chance(2) ? long_identifier() : huge_integer());
        break;
      case 13: {  // delete or duplicate a line
        auto ls = lines(s);
        if (ls.empty()) break;
        const Tok& l = ls[rng_.below(ls.size())];
        if (rng_.chance(2)) s.erase(l.pos, l.len);
        else s.insert(ls[rng_.below(ls.size())].pos, s.substr(l.pos, l.len));
        break;
      }
      case 14: {  // swap two lines
        auto ls = lines(s);
        if (ls.size() < 2) break;
        size_t a = rng_.below(ls.size()), b = rng_.below(ls.size());
        if (a == b) break;
        if (a > b) std::swap(a, b);
        std::string la = s.substr(ls[a].pos, ls[a].len), lb = s.substr(ls[b].pos, ls[b].len);
        if (!la.empty() && la.back() != '\n') la += '\n';
        if (!lb.empty() && lb.back() != '\n') lb += '\n';
        s.replace(ls[b].pos, ls[b].len, la);
        s.replace(ls[a].pos, ls[a].len, lb);
        break;
      }
      case 15: {  // insert a whole line of another input (declarations meet foreign rules)
        const std::string& other = *pool[rng_.below(pool.size())];
        auto lo = lines(other);
        if (lo.empty()) break;
        const Tok& l = lo[rng_.below(lo.size())];
        auto ls = lines(s);
        size_t at = ls.empty() ? 0 : (rng_.chance(2) ? ls[rng_.below(ls.size())].pos : s.size());
        std::string line = other.substr(l.pos, l.len);
        if (line.back() != '\n') line += '\n';
        if (at == s.size() && !s.empty() && s.back() != '\n') line = "\n" + line;
        s.insert(at, line);
        break;
      }
      case 16: {  // truncate (unterminated strings, comments, rules at end of file)
        if (s.empty()) break;
        s.resize(rng_.below(s.size()));
        if (rng_.chance(2)) s += rng_.pick(std::vector<std::string>{"\"abc", "/* open", "t(x) <=", "(", "// c", "lset<"});
        break;
      }
      case 18: insert_between_tokens(s); break;
      default: {  // replace a merge operator / comparison with another
        static const std::vector<std::string> ops = {"<=", "<+", "<-", "<+-", "<~", "==", "!=", "<", ">", ">=", "="};
        std::vector<size_t> at;
        for (size_t i = 0; i + 1 < s.size(); ++i)
          if ((s[i] == '<' || s[i] == '>' || s[i] == '=' || s[i] == '!')) at.push_back(i);
        if (at.empty()) break;
        size_t p = at[rng_.below(at.size())];
        size_t len = 1;
        while (p + len < s.size() && len < 3 && std::strchr("<>=!+-~", s[p + len])) ++len;
        s.replace(p, len, rng_.pick(ops));
        break;
      }
    }
  }

  Rng& rng_;
  size_t max_len_;
};

// ------------------------------------------------------------------------------------------
// Running one input

struct Outcome {
  bool ok = false;
  size_t errors = 0, warnings = 0;
  std::vector<uint64_t> features;
  std::string finding;  // non-empty: a soft finding (invariant violated)
  double ms = 0;
};

uint64_t fnv(std::string_view s, uint64_t h = 1469598103934665603ULL) {
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

int count_bucket(size_t n) { return n == 0 ? 0 : n == 1 ? 1 : n <= 3 ? 2 : n <= 7 ? 3 : n <= 31 ? 4 : 5; }

std::string check_invariants(const bloom::Compilation& c) {
  if (!c.ok() && !c.diags.has_errors())
    return "compilation is not ok() but reported no error (program " + std::string(c.program ? "set" : "null") + ", strata " +
           (c.strata ? "set" : "null") + ")";
  if (c.program && !c.graph) return "program is set but the dependency graph is null";
  for (const auto& d : c.diags.all()) {
    auto check = [&](const bloom::Span& s, const char* what) -> std::string {
      if (!s.valid()) return "";
      if (s.file >= c.sources.size())
        return std::string(what) + " of diagnostic [" + d.code + "] names file " + std::to_string(s.file) + " but only " +
               std::to_string(c.sources.size()) + " are loaded";
      const auto& f = c.sources.file(s.file);
      uint32_t last = f.line_count() + 1;
      if (s.line > last || s.end_line > last || (s.end_line != 0 && s.end_line < s.line) ||
          (s.end_line == s.line && s.end_col != 0 && s.end_col < s.col))
        return std::string(what) + " of diagnostic [" + d.code + "] is out of range: " + std::to_string(s.line) + ":" +
               std::to_string(s.col) + "-" + std::to_string(s.end_line) + ":" + std::to_string(s.end_col) + " in a file of " +
               std::to_string(f.line_count()) + " lines";
      return "";
    };
    if (auto m = check(d.span, "span"); !m.empty()) return m;
    for (const auto& n : d.notes)
      if (auto m = check(n.span, "note span"); !m.empty()) return m;
    if (d.code.empty()) return "a diagnostic has no code: " + d.message;
  }
  return "";
}

bloom::CompileOptions random_options(Rng& rng) {
  bloom::CompileOptions o;
  if (!rng.chance(8)) return o;
  static const std::vector<std::string> names = {"rounds", "l.rounds", "lib.rounds", "n", "", "x.y.z", "limit"};
  static const std::vector<std::string> values = {
      "3", "-1", "", "abc", "1.5", "true", "99999999999999999999", "\"q\"", "250ms", "9223372036854775807"};
  size_t n = rng.range(1, 3);
  for (size_t i = 0; i < n; ++i) o.params.emplace_back(rng.pick(names), rng.pick(values));
  return o;
}

// Compiles `text` the way every iteration does. Exceptions propagate to the caller.
Outcome run_one(const std::string& text, const bloom::CompileOptions& opts, std::string* rendered) {
  Outcome out;
  g_input_data = text.data();
  g_input_size = text.size();
  const int64_t t0 = now_ns();
  g_in_compile.store(true);
  g_compile_start_ns.store(t0);
  {
    auto c = bloom::compile_text("fuzz_input.bloom", text, opts);
    // Rendering walks every span into the source text: part of what is fuzzed.
    std::ostringstream ss;
    bloom::render_text(c->sources, c->diags, ss);
    std::string json = bloom::render_json(c->sources, c->diags);
    if (rendered) *rendered = ss.str();
    out.ok = c->ok();
    out.errors = c->diags.error_count();
    out.warnings = c->diags.warning_count();
    out.finding = check_invariants(*c);
    // A program that compiles must also lower to the Plan IR (lowering is fuzzed too).
    if (out.ok && out.finding.empty()) {
      std::string error;
      auto plan = bloom::plan_of(*c, error);
      if (!plan) out.finding = "compiled without errors but could not be planned: " + error;
      else out.features.push_back(fnv("planned", plan->strata.size()));
    }
    // Features: which diagnostics appeared (and roughly how often), and how far compilation got.
    std::vector<std::pair<std::string, size_t>> codes;
    for (const auto& d : c->diags.all()) {
      auto it = std::find_if(codes.begin(), codes.end(), [&](auto& p) { return p.first == d.code; });
      if (it == codes.end()) codes.emplace_back(d.code, 1);
      else ++it->second;
    }
    for (const auto& [code, n] : codes) {
      out.features.push_back(fnv(code));
      out.features.push_back(fnv(code, static_cast<uint64_t>(count_bucket(n)) * 7919 + 1));
    }
    std::string state = std::string("state:") + (c->program ? "P" : "-") + (c->graph ? "G" : "-") + (c->strata ? "S" : "-") +
                        (out.ok ? "ok" : "no") + std::to_string(count_bucket(out.warnings)) +
                        std::to_string(count_bucket(c->sources.size())) + (c->diags.dropped() ? "D" : "");
    out.features.push_back(fnv(state));
    if (!codes.empty()) out.features.push_back(fnv("first:" + codes.front().first + state));
  }
  const int64_t t1 = now_ns();
  g_compile_start_ns.store(0);
  g_in_compile.store(false);
  out.ms = static_cast<double>(t1 - t0) / 1e6;
  return out;
}

std::string make_workdir() {
  std::string tmpl = (fs::temp_directory_path() / "bloom_fuzz_XXXXXX").string();
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (!::mkdtemp(buf.data())) {
    std::perror("bloom_fuzz: mkdtemp");
    std::exit(2);
  }
  std::string dir = buf.data();
  write_file(fs::path(dir) / "lib.bloom", kLibModule);
  write_file(fs::path(dir) / "cyc_a.bloom", kCycA);
  write_file(fs::path(dir) / "cyc_b.bloom", kCycB);
  write_file(fs::path(dir) / "bad.bloom", kBadModule);
  fs::create_directory(fs::path(dir) / "dir.bloom");  // importing a folder must be refused
  return dir;
}

std::string abs_path(const std::string& p) {
  std::error_code ec;
  fs::path a = fs::absolute(p, ec);
  return ec ? p : a.lexically_normal().string();
}

void set_failure_paths(uint64_t seed, uint64_t iter) {
  g_crash_path[0] = g_hang_path[0] = '\0';
  if (g_save_dir.empty()) return;
  std::snprintf(g_crash_path, sizeof g_crash_path, "%s/crash-%" PRIu64 "-%" PRIu64 ".bloom", g_save_dir.c_str(), seed, iter);
  std::snprintf(g_hang_path, sizeof g_hang_path, "%s/hang-%" PRIu64 "-%" PRIu64 ".bloom", g_save_dir.c_str(), seed, iter);
}

std::string save_named(const std::string& kind, uint64_t seed, uint64_t iter, const std::string& text) {
  if (g_save_dir.empty()) return "";
  std::string p = g_save_dir + "/" + kind + "-" + std::to_string(seed) + "-" + std::to_string(iter) + ".bloom";
  return write_file(p, text) ? p : "";
}

int replay(const Options& o) {
  int status = 0;
  for (const auto& f : o.replay) {
    std::string text;
    if (!read_file(f, text)) {
      std::fprintf(stderr, "bloom_fuzz: cannot read %s\n", f.c_str());
      return 2;
    }
    // Same working directory layout as a fuzzing run, so imports resolve the same way.
    g_current_path = abs_path(f);
    std::string wd = make_workdir();
    fs::path old = fs::current_path();
    fs::current_path(wd);
    std::fprintf(stderr, "bloom_fuzz: replaying %s (%zu bytes) in %s\n", f.c_str(), text.size(), wd.c_str());
    std::string rendered;
    Outcome r;
    try {
      r = run_one(text, {}, &rendered);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "bloom_fuzz: FAILURE: exception escaped compile_text: %s\n", e.what());
      return 1;
    } catch (...) {
      std::fprintf(stderr, "bloom_fuzz: FAILURE: non-std exception escaped compile_text\n");
      return 1;
    }
    std::fwrite(rendered.data(), 1, rendered.size(), stdout);
    std::fprintf(stderr, "bloom_fuzz: %s: ok=%d errors=%zu warnings=%zu time=%.1f ms\n", f.c_str(), r.ok ? 1 : 0, r.errors, r.warnings,
                 r.ms);
    if (!r.finding.empty()) {
      std::fprintf(stderr, "bloom_fuzz: FINDING: %s\n", r.finding.c_str());
      if (o.strict) status = 1;
    }
    fs::current_path(old);
    if (!o.keep_workdir) {
      std::error_code ec;
      fs::remove_all(wd, ec);
    }
  }
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  Options o = parse_args(argc, argv);
  g_main_thread = pthread_self();
  install_crash_handlers();
  Watchdog watchdog(o.timeout);

  if (!o.save_dir.empty()) {
    std::error_code ec;
    fs::create_directories(o.save_dir, ec);
    g_save_dir = abs_path(o.save_dir);
  }
  if (!o.replay.empty()) return replay(o);

  // Load seeds before leaving the caller's directory (the folders may be relative).
  std::vector<Seed> seeds = load_seeds(o.seed_dirs, o.max_len);
  if (seeds.empty()) {
    std::fprintf(stderr, "bloom_fuzz: no *.bloom seeds found; starting from a built-in seed\n");
    seeds.push_back({"<built-in>", kLibModule});
  }
  g_current_path = g_save_dir.empty() ? "/tmp/bloom_fuzz_current.bloom" : g_save_dir + "/current.bloom";
  g_current_path = abs_path(g_current_path);

  // Inputs may import arbitrary paths: run in a fresh temporary folder.
  const std::string workdir = make_workdir();
  fs::current_path(workdir);
  struct WorkdirGuard {  // removed on every normal exit (a crash leaves it for inspection)
    std::string dir;
    bool keep;
    ~WorkdirGuard() {
      std::error_code ec;
      fs::current_path("/", ec);
      if (!keep) fs::remove_all(dir, ec);
    }
  } workdir_guard{workdir, o.keep_workdir};
  std::fprintf(stderr,
               "bloom_fuzz: %zu seeds, seed %" PRIu64
               ", max-len %zu, timeout %.0f s, workdir %s\n"
               "bloom_fuzz: each input is written to %s before it is compiled\n",
               seeds.size(), o.seed, o.max_len, o.timeout, workdir.c_str(), g_current_path.c_str());

  Rng rng(o.seed);
  Mutator mutator(rng, o.max_len);
  std::vector<std::string> corpus;  // interesting inputs found so far
  std::unordered_set<uint64_t> seen_features;
  const size_t kMaxCorpus = 4096;
  std::vector<const std::string*> pool;
  auto rebuild_pool = [&] {
    pool.clear();
    for (const auto& s : seeds) pool.push_back(&s.text);
    for (const auto& c : corpus) pool.push_back(&c);
  };

  const auto t_start = std::chrono::steady_clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count(); };
  double next_report = o.report_every;
  uint64_t iter = 0, ok_count = 0, findings = 0, findings_saved = 0;
  double slowest_ms = 0, total_ms = 0;
  std::string slowest_input;
  std::set<std::string> finding_kinds, exception_kinds;
  uint64_t exceptions = 0;

  // Every seed is compiled once unmutated first: they seed the feature set too.
  size_t seed_cursor = 0;
  for (;;) {
    if (o.iterations && iter >= o.iterations) break;
    if (o.seconds > 0 && elapsed() >= o.seconds) break;
    if (const double t = elapsed(); t >= next_report && iter > 0) {
      next_report = t + o.report_every;
      std::fprintf(stderr,
                   "bloom_fuzz: %6.1f s  iterations %" PRIu64
                   "  exec/s %.0f  corpus %zu  features %zu  ok %.1f%%"
                   "  slowest %.1f ms  findings %" PRIu64 "  exceptions %" PRIu64 "\n",
                   t, iter, iter / t, corpus.size(), seen_features.size(), 100.0 * ok_count / iter, slowest_ms, findings, exceptions);
    }
    rebuild_pool();

    std::string input;
    if (seed_cursor < seeds.size()) {
      input = seeds[seed_cursor++].text;
    } else {
      const std::string& base = (!corpus.empty() && rng.chance(2)) ? corpus[rng.below(corpus.size())] : seeds[rng.below(seeds.size())].text;
      input = mutator.mutate(base, pool);
    }
    bloom::CompileOptions copts = random_options(rng);

    ++iter;
    g_iteration.store(iter);
    set_failure_paths(o.seed, iter);
    if (!write_file(g_current_path, input)) {
      std::fprintf(stderr, "bloom_fuzz: cannot write %s\n", g_current_path.c_str());
      return 2;
    }

    Outcome r;
    std::string exception;
    try {
      r = run_one(input, copts, nullptr);
    } catch (const std::exception& e) {
      exception = std::string("exception escaped compile_text: ") + e.what();
    } catch (...) {
      exception = "an exception that is not a std::exception escaped compile_text";
    }
    if (!exception.empty()) {
      g_compile_start_ns.store(0);
      g_in_compile.store(false);
      ++exceptions;
      if (exception_kinds.insert(exception).second || !o.keep_going) {
        std::string saved = save_named("exception", o.seed, iter, input);
        if (saved.empty()) saved = g_current_path;
        std::fprintf(stderr,
                     "bloom_fuzz: FAILURE at iteration %" PRIu64
                     ": %s\n"
                     "bloom_fuzz: input saved to %s\nbloom_fuzz: reproduce with: bloom_fuzz --replay %s\n",
                     iter, exception.c_str(), saved.c_str(), saved.c_str());
      }
      if (!o.keep_going) return 1;
      continue;
    }

    total_ms += r.ms;
    if (r.ok) ++ok_count;
    if (r.ms > slowest_ms) {
      slowest_ms = r.ms;
      slowest_input = input;
    }
    if (!r.finding.empty()) {
      ++findings;
      // Report each kind of finding once (the message without its numbers).
      std::string kind;
      for (char ch : r.finding)
        if (!std::isdigit(static_cast<unsigned char>(ch))) kind += ch;
      if (finding_kinds.insert(kind).second) {
        std::string saved = save_named("finding", o.seed, iter, input);
        ++findings_saved;
        std::fprintf(stderr, "bloom_fuzz: FINDING at iteration %" PRIu64 ": %s%s%s\n", iter, r.finding.c_str(),
                     saved.empty() ? "" : "; input saved to ", saved.c_str());
        if (o.strict && !o.keep_going) {
          std::fprintf(stderr, "bloom_fuzz: --strict: failing\n");
          return 1;
        }
      }
    }
    bool interesting = false;
    for (uint64_t f : r.features)
      if (seen_features.insert(f).second) interesting = true;
    if (interesting && input.size() <= o.max_len) {
      if (corpus.size() < kMaxCorpus) corpus.push_back(std::move(input));
      else corpus[rng.below(corpus.size())] = std::move(input);
    }
  }

  const double t = std::max(elapsed(), 1e-9);
  if (!g_save_dir.empty() && !slowest_input.empty()) write_file(g_save_dir + "/slowest.bloom", slowest_input);
  std::fprintf(stderr,
               "bloom_fuzz: done: %" PRIu64
               " iterations in %.1f s (%.0f exec/s, mean %.2f ms/compile, slowest "
               "%.1f ms), corpus %zu, features %zu, ok %.1f%%, %" PRIu64 " soft findings (%" PRIu64 " distinct), %" PRIu64
               " exceptions (%zu distinct), 0 crashes, 0 hangs\n",
               iter, t, iter / t, iter ? total_ms / iter : 0.0, slowest_ms, corpus.size(), seen_features.size(),
               iter ? 100.0 * ok_count / iter : 0.0, findings, findings_saved, exceptions, exception_kinds.size());
  if (exceptions || (o.strict && findings)) return 1;
  return 0;
}
