// Cases for dropout: untied and tied masks, a few p, shapes with size-1 dims, primes and one LRA size.
// Each fn builds its own Generator with a fixed seed, so every call (the gradcheck probes, the CPU and
// CUDA runs) uses the same mask: dropout is then a fixed linear map and the runner checks it exactly.
#include "ops/dropout/dropout.h"
#include "tests/support/op_cases.h"

namespace lra::test {
namespace {

std::vector<OpCase> dropout_cases(Generator& gen) {
  std::vector<OpCase> cases;
  struct Spec {
    Shape shape;
    double p;
    int tied_dim;
  };
  const Spec specs[] = {
      {{1}, 0.5, ops::kNoTie},        {{7}, 0.1, ops::kNoTie},       {{3, 1, 5}, 0.5, ops::kNoTie},
      {{2, 17, 33}, 0.3, ops::kNoTie}, {{2, 17, 33}, 0.3, 1},         {{2, 17, 33}, 0.3, -1},
      {{2, 17, 33}, 0.3, 0},          {{5, 1, 3}, 0.5, 1},           {{4, 9}, 0.9, ops::kNoTie},
      {{2, 256, 64}, 0.1, ops::kNoTie}, {{2, 256, 64}, 0.1, -2},
      // Empty extents: an empty x, untied and tied (along the empty dim, or across it).
      {{0}, 0.5, ops::kNoTie},        {{2, 0}, 0.3, ops::kNoTie},    {{3, 0, 5}, 0.3, 1},
      {{0, 4, 3}, 0.3, -1},
  };
  for (const Spec& s : specs) {
    OpCase c;
    c.name = "dropout " + s.shape.to_string() + " p " + std::to_string(s.p).substr(0, 3) +
             (s.tied_dim == ops::kNoTie ? std::string() : " tied " + std::to_string(s.tied_dim));
    c.inputs = {random_input(s.shape, gen)};
    double p = s.p;
    int tied = s.tied_dim;
    c.fn = [p, tied](const std::vector<Tensor>& in) {
      Generator g(1234, 56);
      return ops::dropout(in[0], p, g, true, tied);
    };
    c.out_shape = s.shape;
    cases.push_back(c);
  }
  return cases;
}

}  // namespace
LRA_OP_CASES(dropout, dropout_cases);
}  // namespace lra::test
