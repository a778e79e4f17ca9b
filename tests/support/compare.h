// Tensor comparison with stated tolerances: |got - want| <= atol + rtol * |want| per element. On
// failure the message names what was compared, the worst element (index and values), how many
// elements failed and the first few of them.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "engine/device.h"
#include "engine/tensor.h"

namespace lra::test {

::testing::AssertionResult all_close(const Tensor& got, const Tensor& want, double rtol, double atol,
                                     const std::string& what);

}  // namespace lra::test

// Skips the calling test, with the reason, on machines without a usable GPU.
#define LRA_REQUIRE_CUDA()                                                                                   \
  do {                                                                                                       \
    if (!::lra::cuda_available())                                                                            \
      GTEST_SKIP() << (::lra::cuda_compiled() ? "no CUDA GPU on this machine" : "built without the CUDA backend"); \
  } while (0)

namespace lra::test {
// The message of the lra::Error that f throws, or "(no error)" when it throws none.
std::string error_of(const std::function<void()>& f);
}  // namespace lra::test
