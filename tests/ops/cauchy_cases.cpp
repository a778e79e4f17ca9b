// Cases for the DPLR frequency response (ops/cauchy): one and two output channels, shared (S < H) and
// per-channel (S = H) SSM copies, M = 1 mode, DFT lengths 1 and 2 (only the DC and Nyquist nodes), odd and
// prime n (no Nyquist node), powers of two and an LRA-sized one. Inputs in the ranges S4's initialisation
// gives: dt in [1e-3, 0.2] (positive: the op takes dt after its transform), Re Λ about −0.5, Im Λ up to a
// few times M, B, P, C of size 1.
#include <array>
#include <cmath>
#include <string>

#include "ops/cauchy/cauchy.h"
#include "tests/support/op_cases.h"

namespace lra::test {
namespace {

OpCase make_case(int64_t Cc, int64_t H, int64_t S, int64_t M, int64_t n, Generator& gen) {
  OpCase c;
  c.name = "dplr_response Cc" + std::to_string(Cc) + " H" + std::to_string(H) + " S" + std::to_string(S) + " M" +
           std::to_string(M) + " n" + std::to_string(n);
  c.inputs = {random_input({H}, gen, 1e-3, 0.2),
              random_input({S, M}, gen, std::log(0.3), std::log(0.8)),
              random_input({S, M}, gen, 0.0, 3.0 * double(M) + 1.0),
              random_input({S, M, 2}, gen),
              random_input({S, M, 2}, gen),
              random_input({Cc, H, M, 2}, gen)};
  c.fn = [n](const std::vector<Tensor>& in) {
    return ops::dplr_response(in[0], in[1], in[2], in[3], in[4], in[5], n);
  };
  // CUDA float32 vs the CPU float32 reference. Forward: each output sums M Cauchy terms; the Woodbury
  // denominator has |1 + r_PQ| >= 1 (Re r_PQ > 0 for Re Λ < 0), so no cancellation beyond the sums:
  // the defaults with atol scaled by √M. Backward: the per-mode gradients sum n/2 + 1 node terms in a
  // different order (block reduction vs a loop), ~ε·(n/2+1) relative, times √M for the sums over modes in
  // ∂dt. (No GPU was available when this was written: derived, not measured.)
  const double K = double(n / 2 + 1);
  c.rtol = 1e-4;
  c.atol = 1e-5 * std::sqrt(double(M) + 1.0) * (1.0 + 0.05 * K);
  c.grad_rtol = 1e-5;
  c.grad_atol = 1e-7;
  return c;
}

std::vector<OpCase> cauchy_cases(Generator& gen) {
  std::vector<OpCase> cases;
  cases.push_back(make_case(1, 1, 1, 1, 1, gen));    // only the DC node
  cases.push_back(make_case(1, 1, 1, 1, 2, gen));    // DC and Nyquist
  cases.push_back(make_case(2, 3, 1, 2, 5, gen));    // odd n: no Nyquist node; all channels share one copy
  cases.push_back(make_case(2, 4, 2, 3, 16, gen));   // channel h uses copy h mod 2
  cases.push_back(make_case(1, 6, 3, 4, 17, gen));   // prime n
  cases.push_back(make_case(2, 2, 2, 1, 31, gen));   // S = H, M = 1
  cases.push_back(make_case(1, 5, 5, 7, 12, gen));   // primes H, M
  cases.push_back(make_case(3, 2, 1, 2, 8, gen));    // three output channels
  cases.push_back(make_case(2, 2, 1, 16, 1024, gen));  // an LRA length (sCIFAR, Pathfinder), N = 32
  // Empty extents: no channels (k̂ [Cc, 0, n/2+1, 2]) and no modes (k̂ = 0, every gradient exactly 0).
  for (auto [H, M] : {std::array<int64_t, 2>{0, 3}, {3, 0}}) {
    OpCase c = make_case(2, H, 1, M, 6, gen);
    c.out_shape = Shape{2, H, 4, 2};
    cases.push_back(c);
  }
  return cases;
}

}  // namespace
}  // namespace lra::test

LRA_OP_CASES(cauchy, lra::test::cauchy_cases);
