// Shared by the fuzz targets: a private scratch folder, writing the input to a file there, and the
// rule for exceptions. The loaders take paths, so each input goes through a real file.
//
// The contract under test: for any bytes, a parser returns or throws lra::Error. Any other exception
// (std::out_of_range, std::length_error, std::bad_alloc, filesystem_error, ...) is a finding; guarded()
// prints its type and message and aborts so libFuzzer saves the input. Crashes, sanitizer reports, hangs
// (-timeout) and huge allocations (-malloc_limit_mb) are caught by libFuzzer itself.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <typeinfo>

#include <signal.h>
#include <unistd.h>
#include <cerrno>

#include "engine/base.h"

namespace lra_fuzz {

namespace fs = std::filesystem;

// One folder per process, $TMPDIR/lra-fuzz-<pid> (or /tmp), so parallel fuzzers (-jobs/-workers) never
// share files. libFuzzer leaves with _Exit, which skips atexit handlers, so instead each process first
// removes the folders of processes that are gone.
inline const fs::path& scratch_dir() {
  static const fs::path dir = [] {
    const char* tmp = std::getenv("TMPDIR");
    const fs::path base = tmp && *tmp ? tmp : "/tmp";
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(base, ec)) {
      const std::string name = entry.path().filename().string();
      if (name.rfind("lra-fuzz-", 0) != 0) continue;
      const long pid = std::strtol(name.c_str() + 9, nullptr, 10);
      if (pid > 0 && kill(pid_t(pid), 0) != 0 && errno == ESRCH) fs::remove_all(entry.path(), ec);
    }
    const fs::path dir = base / ("lra-fuzz-" + std::to_string(getpid()));
    fs::create_directories(dir, ec);
    if (ec) {
      std::fprintf(stderr, "lra-fuzz: cannot create %s: %s\n", dir.c_str(), ec.message().c_str());
      std::abort();
    }
    return dir;
  }();
  return dir;
}

inline void write_bytes(const fs::path& path, const uint8_t* data, size_t size) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), std::streamsize(size));
  if (!out) {
    std::fprintf(stderr, "lra-fuzz: cannot write %s\n", path.c_str());
    std::abort();
  }
}

// A property of a successfully parsed input that must hold; a violation aborts (a finding).
#define LRA_FUZZ_ASSERT(cond, what)                                                             \
  do {                                                                                          \
    if (!(cond)) {                                                                              \
      std::fprintf(stderr, "lra-fuzz: property violated at %s:%d: %s (%s)\n", __FILE__, __LINE__, \
                   #cond, what);                                                                \
      std::abort();                                                                             \
    }                                                                                           \
  } while (0)

// Runs f; lra::Error is the expected outcome for bad input, anything else aborts with its type.
template <class F>
void guarded(F&& f) {
  try {
    f();
  } catch (const lra::Error&) {
  } catch (const std::exception& e) {
    std::fprintf(stderr, "lra-fuzz: exception other than lra::Error: %s: %s\n", typeid(e).name(), e.what());
    std::abort();
  } catch (...) {
    std::fprintf(stderr, "lra-fuzz: non-std exception\n");
    std::abort();
  }
}

}  // namespace lra_fuzz
