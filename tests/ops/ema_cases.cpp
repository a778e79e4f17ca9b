// Cases for MEGA's EMA kernel: D, N, L from 1 up, primes and non-powers of two, and an LRA-length kernel
// (L = 1024, the LRA truncation). Inputs are drawn in the ranges MEGA's initialisation gives: delta and
// alpha ~ ±0.6 (N(0, 0.2²) with a margin), beta near ±1, gamma of size 1; a few cases push delta and
// alpha to ±4 so q = 1 − σ(δ)σ(α) nears 0 and 1 (fast and slow decay).
#include <algorithm>
#include <array>
#include <cmath>
#include <string>

#include "ops/ema/ema.h"
#include "tests/support/op_cases.h"

namespace lra::test {
namespace {

OpCase make_case(int64_t D, int64_t N, int64_t L, Generator& gen, double logit = 0.6) {
  OpCase c;
  c.name = "ema_kernel D" + std::to_string(D) + " N" + std::to_string(N) + " L" + std::to_string(L) +
           (logit > 1 ? " wide" : "");
  c.inputs = {random_input({D, N}, gen, -logit, logit), random_input({D, N}, gen, -logit, logit),
              random_input({D, N}, gen, -1.2, 1.2), random_input({D, N}, gen)};
  c.fn = [L](const std::vector<Tensor>& in) { return ops::ema_kernel(in[0], in[1], in[2], in[3], L); };
  // CUDA float32 vs the CPU float32 reference. Forward: each output sums N terms of size ≤ |γβ| with a few
  // ulp of exp difference: the defaults hold. Backward: S1 = Σ_l G·l·q^(l−1) sums L terms as large as L
  // (for q near 1), so its float32 rounding in two summation orders is ~ε·L·sqrt(L); the atol is that
  // with a margin. (No GPU was available when this was written: the bound is derived, not measured.)
  c.rtol = 1e-4;
  c.atol = std::max(1e-5, 2e-7 * std::pow(double(L), 1.5));
  return c;
}

std::vector<OpCase> ema_cases(Generator& gen) {
  std::vector<OpCase> cases;
  cases.push_back(make_case(1, 1, 1, gen));
  cases.push_back(make_case(1, 3, 2, gen));
  cases.push_back(make_case(3, 5, 17, gen));
  cases.push_back(make_case(2, 16, 64, gen));  // MEGA's N = 16
  cases.push_back(make_case(5, 2, 97, gen, 4.0));
  cases.push_back(make_case(4, 1, 255, gen));
  cases.push_back(make_case(3, 7, 257, gen, 4.0));
  cases.push_back(make_case(2, 16, 1024, gen));  // the LRA truncation length
  // Empty extents: no rows, no modes (K = 0 and every gradient exactly 0), and L = 0 (K [D, 0]).
  for (auto [D, N, L] : {std::array<int64_t, 3>{0, 3, 5}, {3, 0, 5}, {2, 3, 0}}) {
    OpCase c = make_case(D, N, L, gen);
    c.out_shape = Shape{D, L};
    cases.push_back(c);
  }
  return cases;
}

}  // namespace
}  // namespace lra::test

LRA_OP_CASES(ema, lra::test::ema_cases);
