// One case table for all op tests (house style, item 5).
//
// Each op family contributes a file tests/ops/<family>_cases.cpp that registers a maker of cases.
// A case is a set of CPU inputs (float64 for float inputs, so the gradient check is exact enough),
// the op applied to them, and which inputs to differentiate. The shared runner
// (op_case_runner.cpp) puts every case through:
//   * gradcheck: backward with a random upstream gradient against central finite differences, float64;
//   * CUDA parity: float32 forward and backward on the GPU against the CPU reference (skipped when no
//     GPU is present), with the tolerances the case states;
//   * guard regions, in both of the above: every input sits inside a larger buffer whose margins hold
//     0xFF bytes (NaN as a float); after forward and backward the margins and the input must be
//     unchanged, so an op that writes where it should not is caught, and one that reads past an input
//     mostly reads NaN into its result.
// Empty extents are cases like any other (a 0 in any dim an op accepts): finite differences then probe
// no element of an empty input, gradients of non-empty inputs are still probed (a sum over nothing must
// give exactly 0), guard regions still surround the empty inputs, and out_shape pins the result's shape.
// Shapes should include size-1 dims, primes, non-powers of two and one realistic LRA size.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "engine/rng.h"
#include "engine/tensor.h"

namespace lra::test {

struct OpCase {
  std::string name;                                              // "relu [3, 17]"
  std::vector<Tensor> inputs;                                    // CPU tensors; float ones in float64
  std::vector<bool> differentiable;                              // per input; empty = every float input
  std::function<Tensor(const std::vector<Tensor>&)> fn;          // the op under test
  // CUDA-vs-CPU tolerance in float32: |gpu - cpu| <= atol + rtol * |cpu|. Elementwise ops meet the
  // defaults; reductions over long rows state looser ones with a reason.
  double rtol = 1e-4, atol = 1e-5;
  // Finite-difference tolerance in float64.
  double grad_rtol = 1e-5, grad_atol = 1e-7;
  bool gradcheck = true;  // false for ops with no gradient (integer outputs)
  // When set, the forward must return this shape (empty-extent cases state it: their values check little).
  std::optional<Shape> out_shape;
};

using CaseMaker = std::function<std::vector<OpCase>(Generator& gen)>;

struct Family {
  std::string name;
  CaseMaker maker;
};
std::vector<Family>& families();
int register_family(const char* name, CaseMaker maker);

// Every registered case, built once with a fixed seed (printed on failure).
const std::vector<OpCase>& all_cases();
constexpr uint64_t kCaseSeed = 20261123;

// Random CPU float64 tensor, uniform in [low, high).
Tensor random_input(const Shape& shape, Generator& gen, double low = -1.0, double high = 1.0);
// Random int32 tensor in [low, high).
Tensor random_ints(const Shape& shape, Generator& gen, int32_t low, int32_t high);
// A [B, L] int32 key-padding mask with about 1/3 of positions excluded, every batch keeping position 0,
// except batch `fully_masked` (if >= 0), which excludes everything.
Tensor padding_mask(int64_t B, int64_t L, Generator& gen, int64_t fully_masked = -1);

}  // namespace lra::test

#define LRA_OP_CASES(family, maker) \
  static const int lra_op_cases_registered_##family = ::lra::test::register_family(#family, maker)
