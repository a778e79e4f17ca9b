// Errors, string building and the small types every other header uses.
//
// Errors are values a user can read: library code throws lra::Error with a message that names the op,
// the argument or the file at fault; binaries catch it in main and print it. Nothing calls exit().
#pragma once

#include <cstdint>
#include <sstream>
#include <stdexcept>
#include <string>

namespace lra {

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// str(a, b, c) streams its arguments into one string: str("shape ", s, " has ", n, " dims").
template <class... A>
std::string str(const A&... a) {
  std::ostringstream s;
  (s << ... << a);
  return s.str();
}

[[noreturn]] void fail(const std::string& message);

}  // namespace lra

// LRA_CHECK(cond, message parts...) throws lra::Error with the message when cond is false.
// Use it for anything a user can get wrong (shapes, dtypes, flags, files).
#define LRA_CHECK(cond, ...)                         \
  do {                                               \
    if (!(cond)) ::lra::fail(::lra::str(__VA_ARGS__)); \
  } while (0)
