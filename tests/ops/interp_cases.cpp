// Cases for linear upsampling: factor 1 (identity), 2 and powers of two up to 2^6, odd factors (3, 5),
// Lin = 1 (every output the single sample), Lin = 2 (both edges clamp), odd and prime lengths, leading dims
// of several sizes, SGConv-sized rows ([2, 5, 32] by 32, [2, 64, 1] by 1024), and empty extents. Values
// against PyTorch are in interp_test_values.cpp. CUDA tolerances are the defaults: each output is one
// two-term sum.
#include "ops/interp/interp.h"
#include "tests/support/op_cases.h"

namespace lra::test {
namespace {

std::vector<OpCase> interp_cases(Generator& gen) {
  std::vector<OpCase> cases;
  struct Setup {
    Shape shape;
    int64_t factor;
  };
  const std::vector<Setup> setups = {
      {{1}, 1},        {{5}, 1},         {{1}, 2},         {{1}, 8},           {{2}, 2},
      {{3, 7}, 2},     {{4, 13}, 4},     {{2, 3, 5}, 8},   {{31}, 64},         {{3, 11}, 3},
      {{2, 9}, 5},     {{17, 1}, 4},     {{2, 5, 32}, 32}, {{2, 64, 1}, 1024}, {{1, 3, 64}, 2},
      // Empty extents: no rows, an empty row.
      {{0, 5}, 2},     {{3, 0}, 4},
  };
  for (const Setup& s : setups) {
    OpCase c;
    c.name = "upsample_linear " + s.shape.to_string() + " factor " + std::to_string(s.factor);
    c.inputs = {random_input(s.shape, gen, -2, 2)};
    int64_t f = s.factor;
    c.fn = [f](const std::vector<Tensor>& in) { return ops::upsample_linear(in[0], f); };
    std::vector<int64_t> out = s.shape.vec();
    out.back() *= f;
    c.out_shape = Shape(out);
    cases.push_back(c);
  }
  return cases;
}

}  // namespace
LRA_OP_CASES(interp, interp_cases);
}  // namespace lra::test
