// Cases for the S4D Vandermonde kernel: H, N, L from 1 up, primes and non-powers of two, and an
// LRA-length kernel (L = 1024), for the minimal kernel and for S4's variants (B, softplus dt, bilinear).
// Inputs are drawn in the ranges the S4D initialisations use: log_dt in [log 1e-3, log 1e-1],
// Re A = −exp(log_A_real) in about [−1.6, −0.2], Im A up to π·N (S4D-Lin), C of size 1.
#include <algorithm>
#include <array>
#include <cmath>
#include <string>

#include "ops/ssmkernel/ssmkernel.h"
#include "tests/support/op_cases.h"

namespace lra::test {
namespace {

// with_B: a trained B input (S4's SSMKernelDiag); without it the op takes B = 1 (the minimal S4D).
// dt_low/dt_high: the range of the dt parameter (log_dt or softplus's inv_dt).
OpCase make_case(int64_t H, int64_t N, int64_t L, Generator& gen, ops::SSMKernelOptions o = {}, bool with_B = false,
                 double dt_low = std::log(1e-3), double dt_high = std::log(1e-1)) {
  OpCase c;
  c.name = "ssm_kernel H" + std::to_string(H) + " N" + std::to_string(N) + " L" + std::to_string(L);
  if (o.dt == ops::SSMDt::Softplus) c.name += " softplus";
  if (o.disc == ops::SSMDisc::Bilinear) c.name += " bilinear";
  if (with_B) c.name += " B";
  const double pi = 3.14159265358979323846;
  c.inputs = {random_input({H}, gen, dt_low, dt_high), random_input({H, N}, gen, -1.5, 0.5),
              random_input({H, N}, gen, 0.0, pi * double(N)), random_input({H, N, 2}, gen)};
  if (with_B) c.inputs.push_back(random_input({H, N, 2}, gen, -2.0, 2.0));
  c.fn = [L, o, with_B](const std::vector<Tensor>& in) {
    return ops::ssm_kernel(in[0], in[1], in[2], with_B ? in[4] : Tensor(), in[3], L, o);
  };
  // CUDA float32 vs the CPU float32 reference. Forward: each output sums N modes of size ≤ |B·C|·dt with a
  // few ulp of exp/sincos difference per term: the defaults hold. Backward: S1 = Σ_l G·l·conj(E) sums L
  // terms as large as L, so its float32 rounding (two different summation orders) is ~ε·L·sqrt(L); the
  // atol is that times a small margin, times sqrt(N) for the sum over modes in the dt gradient, times 2 for
  // |B| ≤ 2·√2. (No GPU was available when this was written: the bound is derived, not measured.)
  c.rtol = 1e-4;
  c.atol = std::max(1e-5, 2e-7 * std::pow(double(L), 1.5) * std::sqrt(double(N))) * (with_B ? 2.0 : 1.0);
  return c;
}

std::vector<OpCase> ssmkernel_cases(Generator& gen) {
  std::vector<OpCase> cases;
  cases.push_back(make_case(1, 1, 1, gen));
  cases.push_back(make_case(1, 3, 2, gen));
  cases.push_back(make_case(3, 5, 17, gen));
  cases.push_back(make_case(2, 4, 64, gen));
  cases.push_back(make_case(5, 2, 97, gen));
  cases.push_back(make_case(4, 1, 255, gen));
  cases.push_back(make_case(2, 8, 1024, gen));  // an LRA length (sCIFAR, Pathfinder); ~0.2 s of gradcheck
  // S4's variants (issue 15): a trained B, dt = softplus(inv_dt) (over both branches of the overflow-free
  // form: inv_dt in [−3, 2]), the bilinear discretisation, and all three together at an odd and an LRA size.
  using ops::SSMDisc;
  using ops::SSMDt;
  cases.push_back(make_case(3, 5, 17, gen, {}, /*with_B=*/true));
  cases.push_back(make_case(1, 1, 1, gen, {SSMDt::Softplus, SSMDisc::ZOH}, true));
  cases.push_back(make_case(2, 3, 31, gen, {SSMDt::Softplus, SSMDisc::ZOH}, false, -3.0, 2.0));
  cases.push_back(make_case(1, 1, 1, gen, {SSMDt::Exp, SSMDisc::Bilinear}));
  cases.push_back(make_case(5, 2, 97, gen, {SSMDt::Exp, SSMDisc::Bilinear}));
  cases.push_back(make_case(3, 7, 65, gen, {SSMDt::Softplus, SSMDisc::Bilinear}, true, -3.0, 2.0));
  cases.push_back(make_case(2, 8, 1024, gen, {SSMDt::Softplus, SSMDisc::Bilinear}, true));
  // Empty extents: no channels, no modes (K = 0: a sum over nothing, and every gradient exactly 0, which
  // the finite differences confirm), and L = 0 (K [H, 0], zero gradients). None launches a kernel.
  for (auto [H, N, L] : {std::array<int64_t, 3>{0, 3, 5}, {3, 0, 5}, {2, 3, 0}}) {
    for (bool variants : {false, true}) {
      OpCase c = variants ? make_case(H, N, L, gen, {SSMDt::Softplus, SSMDisc::Bilinear}, true)
                          : make_case(H, N, L, gen);
      c.out_shape = Shape{H, L};
      cases.push_back(c);
    }
  }
  return cases;
}

}  // namespace
}  // namespace lra::test

LRA_OP_CASES(ssmkernel, lra::test::ssmkernel_cases);
