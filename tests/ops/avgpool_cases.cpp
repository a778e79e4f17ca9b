// Cases for sequence average pooling: windows 1 (identity), 3, 5 and one wider than L, pooling along
// dim -2 of [B, H, L, d] and [B, L, D], along dim -1 and dim 0, size-1 dims, primes, and LaS-sized V
// (L = 1024 per head). CUDA tolerances are the defaults: the GPU sums the window in double.
#include "ops/avgpool/avgpool.h"
#include "tests/support/op_cases.h"

namespace lra::test {
namespace {

std::vector<OpCase> avgpool_cases(Generator& gen) {
  std::vector<OpCase> cases;
  struct Setup {
    Shape shape;
    int P, dim;
  };
  const std::vector<Setup> setups = {
      {{1, 1}, 1, -2},        {{1, 1}, 3, -2},          {{7, 3}, 3, -2},        {{2, 3, 13, 5}, 5, -2},
      {{2, 4, 17}, 7, -2},    {{3, 5}, 9, -2},          {{4, 31}, 5, -1},       {{6, 2, 3}, 3, 0},
      {{2, 129, 33}, 3, 1},   {{1, 2, 300, 2}, 31, -2}, {{1, 4, 1024, 32}, 5, -2},
      // Empty extents: L = 0, an empty inner dim, an empty outer dim.
      {{0, 5}, 3, -2},        {{3, 0}, 3, -2},          {{2, 0, 4}, 5, -1},
  };
  for (const Setup& s : setups) {
    OpCase c;
    c.name = "avgpool_seq " + s.shape.to_string() + " P " + std::to_string(s.P) + " dim " + std::to_string(s.dim);
    c.inputs = {random_input(s.shape, gen, -2, 2)};
    int P = s.P, dim = s.dim;
    c.fn = [P, dim](const std::vector<Tensor>& in) { return ops::avgpool_seq(in[0], P, dim); };
    c.out_shape = s.shape;
    cases.push_back(c);
  }
  return cases;
}

}  // namespace
LRA_OP_CASES(avgpool, avgpool_cases);
}  // namespace lra::test
